"""Baselines to compare ProxylessNAS with: keras-tuner over the same search space."""
