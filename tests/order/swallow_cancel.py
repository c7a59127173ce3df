# A task may catch the cancellation, keep awaiting (the request was consumed),
# be cancelled again later, and end with a value instead of cancelled.
# Two cancel() calls before the task resumes deliver one CancelledError; a
# task that cancels itself sees it at its next await.
import asyncio
import vtime


async def helper():
    await asyncio.sleep(0.25)
    vtime.log("helper done")
    return 3


async def stubborn():
    caught = 0
    for round in range(3):
        try:
            await asyncio.sleep(5)
            vtime.log(f"stubborn slept in round {round}")
        except asyncio.CancelledError:
            caught += 1
            vtime.log(f"stubborn caught cancellation {caught}")
            r = await asyncio.create_task(helper())
            vtime.log(f"stubborn awaited helper: {r}")
    return caught


async def twice():
    try:
        await asyncio.sleep(5)
    except asyncio.CancelledError:
        vtime.log("twice caught one cancellation")
    await asyncio.sleep(1)
    vtime.log("twice slept again undisturbed")
    return "twice ok"


async def self_cancel():
    vtime.log(f"self_cancel cancels itself: {asyncio.current_task().cancel()}")
    vtime.log("self_cancel keeps running until its next await")
    try:
        await asyncio.sleep(0)
    except asyncio.CancelledError:
        vtime.log("self_cancel sees it at the await")
        raise


async def main():
    s = asyncio.create_task(stubborn())
    t = asyncio.create_task(twice())
    c = asyncio.create_task(self_cancel())
    await asyncio.sleep(1)
    vtime.log(f"first cancel of stubborn: {s.cancel()}")
    vtime.log(f"cancel twice once: {t.cancel()}")
    vtime.log(f"cancel twice again: {t.cancel()}")
    await asyncio.sleep(1)
    vtime.log(f"second cancel of stubborn: {s.cancel()}")
    r = await s
    vtime.log(f"stubborn returned {r}, cancelled: {s.cancelled()}")
    r = await t
    vtime.log(f"twice returned {r}, cancelled: {t.cancelled()}")
    try:
        await c
    except asyncio.CancelledError:
        vtime.log(f"self_cancel ended cancelled: {c.cancelled()}")
    vtime.log("main done")


vtime.run(main())
