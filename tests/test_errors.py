import pytest

from tfnas.errors import SpecError, UnknownNameError, check_positive_int


def test_spec_error_prefixes_field_paths():
    error = SpecError("expected a positive integer, got 0", "stride")
    assert str(error) == "stride: expected a positive integer, got 0"
    assert str(error.within("blocks[3]")) == "blocks[3].stride: expected a positive integer, got 0"
    assert str(SpecError("bad").within("stem")) == "stem: bad"


def test_unknown_name_error_reads_as_a_sentence():
    assert str(UnknownNameError("unknown network 'x'")) == "unknown network 'x'"


@pytest.mark.parametrize("value", [0, -1, 1.0, True, "3", None])
def test_check_positive_int_rejects(value):
    with pytest.raises(SpecError, match="^width: expected a positive integer"):
        check_positive_int("width", value)


def test_check_positive_int_accepts():
    check_positive_int("width", 7)
