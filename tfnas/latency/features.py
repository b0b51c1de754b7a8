"""Features of a layer key that its latency is (close to) linear in.

A key is broken into the primitive ops a TFLite runtime executes: GEMMs (1x1
convolutions, the stem convolution through im2col, the classifier), depthwise
convolutions, pooling, squeeze-excite, activations and the residual add. Each
primitive adds compute (MACs), memory traffic (activation elements read and
written, weights read) and a fixed per-op overhead; the cost model weighs
these with non-negative coefficients fitted per device.

Two families make the costs depend on an op's size, not only on its amount
of work, without giving up linearity in the coefficients:

- GEMM efficiency grows with the number of rows (output pixels): small
  GEMMs leave vector lanes and threads idle. `gemm_macs_below_S` is the MACs
  of GEMMs with fewer rows than an SxS map, fading out linearly in log rows
  between the anchor below S and S, so the fitted cost per MAC is a
  continuous, non-increasing function of the GEMM's size.
- Tensors larger than a cache spill to DRAM. `elements_beyond_C` counts the
  elements of each tensor read or written beyond C (float32), so the fitted
  cost per element is a non-decreasing function of the tensor's size. The
  fit decides which capacities matter on a device.

Units keep the coefficients of similar size: MACs, elements and weights in
millions, ops as a count.
"""

from __future__ import annotations

import dataclasses
import itertools
import math

from tfnas.latency.keys import EXPANDED_CONV, LayerKey
from tfnas.nets.channels import make_divisible

# Squeeze-excite of Once-for-All's MobileNetV3 blocks: middle channels / 4,
# rounded to a multiple of 8.
SE_REDUCTION = 4
STEM_KERNEL = 3  # The keys do not record the stem's kernel; every network here uses 3x3.
DEPTHWISE_KERNELS = (3, 5, 7)
# Sides of the square maps between which GEMM efficiency may change (7x7 to
# 112x112: every feature-map size of ImageNet MobileNets at 224 px).
GEMM_SIZE_ANCHORS = (7, 14, 28, 56, 112)
# Tensor sizes beyond which reads and writes may cost more (L2/L3-sized caches),
# in float32 elements: 512 KiB, 1 MiB, 2 MiB, 4 MiB.
CACHE_CAPACITIES = {"512KiB": 2**17, "1MiB": 2**18, "2MiB": 2**19, "4MiB": 2**20}
SMALL_GEMM_FEATURES = tuple(f"gemm_macs_below_{side}" for side in GEMM_SIZE_ANCHORS[1:])
SPILL_FEATURES = tuple(f"elements_beyond_{name}" for name in CACHE_CAPACITIES)

FEATURES = (
    "gemm_macs",  # 1x1 convs, the stem conv (im2col) and the classifier
    # Depthwise MACs by kernel size: runtimes have specialised 3x3 kernels, so
    # each size runs at its own efficiency per MAC.
    "depthwise_macs_k3",
    "depthwise_macs_k5",
    "depthwise_macs_k7",
    "elements",  # activation elements read and written by every op
    "gemm_output_elements",  # elements written by GEMMs (their stores are costlier than loads)
    "strided_elements",  # input elements of stride-2 depthwise convs
    "weights",  # weights read: small feature maps make 1x1 convs weight-bound
    "se_elements",  # elements of squeeze-excite's pooling and rescaling
    "hswish_elements",  # elements passed through h-swish
    "ops",  # one per op: dispatch and per-layer overhead
    *SMALL_GEMM_FEATURES,  # extra cost per MAC of GEMMs with few rows
    *SPILL_FEATURES,  # extra cost per element of tensors larger than a cache
)


@dataclasses.dataclass
class _Tally:
    """Running sums of the raw features of one key."""

    values: dict[str, float] = dataclasses.field(default_factory=lambda: dict.fromkeys(FEATURES, 0))

    def op(self, elements_in: float, elements_out: float, inputs: int = 1, **extra: float) -> None:
        """Adds one op that reads `elements_in` and writes `elements_out`.

        `inputs` is how many equal tensors `elements_in` is split over: each
        spills beyond a cache on its own.
        """
        self.values["ops"] += 1
        self.values["elements"] += elements_in + elements_out
        for capacity, feature in zip(CACHE_CAPACITIES.values(), SPILL_FEATURES, strict=True):
            beyond = inputs * max(0.0, elements_in / inputs - capacity)
            self.values[feature] += beyond + max(0.0, elements_out - capacity)
        for name, value in extra.items():
            self.values[name] += value

    def gemm(self, rows: int, depth: int, columns: int) -> None:
        """A GEMM: (rows x depth) activations times (depth x columns) weights."""
        macs = rows * depth * columns
        shares = zip(SMALL_GEMM_FEATURES, gemm_size_shares(rows), strict=True)
        small = {name: macs * share for name, share in shares}
        self.op(
            rows * depth,
            rows * columns,
            gemm_macs=macs,
            gemm_output_elements=rows * columns,
            weights=depth * columns,
            **small,
        )

    def conv1x1(self, pixels: int, c_in: int, c_out: int) -> None:
        self.gemm(pixels, c_in, c_out)

    def depthwise(self, pixels_in: int, pixels_out: int, channels: int, kernel: int) -> None:
        # Other kernel sizes are charged at the efficiency of the nearest fitted one.
        nearest = min(DEPTHWISE_KERNELS, key=lambda k: abs(k - kernel))
        self.op(
            pixels_in * channels,
            pixels_out * channels,
            strided_elements=pixels_in * channels if pixels_in > pixels_out else 0,
            weights=channels * kernel * kernel,
            **{f"depthwise_macs_k{nearest}": pixels_out * channels * kernel * kernel},
        )


