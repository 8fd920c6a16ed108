"""One interrupt landing in ``_travel.joined`` (the last step of ``Adoption.make``: the handle is
stored, the new Endpoint is not yet registered as the one this process's handles of that side
join) leaves that Endpoint unregistered for good: the next unpickling returns the stored handle
(``adoption.handle is not None``) and never registers it. A second handle of the same side in
the same message (a clone), or any handle of that side arriving later, then makes *another*
Endpoint of the same side of the same channel in this process, with its own duplicates of the
fds (one more socket, credit pipe ends, ledger memfd and ledger row per such Endpoint).

Promise: _travel docstring / DESIGN: "Clones within one process share one endpoint: a handle
arriving in a process that already holds the same side of the same channel joins that endpoint,
and the fds it brought are closed."; Adoption docstring: "``handle`` is stored last: from then on
the endpoint is whole" — but ``joined(endpoint)`` runs after it, and is not redone.

What happens: a message ("h", tx, tx.clone()) of a channel whose Sender this process closed;
an interrupt (a KeyboardInterrupt as a signal handler raises it, at CPython's own check points,
tests/checkpoints.SignalInjector) at each check point of the receive: at the ones inside
``joined`` (KeyedRef/WeakValueDictionary.__setitem__) the two received Senders are on two
Endpoints. Both implementations (the compiled receive hands fd-carrying messages to the pure
code). Exit 1 if that happens.
"""

import gc
import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "../../tests"))
from checkpoints import Injected, SignalInjector, quietly  # noqa: E402

import mpsc.process as mpp  # noqa: E402
from mpsc.process import _implementation  # noqa: E402

print("implementation:", _implementation.in_use())


def scene(n):
    tx, rx = mpp.channel()
    otx, orx = mpp.sync_channel(2)
    clone = otx.clone()
    tx.send(("h", otx, clone))
    otx.close()
    clone.close()  # this process holds no Sender of that channel now
    out = []
    inj = SignalInjector(n, 10**9)
    _, exc = quietly(inj, lambda: out.append(rx.recv_timeout(5)))
    split = None
    if out:
        _, a, b = out[0]
        if a._ep is not b._ep:
            split = inj.where
        a.close()
        b.close()
    assert exc is None or isinstance(exc, Injected), exc
    assert len(out) == 1 or exc is not None
    fired = inj.fired
    del out, exc, inj
    gc.collect()
    for h in (tx, rx, orx):
        h.close()
    return fired, split


scene(0)
splits = []
for n in range(1, 400):
    fired, split = scene(n)
    if not fired:
        break
    if split:
        splits.append((n, split.strip()))
print("check points:", n - 1)
for n, where in splits:
    print(f"  interrupt at point {n} ({where}): the two received clones are on two endpoints")
sys.exit(1 if splits else 0)
