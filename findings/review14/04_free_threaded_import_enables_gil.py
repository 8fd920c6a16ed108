"""On free-threaded CPython (3.13t), ``import mpsc.process`` turns the GIL back on for the whole
process: ``_ring.c``'s module does not declare ``Py_MOD_GIL_NOT_USED`` (``_accel.c`` and
``_steps.c`` do, with ``PyUnstable_Module_SetGIL``), so the interpreter enables the GIL when
``_rings`` imports it, with a RuntimeWarning (an ImportError of mpsc.process under
``-W error``, as pytest configurations often run).

Promises: DESIGN §4.6 "Thread-safe without relying on the GIL: correct on free-threaded
CPython"; RING-PLAN.md "``_ring.c`` builds on free-threaded CPython too (the Python code calls
it between ``Endpoint.enter``/``leave``)".

What happens: run /opt/python3.13t/bin/python3 (with the three .so files built for it, see
REPORT.md): ``sys._is_gil_enabled()`` is False after ``import mpsc`` and True after
``import mpsc.process``. Deterministic. Exit 1 if so (0 if 3.13t or its build is missing: skip).
"""

import os
import subprocess
import sys

FT = "/opt/python3.13t/bin/python3"
root = os.path.join(os.path.dirname(os.path.abspath(__file__)), "../../src")
if not os.path.exists(FT):
    print("no free-threaded python: skipped")
    sys.exit(0)
code = (
    "import sys, warnings\n"
    "warnings.simplefilter('ignore')\n"
    "import mpsc.process._rings as r\n"
    "print('ring', r.RING is not None, 'gil', sys._is_gil_enabled())\n"
)
env = dict(os.environ, PYTHONPATH=os.path.abspath(root))
env.pop("PYTHON_GIL", None)
out = subprocess.run([FT, "-c", code], capture_output=True, text=True, timeout=60, env=env)
print(out.stdout, out.stderr[-500:])
if "ring False" in out.stdout:
    print("the ring is not built for 3.13t here: skipped")
    sys.exit(0)
sys.exit(1 if "gil True" in out.stdout else 0)
