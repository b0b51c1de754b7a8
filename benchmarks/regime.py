"""How long must Fashion-MNIST trainings be for networks to differ by more than their seeds?

    python -m benchmarks.regime [--resume] [--runs_dir=runs/regime]
        [--output_dir=benchmarks/results] [--lengths=3,10,20] [--augment=none]
        [--train_flags=--weight_decay=5e-4] [--nospace_range]

Needs the Fashion-MNIST files (`apt-get install dataset-fashion-mnist`, as
`benchmarks.search_vs_random`).

At 3 epochs the `fashion_mnist` space's networks differ by 1.9x the seed
spread (F test p = 0.12, `benchmarks.space_spread`): a comparison of
architectures there measures seeds. This benchmark trains networks that a
comparison at one latency would set against each other, each with `SEEDS`,
with the `fashion_mnist` experiment's recipe at each length of `--lengths`
epochs (the cosine schedule stretched to the length, nothing else changed).

At one latency, within `BAND` of the 3-epoch search's 1.58 ms on `mobile`
(the experiment's target): the network that search derived
(`benchmarks.search_vs_random`), MobileNetV2 1.0 at 28 px (one input
channel; what a user deploys without NAS, 1.61 ms), the space's median
network (the uniform draw at the median predicted latency of `POOL` draws,
1.70 ms), and the `NEAR` uniform draws closest to 1.58 ms. Beside them, for
the range of the space, its smallest and largest networks (every block its
cheapest, or its most expensive, candidate on `mobile`).

Per length: each network's test accuracy over the seeds, and the one-way F
test of whether networks differ by more than their seeds (seeds as
replicates), over the networks at one latency (what decides) and over all.
The chosen regime is the shortest length at which the networks at one
latency differ at p < 0.05; the report also says whether a network reaches
0.925 there, and no longer length is trained once one does both. The
space's range trains at the shortest length only. Lengths run in order,
shortest first, and the results files are rewritten after each length, so
a finished length is reported while the next trains. Each training is a
recorded part (`benchmarks.common.run_part`): reused when finished and
unchanged, continued with `--resume`, and kept when finished in
`OUTPUT_DIR/parts/NAME.json` (commit it as it comes: a fresh clone restores
the finished trainings from it and trains only the rest).
"""

from __future__ import annotations

import os
import platform
import statistics
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from benchmarks.common import (
    EXPERIMENT,
    PartError,
    PartLedger,
    Progress,
    draw_choices,
    flag_pairs,
    networks_differ,
    part_commits,
    require_fashion_mnist,
    run_part,
    spread,
    write_results,
)

LENGTHS = (3, 10, 20)
SEEDS = (0, 1, 2)
POOL = 1000
DRAW_SEED = 2  # not the draw seeds of search_vs_random (0) or space_spread (1)
SIGNIFICANCE = 0.05
# Published small CNNs on Fashion-MNIST (the benchmark's table, about 100K
# parameters, trained to convergence) reach 0.922-0.925.
GOOD_ACCURACY = 0.925
RESULTS_NAME = "regime"
# The network `benchmarks.search_vs_random`'s search derived (its results list the
# ops it runs and its 1.580 ms on `mobile`; this placement of its two skipped
# blocks is the one of that latency, and the other such placements are the same
# network, since a stage's second and third blocks have one shape).
SEARCHED_3_EPOCHS = (3, 6, 1, 3, 6, 3, 5, 3, 5)
SEARCHED_MS = 1.580
BAND = 0.10  # networks within ±10% of SEARCHED_MS on `mobile` are "at one latency"
NEAR = 2


