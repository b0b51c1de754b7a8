"""Does the device loop land on target on a device its table was not measured on?

    python -m benchmarks.device_loop [--runs_dir=runs/device_loop]
        [--output_dir=benchmarks/results] [--rounds=3] [--tolerance=0.05] [--repeats=10] \
        [--seeds=1]

On this host (the shipped `cpu` table was measured on a 2-core AMD EPYC;
on that machine this is not another device: say so when reporting), for
targets at the 25th, 50th and 75th percentile of the demo space's latencies
on the `cpu` model (`DRAWS` uniform draws), each from a fresh table started
from `cpu`:

    python -m tfnas.loop --experiment=demo --target_latency=T --device=host \
        --warmup_epochs=1 --epochs=2 --rounds=3 --seed=S --output_dir=runs/device_loop/pNN[-sS]

With `--seeds=N` every target runs N times, with search seeds 0..N-1
(another split, data order, path sampling and alpha: another search and
another pick). Reports per target and round the table's prediction and the host's float32
TFLite measurement, whether it landed within the tolerance, and the
table's error on each round's network against how many measurements the
table held before it (how many a new device needs to reach ±10%). The loop
decides on the median of a few timings per network (`--passes`), so each
loop's last network is timed `--repeats` more times afterwards (a fresh
interpreter each, as the loop times it): whether it is on target does not
hang on a few lucky timings. A finished loop
is reused. Prints and writes `device_loop.json`, `device_loop.md` and
`device_loop.png`.
"""

from __future__ import annotations

import json
import os
import platform
from pathlib import Path
from typing import Any

import numpy as np

from benchmarks.common import PartError, Progress, draw_choices, run_logged

PERCENTILES = (25, 50, 75)
DRAWS = 3000
SEARCH_FLAGS = ["--experiment=demo", "--warmup_epochs=1", "--epochs=2"]
RESULTS_NAME = "device_loop"


def space_percentiles(percentiles: tuple[int, ...] = PERCENTILES) -> dict[int, float]:
    """The demo space's latency on the `cpu` model at `percentiles` of uniform draws (ms)."""
    from tfnas.latency.model import space_latency
    from tfnas.latency.targets import load_target
    from tfnas.search.config import resolve
    from tfnas.search.runner import build_space

    space = build_space(resolve("demo"), num_classes=10)
    latency = space_latency(load_target("cpu"), space)
    draws = draw_choices([len(b.candidates) for b in space.choice_blocks], DRAWS, seed=0)
    values = [latency.latency_of(choices) for choices in draws]
    return {p: float(np.percentile(values, p)) for p in percentiles}


def table_errors(reports: dict[str, dict[str, Any]]) -> list[dict[str, Any]]:
    """Each round's prediction error against the measurements its table held when it predicted.

    A round predicts its network after measuring the parts its picks lacked
    (`parts_before_pick`), before timing the network.
    """
    rows = []
    for name, report in reports.items():
        parts = 0
        for networks, r in enumerate(report["rounds"]):
            error = (r["predicted_ms"] - r["measured_ms"]) / r["measured_ms"]
            rows.append(
                {
                    "loop": name,
                    "round": r["round"],
                    "parts_before": parts + r.get("parts_before_pick", 0),
                    "networks_before": networks,
                    "error": error,
                }
            )
            parts += len(r["measured_parts"])
    return rows


def run_loop(args: list[str], out: Path, resume: bool) -> dict[str, Any]:
    """`python -m tfnas.loop ARGS` into `out` (reused when finished); returns its report.

    Exit status 1 (not on target after every round) is an outcome, not a failure.
    """
    report = out / "loop_report.json"
    if report.exists() and json.loads(report.read_text()).get("finished"):
        return json.loads(report.read_text())
    if out.exists() and not resume:
        raise PartError(f"{out} holds an unfinished loop: pass --resume to continue it")
    again = ["--resume"] if out.exists() else []
    run_logged(
        "tfnas.loop",
        [*args, f"--output_dir={out}", *again],
        out.parent / f"{out.name}.log",
        ok=(0, 1),
    )
    return json.loads(report.read_text())


