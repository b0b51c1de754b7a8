"""Training: `python -m tfnas.train`, and `tfnas.train(arch, data, output_dir=..., **values)`."""

import sys

from tfnas import JobPackage

sys.modules[__name__].__class__ = JobPackage  # `tfnas.train(...)` calls `tfnas.train.api.train`
