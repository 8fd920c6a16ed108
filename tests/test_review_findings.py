"""Hostile reviews' findings that were fixed, run as they were written: each script exits 1
while its defect shows (the REPORT.md of ``findings/review12``, ``review13``, ``review15`` and ``review16``
say what each breaks and how it was fixed). They run in a fresh interpreter each, with the
implementation of this pass (compiled steps, or ``MPSC_PURE``), bounded in time.

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
    ("review12", "01_interrupt_in_joined_splits_clones_over_two_endpoints.py"),
    ("review12", "02_half_made_endpoint_closes_new_endpoints_fds_after_fork.py"),
    ("review12", "03_two_threads_adopt_same_side_two_endpoints.py"),
    ("review12", "05_interrupt_before_finish_taken_pops_costs_a_retry.py"),
    ("review12", "06_fork_while_half_made_adoption_is_closed_deadlocks_child.py"),
    ("review12", "07_interrupt_after_ledger_reopen_leaks_fd.py"),
    ("review12", "08_exception_at_large_messages_mapping_close_loses_it.py"),
    ("review12", "09_interrupt_in_handle_release_leaks_endpoint_or_its_lock.py"),
    ("review13", "01_retry_registers_over_other_threads_endpoint.py"),
    ("review13", "03_two_interrupts_pickling_carried_handle_pin_its_side.py"),
    ("review13", "04_two_interrupts_in_finalizer_release_nothing.py"),
    ("review13", "06_fork_mid_adoption_child_keeps_ledger_mapping.py"),
    ("review13", "08_finalizer_adopting_inside_adoption_splits.py"),
    ("review13", "09_periodic_interrupts_livelock_deferral_with_thread_in_limbo.py"),
    ("review15", "02_fork_while_reaper_mid_drop_child_keeps_side.py"),
    ("review15", "03_gc_finalizer_runs_under_ring_lock.py"),
    ("review16", "01_nested_send_unnotes_outer_send.py"),
    ("review16", "03_prune_drops_live_raw_threads_noted_list.py"),
    # (every pair of check points of every closing path: half a minute; --stress)
    pytest.param("review13", "02_two_interrupts_in_close_leave_side_open.py", marks=pytest.mark.stress),
    # (a handler's TimeoutError at every check point of a send and a receive: half a minute)
    pytest.param("review15", "04_signal_handler_timeouterror_swallowed.py", marks=pytest.mark.stress),
    # (an interrupt at each of the child's at-fork hook's check points: a minute)
    pytest.param("review15", "07_interrupt_in_child_fork_hook_kills_reaper.py", marks=pytest.mark.stress),
]

if not os.environ.get("MPSC_PURE"):  # (the shared-memory ring's: not in the pure pass, which has none)
    FIXED.append(("review15", "01_stopped_holder_holds_event_loop.py"))

pytestmark = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="mpsc.process is Linux only")


@pytest.mark.parametrize(("review", "script"), FIXED)
def test_a_fixed_finding_stays_fixed(review: str, script: str) -> None:
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([str(ROOT / "src"), os.environ.get("PYTHONPATH", "")]))
    done = subprocess.run(
        [sys.executable, str(ROOT / "findings" / review / script)],
        check=False,
        capture_output=True,
        text=True,
        timeout=100,
        env=env,
        cwd=ROOT,
    )
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