def retime(arch: Path, repeats: int) -> list[float]:
    """`repeats` more host timings (ms) of the network in `arch`, as the loop converts it."""
    from tflite_bench.refresh import deployed_flatbuffer
    from tflite_bench.runners import HostRunner
    from tfnas.nets.load import load_net

    flatbuffer = deployed_flatbuffer(load_net(str(arch)))
    runner = HostRunner()
    return [runner.time(flatbuffer, arch.parent.name).typical_ms for _ in range(repeats)]


def repeat_summary(
    report: dict[str, Any], timings: list[float], tolerance: float
) -> dict[str, Any]:
    """The repeated timings of a loop's last network against its target."""
    target = report["target_ms"]
    offsets = [(t - target) / target for t in timings]
    return {
        "timings_ms": timings,
        "median_offset": float(np.median(offsets)),
        "min_offset": min(offsets),
        "max_offset": max(offsets),
        "all_within": all(abs(o) <= tolerance for o in offsets),
    }


def loop_name(percentile: int, seed: int) -> str:
    """A loop's name and folder: `p50` for seed 0 (as before seeds were added), `p50-s1`."""
    return f"p{percentile}" if seed == 0 else f"p{percentile}-s{seed}"


def run_all(
    runs: Path,
    resume: bool,
    rounds: int,
    tolerance: float,
    repeats: int,
    seeds: int = 1,
) -> dict[str, Any]:
    """Runs (or reuses) the loop of every target and seed; returns the figures of the report."""
    targets = space_percentiles()
    progress = Progress(total=len(targets) * seeds + 1)
    reports = {}
    for seed in range(seeds):
        for percentile, target in targets.items():
            name = loop_name(percentile, seed)
            progress(f"the loop at the {percentile}th percentile, {target:.4f} ms, seed {seed}")
            args = [
                *SEARCH_FLAGS,
                f"--seed={seed}",
                f"--target_latency={target:.6g}",
                "--device=host",
                f"--rounds={rounds}",
                f"--tolerance={tolerance}",
            ]
            reports[name] = run_loop(args, runs / name, resume)
    progress(f"each loop's last network, {repeats} more timings")
    repeated = {
        name: repeat_summary(report, retime(runs / name / "arch.json", repeats), tolerance)
        for name, report in reports.items()
    }
    return {
        "machine": f"{platform.machine()}, {os.cpu_count()} cores",
        "percentiles": {f"p{p}": t for p, t in targets.items()},
        "tolerance": tolerance,
        "loops": reports,
        "table_errors": table_errors(reports),
        "repeated": repeated,
    }


def markdown(figures: dict[str, Any]) -> str:
    """The tables the README quotes: every round of every loop, and the table's error."""
    lines = [
        f"Demo space, `tfnas.loop` from the shipped `cpu` table (2-core AMD EPYC) on "
        f"{next(iter(figures['loops'].values()))['device']}; float32 TFLite, one thread; "
        f"tolerance ±{100 * figures['tolerance']:g}%; {figures['machine']}.",
        "",
        "| target | round | picked | picks | predicted (ms) | measured (ms) | error vs target "
        "| parts measured |",
        "|---|---:|---|---:|---:|---:|---:|---:|",
    ]
    for name, report in figures["loops"].items():
        target = report["target_ms"]
        for r in report["rounds"]:
            off = (r["measured_ms"] - target) / target
            lines.append(
                f"| {name}: {target:.4f} ms | {r['round']} | {r['picked']} | "
                f"{len(r.get('pick_steps', [None]))} | {r['predicted_ms']:.4f} | "
                f"{r['measured_ms']:.4f} | {100 * off:+.1f}% | "
                f"{len(r['measured_parts'])} |"
            )
    loops = figures["loops"]
    landed = [
        f"{name} {'on target' if report['on_target'] else 'NOT on target'} after "
        f"{len(report['rounds'])} round(s)"
        for name, report in loops.items()
    ]
    on_target = sum(report["on_target"] for report in loops.values())
    landed.append(f"{on_target} of {len(loops)} loops on target")
    lines += [
        "",
        "picks: the networks a round picked, measuring the parts each lacked, until one "
        "lacked none; that one was timed whole. parts measured: all the round measured.",
        "",
        "; ".join(landed) + ".",
        "",
    ]
    repeated = figures.get("repeated", {})
    if repeated:
        lines += [
            "Each loop's last network timed again (fresh interpreter each time), against the "
            "target:",
            "",
            "| loop | timings | median | range | all within the tolerance |",
            "|---|---:|---:|---|---|",
        ]
        for name, r in repeated.items():
            lines.append(
                f"| {name} | {len(r['timings_ms'])} | {100 * r['median_offset']:+.1f}% | "
                f"{100 * r['min_offset']:+.1f}% to {100 * r['max_offset']:+.1f}% | "
                f"{'yes' if r['all_within'] else 'no'} |"
            )
        lines.append("")
    lines += [
        "The table's error on each round's network, against what it held when it predicted "
        "it (after the parts measured for the round's picks):",
        "",
        "| loop | round | parts measured before | networks measured before | error |",
        "|---|---:|---:|---:|---:|",
    ]
    for row in figures["table_errors"]:
        lines.append(
            f"| {row['loop']} | {row['round']} | {row['parts_before']} | "
            f"{row['networks_before']} | {100 * row['error']:+.1f}% |"
        )
    return "\n".join(lines) + "\n"


