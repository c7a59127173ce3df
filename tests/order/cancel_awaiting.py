# Cancelling a task that awaits another task cancels the awaited task too, and
# the outer one resumes only once the inner has finished. If the inner task
# swallows the cancellation and returns a value, the outer gets that value and
# is not cancelled. A child that cancels the task awaiting it gets the
# cancellation itself.
import asyncio
import vtime


async def inner(name, swallow):
    try:
        await asyncio.sleep(10)
        vtime.log(f"{name} woke")
        return 1
    except asyncio.CancelledError:
        vtime.log(f"{name} cancelled, cleaning up")
        await asyncio.sleep(0.5)
        vtime.log(f"{name} cleaned up")
        if swallow:
            return 42
        raise


async def outer(name, swallow):
    t = asyncio.create_task(inner(name + ".inner", swallow))
    try:
        r = await t
        vtime.log(f"{name} got {r}, inner cancelled: {t.cancelled()}")
        await asyncio.sleep(0)
        vtime.log(f"{name} yielded without a second cancellation")
        return r + 1
    except asyncio.CancelledError:
        vtime.log(f"{name} cancelled, inner cancelled: {t.cancelled()}")
        raise


async def child(parent):
    vtime.log("child cancels its parent")
    parent.cancel()
    vtime.log("child still running")
    try:
        await asyncio.sleep(1)
        vtime.log("child slept")
    except asyncio.CancelledError:
        vtime.log("child got the cancellation")
        raise


async def parent():
    me = asyncio.current_task()
    try:
        await asyncio.create_task(child(me))
        vtime.log("parent not cancelled")
    except asyncio.CancelledError:
        vtime.log("parent cancelled")
        raise


async def main():
    a = asyncio.create_task(outer("a", False))
    b = asyncio.create_task(outer("b", True))
    await asyncio.sleep(1)
    vtime.log(f"cancel a: {a.cancel()}")
    vtime.log(f"cancel b: {b.cancel()}")
    try:
        await a
    except asyncio.CancelledError:
        vtime.log(f"a ended cancelled: {a.cancelled()}")
    r = await b
    vtime.log(f"b returned {r}, cancelled: {b.cancelled()}")
    p = asyncio.create_task(parent())
    try:
        await p
    except asyncio.CancelledError:
        vtime.log(f"parent ended cancelled: {p.cancelled()}")
    vtime.log("main done")


vtime.run(main())
