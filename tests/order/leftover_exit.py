# What leftover tasks do when main returns. The loop stops one iteration
# after main finishes (its completion callback is a ready-queue entry), so
# entries queued before that still run: a task created just before main
# returns starts, and a spinning task takes one more step. Then every task
# still alive is cancelled and run to completion, cleanup awaits included.
# Only one leftover prints while being cancelled, so the order in which the
# leftovers are cancelled does not show.
import asyncio
import vtime


async def spinner():
    step = 0
    try:
        while True:
            vtime.log(f"spinner step {step}")
            step += 1
            await asyncio.sleep(0)
    except asyncio.CancelledError:
        vtime.log(f"spinner cancelled at step {step}")
        await asyncio.sleep(0.5)
        vtime.log("spinner cleanup done")
        raise


async def late():
    vtime.log("late body runs")


async def quiet_sleeper():
    await asyncio.sleep(100)


async def main():
    asyncio.create_task(spinner())
    asyncio.create_task(quiet_sleeper())
    await asyncio.sleep(0)
    await asyncio.sleep(0)
    asyncio.create_task(late())
    vtime.log("main returns")
    return 0


vtime.run(main())
