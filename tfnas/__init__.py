"""tfnas: ProxylessNAS in TensorFlow 2 / Keras 3.

Architectures are frozen data (`tfnas.nets.spec`), registered by name
(`tfnas.nets.registry`), saved as versioned JSON (`tfnas.nets.spec_json`) or the authors'
`net.config` (`tfnas.nets.netconfig`), costed without a model (`tfnas.nets.costs`) and
built into plain Keras models (`tfnas.nets.builder`).
"""

from tfnas.quiet import quiet_when_started_as_command

quiet_when_started_as_command()  # `python -m` commands start without TensorFlow's C++ noise
