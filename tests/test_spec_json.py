import json

import pytest

from tfnas.errors import SpecError
from tfnas.nets import spec_json
from tfnas.nets.registry import NETS, SPACES
from tfnas.nets.spec import NetSpec, SearchSpace

ALL_SPECS = [NETS.get(n) for n in NETS.names()] + [SPACES.get(n) for n in SPACES.names()]


@pytest.mark.parametrize("spec", ALL_SPECS, ids=lambda s: s.name)
def test_round_trip_is_exact(spec, tmp_path):
    assert spec_json.loads(spec_json.dumps(spec)) == spec
    path = spec_json.save_spec(spec, tmp_path / "spec.json")
    assert spec_json.load_spec(path) == spec
    # Text is stable too: writing what was read gives the same bytes.
    assert spec_json.dumps(spec_json.load_spec(path)) == path.read_text()


def test_kinds_and_version_are_recorded():
    net = json.loads(spec_json.dumps(NETS.get("proxyless_mobile")))
    space = json.loads(spec_json.dumps(SPACES.get("demo")))
    assert (net["format"], space["format"]) == ("tfnas.net", "tfnas.space")
    assert net["schema_version"] == space["schema_version"] == spec_json.SCHEMA_VERSION
    assert isinstance(spec_json.spec_from_dict(net), NetSpec)
    assert isinstance(spec_json.spec_from_dict(space), SearchSpace)
    assert net["blocks"][1]["op"] == "5x5_MBConv3"
    assert space["blocks"][2]["candidates"][-1] == "Zero"


def test_mobilenet_v3_s_head_is_written_and_mobilenet_v2_files_stay_as_they_were():
    v3 = json.loads(spec_json.dumps(NETS.get("mobilenet_v3_small")))
    assert v3["stem"]["activation"] == v3["feature_mix_activation"] == "hswish"
    assert v3["last_point_channels"] == 1024
    assert v3["blocks"][3]["op"] == "5x5_MBConvE96_SE_HS"
    v2 = json.loads(spec_json.dumps(NETS.get("mobilenet_v2")))
    assert "activation" not in v2["stem"]
    assert not {"feature_mix_activation", "last_point_channels"} & set(v2)
    v3["feature_mix_activation"] = "swish"
    with pytest.raises(SpecError, match=r"^feature_mix_activation: expected one of .*'swish'"):
        spec_json.spec_from_dict(v3)
    v3["feature_mix_activation"] = "hswish"
    v3["stem"]["activation"] = "gelu"
    with pytest.raises(SpecError, match=r"^stem.activation: expected one of .*'gelu'"):
        spec_json.spec_from_dict(v3)


def mutated(edit) -> dict:
    data = spec_json.spec_to_dict(SPACES.get("demo"))
    edit(data)
    return data


@pytest.mark.parametrize(
    ("edit", "message"),
    [
        (lambda d: d.update(schema_version=2), "^schema_version: this file has version 2"),
        (lambda d: d.update(format="other"), "^format: expected 'tfnas.net' or 'tfnas.space'"),
        (lambda d: d.pop("resolution"), "^resolution: required field is missing"),
        (lambda d: d.update(resolution="32"), "^resolution: expected an integer, got '32'"),
        (lambda d: d.update(resolution=True), "^resolution: expected an integer, got True"),
        (lambda d: d.update(extra=1), "^unknown field.*extra"),
        (lambda d: d["stem"].update(stride=0), "^stem.stride: expected a positive integer"),
        (lambda d: d["stem"].update(padding=1), "^stem: unknown field.*padding"),
        (lambda d: d["classifier"].update(dropout=2), r"^classifier.dropout: expected a rate"),
        (lambda d: d["blocks"][3].update(stride=3.0), r"^blocks\[3\].stride: expected an integer"),
        (lambda d: d["blocks"][3].update(in_channels=9), r"^blocks\[3\].in_channels: 9 does not"),
        (
            lambda d: d["blocks"][2]["candidates"].__setitem__(1, "3x3_Conv"),
            r"^blocks\[2\].candidates\[1\]: unknown op '3x3_Conv'",
        ),
        (lambda d: d["blocks"][0].update(op="9x9"), r"^blocks\[0\].op: unknown op '9x9'"),
        (lambda d: d["blocks"][0].update(color=1), r"^blocks\[0\]: unknown field.*color"),
        (lambda d: d["blocks"][0].pop("op"), r"^blocks\[0\].op: required field is missing"),
        (lambda d: d.update(blocks={}), "^blocks: expected a list"),
        (lambda d: d["blocks"].__setitem__(0, 5), r"^blocks\[0\]: expected an object"),
    ],
)
def test_errors_name_the_bad_field(edit, message):
    with pytest.raises(SpecError, match=message):
        spec_json.spec_from_dict(mutated(edit))


def test_a_net_file_may_not_hold_choice_blocks():
    data = mutated(lambda d: d.update(format="tfnas.net"))
    with pytest.raises(SpecError, match=r"^blocks\[1\]: a network has one \"op\" per block"):
        spec_json.spec_from_dict(data)


def test_malformed_file_gives_one_line_naming_the_file(tmp_path):
    path = tmp_path / "broken.json"
    path.write_text('{"format": "tfnas.net",\n "schema_version": 1,,}')
    with pytest.raises(SpecError) as info:
        spec_json.load_spec(path)
    message = str(info.value)
    assert message.startswith(f"{path}: not valid JSON (line 2, column")
    assert "\n" not in message


def test_bad_field_in_file_names_file_and_field(tmp_path):
    path = tmp_path / "bad.json"
    path.write_text(json.dumps(mutated(lambda d: d["blocks"][1].update(stride=-1))))
    with pytest.raises(SpecError, match=rf"^{path}: blocks\[1\].stride: expected a positive"):
        spec_json.load_spec(path)


def test_missing_file(tmp_path):
    with pytest.raises(SpecError, match="cannot read the file: No such file"):
        spec_json.load_spec(tmp_path / "absent.json")


def test_save_leaves_no_temporary_files(tmp_path):
    spec_json.save_spec(NETS.get("mobilenet_v2"), tmp_path / "out" / "net.json")
    assert [p.name for p in (tmp_path / "out").iterdir()] == ["net.json"]
