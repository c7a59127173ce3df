# @asynccontextmanager: the generator's code before its yield runs as the
# entry, the rest as the exit, inside the task that runs the block, with
# the block's error thrown in at the yield (re-raised through `finally`, or
# swallowed by an `except`), and a cancellation of the block reaching it the
# same way; its awaits interleave with another task's.
import asyncio
import vtime
from contextlib import asynccontextmanager


@asynccontextmanager
async def managed(name, swallow):
    vtime.log(f"{name} acquiring")
    await asyncio.sleep(0.5)
    try:
        yield name
        vtime.log(f"{name} block ended normally")
    except OSError:
        vtime.log(f"{name} saw OSError")
        if not swallow:
            raise
    finally:
        vtime.log(f"{name} releasing")
        await asyncio.sleep(0.2)
        vtime.log(f"{name} released")


async def user(name, work, fail, swallow):
    try:
        async with managed(name, swallow) as res:
            vtime.log(f"using {res}")
            await asyncio.sleep(work)
            if fail:
                raise OSError("bad")
        vtime.log(f"{name} after the block")
    except OSError:
        vtime.log(f"{name} got OSError")
    except asyncio.CancelledError:
        vtime.log(f"{name} cancelled")
        raise


async def ticker():
    for i in range(10):
        vtime.log(f"tick {i}")
        await asyncio.sleep(0.3)


async def main():
    t = asyncio.create_task(ticker())
    tasks = [
        asyncio.create_task(user("a", 1, False, False)),
        asyncio.create_task(user("b", 0.5, True, False)),
        asyncio.create_task(user("c", 0.75, True, True)),
        asyncio.create_task(user("d", 5, False, False)),
    ]
    await asyncio.sleep(1.2)
    vtime.log("cancel d")
    tasks[3].cancel()
    for x in tasks:
        try:
            await x
        except asyncio.CancelledError:
            pass
    await t
    vtime.log("main done")


vtime.run(main())
