# Expired timers: a timer whose deadline is less than the clock resolution
# (1 ns) past the current time is treated as expired in the same iteration;
# one a few nanoseconds later waits for the next iteration. A timer's expiry
# is itself a ready-queue entry that schedules the sleeper's wake-up, so a
# task that becomes ready during the same iteration runs before or after the
# sleeper depending on the hops.
import asyncio
import vtime


async def sleeper(name, delay):
    await asyncio.sleep(delay)
    vtime.log(f"{name} woke")
    asyncio.create_task(echo(name))
    await asyncio.sleep(0)
    vtime.log(f"{name} after yield")


async def echo(name):
    vtime.log(f"echo of {name}")


async def main():
    tasks = [asyncio.create_task(sleeper("a", 1.0)),
             asyncio.create_task(sleeper("b", 1.0 + 4e-10)),
             asyncio.create_task(sleeper("c", 1.0 + 5e-9)),
             asyncio.create_task(sleeper("d", 1.0 + 2e-10)),
             asyncio.create_task(sleeper("e", 1.0 + 2e-8))]
    for t in tasks:
        await t
    vtime.log("main done")


vtime.run(main())
