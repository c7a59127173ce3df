# asyncio.timeout's expiry interleaved with other tasks: a timer expiring at
# the same time as sleepers', a deadline of zero (call_soon, ahead of a task
# created right after it), a rescheduled deadline, and nested scopes where the
# inner and then the outer one expires.
import asyncio
import vtime


async def other(name, delay):
    await asyncio.sleep(delay)
    vtime.log(f"{name} woke")


async def spawned(name):
    vtime.log(f"{name} runs")
    await asyncio.sleep(0)
    vtime.log(f"{name} runs again")


async def expire_with_others():
    asyncio.create_task(other("before", 0.5))
    asyncio.create_task(other("same", 1))
    try:
        async with asyncio.timeout(1) as cm:
            asyncio.create_task(other("after", 1))
            await asyncio.sleep(5)
            vtime.log("not reached")
    except TimeoutError:
        vtime.log(f"timed out, expired: {cm.expired()}")
    await asyncio.sleep(0)
    vtime.log("sleep after the scope works")


async def zero_deadline():
    try:
        async with asyncio.timeout(0):
            asyncio.create_task(spawned("x"))
            vtime.log("in the zero scope")
            await asyncio.sleep(1)
    except TimeoutError:
        vtime.log("zero scope timed out")


async def rescheduled():
    loop = asyncio.get_running_loop()
    asyncio.create_task(other("ticker", 1.5))
    try:
        async with asyncio.timeout(1) as cm:
            cm.reschedule(loop.time() + 2)
            await asyncio.sleep(1.5)
            vtime.log("slept past the first deadline")
            cm.reschedule(None)
            await asyncio.sleep(1)
            vtime.log("no deadline")
            cm.reschedule(loop.time() + 0.25)
            await asyncio.sleep(1)
    except TimeoutError:
        vtime.log("rescheduled scope timed out")


async def nested(inner_delay, outer_delay):
    try:
        async with asyncio.timeout(outer_delay):
            try:
                async with asyncio.timeout(inner_delay):
                    await asyncio.sleep(10)
            except TimeoutError:
                vtime.log("inner timed out")
            await asyncio.sleep(10)
    except TimeoutError:
        vtime.log("outer timed out")


async def main():
    await expire_with_others()
    await zero_deadline()
    await rescheduled()
    await nested(1, 2)
    await nested(3, 2)
    vtime.log("main done")


vtime.run(main())
