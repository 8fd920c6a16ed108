"""What ``pip install`` makes of mpsc's sdist, in fresh virtual environments (``make packaging``).

Collected only with ``--packaging`` (conftest): it builds the sdist and installs it twice,
which takes a minute of pip. On a machine without a C compiler — here ``CC=false``, so that
the extension's build fails as it would there — the install must still succeed and give the
pure-Python implementation; with a compiler it gives the compiled one. Either way the package
must work: a channel, a select, a bounded channel between threads.
"""

from __future__ import annotations

import os
import subprocess
import sys
import venv
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]

SMOKE = """
import threading, mpsc
from mpsc import _implementation
tx, rx = mpsc.bounded(2)
def produce():
    with tx:
        for i in range(1000):
            tx.send(i)
threading.Thread(target=produce).start()
assert sum(rx) == sum(range(1000))
a_tx, a_rx = mpsc.channel()
a_tx.send("x")
assert mpsc.select(a_rx, mpsc.never()) == (0, "x")
print(_implementation.in_use())
"""


def run(*args: str | Path, env: dict[str, str] | None = None) -> str:
    done = subprocess.run(
        [str(a) for a in args], capture_output=True, text=True, timeout=600, env=env, check=False
    )
    assert done.returncode == 0, f"{args}\n{done.stdout}\n{done.stderr}"
    return done.stdout


@pytest.fixture(scope="module")
def sdist(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("dist")
    run(sys.executable, "-m", "build", "--sdist", "--outdir", out, ROOT)
    (built,) = out.glob("mpsc-*.tar.gz")
    return built


def fresh_venv(where: Path) -> Path:
    venv.create(where, with_pip=True)
    return where / "bin" / "python"


@pytest.mark.timeout(900)
@pytest.mark.parametrize("compiler", ["without a compiler", "with a compiler"])
def test_the_sdist_installs_and_works(sdist: Path, tmp_path: Path, compiler: str) -> None:
    python = fresh_venv(tmp_path / "venv")
    env = {**os.environ}
    env.pop("MPSC_PURE", None)
    if compiler == "without a compiler":
        env["CC"] = "false"  # every compile fails, as where there is no compiler
    run(python, "-m", "pip", "install", "-q", "--no-cache-dir", sdist, env=env)
    built = list((tmp_path / "venv").glob("lib/python*/site-packages/mpsc/_accel*.so"))
    assert bool(built) is (compiler == "with a compiler")
    out = run(python, "-c", SMOKE, env={k: v for k, v in env.items() if k != "CC"})
    assert out.split() == ["pure" if compiler == "without a compiler" else "compiled"]
