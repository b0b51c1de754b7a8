"""The training engine every job runs on.

The recipe, the epoch loop, the divergence guard, checkpoints, progress,
losses, batch-norm re-estimation and TensorFlow's process set-up.
"""
