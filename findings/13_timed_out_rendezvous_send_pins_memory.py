"""Finding 13: a rendezvous send that timed out ("Timeout ..., and the value was not sent") still
pins its value's memory - a large value's whole memfd - in the channel until some receiver reads
past it; a retry loop multiplies it (each attempt pickles into a new memfd).

`_rendezvous`: "A withdrawn offer stays in the socket until a receiver reads and discards it";
for a large value the offer's datagram carries the memfd, so the kernel keeps its pages (and the
fds, see finding 01 B) alive. With a busy receiver, `while True: try: tx.send_timeout(big, 0.1)
except Timeout: do_other_work()` grows memory by len(big) per attempt.

Promise broken: `send_timeout`: "Timeout (carrying value) if time runs out first, and the value
was not sent" (it was not delivered, but it still occupies the channel); DESIGN §4.4 "a send
that times out ... takes effect completely or not at all: ... the channel is as if it never
ran". A bounded channel's timed-out send holds nothing (shown for comparison).

Method: 8 timed-out `send_timeout(<20 MB>, 0.01)` on a rendezvous channel nobody reads; the
system's Shmem (memfd pages) is read from /proc/meminfo before and after.
Exit status 1 when the problem shows.
"""

from __future__ import annotations

import signal
import sys

import mpsc
import mpsc.process as mpp

SIZE = 20 * 1024 * 1024


def shmem_mb() -> int:
    with open("/proc/meminfo") as f:
        for line in f:
            if line.startswith("Shmem:"):
                return int(line.split()[1]) // 1024
    raise RuntimeError("no Shmem in /proc/meminfo")


def attempts(tx: mpp.Sender[bytes], big: bytes) -> int:
    before = shmem_mb()
    for _ in range(8):
        try:
            tx.send_timeout(big, 0.01)
        except mpsc.Timeout:
            pass
    return shmem_mb() - before


def main() -> int:
    signal.alarm(50)
    big = b"x" * SIZE
    tx, rx = mpp.sync_channel(0)
    rdv = attempts(tx, big)
    btx, brx = mpp.sync_channel(2)
    btx.send(b"a")
    btx.send(b"b")
    bounded = attempts(btx, big)
    for h in (tx, rx, btx, brx):
        h.close()
    print(
        f"8 timed-out sends of {SIZE >> 20} MB: rendezvous +{rdv} MB Shmem held; bounded (full) +{bounded} MB"
    )
    if rdv > 4 * (SIZE >> 20):
        print(f"PROBLEM: {rdv} MB stay pinned by sends that raised Timeout (values not sent)")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
