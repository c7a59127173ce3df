# A finished task wakes each of its awaiters with its own ready-queue entry,
# one iteration after it finishes; an awaiter of an awaiter needs one more
# hop; tasks that only yield show where the hops fall.
import asyncio
import vtime


async def target():
    await asyncio.sleep(1)
    vtime.log("target finishing")
    return 7


async def awaiter(name, t):
    vtime.log(f"{name} waiting")
    r = await t
    vtime.log(f"{name} got {r}")
    return name


async def chained(t):
    vtime.log("chained waiting")
    r = await t
    vtime.log(f"chained got {r}")


async def yielder(name):
    await asyncio.sleep(1)
    for i in range(4):
        vtime.log(f"{name} step {i}")
        await asyncio.sleep(0)


async def main():
    t = asyncio.create_task(target())
    y1 = asyncio.create_task(yielder("y1"))
    w1 = asyncio.create_task(awaiter("w1", t))
    w2 = asyncio.create_task(awaiter("w2", t))
    c = asyncio.create_task(chained(w1))
    y2 = asyncio.create_task(yielder("y2"))
    w3 = asyncio.create_task(awaiter("w3", t))
    r = await t
    vtime.log(f"main got {r}")
    for x in (w1, w2, w3, c, y1, y2):
        await x
    vtime.log("main done")


vtime.run(main())
