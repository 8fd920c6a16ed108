"""The optional C extension: select's try pass (src/mpsc/_accel.c).

Everything else is in pyproject.toml. The extension is CPython's (with or without the GIL);
other interpreters, and a build that fails (no compiler), run the pure-Python select.
"""

import platform

from setuptools import Extension, setup

setup(
    ext_modules=[Extension("mpsc._accel", ["src/mpsc/_accel.c"], optional=True, extra_compile_args=["-O2"])]
    if platform.python_implementation() == "CPython"
    else [],
)