def gemm_size_shares(rows: int) -> list[float]:
    """The share of a GEMM's MACs that counts in each `gemm_macs_below_S` feature.

    For the anchors A < S, the share is 1 when `rows` <= A*A, 0 when `rows`
    >= S*S, and linear in log(rows) in between. Any non-negative coefficients
    then add up to a per-MAC cost that is continuous and non-increasing in
    the GEMM's rows, and flat from 112x112 on.
    """
    log_rows = math.log(max(rows, 1))
    shares = []
    for low, high in itertools.pairwise(GEMM_SIZE_ANCHORS):
        lo, hi = math.log(low * low), math.log(high * high)
        shares.append(min(1.0, max(0.0, (hi - log_rows) / (hi - lo))))
    return shares


def _pixels(shape: tuple[int, ...]) -> int:
    return shape[0] * shape[1]


def raw_features(key: LayerKey) -> dict[str, float]:
    """The features of one key, in raw units (MACs, elements, weights, ops)."""
    tally = _Tally()
    if key.kind == EXPANDED_CONV:
        _block(tally, key)
    elif key.kind == "Conv":
        c_in, c_out = key.input_shape[2], key.output_shape[2]
        depth = c_in * STEM_KERNEL**2
        tally.op(_pixels(key.input_shape) * c_in, 0)  # reading the image for im2col
        tally.gemm(_pixels(key.output_shape), depth, c_out)
    elif key.kind in ("Conv_1", "Conv_2"):
        tally.conv1x1(_pixels(key.input_shape), key.input_shape[2], key.output_shape[2])
    elif key.kind == "AvgPool2D":
        tally.op(_pixels(key.input_shape) * key.input_shape[2], key.output_shape[2])
    elif key.kind == "Logits":
        channels = key.input_shape[2]
        if _pixels(key.input_shape) > 1:  # ProxylessNAS' Logits entry includes the pooling.
            tally.op(_pixels(key.input_shape) * channels, channels)
        tally.conv1x1(1, channels, key.output_shape[0])
    else:  # pragma: no cover - LayerKey rejects other kinds
        raise ValueError(f"no features for {key.kind!r}")
    return tally.values


def _block(tally: _Tally, key: LayerKey) -> None:
    """An MBConv block: [1x1 expand], kxk depthwise, [squeeze-excite], 1x1 project, [add]."""
    pixels_in, pixels_out = _pixels(key.input_shape), _pixels(key.output_shape)
    c_in, c_out, mid = key.input_shape[2], key.output_shape[2], key.mid_channels
    activated = 0  # elements through the block's activation (h-swish when `hs`)
    if mid != c_in:  # expand ratio 1 has no expand conv (MobileNetV2, Once-for-All)
        tally.conv1x1(pixels_in, c_in, mid)
        activated += pixels_in * mid
    tally.depthwise(pixels_in, pixels_out, mid, key.kernel)
    activated += pixels_out * mid
    if key.se:
        squeezed = make_divisible(mid / SE_REDUCTION, 8)
        elements = pixels_out * mid
        tally.op(elements, mid, se_elements=elements)  # global pool
        tally.conv1x1(1, mid, squeezed)
        tally.conv1x1(1, squeezed, mid)
        tally.op(elements, elements, se_elements=2 * elements)  # rescale the feature map
    tally.conv1x1(pixels_out, mid, c_out)
    if key.residual:
        tally.op(2 * pixels_out * c_out, pixels_out * c_out, inputs=2)
    if key.hs:
        tally.values["hswish_elements"] += activated


def key_macs(key: LayerKey) -> int:
    """Multiply-accumulates of `key` (convolutions, dense layer), as `tfnas.nets.costs` counts."""
    raw = raw_features(key)
    return int(raw["gemm_macs"] + sum(raw[f"depthwise_macs_k{k}"] for k in DEPTHWISE_KERNELS))


_SCALE = {name: 1.0 if name == "ops" else 1e-6 for name in FEATURES}


def features(key: LayerKey) -> list[float]:
    """The feature vector of `key`, in `FEATURES` order (millions, except ops)."""
    raw = raw_features(key)
    return [raw[name] * _SCALE[name] for name in FEATURES]
