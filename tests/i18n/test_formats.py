"""Numbers and dates read and printed in the reader's locale (formulary/i18n.py)."""

from __future__ import annotations

from contextlib import contextmanager
from datetime import date, datetime, timezone
from decimal import Decimal

import pytest

from formulary import i18n


@contextmanager
def _in(app, lang):
    from flask_babel import refresh

    with app.test_request_context("/", headers={"Accept-Language": lang}):
        refresh()  # the test holds one app context: the locale is this request's
        yield


@pytest.mark.parametrize("text, expected", [
    ("12,5", "12.5"), ("2", "2"), (" 0,25 ", "0.25"), ("-2", "-2"), ("-0,5", "-0.5"),
    ("1 234,5", "1234.5"), ("1\u202f234,5", "1234.5"), ("1\u00a0234", "1234"),
    ("12 345 678,25", "12345678.25"), ("", ""),
])
def test_french_numbers_read(app, text, expected):
    with _in(app, "fr"):
        assert i18n.parse_decimal_text(text) == (expected, None)


@pytest.mark.parametrize("text, word", [
    ("1.234,5", "Séparateurs mélangés"),    # a point and a comma
    ("1,234.5", "Séparateurs mélangés"),    # the English form in French
    ("12.5", "virgule"),                    # a lone point: a thousand or twelve and a half?
    ("1,2,3", "une virgule"),
    ("12 34,5", "milliers"),                # spaces not between thousands
    ("1 2345", "milliers"),
])
def test_french_ambiguous_numbers_refused(app, text, word):
    with _in(app, "fr"):
        value, message = i18n.parse_decimal_text(text)
    assert value is None and word in message


@pytest.mark.parametrize("text, expected, problem", [
    ("12.5", "12.5", False), ("2", "2", False), ("12,5", None, True), ("1,234.5", None, True),
])
def test_english_numbers(app, text, expected, problem):
    with _in(app, "en"):
        value, message = i18n.parse_decimal_text(text)
    assert value == expected and bool(message) is problem


@pytest.mark.parametrize("lang, text, expected", [
    ("fr", "31/01/2027", "2027-01-31"), ("fr", "1/2/2027", "2027-02-01"),
    ("fr", "2027-01-31", "2027-01-31"), ("en", "2027-01-31", "2027-01-31"), ("fr", "", ""),
])
def test_dates_read(app, lang, text, expected):
    with _in(app, lang):
        assert i18n.parse_date_text(text) == (expected, None)


@pytest.mark.parametrize("lang, text", [
    ("fr", "31/02/2027"),   # no such day
    ("fr", "01/31/2027"),   # the American order: month 31
    ("fr", "31/01/27"),     # a two-digit year is never guessed
    ("fr", "31.01.2027"),
    ("en", "31/01/2027"),   # English pages take ISO only
    ("en", "01/31/2027"),
])
def test_dates_refused(app, lang, text):
    with _in(app, lang):
        value, message = i18n.parse_date_text(text)
    assert value is None and message


def test_formats_by_locale(app):
    app.config["MONEY_CURRENCY"] = "EUR"
    moment = datetime(2027, 1, 31, 9, 5, tzinfo=timezone.utc)  # 10:05 in Paris
    with _in(app, "fr"):
        assert i18n.format_qty_l(Decimal("1234.5")) == "1\u202f234,5"
        assert i18n.format_qty_l(Decimal("0.0001")) == "0,0001"
        assert i18n.format_qty_l(Decimal("12")) == "12"
        assert i18n.format_date_l(date(2027, 1, 31)) == "31/01/2027"
        assert i18n.format_datetime_l(moment) == "31/01/2027 10:05"
        assert i18n.format_money_l(Decimal("1234.5")) == "1\u202f234,50\u00a0€"
        assert i18n.format_money_l(Decimal("1.2345")) == "1,2345\u00a0€"  # never rounded away
    with _in(app, "en"):
        assert i18n.format_qty_l(Decimal("1234.5")) == "1234.5"   # as English pages always had it
        assert i18n.format_date_l(date(2027, 1, 31)) == "2027-01-31"
        assert i18n.format_datetime_l(moment) == "2027-01-31 10:05"
        assert i18n.format_money_l(Decimal("1234.5")) == "€1,234.50"


