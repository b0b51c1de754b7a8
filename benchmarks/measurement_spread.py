"""How much do repeated host measurements of the same model vary?

    python -m benchmarks.measurement_spread [--repeats=10] [--resolution=224]
        [--output_dir=benchmarks/results]

Measures three models of the ProxylessNAS ImageNet space `--repeats` times
each (a fresh interpreter every time, as separate table entries would be):
a small block, the largest block, and a whole network (proxyless_mobile).
Each model is measured with three runner settings, to show what each part of
the runner buys:

- `tflite_bench`: the runner's defaults (10 warmup runs, at least 50 runs and
  1 s, pinned to one core, median);
- `unpinned`: the same without pinning;
- `half_second`: the defaults with 0.5 s instead of 1 s;
- `naive`: no warmup, 10 runs, the mean, unpinned.

Prints and writes `measurement_spread.json` and `measurement_spread.md`: per
model and setting, the coefficient of variation of the repeated figures
(standard deviation / mean) and their range, (max - min) / median.
The README quotes the Markdown.
"""

from __future__ import annotations

import json
import os
import statistics
import sys
import time
from pathlib import Path
from typing import Any

SETTINGS = {
    "tflite_bench": {"warmup_runs": 10, "num_runs": 50, "min_seconds": 1.0, "pin": True},
    "unpinned": {"warmup_runs": 10, "num_runs": 50, "min_seconds": 1.0, "pin": False},
    "half_second": {"warmup_runs": 10, "num_runs": 50, "min_seconds": 0.5, "pin": True},
    "naive": {"warmup_runs": 0, "num_runs": 10, "min_seconds": 0.0, "pin": False},
}


def models(resolution: int) -> dict[str, bytes]:
    """The three flatbuffers: a small block, the largest block, a whole network."""
    from tflite_bench.key_models import (
        flatbuffer_for_timing,
        key_flatbuffer,
        net_model,
        space_keys,
    )
    from tfnas.latency.features import key_macs
    from tfnas.nets.load import load_net, load_net_or_space

    keys = [k for k in space_keys(load_net_or_space("proxyless_imagenet", resolution)) if k.expand]
    by_macs = sorted(keys, key=key_macs)
    small, large = by_macs[len(by_macs) // 10], by_macs[-1]
    network = load_net("proxyless_mobile", resolution)
    return {
        f"block {small}": key_flatbuffer(small),
        f"block {large}": key_flatbuffer(large),
        f"proxyless_mobile at {resolution} px": flatbuffer_for_timing(net_model(network)),
    }


def spread(values: list[float]) -> float:
    """(max - min) / median."""
    return (max(values) - min(values)) / statistics.median(values)


def variation(values: list[float]) -> float:
    """Coefficient of variation: standard deviation / mean."""
    return statistics.pstdev(values) / statistics.fmean(values)


def measure(flatbuffers: dict[str, bytes], repeats: int) -> list[dict[str, Any]]:
    """Every model under every setting, `repeats` times."""
    from tflite_bench.runners import HostRunner

    rows = []
    for name, flatbuffer in flatbuffers.items():
        for setting, options in SETTINGS.items():
            runner = HostRunner(**options)
            figures = []
            for _ in range(repeats):
                timing = runner.time(flatbuffer, name)
                naive = setting == "naive"
                figures.append(timing.mean_ms if naive else timing.typical_ms)
            row = {
                "model": name,
                "setting": setting,
                "figure": "mean" if setting == "naive" else "median",
                "values_ms": figures,
                "median_ms": statistics.median(figures),
                "spread": spread(figures),
                "cv": variation(figures),
            }
            print(
                f"{name:70s} {setting:13s} median {row['median_ms']:8.3f} ms, "
                f"cv {100 * row['cv']:4.1f}%, range {100 * row['spread']:5.1f}%",
                flush=True,
            )
            rows.append(row)
    return rows


def markdown(results: dict[str, Any]) -> str:
    """The results as the README's table."""
    lines = [
        f"{results['repeats']} repeated measurements per model, each with a fresh interpreter; "
        f"{results['machine']}. Each cell: coefficient of variation (std / mean) of the "
        "repeated figures, and in brackets their range, (max - min) / median.",
        "",
        "| model | median | " + " | ".join(SETTINGS) + " |",
        "|---|---|" + "---|" * len(SETTINGS),
    ]
    by_model: dict[str, dict[str, Any]] = {}
    for row in results["rows"]:
        by_model.setdefault(row["model"], {})[row["setting"]] = row
    for model, rows in by_model.items():
        lines.append(
            f"| {model} | {rows['tflite_bench']['median_ms']:.3f} ms | "
            + " | ".join(
                f"{100 * rows[s]['cv']:.1f}% ({100 * rows[s]['spread']:.1f}%)" for s in SETTINGS
            )
            + " |"
        )
    return "\n".join(lines) + "\n"


def main(argv: list[str]) -> None:
    """Entry point: measures, prints and writes the results."""
    from absl import flags

    from tflite_bench.runners import cpu_name
    from tfnas.io.atomic import write_text_atomic

    del argv
    flag_values = flags.FLAGS
    began = time.monotonic()
    rows = measure(models(flag_values.resolution), flag_values.repeats)
    results = {
        "repeats": flag_values.repeats,
        "resolution": flag_values.resolution,
        "machine": f"{cpu_name()}, {os.cpu_count()} cores, one interpreter thread",
        "settings": SETTINGS,
        "rows": rows,
        "seconds": time.monotonic() - began,
    }
    out = Path(flag_values.output_dir)
    text = markdown(results)
    print(text)
    write_text_atomic(out / "measurement_spread.json", json.dumps(results, indent=2) + "\n")
    write_text_atomic(out / "measurement_spread.md", text)


if __name__ == "__main__":
    from absl import app, flags

    flags.DEFINE_integer("repeats", 10, "Measurements per model and setting.")
    flags.DEFINE_integer("resolution", 224, "Resolution of the models.")
    flags.DEFINE_string("output_dir", "benchmarks/results", "Where the results files go.")
    app.run(lambda argv: sys.exit(main(argv)))
