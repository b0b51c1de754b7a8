"""Channel counts of scaled networks: the rounding MobileNetV2, V3 and ProxylessNAS share."""

from __future__ import annotations


def make_divisible(value: float, divisor: int = 8, min_value: int | None = None) -> int:
    """Rounds a channel count to the nearest multiple of `divisor`, never below 90% of it.

    This is the rounding of MobileNetV2 and ProxylessNAS for width multipliers.

    Args:
        value: The unrounded channel count (base channels times width multiplier).
        divisor: The multiple to round to.
        min_value: The smallest result allowed; defaults to `divisor`.

    Returns:
        The rounded channel count.
    """
    min_value = divisor if min_value is None else min_value
    rounded = max(min_value, int(value + divisor / 2) // divisor * divisor)
    if rounded < 0.9 * value:  # Rounding down must not lose more than 10% of the channels.
        rounded += divisor
    return rounded
