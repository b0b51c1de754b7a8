"""Does a network searched for one device win on it? This host against the `mobile` model (RQ5).

    python -m benchmarks.hardware_specific [--resume] [--epochs=20] [--augment=none]
        [--width_mult=1] [--search_warmup_epochs=5] [--search_epochs=10]
        [--runs_dir=runs/worth_deploying] [--output_dir=benchmarks/results]

Needs the Fashion-MNIST files (`apt-get install dataset-fashion-mnist`). Runs
for hours on 2 cores: run it alone, with the recipe flags
`benchmarks.worth_deploying` ran with, in its runs folder (its host table
and its search at MobileNetV2 1.0's latency are this benchmark's too;
`benchmarks.host_study`).

The paper searched one network per device and found each fastest on its own
device at the same accuracy: a 7x7 kernel that a mobile CPU runs cheaply can
cost a GPU (or another CPU) much more. Here the two devices are this host
(float32 TFLite, measured) and `mobile`, the Pixel 1 latency model of the
reference (predicted). The targets are the same percentile of each device's
space: the host's is MobileNetV2 1.0's measured latency, and its percentile
among `POOL` uniform networks of the space predicted on the host's table
sets the `mobile` target. One search (seed `SEED`) per device, each network
trained with `SEEDS`, exported, timed here and predicted on `mobile`.

The report: the matrix (each network on each device, with its accuracy),
whether each network is the faster of the two on its own device, and how
the architectures differ (each block's op, kernel sizes, expansions, depth).
Writes `hardware_specific.json` and `.md`, and `.png` (latency on each device,
one point per network).
"""

from __future__ import annotations

import os
import platform
import statistics
from collections import Counter
from pathlib import Path
from typing import Any

from benchmarks.common import Progress, benchmark_main, draw_choices, part_commits
from benchmarks.host_study import (
    EXPERIMENT,
    SEEDS,
    TARGET,
    HostStudy,
    cached_measurements,
    recipe_line,
    searched_name,
    study_from_flags,
)

SEED = 2  # the third search of benchmarks.worth_deploying, at the host's target
POOL = 20_000
DRAW_SEED = 4
MOBILE = "mobile"
RESULTS_NAME = "hardware_specific"


def percentile_target(host: Any, mobile: Any, pool: list[list[int]], host_ms: float) -> dict:
    """The `mobile` latency at the percentile `host_ms` has among `pool` on the host.

    `host` and `mobile` are `SpaceLatency`s of the same space.
    """
    on_host = sorted(host.latency_of(c) for c in pool)
    on_mobile = sorted(mobile.latency_of(c) for c in pool)
    below = sum(ms <= host_ms for ms in on_host)
    rank = min(max(below - 1, 0), len(pool) - 1)
    return {"percentile": below / len(pool), "mobile_ms": on_mobile[rank]}


def run_all(study: HostStudy) -> dict[str, Any]:
    """Runs (or reuses) every part of `study`; returns the figures the report is made of."""
    from tfnas.latency.model import net_latency, space_latency
    from tfnas.latency.targets import load_target
    from tfnas.nets.load import load_net
    from tfnas.search.config import resolve
    from tfnas.search.runner import build_space

    progress = Progress(total=5)
    progress("this host's latency table of the space, and its validation")
    validation = study.host_table()
    progress("the host's target, and the same percentile of the space on `mobile`")
    _, hand_ms = study.hand_designed()
    host_target = hand_ms[TARGET]
    space = build_space(resolve(EXPERIMENT, width_mult=study.width_mult), 10, in_channels=1)
    host_model, mobile_model = load_target(str(study.table)), load_target(MOBILE)
    pool = draw_choices([len(b.candidates) for b in space.choice_blocks], POOL, DRAW_SEED)
    target = percentile_target(
        space_latency(host_model, space), space_latency(mobile_model, space), pool, host_target
    )

    progress("a search for each device")
    searched = {
        "host": study.search_at(TARGET, host_target, SEED)
        | {"name": searched_name(TARGET, SEED), "target_ms": host_target},
        MOBILE: study.search(
            f"search-{MOBILE}-seed{SEED}",
            [f"--target={MOBILE}", f"--target_latency={target['mobile_ms']:.6f}"],
            SEED,
        )
        | {"name": f"searched-{MOBILE}-{SEED}", "target_ms": target["mobile_ms"]},
    }

    progress(f"training both networks for {study.epochs} epochs, exporting them")
    networks = {}
    for device, result in searched.items():
        net = study.train_and_export(result["name"], result["arch"], SEEDS)
        spec = load_net(result["arch"])
        networks[device] = {
            "name": result["name"],
            "arch": result["arch"],
            "ops": result["ops"],
            "target_ms": result["target_ms"],
            "predicted_mobile_ms": net_latency(mobile_model, spec).total,
            "predicted_host_ms": net_latency(host_model, spec).total,
            **net,
        }

    progress("timing both exported files on this host")
    files = study.timed_files(networks)
    measured = cached_measurements(study.runs / "hardware_specific.json", files, study.measure)
    for device, net in networks.items():
        net["measured_host_ms"] = measured[device]
    return {
        **study.recipe(),
        "machine": f"{platform.machine()}, {os.cpu_count()} cores",
        "validation": validation,
        "host_target_ms": host_target,
        "percentile": target["percentile"],
        "mobile_target_ms": target["mobile_ms"],
        "networks": networks,
        "part_commits": part_commits(study.parts),
    }


