# Cancelling most of many sleeping tasks. Each cancelled sleep cancels its
# timer; with more than 100 timers scheduled and more than half of them
# cancelled, the loop rebuilds the heap from the live timers (heapify) at its
# next iteration instead of dropping cancelled ones from the top. The wake
# order of the survivors and of new sleepers, all on equal deadlines, shows
# the shape of the rebuilt heap.
import asyncio
import vtime

N = 150


async def sleeper(i, delay):
    try:
        await asyncio.sleep(delay)
    except asyncio.CancelledError:
        raise
    vtime.log(f"s{i} woke")


async def newcomer(i):
    await asyncio.sleep(3)
    vtime.log(f"n{i} woke")


def delay_of(i):
    return 5.0 if i % 3 else 5.0 + (i % 7)


async def main():
    tasks = [asyncio.create_task(sleeper(i, delay_of(i))) for i in range(N)]
    await asyncio.sleep(0)
    cancelled = 0
    for i, t in enumerate(tasks):
        if i % 5 != 2:
            t.cancel()
            cancelled += 1
    vtime.log(f"cancelled {cancelled} of {N}")
    await asyncio.sleep(0)
    await asyncio.sleep(0)
    vtime.log("cancellations processed")
    news = [asyncio.create_task(newcomer(i)) for i in range(12)]
    await asyncio.sleep(2)
    vtime.log("main sleeps until everyone woke")
    for t in news:
        await t
    n = 0
    for t in tasks:
        try:
            await t
        except asyncio.CancelledError:
            n += 1
    vtime.log(f"{n} ended cancelled")


vtime.run(main())
