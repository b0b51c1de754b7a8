"""The search: `python -m tfnas.search`, and `tfnas.search(data, output_dir=..., **values)`."""

import sys

from tfnas import JobPackage

sys.modules[__name__].__class__ = JobPackage  # `tfnas.search(...)` calls `tfnas.search.api.search`
