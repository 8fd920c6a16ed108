"""Results: statistics, the tables printed on stdout, the targets, the JSON file and the plots."""

from __future__ import annotations

import json
import math
import os
import platform
import statistics
import sys
import sysconfig
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import redis_workloads as rw
from workloads import GROUPS, Workload


@dataclass
class Result:
    """The samples of one row of one workload, and what became of it."""

    name: str
    samples: list[float] = field(default_factory=list)
    error: str | None = None
    note: str = ""
    # Secondary figures of each run, by name (e.g. the Redis server's CPU): medians in the table.
    extras: dict[str, list[float]] = field(default_factory=dict)

    @property
    def median(self) -> float:
        return statistics.median(self.samples) if self.samples else math.nan

    @property
    def low(self) -> float:
        return min(self.samples) if self.samples else math.nan

    @property
    def high(self) -> float:
        return max(self.samples) if self.samples else math.nan


@dataclass
class Target:
    """A goal from the issue, measured as a ratio of medians and never asserted.

    ``kind`` says how the ratio is formed: ``rate`` - the row's rate over the other's (higher
    is better, met when >= threshold); ``cost`` - the other's rate over the row's, i.e. how
    many times the row costs (met when <= threshold); ``time`` - the same ratio, read as the
    row's time per operation over the other's (round trips); ``bytes`` - the row's bytes over the
    other's (met when <= threshold); ``at most`` - the row's own value, no ratio (met when
    <= threshold; ``against`` names the unit; ``stat`` says which: the median of the runs, or
    their max); ``report`` - the row's rate over the other's and the row's secondary figures,
    with no goal (the issue asks for the figures only).
    """

    workload: str
    row: str
    against: str
    kind: str
    threshold: float
    stat: str = "median"

    @property
    def text(self) -> str:
        op = ">=" if self.kind == "rate" else "<="
        if self.kind == "at most":
            stat = "" if self.stat == "median" else f" ({self.stat} of the runs)"
            return f"{self.workload}: {self.row}{stat} {op} {self.threshold:g} {self.against}"
        if self.kind == "report":
            return f"{self.workload}: {self.row} vs {self.against}"
        what = {"rate": "", "cost": " (cost per op)", "time": " (time per op)", "bytes": " (bytes)"}[
            self.kind
        ]
        return f"{self.workload}: {self.row} {op} {self.threshold:g}x {self.against}{what}"


TARGETS = [  # issue 10's where it set them, earlier issues' otherwise (issue 11's for processes)
    Target("spsc_unbounded", "mpsc", "queue.SimpleQueue", "rate", 0.9),
    Target("spsc_unbounded", "mpsc for-loop", "queue.SimpleQueue", "rate", 0.9),
    Target("mpsc4_unbounded", "mpsc", "queue.SimpleQueue", "rate", 0.9),
    Target("mpsc4_unbounded", "mpsc for-loop", "queue.SimpleQueue", "rate", 0.9),
    Target("spsc_bounded64", "mpsc", "queue.Queue", "rate", 3.0),
    Target("mpsc4_bounded1", "mpsc", "queue.Queue", "rate", 3.0),
    Target("pingpong", "mpsc", "queue.SimpleQueue", "rate", 1.0),
    Target("pingpong", "mpsc bounded(0)", "queue.SimpleQueue", "rate", 1.0),
    Target("select4_ready", "mpsc select", "mpsc recv", "cost", 3.0),
    Target("select8_blocked", "mpsc select", "mpsc recv", "rate", 0.8),
    Target("thread_to_asyncio", "mpsc", "aiologic", "rate", 4.0),
    Target("thread_to_asyncio", "mpsc", "culsans", "rate", 2.0),
    Target("asyncio_to_thread", "mpsc", "aiologic", "rate", 4.0),
    Target("asyncio_to_thread", "mpsc", "culsans", "rate", 2.0),
    Target("asyncio_to_asyncio", "mpsc", "asyncio.Queue", "rate", 1.0),
    Target("process_spsc", "mpsc.process", "multiprocessing.Queue", "rate", 5.0),  # issue 11's
    Target("process_spsc", "mpsc.process", "pyzmq PUSH/PULL", "rate", 1.5),
    Target("process_spsc", "mpsc.process", "faster-fifo", "rate", 1.0),
    Target("process_mpsc4", "mpsc.process", "multiprocessing.Queue", "rate", 5.0),
    Target("process_pingpong", "mpsc.process", "multiprocessing.Queue", "time", 0.2),
    Target("process_pingpong", "mpsc.process", "bare pipe", "time", 2.0),
    Target("process_large", "mpsc.process", "multiprocessing.Queue", "rate", 1.0),
    Target("memory_queued", "mpsc", "collections.deque", "bytes", 1.1),
    Target("memory_idle", "mpsc", "B", "at most", 1024),
    # issue 12's (mpsc.redis)
    Target("redis_send", "mpsc.redis send", "redis-py XADD", "rate", 0.8),
    Target("redis_send", "mpsc.redis send_many", "redis-py pipelined XADD", "rate", 1.0),
    Target("redis_recv", "mpsc.redis recv", "redis-py XREADGROUP+XACK", "rate", 0.8),
    *(
        Target("redis_fanin", row, rw.FANIN_REFERENCE, "report", 0)
        for row in ("mpsc.redis channel", f"mpsc.redis bounded({rw.FANIN_CAPACITY})")
    ),
    *(
        Target("redis_disconnect", rw.disconnect_row(lease), "s", "at most", lease + 0.5, "max")
        for lease in (rw.default_lease(), rw.SHORT_LEASE)
    ),
]


