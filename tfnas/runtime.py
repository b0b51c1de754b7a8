"""Process-wide TensorFlow settings and distribution strategies of the commands.

Called from `__main__` modules only, before TensorFlow runs anything: these
settings belong to a process, not to a library call.
"""

from __future__ import annotations

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
