"""The examples run and print what the Rust programs print."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"


def run(name: str) -> list[str]:
    env = dict(os.environ, MPSC_EXAMPLE_DELAY="0.01", PYTHONPATH=os.pathsep.join(sys.path))
    done = subprocess.run(
        [sys.executable, str(EXAMPLES / name)],
        capture_output=True,
        text=True,
        timeout=60,
        env=env,
        check=True,
    )
    return done.stdout.splitlines()


def test_one_message() -> None:
    assert run("01_one_message.py") == ["Got: hi"]


def test_many_messages() -> None:
    assert run("02_many_messages.py") == ["Got: hi", "Got: from", "Got: the", "Got: thread"]


def test_many_producers() -> None:
    lines = run("03_many_producers.py")
    first = ["Got: hi", "Got: from", "Got: the", "Got: thread"]
    second = ["Got: more", "Got: messages", "Got: for", "Got: you"]
    assert sorted(lines) == sorted(first + second)
    assert [line for line in lines if line in first] == first
    assert [line for line in lines if line in second] == second


@pytest.mark.parametrize("path", sorted(p.name for p in EXAMPLES.glob("*.py")))
def test_every_example_runs(path: str) -> None:
    assert run(path), f"{path} printed nothing"
