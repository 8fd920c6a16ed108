"""A bounded (or rendezvous) Receiver acknowledges each entry *before* its receive returns: a
receiver process that dies in that window -- its ACK applied on the server, the reply on its
way or being parsed -- loses the value: it is deleted on the server and never reached the
caller. Promise (mpsc.redis): "*at least once otherwise*: an entry a receiver fetched stays
pending on the server ... until acknowledged; if the receiver's process dies ... another
receiver claims it"; for rendezvous: "a receiver killed after a value was handed to it ... and
before its caller got it: the value stays pending under the dead receiver and another receiver
gets it once its lease ends".

Part A (deterministic): the child receiver process is stopped right after its ACK's reply came
back (a wrapper around Link._attempt that parks the main thread there, as a descheduled
process would be), then SIGKILLed; the survivor never gets the value.
Part B (statistical, unmodified library): SIGKILL at a random instant of a receiver that
receives in a loop and writes each value with os.write right away: values the sender delivered
that neither the child wrote nor the survivor got (the window is the ACK round trip; a value
returned but killed before os.write is counted too, so B alone is only suggestive).
Exits 1 if part A loses the value.
"""

from __future__ import annotations

import base64
import os
import pickle
import subprocess
import sys
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _srv import server  # noqa: E402

import mpsc  # noqa: E402
import mpsc.redis  # noqa: E402

CHILD_A = r"""
import base64, os, pickle, sys, threading, time
import mpsc.redis
from mpsc.redis import _handles, _link
orig = _link.Link._attempt
def attempt(self, args, give_up, *rest):
    reply = orig(self, args, give_up, *rest)
    if (threading.current_thread() is threading.main_thread() and not isinstance(args, _link.Packed)
            and args[0] == "EVALSHA" and args[1] == _handles._ACK.sha):
        os.write(1, b"acked\n")
        time.sleep(30)  # (descheduled here; SIGKILLed)
    return reply
_link.Link._attempt = attempt
r = pickle.loads(base64.b64decode(sys.argv[1]))
os.write(1, b"ready\n")
v = r.recv()
os.write(1, b"returned %d\n" % v)
"""

CHILD_B = r"""
import base64, os, pickle, sys
import mpsc.redis
r = pickle.loads(base64.b64decode(sys.argv[1]))
os.write(1, b"ready\n")
while True:
    v = r.recv()
    os.write(1, b"%d\n" % v)
"""


def spawn(code: str, rx: mpsc.redis.Receiver) -> subprocess.Popen[bytes]:
    blob = base64.b64encode(pickle.dumps(rx)).decode()
    child = subprocess.Popen([sys.executable, "-c", code, blob], stdout=subprocess.PIPE)
    assert child.stdout is not None
    line = child.stdout.readline()
    assert line == b"ready\n", line
    return child


def drain(rx: mpsc.redis.Receiver) -> list[int]:
    got = []
    while True:
        try:
            got.append(rx.recv_timeout(5))
        except (mpsc.RecvError, mpsc.Timeout):
            return got


srv = server()
failures = []
children: list[subprocess.Popen[bytes]] = []
try:
    # Part A
    for cap in (2, 0):
        tx, rx = mpsc.redis.bounded(srv.url, cap)
        survivor = rx.clone()
        child = spawn(CHILD_A, rx)
        children.append(child)
        rx.close()
        tx.send_timeout(42, 5)  # rendezvous: returns once the child's fetch took it
        assert child.stdout is not None
        line = child.stdout.readline()
        child.kill()
        child.wait(5)
        tx.close()
        got = drain(survivor)  # the dead child's lease ends within ~2 s: its pending entries are claimed
        survivor.close()
        print(f"A, bounded({cap}): child said {line!r}, killed; the survivor then got {got}")
        if line == b"acked\n" and 42 not in got:
            failures.append(f"bounded({cap}): value acknowledged by a receiver killed before its recv returned: lost")

    # Part B
    for cap in (3, 0):
        lost_total = trials = 0
        for trial in range(4):
            tx, rx = mpsc.redis.bounded(srv.url, cap)
            survivor = rx.clone()
            child = spawn(CHILD_B, rx)
            children.append(child)
            rx.close()
            sent: list[int] = []
            stop = threading.Event()

            def produce() -> None:
                for i in range(100000):
                    if stop.is_set():
                        return
                    try:
                        tx.send_timeout(i, 0.5)
                        sent.append(i)
                    except mpsc.Timeout:
                        pass

            p = threading.Thread(target=produce)
            p.start()
            time.sleep(0.2 + 0.07 * trial)
            child.kill()
            child.wait(5)
            assert child.stdout is not None
            out = [int(x) for x in child.stdout.read().split()]
            child.stdout.close()
            time.sleep(0.1)
            stop.set()
            p.join(10)
            tx.close()
            got = drain(survivor)
            survivor.close()
            lost = set(sent) - set(out) - set(got)
            trials += 1
            lost_total += len(lost)
            print(f"B, bounded({cap}) trial {trial}: sent {len(sent)}, child wrote {len(out)}, survivor got {len(got)}, lost {sorted(lost)}")
finally:
    for c in children:
        if c.poll() is None:
            c.kill()
            c.wait(5)
        if c.stdout is not None:
            c.stdout.close()

if failures:
    print("FAIL:", "; ".join(failures))
    sys.exit(1)
print("OK")
