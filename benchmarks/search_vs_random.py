"""Does the search beat random networks of its space at the same latency? Fashion-MNIST.

    python -m benchmarks.search_vs_random [--resume] [--runs_dir=runs/search_vs_random]
        [--output_dir=benchmarks/results] [--manual_dir=DIR]

Needs the Fashion-MNIST files: `apt-get install dataset-fashion-mnist` (Debian
installs them in /usr/share/datasets/fashion-mnist, found by default), or the
four original IDX files in `--manual_dir`.

The standard of Yang et al. ("NAS evaluation is frustratingly hard", ICLR
2020): the same space, the same training recipe and budget for every network,
several seeds, mean and spread. Each part is a command a user runs, in its own
process, with the `fashion_mnist` experiment of `tfnas.search` and
`tfnas.train`:

1. `compare`: `python -m tfnas.compare --experiment=fashion_mnist
   --tuners=random --trial_epochs=1`: the search at the experiment's target
   (seed 0), keras-tuner's RandomSearch at the search's image budget, each
   winner retrained with seed 0;
2. `seeds`: the searched network retrained with seeds 1 and 2;
3. `random`: `RANDOM_ARCHS` networks drawn uniformly from the space (every
   choice block's candidate uniformly and independently), kept only within
   the latency limit (the target, or the search's network when it landed
   above it), the ones closest to the search's latency; each trained once;
4. `no_latency`: the search without its latency term (the paper's ablation);
5. `second_target`: the search for the `cpu` model at its second target;
6. every network's float32 TFLite file timed on this host (`tflite_bench`);
7. the reported test accuracies of the search and of the training against
   the same networks rebuilt from their files (`independent_accuracy`);
8. every network's held-out accuracy with the final supernet's weights, and
   Kendall's tau between that ranking and the trained one.

Parts 4 and 5 are retrained with seed 0 only. A finished part is reused;
`--resume` continues an interrupted one from its checkpoint. Prints and
writes `search_vs_random.json`, `search_vs_random.md` and
`search_vs_random.png` (test accuracy against predicted and measured latency,
every random network a point).
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
    independent_accuracy,
    ops_run,
    run_part,
    spread,
    supernet_accuracies,
)

RANDOM_ARCHS = 8
SEARCH_SEEDS = (0, 1, 2)
# About the 30th percentile of the space's networks on the `cpu` model
# (0.06 to 1.6 ms, median 0.50): a second target on a second latency model.
SECOND_TARGET = ("cpu", 0.35)
# The paper's ablation, and a second target on a second latency model: (folder,
# name in the report, the search's flags).
ABLATIONS = (
    ("no_latency", "no latency term", ["--target_latency=none"]),
    (
        "second_target",
        f"search at {SECOND_TARGET[1]} ms on {SECOND_TARGET[0]}",
        [f"--target={SECOND_TARGET[0]}", f"--target_latency={SECOND_TARGET[1]}"],
    ),
)
# Uniform draws the random networks are picked from (the space holds 2.5e7).
POOL = 20_000
LATENCY_PASSES = 3
RESULTS_NAME = "search_vs_random"


def pick_random_archs(
    latencies: Sequence[float], count: int, limit: float, center: float
) -> list[int]:
    """Indices of `count` draws within `limit`, the closest to `center` first.

    Raises:
        ValueError: Fewer than `count` draws are within `limit`.
    """
    within = [i for i, latency in enumerate(latencies) if latency <= limit]
    if len(within) < count:
        raise ValueError(
            f"only {len(within)} of {len(latencies)} uniform draws are within the limit "
            f"{limit:.4g}; expected at least {count}: raise the pool or the limit"
        )
    return sorted(within, key=lambda i: (abs(latencies[i] - center), i))[:count]


def improvement(searched: Sequence[float], random: Sequence[float]) -> dict[str, float]:
    """The searched network's test accuracy against the random networks' distribution.

    `points`: difference of the means; `relative`: that over the random mean;
    `error_reduction`: the share of the random networks' mean error it
    removes; `welch_t`: the difference over its standard error (Welch); and
    `rank`: how many random networks the searched mean beats.
    """
    s, r = spread(searched), spread(random)
    difference = s["mean"] - r["mean"]
    stderr = (s["std"] ** 2 / s["n"] + r["std"] ** 2 / r["n"]) ** 0.5
    return {
        "points": difference,
        "relative": difference / r["mean"],
        "error_reduction": difference / (1 - r["mean"]),
        "welch_t": difference / stderr if stderr > 0 else float("nan"),
        "rank": sum(a < s["mean"] for a in random),
    }


def epoch_seconds(run_dir: Path) -> dict[str, float]:
    """Mean wall seconds per epoch of a search or training run, per phase, from its state."""
    history = json.loads((run_dir / "checkpoints" / "state.json").read_text())["history"]
    phases: dict[str, list[float]] = {}
    for epoch in history:
        phases.setdefault(epoch.get("phase", "train"), []).append(epoch["seconds"])
    return {phase: statistics.fmean(seconds) for phase, seconds in phases.items()}


def agreement_checks(runs: Path) -> dict[str, dict[str, float]]:
    """The search's and the training's reported test accuracies against `independent_accuracy`."""
    from tfnas.datasets.idx import FASHION_MNIST_DIR, read_idx_set

    _, (images, labels), _ = read_idx_set(FASHION_MNIST_DIR)
    search = runs / "compare" / "proxylessnas"
    training = search / "retrain-seed0"
    checks = {}
    for name, run, summary_file, weights in (
        ("search", search, "search_summary.json", "derived.weights.h5"),
        ("training", training, "train_summary.json", "model.weights.h5"),
    ):
        reported = json.loads((run / summary_file).read_text())["test_accuracy"]
        rebuilt = independent_accuracy(str(run / "arch.json"), str(run / weights), images, labels)
        checks[name] = {"reported": reported, "independent": rebuilt}
    return checks


def kendall_tau(first: Sequence[float], second: Sequence[float]) -> float:
    """Kendall's tau-a of two rankings: concordant minus discordant pairs, over all pairs."""
    n = len(first)
    if n != len(second) or n < 2:
        raise ValueError(f"expected two sequences of one length >= 2, got {n} and {len(second)}")
    score = 0.0
    for i in range(n):
        for j in range(i + 1, n):
            score += np.sign(first[i] - first[j]) * np.sign(second[i] - second[j])
    return float(score / (n * (n - 1) / 2))


