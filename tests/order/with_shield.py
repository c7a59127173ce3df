# An __aexit__ that shields its final flush: the flush is a task of its own,
# so the exit step waits for it across the two hops of asyncio.shield (the
# inner task's done-callback, then the outer future's wake-up), and a second
# cancellation during the exit ends the exiting task at once while the
# flush runs on to its end.
import asyncio
import vtime


async def flush(name):
    vtime.log(f"{name} flushing")
    await asyncio.sleep(1)
    vtime.log(f"{name} flushed")
    return f"{name} ok"


class Store:
    def __init__(self, name):
        self.name = name

    async def __aenter__(self):
        vtime.log(f"{self.name} open")
        return self

    async def __aexit__(self, typ, exc, tb):
        vtime.log(f"{self.name} exit with {typ.__name__ if typ else None}")
        self.flush_task = asyncio.create_task(flush(self.name))
        try:
            r = await asyncio.shield(self.flush_task)
            vtime.log(f"{self.name} exit got {r}")
        except asyncio.CancelledError:
            vtime.log(f"{self.name} exit cancelled, the flush goes on")
            raise
        return False


async def writer(store, work):
    async with store:
        await asyncio.sleep(work)
        vtime.log(f"{store.name} wrote")


async def ticker(n):
    for i in range(n):
        vtime.log(f"tick {i}")
        await asyncio.sleep(0)


async def main():
    sa, sb = Store("a"), Store("b")
    a = asyncio.create_task(writer(sa, 0.5))
    b = asyncio.create_task(writer(sb, 2))
    await asyncio.sleep(1)
    vtime.log("cancel b in its block")
    b.cancel()
    await asyncio.sleep(0.5)
    t = asyncio.create_task(ticker(5))
    vtime.log("cancel b in its exit")
    b.cancel()
    for x in (a, b):
        try:
            await x
        except asyncio.CancelledError:
            vtime.log(f"b cancelled: {b.cancelled()}")
    r = await sb.flush_task
    vtime.log(f"b's flush ended with {r}")
    await t
    vtime.log("main done")


vtime.run(main())
