"""`tfnas.search(data, output_dir=..., **values)`: the search from Python (`tfnas.engine.api`)."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from pathlib import Path
from typing import Any

from tfnas.engine.api import run_api_job
from tfnas.engine.progress import print_line
from tfnas.nets.spec import NetSpec
from tfnas.nets.spec_json import load_spec
from tfnas.records import SearchSummary
from tfnas.search.job import SEARCH
from tfnas.search.outputs import ARCH_FILE


@dataclasses.dataclass(frozen=True)
class SearchResult:
    """What `tfnas.search` returns.

    Attributes:
        net: The derived network (`tfnas.train(result.net, data, ...)` trains it).
        summary: The run's `search_summary.json`: latency, accuracies, choices.
        output_dir: The run's folder (`arch.json`, `net.config`, plots, checkpoints).
    """

    net: NetSpec
    summary: SearchSummary
    output_dir: Path

    @property
    def arch_file(self) -> Path:
        """The derived network as a file, for `python -m tfnas.train --arch=...`."""
        return self.output_dir / ARCH_FILE


def search(
    data: Any,
    *,
    output_dir: str | Path,
    experiment: str | None = None,
    validation_data: Any = None,
    test_data: Any = None,
    resume: bool = False,
    verbose: int = 1,
    log: Callable[[str], None] = print_line,
    **values: Any,
) -> SearchResult:
    """Searches a network for `data`, as `python -m tfnas.search` does; returns the derived one.

    Args:
        data: An `(x, y)` pair of NumPy arrays, a `tf.data.Dataset` of (image,
            label) elements or batches, or a dataset's name or path as
            `--dataset` takes it. Images: uint8 in 0..255 or float in [0, 1].
        output_dir: The run's folder.
        experiment: The preset of every value (`demo`, `fashion_mnist`,
            `cifar10`, `imagenet`; default `demo`).
        validation_data: The arch steps' held-out data, as `data`; default
            `valid_size` examples held out of `data`.
        test_data: Data the derived network is tested on at the end, as `data`.
        resume: Continue the run in `output_dir` from its last checkpoint.
        verbose: 1: a progress bar per epoch on a terminal or in a notebook,
            a line every `log_every` steps elsewhere; 0: epoch lines only.
        log: Where the lines go.
        **values: The config's values by name (`epochs=3`, `target_latency=1.2`).

    Raises:
        ConfigError, DataError: What the command would refuse, named.
        DivergenceError: The weights' loss diverged; nothing is derived.
    """
    outcome, _ = run_api_job(
        SEARCH,
        data,
        output_dir,
        values,
        experiment=experiment,
        validation_data=validation_data,
        test_data=test_data,
        resume=resume,
        verbose=verbose,
        log=log,
    )
    output_dir = Path(output_dir)
    return SearchResult(load_spec(output_dir / ARCH_FILE), outcome.summary, output_dir)
