"""Shared helper for review14 scripts: run a child Python under gdb, and SIGKILL it right after
its first write to one word of a channel's ring header (a hardware watchpoint): a process
"killed at any instant", at an exact instant.

The child code (``child_src``) must write the address of the word to the file named by
argv[1], then ``os.kill(os.getpid(), signal.SIGUSR1)`` (gdb stops there, sets the watchpoint,
and goes on), then do the ring operation.
"""

import os
import subprocess
import sys
import tempfile

GDB_PY = r"""
import gdb
gdb.execute("set pagination off")
gdb.execute("set confirm off")
gdb.execute("handle SIGUSR1 stop nopass")
gdb.execute("run")
addr = int(open(ADDR_FILE).read().strip(), 0)
gdb.execute("watch -l *(unsigned long *)%d" % addr)
gdb.execute("continue")
# stopped right after the first write to that word
gdb.execute("kill")
"""


def run_killed_after_write(child_src: str, timeout: float = 60) -> str:
    d = tempfile.mkdtemp(prefix="mpsc-gdb-")
    addr_file = os.path.join(d, "addr")
    child = os.path.join(d, "child.py")
    with open(child, "w") as f:
        f.write(child_src)
    script = os.path.join(d, "g.py")
    with open(script, "w") as f:
        f.write(f"ADDR_FILE = {addr_file!r}\n" + GDB_PY)
    env = dict(os.environ)
    out = subprocess.run(
        ["gdb", "-nx", "-batch", "-x", script, "--args", sys.executable, child, addr_file],
        capture_output=True, text=True, timeout=timeout, env=env,
    )
    return out.stdout + out.stderr


def ring_base_in_this_process() -> int:
    """The address of the (only) ring mapping in this process (``memfd:mpsc-ring``)."""
    bases = []
    with open("/proc/self/maps") as f:
        for line in f:
            if "mpsc-ring" in line:
                bases.append(int(line.split("-")[0], 16))
    assert len(bases) == 1, bases
    return bases[0]
