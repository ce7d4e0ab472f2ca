"""Truth table: when a recall is open, and what a status change does to it (SPEC §12)."""

import pytest

from formulary.domain.recalls import recall_status, status_change


@pytest.mark.parametrize("statuses, expected", [
    ([], "closed"),                                          # reached nobody: nothing to do
    (["to_contact"], "open"),
    (["contacted"], "closed"),
    (["unreachable"], "closed"),                             # tried: dealt with, noted
    (["not_needed"], "closed"),
    (["contacted", "to_contact"], "open"),                   # one left is enough
    (["contacted", "unreachable", "not_needed"], "closed"),
    (["to_contact", "to_contact"], "open"),
])
def test_recall_status(statuses, expected):
    assert recall_status(statuses) == expected


def test_an_unknown_status_is_an_error():
    with pytest.raises(ValueError):
        recall_status(["called"])


@pytest.mark.parametrize("before, after, expected", [
    ("open", "open", None),
    ("closed", "closed", None),
    ("open", "closed", "closed"),       # the last patient dealt with
    ("closed", "open", "reopened"),     # one set back to contact
])
def test_status_change(before, after, expected):
    assert status_change(before, after) == expected
