# asyncio.wait: FIRST_COMPLETED when several tasks finish in the same loop
# iteration (all of them are done on return, the caller resumes after the
# last one's callback), FIRST_EXCEPTION past successes, a timeout that
# returns with nothing cancelled, and ALL_COMPLETED.
import asyncio
import vtime


async def job(name, delay, errno=0):
    await asyncio.sleep(delay)
    if errno:
        vtime.log(f"{name} fails")
        raise OSError(errno, "failed")
    vtime.log(f"{name} done")
    return name


def names(tasks, done):
    return " ".join(n for n, t in tasks if t in done) or "-"


async def main():
    tasks = [(n, asyncio.create_task(job(n, d)))
             for n, d in (("a", 2), ("b", 1), ("c", 1), ("d", 3))]
    done, pending = await asyncio.wait([t for _, t in tasks],
                                       return_when=asyncio.FIRST_COMPLETED)
    vtime.log(f"first completed: {names(tasks, done)}")
    done, pending = await asyncio.wait([t for _, t in tasks], timeout=0.5)
    vtime.log(f"after a timeout: {names(tasks, done)}, cancelled: "
              f"{any(t.cancelled() for _, t in tasks)}")
    done, pending = await asyncio.wait([t for _, t in tasks])
    vtime.log(f"all completed: {names(tasks, done)}")

    tasks = [(n, asyncio.create_task(job(n, d, e)))
             for n, d, e in (("e", 1, 0), ("f", 2, 5), ("g", 2, 0), ("h", 4, 0))]
    done, pending = await asyncio.wait([t for _, t in tasks],
                                       return_when=asyncio.FIRST_EXCEPTION)
    vtime.log(f"first exception: {names(tasks, done)}")
    done, pending = await asyncio.wait([t for _, t in tasks], timeout=0)
    vtime.log(f"zero timeout: {names(tasks, done)}")
    done, pending = await asyncio.wait([t for _, t in tasks],
                                       return_when=asyncio.FIRST_EXCEPTION)
    vtime.log(f"first exception again: {names(tasks, done)}")
    await asyncio.wait([t for _, t in tasks])
    vtime.log("main done")


vtime.run(main())
