# asyncio.wait_for (3.11): on timeout the task is cancelled and waited for,
# so its cleanup (which awaits) runs before the TimeoutError; a task that
# swallows the cancellation gives its value instead; a zero timeout on a
# done and on a pending task; a task that finishes in time; cancelling the
# caller while it waits cancels the task and waits for its cleanup.
import asyncio
import vtime


async def job(name, delay, swallow=False):
    try:
        await asyncio.sleep(delay)
    except asyncio.CancelledError:
        vtime.log(f"{name} cancelled, cleaning up")
        await asyncio.sleep(0.5)
        vtime.log(f"{name} cleaned up")
        if swallow:
            return 99
        raise
    vtime.log(f"{name} finished")
    return int(delay)


async def ticker(n):
    for i in range(n):
        vtime.log(f"tick {i}")
        await asyncio.sleep(0)


async def waiter(t):
    try:
        return await asyncio.wait_for(t, 5)
    except asyncio.CancelledError:
        vtime.log(f"waiter cancelled, task cancelled: {t.cancelled()}")
        raise


async def main():
    t = asyncio.create_task(job("slow", 10))
    asyncio.create_task(ticker(3))
    try:
        await asyncio.wait_for(t, 1)
    except TimeoutError:
        vtime.log(f"timed out, task cancelled: {t.cancelled()}")

    t = asyncio.create_task(job("stubborn", 10, swallow=True))
    r = await asyncio.wait_for(t, 1)
    vtime.log(f"stubborn gave {r}")

    t = asyncio.create_task(job("fast", 1))
    r = await asyncio.wait_for(t, 2)
    vtime.log(f"fast gave {r}")

    r = await asyncio.wait_for(t, 0)
    vtime.log(f"zero timeout on a done task: {r}")
    t = asyncio.create_task(job("zero", 3))
    asyncio.create_task(ticker(3))
    try:
        await asyncio.wait_for(t, 0)
    except TimeoutError:
        vtime.log(f"zero timeout timed out, cancelled: {t.cancelled()}")

    t = asyncio.create_task(job("inner", 10))
    w = asyncio.create_task(waiter(t))
    await asyncio.sleep(1)
    vtime.log("cancel the waiter")
    w.cancel()
    try:
        await w
    except asyncio.CancelledError:
        vtime.log(f"waiter ended cancelled: {w.cancelled()}")
    vtime.log("main done")


vtime.run(main())
