"""What `tfnas.search` and `tfnas.train` share: the data in hand, values by name, one `run_job`.

A notebook has data in hand and values in mind, not flags:

    result = tfnas.search((x, y), output_dir="runs/s", experiment="demo", epochs=1)

`data` is an `(x, y)` pair of NumPy arrays, a `tf.data.Dataset` of
(image, label) elements or batches (`tfnas.datasets.in_memory`), or a
dataset's name or path as `--dataset` takes it. The values are the
config's names, as `--params_override` takes them (`epochs`,
`recipe.epochs`, an alias). The run is the command's: the same config,
folder, checkpoints and outputs, and `resume=True` continues it.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from tfnas.config.tree import ConfigError, flatten, with_values
from tfnas.datasets.in_memory import IN_MEMORY, in_memory_source, is_in_memory
from tfnas.datasets.pipeline import pipeline_for
from tfnas.engine.job import JobKind, JobOutcome, run_job
from tfnas.engine.progress import print_line

DEFAULT_EXPERIMENT = "demo"
# Batches of the held-out split. Data in hand are often smaller than an
# experiment's, so these are lowered to the split's size unless given.
HELD_OUT_BATCHES = ("eval_batch_size", "arch_batch_size", "rl_batch_size")


def fitted_batches(
    kind: JobKind[Any], experiment: str, values: Mapping[str, Any]
) -> dict[str, int]:
    """The held-out batches of the experiment with `values` that exceed `valid_size`, lowered to it.

    Only batches not in `values` are lowered: a batch given explicitly is the
    user's, and the config's check names it when it does not fit.
    """
    if experiment not in kind.experiments:
        return {}  # resolving names the unknown experiment
    preset = with_values(kind.experiments[experiment], values, kind.aliases)
    flat = flatten(preset)
    valid_size = flat["valid_size"]
    given = {kind.aliases.get(name, name).rpartition(".")[2] for name in values}
    return {
        name: valid_size
        for name in HELD_OUT_BATCHES
        if name in flat and name not in given and flat[name] and 0 < valid_size < flat[name]
    }


def run_api_job(
    kind: JobKind[Any],
    data: Any,
    output_dir: str | Path,
    values: Mapping[str, Any],
    *,
    experiment: str | None = None,
    validation_data: Any = None,
    test_data: Any = None,
    resume: bool = False,
    verbose: int = 1,
    log: Callable[[str], None] = print_line,
    before_run: Callable[[], None] | None = None,
) -> tuple[JobOutcome, float]:
    """Resolves the config of `values` for `data`, and runs the job into `output_dir`.

    Returns the outcome, and what the trained model's input is multiplied by
    to get 0..255 values: 255 for float images in [0, 1] given in memory, else 1.

    `before_run` writes what the config names into the folder (a network
    given as a `NetSpec`), once the folder is known to hold no other run.

    Raises:
        ConfigError: Values the config does not have or accept, a folder that
            holds a run without `resume`, or a resume that disagrees with it.
        DataError: Data of the wrong shape, type or range.
    """
    if isinstance(data, os.PathLike):
        data = os.fspath(data)  # a folder or IDX path, as `--dataset` takes it
    defaults: dict[str, Any] = {}
    pipeline = None
    if not is_in_memory(data):
        if validation_data is not None or test_data is not None:
            raise ConfigError(
                f"data={data!r} is a dataset by name, which brings its own splits; "
                "validation_data and test_data go with data in hand (set valid_size to hold "
                "out part of the training split)"
            )
        defaults["dataset"] = data
        input_scale = 1.0
    else:
        found = in_memory_source(data, test_data, validation_data)
        defaults["dataset"] = IN_MEMORY
        if found.source.fixed_resolution is not None:
            defaults["resolution"] = found.source.fixed_resolution
        if found.valid_count:
            given = values.get("valid_size", found.valid_count)
            if given != found.valid_count:
                raise ConfigError(
                    f"valid_size={given} with {found.valid_count} validation_data examples; "
                    "leave valid_size out when validation_data is given"
                )
            defaults["valid_size"] = found.valid_count
        input_scale = found.input_scale
    overrides = {**defaults, **values}
    if is_in_memory(data) and not resume:
        overrides.update(fitted_batches(kind, experiment or DEFAULT_EXPERIMENT, overrides))
    config, output_dir = kind.resolve_run(
        resume, str(output_dir), experiment or DEFAULT_EXPERIMENT, experiment is not None, overrides
    )
    if before_run is not None:
        before_run()
    if is_in_memory(data):
        pipeline = pipeline_for(
            config.data, config.run.seed, source=found.source, valid_at_end=found.valid_count > 0
        )
    outcome = run_job(
        kind, config, output_dir, resume=resume, pipeline=pipeline, verbose=verbose, log=log
    )
    return outcome, input_scale
