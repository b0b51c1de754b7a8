"""Where a job's wall time goes: its main thread's stack sampled with the machine's counters.

A whole search epoch once took 142 s where the same epoch (identical losses)
took 67 s, and most of the difference lay outside the step calls. Step
timers cannot say where: the time outside the steps is the data, the loop's
bookkeeping, checkpoints and summaries. `StackSampler` looks at the main
thread every `interval` seconds from a daemon thread and keeps, for each
sample:

- the innermost frame of this repository's code, and the innermost frame of
  all (inside TensorFlow, that is the Python call that entered C++);
- which timed step was running, if any (`running()`, the `StepClock`'s);
- the process's CPU seconds and major page faults, and the machine's steal
  and iowait seconds (`/proc/stat`), so that a slow spell says whether the
  process computed, waited on the disk, or lost its cores to the hypervisor.

The interval before a sample is charged to that sample's place. With a
0.25 s interval, a stall of a few seconds is caught in many samples while
the sampling costs a fraction of a percent of a core.

A stall that no thread of the process lives through shows as one long
interval: the sampler itself did not run. `Heartbeat`, a separate process
that only sleeps in 50 ms naps, says whether the whole machine stopped too
(its naps stretch as well) or only this process (the main thread held the
interpreter lock, or the process was stopped).
"""

from __future__ import annotations

import os
import resource
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from types import FrameType

REPO_ROOT = Path(__file__).resolve().parent.parent
COUNTERS = ("wall_s", "cpu_s", "major_faults", "steal_s", "iowait_s")


def proc_stat_seconds(text: str, ticks_per_second: float) -> dict[str, float]:
    """Steal and iowait seconds, summed over the cores, from `/proc/stat`'s text.

    The first line is `cpu  user nice system idle iowait irq softirq steal ...`
    in clock ticks. Steal is time the hypervisor gave this VM's cores to
    others; iowait is idle time with a disk request outstanding.
    """
    fields = text.split("\n", 1)[0].split()
    if len(fields) < 9 or fields[0] != "cpu":
        raise ValueError(
            f"/proc/stat starts with {text[:60]!r}; expected a `cpu` line with at least "
            "8 counters (Linux 2.6.11 or later)"
        )
    return {
        "steal_s": int(fields[8]) / ticks_per_second,
        "iowait_s": int(fields[5]) / ticks_per_second,
    }


def machine_counters() -> dict[str, float]:
    """This process's CPU seconds and major faults, and the machine's steal and iowait seconds."""
    usage = resource.getrusage(resource.RUSAGE_SELF)
    counters = {
        "wall_s": time.monotonic(),
        "cpu_s": usage.ru_utime + usage.ru_stime,
        "major_faults": float(usage.ru_majflt),
        "steal_s": 0.0,
        "iowait_s": 0.0,
    }
    try:
        with open("/proc/stat") as stat:
            counters.update(proc_stat_seconds(stat.read(), os.sysconf("SC_CLK_TCK")))
    except OSError:  # not Linux: the process's own counters still say whether it computed
        pass
    return counters


def place_of(frame: FrameType | None, root: Path = REPO_ROOT) -> tuple[str, str]:
    """(innermost frame under `root`, innermost frame of all), each as `file:function:line`."""
    innermost = describe(frame, root) if frame is not None else "?"
    own = "?"
    root_text = str(root) + os.sep
    while frame is not None:
        filename = frame.f_code.co_filename
        if filename.startswith(root_text) and f"{os.sep}.venv{os.sep}" not in filename:
            own = describe(frame, root)
            break
        frame = frame.f_back
    return own, innermost


def describe(frame: FrameType, root: Path) -> str:
    """`path:function:line`, the path relative to `root` where it lies under it."""
    path = Path(frame.f_code.co_filename)
    try:
        shown = str(path.relative_to(root))
    except ValueError:
        shown = path.name
    return f"{shown}:{frame.f_code.co_name}:{frame.f_lineno}"


@dataclass(frozen=True)
class Sample:
    """One look at the main thread, with the counters' growth since the look before."""

    at: float  # time.monotonic() of the sample; the interval charged ends here
    label: str  # what the caller said the job was doing (`label()`), e.g. "search epoch 2"
    step: str | None  # the timed step running, None outside the steps
    own_place: str
    innermost_place: str
    deltas: dict[str, float]


class StackSampler:
    """Samples the main thread's stack and the machine's counters from a daemon thread.

    Use as a context manager around the job. `label` and `running` are read
    at each sample: what the job is at (an epoch) and which step call, if
    any, is running.
    """

    def __init__(
        self,
        label: Callable[[], str],
        running: Callable[[], str | None],
        interval: float = 0.25,
        counters: Callable[[], dict[str, float]] = machine_counters,
    ) -> None:
        if not interval > 0:
            raise ValueError(f"interval={interval!r}; expected seconds > 0, such as 0.25")
        self.label = label
        self.running = running
        self.interval = interval
        self.counters = counters
        self.samples: list[Sample] = []
        self._main = threading.main_thread().ident
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def __enter__(self) -> StackSampler:
        self._thread = threading.Thread(target=self._sample_until_stopped, daemon=True)
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join()

    def _sample_until_stopped(self) -> None:
        last = self.counters()
        while not self._stop.wait(self.interval):
            last = self.sample(sys._current_frames().get(self._main), last)

    def sample(self, frame: FrameType | None, last: dict[str, float]) -> dict[str, float]:
        """Keeps one sample of `frame` (the main thread's), charged the counters since `last`."""
        now = self.counters()
        own, innermost = place_of(frame)
        deltas = {name: now[name] - last[name] for name in COUNTERS}
        self.samples.append(
            Sample(now["wall_s"], self.label(), self.running(), own, innermost, deltas)
        )
        return now


