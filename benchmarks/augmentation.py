"""Which recipe lifts Fashion-MNIST test accuracy once trainings are long enough to overfit?

    python -m benchmarks.augmentation [--resume] [--runs_dir=runs/regime]
        [--output_dir=benchmarks/results]

Needs the Fashion-MNIST files (`apt-get install dataset-fashion-mnist`).

The `fashion_mnist` experiment trains without augmentation: in 3 epochs a
network underfits, and augmenting cost 2.2 points of test accuracy. At 10
epochs it no longer underfits: the searched network of `benchmarks.regime`
ends at 0.968 training accuracy and 0.918 test accuracy. Published small
CNNs reach 0.925, which the regime asks of its networks.

This probe trains, with one seed (`SEED`), the `PROBES`: the two networks
at one latency of `benchmarks.regime` that bound its parameter counts, the
searched network (87K) and MobileNetV2 1.0 (2.2M), at 10 and 20 epochs with
and without `pad_crop_flip`; the searched network's choices in the space at
twice its width (`WIDE`, as `--width_mult=2` searches it), at 20 epochs; and
the searched network at 20 epochs with milder regularizers (flips alone, a
larger weight decay).
It shares the regime's runs folder and part names
(`benchmarks.regime.train`), so a training either benchmark ran is the
other's too. It decides which recipe (and width of the space) the regime
and the comparison at one latency train with; one seed is enough for that
because the gaps it looks for (a point of accuracy) are several seed
spreads (0.001-0.003 in the regime).

Per training: the last epoch's training accuracy (on augmented batches),
the test accuracy, the gap between them, and the mean seconds per epoch on
this machine (the recipe's cost; the probe must run alone for them to mean
anything). The results are rewritten after each training.
"""

from __future__ import annotations

import os
import platform
import statistics
from collections.abc import Callable
from pathlib import Path
from typing import Any

from benchmarks.common import (
    PartError,
    Progress,
    part_commits,
    require_fashion_mnist,
    write_results,
)
from benchmarks.regime import (
    EXPERIMENT,
    GOOD_ACCURACY,
    SEARCHED_3_EPOCHS,
    named,
    study_networks,
    train,
)

SEED = 0
WIDE = "searched-3-epochs-w2"
WIDE_MULT = 2.0
# (network, epochs, augmentation[, other flags of tfnas.train]), trained in this order.
PROBES = (
    ("searched-3-epochs", 10, "none"),
    ("mobilenet_v2", 10, "none"),
    ("searched-3-epochs", 10, "pad_crop_flip"),
    ("mobilenet_v2", 10, "pad_crop_flip"),
    ("searched-3-epochs", 20, "none"),
    ("mobilenet_v2", 20, "none"),
    ("searched-3-epochs", 20, "pad_crop_flip"),
    ("mobilenet_v2", 20, "pad_crop_flip"),
    # Milder regularizers for a network that memorizes its training set by 20
    # epochs without augmentation and underfits with crops: flips alone, and
    # the weight decay of the CIFAR-10 experiment (5e-4, 10x the experiment's).
    ("searched-3-epochs", 20, "flip"),
    (WIDE, 20, "none"),
    ("searched-3-epochs", 20, "none", (("weight_decay", "5e-4"),)),
    ("searched-3-epochs", 20, "flip", (("weight_decay", "5e-4"),)),
    (WIDE, 20, "pad_crop_flip"),
)
RESULTS_NAME = "augmentation"


def wide_network(runs: Path) -> dict[str, Any]:
    """The searched network's choices in the `fashion_mnist` space at `WIDE_MULT` (an arch file)."""
    from tfnas.nets import spec_json
    from tfnas.nets.costs import net_cost
    from tfnas.search.config import resolve
    from tfnas.search.runner import build_space

    arch = runs / "archs" / f"{WIDE}.json"
    if not arch.exists():
        config = resolve(EXPERIMENT, width_mult=WIDE_MULT)
        space = build_space(config, num_classes=10, in_channels=1)
        spec_json.save_spec(space.select(list(SEARCHED_3_EPOCHS)), arch)
    cost = net_cost(spec_json.load_spec(arch))
    return {"name": WIDE, "arch": str(arch), "params": cost.params, "macs": cost.macs}


def run_all(
    runs: Path,
    resume: bool,
    probes: tuple = PROBES,
    report: Callable[[dict[str, Any]], None] | None = None,
) -> dict[str, Any]:
    """Trains (or reuses) each of `probes`; the figures (also given to `report` after each)."""
    networks = {net["name"]: net for net in study_networks(runs)}
    networks[WIDE] = wide_network(runs)
    progress = Progress(total=len(probes))
    trainings, parts = [], []
    for name, length, augment, *rest in probes:
        overrides = rest[0] if rest else ()
        net = networks[name]
        changed = "".join(f", --{flag}={value}" for flag, value in overrides)
        progress(f"{name}, {length} epochs{named(augment)}{changed}, seed {SEED}")
        summary = train(runs, net, length, SEED, augment, resume, overrides)
        last = summary["history"][-1]
        trainings.append(
            {
                "network": name,
                "params": net["params"],
                "length": length,
                "augment": augment,
                "overrides": dict(overrides),
                "seed": SEED,
                "train_accuracy": last["train_accuracy"],
                "test_accuracy": summary["test_accuracy"],
                "epoch_seconds": statistics.fmean(epoch["seconds"] for epoch in summary["history"]),
            }
        )
        parts.append(summary)
        figures = {
            "experiment": EXPERIMENT,
            "machine": f"{platform.machine()}, {os.cpu_count()} cores",
            "trainings": list(trainings),  # this report's, not the later ones
            "part_commits": part_commits(parts),
        }
        if report is not None:
            report(figures)
    return figures


