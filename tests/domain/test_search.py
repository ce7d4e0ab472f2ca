"""Truth table: what the navigation bar's search box was given."""

from datetime import date

import pytest

from formulary.domain.search import read_query, search_date


@pytest.mark.parametrize("word, expected", [
    ("1984-03-07", date(1984, 3, 7)),       # ISO
    ("07/03/1984", date(1984, 3, 7)),       # the clinic writes day first
    ("7/3/1984", date(1984, 3, 7)),         # without leading zeros
    ("1984-02-30", None),                   # no such day
    ("31/02/1984", None),
    ("1984", None),                         # a year alone is not a date of birth
    ("Martin", None),
    ("١٩٨٤-٠٣-٠٧", None),                   # other digits are not read as a date
])
def test_search_date(word, expected):
    assert search_date(word) == expected


@pytest.mark.parametrize("raw, kind, detail", [
    # a batch number, as printed and as a batch label's QR code holds it
    ("B-20261122-0007", "batch", "B-20261122-0007"),
    ("  b-20261122-0007 ", "batch", "B-20261122-0007"),  # typed in lower case
    ("B-20261122-00007", "words", None),                 # not a number the app writes
    # a vial's GS1 string with a lot: human-readable, raw with GS, scanner's {GS}
    ("(01)09506000134352(17)271231(10)ABC123", "vial", ("09506000134352", "ABC123")),
    ("0109506000134352172712311" + "0ABC123", "vial", ("09506000134352", "ABC123")),
    ("]d20109506000134352" + "10ABC123{GS}17271231", "vial", ("09506000134352", "ABC123")),
    # a bare GTIN has no lot: searched as words (it may as well be an MRN)
    ("09506000134352", "words", None),
    ("(01)09506000134352", "words", None),               # a GTIN alone, no lot
    ("(01)09506000134353(10)ABC", "words", None),        # bad check digit: words
    ("Martin", "words", None),
    ("", "words", None),
])
def test_read_query(raw, kind, detail):
    query = read_query(raw)
    assert query.kind == kind
    if kind == "batch":
        assert query.batch_number == detail
    if kind == "vial":
        assert (query.vial.gtin, query.vial.lot) == detail


def test_read_query_cuts_long_text():
    assert len(read_query("x" * 5000).text) == 200
