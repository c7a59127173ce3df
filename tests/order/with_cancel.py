# `async with`: __aexit__ runs whichever way the block ends (normally, by an
# error, by a cancellation delivered in the block) and its awaits interleave
# with other tasks; a cancellation during __aenter__ skips the block and
# __aexit__; one during __aexit__ stops its await.
import asyncio
import vtime


class Conn:
    def __init__(self, name):
        self.name = name

    async def __aenter__(self):
        vtime.log(f"{self.name} connecting")
        await asyncio.sleep(1)
        vtime.log(f"{self.name} connected")
        return self

    async def __aexit__(self, typ, exc, tb):
        vtime.log(f"{self.name} exit with {typ.__name__ if typ else None}")
        await asyncio.sleep(0.5)
        vtime.log(f"{self.name} disconnected")
        return False


async def client(name, work, fail):
    try:
        async with Conn(name):
            vtime.log(f"{name} working")
            await asyncio.sleep(work)
            if fail:
                raise OSError(f"{name} failed")
            vtime.log(f"{name} done working")
    except asyncio.CancelledError:
        vtime.log(f"{name} cancelled")
        raise
    except OSError:
        vtime.log(f"{name} raised OSError")


async def ticker():
    for i in range(12):
        vtime.log(f"tick {i}")
        await asyncio.sleep(0.25)


async def main():
    t = asyncio.create_task(ticker())
    a = asyncio.create_task(client("a", 1, False))
    b = asyncio.create_task(client("b", 5, False))
    c = asyncio.create_task(client("c", 0.5, True))
    d = asyncio.create_task(client("d", 1, False))
    e = asyncio.create_task(client("e", 0.25, False))
    await asyncio.sleep(0.5)
    vtime.log("cancel d, in its __aenter__")
    d.cancel()
    await asyncio.sleep(1)
    vtime.log("cancel b, in its block; e, in its __aexit__")
    b.cancel()
    e.cancel()
    for x in (a, b, c, d, e):
        try:
            await x
        except asyncio.CancelledError:
            pass
    await t
    vtime.log("main done")


vtime.run(main())
