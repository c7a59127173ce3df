# asyncio.gather of tasks that are already done: the done-callbacks are
# queued at once, and the gathering task resumes a hop after the last has run
# (a ticker shows the hops); a task given twice counts once; a done task that
# failed fails the gather; gather() of nothing does not suspend.
import asyncio
import vtime


async def quick(name):
    vtime.log(f"{name} runs")
    return name


async def failing():
    vtime.log("f runs")
    raise OSError(5, "failed")


async def ticker(n):
    for i in range(n):
        vtime.log(f"tick {i}")
        await asyncio.sleep(0)


async def main():
    a = asyncio.create_task(quick("a"))
    b = asyncio.create_task(quick("b"))
    await asyncio.sleep(0)
    asyncio.create_task(ticker(5))
    r = await asyncio.gather(a, b, a)
    vtime.log(f"gathered {' '.join(r)}")
    await asyncio.sleep(1)

    c = asyncio.create_task(quick("c"))
    asyncio.create_task(ticker(5))
    r = await asyncio.gather(a, c)
    vtime.log(f"gathered {' '.join(r)}")
    await asyncio.sleep(1)

    f = asyncio.create_task(failing())
    await asyncio.sleep(0)
    asyncio.create_task(ticker(5))
    try:
        await asyncio.gather(a, f, b)
    except OSError as e:
        vtime.log(f"gather failed: errno {e.errno}")
    await asyncio.sleep(1)

    asyncio.create_task(ticker(2))
    r = await asyncio.gather()
    vtime.log(f"empty gather: {len(r)} results")
    await asyncio.sleep(1)
    vtime.log("main done")


vtime.run(main())
