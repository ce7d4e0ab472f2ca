"""The words a person reads for the codes the database keeps (a category, a movement's
kind, a status): ``plant_extract`` is "Plant extract" in an export. Codes stay codes in
the API and the database; exports and pages show these words. Pure: no Flask."""

from __future__ import annotations

#: Codes whose words are not simply the code with spaces (the rest: ``_`` -> space,
#: first letter capital).
SPECIAL = {
    "in_use_expired": "In-use period over",
    "partly_given": "Partly given",
    "on_hold": "On hold",
    "to_contact": "To contact",
    "not_needed": "Not needed",
    "batch_use": "Used in a batch",
    "count_correction": "Count correction",
    "amino_acid": "Amino acid",
    "hyaluronic_acid": "Hyaluronic acid",
    "plant_extract": "Plant extract",
    "anesthetic": "Anaesthetic",
    "point_by_point": "Point by point",
    "allergic_reaction": "Allergic reaction",
}


def code_words(code: str) -> str:
    """``"plant_extract"`` -> ``"Plant extract"``; an empty code stays empty."""
    if not code:
        return code
    if code in SPECIAL:
        return SPECIAL[code]
    words = code.replace("_", " ")
    return words[:1].upper() + words[1:]
