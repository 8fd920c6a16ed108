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


@pytest.mark.parametrize("name", ["01_one_message.py", "06_process_one_message.py"])
def test_one_message_between_threads_or_processes(name: str) -> None:
    assert run(name) == ["Got: hi"]


@pytest.mark.parametrize("name", ["02_many_messages.py", "07_process_many_messages.py"])
def test_many_messages_between_threads_or_processes(name: str) -> None:
    assert run(name) == ["Got: hi", "Got: from", "Got: the", "Got: thread"]


@pytest.mark.parametrize("name", ["03_many_producers.py", "08_process_many_producers.py"])
def test_many_producers(name: str) -> None:
    lines = run(name)
    first = ["Got: hi", "Got: from", "Got: the", "Got: thread"]
    second = ["Got: more", "Got: messages", "Got: for", "Got: you"]
    assert sorted(lines) == sorted(first + second)
    assert [line for line in lines if line in first] == first
    assert [line for line in lines if line in second] == second


@pytest.mark.parametrize("path", sorted(p.name for p in EXAMPLES.glob("*.py")))
def test_every_example_runs(path: str) -> None:
    assert run(path), f"{path} printed nothing"


@pytest.mark.parametrize("name", ["process_pipeline.py", "redis_pipeline.py"])
def test_a_worker_pool_of_processes_ends_when_its_jobs_sender_is_gone(name: str) -> None:
    # (redis_pipeline.py starts a redis-server of its own: make test installs the package)
    assert run(name) == [
        "jobs: 1000, results: 1000, sum of squares: 332833500",
        "every worker finished",
    ]
