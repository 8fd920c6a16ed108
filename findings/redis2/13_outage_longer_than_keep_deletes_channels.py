"""A server that is paused (SIGSTOP), or down and restarted from its append-only file, for longer
than the keys' TTL -- max(10 s, 10 leases): 15 s with the default lease -- comes back without
any of its channels: Redis expires keys by wall-clock time, which ran on while nobody could
renew them. Every message queued is gone (sends that returned), and every handle raises
LeaseExpiredError. (The lease clock was built for exactly this -- "A paused or restarted server
does not expire anyone" -- but the keys' TTLs are not on that clock.)

Promises: "A paused or restarted server does not expire anyone: the lease clock advances at
most half a lease per script run"; "A server restarted with persistence (scripts are reloaded
as needed) carries on"; "A send that returned is on the server (its script appended it; with
the server's own persistence settings deciding what survives a crash of the server)" -- here
appendfsync always.

Cause: ``_lua.keep_all`` (PEXPIRE of every key KEEP ms ahead, run by RENEW) and the PEXPIREs in
the scripts: a TTL of wall-clock time. Suggested fix: a far longer TTL (hours: it only cleans up
after processes that all died), or expire a channel by its lease clock (a cleanup script run by
any client deletes channels whose clock-based deadline passed) instead of by Redis TTL.
Part A: SIGSTOP 16.5 s. Part B: SIGKILL, 16.5 s down, restart with the AOF. Default lease (1.5 s).
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _srv import server  # noqa: E402

import mpsc  # noqa: E402
import mpsc.redis  # noqa: E402

OUTAGE = 16.5
srv = server(persist=True)
problems = []
for how in ("SIGSTOP", "restart"):
    tx, rx = mpsc.redis.channel(srv.url)
    for i in range(10):
        tx.send(i)
    if how == "SIGSTOP":
        srv.pause()
        time.sleep(OUTAGE)
        srv.resume()
    else:
        srv.kill()
        time.sleep(OUTAGE)
        srv.start()
    time.sleep(1.0)
    got: list[object] = []
    end = ""
    while len(got) < 10:
        try:
            got.append(rx.recv_timeout(3.0))
        except Exception as e:  # noqa: BLE001
            end = type(e).__name__
            break
    try:
        tx.send("after")
        sent = "send() returned"
    except Exception as e:  # noqa: BLE001
        sent = f"send() raised {type(e).__name__}"
    print(f"{how} {OUTAGE} s: received {got} then {end or 'nothing more'}; {sent}; "
          f"keys of the channel on the server: {len(srv.command('KEYS', '*' + tx.name + '*'))}")
    if len(got) < 10:
        problems.append(f"{how} {OUTAGE} s: {10 - len(got)} of 10 sent messages lost ({end})")
    tx.close()
    rx.close()
if problems:
    print("FAIL:", "; ".join(problems))
    sys.exit(1)
print("OK")