def study_networks(runs: Path) -> list[dict[str, Any]]:
    """The networks of the study, written once as arch files under `runs/archs`.

    Each has its `name`, `arch` file, `params` and `macs`, its predicted
    latency on the `mobile` and `cpu` models, and whether it is `at_one_latency`
    (within `BAND` of `SEARCHED_MS` on `mobile`).
    """
    from tfnas.compare.evaluate import predicted_latencies
    from tfnas.latency.model import space_latency
    from tfnas.latency.targets import load_target
    from tfnas.nets import spec_json
    from tfnas.nets.costs import net_cost
    from tfnas.nets.reference_nets import mobilenet_v2
    from tfnas.search.config import resolve
    from tfnas.search.runner import build_space
    from tfnas.train.trainer import prepare_spec

    config = resolve(EXPERIMENT)
    space = build_space(config, num_classes=10, in_channels=1)
    latency = space_latency(load_target(config.latency.target), space)

    def extreme(pick: Callable[[Sequence[float]], float]) -> list[int]:
        return [block.index(pick(block)) for block in latency.candidates]

    draws = draw_choices([len(b.candidates) for b in space.choice_blocks], POOL, DRAW_SEED)
    by_latency = sorted(draws, key=latency.latency_of)
    median = by_latency[len(by_latency) // 2]
    others = [d for d in draws if d != median and d != list(SEARCHED_3_EPOCHS)]
    near = sorted(others, key=lambda d: abs(latency.latency_of(d) - SEARCHED_MS))[:NEAR]
    specs = {
        "searched-3-epochs": space.select(list(SEARCHED_3_EPOCHS)),
        "mobilenet_v2": prepare_spec(mobilenet_v2(), 10, 0.0, config.data.resolution, 1),
        "space-median": space.select(median),
        **{f"space-near-{k}": space.select(choices) for k, choices in enumerate(near)},
        "space-smallest": space.select(extreme(min)),
        "space-largest": space.select(extreme(max)),
    }
    networks = []
    for name, spec in specs.items():
        arch = runs / "archs" / f"{name}.json"
        if not arch.exists():
            spec_json.save_spec(spec, arch)
        cost = net_cost(spec_json.load_spec(arch))
        predicted = predicted_latencies(str(arch), config.latency.target)
        networks.append(
            {
                "name": name,
                "arch": str(arch),
                "params": cost.params,
                "macs": cost.macs,
                "predicted_mobile": predicted["predicted_latency"],
                "predicted_cpu": predicted["predicted_cpu_latency"],
                "at_one_latency": abs(predicted["predicted_latency"] / SEARCHED_MS - 1) <= BAND,
            }
        )
    return networks


def length_summary(accuracies: dict[str, list[float]], at_one_latency: Sequence[str]) -> dict:
    """One length's figures: each network's spread over seeds, the F tests, the best mean.

    `f_test` is over the networks `at_one_latency` (it decides), `f_test_all`
    over every network.
    """
    test = networks_differ([accuracies[name] for name in at_one_latency])
    return {
        "networks": {name: spread(values) for name, values in accuracies.items()},
        "f_test": test,
        "f_test_all": networks_differ(list(accuracies.values())),
        "ratio": test["between_std"] / test["seed_std"] if test["seed_std"] > 0 else float("inf"),
        "differ": test["p"] < SIGNIFICANCE,
        "best_mean": max(statistics.fmean(accuracies[name]) for name in at_one_latency),
        "best_mean_all": max(statistics.fmean(values) for values in accuracies.values()),
    }


def chosen_length(lengths: dict[str, dict[str, Any]]) -> int | None:
    """The shortest finished length at which the networks differ (p < SIGNIFICANCE), or None."""
    differing = [int(length) for length, summary in lengths.items() if summary["differ"]]
    return min(differing) if differing else None


def named(augment: str) -> str:
    """How a report names the augmentation: nothing for the experiment's own (none)."""
    return "" if augment == "none" else f", {augment}"


def changes(augment: str, overrides: Sequence[tuple[str, str]]) -> list[str]:
    """What a recipe changes of the experiment's, as folder and file names say it."""
    return ([] if augment == "none" else [augment]) + [f"{n}{v}" for n, v in overrides]


def train(
    runs: Path,
    net: dict[str, Any],
    length: int,
    seed: int,
    augment: str,
    resume: bool,
    overrides: Sequence[tuple[str, str]] = (),
    ledger: PartLedger | None = None,
) -> dict[str, Any]:
    """One training of `net` (a `study_networks` entry), as a recorded part; its summary.

    `overrides` are other flags of `tfnas.train` (`("weight_decay", "5e-4")`),
    named in the folder too. Without augmentation (the experiment's own)
    neither the folder nor the command names it, so the parts trained before
    `augment` existed are reused.
    """
    args = [
        f"--experiment={EXPERIMENT}",
        f"--arch={net['arch']}",
        f"--epochs={length}",
        f"--seed={seed}",
    ]
    if augment != "none":
        args.append(f"--augment={augment}")
    args += [f"--{name}={value}" for name, value in overrides]
    folder = "-".join([net["name"], f"e{length}", *changes(augment, overrides), f"seed{seed}"])
    return run_part("tfnas.train", args, runs / folder, "train_summary.json", resume, ledger=ledger)


def run_all(
    runs: Path,
    resume: bool,
    lengths: Sequence[int] = LENGTHS,
    report: Callable[[dict[str, Any]], None] | None = None,
    augment: str = "none",
    overrides: Sequence[tuple[str, str]] = (),
    space_range: bool = True,
    ledger: PartLedger | None = None,
) -> dict[str, Any]:
    """Trains (or reuses) every network, seed and length; `report` gets the figures so far.

    `augment` is the training augmentation of every length (one of
    `tfnas.datasets.pipeline.AUGMENTATIONS`; the experiment has none), and
    `overrides` other `tfnas.train` flags of every training.

    The networks off the latency (the space's range) train at the shortest
    length only, and not at all without `space_range`: they do not decide,
    and would cost a third of the trainings. Lengths stop at the first at
    which the networks at one latency differ and one of them reaches
    `GOOD_ACCURACY`: a longer one cannot be the regime. `report` is called
    after each round of seeds from the second on (a length's F test needs
    two seeds; `seeds_done` says how many a length has so far), since a
    length of long trainings takes hours. `ledger` keeps each finished
    training's summary, to be committed as it comes.
    """
    networks = study_networks(runs)
    lengths = sorted(lengths)
    at_one_latency = [net["name"] for net in networks if net["at_one_latency"]]

    def trained_at(length: int) -> list[dict[str, Any]]:
        return [
            n for n in networks if n["at_one_latency"] or (space_range and length == lengths[0])
        ]

    progress = Progress(total=sum(len(SEEDS) * len(trained_at(n)) for n in lengths))
    figures: dict[str, Any] = {
        "experiment": EXPERIMENT,
        "machine": f"{platform.machine()}, {os.cpu_count()} cores",
        "seeds": list(SEEDS),
        "augment": augment,
        "overrides": dict(overrides),
        "networks": [n for n in networks if n["at_one_latency"] or space_range],
        "lengths": {},
        "skipped_lengths": [],
    }
    parts = []
    for index, length in enumerate(lengths):
        accuracies: dict[str, list[float]] = {net["name"]: [] for net in trained_at(length)}
        for round_, seed in enumerate(SEEDS, 1):
            for net in trained_at(length):
                progress(f"{net['name']}, {length} epochs{named(augment)}, seed {seed}")
                summary = train(runs, net, length, seed, augment, resume, overrides, ledger)
                accuracies[net["name"]].append(summary["test_accuracy"])
                parts.append(summary)
            figures["lengths"][str(length)] = {"accuracies": accuracies, "seeds_done": round_}
            figures["part_commits"] = part_commits(parts)
            if round_ == len(SEEDS):
                done = length_summary(accuracies, at_one_latency)
                if done["differ"] and done["best_mean"] >= GOOD_ACCURACY:
                    figures["skipped_lengths"] = lengths[index + 1 :]
            if report is not None and round_ >= 2:
                report(figures)
        if figures["skipped_lengths"]:
            break
    return figures


def summarize(figures: dict[str, Any]) -> dict[str, Any]:
    """Per length the F test and spreads; the chosen length and whether it reaches 0.925."""
    at_one_latency = [net["name"] for net in figures["networks"] if net["at_one_latency"]]
    seeds = len(figures["seeds"])
    lengths = {
        length: {
            **length_summary(done["accuracies"], at_one_latency),
            # Results from before rounds were reported have whole lengths only.
            "seeds_done": done.get("seeds_done", seeds),
        }
        for length, done in figures["lengths"].items()
    }
    chosen = chosen_length({n: s for n, s in lengths.items() if s["seeds_done"] == seeds})
    return {
        "lengths": lengths,
        "chosen_length": chosen,
        "at_one_latency": at_one_latency,
        "reaches_good_accuracy": (
            chosen is not None and lengths[str(chosen)]["best_mean_all"] >= GOOD_ACCURACY
        ),
    }


def markdown(figures: dict[str, Any], summary: dict[str, Any]) -> str:
    """The table per network and length, the F tests, and the outcome."""
    lengths = list(summary["lengths"])
    same = summary["at_one_latency"]
    augment = figures.get("augment", "none")  # results from before `--augment` had none
    changed = "" if augment == "none" else f", trained with `{augment}` augmentation"
    changed += "".join(f", `--{n}={v}`" for n, v in figures.get("overrides", {}).items())
    lines = [
        f"`{figures['experiment']}` experiment's recipe at each length (cosine schedule "
        f"stretched to it){changed}, seeds {', '.join(map(str, figures['seeds']))}; test accuracy, "
        f"mean ± std over seeds; {figures['machine']}. At one latency (*): within "
        f"±{100 * BAND:.0f}% of {SEARCHED_MS} ms on `mobile`.",
        "",
        "| network | params | MACs | predicted `mobile` (ms) | "
        + " | ".join(
            f"{length} epochs{seeds_so_far(summary, figures, length)}" for length in lengths
        )
        + " |",
        "|---|---:|---:|---:|" + "---|" * len(lengths),
    ]
    for net in figures["networks"]:
        cells = []
        for length in lengths:
            stats = summary["lengths"][length]["networks"].get(net["name"])
            cells.append(f"{stats['mean']:.4f} ± {stats['std']:.4f}" if stats else "—")
        star = " *" if net["at_one_latency"] else ""
        lines.append(
            f"| {net['name']}{star} | {net['params']:,} | {net['macs'] / 1e6:.1f}M | "
            f"{net['predicted_mobile']:.3f} | " + " | ".join(cells) + " |"
        )
    lines += [
        "",
        "| length | networks | between networks (std of means) | between seeds (pooled) "
        "| ratio | F | p |",
        "|---:|---|---:|---:|---:|---:|---:|",
    ]
    for length in lengths:
        s = summary["lengths"][length]
        for label, test in ((f"{len(same)} at one latency", s["f_test"]), ("all", s["f_test_all"])):
            ratio = test["between_std"] / test["seed_std"]
            lines.append(
                f"| {length} | {label} | {test['between_std']:.4f} | {test['seed_std']:.4f} | "
                f"{ratio:.1f} | {test['f']:.2f} ({test['dof_between']}, "
                f"{test['dof_within']}) | {test['p']:.3g} |"
            )
    chosen = summary["chosen_length"]
    if chosen is None:
        outcome = (
            f"At no length trained with every seed so far ({', '.join(lengths)} epochs) "
            f"do the {len(same)} networks at one latency differ at p < {SIGNIFICANCE}."
        )
    else:
        best = summary["lengths"][str(chosen)]["best_mean_all"]
        outcome = (
            f"The shortest length at which the networks at one latency differ at p < "
            f"{SIGNIFICANCE}: {chosen} epochs; the best network's mean there is {best:.4f}, "
            + ("at least" if best >= GOOD_ACCURACY else "under")
            + f" the {GOOD_ACCURACY} of published small CNNs."
        )
    skipped = figures.get("skipped_lengths", [])
    if skipped:
        outcome += f" Not trained, being longer: {', '.join(map(str, skipped))} epochs."
    commits = ", ".join(f"{short_commit(c)} ({n})" for c, n in figures["part_commits"].items())
    lines += [
        "",
        "Networks without * (the space's range) train at the shortest length only.",
        outcome,
        f"Trainings by the commit they started from: {commits}.",
    ]
    return "\n".join(lines) + "\n"


def seeds_so_far(summary: dict[str, Any], figures: dict[str, Any], length: str) -> str:
    """A length's note while its rounds of seeds train: ` (2 of 3 seeds)`; nothing once done."""
    done, seeds = summary["lengths"][length]["seeds_done"], len(figures["seeds"])
    return "" if done == seeds else f" ({done} of {seeds} seeds)"


def results_name(augment: str, overrides: Sequence[tuple[str, str]] = ()) -> str:
    """The results files' name: `regime`, or with what the recipe changes (`regime-flip`)."""
    return "-".join([RESULTS_NAME, *changes(augment, overrides)])


def short_commit(commit: str) -> str:
    """A commit's first 12 characters, and `-dirty` when the tree differed from it."""
    return commit.removesuffix("-dirty")[:12] + ("-dirty" if commit.endswith("-dirty") else "")


def plot(figures: dict[str, Any], path: Path) -> Path:
    """Test accuracy against training length, one line per network, seeds as error bars."""
    from tfnas.plots import finish_figure, new_figure

    figure, axes = new_figure(figsize=(6, 4))
    lengths = sorted(int(length) for length in figures["lengths"])
    for net in figures["networks"]:
        trained = [
            (n, figures["lengths"][str(n)]["accuracies"][net["name"]])
            for n in lengths
            if net["name"] in figures["lengths"][str(n)]["accuracies"]
        ]
        means = [statistics.fmean(v) for _, v in trained]
        stds = [statistics.stdev(v) if len(v) > 1 else 0.0 for _, v in trained]
        axes.errorbar(
            [n for n, _ in trained], means, yerr=stds, marker="o", capsize=3, label=net["name"]
        )
    axes.axhline(GOOD_ACCURACY, color="0.4", linestyle="--", linewidth=1)
    return finish_figure(
        figure,
        axes,
        path,
        (
            "training epochs",
            "test accuracy (mean ± std over seeds)",
            "Fashion-MNIST: when do networks differ beyond their seeds?",
        ),
    )


def main(argv: list[str]) -> None:
    """Entry point: trains (or reuses) every length in turn, writing the results after each."""
    import sys

    from absl import flags

    del argv
    values = flags.FLAGS
    require_fashion_mnist()
    out = Path(values.output_dir)
    try:
        lengths = sorted({int(n) for n in values.lengths})
    except ValueError:
        lengths = []
    if not lengths or lengths[0] < 1:
        sys.exit(f"error: --lengths={','.join(values.lengths)}: expected epochs, integers >= 1")
    try:
        overrides = flag_pairs(values.train_flags)
    except ValueError as error:
        sys.exit(f"error: {error}")

    name = results_name(values.augment, overrides)

    def report(figures: dict[str, Any]) -> None:
        write_results(figures, summarize, markdown, plot, name, out)

    try:
        run_all(
            Path(values.runs_dir),
            values.resume,
            lengths,
            report,
            values.augment,
            overrides,
            values.space_range,
            PartLedger(out / "parts" / f"{name}.json", Path(values.runs_dir)),
        )
    except PartError as error:
        sys.exit(f"error: {error}")


if __name__ == "__main__":
    from absl import app, flags

    from benchmarks.common import define_benchmark_flags
    from tfnas.datasets.pipeline import AUGMENTATIONS

    define_benchmark_flags("runs/regime")
    flags.DEFINE_list("lengths", [str(n) for n in LENGTHS], "Training lengths in epochs.")
    flags.DEFINE_enum(
        "augment", "none", list(AUGMENTATIONS), "Training augmentation (the experiment has none)."
    )
    flags.DEFINE_list("train_flags", [], "Other tfnas.train flags (--weight_decay=5e-4).")
    flags.DEFINE_bool(
        "space_range",
        True,
        "Also train the space's smallest and largest networks (at the shortest length).",
    )
    app.run(main)
