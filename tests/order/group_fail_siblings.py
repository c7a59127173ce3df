# The first child of a TaskGroup to fail cancels its siblings and the body of
# the scope, whose await returns the cancellation; the exit waits for the
# siblings' cleanup and reports the failure. Only one sibling prints at the
# moment it is cancelled: asyncio cancels the siblings in the order of a set.
# A second group fails while its parent already waits at the exit.
import asyncio
import vtime


async def worker(name, delay, fail):
    try:
        await asyncio.sleep(delay)
    except asyncio.CancelledError:
        if name == "c":
            vtime.log(f"{name} cancelled, cleaning up")
        await asyncio.sleep(delay / 4)
        vtime.log(f"{name} cleaned up")
        raise
    if fail:
        vtime.log(f"{name} fails")
        raise OSError(5, "I/O error")
    vtime.log(f"{name} done")
    return name


async def ticker():
    for i in range(4):
        vtime.log(f"tick {i}")
        await asyncio.sleep(0)


async def body_cancelled():
    try:
        async with asyncio.TaskGroup() as g:
            g.create_task(worker("a", 1, False))
            g.create_task(worker("b", 2, True))
            g.create_task(worker("c", 3, False))
            g.create_task(worker("d", 4, False))
            try:
                await asyncio.sleep(10)
                vtime.log("body slept")
            except asyncio.CancelledError:
                vtime.log("body cancelled")
                asyncio.create_task(ticker())
                raise
    except* OSError as eg:
        vtime.log(f"group failed: errno {eg.exceptions[0].errno}")


async def exit_waiting():
    try:
        async with asyncio.TaskGroup() as g:
            g.create_task(worker("e", 1, True))
            g.create_task(worker("f", 2, False))
            vtime.log("body ends")
    except* OSError as eg:
        vtime.log(f"group failed: errno {eg.exceptions[0].errno}")


async def main():
    await body_cancelled()
    vtime.log("after the first group")
    await asyncio.sleep(0)
    vtime.log("main not cancelled")
    await exit_waiting()
    vtime.log("main done")


vtime.run(main())
