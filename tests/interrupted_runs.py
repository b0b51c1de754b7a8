"""Killing a command at a checkpoint in the middle of an epoch, as a crash would."""

import json
import signal
import subprocess
import time
from pathlib import Path


def kill_after_mid_epoch_checkpoint(
    command: list[str], cwd: Path, env: dict, state: Path, steps_per_epoch: int, after_step: int
) -> int:
    """Runs `command` and SIGKILLs it once `state` names a mid-epoch checkpoint past `after_step`.

    Returns:
        The step of that checkpoint.

    Raises:
        AssertionError: When the command ends (or 500 s pass) first.
    """
    process = subprocess.Popen(
        command, cwd=cwd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    try:
        deadline = time.monotonic() + 500
        while time.monotonic() < deadline and process.poll() is None:
            if state.exists():
                step = json.loads(state.read_text())["step"]
                if step > after_step and step % steps_per_epoch:
                    process.send_signal(signal.SIGKILL)
                    process.wait(timeout=30)
                    return step
            time.sleep(0.02)
        raise AssertionError(f"no mid-epoch checkpoint appeared (exit {process.poll()})")
    finally:
        process.kill()


def resumed_from_step(stdout: str) -> int:
    """The step a resumed run reports it resumed from (`... (step N)`)."""
    return int(stdout.split("(step ")[1].split(")")[0])
