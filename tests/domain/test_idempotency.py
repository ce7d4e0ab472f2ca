"""Truth table: is a request sent again with an idempotency key the one the key was first
used for? (SPEC §7; ``formulary.domain.idempotency``)"""

import pytest

from formulary.domain.idempotency import Preparation, differences

#: The batch made the first time: 2 doses of cocktail 1 for patient 7, screen blocked,
#: override reason kept.
MADE = Preparation(cocktail_id=1, doses=2, patient_id=7, override_reason="Cleared by GP")
#: The same, for no patient and with no override (none needed, none kept).
PLAIN = Preparation(cocktail_id=1, doses=2, patient_id=None, override_reason=None)


@pytest.mark.parametrize("made, asked, expected", [
    # the very same request: replayed
    (MADE, Preparation(1, 2, 7, "Cleared by GP"), ()),
    (PLAIN, Preparation(1, 2, None, None), ()),
    # another cocktail, other doses, another patient, no patient: refused
    (MADE, Preparation(2, 2, 7, "Cleared by GP"), ("cocktail",)),
    (MADE, Preparation(1, 3, 7, "Cleared by GP"), ("doses",)),
    (MADE, Preparation(1, 2, 8, "Cleared by GP"), ("patient",)),
    (MADE, Preparation(1, 2, None, "Cleared by GP"), ("patient",)),
    (PLAIN, Preparation(1, 2, 8, None), ("patient",)),
    # a kept override reason: another one, or none, is another request
    (MADE, Preparation(1, 2, 7, "Cleared by GP, twice"), ("override reason",)),
    (MADE, Preparation(1, 2, 7, None), ("override reason",)),
    # no reason kept (the screen did not block): a reason was not needed and changes nothing
    (PLAIN, Preparation(1, 2, None, "just in case"), ()),
    # every difference is named, in order
    (MADE, Preparation(2, 5, None, None), ("cocktail", "doses", "patient", "override reason")),
])
def test_differences(made, asked, expected):
    assert differences(made, asked) == expected
