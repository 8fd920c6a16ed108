"""What users get from mpsc's distributions (``make packaging``), in fresh virtual environments.

Collected only with ``--packaging`` (conftest): it builds the sdist and the wheel, checks them
with twine, and installs the sdist twice, which takes minutes of pip. On a machine without a C
compiler — here ``CC=false``, so that the extension's build fails as it would there — the
install must still succeed and give the pure-Python implementation; with a compiler it gives
the compiled one. Either way the installed package must work (a smoke program) and pass the
test suite, run from this checkout's tests/ against the installed package, not src/.
``MPSC_PACKAGING_TESTS`` (paths relative to the repository, space-separated) narrows the suite
run, e.g. to ``tests/test_api.py`` while working on this file; by default it is all of tests/.
"""

from __future__ import annotations

import os
import subprocess
import sys
import sysconfig
import tarfile
import tomllib
import venv
import zipfile
from pathlib import Path

import pytest

import mpsc

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
import mpsc.process
from mpsc.process import _implementation as process_implementation
p_tx, p_rx = mpsc.process.channel()
p_tx.send(("x", 1))
assert p_rx.recv() == ("x", 1)
print(_implementation.in_use(), process_implementation.in_use(), mpsc.__file__)
"""


def run(*args: str | Path, env: dict[str, str] | None = None, cwd: Path | None = None) -> str:
    done = subprocess.run(
        [str(a) for a in args], capture_output=True, text=True, timeout=1800, env=env, cwd=cwd, check=False
    )
    assert done.returncode == 0, f"{args}\n{done.stdout[-20000:]}\n{done.stderr[-20000:]}"
    return done.stdout


@pytest.fixture(scope="module")
def dists(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """The sdist and the wheel, as ``python -m build`` makes them (the wheel from the sdist)."""
    out = tmp_path_factory.mktemp("dist")
    run(sys.executable, "-m", "build", "--outdir", out, ROOT)
    (sdist,) = out.glob("mpsc-*.tar.gz")
    (wheel,) = out.glob("mpsc-*.whl")
    return {"sdist": sdist, "wheel": wheel}


def test_twine_accepts_both_distributions(dists: dict[str, Path]) -> None:
    out = run(sys.executable, "-m", "twine", "check", "--strict", dists["sdist"], dists["wheel"])
    assert out.count("PASSED") == 2, out


def test_the_distributions_carry_the_version_and_the_package(dists: dict[str, Path]) -> None:
    version = mpsc.__version__
    assert dists["sdist"].name == f"mpsc-{version}.tar.gz"
    assert dists["wheel"].name.startswith(f"mpsc-{version}-")
    with zipfile.ZipFile(dists["wheel"]) as wheel:
        names = set(wheel.namelist())
        metadata = wheel.read(f"mpsc-{version}.dist-info/METADATA").decode()
    for module in ("__init__.py", "py.typed", "_accel.pyi", "process/__init__.py"):
        assert f"mpsc/{module}" in names, module
    assert f"\nVersion: {version}\n" in metadata
    assert "make docs" in metadata  # the README is the long description
    with tarfile.open(dists["sdist"]) as sdist:
        members = {name.split("/", 1)[1] for name in sdist.getnames() if "/" in name}
    sources = {"src/mpsc/_accel.c", "src/mpsc/process/_steps.c", "src/mpsc/process/_ring.c"}
    assert sources | {"src/mpsc/_compat.h", "src/mpsc/process/_ring.h", "setup.py"} <= members
    assert {"README.md", "pyproject.toml"} <= members


def fresh_venv(where: Path) -> Path:
    venv.create(where, with_pip=True)
    return where / "bin" / "python"


def suite_args() -> list[str]:
    chosen = os.environ.get("MPSC_PACKAGING_TESTS", "tests").split()
    return [str(ROOT / path) for path in chosen]


@pytest.mark.timeout(3600)
@pytest.mark.parametrize("compiler", ["without a compiler", "with a compiler"])
def test_the_sdist_installs_works_and_passes_the_suite(
    dists: dict[str, Path], tmp_path: Path, compiler: str
) -> None:
    python = fresh_venv(tmp_path / "venv")
    env = {**os.environ}
    env.pop("MPSC_PURE", None)
    env.pop("PYTHONPATH", None)
    if compiler == "without a compiler":
        env["CC"] = "false"  # every compile fails, as where there is no compiler
    run(python, "-m", "pip", "install", "-q", "--no-cache-dir", dists["sdist"], env=env)
    for extension in ("mpsc/_accel", "mpsc/process/_steps"):
        built = list((tmp_path / "venv").glob(f"lib/python*/site-packages/{extension}*.so"))
        assert bool(built) is (compiler == "with a compiler"), extension
    env.pop("CC", None)
    implementation, process_implementation, where = run(python, "-c", SMOKE, env=env, cwd=tmp_path).split()
    assert implementation == ("pure" if compiler == "without a compiler" else "compiled")
    expected = (
        "compiled"
        if compiler == "with a compiler" and not sysconfig.get_config_var("Py_GIL_DISABLED")
        else "pure"
    )
    assert process_implementation == expected
    assert where.startswith(str(tmp_path / "venv")), where

    # The suite, from this checkout's tests/, against the installed package (cwd is not the
    # checkout, and src/ is not on the path). Without the extension the suite runs as
    # MPSC_PURE=1 does: the tests of the compiled code alone are left out.
    extras = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["optional-dependencies"]
    run(python, "-m", "pip", "install", "-q", *extras["test"], env=env)
    if compiler == "without a compiler":
        env["MPSC_PURE"] = "1"
    run(python, "-m", "pytest", "-q", "-p", "no:cacheprovider", *suite_args(), env=env, cwd=tmp_path)
