"""The optional C extensions: the thread channels' steps and select's try pass (src/mpsc/_accel.c),
the process channels' send and receive steps (src/mpsc/process/_steps.c) and the shared-memory
ring of unbounded process channels (src/mpsc/process/_ring.c, Linux).

Everything else is in pyproject.toml. The extensions are CPython's (the process steps do
nothing on a free-threaded build); other interpreters, and a build that fails (no compiler),
run the pure-Python code.
"""

import platform

from setuptools import Extension, setup

HEADERS = ["src/mpsc/_compat.h", "src/mpsc/process/_ring.h"]

setup(
    ext_modules=[
        # (depends: the headers they include are rebuilt on, and go into the sdist)
        Extension(name, [source], depends=HEADERS, optional=True, extra_compile_args=["-O2"])
        for name, source in (
            ("mpsc._accel", "src/mpsc/_accel.c"),
            ("mpsc.process._steps", "src/mpsc/process/_steps.c"),
            ("mpsc.process._ring", "src/mpsc/process/_ring.c"),
        )
    ]
    if platform.python_implementation() == "CPython"
    else [],
)
