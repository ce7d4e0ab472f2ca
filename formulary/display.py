"""Small pieces of HTML shared by the templates and the tables written in Python."""

from __future__ import annotations

from markupsafe import Markup, escape

from formulary.i18n import _l, _lp

#: Bootstrap's colour of the badge of each status (lots, cocktails, batches, verdicts).
STATUS_COLOURS = {
    "available": "success", "quarantined": "warning", "recalled": "danger",
    "expired": "secondary", "in_use_expired": "secondary", "empty": "light", "draft": "secondary",
    "active": "success", "retired": "dark", "superseded": "light", "prepared": "info",
    "verified": "success", "discarded": "dark", "safe": "success", "caution": "warning",
    "blocked": "danger", "on_hold": "danger", "partly_given": "primary", "given": "secondary",
    "open": "warning", "closed": "secondary", "to_contact": "warning", "contacted": "success",
    "unreachable": "danger", "not_needed": "secondary",
}


#: The word a badge shows, in the reader's language (the code stays in data-status).
STATUS_WORDS = {
    "available": _l("available"),
    "quarantined": _l("quarantined"),
    "recalled": _l("recalled"),
    "expired": _l("expired"),
    "in_use_expired": _l("in use expired"),
    "empty": _l("empty"),
    "draft": _l("draft"),
    "active": _l("active"),
    "retired": _l("retired"),
    "superseded": _l("superseded"),
    "prepared": _l("prepared"),
    "verified": _l("verified"),
    "discarded": _l("discarded"),
    "safe": _l("safe"),
    "caution": _l("caution"),
    "blocked": _l("blocked"),
    "on_hold": _l("on hold"),
    "partly_given": _l("partly given"),
    "given": _l("given"),
    "open": _l("open"),
    "closed": _l("closed"),
    "to_contact": _l("to contact"),
    "contacted": _l("contacted"),
    "unreachable": _l("unreachable"),
    "not_needed": _l("not needed"),
}


#: The words of the clinic's codes (categories, storages, reasons, conditions, areas,
#: severities) as a page shows them, in the reader's language; the code itself is what
#: forms send and the API speaks.
CODE_WORDS = {
    "vitamin": _l("vitamin"),
    "mineral": _l("mineral"),
    "amino_acid": _l("amino acid"),
    "drug": _l("drug"),
    "anesthetic": _l("anesthetic"),
    "hyaluronic_acid": _l("hyaluronic acid"),
    "peptide": _l("peptide"),
    "enzyme": _l("enzyme"),
    "plant_extract": _l("plant extract"),
    "diluent": _l("diluent"),
    "other": _l("other"),
    "room": _l("room temperature"),
    "fridge": _l("fridge"),
    "each": _l("each"),
    "waste": _l("waste"),
    "breakage": _l("breakage"),
    "count_correction": _l("count correction"),
    "return": _l("return"),
    "pregnant": _l("pregnancy"),
    "breastfeeding": _l("breastfeeding"),
    "anticoagulant_therapy": _l("anticoagulant therapy"),
    "bleeding_disorder": _l("bleeding disorder"),
    "active_skin_infection": _l("active skin infection"),
    "diabetes": _l("diabetes"),
    "autoimmune_disease": _l("autoimmune disease"),
    "cancer": _l("cancer"),
    "scalp": _l("scalp"),
    "face": _l("face"),
    "neck": _l("neck"),
    "body": _l("body"),
    "hands": _l("hands"),
    "mild": _l("mild"),
    "moderate": _l("moderate"),
    "severe": _l("severe"),
    "anaphylaxis": _l("anaphylaxis"),
    # allergies' statuses (active is above)
    "inactive": _l("inactive"),
    "refuted": _l("refuted"),
    # courses: their statuses, sessions' states, techniques, adverse events' kinds
    "planned": _l("planned"),
    "completed": _l("completed"),
    "stopped": _l("stopped"),
    "overdue": _l("overdue"),
    "missed": _l("missed"),
    "cancelled": _l("cancelled"),
    "nappage": _l("nappage"),
    "papules": _l("papules"),
    "point_by_point": _l("point by point"),
    "bruising": _l("bruising"),
    "swelling": _l("swelling"),
    "erythema": _l("erythema"),
    "pain": _l("pain"),
    "nodule": _l("nodule"),
    "infection": _l("infection"),
    "allergic_reaction": _l("allergic reaction"),
    "necrosis": _l("necrosis"),
    # background jobs
    "queued": _l("queued"),
    "running": _l("running"),
    "done": _l("done"),
    "failed": _l("failed"),
}


#: The words that agree with the noun they describe where the language has genders: an
#: allergy and a course are feminine in French (une allergie active, infirmée; une cure
#: active) where the badges of cocktails and lots are masculine (un cocktail actif). Keyed by
#: the noun (``code_word(a.status, of="allergy")``), which is also the catalog's context.
NOUN_WORDS = {
    "allergy": {"active": _lp("allergy", "active"), "inactive": _lp("allergy", "inactive"),
                "refuted": _lp("allergy", "refuted")},
    "course": {"active": _lp("course", "active")},
}


def code_word(code, fallback=None, of: str | None = None) -> str:
    """The word for a code, in the reader's language (else ``fallback``, else the code with
    spaces); ``of`` names the noun it describes where the word agrees with it
    (``NOUN_WORDS``)."""
    code = "" if code is None else str(code)
    word = NOUN_WORDS[of].get(code) if of is not None else None
    word = word or CODE_WORDS.get(code) or STATUS_WORDS.get(code)
    if word is not None:
        return str(word)
    return str(fallback) if fallback is not None else code.replace("_", " ")


def status_badge(status: str) -> Markup:
    """``<span class="badge ..." data-status="...">...</span>`` for a status."""
    status = str(status)
    word = STATUS_WORDS.get(status)
    return Markup('<span class="badge text-bg-{}" data-status="{}">{}</span>'.format(
        STATUS_COLOURS.get(status, "secondary"), escape(status),
        escape(str(word) if word is not None else status.replace("_", " "))))
