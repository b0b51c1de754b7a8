"""A device simulated from another target's latencies: some ops much slower than others.

`SimulatedDevice` is a `tflite_bench` runner that times nothing: a part's
latency is the base target's times a per-kernel slowdown (7x7 depthwise
blocks three times as slow as the rest, not one global factor), a whole
network's the sum of its parts plus a fixed per-network overhead. So the
figures a refreshed table should reach are known exactly. Give `refresh` its
`network_flatbuffer` (the network's keys, as JSON) so that `time` can tell
what a whole network holds; `fail_after` makes the device go away.
`JitteryDevice` is the same with whole-network timings that scatter.
"""

from __future__ import annotations

import json

from tflite_bench.refresh import network_keys
from tflite_bench.runners import DeviceError, Timing
from tfnas.errors import FieldError
from tfnas.latency.keys import EXPANDED_CONV, LayerKey, parse_key
from tfnas.latency.table import TableMetadata
from tfnas.latency.targets import load_target

DEVICE = "simulated phone (SoC-SIM)"


def network_flatbuffer(spec, precision: str) -> bytes:
    """What the simulated device 'runs' for a whole network: its keys."""
    del precision
    return json.dumps([str(key) for key in network_keys(spec)]).encode()


class SimulatedDevice:
    """A runner whose latencies follow `base` times `slowdown` per kernel size (default `other`)."""

    def __init__(
        self,
        base: str = "cpu",
        slowdown: dict[int, float] | None = None,
        other: float = 1.5,
        overhead_ms: float = 0.05,
        fail_after: int | None = None,
        device: str = DEVICE,
    ) -> None:
        self.base = load_target(base)
        self.slowdown = {7: 4.5} if slowdown is None else slowdown
        self.other, self.overhead_ms, self.fail_after = other, overhead_ms, fail_after
        self.device = device
        self.timed: list[str] = []

    def true_ms(self, key: LayerKey) -> float:
        """The latency this device has for `key`."""
        factor = self.other
        if key.kind == EXPANDED_CONV:
            factor = self.slowdown.get(key.kernel, self.other)
        return self.base.latency(key).value * factor

    def network_ms(self, keys: list[LayerKey]) -> float:
        """The end-to-end latency of a network of `keys`."""
        return sum(self.true_ms(key) for key in keys) + self.overhead_ms

    def time(self, flatbuffer: bytes, name: str) -> Timing:
        if self.fail_after is not None and len(self.timed) >= self.fail_after:
            raise DeviceError(f"device {DEVICE} disconnected while timing {name}")
        self.timed.append(name)
        try:
            ms = self.true_ms(parse_key(name))
        except FieldError:  # a whole network
            ms = self.network_ms([parse_key(k) for k in json.loads(flatbuffer)])
        return Timing(mean_ms=ms, median_ms=ms, std_ms=0.0, count=50)

    def metadata(self, precision: str) -> TableMetadata:
        return TableMetadata(
            device=self.device,
            runtime="simulated",
            threads=1,
            delegate="xnnpack",
            date="2026-12-03",
            tool="tests.simulated_device",
            precision=precision,
        )

    def close(self) -> None:
        pass


class JitteryDevice(SimulatedDevice):
    """Whole-network timings off by the next of `factors` each time (a busy device)."""

    def __init__(self, factors: list[float]):
        super().__init__()
        self.factors = list(factors)

    def time(self, flatbuffer: bytes, name: str) -> Timing:
        timing = super().time(flatbuffer, name)
        try:
            parse_key(name)
        except FieldError:  # a whole network
            ms = timing.median_ms * self.factors.pop(0)
            return Timing(mean_ms=ms, median_ms=ms, std_ms=0.0, count=timing.count)
        return timing
