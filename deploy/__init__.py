"""Deployment: SavedModel export, TFLite conversion and quantization, QAT.

Not built yet: issue 6 (retrain and deploy) fills this package.
"""
