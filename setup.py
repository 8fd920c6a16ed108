"""The optional C extensions: the thread channels' steps and select's try pass (src/mpsc/_accel.c),
the process channels' send and receive steps (src/mpsc/process/_steps.c).

Everything else is in pyproject.toml. The extension is CPython's (with or without the GIL);
other interpreters, and a build that fails (no compiler), run the pure-Python select.
"""

import platform

from setuptools import Extension, setup

setup(
    ext_modules=[
        Extension("mpsc._accel", ["src/mpsc/_accel.c"], optional=True, extra_compile_args=["-O2"]),
        Extension("mpsc.process._steps", ["src/mpsc/process/_steps.c"], optional=True, extra_compile_args=["-O2"]),
    ]
    if platform.python_implementation() == "CPython"
    else [],
)