# A 50 ms nap that took longer than this is a gap the heartbeat reports.
HEARTBEAT_GAP_S = 0.5
_HEARTBEAT = """
import sys, time
gap = float(sys.argv[1])
while True:
    began = time.monotonic()
    time.sleep(0.05)
    ended = time.monotonic()
    if ended - began > gap:
        print(began, ended, flush=True)
"""


class Heartbeat:
    """A separate process that naps 50 ms at a time and records each nap that overran.

    Its gaps are `(began, ended)` in `time.monotonic()` seconds, a clock
    this machine's processes share. A gap here while the job also stalled
    means the whole machine stopped (the hypervisor paused it); no gap
    means only the job's process did.
    """

    def __init__(self, gap_s: float = HEARTBEAT_GAP_S) -> None:
        self.gap_s = gap_s
        self.gaps: list[tuple[float, float]] = []
        self._process: subprocess.Popen[str] | None = None

    def __enter__(self) -> Heartbeat:
        self._process = subprocess.Popen(
            [sys.executable, "-c", _HEARTBEAT, str(self.gap_s)], stdout=subprocess.PIPE, text=True
        )
        return self

    def __exit__(self, *exc: object) -> None:
        if self._process is None:
            return
        self._process.terminate()
        output, _ = self._process.communicate()
        self.gaps = parse_gaps(output)


def parse_gaps(output: str) -> list[tuple[float, float]]:
    """The heartbeat's `began ended` lines as pairs of seconds."""
    gaps = []
    for line in output.splitlines():
        if line.strip():
            began, ended = line.split()
            gaps.append((float(began), float(ended)))
    return gaps


def overlap(gaps: list[tuple[float, float]], start: float, end: float) -> float:
    """Seconds of `gaps` that fall within `[start, end]`."""
    return sum(max(0.0, min(end, b) - max(start, a)) for a, b in gaps)


def summarize(
    samples: list[Sample], top: int = 5, machine_gaps: list[tuple[float, float]] = ()
) -> dict[str, dict]:
    """Per label: the counters inside and outside the steps, and the top places outside them.

    Each place lists its counters summed over its samples, places ordered
    by wall seconds, with its number of samples, its longest interval
    between samples (long: the sampler itself could not run), and the
    seconds of `machine_gaps` (a `Heartbeat`'s) within its intervals.
    """
    summary: dict[str, dict] = {}
    for sample in samples:
        entry = summary.setdefault(
            sample.label,
            {"inside": empty_counts(), "outside": empty_counts()},
        )
        side = entry["inside" if sample.step else "outside"]
        add(side, sample, machine_gaps)
        if not sample.step:
            places = entry.setdefault("places", {})
            place = places.setdefault(
                f"{sample.own_place} <- {sample.innermost_place}", empty_counts()
            )
            add(place, sample, machine_gaps)
    for entry in summary.values():
        ranked = sorted(entry.pop("places", {}).items(), key=lambda kv: -kv[1]["wall_s"])
        entry["top_outside"] = dict(ranked[:top])
    return summary


def empty_counts() -> dict[str, float]:
    """The counters at zero, with the sample count, the longest interval and machine stalls."""
    return {**dict.fromkeys(COUNTERS, 0.0), "samples": 0, "longest_s": 0.0, "machine_stall_s": 0.0}


def add(counts: dict[str, float], sample: Sample, machine_gaps: list[tuple[float, float]]) -> None:
    """Adds `sample`'s interval to `counts` (see `empty_counts`)."""
    for name in COUNTERS:
        counts[name] += sample.deltas[name]
    counts["samples"] += 1
    counts["longest_s"] = max(counts["longest_s"], sample.deltas["wall_s"])
    counts["machine_stall_s"] += overlap(
        machine_gaps, sample.at - sample.deltas["wall_s"], sample.at
    )


def markdown_lines(summary: dict[str, dict]) -> list[str]:
    """A table per label of where the time went, inside and outside the steps."""
    lines = [
        "| label | where | wall s | CPU s | major faults | steal s | iowait s | samples | "
        "longest s | machine stalled s |",
        "|---|---|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for label, entry in summary.items():
        rows = [("inside the steps", entry["inside"]), ("outside the steps", entry["outside"])]
        rows += [(f"outside: `{place}`", c) for place, c in entry["top_outside"].items()]
        for where, c in rows:
            lines.append(
                f"| {label} | {where} | {c['wall_s']:.1f} | {c['cpu_s']:.1f} | "
                f"{c['major_faults']:.0f} | {c['steal_s']:.1f} | {c['iowait_s']:.1f} | "
                f"{c['samples']} | {c['longest_s']:.1f} | {c['machine_stall_s']:.1f} |"
            )
    return lines


__all__ = [
    "COUNTERS",
    "Heartbeat",
    "Sample",
    "StackSampler",
    "empty_counts",
    "machine_counters",
    "markdown_lines",
    "overlap",
    "parse_gaps",
    "place_of",
    "proc_stat_seconds",
    "summarize",
]