# -- the machine ----------------------------------------------------------------------------------


def machine() -> dict[str, Any]:
    cpu = platform.processor() or ""
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    cpu = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    gil_check = getattr(sys, "_is_gil_enabled", None)
    try:
        usable = len(os.sched_getaffinity(0))
    except AttributeError:
        usable = os.cpu_count() or 0
    return {
        "platform": platform.platform(),
        "machine": platform.machine(),
        "cpu": cpu,
        "cpu_count": os.cpu_count(),
        "cpus_usable": usable,
        "python": sys.version.split()[0],
        "implementation": platform.python_implementation(),
        "free_threaded_build": bool(sysconfig.get_config_var("Py_GIL_DISABLED")),
        "gil_enabled": True if gil_check is None else bool(gil_check()),
        "switch_interval_s": sys.getswitchinterval(),
        "load_average_at_start": _load(),
    }


def _load() -> list[float] | None:
    """The 1/5/15-minute load averages: other work on the machine skews every number here."""
    try:
        return [round(x, 2) for x in os.getloadavg()]
    except (AttributeError, OSError):
        return None


def describe_machine(info: dict[str, Any]) -> str:
    gil = "GIL on" if info["gil_enabled"] else "GIL off"
    build = "free-threaded build" if info["free_threaded_build"] else "default build"
    return (
        f"{info['implementation']} {info['python']} ({build}, {gil}) on {info['platform']}; "
        f"{info['cpu']}; {info['cpus_usable']} of {info['cpu_count']} CPUs usable"
        + (f" (pinned to CPU {info['pinned_cpu']})" if info.get("pinned_cpu") is not None else "")
    )


# -- numbers --------------------------------------------------------------------------------------


def fmt_value(value: float, unit: str) -> str:
    if math.isnan(value):
        return "—"
    if unit.startswith("B/"):
        return f"{value:,.1f} B" if value < 100 else f"{value:,.0f} B"
    if unit == "s":
        return f"{value:.3g} s"
    if unit == "MB/s":
        return f"{value:,.0f} MB/s" if value >= 100 else f"{value:.3g} MB/s"
    for scale, suffix in ((1e6, " M"), (1e3, " k")):
        if value >= scale:
            return f"{value / scale:.3g}{suffix}/s"
    return f"{value:.3g} /s"


def ratio(results: dict[str, Result], row: str, reference: str) -> float:
    a, b = results.get(row), results.get(reference)
    if a is None or b is None or not a.samples or not b.samples:
        return math.nan
    return a.median / b.median


def target_ratio(target: Target, results: dict[str, dict[str, Result]]) -> float:
    rows = results.get(target.workload, {})
    if target.kind == "at most":
        row = rows.get(target.row)
        if row is None:
            return math.nan
        return row.high if target.stat == "max" else row.median
    r = ratio(rows, target.row, target.against)
    if target.kind in ("cost", "time"):
        return 1 / r if r else math.nan
    return r


def target_met(target: Target, value: float) -> bool | None:
    if math.isnan(value) or target.kind == "report":
        return None
    if target.kind == "rate":
        return value >= target.threshold
    return value <= target.threshold


# -- tables ---------------------------------------------------------------------------------------


