"""Every registered op type works everywhere an op is used.

A new op type (MBConv with squeeze-excite, say) registered in
`tfnas.ops.OP_TYPES` fails here until it has every part: a Keras builder,
a cost, a latency key (or None, for an op that costs nothing), a `net.config`
form, a tfnas JSON form, a drawing, and a place in a search space.
"""

import numpy as np
import pytest

from tfnas import netconfig, spec_json
from tfnas.builder import build_net
from tfnas.costs import net_cost
from tfnas.latency.keys import block_key
from tfnas.latency.model import net_latency
from tfnas.latency.targets import load_target
from tfnas.ops import OP_TYPES
from tfnas.plots import draw_net
from tfnas.spaces import demo


def network_with(op_type: str):
    """A demo-space network whose first block that offers an `op_type` candidate uses it."""
    space = demo()
    choices = [0] * len(space.choice_blocks)
    for b, block in enumerate(space.choice_blocks):
        found = [c for c, op in enumerate(block.candidates) if op.type == op_type]
        if found:
            choices[b] = found[0]
            return space.select(choices)
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
