"""Latency measurement on the host and on Android over adb; latency-table building.

Not built yet: issue 7 (tflite_bench) fills this package.
"""
