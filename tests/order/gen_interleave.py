# An async generator runs inside the task that iterates it: a value yielded
# without an await costs no loop hop, an await in the body suspends the
# consumer, and other tasks interleave around it exactly as around any other
# await of the consumer.
import asyncio
import vtime


async def ticker(name, n):
    for i in range(n):
        vtime.log(f"{name} tick {i}")
        await asyncio.sleep(0)


async def counter(n, pause):
    vtime.log("gen starts")
    for i in range(n):
        if i % 2 == 1:
            vtime.log(f"gen awaits before {i}")
            await asyncio.sleep(pause)
        vtime.log(f"gen yields {i}")
        yield i
        vtime.log(f"gen resumed after {i}")
    vtime.log("gen ends")


async def main():
    t1 = asyncio.create_task(ticker("a", 8))
    g = counter(5, 0)
    vtime.log("main made the generator")
    await asyncio.sleep(0)
    async for v in g:
        vtime.log(f"main got {v}")
    vtime.log("main: now with sleeps")
    t2 = asyncio.create_task(ticker("b", 3))
    async for v in counter(4, 0.5):
        vtime.log(f"main got {v}")
        await asyncio.sleep(0)
    await t1
    await t2
    vtime.log("main done")


vtime.run(main())
