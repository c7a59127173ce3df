# Closing an async generator runs its cleanup inside the closing task, where
# it may await while others run; a consumer cancelled while the body awaits
# sees the cancellation come out of the body, after the body's cleanup; a
# generator never started closes without running.
import asyncio
import vtime


async def ticker(name, n, delay):
    for i in range(n):
        vtime.log(f"{name} tick {i}")
        await asyncio.sleep(delay)


async def resource(name):
    vtime.log(f"{name} opens")
    try:
        i = 0
        while True:
            await asyncio.sleep(0.25)
            vtime.log(f"{name} yields {i}")
            yield i
            i += 1
    finally:
        vtime.log(f"{name} cleans up")
        await asyncio.sleep(0.1)
        vtime.log(f"{name} cleaned up")


async def consume_forever(name):
    async for v in resource(name):
        vtime.log(f"{name} consumer got {v}")
    vtime.log(f"{name} consumer: not reached")


async def main():
    t = asyncio.create_task(ticker("t", 16, 0.1))
    g = resource("r1")
    for _ in range(3):
        v = await g.__anext__()
        vtime.log(f"main got {v}")
    vtime.log("main closes r1")
    await g.aclose()
    vtime.log("main closed r1")

    c = asyncio.create_task(consume_forever("r2"))
    await asyncio.sleep(0.6)
    vtime.log("main cancels the r2 consumer")
    c.cancel()
    try:
        await c
    except asyncio.CancelledError:
        vtime.log(f"r2 consumer cancelled: {c.cancelled()}")

    g = resource("r3")
    await g.aclose()
    vtime.log("main closed r3, never started")
    await t
    vtime.log("main done")


vtime.run(main())
