"""Where a search epoch's time goes, against a training epoch of its derived network.

    python -m benchmarks.search_profile [--experiment=fashion_mnist] [--steps=40] [--rounds=6]
        [--output_dir=benchmarks/results] [--no_full_epochs]

Needs the Fashion-MNIST files for `fashion_mnist` (`apt-get install
dataset-fashion-mnist`); `--experiment=demo` runs on the embedded data. Run
it alone: it times this machine.

ProxylessNAS's claim is that a search costs about what training costs. A
search epoch does more than a training epoch: an arch step (two paths
forward and backward on a held-out batch) every `arch_update_every` weight
steps, sampling and dispatch in every weight step, and at the end of an
epoch the derived network's evaluation with re-estimated batch norm. This
benchmark times each phase alone, in one process, after each has been
traced (`--steps` calls, the median of per-call times):

- `data`: one training batch from the pipeline (decode, augment, batch);
- `weight_step`: one supernet weight step (sampled path, SGD), batches in memory;
- `weight_step_derived_path`: the same, with the architecture logits pinned
  so that every step samples the derived network's path: the network of
  `derived_step` run through the supernet, so that the difference is the
  supernet's own overhead (dispatch, the sampled-path optimizer) and not
  the cost of the paths sampled;
- `arch_step`: one arch step on a held-out batch of `arch_batch_size`;
- `derived_step`: one training step of the derived network (`tfnas.train`'s);
- `fit_step`: one step of `model.fit` over `--steps` batches in memory of
  the same network and batch (Keras' own loop, compiled by `Recipe.compile`:
  the recipe's SGD and loss, accuracy as `tfnas.train` computes it, no
  XLA): the yardstick for `tfnas.train`;
- `bn_reestimation` and `valid_accuracy`: the search's end of epoch;
- `test_accuracy`: the training's end of epoch;
- `search_checkpoint`, `train_checkpoint`: one checkpoint each.

From them, each epoch's estimate (`epoch_estimates`): the steps of an epoch
times their phases, the arch steps it holds, its evaluation and checkpoints.
Unless `--no_full_epochs`, a search of two whole epochs (arch steps on)
and a training of two are also run, and each epoch timed (the loop's
seconds: steps and data, without the end-of-epoch evaluation). The second
epochs are what the estimate must add up to; the first adds the one-time
tracing of the steps and the first run of each candidate's branch. The
derived network is the experiment's search's on the `mobile` model at 3
epochs (`benchmarks.regime.SEARCHED_3_EPOCHS`) for `fashion_mnist`, every
space's first candidates otherwise. The whole runs are sampled by
`benchmarks.stack_sampler`: where the main thread was every 0.25 s, with
the process's CPU seconds and page faults and the machine's steal and
iowait, so that a slow epoch says where its time went.

Writes `search_profile.json` and `.md`.
"""

from __future__ import annotations

import contextlib
import functools
import os
import platform
import statistics
import tempfile
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from benchmarks.common import require_fashion_mnist
from benchmarks.stack_sampler import Heartbeat, StackSampler, markdown_lines, summarize

RESULTS_NAME = "search_profile"
WARMUP_CALLS = 3  # calls before timing: tracing, first allocations


def per_call(
    fn: Callable[[], Any], calls: int, clock: Callable[[], float], warmup: int = WARMUP_CALLS
) -> float:
    """The median seconds of one call of `fn`, over `calls` calls after `warmup` untimed ones."""
    warm_up(fn, warmup)
    times = []
    for _ in range(calls):
        began = clock()
        fn()
        times.append(clock() - began)
    return statistics.median(times)


def warm_up(fn: Callable[[], Any], calls: int = WARMUP_CALLS) -> None:
    """Calls `fn` `calls` times, untimed: tracing, first allocations, first branches."""
    for _ in range(calls):
        fn()


