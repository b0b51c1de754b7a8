"""Parsing what TFLite's `benchmark_model` prints, across its versions.

The timed run ends with a statistics line and a summary line, in microseconds:

    count=50 first=12419 curr=11801 min=11657 max=13350 avg=11974.2 std=298
    Inference timings in us: Init: 25360, First inference: 14870,
        Warmup (avg): 12561, Inference (avg): 11974.2    (one line)

Versions differ in ways the parser tolerates:

- newer builds add `p5=`, `median=` and `p95=` to the statistics line and
  prefix every line with `INFO: ` (or logcat's `I tflite  : `);
- large values are printed in C++ `%g` form (`avg=1.24027e+06`);
- the warmup phase prints its own statistics line first (`count=1 curr=...`),
  so the timed run's line is the last one;
- builds from 2018 print `Average inference timings in us: Warmup: X, Init: X,
  no stats: X` instead of the summary line.
"""

from __future__ import annotations

import dataclasses
import re

from tfnas.errors import UserError

_NUMBER = r"[-+]?\d+(?:\.\d*)?(?:[eE][-+]?\d+)?"
_PAIR = re.compile(rf"(\w+)=({_NUMBER})")
_SUMMARY = re.compile(r"Inference timings in us: (.*)")
_SUMMARY_FIELD = re.compile(rf"([A-Za-z][A-Za-z ()]*?): ({_NUMBER})")
_LEGACY_SUMMARY = re.compile(
    rf"Average inference timings in us: Warmup: ({_NUMBER}), Init: ({_NUMBER}), "
    rf"no stats: ({_NUMBER})"
)


class BenchmarkOutputError(UserError, ValueError):
    """Output that holds no timing result (the run failed or printed another format)."""


@dataclasses.dataclass(frozen=True)
class BenchmarkResult:
    """The timed run of one `benchmark_model` invocation, in milliseconds.

    Attributes:
        mean_ms: Mean latency of the timed runs.
        std_ms: Their standard deviation (None when the version prints none).
        count: How many timed runs (None when the version prints none).
        median_ms: Their median, printed by newer versions only (else None).
        min_ms: Fastest run, when printed.
        max_ms: Slowest run, when printed.
        init_ms: Interpreter initialization, when printed.
        first_ms: The first inference, when printed.
        warmup_ms: Mean of the warmup runs, when printed.
    """

    mean_ms: float
    std_ms: float | None = None
    count: int | None = None
    median_ms: float | None = None
    min_ms: float | None = None
    max_ms: float | None = None
    init_ms: float | None = None
    first_ms: float | None = None
    warmup_ms: float | None = None


def _ms(microseconds: str | None) -> float | None:
    return None if microseconds is None else float(microseconds) / 1000.0


def parse_benchmark_output(text: str) -> BenchmarkResult:
    """The timed run's figures from `benchmark_model`'s combined stdout and stderr.

    Raises:
        BenchmarkOutputError: Neither a summary line nor a statistics line
            with an average is present.
    """
    statistics: dict[str, str] = {}
    summary: dict[str, str] = {}
    for line in text.splitlines():
        if "count=" in line:
            pairs = dict(_PAIR.findall(line[line.index("count=") :]))
            if "avg" in pairs:  # the warmup line of newer versions has no avg
                statistics = pairs
        legacy = _LEGACY_SUMMARY.search(line)
        if legacy:
            warmup, init, inference = legacy.groups()
            summary = {"Warmup (avg)": warmup, "Init": init, "Inference (avg)": inference}
            continue
        match = _SUMMARY.search(line)
        if match:
            summary = dict(_SUMMARY_FIELD.findall(match.group(1)))
            summary = {name.strip(): value for name, value in summary.items()}
    mean = summary.get("Inference (avg)", statistics.get("avg"))
    if mean is None:
        raise BenchmarkOutputError(
            "no 'Inference timings in us' line and no 'count=... avg=...' line in the output"
        )
    count = statistics.get("count")
    return BenchmarkResult(
        mean_ms=float(mean) / 1000.0,
        std_ms=_ms(statistics.get("std")),
        count=None if count is None else int(float(count)),
        median_ms=_ms(statistics.get("median")),
        min_ms=_ms(statistics.get("min")),
        max_ms=_ms(statistics.get("max")),
        init_ms=_ms(summary.get("Init")),
        first_ms=_ms(summary.get("First inference")),
        warmup_ms=_ms(summary.get("Warmup (avg)")),
    )