def plot(figures: dict[str, Any], path: Path) -> Path:
    """Predicted and measured latency per round for every target, with the tolerance band."""
    from tfnas.plots import new_figure, save_figure

    loops = figures["loops"]
    figure, axes_row = new_figure(1, len(loops), figsize=(4 * len(loops), 3.6), squeeze=False)
    for axes, (name, report) in zip(axes_row[0], loops.items(), strict=True):
        target, tolerance = report["target_ms"], figures["tolerance"]
        numbers = [r["round"] for r in report["rounds"]]
        axes.axhspan(target * (1 - tolerance), target * (1 + tolerance), color="0.9")
        axes.axhline(target, color="0.4", linestyle="--", linewidth=1)
        axes.plot(numbers, [r["predicted_ms"] for r in report["rounds"]], "o-", label="predicted")
        axes.plot(numbers, [r["measured_ms"] for r in report["rounds"]], "s-", label="measured")
        axes.set_xticks(numbers)
        axes.set_title(f"{name}: {target:.3f} ms")
        axes.set_xlabel("round")
        axes.grid(alpha=0.3)
    axes_row[0][0].set_ylabel("latency (ms)")
    axes_row[0][0].legend(fontsize=8)
    figure.tight_layout()
    return save_figure(figure, path)


def main(argv: list[str]) -> None:
    """Entry point: runs (or reuses) every loop, prints and writes the results."""
    import sys

    from absl import flags

    from tfnas.io.atomic import write_text_atomic

    del argv
    values = flags.FLAGS
    try:
        figures = run_all(
            Path(values.runs_dir),
            values.resume,
            values.rounds,
            values.tolerance,
            values.repeats,
            values.seeds,
        )
    except PartError as error:
        sys.exit(f"error: {error}")
    text = markdown(figures)
    print(text)
    out = Path(values.output_dir)
    write_text_atomic(out / f"{RESULTS_NAME}.json", json.dumps(figures, indent=2) + "\n")
    write_text_atomic(out / f"{RESULTS_NAME}.md", text)
    plot(figures, out / f"{RESULTS_NAME}.png")


if __name__ == "__main__":
    from absl import app, flags

    from benchmarks.common import define_benchmark_flags

    define_benchmark_flags("runs/device_loop")
    flags.DEFINE_integer("rounds", 3, "At most this many rounds per loop.")
    flags.DEFINE_float("tolerance", 0.05, "Within this fraction of the target.")
    flags.DEFINE_integer("repeats", 10, "Time each loop's last network this many more times.")
    flags.DEFINE_integer("seeds", 1, "Run every target's loop with search seeds 0..N-1.")
    app.run(main)
