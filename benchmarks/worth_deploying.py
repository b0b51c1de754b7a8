"""Is the searched network worth deploying here? Against random, keras-tuner, MobileNetV2 and V3.

    python -m benchmarks.worth_deploying [--resume] [--epochs=20] [--augment=none] [--width_mult=1]
        [--search_warmup_epochs=5] [--search_epochs=10] [--runs_dir=runs/worth_deploying]
        [--output_dir=benchmarks/results]

Needs the Fashion-MNIST files (`apt-get install dataset-fashion-mnist`). Runs
for many hours on 2 cores: run it alone (it times networks on this host), and
continue it with `--resume` after an interruption.

The target device is this host's CPU, float32 TFLite, one thread. Every
network is trained with the same recipe, the `fashion_mnist` experiment's at
`--epochs` with `--augment` (the recipe at which `benchmarks.regime` found
networks of one latency to differ; the searches keep the experiment's own
data), and its latency is measured on the exported file a user deploys
(`deploy.export`'s `model_float32.tflite`: normalization and softmax inside,
batch 1), the median of `PASSES` passes over all networks in turn. The parts,
each a recorded command (`benchmarks.common.run_part`), in order:

1. `host-table`: this host's latency table of the space
   (`tflite_bench.build_table --space=fashion_mnist --channels=1`), and
   `host-validate`: 30 random networks against it, with `--calibrate`;
2. the target: MobileNetV2 1.0 at 28 px as exported, measured here; what a
   user deploys without NAS sets the latency every method is held to;
3. `compare-seedS` for S in `COMPARE_SEEDS`: `tfnas.compare` with the search
   and keras-tuner's RandomSearch at the search's image budget, held to the
   target on the host table (validation selection), so each seed gives one
   search and one tuner pick; `search-mobilenet_v2-1-seed2`: a third search alone;
   `search-no-latency`: the first search without its latency term (it must
   not derive a smaller network). Every search runs `SearchSchedule`;
4. `random`: `RANDOM_ARCHS` networks drawn uniformly from the space whose
   exported files measure within ±`WITHIN` of the searched networks' mean;
5. the hand-designed networks of `FAMILIES` at their widths, measured:
   MobileNetV2 1.0 and the MobileNetV2, MobileNetV3-Small and -Large widths
   nearest below and above the target; the minimalistic MobileNetV3s' width
   nearest to it (as keras.applications builds them, random init, 28 px,
   one channel);
6. every network trained with `SEEDS` (the random ones and the search
   without latency with the first seed), exported, and measured;
7. the statistics: each method's mean ± std and n, and against each baseline
   the difference with p-values (pooled seed variance, Welch, Mann-Whitney);
   the supernet's ranking of the space's networks against their training
   (Kendall's tau with a bootstrap interval); and whether the networks of
   several seeds measuring within ±`ONE_LATENCY` of the target differ
   beyond their seeds (one-way F test): the regime's question, asked of the
   networks compared.

The host's table, the hand-designed networks, the searches, trainings and
exports are `benchmarks.host_study.HostStudy` parts, shared with
`benchmarks.pareto` and `benchmarks.hardware_specific` in one runs folder.

Writes `worth_deploying.json`, `.md` and `.png` (test accuracy against
measured latency), rewritten after each network's trainings (in
`training_order`: the searched networks, then the target, so that the
question is answered first), so that the results so far can be committed
while the rest trains.
"""

from __future__ import annotations

import os
import platform
import statistics
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from benchmarks.common import (
    PartError,
    Progress,
    benchmark_main,
    compare_samples,
    draw_choices,
    kendall_tau,
    networks_differ,
    part_commits,
    pooled_seed_variance,
    spread,
    supernet_accuracies,
    write_results,
)
from benchmarks.host_study import (
    EXPERIMENT,
    FAMILIES,
    PASSES,
    SEEDS,
    TARGET,
    TWIN,
    Family,
    HostStudy,
    cached_measurements,
    recipe_line,
    searched_name,
    study_from_flags,
)

DEFAULT_EPOCHS = 20
COMPARE_SEEDS = (0, 1)
SEARCH_SEEDS = (0, 1, 2)
RANDOM_ARCHS = 8
WITHIN = 0.05
POOL = 20_000
CANDIDATES = 24  # random networks measured to find RANDOM_ARCHS within ±WITHIN
RESULTS_NAME = "worth_deploying"
NO_LATENCY = "ProxylessNAS without latency"
ONE_LATENCY = 0.10  # networks measuring within ±10% of the target are "at one latency"


