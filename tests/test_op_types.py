"""Every registered op type works everywhere an op is used, and is defined in one place.

A new op type (MBConv with squeeze-excite, say) is a class in `tfnas.nets.ops`
with every member the rest of the code calls (its convolutions, for the
Keras builder and the cost counter; its latency key; its `net.config`
form; its drawing), registered in `tfnas.nets.ops.OP_TYPES`; it fails here until
it builds, costs, keys, serializes and draws in a network. No other module
branches on an op's class.
"""

import dataclasses
import re
from pathlib import Path

import numpy as np
import pytest

from tfnas.latency.keys import block_key
from tfnas.latency.model import net_latency
from tfnas.latency.targets import load_target
from tfnas.nets import netconfig, spec_json
from tfnas.nets.builder import build_net
from tfnas.nets.costs import net_cost
from tfnas.nets.ops import OP_TYPES, MBConvV3Op, ZeroOp
from tfnas.nets.spaces import demo
from tfnas.plots import draw_net

# Op types that no search space offers, each with an example to put in a network.
NOT_IN_SPACES = {"mbconv_v3": MBConvV3Op(5, 96, se=True, hswish=True)}


def network_with(op_type: str):
    """A demo-space network whose first block offering an `op_type` candidate uses it.

    An op type that no space offers (MobileNetV3's) takes the place of the
    first searchable block's op.
    """
    space = demo()
    choices = [0] * len(space.choice_blocks)
    for b, block in enumerate(space.choice_blocks):
        found = [c for c, op in enumerate(block.candidates) if op.type == op_type]
        if found:
            choices[b] = found[0]
            return space.select(choices)
    if op_type in NOT_IN_SPACES:
        net = space.select(choices)
        first = next(i for i, b in enumerate(space.blocks) if b in space.choice_blocks)
        blocks = list(net.blocks)
        blocks[first] = dataclasses.replace(blocks[first], op=NOT_IN_SPACES[op_type])
        return dataclasses.replace(net, blocks=tuple(blocks))
    raise AssertionError(f"no block of the demo space offers a {op_type!r} candidate")


@pytest.mark.parametrize("op_type", sorted(OP_TYPES))
def test_an_op_type_builds_costs_keys_serializes_and_draws(op_type, tmp_path):
    net = network_with(op_type)
    assert any(block.op.type == op_type for block in net.blocks)
    model = build_net(net)
    cost = net_cost(net)
    trainable = sum(int(np.prod(w.shape)) for w in model.trainable_weights)
    frozen = sum(int(np.prod(w.shape)) for w in model.non_trainable_weights)
    assert (trainable, frozen) == (cost.params, cost.bn_stats)
    assert spec_json.loads(spec_json.dumps(net)) == net
    again = netconfig.from_net_config(
        netconfig.to_net_config(net), name=net.name, resolution=net.resolution
    )
    assert [b.op for b in again.blocks] == [b.op for b in net.blocks]
    for block in net.blocks:
        key = block_key(block, net.resolution, net.resolution)
        assert (key is None) == (block.op.type == "zero")
    assert net_latency(load_target("mobile"), net).total > 0
    assert draw_net(net, tmp_path / "net.png").stat().st_size > 0


MEMBERS = (
    "type",
    "name",
    "outputs_zero",
    "searchable",
    "convs",
    "latency_fields",
    "net_config_layer",
    "from_net_config",
    "drawing",
    "NET_CONFIG_NAME",
)
REPO_ROOT = Path(__file__).resolve().parent.parent


@pytest.mark.parametrize("op_type", sorted(OP_TYPES))
def test_an_op_type_defines_every_member_itself(op_type):
    cls = OP_TYPES[op_type]
    missing = [m for m in MEMBERS if not any(m in vars(k) for k in cls.__mro__[:-1])]
    assert missing == [], f"{cls.__name__} lacks {missing}"


def test_no_module_branches_on_an_ops_class():
    names = "|".join(cls.__name__ for cls in OP_TYPES.values())
    pattern = re.compile(rf"isinstance\([^)]*\b({names})\b")
    found = []
    for package in ("tfnas", "deploy", "tflite_bench"):
        for path in sorted((REPO_ROOT / package).rglob("*.py")):
            if path.name == "ops.py" and path.parent.name == "tfnas":
                continue
            found += [f"{path.name}: {m.group(0)}" for m in pattern.finditer(path.read_text())]
    assert found == []


def test_a_search_space_refuses_an_op_its_supernet_cannot_hold():
    from tfnas.errors import SpecError
    from tfnas.nets.spec import ChoiceBlock

    with pytest.raises(
        SpecError, match=r"^candidates\[1\]: 5x5_MBConvE96_SE_HS is not a candidate"
    ):
        ChoiceBlock((ZeroOp(), NOT_IN_SPACES["mbconv_v3"]), 24, 24, 1, True)


def test_zero_computes_nothing_and_has_no_key():
    zero = ZeroOp()
    assert zero.convs(8, 8, 1) == () and zero.latency_fields() is None and zero.outputs_zero