def _table(header: list[str], rows: list[list[str]], right: set[int]) -> str:
    widths = [max(len(h), *(len(r[i]) for r in rows)) if rows else len(h) for i, h in enumerate(header)]

    def line(cells: list[str]) -> str:
        return "  ".join(
            c.rjust(w) if i in right else c.ljust(w)
            for i, (c, w) in enumerate(zip(cells, widths, strict=True))
        )

    return "\n".join([line(header), line(["-" * w for w in widths]), *(line(r) for r in rows)])


def workload_table(workload: Workload, results: dict[str, Result], n: int, runs: int) -> str:
    lower = "" if workload.higher_is_better else "; lower is better"
    head = (
        f"== {workload.title}  [{workload.key}]  n={n:,}, {runs} run{'s' * (runs != 1)} each; "
        f"reference {workload.reference}{lower}"
    )
    if workload.description:
        head += f"\n   {workload.description}"
    rows = []
    ranked = sorted(
        (r for r in results.values() if r.samples),
        key=lambda r: r.median,
        reverse=workload.higher_is_better,
    )
    extras = list(dict.fromkeys(name for r in results.values() for name in r.extras))
    for result in ranked:
        spread = f"{fmt_value(result.low, workload.unit)} … {fmt_value(result.high, workload.unit)}"
        rel = ratio(results, result.name, workload.reference)
        figures = [result.extras.get(name) for name in extras]
        rows.append(
            [
                result.name,
                fmt_value(result.median, workload.unit),
                spread,
                "—" if math.isnan(rel) else f"{rel:.2f}x",
                *(_fmt_extra(statistics.median(f)) if f else "—" for f in figures),
            ]
        )
    blank = [""] * len(extras)
    for result in results.values():
        if result.error:
            rows.append([result.name, "FAILED", result.error[:70], "", *blank])
    for name, reason in workload.skipped.items():
        rows.append([name, "skipped", reason[:90], "", *blank])
    header = ["implementation", "median", "min … max", f"x {workload.reference}", *extras]
    table = _table(header, rows, {1, 3, *range(4, 4 + len(extras))})
    return f"{head}\n{table}"


def targets_table(results: dict[str, dict[str, Result]]) -> tuple[str, list[dict[str, Any]]]:
    rows, records = [], []
    for target in TARGETS:
        if target.workload not in results:
            continue
        value = target_ratio(target, results)
        met = target_met(target, value)
        unit = f" {target.against}" if target.kind == "at most" else "x"
        figures = _extras_text(results[target.workload].get(target.row)) if target.kind == "report" else ""
        if math.isnan(value):
            shown = "—"
        elif target.kind == "at most":
            shown = f"{value:,.0f}{unit}" if target.threshold >= 100 else f"{value:.2f}{unit}"
        else:
            shown = f"{value:.2f}x" + (f"; {figures}" if figures else "")
        if target.kind == "report":
            status = "reported" if not math.isnan(value) else "not measured"
            goal = "report"
        else:
            status = {True: "met", False: "NOT MET", None: "not measured"}[met]
            op = ">=" if target.kind == "rate" else "<="
            goal = f"{op} {target.threshold:g}{unit}"
        rows.append([target.text, goal, shown, status])
        records.append(
            {
                "workload": target.workload,
                "row": target.row,
                "against": target.against,
                "kind": target.kind,
                "threshold": target.threshold,
                "stat": target.stat,
                "ratio": None if math.isnan(value) else value,
                "met": met,
                "text": target.text,
                "figures": figures or None,
            }
        )
    table = _table(["target", "goal", "measured", "status"], rows, {1, 2})
    return "== Targets (ratios of medians; measured, never asserted)\n" + table, records


def _extras_text(result: Result | None) -> str:
    """The medians of a row's secondary figures, for the targets table."""
    if result is None:
        return ""
    return ", ".join(f"{name} {_fmt_extra(statistics.median(v))}" for name, v in result.extras.items() if v)


def _fmt_extra(value: float) -> str:
    return f"{value:.3g}"


# -- JSON -----------------------------------------------------------------------------------------