def random_archs(
    runs: Path, center: float, target_latency: float, count: int = RANDOM_ARCHS
) -> list[dict[str, Any]]:
    """The random networks at the search's latency: drawn once, then kept in `picked.json`.

    Each has its `choices`, predicted `latency` on the `mobile` model and the
    `arch` file it is trained from.
    """
    from tfnas.io.atomic import write_text_atomic
    from tfnas.latency.model import space_latency
    from tfnas.latency.targets import load_target
    from tfnas.nets import spec_json
    from tfnas.search.config import resolve
    from tfnas.search.runner import build_space

    picked_file = runs / "random-archs" / "picked.json"
    if picked_file.exists():
        return json.loads(picked_file.read_text())
    config = resolve(EXPERIMENT)
    space = build_space(config, num_classes=10, in_channels=1)
    latency = space_latency(load_target(config.latency.target), space)
    draws = draw_choices([len(b.candidates) for b in space.choice_blocks], POOL, seed=0)
    latencies = [latency.latency_of(choices) for choices in draws]
    # The limit is the target; a search that landed above it lends the random
    # networks its own latency, so that they are never held to a stricter one.
    limit = max(target_latency, center)
    picked = []
    for k, index in enumerate(pick_random_archs(latencies, count, limit, center)):
        arch = runs / "random-archs" / f"random-{k}.json"
        arch.parent.mkdir(parents=True, exist_ok=True)
        spec_json.save_spec(space.select(draws[index]), arch)
        picked.append(
            {
                "name": f"random-{k}",
                "choices": draws[index],
                "latency": latencies[index],
                "arch": str(arch),
            }
        )
    within = sum(value <= limit for value in latencies)
    summary = {"pool": len(draws), "within_limit": within, "limit": limit}
    write_text_atomic(picked_file, json.dumps(picked, indent=2) + "\n")
    write_text_atomic(runs / "random-archs" / "pool.json", json.dumps(summary) + "\n")
    return picked


