"""Finding 01: cancelling `recv_async()` on a bounded channel destroys the message it had taken.

Promise (`Receiver.recv_async`): "Safe to cancel: either a message is returned (the cancellation
is delivered at the next await) or ``CancelledError`` is raised and nothing was taken."
DESIGN §4.4: "A recv ... that is cancelled (asyncio) ... takes effect completely or not at all".

What happens: on a bounded channel the receive is two committing steps: the RECV script (fetch
one entry) and then the ACK script (acknowledge + delete it, so the room appears at once). When
the task is cancelled during the RECV step, `drive_async` finishes that step (shielded), feeds
the reply to the algorithm, which pops the entry, marks it handed (`lease.handed`), unpickles it
and yields the ACK step - and since the operation is not complete, `drive_async` closes the
generator and raises CancelledError. The entry is acknowledged (deleted) with the next call, and
its value is gone: neither returned nor left in the channel.

The script: a producer task sends 0..N-1 into `bounded(url, 4)`; the consumer starts
`recv_async()` tasks and cancels each after a random 0-2 ms, collecting what the completed ones
returned. Every message must arrive (no process dies). Exit 1 when some are missing.
"""

from __future__ import annotations

import asyncio
import random
import sys

from _srv import server

import mpsc
import mpsc.redis as mr

N = 300


async def run(url: str) -> int:
    tx, rx = mr.bounded(url, 4)
    got: list[int] = []

    async def produce() -> None:
        for i in range(N):
            await tx.send_async(i)
        tx.close()

    producer = asyncio.create_task(produce())
    cancelled = 0
    while True:
        task = asyncio.create_task(rx.recv_async())
        await asyncio.sleep(random.random() * 0.002)
        task.cancel()
        try:
            got.append(await task)
        except asyncio.CancelledError:
            cancelled += 1
        except mpsc.RecvError:
            break
    await producer
    missing = sorted(set(range(N)) - set(got))
    print(f"{cancelled} recv_async() cancelled; received {len(got)} of {N}; missing {len(missing)}: {missing[:12]}")
    rx.close()
    return len(missing)


def main() -> int:
    srv = server()
    missing = asyncio.run(asyncio.wait_for(run(srv.url), 50))
    if missing:
        print("FAIL: cancelled recv_async() calls destroyed messages (neither returned nor left in the channel)")
        return 1
    print("ok: nothing lost")
    return 0


if __name__ == "__main__":
    sys.exit(main())
