"""`tfnas.latency.adapt`: another device's model rescaled per group of keys, and the calibration."""

import dataclasses

import pytest

from tfnas.latency import adapt
from tfnas.latency.keys import parse_key
from tfnas.latency.table import LatencyTable, Measurement, TableMetadata, load_table, save_table
from tfnas.latency.targets import load_target

K3 = parse_key("expanded_conv-input:14x14x16-output:14x14x16-expand:3-kernel:3-stride:1-idskip:1")
K3_E6 = parse_key(
    "expanded_conv-input:14x14x16-output:14x14x16-expand:6-kernel:3-stride:1-idskip:1"
)
K7 = parse_key("expanded_conv-input:14x14x16-output:14x14x16-expand:3-kernel:7-stride:1-idskip:1")
K7_E6 = parse_key("expanded_conv-input:7x7x24-output:7x7x24-expand:6-kernel:7-stride:1-idskip:1")
K5 = parse_key("expanded_conv-input:7x7x24-output:7x7x24-expand:3-kernel:5-stride:1-idskip:1")
STEM = parse_key("Conv-input:28x28x1-output:14x14x8")
LOGITS = parse_key("Logits-input:1x1x128-output:10")


def device_table(entries, **metadata):
    fields = {"device": "phone", "base_target": "cpu", **metadata}
    return LatencyTable(TableMetadata(**fields), entries)


def measured(ms):
    return Measurement(mean=ms, std=0.0, count=10, median=ms)


def test_groups_go_from_the_block_type_to_every_key():
    assert adapt.key_groups(K7_E6) == (
        "expanded_conv-k7-e6",
        "expanded_conv-k7",
        "expanded_conv",
        "all",
    )
    assert adapt.key_groups(STEM) == ("Conv", "all")


def test_a_key_takes_the_scale_of_its_most_specific_measured_group():
    base = load_target("cpu")
    entries = {
        K3: measured(1.5 * base.latency(K3).value),
        K7: measured(4.5 * base.latency(K7).value),
        STEM: measured(1.5 * base.latency(STEM).value),
    }
    scales = adapt.fit_scales(entries, base)
    assert scales["expanded_conv-k7"].scale == pytest.approx(4.5)
    assert scales["expanded_conv-k3-e3"] == adapt.GroupScale(pytest.approx(1.5), 1)
    # Geometric mean of every measured key: 1.5 twice and 4.5 once.
    assert scales["all"].scale == pytest.approx((1.5 * 1.5 * 4.5) ** (1 / 3))
    assert adapt.scale_of(K7_E6, scales) == pytest.approx(4.5)  # k7, another expand ratio
    assert adapt.scale_of(K3_E6, scales) == pytest.approx(1.5)
    assert adapt.scale_of(LOGITS, scales) == pytest.approx(scales["all"].scale)
    assert adapt.scale_of(K5, {}) == 1.0

    model = adapt.AdaptedModel.of("phone.json", device_table(entries), base)
    assert model.latency(K7) == adapt.LayerLatency(entries[K7].typical, "measured")
    predicted = model.latency(K7_E6)
    assert predicted.source == "predicted"
    assert predicted.value == pytest.approx(4.5 * base.latency(K7_E6).value)


def test_the_calibration_is_an_offset_until_enough_networks_differ():
    assert adapt.fit_calibration([], [], 28, "d") is None
    one = adapt.fit_calibration([1.0], [1.2], 28, "d")
    assert (one["scale"], one["offset_ms"], one["fit"]) == (1.0, pytest.approx(0.2), "offset")
    close = adapt.fit_calibration([1.0, 1.02, 1.04], [1.1, 1.2, 1.15], 28, "d")
    assert close["fit"] == "offset" and close["offset_ms"] == pytest.approx(0.13)
    line = adapt.fit_calibration([1.0, 2.0, 3.0], [1.3, 2.5, 3.7], 28, "d")
    assert line["fit"] == "line" and line["networks"] == 3
    assert (line["scale"], line["offset_ms"]) == (pytest.approx(1.2), pytest.approx(0.1))
    falling = adapt.fit_calibration([1.0, 2.0, 3.0], [3.0, 2.0, 1.0], 28, "d")
    assert falling["fit"] == "offset"
    with pytest.raises(ValueError, match="as many sums as measurements, got 2 and 1"):
        adapt.fit_calibration([1.0, 2.0], [1.0], 28, "d")


def test_an_adapted_table_file_is_a_target_that_rescales_its_base(tmp_path):
    base = load_target("cpu")
    networks = ({"name": "a", "keys": [str(K3)], "resolution": 28, "measured_ms": 1.0},)
    table = device_table({K7: measured(3.0 * base.latency(K7).value)}, networks=networks)
    path = save_table(table, tmp_path / "phone.json")
    again = load_table(path)
    assert again == table
    model = load_target(str(path))
    assert isinstance(model, adapt.AdaptedModel)
    assert model.latency(K3).value == pytest.approx(3.0 * base.latency(K3).value)

    broken = dataclasses.replace(
        table, metadata=dataclasses.replace(table.metadata, base_target="nope")
    )
    save_table(broken, tmp_path / "broken.json")
    with pytest.raises(Exception, match="broken.json: its base target: unknown target 'nope'"):
        load_target(str(tmp_path / "broken.json"))
