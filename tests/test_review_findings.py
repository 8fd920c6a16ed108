"""Hostile review 12's findings that were fixed, run as they were written: each script exits 1
while its defect shows (``findings/review12/REPORT.md`` says what each breaks and how it was
fixed). They run in a fresh interpreter each, with the implementation of this pass (compiled
steps, or ``MPSC_PURE``), bounded in time.

The scripts inject exceptions at CPython's own check points (``tests/checkpoints.py``) into
mpsc.process's adoption of carried handles, the release of a side's last handle, a ledger's
reopening and the compiled receive's hand-over, and fork from another thread mid-close."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
FIXED = [
    "01_interrupt_in_joined_splits_clones_over_two_endpoints.py",
    "02_half_made_endpoint_closes_new_endpoints_fds_after_fork.py",
    "03_two_threads_adopt_same_side_two_endpoints.py",
    "05_interrupt_before_finish_taken_pops_costs_a_retry.py",
    "06_fork_while_half_made_adoption_is_closed_deadlocks_child.py",
    "07_interrupt_after_ledger_reopen_leaks_fd.py",
    "08_exception_at_large_messages_mapping_close_loses_it.py",
    "09_interrupt_in_handle_release_leaks_endpoint_or_its_lock.py",
]

pytestmark = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="mpsc.process is Linux only")


@pytest.mark.parametrize("script", FIXED)
def test_a_fixed_finding_stays_fixed(script: str) -> None:
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([str(ROOT / "src"), os.environ.get("PYTHONPATH", "")]))
    done = subprocess.run(
        [sys.executable, str(ROOT / "findings" / "review12" / script)],
        check=False,
        capture_output=True,
        text=True,
        timeout=100,
        env=env,
        cwd=ROOT,
    )
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
