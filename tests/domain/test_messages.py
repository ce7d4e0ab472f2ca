"""A Message is its English text, with the template and values it was made of (SPEC §13):
the English form of each kind of value, the joins, and that it behaves as the string it is."""

from __future__ import annotations

import pickle
from datetime import date, datetime, timezone
from decimal import Decimal

import pytest

from formulary.domain.messages import Code, Message, code, english, join_and, join_semicolons, msg


@pytest.mark.parametrize("value, text", [
    ("Lidocaine 2%", "Lidocaine 2%"),            # text as it is, a % inside kept
    (3, "3"),
    (Decimal("2.50"), "2.5"),                    # exact, no trailing zeros
    (Decimal("1E+3"), "1000"),                   # never an exponent
    (Decimal("0.000001"), "0.000001"),
    (Decimal("-0"), "0"),
    (date(2027, 1, 31), "2027-01-31"),           # ISO
    (datetime(2027, 1, 31, 9, 30, tzinfo=timezone.utc), "2027-01-31T09:30:00+00:00"),
    (code("on_hold"), "on_hold"),                # a code as it is
    (msg("a severe reaction"), "a severe reaction"),
    ((msg("One."), "Two."), "One. Two."),        # sentences one after the other
    (True, "True"),
])
def test_the_english_form_of_each_value(value, text):
    assert english(value) == text


def test_a_message_is_its_english_text_and_keeps_its_template():
    made = msg("Batch %(number)s has %(left)s dose(s) left; %(doses)s were asked.",
               number="B-20270131-0001", left=2, doses=3)
    assert made == "Batch B-20270131-0001 has 2 dose(s) left; 3 were asked."
    assert isinstance(made, str) and isinstance(made, Message)
    assert made.template == "Batch %(number)s has %(left)s dose(s) left; %(doses)s were asked."
    assert made.params == {"number": "B-20270131-0001", "left": 2, "doses": 3}
    # equal to, and hashed as, its text: sets, dict keys and sorting are unchanged
    assert hash(made) == hash(str(made)) and {made: 1}[str(made)] == 1
    # a message without values is its template (a % in it stays as typed)
    assert msg("Every dose has been given.") == "Every dose has been given."


def test_a_message_survives_pickling_with_its_template():
    made = msg("%(reaction)s (%(details)s)", reaction=msg("a severe reaction"), details="urticaria")
    again = pickle.loads(pickle.dumps(made))
    assert again == made and again.template == made.template
    assert isinstance(again.params["reaction"], Message)


@pytest.mark.parametrize("items, text", [
    ([], ""),
    (["a"], "a"),
    (["a", "b"], "a and b"),
    (["a", "b", "c"], "a, b and c"),
])
def test_join_and(items, text):
    assert join_and(items) == text


@pytest.mark.parametrize("items, text", [
    ([], ""),
    ([msg("lot %(lot)s is %(status)s", lot="L1", status=code("recalled"))], "lot L1 is recalled"),
    (["a", "b", "c"], "a; b; c"),
])
def test_join_semicolons(items, text):
    assert join_semicolons(items) == text


def test_code_is_a_plain_string_subclass():
    assert isinstance(code("given"), Code) and code("given") == "given"


@pytest.mark.parametrize("reason, text", [
    ("Must be positive.", "Quantity: must be positive."),          # plain text lowered
    (msg("Must be at most %(max)s.", max=5), "Quantity: must be at most 5."),  # a Message
    ("", "Quantity: "),                                            # nothing to lower
    ("2,5 is refused.", "Quantity: 2,5 is refused."),              # no letter first: as is
])
def test_a_reason_after_a_label_starts_in_lower_case(reason, text):
    from formulary.domain.messages import LowerFirst, lower_first

    made = msg("%(label)s: %(reason)s", label=msg("Quantity"), reason=lower_first(reason))
    assert made == text
    assert isinstance(made.params["reason"], LowerFirst) and made.params["reason"].value == reason
