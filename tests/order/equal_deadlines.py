# Timers with equal deadlines come out in heapq's order, not insertion order:
# many sleepers on the same deadline, interleaved with shorter and longer
# ones, then a second wave pushed while the heap is partly drained.
import asyncio
import vtime

DELAYS = [1.0, 1.0, 0.5, 1.0, 1.0, 0.25, 1.0, 1.0, 1.0, 2.0, 1.0, 1.0, 0.5, 1.0]


async def sleeper(i, delay):
    await asyncio.sleep(delay)
    vtime.log(f"t{i} woke after {delay:.2f}")
    if delay < 1.0:
        await asyncio.sleep(1.5 - delay)
        vtime.log(f"t{i} woke again")


async def main():
    tasks = [asyncio.create_task(sleeper(i, d)) for i, d in enumerate(DELAYS)]
    vtime.log("all created")
    for t in tasks:
        await t
    vtime.log("main done")


vtime.run(main())