def to_json(
    path: Path,
    info: dict[str, Any],
    settings: dict[str, Any],
    workloads: list[Workload],
    sizes: dict[str, int],
    results: dict[str, dict[str, Result]],
    targets: list[dict[str, Any]],
) -> None:
    data: dict[str, Any] = {"machine": info, "settings": settings, "workloads": [], "targets": targets}
    for workload in workloads:
        rows = results.get(workload.key, {})
        data["workloads"].append(
            {
                "key": workload.key,
                "title": workload.title,
                "group": workload.group,
                "description": workload.description,
                "unit": workload.unit,
                "higher_is_better": workload.higher_is_better,
                "reference": workload.reference,
                "n": sizes[workload.key],
                "results": {
                    name: {
                        "median": r.median if r.samples else None,
                        "min": r.low if r.samples else None,
                        "max": r.high if r.samples else None,
                        "ratio_to_reference": _or_none(ratio(rows, name, workload.reference)),
                        "samples": r.samples,
                        "error": r.error,
                        "note": r.note,
                        "extras": {
                            k: {"median": statistics.median(v), "min": min(v), "max": max(v), "samples": v}
                            for k, v in r.extras.items()
                            if v
                        },
                    }
                    for name, r in rows.items()
                },
                "skipped": workload.skipped,
            }
        )
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(path.suffix + ".tmp")
    tmp.write_text(json.dumps(data, indent=2, ensure_ascii=False) + "\n")
    tmp.replace(path)


def _or_none(value: float) -> float | None:
    return None if math.isnan(value) else value


# -- plots --------------------------------------------------------------------------------------

_MPSC_COLORS = ["#d62728", "#ff7f0e", "#8c1d18", "#f4a582", "#b2182b", "#fdae61", "#e7298a", "#a50f15"]
_OTHER_COLORS = [
    "#1f77b4",
    "#2ca02c",
    "#9467bd",
    "#8c564b",
    "#7f7f7f",
    "#17becf",
    "#bcbd22",
    "#e377c2",
    "#aec7e8",
]


def _colors(names: list[str]) -> dict[str, str]:
    colors: dict[str, str] = {}
    mine = [n for n in names if n.startswith("mpsc")]
    others = [n for n in names if not n.startswith("mpsc")]
    for i, name in enumerate(mine):
        colors[name] = _MPSC_COLORS[i % len(_MPSC_COLORS)]
    for i, name in enumerate(others):
        colors[name] = _OTHER_COLORS[i % len(_OTHER_COLORS)]
    return colors


def plots(
    directory: Path, workloads: list[Workload], results: dict[str, dict[str, Result]], title: str
) -> list[Path]:
    """One PNG per group of workloads, plus overview.png with every group.

    Bars are medians with min-max error bars; the label over a bar is its ratio to the
    workload's reference. Several workloads in a panel are grouped bars (one colour per
    implementation); a log scale is used when the values span more than 20x.
    """
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError as exc:
        print(
            f"plots skipped: matplotlib is not installed ({exc}); `make bench` installs it", file=sys.stderr
        )
        return []

    directory.mkdir(parents=True, exist_ok=True)
    names: list[str] = []
    for workload in workloads:
        for name, r in results.get(workload.key, {}).items():
            if r.samples and name not in names:
                names.append(name)
    colors = _colors(names)
    by_group: dict[str, list[Workload]] = {}
    for workload in workloads:
        if any(r.samples for r in results.get(workload.key, {}).values()):
            by_group.setdefault(workload.group, []).append(workload)
    # Workloads of one group share a panel, except in memory, processes and redis: a panel per unit.
    panels: list[tuple[str, str, list[Workload]]] = []
    for group, members in by_group.items():
        if group in ("memory", "processes", "redis"):
            by_unit: dict[str, list[Workload]] = {}
            for w in members:
                by_unit.setdefault(w.unit, []).append(w)
            panels += [
                (group, same[0].title if len(same) == 1 else GROUPS[group], same) for same in by_unit.values()
            ]
        else:
            panels.append((group, GROUPS[group], members))

    written: list[Path] = []
    for group in by_group:
        mine = [p for p in panels if p[0] == group]
        fig, axes = plt.subplots(1, len(mine), figsize=(6.5 * len(mine) if len(mine) > 1 else 12, 5.2))
        for ax, (_, panel_title, members) in zip(_as_list(axes), mine, strict=True):
            _panel(ax, members, results, colors, panel_title)
        fig.suptitle(title, fontsize=8)
        fig.tight_layout(rect=(0, 0, 1, 0.97))
        path = directory / f"{group}.png"
        fig.savefig(path, dpi=110)
        plt.close(fig)
        written.append(path)

    if len(panels) > 1:
        # A panel of several workloads gets a whole row; single-workload panels go two a row.
        rows: list[list[tuple[str, str, list[Workload]]]] = []
        for panel in panels:
            if len(panel[2]) > 1 or not rows or len(rows[-1]) == 2 or len(rows[-1][0][2]) > 1:
                rows.append([panel])
            else:
                rows[-1].append(panel)
        fig = plt.figure(figsize=(16, 5.0 * len(rows)))
        grid = fig.add_gridspec(len(rows), 2)
        for r, row in enumerate(rows):
            if len(row) == 1 and len(row[0][2]) > 1:
                cells = [grid[r, :]]
            else:
                cells = [grid[r, c] for c in range(len(row))]
            for cell, (_, panel_title, members) in zip(cells, row, strict=True):
                _panel(fig.add_subplot(cell), members, results, colors, panel_title)
        fig.suptitle(title, fontsize=9)
        fig.tight_layout(rect=(0, 0, 1, 0.98))
        path = directory / "overview.png"
        fig.savefig(path, dpi=90)
        plt.close(fig)
        written.append(path)
    return written


