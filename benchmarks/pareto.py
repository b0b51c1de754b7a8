"""This host's measured Pareto front: searched networks at several latencies against width sweeps.

    python -m benchmarks.pareto [--resume] [--epochs=20] [--augment=none] [--width_mult=1]
        [--search_warmup_epochs=5] [--search_epochs=10] [--int8]
        [--runs_dir=runs/worth_deploying] [--output_dir=benchmarks/results]

Needs the Fashion-MNIST files (`apt-get install dataset-fashion-mnist`). Runs
for hours on 2 cores: run it alone (it times networks on this host), with
the recipe flags `benchmarks.worth_deploying` ran with, in its runs folder:
the parts both need (the host's table, the hand-designed networks, the
search and trainings at MobileNetV2 1.0's latency) are then run once
(`benchmarks.host_study`).

A user choosing a network for this device looks at accuracy against
measured latency. Here:

1. the searched networks: one search (seed `SEARCH_SEED`) held to the
   measured latency of each of `TARGETS` (MobileNetV2 at widths 0.5, 1.0
   and 1.4, as exported), each derived network trained with `SEEDS`;
2. the width sweeps: every width of MobileNetV2, MobileNetV3-Small and
   MobileNetV3-Large (`benchmarks.host_study.FAMILIES`), trained with the
   first seed;
3. every network exported (float32; with `--int8`, also full-integer int8
   calibrated on training images, its accuracy measured on the whole test
   set) and timed here as deployed, the median of passes over all files.

The report marks the points on the front (no other network is as fast and
as accurate, and better in one), and for each searched network names the
hand-designed networks that dominate it and those it dominates. Writes
`pareto.json`, `.md` and `.png` (test accuracy against measured latency; a
second panel for int8).
"""

from __future__ import annotations

import os
import platform
import statistics
from pathlib import Path
from typing import Any

from benchmarks.common import Progress, benchmark_main, part_commits
from benchmarks.host_study import (
    FAMILIES,
    SEEDS,
    HostStudy,
    cached_measurements,
    recipe_line,
    searched_name,
    study_from_flags,
)

TARGETS = ("mobilenet_v2-0.5", "mobilenet_v2-1", "mobilenet_v2-1.4")
SEARCH_SEED = 2  # the third search of benchmarks.worth_deploying at MobileNetV2 1.0
SWEPT = ("mobilenet_v2", "mobilenet_v3_small", "mobilenet_v3_large")
INT8_CHECK_IMAGES = 10_000  # the whole Fashion-MNIST test set
RESULTS_NAME = "pareto"


def run_all(study: HostStudy, int8: bool = False) -> dict[str, Any]:
    """Runs (or reuses) every part of `study`; returns the figures the report is made of."""
    progress = Progress(total=5)
    progress("this host's latency table of the space, and its validation")
    validation = study.host_table()
    progress("the hand-designed networks: as exported, measured here")
    hand_archs, hand_ms = study.hand_designed()

    progress("a search at each target's measured latency")
    networks: dict[str, dict[str, Any]] = {}
    for target in TARGETS:
        searched = study.search_at(target, hand_ms[target], SEARCH_SEED)
        networks[searched_name(target, SEARCH_SEED)] = {
            "arch": searched["arch"],
            "method": "ProxylessNAS",
            "target": target,
            "target_ms": hand_ms[target],
            "ops": searched["ops"],
            "seeds": SEEDS,
        }
    for family in FAMILIES:
        if family.slug in SWEPT:
            for width in family.widths:
                name = f"{family.slug}-{width:g}"
                networks[name] = {
                    "arch": str(hand_archs[name]),
                    "method": family.method,
                    "width": width,
                    "seeds": SEEDS[:1],
                }

    progress(f"training every network for {study.epochs} epochs, exporting it")
    for name, net in networks.items():
        net |= study.train_and_export(name, net["arch"], net["seeds"])
        if int8:
            net |= int8_export(study, name, net["seeds"][0])

    progress("timing every exported file on this host")
    for kind in ("float32", "int8") if int8 else ("float32",):
        key = "exported" if kind == "float32" else "exported_int8"
        if kind == "float32":
            files = study.timed_files(networks)
        else:  # int8 needs the trained model: its accuracy is measured on the file
            files = {name: Path(net[key]) for name, net in networks.items()}
        measured = cached_measurements(study.runs / f"pareto_{kind}.json", files, study.measure)
        for name, net in networks.items():
            net["measured_ms" if kind == "float32" else "int8_ms"] = measured[name]
    return {
        **study.recipe(),
        "machine": f"{platform.machine()}, {os.cpu_count()} cores",
        "validation": validation,
        "networks": networks,
        "part_commits": part_commits(study.parts),
    }


def int8_export(study: HostStudy, name: str, seed: int) -> dict[str, Any]:
    """The first seed's network as int8 TFLite: its file and its test accuracy."""
    exported = study.part(
        "deploy.export",
        [
            f"--model_dir={study.runs / 'train' / f'{name}-seed{seed}'}",
            "--formats=int8",
            f"--check_images={INT8_CHECK_IMAGES}",
        ],
        f"export-int8/{name}",
        "export_report.json",
        resume_flag=None,
    )
    row = exported["formats"]["int8"]
    return {"exported_int8": row["path"], "int8_accuracy": row["accuracy"]}


