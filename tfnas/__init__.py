"""tfnas: ProxylessNAS in TensorFlow 2 / Keras 3.

In Python (docs/python-api.md):

    import tfnas
    result = tfnas.search((x, y), output_dir="runs/s", experiment="demo")
    trained = tfnas.train(result.net, (x, y), output_dir="runs/t")
    trained.model.predict(x)

Architectures are frozen data (`tfnas.nets.spec`), registered by name
(`tfnas.nets.registry`), saved as versioned JSON (`tfnas.nets.spec_json`) or the authors'
`net.config` (`tfnas.nets.netconfig`), costed without a model (`tfnas.nets.costs`) and
built into plain Keras models (`tfnas.nets.builder`).
"""

import importlib
import types
from typing import Any

from tfnas.quiet import quiet_when_started_as_command

quiet_when_started_as_command()  # `python -m` commands start without TensorFlow's C++ noise

# The jobs that are also functions: `tfnas.search(...)` is `tfnas.search.api.search(...)`.
JOBS = ("search", "train")


class JobPackage(types.ModuleType):
    """A job's package, callable as its Python API, while `python -m` runs its command."""

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        """Runs the job: `tfnas.search.api.search` or `tfnas.train.api.train`."""
        job = self.__name__.rpartition(".")[2]
        return getattr(importlib.import_module(f"{self.__name__}.api"), job)(*args, **kwargs)


def __getattr__(name: str) -> Any:
    # `import tfnas` stays light (no TensorFlow); `tfnas.search` imports the job on first use.
    if name in JOBS:
        return importlib.import_module(f"tfnas.{name}")
    raise AttributeError(f"module 'tfnas' has no attribute {name!r}")