def interleaved(phases: dict[str, Callable[[], float]], rounds: int) -> dict[str, list[float]]:
    """Each phase's per-call seconds, measured in `rounds` rounds that take turns.

    `phases` maps a name to a function that times a block of calls and returns
    the seconds of one call. Every round times each phase once, in turn, so
    that a slow spell of the machine falls on all of them alike: on a 2-core
    cloud VM the same step took 40% longer in one run than in another, more
    than the differences measured. A ratio is then taken within each round.
    """
    times: dict[str, list[float]] = {name: [] for name in phases}
    for _ in range(rounds):
        for name, timed in phases.items():
            times[name].append(timed())
    return times


def round_ratios(times: dict[str, list[float]], numerator: str, denominator: str) -> list[float]:
    """`numerator` / `denominator` per round of `interleaved` times."""
    return [a / b for a, b in zip(times[numerator], times[denominator], strict=True)]


def arch_steps_in_epoch(steps: int, follows: Callable[[int], bool]) -> int:
    """How many arch steps an epoch of `steps` weight steps holds."""
    return sum(follows(step) for step in range(steps))


def search_arch_steps(search: Any) -> int:
    """How many arch steps an epoch of `search` (a `SearchRun`) holds."""
    from tfnas.search.runner import arch_step_follows

    steps, arch_search = search.steps_per_epoch, search.config.arch_search
    return arch_steps_in_epoch(steps, lambda step: arch_step_follows(step, steps, arch_search))


def epoch_estimates(phases: dict[str, float], counts: dict[str, int]) -> dict[str, Any]:
    """Each epoch's seconds, per phase, from the phases' per-call seconds and the epoch's counts.

    `counts` holds `steps` (weight steps per search epoch), `train_steps`
    (per training epoch; default `steps`), `arch_steps` (per search epoch)
    and `search_checkpoints`, `train_checkpoints` (per epoch).
    """
    steps = counts["steps"]
    search = {
        "data": steps * phases["data"],
        "weight steps": steps * phases["weight_step"],
        "arch steps": counts["arch_steps"] * phases["arch_step"],
        "BN re-estimation": phases["bn_reestimation"],
        "held-out evaluation": phases["valid_accuracy"],
        "checkpoints": counts["search_checkpoints"] * phases["search_checkpoint"],
    }
    train_steps = counts.get("train_steps", steps)  # training holds nothing out
    train = {
        "data": train_steps * phases["data"],
        "training steps": train_steps * phases["derived_step"],
        "test evaluation": phases["test_accuracy"],
        "checkpoints": counts["train_checkpoints"] * phases["train_checkpoint"],
    }
    search_total, train_total = sum(search.values()), sum(train.values())
    return {
        "search": search,
        "train": train,
        "search_total": search_total,
        "train_total": train_total,
        "ratio": search_total / train_total,
        "fit_images_per_s": counts["batch_size"] / phases["fit_step"],
        "train_images_per_s": counts["batch_size"] / phases["derived_step"],
    }


@contextlib.contextmanager
def pinned_path(alphas: list[Any], choices: list[int]) -> Iterator[None]:
    """Architecture logits that sample `choices` every time (softmax 1 - e^-100), then restored."""
    import numpy as np

    saved = [alpha.numpy() for alpha in alphas]
    for alpha, choice in zip(alphas, choices, strict=True):
        logits = np.zeros(alpha.shape, np.float32)
        logits[choice] = 100.0
        alpha.assign(logits)
    try:
        yield
    finally:
        for alpha, value in zip(alphas, saved, strict=True):
            alpha.assign(value)


def per_round(figures: dict[str, Any]) -> dict[str, list[float]]:
    """Per interleaved round: the estimated search/training epoch ratio, and train vs fit.

    `train_vs_fit` is `tfnas.train`'s throughput over `model.fit`'s (above 1:
    faster). The end-of-epoch phases, timed once, are shared by all rounds.
    """
    times = figures["round_times"]
    rounds = len(next(iter(times.values())))
    ratios = []
    for r in range(rounds):
        phases = figures["phases"] | {name: seconds[r] for name, seconds in times.items()}
        ratios.append(epoch_estimates(phases, figures["counts"])["ratio"])
    return {"epoch_ratio": ratios, "train_vs_fit": round_ratios(times, "fit_step", "derived_step")}


