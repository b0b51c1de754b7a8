"""Deployment: serving models, SavedModel export, TFLite conversion and quantization.

`convert` holds the pure conversions; `python -m deploy.export` writes them
for a `tfnas.train` output. Quantization-aware training is still to come.
"""
