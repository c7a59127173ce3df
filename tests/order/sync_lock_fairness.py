# asyncio.Lock hands the lock to waiters first come, first served: a waiter
# cancelled while it waits leaves the line, one cancelled after the lock was
# released to it passes it on, and a newcomer arriving while the lock is on
# its way to a waiter queues behind the line.
import asyncio
import vtime


async def worker(lock, name):
    vtime.log(f"{name} wants the lock")
    try:
        await lock.acquire()
    except asyncio.CancelledError:
        vtime.log(f"{name} cancelled, locked {lock.locked()}")
        raise
    vtime.log(f"{name} has the lock")
    await asyncio.sleep(0.5)
    vtime.log(f"{name} releases")
    lock.release()


async def ticker(n):
    for i in range(n):
        vtime.log(f"tick {i}")
        await asyncio.sleep(0)


async def main():
    lock = asyncio.Lock()
    await lock.acquire()
    w = [asyncio.create_task(worker(lock, f"w{i}")) for i in range(5)]
    await asyncio.sleep(1)
    vtime.log("cancel w1 while it waits")
    w[1].cancel()
    await asyncio.sleep(0)
    t = asyncio.create_task(ticker(4))
    vtime.log("release, cancel w0 at once")
    lock.release()
    w[0].cancel()
    vtime.log(f"locked {lock.locked()}")
    n = asyncio.create_task(worker(lock, "newcomer"))
    for x in w + [n, t]:
        try:
            await x
        except asyncio.CancelledError:
            pass
    vtime.log(f"locked {lock.locked()}")


vtime.run(main())
