"""What the commands share at run time: process settings, strategies, progress output.

`configure_tensorflow` and `make_strategy` are called from `__main__` modules
only, before TensorFlow runs anything: those settings belong to a process,
not to a library call. `print_line` and `ScalarLog` are how the search and
training loops report progress.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

STRATEGIES = ("default", "mirrored", "multi_worker")


def configure_tensorflow(
    seed: int, deterministic: bool, cpu_devices: int = 1, grappler: bool = True
) -> None:
    """Seeds, deterministic ops, logical CPU devices, Grappler on or off.

    Args:
        seed: Keras' global seed (layer initializers, dropout).
        deterministic: Turn on TensorFlow's deterministic ops (exact resume).
        cpu_devices: Split the CPU into this many logical devices (to test
            `mirrored` without GPUs).
        grappler: Whether Grappler optimizes the graphs. Its rewrites take
            longer than they save on the supernet's graph (every candidate
            op): without them the search's steps compile about twice as fast.
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


def make_strategy(name: str) -> Any:
    """The tf.distribute strategy `name`: mirrored uses the GPUs, else the logical CPUs."""
    import tensorflow as tf

    if name not in STRATEGIES:
        raise ValueError(f"strategy must be one of {STRATEGIES}, got {name!r}")
    if name == "default":
        return tf.distribute.get_strategy()
    if name == "multi_worker":
        return tf.distribute.MultiWorkerMirroredStrategy()
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
