"""Progress of a run: lines, TensorBoard scalars, and an epoch's steps as a bar or lines.

Keras' `Progbar` decides it may redraw in place whenever the `posix` module
is loaded, which is always on Linux, so with stdout redirected (CI, `nohup`,
`> log`) it writes a frame with backspaces and a carriage return every
0.05 s: a 10-minute search left megabytes of bar frames in its log. Here the
bar is used only when stdout is a terminal; otherwise a plain line is
printed every `log_every` steps, as Keras' own `verbose=2` prints a line per
epoch instead of a bar.
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any, TextIO


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


def is_terminal(stream: TextIO | None = None) -> bool:
    """Whether `stream` (default stdout) redraws a line in place: a terminal, or a notebook's cell.

    A Jupyter kernel's stdout is no tty, but its front end honours the
    carriage returns of Keras' `Progbar`, as a terminal does.
    """
    stream = stream or sys.stdout
    if type(stream).__module__.startswith("ipykernel."):
        return True
    isatty = getattr(stream, "isatty", None)
    return bool(isatty and isatty())


class EpochProgress:
    """Reports the steps of one epoch.

    Args:
        total: Steps of the epoch.
        log_every: Off a terminal, a line every this many steps of the run.
        label: The epoch, as the lines name it ("epoch 3/14").
        verbose: 0 reports nothing; 1 a bar on a terminal, lines elsewhere.
        done: Steps of the epoch already done (a resumed run).
        stateful: Values shown as they are rather than averaged (a latency).
        terminal: Whether stdout is a terminal (default: ask it).
        log: Where the plain lines go.
    """

    def __init__(
        self,
        total: int,
        log_every: int,
        label: str,
        verbose: int = 1,
        done: int = 0,
        stateful: tuple[str, ...] = (),
        terminal: bool | None = None,
        log: Callable[[str], None] | None = None,
    ) -> None:
        self.total = total
        self.log_every = log_every
        self.label = label
        self.verbose = verbose
        self.log = log or print_line
        self.bar: Any = None
        if verbose and (is_terminal() if terminal is None else terminal):
            import keras

            self.bar = keras.utils.Progbar(total, verbose=1, stateful_metrics=list(stateful))
            self.bar.update(done)

    def update(self, done: int, step: int, means: dict[str, float], now: dict[str, float]) -> None:
        """Reports that `done` steps of the epoch (run step `step`, 1-based) are done.

        Args:
            done: Steps of this epoch done so far.
            step: Steps of the run done so far (the line's step number).
            means: The epoch's running means so far (what a line shows).
            now: This step's values (what the bar averages itself), and the stateful ones.
        """
        if not self.verbose:
            return
        if self.bar is not None:
            self.bar.update(done, list(now.items()))
            return
        if step % self.log_every == 0 and done < self.total:
            shown = ", ".join(f"{name} {value:.4g}" for name, value in means.items())
            self.log(f"{self.label}: step {done}/{self.total} (run step {step}), {shown}")