def _as_list(axes: Any) -> list[Any]:
    try:
        return list(axes.flat)
    except AttributeError:
        return [axes]


def _panel(
    ax: Any,
    members: list[Workload],
    results: dict[str, dict[str, Result]],
    colors: dict[str, str],
    title: str,
) -> None:
    names: list[str] = []
    for workload in members:
        for name, r in results.get(workload.key, {}).items():
            if r.samples and name not in names:
                names.append(name)
    single = len(members) == 1
    width = 0.8 if single else 0.8 / max(1, len(names))
    values: list[float] = []
    for i, name in enumerate(names):
        for x, workload in enumerate(members):
            rows = results.get(workload.key, {})
            r = rows.get(name)
            if r is None or not r.samples:
                continue
            pos = i if single else x - 0.4 + width * (i + 0.5)
            ax.bar(
                pos,
                r.median,
                width,
                yerr=[[r.median - r.low], [r.high - r.median]],
                capsize=2,
                color=colors[name],
                edgecolor="black" if name.startswith("mpsc") else "none",
                linewidth=0.6,
                label=name,
            )
            values.append(r.median)
            rel = ratio(rows, name, workload.reference)
            if not math.isnan(rel) and (single or name.startswith("mpsc")):
                ax.annotate(f"{rel:.2f}x", (pos, r.high), ha="center", va="bottom", fontsize=6.5,
                            xytext=(0, 2), textcoords="offset points")  # fmt: skip
    positive = [v for v in values if v > 0]
    if positive and max(positive) / min(positive) > 20:
        ax.set_yscale("log")
    units = list(dict.fromkeys(w.unit for w in members))
    better = " (higher is better)" if members[0].higher_is_better else " (lower is better)"
    ax.set_ylabel(" · ".join(units) + better)
    if single:
        ax.set_xticks(range(len(names)))
        ax.set_xticklabels(names, rotation=25, ha="right", fontsize=8)
        ax.set_xlabel(f"ratios to {members[0].reference}", fontsize=8)
    else:
        ax.set_xticks(range(len(members)))
        ax.set_xticklabels(
            [f"{w.title.replace(', ', chr(10))}\n(vs {w.reference})" for w in members], fontsize=7.5
        )
        handles, labels = ax.get_legend_handles_labels()
        unique = dict(zip(labels, handles, strict=True))
        ax.legend(unique.values(), unique.keys(), fontsize=7, loc="upper left", bbox_to_anchor=(1.0, 1.0))
    ax.set_title(title, fontsize=10)
    ax.grid(axis="y", alpha=0.3, which="both")


def load(path: Path) -> tuple[dict[str, Any], list[Workload], dict[str, dict[str, Result]]]:
    """Read a results file back (for --replot): machine, workloads, results."""
    data = json.loads(path.read_text())
    workloads, results = [], {}
    for w in data["workloads"]:
        workload = Workload(
            w["key"], w["title"], w["group"], w["unit"], w["higher_is_better"], w["reference"], w["n"], w["n"]
        )
        workload.description = w.get("description", "")
        workload.skipped = w.get("skipped", {})
        workloads.append(workload)
        results[w["key"]] = {
            name: Result(
                name,
                list(r["samples"]),
                r.get("error"),
                r.get("note", ""),
                {k: list(e["samples"]) for k, e in r.get("extras", {}).items()},
            )
            for name, r in w["results"].items()
        }
    return data["machine"], workloads, results