def bracketing(measured: dict[float, float], target: float, nearest_only: bool = False) -> list:
    """The widths measured nearest below and above `target` (or the nearest of all)."""
    if nearest_only:
        return [min(measured, key=lambda w: abs(measured[w] - target))]
    below = [w for w, ms in measured.items() if ms < target]
    above = [w for w, ms in measured.items() if ms > target]
    picked = set()
    if below:
        picked.add(max(below, key=lambda w: measured[w]))
    if above:
        picked.add(min(above, key=lambda w: measured[w]))
    return sorted(picked)


def hand_designed_picks(measured: dict[str, float], target: float) -> list[tuple[Family, float]]:
    """The networks of `FAMILIES` to train: the target's own, and each family's bracket."""
    picks = []
    for family in FAMILIES:
        by_width = {
            w: measured[f"{family.slug}-{w:g}"]
            for w in family.widths
            if f"{family.slug}-{w:g}" != TARGET
        }
        chosen = bracketing(by_width, target, nearest_only=not family.bracket)
        if family.slug == TARGET.rsplit("-", 1)[0]:
            chosen = sorted({*chosen, 1.0})
        picks += [(family, width) for width in chosen]
    return picks


def pick_random(
    candidates: dict[str, float], center: float, count: int, within: float
) -> list[str]:
    """The `count` candidates measured within ±`within` of `center`, nearest first.

    Raises:
        PartError: Fewer than `count` are within.
    """
    inside = sorted(
        (name for name, ms in candidates.items() if abs(ms / center - 1) <= within),
        key=lambda name: abs(candidates[name] - center),
    )
    if len(inside) < count:
        raise PartError(
            f"only {len(inside)} of {len(candidates)} random networks measure within "
            f"±{100 * within:.0f}% of {center:.4f} ms; expected {count}: raise CANDIDATES"
        )
    return inside[:count]


