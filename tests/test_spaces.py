import pytest

from tfnas.nets.ops import MBConvOp, ZeroOp
from tfnas.nets.registry import SPACES
from tfnas.nets.spaces import PROXYLESS_CANDIDATES, proxyless_imagenet
from tfnas.nets.spec import ChoiceBlock, conv_output_size


def test_proxyless_imagenet_matches_the_paper():
    space = proxyless_imagenet()
    choice = space.choice_blocks
    assert len(choice) == 21
    assert space.stem.out_channels == 32 and space.stem.stride == 2
    assert space.blocks[0].op == MBConvOp(3, 1) and space.blocks[0].out_channels == 16
    assert space.feature_mix_channels == 1280
    widths = [b.out_channels for b in choice]
    assert widths == [24] * 4 + [40] * 4 + [80] * 4 + [96] * 4 + [192] * 4 + [320]
    first_of_stage = [0, 4, 8, 12, 16, 20]
    assert [choice[i].stride for i in first_of_stage] == [2, 2, 2, 1, 2, 1]
    # Six MBConv candidates everywhere; Zero only where the block can be skipped.
    for block in choice:
        assert block.candidates[:6] == PROXYLESS_CANDIDATES
        can_skip = block.stride == 1 and block.in_channels == block.out_channels
        assert (ZeroOp() in block.candidates) == can_skip == block.residual
    assert sum(ZeroOp() in b.candidates for b in choice) == 15
    # "about 2.2e17 architectures" (DESIGN.md): 6^6 * 7^15.
    assert space.num_architectures == 6**6 * 7**15
    assert space.num_architectures == pytest.approx(2.2e17, rel=0.01)


def test_proxyless_imagenet_width_and_resolution():
    space = proxyless_imagenet(width_mult=1.4, resolution=160, num_classes=10)
    assert space.resolution == 160
    assert space.classifier.num_classes == 10
    assert space.stem.out_channels == 48
    assert space.feature_mix_channels == 1792  # widened only above 1.0
    assert [b.out_channels for b in space.choice_blocks][::4] == [32, 56, 112, 136, 272, 448]
    assert proxyless_imagenet(width_mult=0.5).feature_mix_channels == 1280


def test_demo_space_is_small_and_complete():
    space = SPACES.get("demo")
    assert space.resolution == 32
    assert len(space.choice_blocks) == 6
    assert all(isinstance(b, ChoiceBlock) for b in space.blocks[1:])
    size = conv_output_size(space.resolution, space.stem.stride)
    for block in space.blocks:
        size = conv_output_size(size, block.stride)
    assert size >= 4  # the last stage still has spatial extent at 32 px


def test_registry_lists_spaces():
    assert SPACES.names()[:2] == ["proxyless_imagenet", "demo"]


def test_fashion_mnist_space_chooses_depth_in_every_stage_at_28_px():
    space = SPACES.get("fashion_mnist")
    assert space.resolution == 28
    choice = space.choice_blocks
    assert [b.out_channels for b in choice] == [16] * 3 + [24] * 3 + [32] * 3
    # Each stage's first block changes the shape; the other two may be skipped.
    assert [ZeroOp() in b.candidates for b in choice] == [False, True, True] * 3
    assert space.num_architectures == 6**3 * 7**6
    size = conv_output_size(space.resolution, space.stem.stride)
    for block in space.blocks:
        size = conv_output_size(size, block.stride)
    assert size == 4  # 28 -> 14 (stem) -> 14 -> 7 -> 4
