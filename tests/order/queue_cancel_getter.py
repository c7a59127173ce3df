# Cancelling getters of an asyncio.Queue: one cancelled while it waits leaves
# no trace, the next item goes to the getter behind it; one woken for an item
# and cancelled before it ran leaves the item in the queue and wakes the next
# getter, so the item is not lost. A putter cancelled after a slot was freed
# for it passes the slot on the same way.
import asyncio
import vtime


async def getter(q, name):
    vtime.log(f"{name} waits")
    try:
        item = await q.get()
    except asyncio.CancelledError:
        vtime.log(f"{name} cancelled, size {q.qsize()}")
        raise
    vtime.log(f"{name} got {item}")


async def putter(q, name, item):
    try:
        await q.put(item)
    except asyncio.CancelledError:
        vtime.log(f"{name} cancelled, size {q.qsize()}")
        raise
    vtime.log(f"{name} put {item}")


async def ticker(n):
    for i in range(n):
        vtime.log(f"tick {i}")
        await asyncio.sleep(0)


async def main():
    q = asyncio.Queue()
    g = [asyncio.create_task(getter(q, f"g{i}")) for i in range(4)]
    await asyncio.sleep(1)
    vtime.log("cancel g0 while it waits")
    g[0].cancel()
    await asyncio.sleep(0)
    t = asyncio.create_task(ticker(5))
    vtime.log("put a, cancel g1 at once")
    q.put_nowait("a")
    g[1].cancel()
    await asyncio.sleep(1)
    vtime.log("put b")
    q.put_nowait("b")
    await t
    for x in g:
        try:
            await x
        except asyncio.CancelledError:
            pass
    vtime.log(f"size {q.qsize()}")

    q = asyncio.Queue(1)
    q.put_nowait("full")
    p = [asyncio.create_task(putter(q, f"p{i}", f"y{i}")) for i in range(3)]
    await asyncio.sleep(1)
    vtime.log(f"get {q.get_nowait()}, cancel p0 at once")
    p[0].cancel()
    await asyncio.sleep(1)
    vtime.log(f"get {q.get_nowait()}")
    await asyncio.sleep(1)
    vtime.log(f"get {q.get_nowait()}")
    for x in p:
        try:
            await x
        except asyncio.CancelledError:
            pass
    vtime.log(f"size {q.qsize()}")


vtime.run(main())