def cycle(dataset: Any) -> Iterator[Any]:
    """The batches of `dataset` (a few, kept in memory), over and over."""
    batches = list(dataset)
    while True:
        yield from batches


def profile(
    experiment: str,
    steps: int,
    workdir: Path,
    full_epochs: bool = True,
    clock: Callable[[], float] = time.perf_counter,
    rounds: int = 1,
) -> dict[str, Any]:
    """Times each phase (and, with `full_epochs`, two whole epochs of each job); the figures.

    The steps are timed in `rounds` interleaved rounds of `steps` calls each
    (`interleaved`); a step phase's figure is the median over the rounds.
    """
    import tensorflow as tf

    from benchmarks.regime import SEARCHED_3_EPOCHS
    from tfnas.engine.bn_calibration import accuracy_of
    from tfnas.engine.job import start_job
    from tfnas.nets.builder import build_net
    from tfnas.nets.spec_json import save_spec
    from tfnas.search.config import resolve as resolve_search
    from tfnas.search.job import SEARCH
    from tfnas.train.config import resolve as resolve_train

    search_config = resolve_search(experiment)
    search, pipeline, _ = start_job(
        SEARCH, search_config, workdir / "search", log=lambda _: None, verbose=0
    )
    choices = (
        list(SEARCHED_3_EPOCHS) if experiment == "fashion_mnist" else [0] * len(search.arch.alphas)
    )
    arch = save_spec(search.space.select(choices), workdir / "arch.json")
    train_config = resolve_train(experiment, arch=str(arch))
    trainer = trainer_of(train_config, pipeline, workdir / "train", log=lambda _: None)
    spec = trainer.spec

    train_batches = cycle(pipeline.train_epoch(0).take(WARMUP_CALLS + steps))
    valid = iter(pipeline.valid_stream(0, search.arch_batch_size))
    counter = iter(range(10**9))
    uniform = tf.constant(False)

    def seed() -> tf.Tensor:
        return tf.constant([0, next(counter)], tf.int64)

    data = iter(pipeline.train_epoch(1))
    model = build_net(spec)
    trainer.recipe.compile(model)  # as the keras-tuner trials: accuracy too, no XLA
    fit_data = pipeline.train_epoch(2).take(steps).cache()  # in memory after the first fit

    def fit_steps() -> None:  # Keras' own loop over `steps` batches
        model.fit(fit_data, epochs=1, verbose=0, shuffle=False)

    def weight_step() -> None:
        search.steps.weight_step(*next(train_batches), seed(), uniform)

    def weight_step_derived_path() -> float:
        with pinned_path(search.arch.alphas, choices):
            return per_call(weight_step, steps, clock, warmup=0)

    # Each step is traced, and each branch it takes run, before any is timed.
    warm_up(weight_step)
    with pinned_path(search.arch.alphas, choices):
        warm_up(weight_step)
    warm_up(lambda: search.steps.arch_step(*next(valid), seed()))
    warm_up(lambda: trainer.train_step(*next(train_batches)))
    warm_up(fit_steps, 1)
    times = interleaved(
        {
            "weight_step": lambda: per_call(weight_step, steps, clock, warmup=0),
            "weight_step_derived_path": weight_step_derived_path,
            "arch_step": lambda: per_call(
                lambda: search.steps.arch_step(*next(valid), seed()), steps, clock, warmup=0
            ),
            "derived_step": lambda: per_call(
                lambda: trainer.train_step(*next(train_batches)), steps, clock, warmup=0
            ),
            "fit_step": lambda: per_call(fit_steps, 1, clock, warmup=0) / steps,
        },
        rounds,
    )
    derived: list[Any] = []  # the derived network, from its BN re-estimation to its evaluation
    phases = {
        "data": per_call(lambda: next(data), steps, clock),
        **{name: statistics.median(seconds) for name, seconds in times.items()},
        "bn_reestimation": per_call(
            lambda: derived.append(search.derived_model(choices)), 1, clock
        ),
        "valid_accuracy": per_call(
            lambda: accuracy_of(derived[-1], pipeline.valid_batches()), 1, clock
        ),
        "test_accuracy": per_call(lambda: trainer.evaluate(pipeline.test_batches()), 1, clock),
        "search_checkpoint": per_call(search.save, 1, clock),
        "train_checkpoint": per_call(trainer.save, 1, clock),
    }
    counts = {
        "steps": search.steps_per_epoch,
        "train_steps": trainer.steps_per_epoch,
        "batch_size": search_config.data.batch_size,
        "arch_steps": search_arch_steps(search),
        "search_checkpoints": search.steps_per_epoch // search_config.run.checkpoint_every + 1,
        "train_checkpoints": trainer.steps_per_epoch // train_config.run.checkpoint_every + 1,
    }
    figures = {
        "experiment": experiment,
        "machine": f"{platform.machine()}, {os.cpu_count()} cores",
        "tensorflow": tf.__version__,
        "steps": steps,
        "rounds": rounds,
        "choices": choices,
        "phases": phases,
        "round_times": times,
        "counts": counts,
    }
    if full_epochs:
        figures["full_epochs"] = full_epoch_seconds(experiment, arch, workdir, clock)
    return figures