def architecture(ops: list[str]) -> dict[str, Any]:
    """What a network's choices amount to: blocks kept, kernel sizes and expansions counted."""
    from tfnas.nets.ops import MBConvOp, parse_op

    kept = [op for op in map(parse_op, ops) if isinstance(op, MBConvOp)]
    return {
        "blocks": len(kept),
        "skipped": len(ops) - len(kept),
        "kernels": dict(sorted(Counter(op.kernel_size for op in kept).items())),
        "expansions": dict(sorted(Counter(op.expand_ratio for op in kept).items())),
        "mean_expansion": statistics.fmean(op.expand_ratio for op in kept) if kept else 0.0,
    }


def summarize(figures: dict[str, Any]) -> dict[str, Any]:
    """Each network on each device, whether it is the faster on its own, and the architectures."""
    networks = figures["networks"]
    latency_on = {"host": "measured_host_ms", MOBILE: "predicted_mobile_ms"}
    other = {"host": MOBILE, MOBILE: "host"}
    return {
        "wins_on_own_device": {
            device: networks[device][latency_on[device]]
            < networks[other[device]][latency_on[device]]
            for device in networks
        },
        "matrix": {
            device: {
                "host_ms": net["measured_host_ms"],
                "mobile_ms": net["predicted_mobile_ms"],
                "accuracy": statistics.fmean(net["test_accuracies"]),
                "accuracy_std": statistics.stdev(net["test_accuracies"])
                if len(net["test_accuracies"]) > 1
                else 0.0,
            }
            for device, net in networks.items()
        },
        "architectures": {device: architecture(net["ops"]) for device, net in networks.items()},
    }


def markdown(figures: dict[str, Any], summary: dict[str, Any]) -> str:
    """The matrix, the verdict per device, and the two architectures side by side."""
    networks = figures["networks"]
    lines = [
        f"{recipe_line(figures)}, seeds {', '.join(map(str, SEEDS))}. Targets at the "
        f"{100 * figures['percentile']:.0f}th percentile of the space on each device: "
        f"{figures['host_target_ms']:.4f} ms on this host ({figures['machine']}; "
        "MobileNetV2 1.0 as exported), "
        f"{figures['mobile_target_ms']:.3f} ms on `mobile` (the Pixel 1 model).",
        "",
        "| searched for | this host, measured (ms) | `mobile`, predicted (ms) "
        "| test accuracy (mean ± std) |",
        "|---|---:|---:|---|",
    ]
    for device, row in summary["matrix"].items():
        lines.append(
            f"| {device} ({networks[device]['name']}) | {row['host_ms']:.4f} | "
            f"{row['mobile_ms']:.3f} | {row['accuracy']:.4f} ± {row['accuracy_std']:.4f} |"
        )
    lines.append("")
    for device, wins in summary["wins_on_own_device"].items():
        lines.append(
            f"- The network searched for {device} is "
            + ("the faster" if wins else "not the faster")
            + f" of the two on {device}."
        )
    lines += ["", "| searched for | ops per block | blocks kept | kernels | expansions |"]
    lines.append("|---|---|---:|---|---|")
    for device, arch in summary["architectures"].items():
        kernels = ", ".join(f"{k}x{k}: {n}" for k, n in arch["kernels"].items())
        expansions = ", ".join(f"{e}: {n}" for e, n in arch["expansions"].items())
        lines.append(
            f"| {device} | {' '.join(networks[device]['ops'])} | {arch['blocks']} of "
            f"{arch['blocks'] + arch['skipped']} | {kernels} | {expansions} |"
        )
    return "\n".join(lines) + "\n"


def plot(figures: dict[str, Any], path: Path) -> Path:
    """Each network's latency on this host against its latency on `mobile`, targets dashed."""
    from tfnas.plots import finish_figure, new_figure

    figure, axes = new_figure(figsize=(5.5, 4.2))
    for k, (device, net) in enumerate(figures["networks"].items()):
        axes.scatter(
            net["predicted_mobile_ms"],
            net["measured_host_ms"],
            color=f"C{k}",
            s=60,
            label=f"searched for {device}",
        )
    axes.axvline(figures["mobile_target_ms"], color="0.5", linestyle="--", linewidth=1)
    axes.axhline(figures["host_target_ms"], color="0.5", linestyle="--", linewidth=1)
    return finish_figure(
        figure,
        axes,
        path,
        (
            "`mobile` (Pixel 1 model), predicted (ms)",
            "this host, measured as exported (ms)",
            "A network per device, on both",
        ),
    )


def main(argv: list[str]) -> None:
    """Entry point: runs (or reuses) every part, prints and writes the results."""
    del argv
    benchmark_main(
        lambda runs, resume: run_all(study_from_flags(runs, resume)),
        summarize,
        markdown,
        plot,
        RESULTS_NAME,
    )


if __name__ == "__main__":
    from absl import app

    from benchmarks.host_study import define_study_flags

    define_study_flags()
    app.run(main)