def measure(archs: dict[str, str], runs: Path) -> tuple[dict[str, float], str]:
    """Host TFLite medians of every network, measured once and kept in `measured.json`."""
    from tfnas.compare.evaluate import measure_latencies
    from tfnas.io.atomic import write_text_atomic

    cache = runs / "tflite" / "measured.json"
    if cache.exists():
        kept = json.loads(cache.read_text())
        if set(kept["ms"]) == set(archs):
            return kept["ms"], kept["device"]
    ms, device = measure_latencies(archs, runs / "tflite", "host", LATENCY_PASSES)
    write_text_atomic(cache, json.dumps({"ms": ms, "device": device}, indent=2) + "\n")
    return ms, device


def _train(arch: str, seed: int, out: Path, resume: bool) -> float:
    """Trains `arch` with the experiment's recipe (a part); returns its test accuracy."""
    summary = run_part(
        "tfnas.train",
        [f"--experiment={EXPERIMENT}", f"--arch={arch}", f"--seed={seed}"],
        out,
        "train_summary.json",
        resume,
    )
    return summary["test_accuracy"]


def run_all(runs: Path, resume: bool) -> dict[str, Any]:
    """Runs (or reuses) every part; returns the figures the report is made of."""
    from tfnas.compare.evaluate import predicted_latencies
    from tfnas.search.config import resolve

    config = resolve(EXPERIMENT)
    target, target_latency = config.latency.target, config.latency.target_latency
    progress = Progress(total=3 + len(SEARCH_SEEDS) + RANDOM_ARCHS + 2 * len(ABLATIONS))

    progress(f"search at {target_latency} ms on {target} and keras-tuner RandomSearch")
    compare = run_part(
        "tfnas.compare",
        [f"--experiment={EXPERIMENT}", "--tuners=random", "--trial_epochs=1"],
        runs / "compare",
        "comparison.json",
        resume,
    )
    rows = {row["method"]: row for row in compare["rows"]}
    searched, tuner = rows["proxylessnas"], rows["random"]
    archs = {"proxylessnas": searched["arch"], "keras-tuner random": tuner["arch"]}
    choices = {"proxylessnas": searched["choices"], "keras-tuner random": tuner["choices"]}
    accuracies = {
        "proxylessnas": list(searched["test_accuracies"]),
        "keras-tuner random": list(tuner["test_accuracies"]),
    }
    for seed in SEARCH_SEEDS[1:]:
        progress(f"searched network, seed {seed}")
        out = runs / f"search-seed{seed}"
        accuracies["proxylessnas"].append(_train(searched["arch"], seed, out, resume))

    picked = random_archs(runs, searched["predicted_latency"], target_latency)
    for arch in picked:
        progress(f"{arch['name']} ({arch['latency']:.3f} ms predicted)")
        name = arch["name"]
        archs[name], choices[name] = arch["arch"], arch["choices"]
        accuracies[name] = [_train(arch["arch"], 0, runs / name, resume)]

    searches = {}
    for slug, name, flags in ABLATIONS:
        progress(f"{name}: searching")
        out = runs / f"{slug}-search"
        search = run_part(
            "tfnas.search",
            [f"--experiment={EXPERIMENT}", *flags],
            out,
            "search_summary.json",
            resume,
        )
        progress(f"{name}: training its network")
        archs[name], choices[name] = str(out / "arch.json"), search["choices"]
        accuracies[name] = [_train(archs[name], 0, runs / f"{slug}-train", resume)]
        searches[name] = {k: search[k] for k in ("ops", "latency", "unit", "expected_latency")}

    progress("timing every network's TFLite file on this host")
    measured, device = measure(archs, runs)
    networks = {}
    for name, arch in archs.items():
        predicted = predicted_latencies(arch, target)
        networks[name] = {
            "arch": arch,
            "test_accuracies": accuracies[name],
            "predicted_mobile": predicted["predicted_latency"],
            "predicted_cpu": predicted["predicted_cpu_latency"],
            "measured_ms": measured[name],
        }
    progress("the reported test accuracies against an independent evaluation")
    checks = agreement_checks(runs)
    progress("the supernet's accuracy of every trained network")
    for name, accuracy in supernet_accuracies(runs / "compare", choices, runs / "ranking").items():
        networks[name]["supernet_accuracy"] = accuracy
    search_dir = runs / "compare" / "proxylessnas"
    return {
        "experiment": EXPERIMENT,
        "target": target,
        "target_latency": target_latency,
        "second_target": list(SECOND_TARGET),
        "device": device,
        "machine": f"{platform.machine()}, {os.cpu_count()} cores",
        "recipe": {
            "search_epochs": f"{config.recipe.warmup_epochs} warmup + {config.recipe.epochs}",
            "train_epochs": compare["train_epochs"],
        },
        "pool": json.loads((runs / "random-archs" / "pool.json").read_text()),
        "networks": networks,
        "agreement": checks,
        "random": [arch["name"] for arch in picked],
        "searches": searches,
        "cost": {
            "search_minutes": searched["seconds"] / 60,
            "search_images": compare["budget_images"],
            "tuner_minutes": tuner["seconds"] / 60,
            "tuner_trials": tuner["trials"],
            "search_epoch_seconds": epoch_seconds(search_dir),
            "training_epoch_seconds": epoch_seconds(search_dir / "retrain-seed0")["train"],
        },
    }


