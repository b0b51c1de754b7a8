"""Do the networks of the `fashion_mnist` space differ by more than one network's seeds do?

    python -m benchmarks.space_spread [--resume] [--runs_dir=runs/space_spread]
        [--output_dir=benchmarks/results]

Needs the Fashion-MNIST files (`apt-get install dataset-fashion-mnist`, as
`benchmarks.search_vs_random`).

A search space is worth searching only when its networks really differ:
`NETWORKS` networks are drawn uniformly from the whole space (each choice
block's candidate uniformly and independently, no latency limit) and each is
trained once (seed 0) with the experiment's recipe, `python -m tfnas.train
--experiment=fashion_mnist`; the first `SEEDED` of them are trained again with
the other `SEEDS`. Reported: the standard deviation of test accuracy between
the networks (seed 0), the pooled standard deviation between seeds of one
network, their ratio, and how much of the networks' differences their
predicted latency explains. `benchmarks.search_vs_random` measures the same
ratio among networks of one latency.

A finished training is reused; `--resume` continues an interrupted one.
Prints and writes `space_spread.json`, `space_spread.md` and
`space_spread.png`.
"""

from __future__ import annotations

import json
import os
import platform
import statistics
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from benchmarks.common import (
    EXPERIMENT,
    Progress,
    benchmark_command,
    draw_choices,
    ops_run,
    pooled_seed_variance,
    run_part,
    spread,
)

NETWORKS = 8
SEEDED = 2
SEEDS = (0, 1, 2)
# Not search_vs_random's draw seed (0), so that these networks are other draws.
DRAW_SEED = 1
RESULTS_NAME = "space_spread"


def pooled_seed_std(accuracies: Sequence[Sequence[float]]) -> float:
    """The standard deviation between seeds of one network, pooled over networks.

    The square root of the per-network sample variances averaged with their
    degrees of freedom as weights (one-way ANOVA's within-group variance).

    Raises:
        ValueError: No network has two seeds.
    """
    return pooled_seed_variance(accuracies)[0] ** 0.5


def latency_share(latencies: Sequence[float], accuracies: Sequence[float]) -> float:
    """R^2 of a least-squares line of accuracy on latency: the share latency explains."""
    x, y = np.asarray(latencies, float), np.asarray(accuracies, float)
    if len(x) < 3 or np.ptp(x) == 0 or np.ptp(y) == 0:
        raise ValueError(f"expected at least 3 points with varying values, got {len(x)}")
    return float(np.corrcoef(x, y)[0, 1] ** 2)


def trainings(count: int) -> list[tuple[int, int]]:
    """(network index, seed) in the order they run: seed 0 of every network first.

    So an interrupted benchmark has the spread between networks before the
    extra seeds of the first `SEEDED`.
    """
    extra = [(k, seed) for seed in SEEDS[1:] for k in range(min(SEEDED, count))]
    return [(k, SEEDS[0]) for k in range(count)] + extra


def draw_networks(runs: Path, count: int = NETWORKS) -> list[dict[str, Any]]:
    """`count` uniform draws of the whole space: drawn once, then kept in `networks.json`."""
    from tfnas.io.atomic import write_text_atomic
    from tfnas.nets import spec_json
    from tfnas.search.config import resolve
    from tfnas.search.runner import build_space

    kept = runs / "networks.json"
    if kept.exists():
        return json.loads(kept.read_text())
    space = build_space(resolve(EXPERIMENT), num_classes=10, in_channels=1)
    sizes = [len(block.candidates) for block in space.choice_blocks]
    networks = []
    for k, choices in enumerate(draw_choices(sizes, count, seed=DRAW_SEED)):
        arch = runs / "archs" / f"net-{k}.json"
        arch.parent.mkdir(parents=True, exist_ok=True)
        spec_json.save_spec(space.select(choices), arch)
        networks.append({"name": f"net-{k}", "choices": choices, "arch": str(arch)})
    write_text_atomic(kept, json.dumps(networks, indent=2) + "\n")
    return networks


