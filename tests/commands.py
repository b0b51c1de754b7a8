"""Running the project's commands as a user would: `python -m MODULE ARGS` from the repo root."""

import os
import subprocess
import sys
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent
# TensorFlow's C++ start-up lines would bury the command's own output.
QUIET = os.environ | {"TF_CPP_MIN_LOG_LEVEL": "3"}
# How long a child command may take before a test calls it hung: a guard against a hang,
# not a speed check, so far beyond what the slowest one takes with every core busy.
HANG_GUARD_S = 1800


def run_module(
    module: str, *args: str, env: dict[str, str] | None = None, timeout: float = HANG_GUARD_S
) -> subprocess.CompletedProcess:
    """Runs `python -m module args` in the repository root; output is captured as text."""
    return subprocess.run(
        [sys.executable, "-m", module, *args],
        capture_output=True,
        text=True,
        cwd=REPO_ROOT,
        env=QUIET if env is None else env,
        timeout=timeout,
    )


def error_lines(result: subprocess.CompletedProcess) -> list[str]:
    """The `error:` lines a command printed to stderr."""
    return [line for line in result.stderr.splitlines() if line.startswith("error:")]
