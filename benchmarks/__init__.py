"""Benchmarks whose results the README quotes; each writes its figures under `results/`.

- `efficiency`: memory and time of supernet weight and arch steps against
  training the largest single path (`python -m benchmarks.efficiency`).
- `latency_model`: errors of the fitted latency cost models and network
  totals against the published tables (`python -m benchmarks.latency_model`).
"""

from tfnas.quiet import quiet_when_started_as_command

quiet_when_started_as_command()  # `python -m` commands start without TensorFlow's C++ noise
