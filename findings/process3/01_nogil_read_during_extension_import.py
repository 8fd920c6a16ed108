"""A free-threaded interpreter can run Endpoint.enter/leave without their lock.

Promise (src/mpsc/process/_gil.py): "Free-threaded builds take the lock. Read once, at import:
a free-threaded interpreter that turns its GIL on later (an extension asked for it) keeps taking
the locks, which is safe either way."  And b7c96b5's _endpoint.py: the lock-free enter/leave
are only for "Under the GIL".

What happens: ``NO_GIL = not sys._is_gil_enabled()`` is read once at import. On 3.13t CPython
enables the GIL *transiently* while any thread imports a C extension module (and disables it
again afterwards if the module declares Py_MOD_GIL_NOT_USED). If ``mpsc.process`` is first
imported while another thread imports an extension (numpy, _decimal, _ssl, ...), NO_GIL is
False for good, the GIL is then off again, and every Endpoint.enter/leave (and
Ledger.hold/release) runs its unlocked read-modify-write of ``busy`` truly in parallel: lost
updates of ``busy`` - the fds are closed while another thread is inside a send/recv (EBADF, or
worse, a reused fd number), or never closed (leak).

Part 1 (the misread): in subprocesses, a thread imports every lib-dynload module while the main
thread imports mpsc.process; count runs where NO_GIL came out False with the GIL off afterwards.
Part 2 (the consequence, in such a process): 8 threads send/recv on clones of one channel;
afterwards no thread is inside, so endpoint.busy must be 0.
Exit 1 if part 1 ever misreads (the interpreter then runs lock-free without a GIL), with part 2's
busy counts printed. Exits 0 on a GIL build (nothing to show).
"""

import os
import subprocess
import sys
import sysconfig

CHILD = r"""
import os, sys, threading, importlib
d = [p for p in sys.path if p.endswith("lib-dynload")][0]
mods = sorted({f.split(".")[0] for f in os.listdir(d) if f.endswith(".so")})
go = threading.Event()
def imp():
    go.set()
    for m in mods:
        try:
            importlib.import_module(m)
        except Exception:
            pass
import mpsc, mpsc._interrupts  # (the top package first: 3.13t's concurrent imports are racy)
class AtTheMoment:
    # Models the timing only: _gil's one read happens while the other thread is inside an
    # extension module's import (as it is for most of the time that thread spends importing).
    def find_spec(self, name, path=None, target=None):
        if name != "mpsc.process._gil":
            return None
        import importlib.machinery as im
        spec = im.PathFinder.find_spec(name, path)
        code = spec.loader.get_code(name)
        class L:
            def create_module(self, spec):
                return None
            def exec_module(self, module):
                for _ in range(10**7):
                    if sys._is_gil_enabled():
                        SAW.append(1)
                        break
                exec(code, module.__dict__)
        spec.loader = L()
        return spec
SAW = []
sys.meta_path.insert(0, AtTheMoment())
t = threading.Thread(target=imp); t.start(); go.wait()
import mpsc.process._gil as g
import mpsc.process
t.join()
no_gil = g.NO_GIL
gil_now = sys._is_gil_enabled()
busy = []
if not no_gil and not gil_now:
    tx, rx = mpsc.process.channel()
    N = 20000
    def work():
        t2, r2 = tx.clone(), rx.clone()
        for i in range(N):
            t2.send(i)
            r2.recv()
    ths = [threading.Thread(target=work) for _ in range(8)]
    for x in ths: x.start()
    for x in ths: x.join()
    busy = [tx._ep.busy, rx._ep.busy]
print(no_gil, gil_now, busy, "saw", SAW)
"""


def main() -> int:
    if not sysconfig.get_config_var("Py_GIL_DISABLED"):
        print("GIL build: nothing to show")
        return 0
    env = dict(os.environ, PYTHONPATH="src")
    misread = 0
    bad_busy = 0
    trials = 8
    for _ in range(trials):
        out = subprocess.run(
            [sys.executable, "-c", CHILD], env=env, capture_output=True, text=True, timeout=120
        )
        line = out.stdout.strip().splitlines()[-1] if out.stdout.strip() else out.stderr[-300:]
        print(line)
        if line.startswith("False False"):
            misread += 1
            if not line.startswith("False False [0, 0]"):
                bad_busy += 1
    print(f"trials={trials} NO_GIL misread False with GIL off: {misread}; busy != 0 after: {bad_busy}")
    return 1 if misread else 0


if __name__ == "__main__":
    sys.exit(main())
