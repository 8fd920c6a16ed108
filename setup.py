"""The optional C extensions: the thread channels' steps and select's try pass (src/mpsc/_accel.c),
the process channels' send and receive steps (src/mpsc/process/_steps.c).

Everything else is in pyproject.toml. The extensions are CPython's (the process steps do
nothing on a free-threaded build); other interpreters, and a build that fails (no compiler),
run the pure-Python code.
"""

import platform

from setuptools import Extension, setup

setup(
    ext_modules=[
        # (depends: the header both include is rebuilt on, and goes into the sdist)
        Extension(name, [source], depends=["src/mpsc/_compat.h"], optional=True, extra_compile_args=["-O2"])
        for name, source in (
            ("mpsc._accel", "src/mpsc/_accel.c"),
            ("mpsc.process._steps", "src/mpsc/process/_steps.c"),
        )
    ]
    if platform.python_implementation() == "CPython"
    else [],
)