def _values():
    """Quantities of every shape a page shows: whole, fractions, big, tiny, negative, zero,
    more places than are shown (rounded half up first), and a fixed random spread."""
    import random

    rnd = random.Random(17)
    fixed = ["0", "-0", "0.00001", "-0.00004", "-0.00005", "1", "12", "999", "1000", "-1000",
             "1234.5", "-1234.5", "12345.6789", "123456", "1234567.25", "999999999.999999",
             "0.5", "2.50", "0.0001", "0.00005", "100000", "-987654.3210"]
    spread = [str(Decimal(rnd.randint(-10**12, 10**12)).scaleb(-rnd.randint(0, 7)))
              for _ in range(300)]
    return [Decimal(v) for v in fixed + spread]


@pytest.mark.parametrize("lang", ["fr", "en"])
def test_quantities_are_written_as_babel_writes_them(app, lang):
    """``format_qty_l`` writes from the locale's symbols worked out once; what it writes is
    Babel's ``format_decimal`` of the rounded quantity with the pattern ``#,##0.0…`` (French;
    English keeps the rounded text as it always printed it)."""
    from babel.numbers import format_decimal

    from formulary.domain.units import format_quantity

    with _in(app, lang):
        locale = i18n._babel_locale()
        for places in (4, 2, 0):
            for value in _values():
                text = format_quantity(value, places)
                if lang == "en":
                    expected = text
                else:
                    number = Decimal(text)
                    shown = max(0, -number.as_tuple().exponent) if "." in text else 0
                    expected = format_decimal(number, format="#,##0" + ("." + "0" * shown if shown else ""),
                                              locale=locale)
                assert i18n.format_qty_l(value, places) == expected, (value, places)


@pytest.mark.parametrize("lang", ["fr", "en"])
def test_dates_are_written_as_babel_writes_them(app, lang):
    """Dates and times written from their numeric fields are Babel's ``format_date`` and
    ``format_datetime`` with the locale's pattern, on any day of the year and at any minute."""
    from datetime import timedelta

    from babel.dates import format_date, format_datetime

    from formulary import clock

    start = datetime(2026, 1, 1, 0, 0, tzinfo=timezone.utc)
    with _in(app, lang):
        locale = i18n._babel_locale()
        day_pattern, time_pattern = i18n.DATE_PATTERNS[lang]
        for step in range(0, 366 * 24 * 60, 577):   # every day, minutes spread over the hours
            moment = start + timedelta(minutes=step)
            local = clock.local(moment)
            assert i18n.format_date_l(local.date()) == format_date(local.date(), day_pattern,
                                                                   locale=locale)
            assert i18n.format_datetime_l(moment) == format_datetime(
                local.replace(tzinfo=None), time_pattern, locale=locale)
        assert i18n.format_date_l(date(9, 3, 4)) == format_date(date(9, 3, 4), day_pattern,
                                                                locale=locale)


@pytest.mark.parametrize("pattern, written", [
    ("dd/MM/yyyy", True), ("yyyy-MM-dd HH:mm", True),
    ("dd MMM", False),        # a month's name: the locale's words, Babel's to write
    ("d/M/yyyy", False),      # unpadded fields: left to Babel
    ("HH'h'mm", False),       # a quoted literal
])
def test_only_numeric_date_patterns_are_written_without_babel(pattern, written):
    from babel import Locale

    assert (i18n._date_writer(Locale("fr"), pattern) is not None) is written


def test_words_agree_with_the_noun_they_describe(i18n_app):
    """An allergy and a course are feminine in French; a cocktail's badge is masculine. The
    same code gives each its own word (a context in the catalog), and English is unchanged."""
    from formulary.display import code_word

    with _in(i18n_app, "fr"):
        assert [code_word(s, of="allergy") for s in ("active", "inactive", "refuted")] == [
            "active", "inactive", "infirmée"]
        assert code_word("active", of="course") == "active"
        assert code_word("completed", of="course") == "terminée"  # no context: the plain word
        assert code_word("active") == "actif"
        assert code_word("inactive") == "inactif"
    with _in(i18n_app, "en"):
        assert [code_word(s, of="allergy") for s in ("active", "inactive", "refuted")] == [
            "active", "inactive", "refuted"]
        assert code_word("active", of="course") == code_word("active") == "active"
