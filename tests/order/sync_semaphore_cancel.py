# asyncio.Semaphore(2) with cancellations: waiters are served in order; one
# cancelled while waiting leaves no trace; a permit released to a waiter that
# is cancelled before it runs goes to the next one; a newcomer does not take
# a permit that is on its way to a waiter.
import asyncio
import vtime


async def worker(sem, name, hold):
    vtime.log(f"{name} wants a permit, locked {sem.locked()}")
    try:
        await sem.acquire()
    except asyncio.CancelledError:
        vtime.log(f"{name} cancelled, locked {sem.locked()}")
        raise
    vtime.log(f"{name} has a permit")
    await asyncio.sleep(hold)
    vtime.log(f"{name} releases")
    sem.release()


async def main():
    sem = asyncio.Semaphore(2)
    w = [asyncio.create_task(worker(sem, f"w{i}", 1 + i * 0.25)) for i in range(7)]
    await asyncio.sleep(0.5)
    vtime.log("cancel w3 while it waits")
    w[3].cancel()
    await asyncio.sleep(0.5)
    vtime.log(f"cancel w2, just handed a permit, locked {sem.locked()}")
    w[2].cancel()
    n = asyncio.create_task(worker(sem, "newcomer", 0.1))
    for x in w + [n]:
        try:
            await x
        except asyncio.CancelledError:
            pass
    vtime.log(f"locked {sem.locked()}")


vtime.run(main())
