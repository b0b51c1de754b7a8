"""What every runner shares.

The result of timing a model (`Timing`), the runner interface (`Runner`), the
delegates a runner may use, and the error of a device that cannot measure. In a
module of its own so that the runners (`runners.HostRunner`,
`adb.AdbRunner`) and the tools built on them import these types without
importing each other.
"""

from __future__ import annotations

import dataclasses
from typing import Protocol

from tfnas.errors import UserError
from tfnas.latency.table import Measurement, TableMetadata

DELEGATES = ("none", "xnnpack", "gpu", "nnapi")


class DeviceError(UserError, RuntimeError):
    """A device that cannot measure (absent, unauthorized, a binary missing or crashing)."""


@dataclasses.dataclass(frozen=True)
class Timing:
    """The latency of one model on one device, in milliseconds."""

    mean_ms: float
    median_ms: float | None
    std_ms: float
    count: int
    min_ms: float | None = None
    max_ms: float | None = None

    def measurement(self) -> Measurement:
        """The table entry for this timing."""
        return Measurement(self.mean_ms, self.std_ms, self.count, self.median_ms)

    @property
    def typical_ms(self) -> float:
        """The median where the runner gives one (robust to preemption), else the mean."""
        return self.median_ms if self.median_ms is not None else self.mean_ms


class Runner(Protocol):
    """Times TFLite flatbuffers on one device."""

    device: str

    def time(self, flatbuffer: bytes, name: str) -> Timing:
        """Times one model; `name` identifies it in errors and on the device."""
        ...

    def metadata(self, precision: str) -> TableMetadata:
        """What a table measured with this runner records about it."""
        ...

    def close(self) -> None:
        """Releases the device (removes pushed files)."""
        ...