def run_all(study: HostStudy, report: Callable[[dict[str, Any]], None] | None = None) -> dict:
    """Runs (or reuses) every part of `study`; returns the figures the report is made of.

    `report` gets the figures so far after each network's trainings
    (`training_order`), with the latencies of its untrained deployed files
    until the exported ones are measured.
    """
    from tfnas.latency.model import space_latency
    from tfnas.latency.targets import load_target
    from tfnas.nets.spec_json import save_spec
    from tfnas.search.config import resolve
    from tfnas.search.runner import build_space

    runs = study.runs
    progress = Progress(total=9)
    progress("this host's latency table of the space, and its validation")
    validation = study.host_table()

    progress("the target and the hand-designed networks: as exported, measured here")
    hand_archs, hand_ms = study.hand_designed()
    target = hand_ms[TARGET]

    progress("searches and keras-tuner RandomSearch at the target on the host table")
    target_flags = [f"--target={study.table}", f"--target_latency={target:.6f}"]
    winners: dict[str, dict[str, Any]] = {}
    for seed in COMPARE_SEEDS:
        compared = study.part(
            "tfnas.compare",
            [
                f"--experiment={EXPERIMENT}",
                *study.width_flags,
                *target_flags,
                *study.schedule.flags("--search_epochs"),
                "--tuners=random",
                "--train_epochs=1",  # its winners are retrained below, as every network is
                f"--seed={seed}",
            ],
            f"compare-seed{seed}",
            "comparison.json",
        )
        rows = {row["method"]: row for row in compared["rows"]}
        winners[f"searched-{seed}"] = rows["proxylessnas"] | {"method": "ProxylessNAS"}
        winners[f"tuner-{seed}"] = rows["random"] | {"method": "keras-tuner random"}
    for seed in SEARCH_SEEDS[len(COMPARE_SEEDS) :]:
        searched = study.search_at(TARGET, target, seed)
        winners[searched_name(TARGET, seed)] = searched | {"method": "ProxylessNAS"}
    # The first search without its latency term: it must not pick a smaller network.
    free = study.search("search-no-latency", ["--target_latency=none"], SEARCH_SEEDS[0])
    winners["no-latency"] = free | {"method": NO_LATENCY}

    progress("random networks at the searched networks' measured latency")
    winner_ms = study.latencies("winners", {name: w["arch"] for name, w in winners.items()})
    center = statistics.fmean(
        ms for name, ms in winner_ms.items() if winners[name]["method"] == "ProxylessNAS"
    )
    config = resolve(EXPERIMENT, width_mult=study.width_mult)
    space = build_space(config, num_classes=10, in_channels=1)
    latency = space_latency(load_target(str(study.table)), space)
    draws = draw_choices([len(b.candidates) for b in space.choice_blocks], POOL, seed=3)
    nearest = sorted(draws, key=lambda c: abs(latency.latency_of(c) - center))[:CANDIDATES]
    candidate_archs = {}
    for k, choices in enumerate(nearest):
        arch = runs / "archs" / f"candidate-{k}.json"
        if not arch.exists():
            save_spec(space.select(choices), arch)
        candidate_archs[f"candidate-{k}"] = arch
    candidate_ms = study.latencies("candidates", candidate_archs)
    picked = pick_random(candidate_ms, center, RANDOM_ARCHS, WITHIN)
    networks: dict[str, dict[str, Any]] = {}
    for name, winner in winners.items():
        networks[name] = {
            "arch": winner["arch"],
            "choices": winner["choices"],
            "method": winner["method"],
            "untrained_ms": winner_ms[name],
        }
    for k, name in enumerate(picked):
        networks[f"random-{k}"] = {
            "arch": str(candidate_archs[name]),
            "choices": nearest[int(name.split("-")[1])],
            "method": "random",
            "untrained_ms": candidate_ms[name],
        }
    for family, width in hand_designed_picks(hand_ms, target):
        name = f"{family.slug}-{width:g}"
        networks[name] = {
            "arch": str(hand_archs[name]),
            "choices": None,
            "method": f"{family.method} {width:g}",
            "untrained_ms": hand_ms[name],
        }

    def figures() -> dict[str, Any]:
        return {
            **study.recipe(),
            "machine": f"{platform.machine()}, {os.cpu_count()} cores",
            "target_ms": target,
            "random_center_ms": center,
            "hand_designed_ms": hand_ms,
            "validation": validation,
            "networks": networks,
            "part_commits": part_commits(study.parts),
        }

    progress(f"training every network for {study.epochs} epochs, exporting it")
    for name in training_order(networks):
        net = networks[name]
        seeds = SEEDS[:1] if net["method"] in ("random", NO_LATENCY) else SEEDS
        net |= study.train_and_export(name, net["arch"], seeds)
        if report is not None:
            report(figures())

    progress("timing every exported file on this host")
    files = study.timed_files(networks)
    measured = cached_measurements(runs / "exported.json", files, study.measure)
    for name, net in networks.items():
        net["measured_ms"] = measured[name]

    progress("the supernet's ranking of the space's networks")
    in_space = {name: net["choices"] for name, net in networks.items() if net["choices"]}
    ranking = supernet_accuracies(runs / "compare-seed0", in_space, runs / "ranking")
    for name, accuracy in ranking.items():
        networks[name]["supernet_accuracy"] = accuracy

    progress("the statistics")
    return figures()


def training_order(networks: dict[str, dict[str, Any]]) -> list[str]:
    """The networks in the order they train: what answers the question first goes first.

    The searched networks, then the target (MobileNetV2 1.0), keras-tuner's
    picks, the random networks, the other hand-designed networks, and the
    search without latency; within a group, as `networks` lists them.
    """

    def group(name: str) -> int:
        method = networks[name]["method"]
        if name == TARGET:
            return 1
        first = ("ProxylessNAS", None, "keras-tuner random", "random")
        if method in first:
            return first.index(method)
        return 5 if method == NO_LATENCY else 4  # 4: the other hand-designed networks

    return sorted(networks, key=group)


