"""The embedded `demo` dataset: class-dependent gratings generated deterministically.

Each image is a sinusoidal grating whose orientation (5 angles) and period (4
or 8 pixels) make its class (10 classes), with a random phase, contrast and
color, and pixel noise on top. Gratings fill the whole image, so a shifted
crop keeps its class (a horizontal flip would not: it mirrors the angle).
A small CNN gets far above chance within an epoch or two, and telling the
periods apart under the noise rewards wider receptive fields.

Generated from a fixed seed, so every machine gets the same bytes with no
download; `make demo` and the tests rely on that.
"""

from __future__ import annotations

import numpy as np

NUM_CLASSES = 10
RESOLUTION = 32
ANGLES_DEG = (0.0, 36.0, 72.0, 108.0, 144.0)
PERIODS_PX = (4.0, 8.0)
SPLIT_SIZES = {"train": 6000, "test": 1000}
# Different seeds per split, so test images are never train images.
SPLIT_SEEDS = {"train": 20190506, "test": 20190507}
NOISE_STDDEV = 0.35


def class_pattern(label: int) -> tuple[float, float]:
    """(angle in degrees, period in pixels) of a class."""
    if not 0 <= label < NUM_CLASSES:
        raise ValueError(f"demo labels are 0..{NUM_CLASSES - 1}, got {label}")
    return ANGLES_DEG[label % len(ANGLES_DEG)], PERIODS_PX[label // len(ANGLES_DEG)]


def generate(count: int, seed: int, resolution: int = RESOLUTION) -> tuple[np.ndarray, np.ndarray]:
    """`count` demo images (uint8, NHWC) and labels (int64), balanced over the classes.

    Args:
        count: Number of images.
        seed: Seed of every random choice; the same seed gives the same bytes.
        resolution: Height and width.

    Returns:
        (images, labels).
    """
    if count < 1 or resolution < 8:
        raise ValueError(f"need count >= 1 and resolution >= 8, got {count} and {resolution}")
    rng = np.random.default_rng(seed)
    labels = rng.permutation(np.arange(count) % NUM_CLASSES).astype(np.int64)
    angles = np.deg2rad(np.array(ANGLES_DEG))[labels % len(ANGLES_DEG)]
    angles += rng.normal(0.0, np.deg2rad(4.0), count)  # a little jitter within a class
    periods = np.array(PERIODS_PX)[labels // len(ANGLES_DEG)]
    phases = rng.uniform(0.0, 2 * np.pi, count)
    contrasts = rng.uniform(0.4, 1.0, count)
    colors = rng.uniform(0.3, 1.0, (count, 3))
    ys, xs = np.mgrid[0:resolution, 0:resolution].astype(np.float64)
    along = (
        np.cos(angles)[:, None, None] * xs[None] + np.sin(angles)[:, None, None] * ys[None]
    )  # distance along the grating's normal, per image and pixel
    wave = np.sin(2 * np.pi * along / periods[:, None, None] + phases[:, None, None])
    images = 0.5 + 0.5 * contrasts[:, None, None, None] * wave[..., None] * colors[:, None, None]
    images = images + rng.normal(0.0, NOISE_STDDEV, images.shape)
    return np.clip(np.round(images * 255.0), 0, 255).astype(np.uint8), labels


def load(split: str, resolution: int = RESOLUTION) -> tuple[np.ndarray, np.ndarray]:
    """The `train` (6000 images) or `test` (1000) split of the demo dataset."""
    if split not in SPLIT_SIZES:
        raise ValueError(f"the demo dataset has splits {sorted(SPLIT_SIZES)}, got {split!r}")
    return generate(SPLIT_SIZES[split], SPLIT_SEEDS[split], resolution)
