"""The search as a job of `tfnas.engine.job.run_job`: its config kind and runner, `SearchRun`."""

from __future__ import annotations

from pathlib import Path

from tfnas.engine.job import JobKind, accuracy_text
from tfnas.latency.targets import load_target
from tfnas.records import SearchSummary
from tfnas.search.config import ALIASES, CONFIG_FORMAT, EXPERIMENTS, SearchConfig, load_config
from tfnas.search.config import resolve as resolve_config
from tfnas.search.runner import SearchRun


def check_target(config: SearchConfig) -> None:
    """Loads the latency target, so that a bad one fails before the data loads."""
    load_target(config.latency.target)


def started_line(search: SearchRun, output_dir: Path) -> str:
    """What a search says when it starts."""
    config, pipeline = search.config, search.pipeline
    return (
        f"searching {search.space.name} ({len(search.space.choice_blocks)} choice blocks) on "
        f"{pipeline.source.name} ({len(pipeline.train_indices)} train / "
        f"{len(pipeline.valid_indices)} valid images) for {config.latency.target} at "
        f"{config.latency.target_latency} {search.latency.unit}, "
        f"{config.total_epochs} epochs x {search.steps_per_epoch} steps, "
        f"{search.strategy.num_replicas_in_sync} replica(s); output {output_dir}"
    )


def finished_line(summary: SearchSummary, output_dir: Path, minutes: float) -> str:
    """What a search says when it has derived its network."""
    return (
        f"derived: {' '.join(summary.ops)}\n"
        f"latency {summary.latency:.3f} {summary.unit} (target "
        f"{summary.target_latency}), {summary.macs / 1e6:.1f}M MACs, "
        f"{summary.params / 1e6:.2f}M params, test accuracy "
        f"{accuracy_text(summary.test_accuracy)}\n"
        f"outputs in {output_dir}/ ({minutes:.1f} min)"
    )


SEARCH: JobKind[SearchConfig] = JobKind(
    name="search",
    config_format=CONFIG_FORMAT,
    experiments=EXPERIMENTS,
    resolve=resolve_config,
    load_config=load_config,
    check=check_target,
    build=SearchRun,
    started=started_line,
    finished=finished_line,
    aliases=ALIASES,
    # What a diverged search says to change before `--resume` (tfnas.engine.divergence).
    adjustable=("learning_rate", "arch_learning_rate"),
)