def trainer_of(config: Any, pipeline: Any, out: Path, log: Callable[[str], None]) -> Any:
    """`tfnas.train`'s trainer of `config.arch` on `pipeline`'s data, writing into `out`."""
    from tfnas.engine.job import start_job
    from tfnas.train.job import TRAIN

    return start_job(TRAIN, config, out, pipeline=pipeline, log=log, verbose=0)[0]


class StepClock:
    """Adds up the seconds spent inside a job's step calls, per epoch.

    `wrap` returns the step function timed; `per_epoch` splits the calls
    into epochs by how many each epoch makes. An epoch's seconds minus its
    steps' are what the loop spends outside them: data, logging, the arch
    steps' batches.
    """

    def __init__(self, clock: Callable[[], float]) -> None:
        self.clock = clock
        self.calls: dict[str, list[float]] = {}
        self.running: str | None = None  # the step in a call now (for `StackSampler`)

    def wrap(self, name: str, fn: Callable[..., Any]) -> Callable[..., Any]:
        """`fn`, with each call's seconds kept under `name`."""
        calls = self.calls.setdefault(name, [])

        def timed(*args: Any, **kwargs: Any) -> Any:
            began = self.clock()
            self.running = name
            try:
                return fn(*args, **kwargs)
            finally:
                self.running = None
                calls.append(self.clock() - began)

        return timed

    def epoch_label(self, job: str, name: str, per_epoch: int) -> str:
        """`job epoch N`, N the epoch of `name`'s latest call (its end of epoch included)."""
        calls = len(self.calls.get(name, []))
        return f"{job} epoch {max(calls - 1, 0) // per_epoch + 1}"

    def per_epoch(self, per_epoch_calls: dict[str, int], epochs: int) -> list[float]:
        """Seconds inside the step calls in each epoch (`name` -> its calls per epoch)."""
        return [
            sum(
                sum(self.calls.get(name, [])[epoch * count : (epoch + 1) * count])
                for name, count in per_epoch_calls.items()
            )
            for epoch in range(epochs)
        ]


