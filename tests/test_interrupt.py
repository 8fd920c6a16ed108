"""Invariant 7: Ctrl-C reaches a main thread blocked in a channel call, promptly and cleanly.

Each case runs a child Python blocked in one call; a helper thread in the child reports once
the main thread is parked; the parent then sends SIGINT and expects ``KeyboardInterrupt`` in
well under a second, with the channel left as if the call never ran. (The child reports the
instant it handled the interrupt: its exit, which follows, can take a quarter of a second on a
busy free-threaded build, and is not what is measured.)
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time

import pytest

pytestmark = pytest.mark.skipif(sys.platform == "win32", reason="POSIX signals")

CHILD = """
import signal, sys, threading, time
import mpsc

# (A runner started in the background without job control ignores SIGINT, and so would we.)
signal.signal(signal.SIGINT, signal.default_int_handler)

{setup}
chan = {handle}._chan

def report_when_parked():
    while len(chan.recvq) + len(chan.sendq) == 0:
        time.sleep(0.001)
    print("parked", flush=True)

threading.Thread(target=report_when_parked, daemon=True).start()
try:
    {call}
except KeyboardInterrupt:
    # the wait left nothing behind, and the channel still works
    assert len(chan.recvq) + len(chan.sendq) == 0, "a waiter was left queued"
    {check}
    print("interrupted", time.monotonic(), flush=True)  # (CLOCK_MONOTONIC: system-wide)
    sys.exit(0)
print("returned without interrupt", flush=True)
sys.exit(3)
"""

CASES = {
    "recv": ("tx, rx = mpsc.channel()", "rx", "rx.recv()", "tx.send(1); assert rx.recv() == 1"),
    "recv_timeout": (
        "tx, rx = mpsc.channel()",
        "rx",
        "rx.recv_timeout(1000)",
        "tx.send(1); assert rx.try_recv() == 1",
    ),
    "iteration": ("tx, rx = mpsc.channel()", "rx", "for _ in rx: pass", "assert len(rx) == 0"),
    "send_bounded": (
        "tx, rx = mpsc.sync_channel(1); tx.send(0)",
        "tx",
        "tx.send(1)",
        "assert list(rx.try_iter()) == [0]",  # the interrupted value was not enqueued
    ),
    "send_rendezvous": (
        "tx, rx = mpsc.sync_channel(0)",
        "tx",
        "tx.send(1)",
        "import pytest; assert len(rx) == 0 and rx.is_empty()",
    ),
}


@pytest.mark.parametrize("case", list(CASES))
def test_sigint_interrupts_a_blocked_call(case: str) -> None:
    setup, handle, call, check = CASES[case]
    check = check.replace("import pytest; ", "")
    source = CHILD.format(setup=setup, handle=handle, call=call, check=check)
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(sys.path))
    child = subprocess.Popen(
        [sys.executable, "-c", textwrap.dedent(source)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
    )
    try:
        assert child.stdout is not None
        line = child.stdout.readline()  # bounded by the test timeout; the child is quick
        assert line.strip() == "parked", child.stderr.read() if child.stderr else line
        start = time.monotonic()
        child.send_signal(signal.SIGINT)
        out, err = child.communicate(timeout=10)
    finally:
        if child.poll() is None:
            child.kill()
            child.wait()
    assert child.returncode == 0, (out, err)
    word, handled = out.split()
    assert word == "interrupted"
    elapsed = float(handled) - start
    assert elapsed < 1.0, f"took {elapsed:.2f}s to react to Ctrl-C"
