"""One way to run a job: `run_job` owns everything but the job's own steps.

    run_job(kind, config, output_dir):
        the checks that need no data    kind.check (a bad --arch fails at once)
        TensorFlow                      the config's seed, determinism, Grappler
        the data                        pipeline_for(config.data), unless given
        the runner                      kind.build: the job's steps and end of epoch
        a resume                        the last checkpoint, when there is one
        the config                      output_dir/config.json (the run's record)
        the loop and the summary        runner.run(); the summary it wrote

A job (`tfnas.train.job.TRAIN`, `tfnas.search.job.SEARCH`) declares its
config kind (how it resolves, loads and saves, which values a resume may
change) and how it builds its runner; the runner (`JobRunner`'s subclasses
`Trainer`, `SearchRun`) brings its step and its end of epoch to the shared
`EpochLoop`. Commands, the comparison, the device loop, tuning trials, the
benchmarks and the Python API all start their runs here; `job_main` is the
`main` of the search and train commands.
"""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Callable, Collection, Mapping, Sequence
from pathlib import Path
from typing import Any, Generic, Protocol, TypeVar

import keras
import tensorflow as tf
from absl import flags

from tfnas.config import tree as config_tree
from tfnas.config.flags import flag_overrides
from tfnas.config.tree import ConfigError
from tfnas.datasets.pipeline import Pipeline, pipeline_for
from tfnas.engine.checkpoints import CheckpointKeeper
from tfnas.engine.command import run_command
from tfnas.engine.divergence import LossGuard
from tfnas.engine.epoch_loop import EpochLoop
from tfnas.engine.progress import ScalarLog, print_line
from tfnas.engine.recipe import Recipe
from tfnas.engine.runtime import configure_run, make_strategy

CHECKPOINT_DIR = "checkpoints"
TENSORBOARD_DIR = "tensorboard"

ConfigT = TypeVar("ConfigT")
Log = Callable[[str], None]


class Runner(Protocol):
    """What `run_job` needs of a job's runner."""

    steps_per_epoch: int

    def restore(self) -> bool:
        """Restores the last checkpoint; False when there is none."""

    def run(self) -> Any:
        """Runs every epoch left and writes the outputs; returns the summary."""


class JobRunner:
    """The setup every job's runner shares: its data, recipe, output folder and epoch loop.

    Args:
        config: The job's resolved config (its `data`, `recipe` and `run` groups are read).
        pipeline: Batches of the train, valid and test splits.
        output_dir: Where checkpoints, logs and outputs go.
        schedule: The recipe's learning-rate schedule (`tfnas.engine.recipe`).
        strategy: A `tf.distribute` strategy (default: the current one).
        log: Where one-line messages go (default: printed at once).
        verbose: 1 shows a progress bar per epoch on a terminal (a line every
            `log_every` steps elsewhere), 0 only epoch lines.
    """

    def __init__(
        self,
        config: Any,
        pipeline: Pipeline,
        output_dir: str | Path,
        schedule: str,
        strategy: tf.distribute.Strategy | None = None,
        log: Log | None = None,
        verbose: int = 1,
    ) -> None:
        self.config = config
        self.pipeline = pipeline
        self.output_dir = Path(output_dir)
        self.strategy = strategy or tf.distribute.get_strategy()
        self.log = log or print_line
        self.verbose = verbose
        self.steps_per_epoch = pipeline.steps_for(config.data.steps_per_epoch)
        self.recipe = Recipe(config.recipe, self.steps_per_epoch, schedule)

    loop: EpochLoop  # the subclass makes it with `epoch_loop`

    @property
    def checkpoint_dir(self) -> Path:
        """Where the checkpoints and `state.json` are."""
        return self.output_dir / CHECKPOINT_DIR

    @property
    def history(self) -> list[Any]:
        """One record per epoch run (`TrainEpoch`, `SearchEpoch`)."""
        return self.loop.history

    def save(self) -> Path | None:
        """Writes a checkpoint with the history; a run killed meanwhile keeps the last one.

        Nothing is written while the run is diverging (then None), so a diverged
        run never leaves a broken checkpoint behind (`save_if_healthy`).
        """
        return self.loop.save()

    def restore(self) -> bool:
        """Restores the last checkpoint of `output_dir`; False when there is none."""
        return self.loop.restore()

    def epoch_loop(
        self,
        step: tf.Variable,
        optimizer: Any,
        checkpoint: tf.train.Checkpoint,
        state_format: str,
        guard: LossGuard,
        watched: Callable[[], Sequence[tf.Variable]],
        **options: Any,
    ) -> EpochLoop:
        """The job's `EpochLoop`, checkpointing `checkpoint` into `checkpoint_dir`.

        `options` are `EpochLoop`'s keyword arguments (`entry`, `phase`, `stateful`).
        """
        run = self.config.run
        return EpochLoop(
            self.recipe,
            step,
            optimizer,
            CheckpointKeeper(self.checkpoint_dir, checkpoint, state_format),
            guard,
            watched,
            ScalarLog(self.output_dir / TENSORBOARD_DIR),
            self.log,
            run.checkpoint_every,
            run.log_every,
            self.verbose,
            **options,
        )


