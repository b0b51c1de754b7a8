"""The compared methods at one image budget: the ProxylessNAS search and keras-tuner trials.

The budget is counted in training images: every image that went through a
forward and backward pass. For the search that is its weight steps (batch
`batch_size`) plus its architecture steps (batch `eval_batch_size`, on the
held-out split; REINFORCE: `rl_batch_size` forward only, once per sampled
network); the tuners get exactly that many for all their trials
together (`ImageBudget`), trained on the same training split and scored on
the same held-out split. Evaluation passes are not counted for anyone.

Each method leaves `METHOD/result.json` (and the winner's `arch.json`)
in the comparison's folder, written atomically, so a resumed comparison
reuses the methods that finished.
"""

from __future__ import annotations

import functools
import time
from collections.abc import Callable
from pathlib import Path

import keras
import tensorflow as tf

from tfnas import records
from tfnas.baselines.hypermodel import ImageBudget, SpaceHyperModel, make_tuner, run_tuner
from tfnas.compare.config import METHOD_SEARCH, CompareConfig
from tfnas.datasets.pipeline import Pipeline
from tfnas.engine.job import run_job
from tfnas.latency.model import space_latency
from tfnas.latency.targets import load_target
from tfnas.nets import spec_json
from tfnas.records import MethodResult
from tfnas.search.config import SearchConfig
from tfnas.search.job import SEARCH
from tfnas.search.runner import build_space

RESULT_FILE = "result.json"
ARCH_FILE = "arch.json"


def load_result(method_dir: Path) -> MethodResult | None:
    """A finished method's result, or None when it has not finished."""
    path = method_dir / RESULT_FILE
    if not path.exists():
        return None
    return records.load(MethodResult, path, fix=f"remove {method_dir} to rerun the method")


def save_result(method_dir: Path, result: MethodResult) -> MethodResult:
    """Writes `result.json`; returns the result."""
    records.save(result, method_dir / RESULT_FILE)
    return result


def run_search(
    config: SearchConfig,
    pipeline: Pipeline,
    method_dir: Path,
    resume: bool,
    log: Callable[[str], None],
) -> MethodResult:
    """Runs (or resumes) the ProxylessNAS search; returns its result and image count."""
    began = time.monotonic()
    outcome = run_job(
        SEARCH,
        config,
        method_dir,
        resume=resume,
        pipeline=pipeline,
        log=log,
        verbose=0,
        setup_tensorflow=False,
        announce=False,
    )
    summary, run = outcome.summary, outcome.runner
    weight_images = int(run.step.numpy()) * config.data.batch_size
    arch_images = run.arch_images
    return save_result(
        method_dir,
        MethodResult(
            method=METHOD_SEARCH,
            choices=summary.choices,
            ops=summary.ops,
            arch=str(method_dir / ARCH_FILE),
            images=weight_images + arch_images,
            weight_images=weight_images,
            arch_images=arch_images,
            seconds=time.monotonic() - began,
            trials=None,
            trained_trials=None,
            valid_accuracy=summary.valid_accuracy,
            predicted_latency=summary.latency,
            trial_rows=None,
        ),
    )


def _train_stream(pipeline: Pipeline, epochs: int, steps_per_epoch: int) -> tf.data.Dataset:
    """`epochs` epochs of training batches in a row, each `steps_per_epoch` long."""
    parts = [pipeline.train_epoch(epoch).take(steps_per_epoch) for epoch in range(epochs)]
    return functools.reduce(lambda a, b: a.concatenate(b), parts)


def run_baseline(
    kind: str,
    compare: CompareConfig,
    config: SearchConfig,
    pipeline: Pipeline,
    budget_images: int,
    method_dir: Path,
    log: Callable[[str], None],
) -> MethodResult:
    """Runs one keras-tuner method within `budget_images`; returns its winner and cost."""
    began = time.monotonic()
    keras.utils.set_random_seed(config.run.seed)
    space = build_space(config, pipeline.source.num_classes, pipeline.source.channels)
    latency = space_latency(load_target(config.latency.target), space)
    steps = pipeline.steps_for(config.data.steps_per_epoch)
    longest = max(compare.trial_epochs, compare.hyperband_epochs)
    budget = ImageBudget(budget_images)
    hypermodel = SpaceHyperModel(
        space,
        latency,
        config.latency.target_latency,
        train_batches=lambda: _train_stream(pipeline, longest, steps),
        valid_batches=pipeline.valid_batches,
        steps=steps,
        batch_size=config.data.batch_size,
        constraint=compare.constraint,
        recipe=config.recipe,
        budget=budget,
        log=lambda line: log(f"{kind} {line}"),
    )
    tuner = make_tuner(
        kind,
        hypermodel,
        max_trials=compare.max_trials,
        directory=method_dir / "tuner",
        seed=config.run.seed,
        hyperband_epochs=compare.hyperband_epochs,
    )
    rows = run_tuner(tuner, epochs=compare.trial_epochs)
    trained = [row for row in rows if row.trained_steps > 0]
    within = [row for row in trained if row.latency <= config.latency.target_latency]
    # The winner: the best score among trained candidates (with reject, those within the limit).
    best = (within if compare.constraint == "reject" and within else trained or rows)[0]
    net = space.select(best.choices)
    spec_json.save_spec(net, method_dir / ARCH_FILE)
    return save_result(
        method_dir,
        MethodResult(
            method=kind,
            choices=best.choices,
            ops=[space.choice_blocks[b].candidates[c].name for b, c in enumerate(best.choices)],
            arch=str(method_dir / ARCH_FILE),
            images=budget.spent,
            weight_images=budget.spent,
            arch_images=0,
            seconds=time.monotonic() - began,
            trials=len(rows),
            trained_trials=len(trained),
            valid_accuracy=best.val_accuracy,
            predicted_latency=latency.latency_of(best.choices),
            trial_rows=rows,
        ),
    )