def front(points: dict[str, tuple[float, float]]) -> dict[str, dict[str, Any]]:
    """For each point: whether it is on the front, and the points that dominate it."""
    from tfnas.compare.evaluate import dominates

    fronts = {}
    for name, point in points.items():
        above = sorted(other for other, at in points.items() if dominates(at, point))
        fronts[name] = {"on_front": not above, "dominated_by": above}
    return fronts


def summarize(figures: dict[str, Any]) -> dict[str, Any]:
    """The front of float32 (and int8) points, and each searched network against the hand-designed.

    A point is a network's measured latency and its mean test accuracy over
    its seeds (int8: its int8 file's latency and test accuracy).
    """
    from tfnas.compare.evaluate import dominates

    networks = figures["networks"]
    panels = {
        "float32": {
            name: (net["measured_ms"], statistics.fmean(net["test_accuracies"]))
            for name, net in networks.items()
        }
    }
    if all("int8_ms" in net for net in networks.values()):
        panels["int8"] = {
            name: (net["int8_ms"], net["int8_accuracy"]) for name, net in networks.items()
        }
    summary: dict[str, Any] = {}
    for panel, points in panels.items():
        fronts = front(points)
        searched = [name for name in points if networks[name]["method"] == "ProxylessNAS"]
        summary[panel] = {
            "points": {name: list(point) for name, point in points.items()},
            "front": fronts,
            "searched": {
                name: {
                    "dominated_by": fronts[name]["dominated_by"],
                    "dominates": sorted(
                        other
                        for other in points
                        if other not in searched and dominates(points[name], points[other])
                    ),
                }
                for name in searched
            },
        }
    return summary


def markdown(figures: dict[str, Any], summary: dict[str, Any]) -> str:
    """Per panel the networks by latency, the front marked, and what each search dominates."""
    networks = figures["networks"]
    lines = [
        f"{recipe_line(figures)}; latency: the exported TFLite file on this host "
        f"({figures['machine']}), batch 1. Searches "
        f"({figures['search_schedule']['warmup_epochs']} warmup + "
        f"{figures['search_schedule']['epochs']} epochs, seed {SEARCH_SEED}) held to each "
        "target's measured latency on this host's table.",
    ]
    for panel, result in summary.items():
        accuracy = "test accuracy" + (" (mean over seeds)" if panel == "float32" else " of int8")
        lines += [
            "",
            f"**{panel}**",
            "",
            f"| network | method | seeds | measured (ms) | {accuracy} | on the front |",
            "|---|---|---:|---:|---:|---|",
        ]
        points = result["points"]
        for name in sorted(points, key=lambda n: points[n][0]):
            net = networks[name]
            label = net["method"] + (
                f" at {net['target']}" if "target" in net else f" {net['width']:g}"
            )
            lines.append(
                f"| {name} | {label} | {len(net['test_accuracies'])} | {points[name][0]:.4f} | "
                f"{points[name][1]:.4f} | {'yes' if result['front'][name]['on_front'] else ''} |"
            )
        lines.append("")
        for name, against in result["searched"].items():
            lines.append(
                f"- {name}: dominated by {', '.join(against['dominated_by']) or 'none'}; "
                f"dominates {', '.join(against['dominates']) or 'none'}."
            )
    return "\n".join(lines) + "\n"


def plot(figures: dict[str, Any], path: Path) -> Path:
    """Test accuracy against measured latency, one colour per method, the front joined."""
    from tfnas.plots import label_axes, new_figure, save_figure

    summary = summarize(figures)
    figure, axes_grid = new_figure(
        1, len(summary), figsize=(6.5 * len(summary), 4.5), squeeze=False
    )
    axes_row = axes_grid[0]
    methods = sorted({net["method"] for net in figures["networks"].values()})
    for axes, (panel, result) in zip(axes_row, summary.items(), strict=True):
        points = result["points"]
        for k, method in enumerate(methods):
            names = [n for n in points if figures["networks"][n]["method"] == method]
            axes.scatter(
                [points[n][0] for n in names],
                [points[n][1] for n in names],
                label=method,
                color=f"C{k}",
                marker="*" if method == "ProxylessNAS" else "o",
                s=90 if method == "ProxylessNAS" else 30,
            )
        on_front = sorted(points[n] for n in points if result["front"][n]["on_front"])
        axes.plot(*zip(*on_front, strict=True), color="0.5", linewidth=1, zorder=0)
        label_axes(
            axes,
            (
                f"measured latency of the exported {panel} file (ms)",
                "test accuracy",
                f"Fashion-MNIST on this host, {panel}",
            ),
        )
    figure.tight_layout()
    return save_figure(figure, path)


def main(argv: list[str]) -> None:
    """Entry point: runs (or reuses) every part, prints and writes the results."""
    from absl import flags

    del argv

    def run(runs: Path, resume: bool) -> dict[str, Any]:
        return run_all(study_from_flags(runs, resume), flags.FLAGS.int8)

    benchmark_main(run, summarize, markdown, plot, RESULTS_NAME)


if __name__ == "__main__":
    from absl import app, flags

    from benchmarks.host_study import define_study_flags

    define_study_flags()
    flags.DEFINE_bool("int8", False, "Also export, time and evaluate every network as int8.")
    app.run(main)
