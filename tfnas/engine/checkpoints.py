"""A checkpoint folder that a run killed at any moment can resume from.

`tf.train.Checkpoint.write` puts the variables in `step-N.*`; only then is
`state.json` (atomically) pointed at them, with whatever the run needs
besides variables (its history); older checkpoints are deleted after that.
So `state.json` always names a complete checkpoint.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import tensorflow as tf

from tfnas.io.atomic import write_text_atomic

STATE_FILE = "state.json"


class CheckpointKeeper:
    """Saves and restores one `tf.train.Checkpoint` in `directory`.

    Args:
        directory: The checkpoint folder.
        checkpoint: What to save (model, optimizers, counters).
        state_format: The `format` tag of `state.json`, checked on restore so
            that a search never resumes a training's folder or the reverse.
    """

    def __init__(self, directory: str | Path, checkpoint: tf.train.Checkpoint, state_format: str):
        self.directory = Path(directory)
        self.checkpoint = checkpoint
        self.state_format = state_format

    @property
    def state_path(self) -> Path:
        """The file that names the last complete checkpoint."""
        return self.directory / STATE_FILE

    def exists(self) -> bool:
        """Whether the folder holds a checkpoint to resume."""
        return self.state_path.exists()

    def save(self, step: int, extra: dict[str, Any]) -> Path:
        """Writes the checkpoint of `step`, then `state.json` (with `extra`), then prunes.

        Returns:
            The checkpoint's path prefix.
        """
        prefix = Path(self.checkpoint.write(str(self.directory / f"step-{step:08d}")))
        state = {"format": self.state_format, "step": step, "checkpoint": prefix.name, **extra}
        write_text_atomic(self.state_path, json.dumps(state) + "\n")
        for stale in self.directory.glob("step-*"):
            if not stale.name.startswith(prefix.name + "."):
                stale.unlink(missing_ok=True)
        return prefix

    def restore(self) -> dict[str, Any] | None:
        """Restores the last checkpoint; returns its state, or None when there is none.

        Raises:
            ValueError: When `state.json` is of another kind of run, or the
                checkpoint does not match the objects (another architecture).
        """
        if not self.exists():
            return None
        state = json.loads(self.state_path.read_text())
        if state.get("format") != self.state_format:
            raise ValueError(
                f"{self.state_path} is a {state.get('format')!r} checkpoint, not "
                f"{self.state_format!r}; resume it with the command that wrote it"
            )
        path = self.directory / state["checkpoint"]
        try:
            self.checkpoint.read(str(path)).assert_consumed()
        except (AssertionError, ValueError, tf.errors.OpError) as error:
            first_line = str(error).strip().splitlines()[0] if str(error).strip() else ""
            raise ValueError(
                f"checkpoint {path} does not match this run ({type(error).__name__}: "
                f"{first_line[:200]}); was it written for another architecture or config?"
            ) from None
        return state


def random_states(model: Any) -> list[Any]:
    """The seed-generator states of a Keras model's random layers (dropout).

    `tf.train.Checkpoint` does not reach them through the model, so a resumed
    run would draw other dropout masks; add them to the checkpoint explicitly.
    """
    return [v for v in model.variables if "seed_generator_state" in v.path]