def summarize(figures: dict[str, Any]) -> dict[str, Any]:
    """Per method the mean and spread of test accuracy; the search against the random networks."""
    networks = figures["networks"]
    random = [networks[name]["test_accuracies"][0] for name in figures["random"]]
    searched = networks["proxylessnas"]["test_accuracies"]
    return {
        "searched": spread(searched),
        "random": spread(random),
        "improvement": improvement(searched, random),
        # Whether the space's networks differ by more than one network's seeds do.
        "arch_to_seed_spread": spread(random)["std"] / max(spread(searched)["std"], 1e-12),
        # Whether the supernet ranks the networks as training them does.
        "supernet_kendall_tau": kendall_tau(
            [net["supernet_accuracy"] for net in networks.values()],
            [statistics.fmean(net["test_accuracies"]) for net in networks.values()],
        ),
    }


def _accuracy(stats: dict[str, float]) -> str:
    if stats["n"] == 1:
        return f"{stats['mean']:.4f}"
    return f"{stats['mean']:.4f} ± {stats['std']:.4f} (n={stats['n']})"


def markdown(figures: dict[str, Any], summary: dict[str, Any]) -> str:
    """The tables and the plain-text outcome the README quotes."""
    networks, cost = figures["networks"], figures["cost"]
    random_names = figures["random"]
    target, limit = figures["target"], figures["target_latency"]
    second_target, second_latency = figures["second_target"]
    lines = [
        f"`{figures['experiment']}` experiment (Fashion-MNIST, 28 px grayscale), search "
        f"{figures['recipe']['search_epochs']} epochs, every network trained with the same "
        f"recipe ({figures['recipe']['train_epochs']} epochs); test accuracy on the 10,000 "
        f"test images; measured: float32 TFLite on {figures['device']}, median of "
        f"{LATENCY_PASSES} passes; {figures['machine']}.",
        "",
        f"| method | test accuracy | predicted `{target}` (ms) | predicted `cpu` (ms) "
        "| measured (ms) |",
        "|---|---|---:|---:|---:|",
    ]

    def mean_of(names: Sequence[str], field: str) -> float:
        return statistics.fmean(networks[n][field] for n in names)

    def row(label: str, names: Sequence[str], accuracies: Sequence[float]) -> str:
        return (
            f"| {label} | {_accuracy(spread(accuracies))} | "
            f"{mean_of(names, 'predicted_mobile'):.3f} | {mean_of(names, 'predicted_cpu'):.3f} | "
            f"{mean_of(names, 'measured_ms'):.3f} |"
        )

    search_name = f"ProxylessNAS at {limit:g} ms on `{target}` (seeds of its network)"
    lines.append(row(search_name, ["proxylessnas"], networks["proxylessnas"]["test_accuracies"]))
    random_accuracies = [networks[n]["test_accuracies"][0] for n in random_names]
    lines.append(
        row(
            f"{len(random_names)} random networks at its latency (one seed each; means)",
            random_names,
            random_accuracies,
        )
    )
    for name, label in (
        ("keras-tuner random", "keras-tuner RandomSearch, the search's image budget"),
        ("no latency term", "ProxylessNAS without its latency term"),
        (
            f"search at {second_latency} ms on {second_target}",
            f"ProxylessNAS at {second_latency:g} ms on `{second_target}`",
        ),
    ):
        lines.append(row(label, [name], networks[name]["test_accuracies"]))
    better = summary["improvement"]
    seeds, randoms = summary["searched"], summary["random"]
    lines += [
        "",
        f"The searched network against the random networks at its latency: "
        f"{100 * better['points']:+.2f} points ({100 * better['relative']:+.2f}% relative; "
        f"{100 * better['error_reduction']:+.1f}% of their mean error), Welch t = "
        f"{better['welch_t']:.2f}; its mean beats {better['rank']} of {len(random_names)}.",
        f"Spread of test accuracy: {randoms['std']:.4f} between the random networks "
        f"(range {randoms['min']:.4f} to {randoms['max']:.4f}), {seeds['std']:.4f} between "
        f"seeds of one network (ratio {summary['arch_to_seed_spread']:.1f}).",
        f"Cost: the search took {cost['search_minutes']:.1f} min for "
        f"{cost['search_images']:,} training images; "
        + ", ".join(
            f"{seconds:.0f} s per {phase} epoch"
            for phase, seconds in cost["search_epoch_seconds"].items()
        )
        + f", against {cost['training_epoch_seconds']:.0f} s per epoch of training its "
        f"network. keras-tuner ran {cost['tuner_trials']} trials in "
        f"{cost['tuner_minutes']:.1f} min for the same images.",
        "Reported test accuracies against the same network rebuilt from its files and "
        "evaluated on the raw test images: "
        + "; ".join(
            f"{name} {check['reported']:.4f} vs {check['independent']:.4f}"
            for name, check in figures["agreement"].items()
        )
        + " (the search's: its network with the supernet's weights and re-estimated "
        "batch norm).",
        f"The supernet's ranking: Kendall's tau {summary['supernet_kendall_tau']:+.2f} between "
        f"the {len(networks)} networks' held-out accuracy with the final supernet's weights "
        "and their test accuracy trained alone (+1: the same order).",
        "",
        "| network | ops run (skipped blocks left out) "
        f"| predicted `{target}` (ms) | measured (ms) | supernet acc | test accuracy |",
        "|---|---|---:|---:|---:|---:|",
    ]
    for name in ("proxylessnas", *random_names, *list(networks)[2 + len(random_names) :]):
        net = networks[name]
        accuracies = ", ".join(f"{a:.4f}" for a in net["test_accuracies"])
        lines.append(
            f"| {name} | {' '.join(ops_run(net['arch']))} | {net['predicted_mobile']:.3f} | "
            f"{net['measured_ms']:.3f} | {net['supernet_accuracy']:.3f} | {accuracies} |"
        )
    return "\n".join(lines) + "\n"


