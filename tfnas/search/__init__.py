"""The search command (`python -m tfnas.search`): config, run loop, outputs."""
