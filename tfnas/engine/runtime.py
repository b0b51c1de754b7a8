"""What the commands share at run time: process settings, strategies, progress output.

`configure_tensorflow` (or `configure_run`) and `make_strategy` are called from `__main__` modules
only, before TensorFlow runs anything: those settings belong to a process,
not to a library call. `print_line` and `ScalarLog` are how the search and
training loops report progress.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from tfnas.errors import UserError


def configure_tensorflow(
    seed: int, deterministic: bool, cpu_devices: int = 1, grappler: bool = True
) -> None:
    """Seeds, deterministic ops, logical CPU devices, Grappler on or off.

    Args:
        seed: Keras' global seed (layer initializers, dropout).
        deterministic: Turn on TensorFlow's deterministic ops (exact resume).
        cpu_devices: Split the CPU into this many logical devices (to test
            `mirrored` without GPUs).
        grappler: Whether Grappler optimizes the graphs (`RunConfig.grappler`).
            On a 2-core AMD EPYC its fused kernels made the `fashion_mnist`
            search's weight and arch steps 28-30% faster and its first
            (tracing) weight step 6 s slower (31.5 s against 37.1 s), and a
            short demo search took as long either way (issue 33). Off, a
            very large supernet's graph traces faster.
    """
    import keras
    import tensorflow as tf

    if cpu_devices > 1:
        cpu = tf.config.list_physical_devices("CPU")[0]
        tf.config.set_logical_device_configuration(
            cpu, [tf.config.LogicalDeviceConfiguration()] * cpu_devices
        )
    if not grappler:
        tf.config.optimizer.set_experimental_options({"disable_meta_optimizer": True})
    keras.utils.set_random_seed(seed)
    if deterministic:
        tf.config.experimental.enable_op_determinism()


def configure_run(run: Any, cpu_devices: int = 1) -> None:
    """`configure_tensorflow` as a job's `RunConfig` (`tfnas.config.groups.RunConfig`) says."""
    configure_tensorflow(run.seed, run.deterministic, cpu_devices, run.grappler)


def make_strategy(name: str) -> Any:
    """The tf.distribute strategy `name`: mirrored uses the GPUs, else the logical CPUs."""
    import tensorflow as tf

    # The names are `tfnas.config.groups.STRATEGIES`, checked when the config resolves.
    if name == "default":
        return tf.distribute.get_strategy()
    if name == "multi_worker":
        return tf.distribute.MultiWorkerMirroredStrategy()
    if name != "mirrored":
        raise ValueError(f"strategy must be default, mirrored or multi_worker, got {name!r}")
    gpus = tf.config.list_logical_devices("GPU")
    devices = [d.name for d in gpus] or [d.name for d in tf.config.list_logical_devices("CPU")]
    return tf.distribute.MirroredStrategy(devices)


def print_line(text: str) -> None:
    """Prints a progress line at once, also when stdout is a pipe (`make demo | tee`)."""
    print(text, flush=True)


class ScalarLog:
    """TensorBoard scalars of a run, in `directory`, created on the first write."""

    def __init__(self, directory: str | Path) -> None:
        self.directory = Path(directory)
        self._writer: Any = None

    def write(self, scalars: dict[str, float | None], step: int) -> None:
        """Writes the scalars that have a value at `step`."""
        import tensorflow as tf

        if self._writer is None:
            self._writer = tf.summary.create_file_writer(str(self.directory))
        with self._writer.as_default(step=step):
            for name, value in scalars.items():
                if value is not None:
                    tf.summary.scalar(name, value)

    def flush(self) -> None:
        """Makes everything written visible to TensorBoard."""
        if self._writer is not None:
            self._writer.flush()


def run_command(argv: list[str], body: Callable[[], int]) -> int:
    """The frame of every command's `main`: one `error:` line and exit 2 for a user's mistake.

    A `UserError` is printed without its traceback; any other exception is a
    bug and propagates with its traceback.

    Args:
        argv: absl's remaining arguments; a command takes none.
        body: Runs the command; returns its exit status.
    """
    import sys

    from absl import logging

    if len(argv) > 1:
        print(f"error: unexpected arguments {argv[1:]}; see --help", file=sys.stderr)
        return 2
    logging.set_verbosity(logging.WARNING)  # TensorFlow logs each checkpoint write at INFO
    try:
        return body()
    except UserError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2


def epochs_from(step: int, steps_per_epoch: int, epochs: int) -> Iterator[tuple[int, int]]:
    """(epoch, batches of it already done) for every epoch a run at `step` still has to do."""
    first = step // steps_per_epoch
    for epoch in range(first, epochs):
        yield epoch, step - epoch * steps_per_epoch if epoch == first else 0


class RunningMeans:
    """Means of a few scalars over an epoch, each over the steps that reported it."""

    def __init__(self) -> None:
        self.sums: dict[str, float] = {}
        self.counts: dict[str, int] = {}

    def add(self, **values: float) -> None:
        """Adds one step's values."""
        for name, value in values.items():
            self.sums[name] = self.sums.get(name, 0.0) + float(value)
            self.counts[name] = self.counts.get(name, 0) + 1

    def result(self) -> dict[str, float]:
        """The means so far."""
        return {name: self.sums[name] / self.counts[name] for name in self.sums}