def plot(figures: dict[str, Any], path: Path) -> Path:
    """Test accuracy against predicted and measured latency; every random network a point."""
    from tfnas.plots import new_figure, save_figure

    networks, random_names = figures["networks"], figures["random"]
    others = [n for n in networks if n not in random_names]
    figure, axes_row = new_figure(1, 2, figsize=(11, 4.4))
    for axes, field, label in (
        (axes_row[0], "predicted_mobile", f"predicted latency on `{figures['target']}` (ms)"),
        (axes_row[1], "measured_ms", f"measured on {figures['device']} (ms)"),
    ):
        axes.scatter(
            [networks[n][field] for n in random_names],
            [networks[n]["test_accuracies"][0] for n in random_names],
            color="0.55",
            label="random networks",
            zorder=2,
        )
        for name in others:
            accuracies = networks[name]["test_accuracies"]
            mean = statistics.fmean(accuracies)
            axes.errorbar(
                networks[name][field],
                mean,
                yerr=[[mean - min(accuracies)], [max(accuracies) - mean]],
                fmt="o",
                capsize=3,
                label=name,
                zorder=3,
            )
        if field == "predicted_mobile":
            axes.axvline(figures["target_latency"], color="0.3", linestyle="--", linewidth=1)
        axes.set_xlabel(label)
        axes.set_ylabel("test accuracy")
        axes.grid(alpha=0.3)
    axes_row[0].legend(fontsize=7, loc="lower right")
    figure.suptitle("Fashion-MNIST: the search against random networks of its space")
    figure.tight_layout()
    return save_figure(figure, path)


if __name__ == "__main__":
    benchmark_command(run_all, summarize, markdown, plot, RESULTS_NAME, "runs/search_vs_random")
