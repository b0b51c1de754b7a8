"""The training command (`python -m tfnas.train`): config and training loop."""
