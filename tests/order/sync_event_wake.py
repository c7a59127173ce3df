# asyncio.Event.set wakes every waiter, each with its own ready-queue hop, in
# the order they began to wait, interleaved with tasks that only yield; a
# waiter cancelled before the set is skipped, a clear right after the set
# does not stop the ones already woken, and waiting on a set event does not
# suspend.
import asyncio
import vtime


async def waiter(e, name):
    vtime.log(f"{name} waits")
    try:
        await e.wait()
    except asyncio.CancelledError:
        vtime.log(f"{name} cancelled")
        raise
    vtime.log(f"{name} woke, set {e.is_set()}")


async def ticker(name, n):
    for i in range(n):
        vtime.log(f"{name} {i}")
        await asyncio.sleep(0)


async def main():
    e = asyncio.Event()
    a = asyncio.create_task(ticker("a", 3))
    w = [asyncio.create_task(waiter(e, f"w{i}")) for i in range(4)]
    b = asyncio.create_task(ticker("b", 3))
    await asyncio.sleep(1)
    w[2].cancel()
    t = asyncio.create_task(ticker("t", 4))
    await asyncio.sleep(0)
    vtime.log("set, then clear")
    e.set()
    e.clear()
    vtime.log(f"set {e.is_set()}")
    for x in w + [a, b, t]:
        try:
            await x
        except asyncio.CancelledError:
            pass
    e.set()
    await e.wait()
    vtime.log("wait on a set event")
    await asyncio.sleep(0)
    vtime.log("main done")


vtime.run(main())
