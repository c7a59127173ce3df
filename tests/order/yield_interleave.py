# sleep(0) interleaving: several tasks yielding different numbers of times,
# a task created in the middle of the round-robin, and main yielding too.
import asyncio
import vtime


async def spinner(name, rounds):
    for i in range(rounds):
        vtime.log(f"{name} round {i}")
        await asyncio.sleep(0)
    vtime.log(f"{name} done")


async def late():
    vtime.log("late start")
    await asyncio.sleep(0)
    vtime.log("late done")


async def spawner():
    vtime.log("spawner start")
    await asyncio.sleep(0)
    t = asyncio.create_task(late())
    vtime.log("spawner created late")
    await asyncio.sleep(0)
    vtime.log("spawner after yield")
    await t
    vtime.log("spawner saw late finish")


async def main():
    tasks = [asyncio.create_task(spinner("a", 3)),
             asyncio.create_task(spawner()),
             asyncio.create_task(spinner("b", 1)),
             asyncio.create_task(spinner("c", 4))]
    for i in range(3):
        vtime.log(f"main round {i}")
        await asyncio.sleep(0)
    for t in tasks:
        await t
    vtime.log("main done")


vtime.run(main())
