"""Whether this interpreter runs without a GIL, which decides how a few per-operation counters
are kept consistent between threads (``_endpoint.Endpoint.enter``, ``_ledger.Ledger.hold``).

Under the GIL another thread runs, and an interrupt lands, only at a check point of the
interpreter, so a few attribute updates with none between them are atomic without a lock.
Free-threaded builds take the lock. Read once, at import: a free-threaded interpreter that
turns its GIL on later (an extension asked for it) keeps taking the locks, which is safe either
way.
"""

import sys
from typing import Final

NO_GIL: Final = not getattr(sys, "_is_gil_enabled", lambda: True)()
