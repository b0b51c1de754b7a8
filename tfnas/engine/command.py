"""The frame of every command's `main`: a user's mistake is one `error:` line, a bug a traceback."""

from __future__ import annotations

from collections.abc import Callable

from tfnas.errors import UserError


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
