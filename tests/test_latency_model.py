"""Latency of networks and spaces on each target; measured first, predicted otherwise."""

import dataclasses

import numpy as np
import pytest

from tfnas.errors import FieldError
from tfnas.latency.cost_model import CostModel
from tfnas.latency.features import FEATURES
from tfnas.latency.keys import parse_key, spec_parts
from tfnas.latency.model import (
    MissingLatencyError,
    TableModel,
    net_latency,
    space_latency,
)
from tfnas.latency.table import LatencyTable, Measurement, TableMetadata
from tfnas.latency.targets import load_target
from tfnas.nets.costs import net_cost
from tfnas.nets.load import load_net
from tfnas.nets.spaces import demo, proxyless_imagenet

CONV = parse_key("Conv-input:224x224x3-output:112x112x32")
PIXEL1 = "pixel1_proxylessnas_mobile_trim.yaml"


def test_measured_entries_come_first_then_the_cost_model():
    table = LatencyTable(TableMetadata(), {CONV: Measurement(3.0, 0.1, 5)})
    model = TableModel("t", table, CostModel("d", dict.fromkeys(FEATURES, 1.0)))
    assert model.latency(CONV).value == 3.0 and model.latency(CONV).source == "measured"
    other = parse_key("Conv-input:160x160x3-output:80x80x32")
    assert model.latency(other).source == "predicted"


def test_a_missing_entry_without_cost_model_is_an_error_naming_it():
    model = TableModel("t", LatencyTable(TableMetadata(), {}), None)
    with pytest.raises(MissingLatencyError, match="no entry for Conv-input:224x224x3"):
        model.latency(CONV)


@pytest.mark.parametrize("target", ["mobile", "cpu", "flops"])
@pytest.mark.parametrize(
    "space",
    [
        proxyless_imagenet(),
        proxyless_imagenet(width_mult=1.4, resolution=256),
        proxyless_imagenet(width_mult=0.5, resolution=128),
        demo(),
    ],
    ids=["imagenet", "w1.4_256", "w0.5_128", "demo"],
)
def test_every_candidate_of_every_space_gets_a_positive_latency(target, space):
    result = space_latency(load_target(target), space)
    assert result.fixed > 0
    for block, latencies in zip(space.choice_blocks, result.candidates, strict=True):
        for op, value in zip(block.candidates, latencies, strict=True):
            assert (value == 0) == (op.name == "Zero"), (op.name, value)
    if target == "mobile":  # a pure cost model: nothing is measured
        assert result.measured == 0 and result.predicted > 0


def test_space_latency_of_a_choice_equals_the_net_latency_of_that_net():
    space = proxyless_imagenet(resolution=192)
    rng = np.random.default_rng(1)
    choices = [int(rng.integers(len(b.candidates))) for b in space.choice_blocks]
    for target in ("mobile", "cpu", "flops"):
        model = load_target(target)
        expected = net_latency(model, space.select(choices)).total
        assert space_latency(model, space).latency_of(choices) == pytest.approx(expected)


def test_flops_target_is_the_exact_mac_count():
    for name in ("proxyless_mobile", "mobilenet_v2"):
        spec = load_net(name)
        result = net_latency(load_target("flops"), spec)
        assert result.total == pytest.approx(net_cost(spec).macs / 1e6)
        assert result.unit == "MMACs" and result.count("exact") > 0


def test_cpu_target_uses_its_measured_table_and_its_calibration():
    target = load_target("cpu")
    result = net_latency(target, load_net("proxyless_mobile"))
    assert result.count("measured") > 0 and result.count("predicted") > 0
    metadata = target.table.metadata
    assert metadata.tool == "tflite_bench (host)" and metadata.precision == "float32"
    calibration = metadata.calibration
    raw = TableModel("raw", dataclasses.replace(target.table, metadata=TableMetadata()), None)
    spec = load_net("proxyless_mobile").with_resolution(224)
    network = spec_parts(spec)
    measured_only = [part.keys[0] for part in network if part.keys[0] in target.table]
    total = sum(raw.latency(key).value for key in measured_only)
    calibrated = sum(target.latency(key).value for key in measured_only)
    assert calibrated == pytest.approx(calibration["scale"] * total + calibration["offset_ms"])
    # The offset was fitted on 224 px networks: a 32 px network gets the scale only.
    assert calibration["resolution"] == 224
    demo_net = demo().select([0] * len(demo().choice_blocks))
    small = [part.keys[0] for part in spec_parts(demo_net) if part.keys[0] in target.table]
    assert len(small) >= 6 and small[0].input_shape[0] == 32
    assert sum(target.latency(key).value for key in small) == pytest.approx(
        calibration["scale"] * sum(raw.latency(key).value for key in small)
    )


def test_unknown_target_lists_the_choices():
    with pytest.raises(FieldError, match="unknown target 'phone'.*mobile, cpu, flops"):
        load_target("phone")


def _choices(space, op_name):
    names = [[op.name for op in b.candidates] for b in space.choice_blocks]
    if op_name == "smallest":
        return [n.index("Zero") if "Zero" in n else n.index("3x3_MBConv3") for n in names]
    return [n.index(op_name) for n in names]


@pytest.mark.parametrize(
    ("which", "published_ms"),
    [("smallest", 30), ("3x3_MBConv3", 76), ("7x7_MBConv6", 191)],
)
def test_published_table_as_target_reproduces_the_published_totals(anchors, which, published_ms):
    model = load_target(str(anchors / "latency" / PIXEL1))
    space = proxyless_imagenet()
    result = space_latency(model, space)
    assert result.predicted == 0  # every candidate of the space is measured
    assert result.latency_of(_choices(space, which)) == pytest.approx(published_ms, rel=0.03)


def test_published_table_falls_back_to_its_fitted_model_for_proxyless_mobile(anchors):
    result = net_latency(
        load_target(str(anchors / "latency" / PIXEL1)), load_net("proxyless_mobile")
    )
    assert result.count("predicted") == 3 and result.count("measured") == 20


@pytest.mark.parametrize(
    ("which", "published_ms"),
    [("smallest", 30), ("3x3_MBConv3", 76), ("7x7_MBConv6", 191)],
)
def test_mobile_cost_model_alone_reproduces_the_published_totals(which, published_ms):
    """The shipped coefficients, with no table, sum to the published network totals (3%)."""
    space = proxyless_imagenet()
    result = space_latency(load_target("mobile"), space)
    assert result.latency_of(_choices(space, which)) == pytest.approx(published_ms, rel=0.03)


@pytest.mark.parametrize("which", ["smallest", "3x3_MBConv3", "7x7_MBConv6"])
def test_mobile_cost_model_matches_the_table_sums_it_was_fitted_on(anchors, which):
    space = proxyless_imagenet()
    table = space_latency(load_target(str(anchors / "latency" / PIXEL1)), space)
    model = space_latency(load_target("mobile"), space)
    choices = _choices(space, which)
    assert model.latency_of(choices) == pytest.approx(table.latency_of(choices), rel=0.03)