def run_all(runs: Path, resume: bool) -> dict[str, Any]:
    """Trains (or reuses) every network and seed; returns the figures of the report."""
    from tfnas.compare.evaluate import predicted_latencies
    from tfnas.search.config import resolve

    networks = draw_networks(runs)
    target = resolve(EXPERIMENT).latency.target
    order = trainings(len(networks))
    progress = Progress(total=len(order))
    for k, seed in order:
        net = networks[k]
        progress(f"{net['name']}, seed {seed}")
        summary = run_part(
            "tfnas.train",
            [f"--experiment={EXPERIMENT}", f"--arch={net['arch']}", f"--seed={seed}"],
            runs / f"{net['name']}-seed{seed}",
            "train_summary.json",
            resume,
        )
        net.setdefault("test_accuracies", []).append(summary["test_accuracy"])
    for net in networks:
        predicted = predicted_latencies(net["arch"], target)
        net["predicted_mobile"] = predicted["predicted_latency"]
        net["predicted_cpu"] = predicted["predicted_cpu_latency"]
    return {
        "experiment": EXPERIMENT,
        "target": target,
        "machine": f"{platform.machine()}, {os.cpu_count()} cores",
        "networks": networks,
    }


def summarize(figures: dict[str, Any]) -> dict[str, Any]:
    """Spread between networks and between seeds, their ratio, and latency's share."""
    networks = figures["networks"]
    first_seed = [net["test_accuracies"][0] for net in networks]
    between = spread(first_seed)
    within = pooled_seed_std([net["test_accuracies"] for net in networks])
    return {
        "between_networks": between,
        "between_seeds": within,
        "ratio": between["std"] / within,
        "latency_r2": latency_share([net["predicted_mobile"] for net in networks], first_seed),
    }


def markdown(figures: dict[str, Any], summary: dict[str, Any]) -> str:
    """The table and the outcome that docs/real-data.md quotes."""
    between = summary["between_networks"]
    lines = [
        f"`{figures['experiment']}` experiment, {len(figures['networks'])} networks drawn "
        f"uniformly from the whole space, each trained with the experiment's recipe; "
        f"{figures['machine']}.",
        "",
        "| network | ops run (skipped blocks left out) "
        f"| predicted `{figures['target']}` (ms) | test accuracy (seeds) |",
        "|---|---|---:|---|",
    ]
    for net in figures["networks"]:
        accuracies = ", ".join(f"{a:.4f}" for a in net["test_accuracies"])
        lines.append(
            f"| {net['name']} | {' '.join(ops_run(net['arch']))} | {net['predicted_mobile']:.3f} "
            f"| {accuracies} |"
        )
    lines += [
        "",
        f"Between networks (seed 0): {between['mean']:.4f} ± {between['std']:.4f}, range "
        f"{between['min']:.4f} to {between['max']:.4f}. Between seeds of one network (pooled "
        f"over {SEEDED} networks, {len(SEEDS)} seeds each): {summary['between_seeds']:.4f}. "
        f"Ratio {summary['ratio']:.1f}; predicted latency explains "
        f"{100 * summary['latency_r2']:.0f}% of the networks' variance (R^2).",
    ]
    return "\n".join(lines) + "\n"


def plot(figures: dict[str, Any], path: Path) -> Path:
    """Test accuracy against predicted latency; a seeded network shows its seeds' range."""
    from tfnas.plots import new_figure, save_figure

    figure, axes = new_figure(figsize=(5.5, 4))
    for net in figures["networks"]:
        accuracies = net["test_accuracies"]
        mean = statistics.fmean(accuracies)
        axes.errorbar(
            net["predicted_mobile"],
            mean,
            yerr=[[mean - min(accuracies)], [max(accuracies) - mean]],
            fmt="o",
            color="C0" if len(accuracies) > 1 else "0.45",
            capsize=3,
        )
        axes.annotate(
            net["name"],
            (net["predicted_mobile"], mean),
            fontsize=7,
            xytext=(4, 2),
            textcoords="offset points",
        )
    axes.set_xlabel(f"predicted latency on `{figures['target']}` (ms)")
    axes.set_ylabel("test accuracy")
    axes.set_title("Fashion-MNIST: random networks of the whole space")
    axes.grid(alpha=0.3)
    figure.tight_layout()
    return save_figure(figure, path)


if __name__ == "__main__":
    benchmark_command(run_all, summarize, markdown, plot, RESULTS_NAME, "runs/space_spread")
