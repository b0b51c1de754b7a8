import pytest

from tfnas.errors import SpecError
from tfnas.nets import netconfig, spec_json
from tfnas.nets.load import load_net, load_net_or_space
from tfnas.nets.registry import NETS, SPACES
from tfnas.nets.spec import NetSpec, SearchSpace


def test_registered_names():
    assert load_net_or_space("proxyless_cpu") == NETS.get("proxyless_cpu")
    assert isinstance(load_net_or_space("proxyless_imagenet"), SearchSpace)


def test_files_in_both_formats(tmp_path):
    net = NETS.get("proxyless_mobile")
    ours = spec_json.save_spec(net, tmp_path / "ours.json")
    theirs = tmp_path / "theirs.net.config.json"
    theirs.write_text(netconfig.dumps_net_config(net))
    assert load_net_or_space(str(ours)) == net
    assert load_net_or_space(str(theirs)) == net.__class__(**{**net.__dict__, "name": "theirs"})
    assert load_net_or_space(str(ours), resolution=128).resolution == 128


def test_unknown_source_lists_registered_names():
    with pytest.raises(SpecError) as info:
        load_net_or_space("mobilenet_v9")
    message = str(info.value)
    assert message.startswith("'mobilenet_v9' is neither a registered name nor a file")
    assert all(name in message for name in NETS.names() + SPACES.names())


def test_bad_resolution_and_space_as_net():
    with pytest.raises(SpecError, match="^resolution: expected a positive integer"):
        load_net_or_space("mobilenet_v2", resolution=0)
    with pytest.raises(SpecError, match="is a search space, not a network"):
        load_net("demo")
    assert isinstance(load_net("mobilenet_v2"), NetSpec)


def test_unreadable_json(tmp_path):
    path = tmp_path / "bad.json"
    path.write_text("[1, 2")
    with pytest.raises(SpecError, match=rf"^{path}: not valid JSON"):
        load_net_or_space(str(path))
