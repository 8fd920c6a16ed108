"""Shared test set-up: the ``--stress`` switch, fixtures that widen race windows, and the
choice of select's try pass (C or pure Python)."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from typing import Any

import pytest

from mpsc import _select


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption(
        "--stress",
        action="store_true",
        default=False,
        help="also run the long soak tests (marked 'stress')",
    )
    parser.addoption(
        "--implementation-only",
        action="store_true",
        default=False,
        help="only the tests whose code the choice of implementation (MPSC_PURE) reaches",
    )
    parser.addoption(
        "--packaging",
        action="store_true",
        default=False,
        help="run tests/test_packaging.py (builds the sdist and installs it in fresh venvs)",
    )


def pytest_ignore_collect(collection_path: Any, config: pytest.Config) -> bool | None:
    if collection_path.name == "test_packaging.py" and not config.getoption("--packaging"):
        return True  # minutes of pip: ``make packaging``, run by CI once
    return None


# The Redis flavour's own operations are the same code whichever implementation runs (compiled
# or MPSC_PURE): ``make suite``'s second pass leaves them out, but for their selects and the
# bridge, which go through the thread channels' code. (The process channels' send and receive
# have compiled steps of their own: their tests run in both passes.)
_FLAVOUR_FILES = frozenset({"test_redis.py", "test_bench_redis.py"})
# The shared-memory ring of unbounded process channels is C (``_ring.c``), which MPSC_PURE does
# not use: its channels then have none (the pure pass runs every other process test on socket
# channels).
_RING_FILES = frozenset({"test_ring.py", "test_process_ring.py"})


def _reaches_the_implementation(item: pytest.Item) -> bool:
    if item.path.name in _RING_FILES:
        return False
    return item.path.name not in _FLAVOUR_FILES or "select" in item.name or "bridge" in item.name


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    if config.getoption("--implementation-only"):
        left_out = [item for item in items if not _reaches_the_implementation(item)]
        if left_out:
            config.hook.pytest_deselected(items=left_out)
            items[:] = [item for item in items if _reaches_the_implementation(item)]
    if config.getoption("--stress"):
        return
    skip = pytest.mark.skip(reason="soak test: run with --stress")
    for item in items:
        if "stress" in item.keywords:
            item.add_marker(skip)


@pytest.fixture
def procs() -> Iterator[Any]:
    """Child processes for a test (``helpers.Children``); none outlives it."""
    from helpers import Children

    kids = Children()
    try:
        yield kids
    finally:
        kids.cleanup()


@pytest.fixture(autouse=True)
def shared_empty_deque_stays_empty() -> Iterator[None]:
    """After every test: nothing was added to the empty deque that stands for the buffer and
    the permits of every channel that has not needed its own yet (``_core.NO_DEQUE``)."""
    yield
    from mpsc import _core

    assert not _core.NO_DEQUE, f"the shared empty deque holds {list(_core.NO_DEQUE)!r}"


@pytest.fixture
def fast_switching() -> Iterator[None]:
    """Make the interpreter switch threads every microsecond, to provoke races."""
    old = sys.getswitchinterval()
    sys.setswitchinterval(1e-6)
    try:
        yield
    finally:
        sys.setswitchinterval(old)


SELECT_PASSES = ["c", "pure"] if _select.PASS is not None else ["pure"]


@pytest.fixture(params=SELECT_PASSES)
def select_pass(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> str:
    """Run a test with each try pass of select this build has: the C one (``_accel.c``, where it
    was built) and the pure-Python one, which is also what the C pass falls back on."""
    if request.param == "pure":
        monkeypatch.setattr(_select, "PASS", None)
    return str(request.param)