@dataclasses.dataclass(frozen=True)
class JobKind(Generic[ConfigT]):
    """What a job declares; `run_job` does the rest.

    Attributes:
        name: `train`, `search`: the default folder `runs/NAME-TIMESTAMP`.
        config_format: The `format` field of its `config.json`.
        experiments: Its named presets of every value.
        resolve: `resolve(experiment, **values)`: a checked config.
        load_config: Reads its `config.json`.
        check: What can fail before the data loads (an `--arch` that is not
            a network, a latency target that is not a table).
        build: `(config, pipeline, output_dir, strategy=, log=, verbose=)` -> its runner.
        started: `(runner, output_dir)` -> the line that says what runs.
        finished: `(summary, output_dir, minutes)` -> the lines that say what came out.
        aliases: Other names its values answer to (`--params_override`, the API).
        adjustable: The values a `--resume` may change: what a diverged run
            says to lower (`tfnas.engine.divergence`).
    """

    name: str
    config_format: str
    experiments: Mapping[str, Any]
    resolve: Callable[..., ConfigT]
    load_config: Callable[[str], ConfigT]
    check: Callable[[ConfigT], None]
    build: Callable[..., Runner]
    started: Callable[[Any, Path], str]
    finished: Callable[[Any, Path, float], str]
    aliases: Mapping[str, str] = dataclasses.field(default_factory=dict)
    adjustable: Collection[str] = ()

    def save_config(self, config: ConfigT, output_dir: Path) -> Path:
        """Writes `output_dir/config.json` atomically."""
        path = Path(output_dir) / config_tree.CONFIG_FILE
        return config_tree.save_config(config, self.config_format, path)

    def resolve_run(
        self,
        resume: bool,
        output_dir: str | None,
        experiment: str,
        experiment_given: bool,
        overrides: Mapping[str, Any],
    ) -> tuple[ConfigT, Path]:
        """A command's config and output folder (`tfnas.config.tree.resolve_run`)."""
        return config_tree.resolve_run(
            self.name,
            resume,
            output_dir,
            experiment,
            experiment_given,
            overrides,
            self.resolve,
            self.load_config,
            adjustable=self.adjustable,
        )


@dataclasses.dataclass
class JobOutcome:
    """What `run_job` returns.

    Attributes:
        summary: What the runner's `run` returned (`TrainSummary`, `SearchSummary`).
        runner: The runner, trained (its model, its evaluation).
        pipeline: The data it ran on.
        config: The config it ran with (after `adjust`).
        minutes: Wall-clock minutes from the data's loading to the summary.
    """

    summary: Any
    runner: Any
    pipeline: Pipeline
    config: Any
    minutes: float


def start_job(
    kind: JobKind[ConfigT],
    config: ConfigT,
    output_dir: str | Path,
    *,
    resume: bool = False,
    pipeline: Pipeline | None = None,
    adjust: Callable[[ConfigT, Pipeline, Path], ConfigT] | None = None,
    log: Log = print_line,
    verbose: int = 1,
    cpu_devices: int = 1,
    setup_tensorflow: bool = True,
) -> tuple[Any, Pipeline, ConfigT]:
    """Everything of `run_job` before the loop runs: (runner, pipeline, config).

    For callers that drive the runner's steps themselves (a learning-rate
    range test, a profile) or run it differently (a tuning trial scores on
    the held-out split only).
    """
    if cpu_devices < 1:
        raise ConfigError(f"--cpu_devices={cpu_devices}: expected an integer >= 1")
    kind.check(config)
    output_dir = Path(output_dir)
    if setup_tensorflow:
        configure_run(config.run, cpu_devices)
    else:
        keras.utils.set_random_seed(config.run.seed)  # every run starts from its seed's state
    pipeline = pipeline or pipeline_for(config.data, config.run.seed)
    if adjust is not None:
        config = adjust(config, pipeline, output_dir)
    strategy = make_strategy(config.run.strategy)
    runner = kind.build(config, pipeline, output_dir, strategy=strategy, log=log, verbose=verbose)
    if resume:
        try:
            restored = runner.restore()
        except ValueError as error:  # a checkpoint of another network or config
            raise ConfigError(str(error)) from None
        config_file = output_dir / config_tree.CONFIG_FILE
        if restored and config_file.exists():
            config_tree.report_adjusted(kind.load_config(str(config_file)), config)
    kind.save_config(config, output_dir)
    return runner, pipeline, config


