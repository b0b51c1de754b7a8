import copy
import dataclasses
import json

import pytest

from tfnas.errors import SpecError
from tfnas.nets import netconfig
from tfnas.nets.registry import NETS

REGISTERED = ["proxyless_mobile", "proxyless_cpu", "proxyless_gpu", "proxyless_mobile_14"]


def test_anchor_files_import_to_the_registered_specs(anchor_net_configs):
    assert sorted(anchor_net_configs) == sorted(REGISTERED)
    for name, path in anchor_net_configs.items():
        assert netconfig.load_net_config(path) == NETS.get(name), name


def test_anchor_files_round_trip_exactly(anchor_net_configs):
    for name, path in anchor_net_configs.items():
        original = json.loads(path.read_text())
        exported = netconfig.to_net_config(netconfig.load_net_config(path))
        assert exported == original, name
        # Same types too: ints stay ints, nulls stay null.
        assert json.dumps(exported, sort_keys=True) == json.dumps(original, sort_keys=True)


PROXYLESS_STYLE = [name for name in NETS.names() if not name.startswith("mobilenet_v3")]


@pytest.mark.parametrize("name", PROXYLESS_STYLE)
def test_every_registered_net_round_trips(name):
    spec = NETS.get(name)
    assert netconfig.from_net_config(netconfig.to_net_config(spec), name=name) == spec
    text = netconfig.dumps_net_config(spec)
    assert netconfig.from_net_config(json.loads(text), name=name) == spec


@pytest.mark.parametrize("name", ["mobilenet_v3_small", "mobilenet_v3_large"])
def test_mobilenet_v3_s_head_is_refused_by_name(name):
    # Its blocks have a net.config form (Once-for-All's MBConvLayer); its h-swish stem does not.
    with pytest.raises(SpecError, match=r"^stem.activation: .* got 'hswish'; save the network"):
        netconfig.to_net_config(NETS.get(name))
    minimal = NETS.get(name, minimalistic=True)
    with pytest.raises(SpecError, match=r"^stem.activation: .* got 'relu'"):
        netconfig.to_net_config(minimal)
    relu6_head = dataclasses.replace(
        minimal,
        stem=dataclasses.replace(minimal.stem, activation="relu6"),
        feature_mix_activation="relu6",
    )
    with pytest.raises(SpecError, match=r"^last_point_channels: .* no conv after pooling"):
        netconfig.to_net_config(relu6_head)


def test_resolution_and_name_are_arguments(tmp_path):
    path = tmp_path / "mine.net.config.json"
    path.write_text(netconfig.dumps_net_config(NETS.get("proxyless_gpu")))
    spec = netconfig.load_net_config(path, resolution=160)
    assert (spec.name, spec.resolution) == ("mine", 160)


def test_batch_norm_momentum_converts_between_conventions():
    config = netconfig.to_net_config(NETS.get("proxyless_mobile"))
    assert config["bn"]["momentum"] == 0.1  # PyTorch: weight of the new batch
    assert NETS.get("proxyless_mobile").batch_norm.momentum == 0.9  # Keras: of the average


def edited(edit) -> dict:
    config = copy.deepcopy(netconfig.to_net_config(NETS.get("proxyless_mobile")))
    edit(config)
    return config


@pytest.mark.parametrize(
    ("edit", "message"),
    [
        (lambda c: c.update(name="MobileNetV3"), "^name: only 'ProxylessNASNets' is supported"),
        (lambda c: c["first_conv"].update(act_func="h_swish"), "^first_conv.act_func: only"),
        (lambda c: c["first_conv"].update(bias=True), "^first_conv.bias: only False"),
        (lambda c: c["first_conv"].update(groups=2), "^first_conv.groups: only 1"),
        (
            lambda c: c["blocks"][0]["mobile_inverted_conv"].update(name="SepConv"),
            r"^blocks\[0\].mobile_inverted_conv.name: expected 'MBInvertedConvLayer'",
        ),
        (
            lambda c: c["blocks"][1]["mobile_inverted_conv"].update(kernel_size=4),
            r"^blocks\[1\].mobile_inverted_conv.kernel_size: expected an odd",
        ),
        (
            lambda c: c["blocks"][1]["mobile_inverted_conv"].update(use_se=True),
            r"^blocks\[1\].mobile_inverted_conv: unknown field\(s\) use_se",
        ),
        (
            lambda c: c["blocks"][3].update(shortcut=None),
            r"^blocks\[3\].shortcut: a ZeroLayer block needs an IdentityLayer",
        ),
        (
            lambda c: c["blocks"][2]["shortcut"].update(in_channels=16),
            r"^blocks\[2\].shortcut: channels \(16, 32\) differ",
        ),
        (
            lambda c: c["blocks"][1]["mobile_inverted_conv"].update(in_channels=24),
            r"^blocks\[1\].in_channels: 24 does not match blocks\[0\].out_channels 16",
        ),
        (
            lambda c: c["feature_mix_layer"].update(in_channels=99),
            "^feature_mix_layer.in_channels: 99 does not match",
        ),
        (lambda c: c["classifier"].update(in_features=5), "^classifier.in_features: 5 does not"),
        (lambda c: c["classifier"].update(dropout_rate=1.5), "^classifier.dropout: expected"),
        (lambda c: c["bn"].update(momentum="0.1"), "^bn.momentum: expected a number"),
    ],
)
def test_errors_name_the_field(edit, message):
    with pytest.raises(SpecError, match=message):
        netconfig.from_net_config(edited(edit))


def test_file_errors_name_the_file(tmp_path):
    path = tmp_path / "x.net.config.json"
    path.write_text("{nope")
    with pytest.raises(SpecError, match=rf"^{path}: not valid JSON"):
        netconfig.load_net_config(path)
    path.write_text(json.dumps(edited(lambda c: c["classifier"].update(bias=False))))
    with pytest.raises(SpecError, match=rf"^{path}: classifier.bias: only True"):
        netconfig.load_net_config(path)


def test_helpers():
    assert netconfig.net_config_stem("/a/proxyless_cpu.net.config.json") == "proxyless_cpu"
    assert netconfig.net_config_stem("b.json") == "b"
    assert netconfig.looks_like_net_config(netconfig.to_net_config(NETS.get("mobilenet_v2")))
    assert not netconfig.looks_like_net_config({"format": "tfnas.net"})
