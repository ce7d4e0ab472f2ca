"""The plain values the safety screen works on, and the vocabulary of §6 (conditions,
severities, statuses, levels, kinds)."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from types import MappingProxyType

from formulary.domain.allergen_text import _clean, group_key

CONDITIONS = (
    "pregnant", "breastfeeding", "anticoagulant_therapy", "bleeding_disorder",
    "active_skin_infection", "diabetes", "autoimmune_disease", "cancer",
)
BLOCKING_CONDITIONS = frozenset({
    "pregnant", "breastfeeding", "anticoagulant_therapy", "bleeding_disorder",
    "active_skin_infection",
})
WARNING_CONDITIONS = frozenset({"diabetes", "autoimmune_disease", "cancer"})

# The condition as a noun, for sentences: "Pregnancy: ...", "... contraindicated in
# pregnancy."
CONDITION_LABELS: Mapping[str, str] = MappingProxyType({
    "pregnant": "pregnancy",
    "breastfeeding": "breastfeeding",
    "anticoagulant_therapy": "anticoagulant therapy",
    "bleeding_disorder": "bleeding disorder",
    "active_skin_infection": "active skin infection",
    "diabetes": "diabetes",
    "autoimmune_disease": "autoimmune disease",
    "cancer": "cancer",
})

SEVERITIES = ("mild", "moderate", "severe", "anaphylaxis")
ALLERGY_STATUSES = ("active", "inactive", "refuted")
ALLERGY_ASSESSMENTS = ("unknown", "none_known", "known")

LEVELS = ("block", "warn")
VERDICTS = ("safe", "caution", "blocked")
# Also the order of kinds within one level and ingredient.
KINDS = (
    "contraindication", "allergies_not_assessed", "allergy", "allergen_group",
    "uncoded_allergy", "cross_reactivity",
)

assert BLOCKING_CONDITIONS | WARNING_CONDITIONS == frozenset(CONDITIONS)
assert not BLOCKING_CONDITIONS & WARNING_CONDITIONS
assert set(CONDITION_LABELS) == set(CONDITIONS)


# --------------------------------------------------------------------------- values

def _frozen_names(value, what: str) -> frozenset[str]:
    if isinstance(value, str):
        raise ValueError(f"{what} must be a collection of names, not one string")
    names = frozenset(value)
    for name in names:
        if not isinstance(name, str) or not _clean(name):
            raise ValueError(f"{what} must be non-empty strings, got {name!r}")
    return names


def _known(value, allowed: Sequence[str], what: str) -> None:
    if value not in allowed:
        raise ValueError(f"unknown {what} {value!r}; known: {', '.join(allowed)}")


@dataclass(frozen=True)
class ScreenIngredient:
    """One ingredient of the cocktail: its allergen groups (the substance's class and
    its excipients) and the conditions it is contraindicated in beyond the general
    ones. Any iterable of names is accepted and stored as a frozenset."""

    id: int
    name: str
    groups: frozenset[str] = frozenset()
    contraindications: frozenset[str] = frozenset()

    def __post_init__(self):
        if not isinstance(self.id, int) or isinstance(self.id, bool):
            raise ValueError(f"an ingredient's id must be an int, got {self.id!r}")
        if not isinstance(self.name, str) or not _clean(self.name):
            raise ValueError("an ingredient needs a name")
        object.__setattr__(self, "groups", _frozen_names(self.groups, "groups"))
        contra = _frozen_names(self.contraindications, "contraindications")
        for condition in contra:
            _known(condition, CONDITIONS, "condition")
        object.__setattr__(self, "contraindications", contra)


@dataclass(frozen=True)
class ScreenAllergy:
    """One recorded allergy. Exactly one target: an ingredient (``ingredient_id``, with
    that ingredient's name and groups, which the screen uses when the ingredient is not
    in the cocktail), an allergen ``group``, or a free-text ``substance``."""

    id: int | None
    status: str
    severity: str
    reaction: str | None
    ingredient_id: int | None = None
    ingredient_name: str | None = None
    ingredient_groups: frozenset[str] = frozenset()
    group: str | None = None
    substance: str | None = None
    #: For a free-text allergy: the names of the formulary's ingredients and allergen
    #: groups the text names (``free_text_names``), found by the caller, who knows the
    #: formulary. Non-empty, the text is as good as coded: it blocks the cocktails holding
    #: one of them and says nothing of the others; empty, it asks for review by hand.
    names_known: tuple[str, ...] = ()

    def __post_init__(self):
        _known(self.status, ALLERGY_STATUSES, "allergy status")
        if self.names_known and self.substance is None:
            raise ValueError("names_known belong to a free-text allergy")
        object.__setattr__(self, "names_known", tuple(self.names_known))
        _known(self.severity, SEVERITIES, "severity")
        if self.ingredient_id is not None and (not isinstance(self.ingredient_id, int)
                                               or isinstance(self.ingredient_id, bool)):
            raise ValueError(f"an allergy's ingredient_id must be an int, "
                             f"got {self.ingredient_id!r}")
        for attr in ("group", "substance"):
            value = getattr(self, attr)
            if value is not None and (not isinstance(value, str) or not _clean(value)):
                raise ValueError(f"an allergy's {attr} must be a non-empty string or None")
        targets = [t for t in (self.ingredient_id, self.group, self.substance) if t is not None]
        if len(targets) != 1:
            raise ValueError("an allergy names exactly one of ingredient_id, group, substance")
        groups = _frozen_names(self.ingredient_groups, "ingredient_groups")
        if groups and self.ingredient_id is None:
            raise ValueError("ingredient_groups belong to an allergy to an ingredient")
        object.__setattr__(self, "ingredient_groups", groups)
        if self.reaction is not None:
            object.__setattr__(self, "reaction", _clean(self.reaction) or None)

    @property
    def is_active(self) -> bool:
        return self.status == "active"


@dataclass(frozen=True)
class ScreenPatient:
    allergy_status: str
    allergies: tuple[ScreenAllergy, ...] = ()
    conditions: frozenset[str] = frozenset()

    def __post_init__(self):
        _known(self.allergy_status, ALLERGY_ASSESSMENTS, "allergy status")
        object.__setattr__(self, "allergies", tuple(self.allergies))
        for allergy in self.allergies:
            if not isinstance(allergy, ScreenAllergy):
                raise ValueError(f"not a ScreenAllergy: {allergy!r}")
        conditions = _frozen_names(self.conditions, "conditions")
        for condition in conditions:
            _known(condition, CONDITIONS, "condition")
        object.__setattr__(self, "conditions", conditions)


@dataclass(frozen=True)
class Finding:
    """One reason behind a verdict. ``ingredient_id`` is None for a finding about the
    patient as a whole; ``allergy_id`` names the allergy it comes from, if any."""

    level: str
    kind: str
    ingredient_id: int | None
    message: str
    allergy_id: int | None = None

    def __post_init__(self):
        _known(self.level, LEVELS, "finding level")
        _known(self.kind, KINDS, "finding kind")


def verdict_of(findings: Iterable[Finding]) -> str:
    """``blocked`` if any finding blocks, ``caution`` if any warns, else ``safe``."""
    levels = {f.level for f in findings}
    if "block" in levels:
        return "blocked"
    if "warn" in levels:
        return "caution"
    return "safe"


@dataclass(frozen=True)
class ScreenResult:
    verdict: str
    findings: tuple[Finding, ...] = ()

    def __post_init__(self):
        object.__setattr__(self, "findings", tuple(self.findings))
        _known(self.verdict, VERDICTS, "verdict")
        if self.verdict != verdict_of(self.findings):
            raise ValueError(f"verdict {self.verdict!r} does not follow from the findings")

    @property
    def blocks(self) -> tuple[Finding, ...]:
        return tuple(f for f in self.findings if f.level == "block")

    @property
    def warnings(self) -> tuple[Finding, ...]:
        return tuple(f for f in self.findings if f.level == "warn")


class CrossReactivity:
    """The allergen groups that cross-react, from pairs of group names.

    Symmetric (``reacts(a, b) == reacts(b, a)``), not transitive, and names compare as
    :func:`group_key` does. A group does not "cross-react" with itself: that is the same
    group, which blocks. A pair of a group with itself is refused (ValueError).
    """

    __slots__ = ("_partners",)

    def __init__(self, pairs: Iterable[tuple[str, str]] = ()):
        partners: dict[str, set[str]] = {}
        for pair in pairs:
            a, b = pair
            ka, kb = group_key(a), group_key(b)
            if not ka or not kb:
                raise ValueError("a cross-reacting pair needs two group names")
            if ka == kb:
                raise ValueError(f"a group cannot cross-react with itself: {a!r}")
            partners.setdefault(ka, set()).add(kb)
            partners.setdefault(kb, set()).add(ka)
        self._partners = {k: frozenset(v) for k, v in partners.items()}

    def reacts(self, a: str, b: str) -> bool:
        return group_key(b) in self._partners.get(group_key(a), frozenset())

    def partners(self, group: str) -> frozenset[str]:
        """The keys (see :func:`group_key`) of the groups that cross-react with ``group``."""
        return self._partners.get(group_key(group), frozenset())

    def __len__(self) -> int:
        """The number of pairs."""
        return sum(len(v) for v in self._partners.values()) // 2

    def __eq__(self, other) -> bool:
        return isinstance(other, CrossReactivity) and self._partners == other._partners

    __hash__ = None  # type: ignore[assignment]

    def __repr__(self) -> str:
        pairs = sorted({tuple(sorted((a, b))) for a, bs in self._partners.items() for b in bs})
        return f"CrossReactivity({pairs!r})"


