import pytest

from tfnas.errors import FieldError
from tfnas.io.fields import Fields, within


def test_get_checks_types_and_defaults():
    fields = Fields({"a": 1, "b": 2.5, "c": None, "d": True}, "top")
    assert fields.get("a", int) == 1
    assert fields.get("a", float) == 1.0 and isinstance(fields.get("a", float), float)
    assert fields.get("b", float) == 2.5
    assert fields.get("c", int, nullable=True) is None
    assert fields.get("d", bool) is True
    assert fields.get("missing", int, default=7) == 7
    fields.done()
    with pytest.raises(FieldError, match=r"^top.d: expected an integer, got True"):
        fields.get("d", int)
    with pytest.raises(FieldError, match=r"^top.b: expected an integer"):
        fields.get("b", int)


def test_expect_and_unknown_fields():
    fields = Fields({"name": "ConvLayer", "bias": 0, "typo": 1}, "conv")
    fields.expect("name", "ConvLayer")
    with pytest.raises(FieldError, match=r"^conv.bias: only False is supported, got 0"):
        fields.expect("bias", False)
    with pytest.raises(FieldError, match=r"^conv: unknown field\(s\) typo"):
        fields.done()


def test_nested_paths():
    fields = Fields({"blocks": [{"x": 1}], "sub": {"y": "s"}})
    ((path, value),) = fields.items("blocks")
    assert path == "blocks[0]"
    with pytest.raises(FieldError, match=r"^blocks\[0\].z: required field is missing"):
        Fields(value, path).get("z", int)
    with pytest.raises(FieldError, match=r"^sub.y: expected an integer"):
        fields.sub("sub").get("y", int)


def test_within_prefixes_errors():
    with pytest.raises(FieldError, match=r"^stem.stride: bad"), within("stem"):
        raise FieldError("bad", "stride")


def test_not_an_object():
    with pytest.raises(FieldError, match=r"^blocks\[2\]: expected an object, got 3"):
        Fields(3, "blocks[2]")