def run_job(
    kind: JobKind[ConfigT],
    config: ConfigT,
    output_dir: str | Path,
    *,
    resume: bool = False,
    pipeline: Pipeline | None = None,
    adjust: Callable[[ConfigT, Pipeline, Path], ConfigT] | None = None,
    log: Log = print_line,
    verbose: int = 1,
    cpu_devices: int = 1,
    setup_tensorflow: bool = True,
    announce: bool = True,
) -> JobOutcome:
    """Runs (or, with `resume`, continues) one job of `kind` with `config` into `output_dir`.

    Args:
        kind: The job (`tfnas.train.job.TRAIN`, `tfnas.search.job.SEARCH`).
        config: Its resolved config.
        output_dir: Where its checkpoints, logs and outputs go.
        resume: Continue from the folder's last checkpoint, when it has one.
        pipeline: The data, when the caller has it (a comparison's methods
            share one); default `pipeline_for(config.data, config.run.seed)`.
        adjust: `(config, pipeline, output_dir) -> config`, called with the
            data before the runner is built (`--tune` finds the recipe's values here).
        log: Where one-line messages go.
        verbose: 1 shows a progress bar per epoch on a terminal, 0 epoch lines only.
        cpu_devices: Split the CPU into this many logical devices (a
            command's first job only: TensorFlow fixes its devices when it starts).
        setup_tensorflow: Set the process up as the config's `run` group says
            (deterministic ops, Grappler, devices) besides the seed. Those
            settings outlive the run, so the jobs a tool runs inside its own
            process (the comparison's, the loop's rounds, tuning trials) pass
            False: the tool's command set the process up once.
        announce: Log what runs and, at the end, what came out.

    Returns:
        The summary, with the runner, the data and the config.

    Raises:
        ConfigError: A config the job cannot run, or a checkpoint it cannot resume.
        DivergenceError: The loss diverged; no outputs are written.
    """
    began = time.monotonic()
    runner, pipeline, config = start_job(
        kind,
        config,
        output_dir,
        resume=resume,
        pipeline=pipeline,
        adjust=adjust,
        log=log,
        verbose=verbose,
        cpu_devices=cpu_devices,
        setup_tensorflow=setup_tensorflow,
    )
    output_dir = Path(output_dir)
    if announce:
        log(kind.started(runner, output_dir))
    summary = runner.run()
    minutes = (time.monotonic() - began) / 60
    if announce:
        log(kind.finished(summary, output_dir, minutes))
    return JobOutcome(summary, runner, pipeline, config, minutes)


def accuracy_text(accuracy: float | None) -> str:
    """A test accuracy as the end-of-job lines print it."""
    return "none (the data has no test split)" if accuracy is None else f"{accuracy:.3f}"


def job_main(
    kind: Any,
    config_class: type,
    aliases: Mapping[str, str] | None = None,
    adjust: Callable[..., Any] | None = None,
) -> Callable[[list[str]], int]:
    """The `main` of a job's command: its run resolved from the flags, then `run_job`.

    Args:
        kind: The job (`tfnas.train.job.TRAIN`, `tfnas.search.job.SEARCH`).
        config_class: Its config's class, whose leaves are flags.
        aliases: Other names of its flags.
        adjust: `run_job`'s `adjust` (`--tune`), or None.

    The command defines the job flags (`tfnas.config.flags.define_job_flags`)
    and its config's flags before absl parses them.
    """

    def main(argv: list[str]) -> int:
        def body() -> int:
            values = flags.FLAGS
            config, output_dir = kind.resolve_run(
                values.resume,
                values.output_dir,
                values.experiment,
                values["experiment"].present,
                flag_overrides(config_class, aliases),
            )
            run_job(
                kind,
                config,
                output_dir,
                resume=values.resume,
                adjust=adjust,
                verbose=values.verbose,
                cpu_devices=values.cpu_devices,
            )
            return 0

        return run_command(argv, body)

    return main
