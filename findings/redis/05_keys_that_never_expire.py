"""Finding 05: a process that dies soon after using a channel leaves keys that never expire.

Promise (`mpsc.redis` docstring, *Hygiene*): "every key of a channel expires ``max(10 s, 10
leases)`` after the last renewal of any of its handles"; issue 12: "keys of a channel whose
every handle is gone expire".

What happens: the scripts set TTLs only on keys that exist when `keep_all` runs (JOIN, RENEW,
travel). Keys that a script (re)creates later get no TTL until the next renewal, a quarter lease
later:
* `{name}:mpsc:seq` is created by the first SEND's `HSET` (it does not exist at JOIN, and is
  deleted again whenever it empties, e.g. when the senders with fields in it close);
* `{name}:mpsc:tx` / `:rx` are recreated by the `adopt` of an unpickled handle when its travel
  lease was the side's only member (ZREM empties and deletes the zset, ZADD recreates it).
If every process of the channel dies (SIGKILL, OOM killer, os._exit, a crash in C) before the
next renewal, those keys stay for ever. Every short-lived job that makes a channel and sends
(e.g. a worker killed by a timeout) leaks one hash per channel.

The script: (a) a child makes a channel, sends one value and SIGKILLs itself; (b) a child makes
a channel, pickles the Sender, closes it, unpickles the pickle (adopt) and SIGKILLs itself.
Then it lists the channel keys that have no TTL (PTTL -1). Exit 1 when there are any.
"""

from __future__ import annotations

import subprocess
import sys

from _srv import server

A = """
import os, mpsc.redis as mr
tx, rx = mr.channel(URL)
tx.send(1)
os.kill(os.getpid(), 9)
"""

B = """
import os, pickle, mpsc.redis as mr
tx, rx = mr.channel(URL)
data = pickle.dumps(tx)
tx.close()
tx2 = pickle.loads(data)
os.kill(os.getpid(), 9)
"""


def main() -> int:
    srv = server()
    immortal = []
    for label, code in (("send then SIGKILL", A), ("pickled Sender adopted then SIGKILL", B)):
        before = set(srv.command("KEYS", "*"))
        subprocess.run([sys.executable, "-c", code.replace("URL", repr(srv.url))], timeout=30)
        for key in sorted(set(srv.command("KEYS", "*")) - before):
            if srv.command("PTTL", key) == -1:
                immortal.append(f"{label}: {key.decode()} ({srv.command('TYPE', key).decode()}) has no TTL")
    for line in immortal:
        print("FAIL:", line)
    if not immortal:
        print("ok: every key left behind will expire")
    return 1 if immortal else 0


if __name__ == "__main__":
    sys.exit(main())
