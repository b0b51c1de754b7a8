"""Benchmarks whose results the README quotes; each writes its figures under `results/`.

- `efficiency`: memory and time of supernet weight and arch steps against
  training the largest single path (`python -m benchmarks.efficiency`).
"""
