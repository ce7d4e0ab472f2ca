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
