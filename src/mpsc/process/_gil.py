"""Whether this interpreter is a free-threaded build, which decides how a few per-operation
counters are kept consistent between threads (``_endpoint.Endpoint.enter``,
``_ledger.Ledger.hold``).

Under the GIL another thread runs, and an interrupt lands, only at a check point of the
interpreter, so a few attribute updates with none between them are atomic without a lock.
A free-threaded build takes the lock, whether its GIL is on or off at the moment: it turns the
GIL on and off at run time (on, for good or while another thread imports an extension module
that did not declare itself free-threading safe), so ``sys._is_gil_enabled()`` at import
time says nothing of later (review process3, finding 01).
"""

import sys
from typing import Final


def _free_threaded() -> bool:
    abiflags = getattr(sys, "abiflags", None)  # ("t" marks a free-threaded build's ABI)
    if abiflags is not None:
        return "t" in abiflags
    import sysconfig  # (where there are no ABI flags: not where process channels can be made)

    return bool(sysconfig.get_config_var("Py_GIL_DISABLED"))


NO_GIL: Final = _free_threaded()