SMALL = 1_000_000  # published small CNNs' parameters, at most


def changes_of(run: dict[str, Any]) -> str:
    """A training's augmentation and other flags, as the report names them."""
    flags = "".join(f", --{flag}={value}" for flag, value in run.get("overrides", {}).items())
    return f"{run['augment']}{flags}"


def recipe_of(run: dict[str, Any]) -> str:
    """A training's recipe: its epochs, augmentation (if any) and other flags."""
    return f"{run['length']}{named(run['augment'])}" + changes_of(run).removeprefix(run["augment"])


def summarize(figures: dict[str, Any]) -> dict[str, Any]:
    """Per recipe the mean test accuracy of the networks every recipe trained; the best recipe.

    `recipes` maps `LENGTH[, AUGMENT]` to its `mean_test` over the networks
    trained with every recipe (so that the means compare); `best` is the
    recipe of the highest; `reaching` lists the trainings of networks of at
    most `SMALL` parameters that reach `GOOD_ACCURACY`.
    """
    runs = figures["trainings"]

    by_recipe: dict[str, dict[str, float]] = {}
    for run in runs:
        by_recipe.setdefault(recipe_of(run), {})[run["network"]] = run["test_accuracy"]
    common = set.intersection(*(set(tests) for tests in by_recipe.values()))
    recipes = {
        key: {"mean_test": statistics.fmean(tests[n] for n in common), "networks": sorted(common)}
        for key, tests in by_recipe.items()
    }
    return {
        "recipes": recipes,
        "best": max(recipes, key=lambda key: recipes[key]["mean_test"]),
        "reaching": [
            {"network": run["network"], "recipe": recipe_of(run), "test": run["test_accuracy"]}
            for run in runs
            if run["params"] <= SMALL and run["test_accuracy"] >= GOOD_ACCURACY
        ],
    }


def markdown(figures: dict[str, Any], summary: dict[str, Any]) -> str:
    """One row per training, then the best recipe and the small networks that reach 0.925."""
    lines = [
        f"`{figures['experiment']}` experiment's recipe (cosine schedule stretched to each "
        f"length), seed {SEED}; {figures['machine']}.",
        "",
        "| network | params | epochs | augmentation, flags | train accuracy (last epoch) "
        "| test accuracy | gap | s per epoch |",
        "|---|---:|---:|---|---:|---:|---:|---:|",
    ]
    for run in figures["trainings"]:
        lines.append(
            f"| {run['network']} | {run['params']:,} | {run['length']} | {changes_of(run)} | "
            f"{run['train_accuracy']:.4f} | {run['test_accuracy']:.4f} | "
            f"{run['train_accuracy'] - run['test_accuracy']:+.4f} | {run['epoch_seconds']:.0f} |"
        )
    best = summary["recipes"][summary["best"]]
    reaching = ", ".join(
        f"{r['network']} at {r['recipe']} ({r['test']:.4f})" for r in summary["reaching"]
    )
    lines += [
        "",
        f"Best recipe (epochs, augmentation), by the mean test accuracy of "
        f"{', '.join(best['networks'])}: {summary['best']}, {best['mean_test']:.4f}.",
        f"Networks of at most {SMALL:,} parameters at {GOOD_ACCURACY} or more: "
        + (reaching or "none")
        + ".",
    ]
    return "\n".join(lines) + "\n"


def plot(figures: dict[str, Any], path: Path) -> Path:
    """Test accuracy against length, one line per network and augmentation."""
    from tfnas.plots import finish_figure, new_figure

    figure, axes = new_figure(figsize=(6, 4))
    lines: dict[tuple[str, str], list[tuple[int, float]]] = {}
    for run in figures["trainings"]:
        lines.setdefault((run["network"], changes_of(run)), []).append(
            (run["length"], run["test_accuracy"])
        )
    for (network, augment), points in lines.items():
        points.sort()
        axes.plot(*zip(*points, strict=True), marker="o", label=f"{network}, {augment}")
    axes.axhline(GOOD_ACCURACY, color="0.4", linestyle="--", linewidth=1)
    return finish_figure(
        figure,
        axes,
        path,
        ("training epochs", "test accuracy", "Fashion-MNIST: augmentation at longer trainings"),
    )


def main(argv: list[str]) -> None:
    """Entry point: trains (or reuses) every probe, then prints and writes the results."""
    import sys

    from absl import flags

    del argv
    values = flags.FLAGS
    require_fashion_mnist()

    def report(figures: dict[str, Any]) -> None:  # the results so far, after each training
        write_results(figures, summarize, markdown, plot, RESULTS_NAME, Path(values.output_dir))

    try:
        run_all(Path(values.runs_dir), values.resume, report=report)
    except PartError as error:
        sys.exit(f"error: {error}")


if __name__ == "__main__":
    from absl import app

    from benchmarks.common import define_benchmark_flags

    define_benchmark_flags("runs/regime")
    app.run(main)
