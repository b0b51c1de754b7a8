"""Latency-table keys: both dialects decode and print back, specs produce the authors' keys."""

import pytest

from tfnas.errors import FieldError
from tfnas.latency.keys import EXPANDED_CONV, LayerKey, block_key, parse_key, spec_parts
from tfnas.latency.table import load_table
from tfnas.nets.load import load_net, load_net_or_space
from tfnas.nets.ops import MBConvOp, ZeroOp
from tfnas.nets.spec import BlockSpec

PROXYLESS_KEY = "expanded_conv-input:112x112x16-output:56x56x24-expand:3-kernel:5-stride:2-idskip:0"
OFA_KEY = (
    "expanded_conv-input:10x10x136-output:10x10x136-expand:408-kernel:3-stride:1-idskip:1-se:1-hs:0"
)


@pytest.mark.parametrize(
    "text",
    [
        PROXYLESS_KEY,
        OFA_KEY,
        "Conv-input:224x224x3-output:112x112x32",
        "Conv_1-input:7x7x320-output:7x7x1280",
        "Conv_2-input:1x1x1152-output:1x1x1536",
        "AvgPool2D-input:5x5x1152-output:1x1x1152",
        "Logits-input:7x7x1280-output:1000",
    ],
)
def test_every_kind_prints_back_as_it_was_read(text):
    assert str(parse_key(text)) == text


def test_block_key_fields_in_both_dialects():
    proxyless = parse_key(PROXYLESS_KEY)
    assert (proxyless.kind, proxyless.input_shape, proxyless.output_shape) == (
        EXPANDED_CONV,
        (112, 112, 16),
        (56, 56, 24),
    )
    assert (proxyless.kernel, proxyless.stride, proxyless.residual) == (5, 2, False)
    assert not proxyless.is_once_for_all and proxyless.mid_channels == 48  # expand is a ratio
    ofa = parse_key(OFA_KEY)
    assert ofa.is_once_for_all and ofa.se and not ofa.hs
    assert ofa.mid_channels == 408  # expand is the middle channels


@pytest.mark.parametrize(
    "text",
    [
        "expanded_conv-input:112x112x16-output:56x56x24-expand:3-kernel:5-stride:2",  # no idskip
        "Conv-input:224x224-output:112x112x32",
        "Pool-input:7x7x320-output:1x1x320",
        PROXYLESS_KEY + "-se:1",  # se without hs
        "Logits-input:7x7x1280-output:7x7x1000",  # classifier output must be a class count
    ],
)
def test_malformed_keys_are_refused_naming_the_key(text):
    with pytest.raises(FieldError) as error:
        parse_key(text)
    assert text in str(error.value) or "Logits" in str(error.value)


def test_block_key_of_a_spec_block_and_zero():
    block = BlockSpec(MBConvOp(7, 6), 40, 80, 2, residual=False)
    assert str(block_key(block, 28, 28)) == (
        "expanded_conv-input:28x28x40-output:14x14x80-expand:6-kernel:7-stride:2-idskip:0"
    )
    assert block_key(BlockSpec(ZeroOp(), 80, 80, 1, residual=True), 14, 14) is None


def test_spec_parts_of_a_space_list_every_candidate():
    space = load_net_or_space("proxyless_imagenet")
    parts = list(spec_parts(space))
    choice = [p for p in parts if p.is_choice]
    assert len(choice) == len(space.choice_blocks)
    assert [len(p.keys) for p in choice] == [len(b.candidates) for b in space.choice_blocks]
    assert [p.name for p in parts][:2] == ["stem", "block00"]
    assert [p.name for p in parts][-2:] == ["feature_mix", "classifier"]


def test_every_key_of_the_imagenet_space_is_in_the_published_pixel1_table(anchors):
    """Keys are generated exactly as the authors wrote them: every one is found."""
    table = load_table(anchors / "latency" / "pixel1_proxylessnas_mobile_trim.yaml")
    space_keys = {
        k for p in spec_parts(load_net_or_space("proxyless_imagenet")) for k in p.keys if k
    }
    assert space_keys <= set(table.entries)
    # The table also holds the fixed first block with 5x5 and 7x7 kernels.
    extra = set(table.entries) - space_keys
    assert {(k.input_shape, k.expand, k.kernel) for k in extra} == {
        ((112, 112, 32), 1, 5),
        ((112, 112, 32), 1, 7),
    }


def test_released_proxyless_mobile_needs_keys_the_table_lacks(anchors):
    table = load_table(anchors / "latency" / "pixel1_proxylessnas_mobile_trim.yaml")
    keys = [p.keys[0] for p in spec_parts(load_net("proxyless_mobile")) if p.keys[0]]
    missing = [k for k in keys if k not in table]
    assert missing and all(k.input_shape[2] == 32 or k.output_shape[2] == 32 for k in missing)


def test_layer_key_checks_its_fields():
    with pytest.raises(FieldError, match="needs expand"):
        LayerKey(EXPANDED_CONV, (8, 8, 8), (8, 8, 8))
    with pytest.raises(FieldError, match="only shapes"):
        LayerKey("Conv", (8, 8, 3), (4, 4, 8), kernel=3)
