# create_task order, the caller running until its next await, and awaiting a
# task that is already done (no suspension).
import asyncio
import vtime


async def worker(name):
    vtime.log(f"{name} start")
    await asyncio.sleep(0)
    vtime.log(f"{name} after yield")
    return name


async def quick():
    vtime.log("quick runs")
    return "quick"


async def bystander():
    vtime.log("bystander start")
    await asyncio.sleep(0)
    vtime.log("bystander after yield")


async def main():
    vtime.log("main start")
    a = asyncio.create_task(worker("a"))
    vtime.log("spawned a")
    b = asyncio.create_task(worker("b"))
    vtime.log("spawned b")
    c = asyncio.create_task(worker("c"))
    vtime.log("main still running")
    await asyncio.sleep(0)
    vtime.log("main after first yield")
    q = asyncio.create_task(quick())
    await asyncio.sleep(0)
    vtime.log("main after second yield")
    by = asyncio.create_task(bystander())
    r = await q  # already done: no suspension, bystander has not started
    vtime.log(f"awaited {r} without suspending")
    r = await a
    vtime.log(f"awaited {r}")
    r = await b
    vtime.log(f"awaited {r}")
    r = await c
    vtime.log(f"awaited {r}")
    await by
    vtime.log("main end")


vtime.run(main())