def full_epoch_seconds(
    experiment: str, arch: Path, workdir: Path, clock: Callable[[], float]
) -> dict[str, Any]:
    """Two whole epochs of each job: loop seconds, seconds inside the steps, wall seconds.

    The search has its arch steps on from its first epoch. A job's first
    epoch traces its steps; its second is the steady state.
    """
    from tfnas.engine.job import start_job
    from tfnas.search.config import resolve as resolve_search
    from tfnas.search.job import SEARCH
    from tfnas.train.config import resolve as resolve_train
    from tfnas.train.job import TRAIN

    epochs = 2
    search_config = resolve_search(experiment, warmup_epochs=0, epochs=epochs, arch_start_epoch=0)
    search = start_job(SEARCH, search_config, workdir / "full-search", log=print, verbose=0)[0]
    search_clock = StepClock(clock)
    # The loop looks the steps up on each call, so the timed ones are what it runs.
    search.steps.weight_step = search_clock.wrap("weight", search.steps.weight_step)
    search.steps.arch_step = search_clock.wrap("arch", search.steps.arch_step)
    search_label = functools.partial(
        search_clock.epoch_label, "search", "weight", search.steps_per_epoch
    )
    train_config = resolve_train(experiment, arch=str(arch), epochs=epochs, warmup_epochs=0)
    with Heartbeat() as heartbeat:  # says whether the whole machine stalled with a run
        began = clock()
        with StackSampler(search_label, lambda: search_clock.running) as search_sampler:
            search.run()
        search_wall = clock() - began
        trainer = start_job(TRAIN, train_config, workdir / "full-train", log=print, verbose=0)[0]
        train_clock = StepClock(clock)
        trainer.train_step = train_clock.wrap("train", trainer.train_step)
        train_label = functools.partial(
            train_clock.epoch_label, "training", "train", trainer.steps_per_epoch
        )
        began = clock()
        with StackSampler(train_label, lambda: train_clock.running) as train_sampler:
            trainer.run()
        train_wall = clock() - began
    return {
        "search": [epoch.seconds for epoch in search.history],
        "train": [epoch.seconds for epoch in trainer.history],
        "search_in_steps": search_clock.per_epoch(
            {"weight": search.steps_per_epoch, "arch": search_arch_steps(search)}, epochs
        ),
        "train_in_steps": train_clock.per_epoch({"train": trainer.steps_per_epoch}, epochs),
        "search_wall": search_wall,
        "train_wall": train_wall,
        "where": summarize(
            search_sampler.samples + train_sampler.samples, machine_gaps=heartbeat.gaps
        ),
        "machine_gaps": heartbeat.gaps,
    }