def summarize(figures: dict[str, Any]) -> dict[str, Any]:
    """Each method's accuracy, and the search against each baseline (pooled, Welch, ranks).

    Over the networks trained so far: a report in progress compares what
    there is. Latencies are the exported files' once every one is measured,
    the untrained deployed files' (the same graphs) until then.
    """
    every = figures["networks"]
    networks = {name: net for name, net in every.items() if net.get("test_accuracies")}
    exported = all("measured_ms" in net for net in every.values())
    latency_key = "measured_ms" if exported else "untrained_ms"
    by_method: dict[str, list[str]] = {}
    for name, net in networks.items():
        by_method.setdefault(net["method"], []).append(name)
    try:
        seed_variance = pooled_seed_variance([net["test_accuracies"] for net in networks.values()])
    except ValueError:  # no network has its seeds yet
        seed_variance = None

    def network_means(names: Sequence[str]) -> list[float]:
        return [statistics.fmean(networks[n]["test_accuracies"]) for n in names]

    searched = network_means(by_method.get("ProxylessNAS", []))
    comparisons = {
        method: compare_samples(searched, network_means(names), seed_variance)
        for method, names in by_method.items()
        if method != "ProxylessNAS" and searched
    }
    near = {
        name: net["test_accuracies"]
        for name, net in networks.items()
        if len(net["test_accuracies"]) > 1
        and abs(net[latency_key] / figures["target_ms"] - 1) <= ONE_LATENCY
    }
    try:  # the regime's question, asked of the networks compared here
        differ = networks_differ(list(near.values())) | {"networks": sorted(near)}
    except ValueError as error:  # fewer than 2 such networks yet
        differ = {"undefined": str(error), "networks": sorted(near)}
    ranked = [n for n in networks.values() if "supernet_accuracy" in n]
    try:
        tau = kendall_tau(
            [n["supernet_accuracy"] for n in ranked],
            [statistics.fmean(n["test_accuracies"]) for n in ranked],
        )
    except ValueError as error:  # too few networks, or a ranking of ties
        tau = {"undefined": str(error), "n": len(ranked)}
    return {
        "trained": len(networks),
        "networks": len(every),
        "latency_of": "exported" if exported else "untrained",
        "timed_twins": sorted(name for name, net in every.items() if net.get("timed") == TWIN),
        "methods": {
            method: {
                "accuracy": spread(network_means(names)),
                "runs": sum(len(networks[n]["test_accuracies"]) for n in names),
                "measured_ms": spread([networks[n][latency_key] for n in names]),
            }
            for method, names in by_method.items()
        },
        "seed_std": None if seed_variance is None else seed_variance[0] ** 0.5,
        "seed_dof": None if seed_variance is None else seed_variance[1],
        "searched_against": comparisons,
        "at_one_latency": differ,
        "supernet_kendall_tau": tau,
        "without_latency": without_latency(networks, latency_key),
    }


def without_latency(networks: dict[str, dict[str, Any]], latency_key: str) -> dict[str, Any] | None:
    """The search without its latency term against the same search with it (seed 0).

    Without the term, nothing pulls the search toward cheaper networks: a
    smaller network means the search prefers skipping blocks for the loss
    alone, which a supernet too short to rank networks does. None until both
    are trained.
    """
    free, held = networks.get("no-latency"), networks.get(f"searched-{SEARCH_SEEDS[0]}")
    if free is None or held is None:
        return None
    return {
        "measured_ms": free[latency_key],
        "searched_ms": held[latency_key],
        "macs": free["macs"],
        "searched_macs": held["macs"],
        "smaller": free["macs"] < held["macs"],
    }


