# asyncio.gather: the first failure reaches the caller as soon as it happens
# while the other children run on, uncancelled; a child cancelled by someone
# else counts as a failure; with return_exceptions the caller waits for all;
# cancelling the gathering task cancels every child and the gather raises
# once the last has finished its cleanup.
import asyncio
import vtime


async def job(name, delay, errno=0):
    try:
        await asyncio.sleep(delay)
    except asyncio.CancelledError:
        vtime.log(f"{name} cancelled")
        await asyncio.sleep(delay / 10)
        vtime.log(f"{name} cleaned up")
        raise
    if errno:
        vtime.log(f"{name} fails")
        raise OSError(errno, "failed")
    vtime.log(f"{name} done")
    return delay


async def first_failure():
    a = asyncio.create_task(job("a", 1, 5))
    b = asyncio.create_task(job("b", 2, 22))
    c = asyncio.create_task(job("c", 3))
    try:
        await asyncio.gather(a, b, c)
    except OSError as e:
        vtime.log(f"gather failed: errno {e.errno}")
    vtime.log(f"b done: {b.done()}, c done: {c.done()}")
    await asyncio.sleep(5)
    vtime.log(f"b cancelled: {b.cancelled()}, c result: {c.result()}")


async def cancelled_child():
    a = asyncio.create_task(job("a", 1))
    b = asyncio.create_task(job("b", 2))

    async def canceller():
        await asyncio.sleep(0.5)
        vtime.log("canceller cancels b")
        b.cancel()

    asyncio.create_task(canceller())
    try:
        await asyncio.gather(a, b)
    except asyncio.CancelledError:
        vtime.log(f"gather raised CancelledError, a done: {a.done()}")
    await asyncio.sleep(2)


async def return_exceptions():
    a = asyncio.create_task(job("a", 1, 5))
    b = asyncio.create_task(job("b", 2))
    c = asyncio.create_task(job("c", 0.5, 22))
    r = await asyncio.gather(a, b, c, return_exceptions=True)
    vtime.log("results: " + ", ".join(
        f"errno {x.errno}" if isinstance(x, OSError) else str(x) for x in r))


async def gatherer():
    a = asyncio.create_task(job("a", 1))
    b = asyncio.create_task(job("b", 4))
    try:
        await asyncio.gather(a, b)
    except asyncio.CancelledError:
        vtime.log(f"gatherer cancelled, a: {a.cancelled()}, b: {b.cancelled()}")
        raise


async def caller_cancelled():
    t = asyncio.create_task(gatherer())
    await asyncio.sleep(2)
    vtime.log("cancel the gatherer")
    t.cancel()
    try:
        await t
    except asyncio.CancelledError:
        vtime.log(f"gatherer ended cancelled: {t.cancelled()}")


async def main():
    await first_failure()
    await cancelled_child()
    await return_exceptions()
    await caller_cancelled()
    vtime.log("main done")


vtime.run(main())
