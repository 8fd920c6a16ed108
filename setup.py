"""The optional C extension: select's try pass (src/mpsc/_accel.c).

Everything else is in pyproject.toml. The extension is built for CPython with the GIL only: its
correctness argument leans on the GIL, so free-threaded builds (and other interpreters) use the
pure-Python select. A failed build is not an error either: mpsc then runs pure Python.
"""

import platform
import sysconfig

from setuptools import Extension, setup

wanted = platform.python_implementation() == "CPython" and not sysconfig.get_config_var("Py_GIL_DISABLED")

setup(
    ext_modules=[Extension("mpsc._accel", ["src/mpsc/_accel.c"], optional=True, extra_compile_args=["-O2"])]
    if wanted
    else [],
)
