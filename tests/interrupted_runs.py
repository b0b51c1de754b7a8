"""Killing a command right after a checkpoint in the middle of an epoch, as a crash would.

The command runs in a child process (this file run as a script) whose
`CheckpointKeeper.save` sends the process SIGKILL as soon as it has written the
first mid-epoch checkpoint past a given step. So the crash lands at the same
place however fast or busy the machine is, where watching the checkpoint
folder from outside could see it late, after the next checkpoint or the end.
"""

import json
import os
import runpy
import signal
import subprocess
import sys
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent


def kill_after_mid_epoch_checkpoint(
    module: str,
    args: list[str],
    env: dict,
    state: Path,
    steps_per_epoch: int,
    after_step: int,
) -> int:
    """Runs `python -m module args`; kills it right after a mid-epoch checkpoint past `after_step`.

    Returns:
        The step of that checkpoint (what `state` names).

    Raises:
        AssertionError: When the command ends without such a checkpoint.
    """
    done = subprocess.run(
        [sys.executable, __file__, module, str(steps_per_epoch), str(after_step), *args],
        cwd=REPO_ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=1800,  # a hang guard, not a speed check
    )
    if done.returncode != -signal.SIGKILL:
        raise AssertionError(
            f"no mid-epoch checkpoint past step {after_step} (exit {done.returncode}):\n"
            f"{done.stderr[-2000:]}"
        )
    step = json.loads(state.read_text())["step"]
    assert step > after_step and step % steps_per_epoch, step
    return step


def resumed_from_step(stdout: str) -> int:
    """The step a resumed run reports it resumed from (`... (step N)`)."""
    return int(stdout.split("(step ")[1].split(")")[0])


def _run_and_crash_after_checkpoint() -> None:
    """`python interrupted_runs.py MODULE STEPS_PER_EPOCH AFTER_STEP ARGS...`."""
    module, steps_per_epoch, after_step, *args = sys.argv[1:]
    sys.path.insert(0, str(REPO_ROOT))
    from tfnas.engine.checkpoints import CheckpointKeeper

    save = CheckpointKeeper.save

    def save_then_crash(self, step, extra):
        prefix = save(self, step, extra)
        if step > int(after_step) and step % int(steps_per_epoch):
            os.kill(os.getpid(), signal.SIGKILL)
        return prefix

    CheckpointKeeper.save = save_then_crash
    sys.argv = [module, *args]
    runpy.run_module(module, run_name="__main__", alter_sys=True)


if __name__ == "__main__":
    _run_and_crash_after_checkpoint()
