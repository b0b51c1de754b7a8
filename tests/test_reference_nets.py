"""Reference networks and their published figures.

Sources of the golden numbers:
- MobileNetV2 1.0 at 224: 3,504,872 trainable parameters, as counted by
  keras.applications.MobileNetV2(weights=None) (test_costs checks it live);
  300M multiply-adds: Sandler et al., MobileNetV2, CVPR 2018, Table 4.
- ProxylessNAS: 320M (proxyless_mobile) and 581M (proxyless_mobile_14) MACs,
  published by the authors (Cai et al., ICLR 2019, and their released models;
  ../shared/anchors/README.md lists them).
"""

import pytest

from tfnas.nets.costs import net_cost
from tfnas.nets.ops import MBConvOp, ZeroOp
from tfnas.nets.registry import NETS
from tfnas.nets.spec import NetSpec


def test_all_seven_are_registered():
    assert NETS.names() == [
        "mobilenet_v2",
        "proxyless_mobile",
        "proxyless_cpu",
        "proxyless_gpu",
        "proxyless_mobile_14",
        "mobilenet_v3_small",
        "mobilenet_v3_large",
    ]
    for name in NETS.names():
        assert isinstance(NETS.get(name), NetSpec)
        assert NETS.get(name).name == name


@pytest.mark.parametrize(
    ("name", "params", "macs"),
    [
        ("mobilenet_v2", 3_504_872, 300e6),
        ("proxyless_mobile", None, 320e6),
        ("proxyless_mobile_14", None, 581e6),
    ],
)
def test_golden_figures_within_one_percent(name, params, macs):
    cost = net_cost(NETS.get(name))
    if params is not None:
        assert cost.params == pytest.approx(params, rel=0.01)
    assert cost.macs == pytest.approx(macs, rel=0.01)


def test_mobilenet_v2_structure():
    net = NETS.get("mobilenet_v2")
    assert len(net.blocks) == 17
    assert all(b.op == MBConvOp(3, 6) for b in net.blocks[1:])
    assert sum(b.residual for b in net.blocks) == 10


def test_mobilenet_v2_width_multiplier():
    narrow = NETS.get("mobilenet_v2", width_mult=0.5)
    assert narrow.stem.out_channels == 16
    assert narrow.feature_mix_channels == 1280
    assert NETS.get("mobilenet_v2", width_mult=1.4).feature_mix_channels == 1792
    assert net_cost(narrow).macs < net_cost(NETS.get("mobilenet_v2")).macs


def test_proxyless_mobile_skips_two_blocks():
    net = NETS.get("proxyless_mobile")
    assert [i for i, b in enumerate(net.blocks) if b.op == ZeroOp()] == [3, 4]


def test_factories_take_resolution_and_classes():
    net = NETS.get("proxyless_gpu", resolution=160, num_classes=10, dropout=0.2)
    assert (net.resolution, net.classifier.num_classes, net.classifier.dropout) == (160, 10, 0.2)
