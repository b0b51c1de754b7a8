"""tfnas: ProxylessNAS in TensorFlow 2 / Keras 3.

Architectures are frozen data (`tfnas.spec`), registered by name
(`tfnas.registry`), saved as versioned JSON (`tfnas.spec_json`) or the authors'
`net.config` (`tfnas.netconfig`), costed without a model (`tfnas.costs`) and
built into plain Keras models (`tfnas.builder`).
"""

from tfnas.quiet import quiet_when_started_as_command

quiet_when_started_as_command()  # `python -m` commands start without TensorFlow's C++ noise
