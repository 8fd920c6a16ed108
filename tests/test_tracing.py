"""The compiled steps under a Python tracer (pdb, ``python -m trace``, coverage): a tracer's
Python code runs between any two lines of mpsc's own Python functions, and may let the GIL go to
another thread there. Review 10, finding 02: the compiled receive (thread and process channels)
and select's C pass were reached by storing their input in one slot and loading the result on
the next line, so a thread that ran meanwhile put its own input in the slot: a receive returned
another channel's message. Each is one subscript now. (Run under both implementations.)"""

from __future__ import annotations

import os
import sys
import threading
import time
from collections.abc import Callable
from typing import Any

import pytest

import mpsc
import mpsc.process

WAIT = 60.0
COUNT = 400


def _tracer(code_of_interest: set[Any]) -> Callable[..., Any]:
    log = os.open(os.devnull, os.O_WRONLY)

    def tracer(frame: Any, event: str, arg: Any) -> Any:
        # As ``python -m trace --trace``: write each line out (the write lets the GIL go); and,
        # as a debugger stopped in one thread while the others run, wait a little at mpsc's lines.
        if event == "line":
            os.write(log, b"%d\n" % frame.f_lineno)
            if frame.f_code in code_of_interest:
                time.sleep(0.0001)
        return tracer

    return tracer


def _in_two_threads(work: Callable[[str], list[Any]], code: set[Any]) -> dict[str, list[Any]]:
    results: dict[str, list[Any]] = {}
    tracer = _tracer(code)

    def run(name: str) -> None:
        sys.settrace(tracer)
        try:
            results[name] = work(name)
        finally:
            sys.settrace(None)

    threads = [threading.Thread(target=run, args=(name,)) for name in "ab"]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(WAIT)
        assert not thread.is_alive()
    return results


@pytest.fixture(params=["thread", "process"])
def flavour(request: pytest.FixtureRequest) -> Any:
    return mpsc if request.param == "thread" else mpsc.process


def _codes(*functions: Any) -> set[Any]:
    return {getattr(f, "__code__", None) for f in functions} - {None}


def test_receives_under_a_tracer_take_only_their_own_channels_messages(flavour: Any) -> None:
    channels = {name: flavour.channel() for name in "ab"}
    for name, (tx, _) in channels.items():
        for i in range(COUNT):
            tx.send((name, i))

    def receive(name: str) -> list[Any]:
        rx = channels[name][1]
        got = []
        while True:
            try:
                got.append(rx.try_recv())
            except mpsc.Empty:
                return got

    results = _in_two_threads(receive, _codes(flavour.Receiver.try_recv))
    for name in "ab":
        assert results[name] == [(name, i) for i in range(COUNT)]
    for tx, rx in channels.values():
        tx.close()
        rx.close()


def test_selects_under_a_tracer_complete_only_their_own_operations() -> None:
    channels = {name: mpsc.channel() for name in "ab"}
    for name, (tx, _) in channels.items():
        for i in range(COUNT):
            tx.send((name, i))

    def select(name: str) -> list[Any]:
        rx = channels[name][1]
        chooser = mpsc.Select()
        chooser.recv(rx)
        got = []
        for i in range(COUNT):
            index, value = mpsc.select(rx, timeout=WAIT) if i % 2 else chooser.select(timeout=WAIT)
            assert index == 0
            got.append(value)
        return got

    results = _in_two_threads(select, _codes(mpsc.select, mpsc.Select.select))
    for name in "ab":
        assert results[name] == [(name, i) for i in range(COUNT)]
