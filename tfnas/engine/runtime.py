"""TensorFlow's process settings and the distribution strategy of a job.

`configure_tensorflow` (or `configure_run`) runs before TensorFlow runs
anything (`tfnas.engine.job.start_job`, a tool's `main`): its settings
belong to a process, not to one library call.
"""

from __future__ import annotations

from typing import Any

from tfnas.config.groups import STRATEGIES


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

    if name not in STRATEGIES:  # checked when a config resolves; this guards direct calls
        raise ValueError(f"strategy must be one of {', '.join(STRATEGIES)}, got {name!r}")
    if name == "default":
        return tf.distribute.get_strategy()
    if name == "multi_worker":
        return tf.distribute.MultiWorkerMirroredStrategy()
    gpus = tf.config.list_logical_devices("GPU")
    devices = [d.name for d in gpus] or [d.name for d in tf.config.list_logical_devices("CPU")]
    return tf.distribute.MirroredStrategy(devices)