def markdown(figures: dict[str, Any], estimates: dict[str, Any]) -> str:
    """The phases, each epoch's estimate per phase, the ratio, and the whole epochs if timed."""
    phases, counts = figures["phases"], figures["counts"]
    rounds = figures.get("rounds", 1)
    rounds_note = (
        f" (the steps: then the median of {rounds} interleaved rounds)" if rounds > 1 else ""
    )
    lines = [
        f"`{figures['experiment']}`, {figures['machine']}, TensorFlow {figures['tensorflow']}; "
        f"median of {figures['steps']} calls per phase after {WARMUP_CALLS} untimed ones"
        f"{rounds_note}. "
        f"An epoch: {counts['steps']} weight steps of {counts['batch_size']} images, "
        f"{counts['arch_steps']} arch steps, {counts['search_checkpoints']} checkpoints "
        f"({counts['train_checkpoints']} in training).",
        "",
        "| phase | ms per call |",
        "|---|---:|",
        *(f"| {name} | {1000 * seconds:.2f} |" for name, seconds in phases.items()),
        "",
        "| search epoch | s | training epoch | s |",
        "|---|---:|---|---:|",
    ]
    search, train = list(estimates["search"].items()), list(estimates["train"].items())
    for k in range(max(len(search), len(train))):
        left = f"{search[k][0]} | {search[k][1]:.1f}" if k < len(search) else " | "
        right = f"{train[k][0]} | {train[k][1]:.1f}" if k < len(train) else " | "
        lines.append(f"| {left} | {right} |")
    lines += [
        f"| **total** | **{estimates['search_total']:.1f}** | **total** | "
        f"**{estimates['train_total']:.1f}** |",
        "",
        f"Estimated search epoch / training epoch: {estimates['ratio']:.2f}x. "
        f"Training steps: {estimates['train_images_per_s']:.0f} images/s; "
        f"`model.fit` of the same network and batch: {estimates['fit_images_per_s']:.0f} "
        "images/s.",
    ]
    if rounds > 1:
        spread = per_round(figures)

        def summary(values: list[float]) -> str:
            return f"{statistics.median(values):.2f} (range {min(values):.2f}-{max(values):.2f})"

        lines.append(
            f"Per interleaved round ({figures['rounds']} rounds of {figures['steps']} calls of "
            f"each step, taking turns): search epoch / training epoch "
            f"{summary(spread['epoch_ratio'])}; `tfnas.train` throughput / `model.fit`'s "
            f"{summary(spread['train_vs_fit'])}."
        )
    full = figures.get("full_epochs")
    if full:
        (search_first, search_second), (train_first, train_second) = full["search"], full["train"]
        lines.append(
            f"Whole epochs, timed (two of each job): search {search_first:.1f} s then "
            f"{search_second:.1f} s, training {train_first:.1f} s then {train_second:.1f} s; "
            f"second epochs {search_second / train_second:.2f}x (first epochs "
            f"{search_first / train_first:.2f}x: they trace the steps). Whole runs, with "
            f"their end-of-epoch evaluations and outputs: {full['search_wall']:.0f} s and "
            f"{full['train_wall']:.0f} s."
        )
        if "search_in_steps" in full:
            inside = full["search_in_steps"] + full["train_in_steps"]
            outside = [
                total - steps
                for total, steps in zip(full["search"] + full["train"], inside, strict=True)
            ]
            lines.append(
                "Of those epochs, inside the step calls: search "
                f"{inside[0]:.1f} s and {inside[1]:.1f} s, training {inside[2]:.1f} s and "
                f"{inside[3]:.1f} s; outside them (the loop, the data, the arch steps' "
                f"batches): {outside[0]:.1f}, {outside[1]:.1f}, {outside[2]:.1f} and "
                f"{outside[3]:.1f} s."
            )
        if full.get("where"):
            lines += [
                "",
                "Where those runs' time went, the main thread sampled every 0.25 s "
                "(`benchmarks/stack_sampler.py`; an epoch's rows include its end of epoch; "
                "steal and iowait are the whole machine's, summed over its cores; `longest s` "
                "is the longest interval between two samples, over 0.25 s when the sampler "
                "itself could not run; `machine stalled s` the seconds in which a separate "
                "process's 50 ms naps overran too, the whole machine stopped):",
                "",
                *markdown_lines(full["where"]),
            ]
    return "\n".join(lines) + "\n"


def main(argv: list[str]) -> None:
    """Entry point: profiles, prints and writes the results."""
    import json

    from absl import flags

    from tfnas.io.atomic import write_text_atomic

    del argv
    values = flags.FLAGS
    if values.experiment == "fashion_mnist":
        require_fashion_mnist()
    with tempfile.TemporaryDirectory() as workdir:
        figures = profile(
            values.experiment,
            values.steps,
            Path(workdir),
            values.full_epochs,
            rounds=values.rounds,
        )
    estimates = epoch_estimates(figures["phases"], figures["counts"])
    text = markdown(figures, estimates)
    print(text, flush=True)
    out = Path(values.output_dir)
    results = {**figures, "estimates": estimates}
    write_text_atomic(out / f"{RESULTS_NAME}.json", json.dumps(results, indent=2) + "\n")
    write_text_atomic(out / f"{RESULTS_NAME}.md", text)


if __name__ == "__main__":
    from absl import app, flags

    flags.DEFINE_enum("experiment", "fashion_mnist", ["fashion_mnist", "demo"], "The experiment.")
    flags.DEFINE_integer("steps", 40, "Timed calls of each step phase per round.", lower_bound=1)
    flags.DEFINE_integer(
        "rounds", 6, "Interleaved rounds of the step phases (their median).", lower_bound=1
    )
    flags.DEFINE_string("output_dir", "benchmarks/results", "Where the results files go.")
    flags.DEFINE_bool("full_epochs", True, "Also run and time two whole epochs of each job.")
    app.run(main)
