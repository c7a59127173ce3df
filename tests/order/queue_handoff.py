# asyncio.Queue hand-offs on a bounded queue (maxsize 2): several getters wait
# on the empty queue and are woken in the order they came, one ready-queue
# hop after each put; then several putters wait on the full queue and each
# get hands the freed slot to the oldest. A task that only yields shows where
# the hops fall, and a fresh put or get that need not wait never suspends.
import asyncio
import vtime


async def getter(q, name):
    vtime.log(f"{name} waits")
    item = await q.get()
    vtime.log(f"{name} got {item}")


async def putter(q, name, item):
    vtime.log(f"{name} puts {item}")
    await q.put(item)
    vtime.log(f"{name} put {item}")


async def ticker(n):
    for i in range(n):
        vtime.log(f"tick {i}")
        await asyncio.sleep(0)


async def main():
    q = asyncio.Queue(2)
    getters = [asyncio.create_task(getter(q, f"g{i}")) for i in range(3)]
    await asyncio.sleep(1)
    t = asyncio.create_task(ticker(6))
    vtime.log("put a, b")
    q.put_nowait("a")
    await q.put("b")
    vtime.log(f"size {q.qsize()}")
    await asyncio.sleep(0)
    vtime.log("put c")
    await q.put("c")
    for g in getters:
        await g
    await t
    vtime.log(f"size {q.qsize()}")

    await q.put("d")
    await q.put("e")
    putters = [asyncio.create_task(putter(q, f"p{i}", f"x{i}")) for i in range(3)]
    await asyncio.sleep(1)
    t = asyncio.create_task(ticker(8))
    for i in range(5):
        item = await q.get()
        vtime.log(f"main got {item}, size {q.qsize()}")
        if i == 1:
            await asyncio.sleep(0)
    for p in putters:
        await p
    await t
    vtime.log(f"size {q.qsize()}")


vtime.run(main())
