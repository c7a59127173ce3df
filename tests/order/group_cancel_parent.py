# A TaskGroup whose parent is cancelled from outside: during the body (the
# exit cancels the children, waits for their cleanup, and re-raises the
# cancellation) and while the parent already waits at the exit. Then nested
# groups: a failure in the inner group cancels the inner body, fails the
# inner group, and so fails the outer group, which cancels its other child.
import asyncio
import vtime


async def worker(name, delay, errno=0):
    try:
        await asyncio.sleep(delay)
    except asyncio.CancelledError:
        vtime.log(f"{name} cancelled")
        await asyncio.sleep(0.25)
        vtime.log(f"{name} cleaned up")
        raise
    if errno:
        vtime.log(f"{name} fails")
        raise OSError(errno, "failed")
    vtime.log(f"{name} done")


async def in_body():
    try:
        async with asyncio.TaskGroup() as g:
            g.create_task(worker("a", 5))
            vtime.log("body sleeps")
            await asyncio.sleep(10)
    except asyncio.CancelledError:
        vtime.log("group re-raised the cancellation")
        raise


async def at_exit():
    try:
        async with asyncio.TaskGroup() as g:
            g.create_task(worker("b", 5))
            vtime.log("body ends")
    except asyncio.CancelledError:
        vtime.log("group cancelled at its exit")
        raise


def first_errno(e):
    while isinstance(e, BaseExceptionGroup):
        e = e.exceptions[0]
    return e.errno


async def inner_group():
    try:
        async with asyncio.TaskGroup() as g:
            g.create_task(worker("x", 1, 5))
            g.create_task(worker("y", 3))
            try:
                await asyncio.sleep(10)
            except asyncio.CancelledError:
                vtime.log("inner body cancelled")
                raise
    except* OSError as eg:
        vtime.log(f"inner group failed: errno {first_errno(eg)}")
        raise OSError(first_errno(eg), "inner group failed")


async def nested():
    try:
        async with asyncio.TaskGroup() as g:
            g.create_task(inner_group())
            g.create_task(worker("z", 4))
    except* OSError as eg:
        vtime.log(f"outer group failed: errno {first_errno(eg)}")


async def main():
    for body in (in_body, at_exit):
        t = asyncio.create_task(body())
        await asyncio.sleep(1)
        vtime.log("cancel the parent")
        t.cancel()
        try:
            await t
        except asyncio.CancelledError:
            vtime.log(f"parent ended cancelled: {t.cancelled()}")
    await nested()
    vtime.log("main done")


vtime.run(main())
