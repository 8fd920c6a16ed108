"""An interrupt landing in a carried handle's adoption right after the new Endpoint registered
itself (``_endpoint._register``, for the fork rules) but before ``Adoption.make`` stored it
leaves that half-made Endpoint registered, open, with no handle, and *sharing its list of fds
to close* (``pipes``, the Adoption's ``mine``) with the Endpoint the next unpickling makes.
A fork while it is alive (it is as long as that interrupt's traceback is: when a second
interrupt lands in the retry, the first is the ``__context__`` of the one raised after the
value is returned, so for as long as the caller holds that exception, e.g. inside its
``except KeyboardInterrupt`` block, or while it is kept/logged) makes the child's
``_endpoint._after_fork_in_child`` settle it (no handle: closed) and close that list: the
child's *received* handle loses its credit pipe and ledger fds while its Endpoint still uses
their numbers. ``release_inherited(received)`` in such a child does the same (force_close of
the half-made one).

Promises: DESIGN.md "A receive returns what it took": "The data socket's fd goes from the
adoption's list into its socket object inside one C call, and that list itself becomes the
endpoint's list of fds to close: no fd has two owners at any instant."; Adoption docstring:
"the half-made endpoint is closed first, so that no handle joins it"; _endpoint.close_fds:
"none is closed twice (a second close could hit an unrelated file that reused the number)";
mpsc.process doc: "release_inherited ... Close every process-channel handle this process
holds, except the handles in keep".

What happens: ``Adoption.close`` only force-closes ``self.endpoint``, which was never set (the
interrupt landed in ``Endpoint.__init__`` -> ``_register``, after ``_endpoints.add``), so the
half-made Endpoint E0 is neither closed nor forgotten; the retry refills the same ``mine`` list
and gives it to the new Endpoint E1 as its ``pipes``. Two owners of one list of fds.

Exit 1 if a forked child's received (bounded) Sender finds its credit pipe closed/unusable.
"""

import gc
import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "../../tests"))
from checkpoints import Injected, SignalInjector, quietly  # noqa: E402

import mpsc  # noqa: E402, F401
import mpsc.process as mpp  # noqa: E402
from mpsc.process import _endpoint, _implementation  # noqa: E402

print("implementation:", _implementation.in_use())


def child_check(handle, credit_r, credit_w):
    try:
        os.fstat(credit_r)
        os.fstat(credit_w)
    except OSError as exc:
        print("  child: the received Sender's credit pipe fds are closed:", exc, flush=True)
        os._exit(3)
    try:
        handle.send_timeout("from child", 2.0)
    except BaseException as exc:  # noqa: BLE001
        print("  child: send failed:", repr(exc), flush=True)
        os._exit(4)
    os._exit(0)


def scene(n, m=10**9):
    tx, rx = mpp.channel()
    otx, orx = mpp.sync_channel(2)
    tx.send(("h", otx))
    otx.close()
    out = []
    inj = SignalInjector(n, m)
    _, exc = quietly(inj, lambda: out.append(rx.recv_timeout(5)))
    result = None
    if out and isinstance(exc, Injected) and m < 10**9:
        got = out[0][1]
        ep = got._ep
        stale = [e for e in list(_endpoint._endpoints) if e is not ep and e.pipes is ep.pipes and not e.fds_closed]
        if stale:
            print(f"n={n}, m={m}: landed at{inj.where}; half-made endpoint alive, open, handles={stale[0].handles},"
                  f" sharing the received endpoint's fd list {ep.pipes}", flush=True)
            credit_r, credit_w = ep.credit_r, ep.credit_w
            pid = os.fork()  # still holding `exc`, as an except block would
            if pid == 0:
                child_check(got, credit_r, credit_w)
            _, status = os.waitpid(pid, 0)
            code = os.waitstatus_to_exitcode(status)
            print("  forked child exit code:", code, "(0: its received Sender works)")
            try:
                print("  parent receives:", orx.recv_timeout(0.5))
            except Exception as e:  # noqa: BLE001
                print("  parent receives nothing:", repr(e))
            result = code
        got.close()
    fired, where = inj.fired, inj.where
    del out, exc, inj
    gc.collect()
    for h in (tx, rx, orx):
        h.close()
    return fired, result, where


codes = []
scene(0)  # (3.12+ instruments traced code on first use)
registering = []
for n in range(1, 400):
    fired, _, where = scene(n)
    if not fired:
        break
    if "_register" in where or "WeakSet.add" in where:
        registering.append(n)
print("check points:", n - 1, "| in the Endpoint's registration:", registering)
pairs = 0
for n in registering:
    for m in range(1, 80):
        fired, code, _ = scene(n, m)
        pairs += 1
        if code is not None:
            codes.append(code)
            break
print("pairs tried:", pairs, "| children that found the half-made endpoint's doing:", codes)
sys.exit(1 if any(codes) else 0)
