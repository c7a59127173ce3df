# Cancelling tasks in each state, and when each one observes it: not started
# (its body never runs), ready after a sleep(0), sleeping, woken by its timer
# but not yet resumed, and already done (cancel() returns False).
import asyncio
import vtime


async def never_started():
    vtime.log("never_started body runs")


async def spinner():
    n = 0
    try:
        while True:
            await asyncio.sleep(0)
            n += 1
    except asyncio.CancelledError:
        vtime.log(f"spinner cancelled after {n} yields")
        raise


async def sleeper():
    try:
        await asyncio.sleep(10)
        vtime.log("sleeper woke")
    except asyncio.CancelledError:
        vtime.log("sleeper cancelled")
        raise


async def timer_fired():
    try:
        await asyncio.sleep(1)
        vtime.log("timer_fired woke")
    except asyncio.CancelledError:
        vtime.log("timer_fired cancelled although its timer expired")
        raise


async def finished():
    vtime.log("finished runs")
    return 5


async def report(name, t):
    try:
        r = await t
        vtime.log(f"{name} returned {r}")
    except asyncio.CancelledError:
        vtime.log(f"{name} ended cancelled: {t.cancelled()}")


async def main():
    s = asyncio.create_task(sleeper())
    r = asyncio.create_task(spinner())
    f = asyncio.create_task(finished())
    await asyncio.sleep(0)
    await asyncio.sleep(0)
    await asyncio.sleep(0)
    n = asyncio.create_task(never_started())
    vtime.log(f"cancel never_started: {n.cancel()}")
    vtime.log(f"cancel spinner: {r.cancel()}")
    vtime.log(f"cancel sleeper: {s.cancel()}")
    vtime.log(f"cancel finished: {f.cancel()}")
    vtime.log("main waits")
    await report("never_started", n)
    await report("spinner", r)
    await report("sleeper", s)
    await report("finished", f)
    e = asyncio.create_task(timer_fired())
    await asyncio.sleep(1)
    vtime.log(f"cancel timer_fired: {e.cancel()}")
    await report("timer_fired", e)
    vtime.log("main done")


vtime.run(main())
