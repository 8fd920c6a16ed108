"""mpsc's benchmark suite: mpsc against the queues Python programs use today.

    python benchmarks/run.py                 # full run: a few minutes on 2 cores
    python benchmarks/run.py --quick         # a fifth of the messages, 3 repeats: under 30 s
    python benchmarks/run.py --only spsc_unbounded,pingpong --repeats 9
    python benchmarks/run.py --list

All implementations of a workload run in one process, interleaved: each repeat runs every
row once, in an order rotated from one repeat to the next, after one untimed warm-up run per
row. Workloads bound by thread wake-ups (bounded, ping-pong, blocked select) make 3 runs of a
third of the messages per repeat, as their speed swings with where the scheduler puts the
threads; the memory workloads, which are deterministic, make at most 3 runs.

The table gives the median, the min … max spread and the ratio of medians to the workload's
named reference, then the targets. A full run writes benchmarks/results/latest.json
and PNG plots; runs with --quick or --only write them only when --json/--plots ask for them.
See benchmarks/README.md.
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

import peers as peers_module
import report
from report import Result
from workloads import Row, Workload, build

RESULTS = Path(__file__).resolve().parent / "results"


def parse_args(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--quick", action="store_true", help="smaller message counts, 3 repeats (< 30 s)")
    parser.add_argument(
        "--repeats", type=int, help="rounds of timed runs per row (default 5, or 3 with --quick)"
    )
    parser.add_argument(
        "--only",
        action="append",
        metavar="WORKLOAD",
        help="run only these workloads (comma-separated or repeated; see --list)",
    )
    parser.add_argument(
        "--json", type=Path, help=f"write results here (full run default: {RESULTS}/latest.json)"
    )
    parser.add_argument(
        "--plots", type=Path, metavar="DIR", help=f"write PNG plots here (full run default: {RESULTS})"
    )
    parser.add_argument(
        "--pin-cpu",
        type=int,
        metavar="N",
        help="run the whole process on CPU N only (Linux): steadier wake-up numbers, no parallelism",
    )
    parser.add_argument("--list", action="store_true", help="list the workloads and exit")
    parser.add_argument(
        "--replot",
        type=Path,
        metavar="JSON",
        help="redraw the tables and plots of a results file, run nothing",
    )
    args = parser.parse_args(argv)
    if args.repeats is not None and args.repeats < 1:
        parser.error("--repeats must be at least 1")
    return args


def select_workloads(workloads: list[Workload], only: list[str] | None) -> list[Workload]:
    if not only:
        return workloads
    wanted = [key.strip() for item in only for key in item.split(",") if key.strip()]
    known = {w.key for w in workloads} | {w.group for w in workloads}
    unknown = [key for key in wanted if key not in known]
    if unknown:
        sys.exit(f"unknown workload(s) {', '.join(unknown)}; choose from: {', '.join(sorted(known))}")
    return [w for w in workloads if w.key in wanted or w.group in wanted]


def measure(workload: Workload, n: int, repeats: int) -> dict[str, Result]:
    """Warm up each row once, then run every row once per repeat, in a rotating order."""
    results = {row.name: Result(row.name, note=row.note) for row in workload.rows}
    live = list(workload.rows)
    started = time.perf_counter()
    print(f"-- {workload.title} [{workload.key}], n={n:,}: ", end="", file=sys.stderr, flush=True)
    if workload.warm_up:
        for row in list(live):
            _run(workload, row, max(1, n // 10), results, live)
        print("w", end="", file=sys.stderr, flush=True)
    for repeat in range(repeats):
        shift = repeat % max(1, len(live))
        for row in live[shift:] + live[:shift]:
            value = _run(workload, row, n, results, live)
            if isinstance(value, tuple):  # the metric and secondary figures (e.g. server CPU)
                value, extras = value
                for name, figure in extras.items():
                    results[row.name].extras.setdefault(name, []).append(figure)
            if value is not None:
                results[row.name].samples.append(value)
        print(".", end="", file=sys.stderr, flush=True)
    print(f" {time.perf_counter() - started:.0f} s", file=sys.stderr)
    return results


def _run(
    workload: Workload, row: Row, n: int, results: dict[str, Result], live: list[Row]
) -> float | tuple[float, dict[str, float]] | None:
    if row not in live:
        return None
    gc.collect()
    try:
        return row.run(n)
    except Exception as exc:  # a failed run is loud, and the row drops out of the workload
        message = f"{type(exc).__name__}: {exc}"
        print(f"\n!! FAILED {workload.key} / {row.name}: {message}", file=sys.stderr, flush=True)
        results[row.name].error = message
        live.remove(row)
        return None


def source_state() -> str:
    """The commit of the mpsc sources measured, and whether src/ had uncommitted changes."""
    import subprocess

    root = Path(__file__).resolve().parent.parent
    try:
        head = subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"], cwd=root, capture_output=True, text=True, check=True
        ).stdout.strip()
        dirty = subprocess.run(
            ["git", "status", "--porcelain", "--", "src"],
            cwd=root,
            capture_output=True,
            text=True,
            check=True,
        ).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return "unknown"
    return head + (" + uncommitted changes in src/" if dirty else "")


def main(argv: list[str] | None = None) -> int:
    args = parse_args(sys.argv[1:] if argv is None else argv)
    if args.replot:
        return replot(args.replot, args.plots or args.replot.parent)
    peers = peers_module.all_peers()
    process_peers = peers_module.process_peers()
    workloads = build(peers, process_peers)
    if args.list:
        for w in workloads:
            print(f"{w.key:20} {w.group:8} {w.title} (reference: {w.reference})")
        return 0
    chosen = select_workloads(workloads, args.only)
    partial = args.quick or bool(args.only)
    repeats = args.repeats or (3 if args.quick else 5)
    json_path = args.json or (None if partial else RESULTS / "latest.json")
    plots_dir = args.plots or (None if partial else RESULTS)

    if args.pin_cpu is not None:
        os.sched_setaffinity(0, {args.pin_cpu})  # threads started later inherit it
    info = report.machine()
    info["pinned_cpu"] = args.pin_cpu
    import mpsc

    versions = {"mpsc": mpsc.__version__}
    versions |= {
        p.name: p.version for p in peers.values() if p.module not in (None, "mpsc") and not p.skip_reason
    }
    versions |= {
        p.distribution or p.name: p.version
        for p in process_peers.values()
        if p.module not in (None, "mpsc") and not p.skip_reason
    }
    print("mpsc benchmark suite —", report.describe_machine(info))
    source = source_state()
    print("versions:", ", ".join(f"{k} {v}" for k, v in versions.items()), f"(mpsc at {source})")
    for peer in peers.values():
        if peer.skip_reason:
            print(f"skipping {peer.name}: {peer.skip_reason}")
    if any(w.group == "processes" for w in chosen):
        for process_peer in process_peers.values():
            if process_peer.skip_reason:
                print(f"skipping {process_peer.name}: {process_peer.skip_reason}")
    mode = "quick" if args.quick else "full"
    print(f"mode: {mode}, {repeats} repeats, workloads: {', '.join(w.key for w in chosen)}\n", flush=True)

    started = time.perf_counter()
    all_results: dict[str, dict[str, Result]] = {}
    sizes: dict[str, int] = {}
    for workload in chosen:
        n = workload.size(args.quick)
        sizes[workload.key] = n
        all_results[workload.key] = measure(workload, n, workload.runs(repeats, args.quick))
    elapsed = time.perf_counter() - started
    info["load_average_at_end"] = report._load()

    for workload in chosen:
        print(
            report.workload_table(
                workload, all_results[workload.key], sizes[workload.key], workload.runs(repeats, args.quick)
            )
        )
        print()
    targets_text, targets = report.targets_table(all_results)
    print(targets_text)
    before, after = info.get("load_average_at_start"), info.get("load_average_at_end")
    print(f"\n{len(chosen)} workloads in {elapsed:.0f} s")
    print(f"load average (1, 5, 15 min): {before} before, {after} after")
    busy = [load[0] for load in (before, after) if load]
    if busy and max(busy) > (info["cpus_usable"] or 1) + 0.5:
        print("note: the machine had other work during the run; wake-up-bound numbers suffer first")

    settings = {
        "mode": mode,
        "repeats": repeats,
        "only": [w.key for w in chosen] if args.only else None,
        "finished": datetime.now(UTC).isoformat(timespec="seconds"),
        "elapsed_s": round(elapsed, 1),
        "versions": versions,
        "mpsc_source": source,
        "skipped_peers": {
            p.name: p.skip_reason for p in [*peers.values(), *process_peers.values()] if p.skip_reason
        },
    }
    if json_path is not None:
        report.to_json(json_path, info, settings, chosen, sizes, all_results, targets)
        print(f"wrote {json_path}")
    if plots_dir is not None:
        title = f"mpsc {mpsc.__version__} — {report.describe_machine(info)}"
        for path in report.plots(plots_dir, chosen, all_results, title):
            print(f"wrote {path}")

    failed = [(w, name) for w, rows in all_results.items() for name, r in rows.items() if r.error]
    if failed:
        print("\nFAILED (lost, duplicated or corrupted messages, a hang, or an exception):", file=sys.stderr)
        for w, name in failed:
            print(f"  {w} / {name}: {all_results[w][name].error}", file=sys.stderr)
        return 1
    return 0


def replot(path: Path, plots_dir: Path) -> int:
    info, workloads, results = report.load(path)
    data = json.loads(path.read_text())
    print("results of", report.describe_machine(info), f"({data['settings'].get('finished', '?')})\n")
    for workload in workloads:
        runs = max((len(r.samples) for r in results[workload.key].values()), default=0)
        print(report.workload_table(workload, results[workload.key], workload.n, runs))
        print()
    print(report.targets_table(results)[0])
    version = data["settings"].get("versions", {}).get("mpsc", "?")
    for written in report.plots(
        plots_dir, workloads, results, f"mpsc {version} — {report.describe_machine(info)}"
    ):
        print(f"wrote {written}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
