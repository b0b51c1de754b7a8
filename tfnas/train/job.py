"""Training as a job of `tfnas.engine.job.run_job`: its config kind and its runner, `Trainer`."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from tfnas.datasets.pipeline import Pipeline
from tfnas.engine.job import JobKind, accuracy_text
from tfnas.nets.load import load_net
from tfnas.records import TrainSummary
from tfnas.train.config import CONFIG_FORMAT, EXPERIMENTS, TrainConfig, load_config, resolve
from tfnas.train.trainer import Trainer, prepare_spec


def check_network(config: TrainConfig) -> None:
    """Loads `--arch`, so that a bad one fails before the data loads."""
    load_net(config.arch)


def build_trainer(
    config: TrainConfig,
    pipeline: Pipeline,
    output_dir: Path,
    **options: Any,
) -> Trainer:
    """The `Trainer` of `config.arch`, given the data's classes and channels (`prepare_spec`)."""
    source = pipeline.source
    spec = prepare_spec(
        load_net(config.arch),
        source.num_classes,
        config.dropout,
        config.data.resolution,
        in_channels=source.channels,
    )
    return Trainer(config, spec, pipeline, output_dir, **options)


def started_line(trainer: Trainer, output_dir: Path) -> str:
    """What a training says when it starts."""
    spec, pipeline, config = trainer.spec, trainer.pipeline, trainer.config
    return (
        f"training {spec.name} ({len(spec.blocks)} blocks, {config.data.resolution} px) on "
        f"{pipeline.source.name} ({len(pipeline.train_indices)} train images), "
        f"{config.recipe.epochs} epochs x {trainer.steps_per_epoch} steps, "
        f"{trainer.strategy.num_replicas_in_sync} replica(s); output {output_dir}"
    )


def finished_line(summary: TrainSummary, output_dir: Path, minutes: float) -> str:
    """What a training says when it has written its outputs."""
    return (
        f"test accuracy {accuracy_text(summary.test_accuracy)} on {summary.test_examples} "
        f"images, {summary.params / 1e6:.2f}M params, {summary.macs / 1e6:.1f}M MACs\n"
        f"outputs in {output_dir}/ ({minutes:.1f} min)"
    )


TRAIN: JobKind[TrainConfig] = JobKind(
    name="train",
    config_format=CONFIG_FORMAT,
    experiments=EXPERIMENTS,
    resolve=resolve,
    load_config=load_config,
    check=check_network,
    build=build_trainer,
    started=started_line,
    finished=finished_line,
    # What a diverged training says to change before `--resume` (tfnas.engine.divergence).
    adjustable=("learning_rate", "warmup_epochs"),
)
