import pytest

from tfnas.errors import UnknownNameError
from tfnas.nets.registry import NETS, SPACES, Registry


def test_builtins_are_there_without_importing_their_modules():
    assert "proxyless_mobile" in NETS
    assert "proxyless_imagenet" in SPACES


def test_unknown_name_lists_what_is_registered():
    with pytest.raises(UnknownNameError) as info:
        NETS.get("resnet50")
    message = str(info.value)
    assert "unknown network 'resnet50'" in message
    for name in ("mobilenet_v2", "proxyless_mobile", "proxyless_gpu"):
        assert name in message


def test_register_and_duplicates():
    registry = Registry("thing")
    registry.register("a")(lambda scale=1: scale * 2)
    assert registry.get("a", scale=3) == 6
    assert registry.names() == ["a"]
    with pytest.raises(ValueError, match="already registered"):
        registry.register("a")(lambda: 0)
