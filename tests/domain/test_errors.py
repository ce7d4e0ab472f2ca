import pytest

from formulary.domain.errors import ValidationError, refuse_unknown_fields


def test_known_fields_pass():
    refuse_unknown_fields({"a": 1, "b": 2}, ("a", "b", "c"))   # a subset is fine


def test_unknown_fields_are_named_each_on_its_field():
    with pytest.raises(ValidationError) as exc:
        refuse_unknown_fields({"a": 1, "zz": 2, "colour": 3}, ("a",), prefix="components.0.")
    assert exc.value.message == "Unknown field(s): colour, zz."
    assert exc.value.fields == {"components.0.colour": ["Unknown field."],
                                "components.0.zz": ["Unknown field."]}
