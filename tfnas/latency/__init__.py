"""Latency models: measured tables, a fitted cost model, expected latency and latency losses.

`python -m tfnas.latency fit|predict|import` is the command line.
"""