def markdown(figures: dict[str, Any], summary: dict[str, Any]) -> str:
    """The methods' table, each comparison with its p-values, and the networks."""
    lines = [
        f"{recipe_line(figures)}; latency: the exported "
        f"float32 TFLite file on this host ({figures['machine']}), batch 1, median of "
        f"{PASSES} passes. Searches: "
        f"{figures['search_schedule']['warmup_epochs']} warmup + "
        f"{figures['search_schedule']['epochs']} epochs, alpha's learning rate "
        f"{figures['search_schedule']['arch_learning_rate']:g}. Target: MobileNetV2 1.0 "
        f"at {figures['target_ms']:.4f} ms.",
        "",
        *twins_line(summary),
        *in_progress(summary),
        "| method | networks (runs) | test accuracy, mean ± std over networks | measured (ms) |",
        "|---|---:|---|---:|",
    ]
    for method, stats in summary["methods"].items():
        acc, ms = stats["accuracy"], stats["measured_ms"]
        lines.append(
            f"| {method} | {acc['n']} ({stats['runs']}) | {acc['mean']:.4f} ± {acc['std']:.4f} "
            f"| {ms['mean']:.4f} |"
        )
    if summary["seed_std"] is not None:
        lines += [
            "",
            f"Seed spread (pooled over every network trained with several seeds): "
            f"{summary['seed_std']:.4f} ({summary['seed_dof']} degrees of freedom).",
        ]
    lines += [
        "",
        "| the search against | difference | p (pooled seed variance) | p (Welch) "
        "| p (Mann-Whitney) | n |",
        "|---|---:|---:|---:|---:|---|",
    ]
    for method, test in summary["searched_against"].items():
        lines.append(
            f"| {method} | {100 * test['difference']:+.2f} points | {test['pooled_p']:.3g} | "
            f"{test['welch_p']:.3g} | {test['rank_p']:.3g} | "
            f"{test['n_first']} vs {test['n_second']} |"
        )
    differ = summary["at_one_latency"]
    same = (
        f"The {len(differ['networks'])} networks trained with several seeds that measure within "
        f"±{100 * ONE_LATENCY:.0f}% of the target"
    )
    if "undefined" in differ:
        lines += ["", f"{same}: no F test yet ({differ['undefined']})."]
    else:
        verdict = "differ" if differ["p"] < 0.05 else "do not differ"
        lines += [
            "",
            f"{same} {verdict} beyond their seeds: their means spread {differ['between_std']:.4f}, "
            f"seeds {differ['seed_std']:.4f}; F {differ['f']:.2f} ({differ['dof_between']}, "
            f"{differ['dof_within']}), p {differ['p']:.3g}.",
        ]
    free = summary["without_latency"]
    if free is not None:
        lines += [
            "",
            f"Without its latency term the search (seed {SEARCH_SEEDS[0]}) derived a network "
            f"of {free['macs'] / 1e6:.1f}M MACs measuring {free['measured_ms']:.4f} ms, against "
            f"{free['searched_macs'] / 1e6:.1f}M and {free['searched_ms']:.4f} ms with it: "
            + (
                "smaller, which it must not be."
                if free["smaller"]
                else "not smaller, as it should."
            ),
        ]
    tau = summary["supernet_kendall_tau"]
    ranking = (
        f"The supernet's ranking of the {tau['n']} networks of the space against their training"
    )
    if "undefined" in tau:
        lines += ["", f"{ranking}: undefined ({tau['undefined']})."]
    else:
        lines += [
            "",
            f"{ranking}: Kendall's tau {tau['tau']:+.2f} (95% bootstrap interval "
            f"{tau['low']:+.2f} to {tau['high']:+.2f}, p {tau['p']:.3g}).",
        ]
    return "\n".join(lines) + "\n"


def twins_line(summary: dict[str, Any]) -> list[str]:
    """The report's line on networks timed as untrained twins (none when every file was)."""
    twins = summary.get("timed_twins")
    if not twins:
        return []
    return [
        f"Timed as untrained twins (the same graph as exported, other weights; the exported "
        f"file went with a replaced runs folder): {', '.join(twins)}.",
        "",
    ]


def in_progress(summary: dict[str, Any]) -> list[str]:
    """The report's line on a benchmark still training (none when it is finished)."""
    if summary["latency_of"] == "exported":
        return []
    return [
        f"**In progress**: {summary['trained']} of {summary['networks']} networks trained; "
        "latency of their untrained deployed files (the same graphs) until the exported "
        "ones are measured; the supernet's ranking comes last.",
        "",
    ]


def plot(figures: dict[str, Any], path: Path) -> Path:
    """Test accuracy against measured latency of the exported file, one colour per method."""
    from tfnas.plots import finish_figure, new_figure

    figure, axes = new_figure(figsize=(6.5, 4.5))
    trained = [n for n in figures["networks"].values() if n.get("test_accuracies")]
    for k, method in enumerate(sorted({net["method"] for net in trained})):
        nets = [n for n in trained if n["method"] == method]
        means = [statistics.fmean(n["test_accuracies"]) for n in nets]
        latencies = [n.get("measured_ms", n["untrained_ms"]) for n in nets]
        axes.scatter(latencies, means, label=method, color=f"C{k}")
    axes.axvline(figures["target_ms"], color="0.4", linestyle="--", linewidth=1)
    return finish_figure(
        figure,
        axes,
        path,
        (
            "measured latency of the exported file on this host (ms)",
            "test accuracy (mean over seeds)",
            "Fashion-MNIST: the search against what a user deploys without it",
        ),
    )


def main(argv: list[str]) -> None:
    """Entry point: runs (or reuses) every part, prints and writes the results."""
    from absl import flags

    del argv

    def report(figures: dict[str, Any]) -> None:  # the results so far, rewritten per network
        output_dir = Path(flags.FLAGS.output_dir)
        write_results(figures, summarize, markdown, plot, RESULTS_NAME, output_dir)

    def run(runs: Path, resume: bool) -> dict[str, Any]:
        return run_all(study_from_flags(runs, resume), report)

    benchmark_main(run, summarize, markdown, plot, RESULTS_NAME)


if __name__ == "__main__":
    from absl import app

    from benchmarks.host_study import define_study_flags

    define_study_flags(DEFAULT_EPOCHS)
    app.run(main)
