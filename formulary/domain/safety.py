"""The safety screen of a patient against a cocktail (SPEC §6).

A pure function over plain values: the patient's allergies, allergy status and
conditions, the ingredients of one cocktail version (with their allergen groups and
their own contraindications) and the table of allergen groups that cross-react. It
never reads the database; a service loads those rows and calls :func:`screen`.

Rules, by finding kind (``level`` in brackets). Only ``active`` allergies count;
``inactive`` and ``refuted`` ones are ignored.

- ``allergy`` (block): an allergy to an ingredient of the cocktail (same ingredient id).
- ``allergen_group`` (block): an allergy to an allergen group that an ingredient of the
  cocktail belongs to. Also an allergy to an ingredient *not* in the cocktail when an
  ingredient of the cocktail shares one of its groups: the patient reacted to that
  product, and each of its groups (the substance's class, each excipient) is a candidate
  culprit. An allergy to lidocaine 2% preservative-free thus blocks lidocaine 2%
  multi-dose through ``amide local anesthetic``. One finding per allergy and ingredient,
  naming every shared group.
- ``cross_reactivity`` (warn): an allergy to a group (or to an ingredient, through each
  of its groups) that cross-reacts with a group of a cocktail ingredient. Only the
  pairs in :class:`CrossReactivity` count: cross-reaction is symmetric but not
  transitive, and groups that are not paired raise nothing (an ester local anaesthetic
  allergy does not flag lidocaine, an amide). No warning is raised for an ingredient
  group that already blocked that ingredient for the same allergy (and none at all on
  an ingredient the allergy names directly). One finding per allergy, ingredient and
  ingredient group.
- ``uncoded_allergy``: a free-text allergy. It blocks each cocktail ingredient whose
  name, or the name of one of whose groups, the text *names* (see
  :func:`free_text_names`). Otherwise, when the text names an ingredient or group on
  file (``ScreenAllergy.names_known``, found by the caller), it says nothing: "biotin"
  is not a concern for a cocktail without biotin (issue 16); and when it names nothing
  on file it gives exactly one warning, "review by hand", with no ingredient. Free text
  is never used for cross-reactivity: code the allergy for that.
- ``allergies_not_assessed`` (warn): allergy status ``unknown``. Recorded allergies are
  screened whatever the status.
- ``contraindication``: the general contraindications of mesotherapy apply to every
  cocktail, with no ingredient: :data:`BLOCKING_CONDITIONS` block,
  :data:`WARNING_CONDITIONS` warn. An ingredient's own contraindications block, with
  that ingredient, in addition to the general finding; they block even for a condition
  that is only a warning in general, since a pharmacist coded the ingredient as
  contraindicated in it.

Patient-level findings (not-assessed, general contraindications, a free-text allergy
naming nothing) are raised even for a cocktail with no ingredients.

Group names compare case-insensitively with runs of whitespace collapsed (after
Unicode NFKC normalisation); messages show each group as spelled on the ingredient.

Verdict: ``blocked`` if any finding blocks, ``caution`` if any warns, else ``safe``.
Findings are sorted blocks first, then warnings; within a level, findings about the
patient as a whole (no ingredient) first, then by ingredient name, then by kind and
message. Exact duplicates are dropped (e.g. an ingredient listed twice).

For the formulation picker (one patient, every active cocktail of an area), build one
:class:`PatientScreen`: each ingredient is then screened once for the patient, whatever
the number of cocktails holding it. Rank every cocktail by its
:meth:`PatientScreen.verdict`, or by its ingredients' :meth:`PatientScreen.flags` ORed
(no findings built), and :func:`formulation_key`, then call
the screen for the findings of the cocktails shown; or, for a few cocktails, call it
for each and order the results with :func:`rank_formulations`.

Malformed input (an unknown condition, severity or status; an allergy that names no
target or two) is refused with ValueError when the value is built: a screen that
silently skipped a misspelt ``"pregnancy"`` would be worse than no screen.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from operator import itemgetter
from typing import TypeVar

__all__ = [
    "ALLERGY_ASSESSMENTS", "ALLERGY_STATUSES", "BLOCKING_CONDITIONS", "CONDITIONS",
    "CONDITION_LABELS", "KINDS", "LEVELS", "SEVERITIES", "VERDICTS", "WARNING_CONDITIONS",
    "CrossReactivity", "Finding", "PatientScreen", "ScreenAllergy", "ScreenIngredient",
    "ScreenPatient", "ScreenResult", "formulation_key", "free_text_names", "group_key",
    "name_order",
    "rank_formulations",
    "screen", "verdict_of",
]

from formulary.domain.allergen_text import (
    _cache, _clean, _words, free_text_names, group_key,
)
from formulary.domain.messages import join_and, msg
from formulary.domain.screen_values import (
    ALLERGY_ASSESSMENTS, ALLERGY_STATUSES, BLOCKING_CONDITIONS, CONDITIONS,
    CONDITION_LABELS, CrossReactivity, Finding, KINDS, LEVELS, SEVERITIES, ScreenAllergy,
    ScreenIngredient, ScreenPatient, ScreenResult, VERDICTS, WARNING_CONDITIONS,
    verdict_of,
)


# --------------------------------------------------------------------------- sentences
#
# Every sentence is a Message (formulary.domain.messages): its English text, as the tests
# and the API have always read it, with the template and the values it was made of, so
# that a page or the API can say it in the reader's language. The names put in are data
# (ingredients, groups, what a person typed); the words around them are the catalog's.

def _join(items: Sequence[str]) -> str:
    return join_and(items)


_REACTIONS = {
    "mild": msg("a mild reaction"),
    "moderate": msg("a moderate reaction"),
    "severe": msg("a severe reaction"),
    "anaphylaxis": msg("anaphylaxis"),
}
assert set(_REACTIONS) == set(SEVERITIES)

#: The general contraindications, one sentence per condition (its word and the
#: sentence's grammar differ by language).
_GENERAL = {
    "pregnant": msg("Pregnancy: mesotherapy is contraindicated."),
    "breastfeeding": msg("Breastfeeding: mesotherapy is contraindicated."),
    "anticoagulant_therapy": msg("Anticoagulant therapy: mesotherapy is contraindicated."),
    "bleeding_disorder": msg("Bleeding disorder: mesotherapy is contraindicated."),
    "active_skin_infection": msg("Active skin infection: mesotherapy is contraindicated."),
    "diabetes": msg("Diabetes: use mesotherapy with caution."),
    "autoimmune_disease": msg("Autoimmune disease: use mesotherapy with caution."),
    "cancer": msg("Cancer: use mesotherapy with caution."),
}

#: An ingredient's own contraindication, per condition: the template of its sentence.
_INGREDIENT_CONTRA = {
    "pregnant": msg("%(ingredient)s is contraindicated in pregnancy."),
    "breastfeeding": msg("%(ingredient)s is contraindicated in breastfeeding."),
    "anticoagulant_therapy": msg("%(ingredient)s is contraindicated in anticoagulant therapy."),
    "bleeding_disorder": msg("%(ingredient)s is contraindicated in bleeding disorder."),
    "active_skin_infection": msg("%(ingredient)s is contraindicated in active skin infection."),
    "diabetes": msg("%(ingredient)s is contraindicated in diabetes."),
    "autoimmune_disease": msg("%(ingredient)s is contraindicated in autoimmune disease."),
    "cancer": msg("%(ingredient)s is contraindicated in cancer."),
}
assert set(_GENERAL) == set(_INGREDIENT_CONTRA) == set(CONDITIONS)
assert all(_GENERAL[c].startswith(CONDITION_LABELS[c].capitalize() + ": ")
           and _INGREDIENT_CONTRA[c].endswith(f" in {CONDITION_LABELS[c]}.") for c in CONDITIONS)


def _reaction(allergy: ScreenAllergy) -> str:
    """"a severe reaction (urticaria)", "anaphylaxis", "a mild reaction"."""
    said = _REACTIONS[allergy.severity]
    if allergy.reaction and allergy.reaction.casefold() != said.casefold():
        said = msg("%(reaction)s (%(details)s)", reaction=said, details=allergy.reaction)
    return said


def _allergen_product(allergy: ScreenAllergy) -> str:
    if allergy.ingredient_name and _clean(allergy.ingredient_name):
        return _clean(allergy.ingredient_name)
    return msg("ingredient #%(id)s", id=allergy.ingredient_id)


@_cache
def _shown_groups(groups: frozenset[str]) -> tuple[tuple[str, str], ...]:
    """(group key, the name as shown) per distinct group, by key; of two spellings of
    one group, the first in sort order is shown."""
    shown: dict[str, str] = {}
    for name in sorted(groups, key=lambda g: (group_key(g), g)):
        shown.setdefault(group_key(name), _clean(name))
    return tuple(shown.items())


# --------------------------------------------------------------------------- the screen

# A finding with the ingredient it is about (None: the patient as a whole), for sorting.
_Item = tuple[ScreenIngredient | None, Finding]
_Keyed = tuple[tuple, Finding]

_NOT_ASSESSED = Finding("warn", "allergies_not_assessed", None,
                        msg("Allergies have not been assessed: ask the patient before treating."))


def _general_contraindication(condition: str) -> Finding:
    level = "block" if condition in BLOCKING_CONDITIONS else "warn"
    return Finding(level, "contraindication", None, _GENERAL[condition])


class _CodedAllergy:
    """An active allergy to an ingredient or a group, with what every ingredient is
    checked against worked out once."""

    __slots__ = ("allergy", "reaction", "groups", "product", "relevant", "reacting")

    def __init__(self, allergy: ScreenAllergy, cross: CrossReactivity):
        self.allergy = allergy
        self.reaction = _reaction(allergy)
        if allergy.group is not None:
            self.groups = dict(_shown_groups(frozenset({allergy.group})))
            self.product = None  # the group is the allergen: nothing to add after its name
        else:
            self.groups = dict(_shown_groups(allergy.ingredient_groups))
            self.product = _allergen_product(allergy)
        # The group keys an ingredient must hold for this allergy to say anything of it
        # (other than a direct allergy, which goes by ingredient id).
        relevant = set(self.groups)
        for key in self.groups:
            relevant |= cross.partners(key)
        self.relevant = frozenset(relevant)
        # For each group (not the allergy's own) an ingredient may hold, the allergy's
        # groups it cross-reacts with, joined as the warning names them. A group outside
        # ``relevant`` reacts with none: cross-reaction is symmetric, so a group that
        # reacts with one of the allergy's is among that one's partners.
        self.reacting: dict[str, str] = {}
        for key in relevant - set(self.groups):
            partners = cross.partners(key)
            reacting = [a_shown for a_key, a_shown in self.groups.items() if a_key in partners]
            if reacting:
                self.reacting[key] = _join(reacting)

    def findings(self, ing: ScreenIngredient, name: str,
                 groups: tuple[tuple[str, str], ...]) -> list[_Item]:
        """The findings of this allergy about ``ing``, whose name as shown is ``name``
        and whose groups are ``groups`` (:func:`_shown_groups`), with the
        cross-reactivity table it was built with."""
        allergy, reaction = self.allergy, self.reaction
        if allergy.ingredient_id is not None and allergy.ingredient_id == ing.id:
            # Every group of the ingredient is the allergen: no cross warnings on it.
            return [(ing, Finding("block", "allergy", ing.id,
                                  msg("The patient had %(reaction)s to %(ingredient)s.",
                                      reaction=reaction, ingredient=name), allergy.id))]
        relevant = self.relevant
        if not any(key in relevant for key, _ in groups):
            return []
        out: list[_Item] = []
        shared = [shown for key, shown in groups if key in self.groups]
        if shared:
            if allergy.group is not None:
                message = msg("%(ingredient)s contains %(groups)s, to which the patient had "
                              "%(reaction)s.", ingredient=name, groups=_join(shared),
                              reaction=reaction)
            else:
                message = msg("%(ingredient)s contains %(groups)s, as does %(product)s, to which "
                              "the patient had %(reaction)s.", ingredient=name,
                              groups=_join(shared), product=self.product, reaction=reaction)
            out.append((ing, Finding("block", "allergen_group", ing.id, message, allergy.id)))
        for key, shown in groups:
            if key in self.groups:
                continue  # this group already blocked the ingredient for this allergy
            reacting = self.reacting.get(key)
            if reacting:
                if self.product is None:
                    message = msg("%(ingredient)s contains %(group)s, which can cross-react "
                                  "with %(allergen)s, to which the patient had %(reaction)s.",
                                  ingredient=name, group=shown, allergen=reacting,
                                  reaction=reaction)
                else:
                    message = msg("%(ingredient)s contains %(group)s, which can cross-react "
                                  "with %(allergen)s in %(product)s, to which the patient had "
                                  "%(reaction)s.", ingredient=name, group=shown,
                                  allergen=reacting, product=self.product, reaction=reaction)
                out.append((ing, Finding("warn", "cross_reactivity", ing.id, message,
                                         allergy.id)))
        return out


def _free_text_block(allergy: ScreenAllergy, ing: ScreenIngredient) -> Finding | None:
    text, name = _clean(allergy.substance or ""), _clean(ing.name)
    if free_text_names(text, ing.name):
        message = msg("Free-text allergy '%(text)s' names %(ingredient)s, an ingredient of "
                      "this cocktail; the patient had %(reaction)s.", text=text,
                      ingredient=name, reaction=_reaction(allergy))
    else:
        named = [shown for _, shown in _shown_groups(ing.groups) if free_text_names(text, shown)]
        if not named:
            return None
        message = msg("Free-text allergy '%(text)s' names %(groups)s, which %(ingredient)s "
                      "contains; the patient had %(reaction)s.", text=text,
                      groups=_join(named), ingredient=name, reaction=_reaction(allergy))
    return Finding("block", "uncoded_allergy", ing.id, message, allergy.id)


def _free_text_review(allergy: ScreenAllergy) -> Finding:
    return Finding("warn", "uncoded_allergy", None,
                   msg("Free-text allergy '%(text)s' names no ingredient or allergen group on "
                       "file: review by hand. The patient had %(reaction)s.",
                       text=_clean(allergy.substance or ""), reaction=_reaction(allergy)),
                   allergy.id)


def _keyed(item: _Item) -> _Keyed:
    """The finding with its place in the list: blocks, then warnings; the patient as a
    whole, then ingredients by name; then kind, message, allergy."""
    ing, f = item
    name = _clean(ing.name) if ing is not None else ""
    key = (
        LEVELS.index(f.level),
        ing is not None,
        name.casefold(),
        name,
        ing.id if ing is not None else 0,
        KINDS.index(f.kind),
        f.message,
        (f.allergy_id is not None, f.allergy_id if f.allergy_id is not None else 0),
    )
    return key, f


# Per ingredient, what its findings mean for a verdict, as bits of one int: any block,
# any warning, and (from bit 2 on) which free-text allergies, by index, named it.
_BLOCKS, _WARNS, _NAMED_SHIFT = 1, 2, 2
# A finding's level as its sort key begins (see _keyed).
_BLOCK_RANK = LEVELS.index("block")


def _level_bits(items: Iterable[_Item]) -> int:
    bits = 0
    for _, finding in items:
        bits |= _BLOCKS if finding.level == "block" else _WARNS
    return bits


class PatientScreen:
    """One patient's screen, prepared once and applied to many cocktails.

    ``PatientScreen(patient, cross)(ingredients)`` equals ``screen(patient,
    ingredients, cross)``, and ``.verdict(ingredients)`` equals its ``verdict``. The
    formulation picker builds one for the patient: what an ingredient gives is worked
    out once and reused for every cocktail that holds it. It ranks every cocktail with
    :meth:`verdict` (flags per ingredient, no finding built or sorted) and builds the
    findings, with the call, only for the cocktails it shows. Not meant to be shared
    between threads or kept beyond the request: it holds the patient's data as they
    were when it was built, and remembers every ingredient it was given.
    """

    __slots__ = ("patient", "cross", "_conditions", "_general", "_general_bits", "_coded",
                 "_coded_by_id", "_coded_by_group", "_free", "_free_by_word", "_free_reviews",
                 "_all_free", "_by_ingredient", "_by_identity", "_patient_blocks", "_patient_warns",
                 "_parts", "_entries")

    def __init__(self, patient: ScreenPatient, cross: CrossReactivity):
        if not isinstance(patient, ScreenPatient):
            raise TypeError("patient must be a ScreenPatient")
        if not isinstance(cross, CrossReactivity):
            raise TypeError("cross must be a CrossReactivity")
        self.patient, self.cross = patient, cross
        general: list[_Item] = []
        if patient.allergy_status == "unknown":
            general.append((None, _NOT_ASSESSED))
        # The patient's conditions, in the order of CONDITIONS.
        self._conditions = tuple(c for c in CONDITIONS if c in patient.conditions)
        general.extend((None, _general_contraindication(c)) for c in self._conditions)
        active = [a for a in patient.allergies if a.is_active]
        self._coded = tuple(_CodedAllergy(a, cross) for a in active if a.substance is None)
        # Which coded allergies can say anything of an ingredient: those to its id, and
        # those whose groups (or their cross-reacting partners) it holds. The others give
        # no finding (see _CodedAllergy.findings), so they are not asked.
        self._coded_by_id: dict[int, list[int]] = {}
        self._coded_by_group: dict[str, list[int]] = {}
        for index, coded in enumerate(self._coded):
            if coded.allergy.ingredient_id is not None:
                self._coded_by_id.setdefault(coded.allergy.ingredient_id, []).append(index)
            for key in coded.relevant:
                self._coded_by_group.setdefault(key, []).append(index)
        self._free = tuple(a for a in active if a.substance is not None)
        # A free text can name an ingredient (or one of its groups) only if they share a
        # word (see free_text_names): the others are not asked.
        self._free_by_word: dict[str, list[int]] = {}
        for index, allergy in enumerate(self._free):
            for word in set(_words(_clean(allergy.substance or ""))):
                self._free_by_word.setdefault(word, []).append(index)
        self._general = tuple(_keyed(item) for item in general)
        self._general_bits = _level_bits(general)
        # A free text that names something on file (``names_known``) is settled by the
        # ingredients: it blocks those it names and says nothing of a cocktail without
        # them. Only the others ask for review, unless an ingredient of the cocktail is
        # named after all.
        self._free_reviews = tuple(None if a.names_known else _keyed((None, _free_text_review(a)))
                                   for a in self._free)
        # The free-text allergies that ask for review when no ingredient names them.
        self._all_free = sum(1 << i for i, a in enumerate(self._free) if not a.names_known)
        self._by_ingredient: dict[ScreenIngredient, tuple[tuple[_Keyed, ...], int]] = {}
        # The same, by the object's identity (which the object, kept here, holds).
        self._by_identity: dict[int, tuple[ScreenIngredient, tuple[tuple[_Keyed, ...], int]]] = {}
        # The findings about the patient as a whole, in sort order, no duplicate: blocks,
        # and warnings each with the free-text allergies (bits by index) whose review it
        # is: given unless every one of them is named by an ingredient (0: always given).
        patient_items: dict[tuple, list] = {key: [finding, 0] for key, finding in self._general}
        for index, review in enumerate(self._free_reviews):
            if review is not None:
                patient_items.setdefault(review[0], [review[1], 0])[1] |= 1 << index
        in_order = sorted(patient_items.items(), key=itemgetter(0))
        self._patient_blocks = tuple(f for key, (f, _) in in_order if key[0] == _BLOCK_RANK)
        self._patient_warns = tuple((f, reviews) for key, (f, reviews) in in_order
                                    if key[0] != _BLOCK_RANK)
        self._parts: dict[int, tuple] = {}
        self._entries: dict[int, tuple] = {}

    def _of_ingredient(self, ing: ScreenIngredient) -> tuple[tuple[_Keyed, ...], int]:
        """The findings about one ingredient, and their bits: any block, any warning,
        which free-text allergies (by index) named it."""
        known = self._by_identity.get(id(ing))
        if known is not None:
            return known[1]
        if not isinstance(ing, ScreenIngredient):
            raise TypeError(f"not a ScreenIngredient: {ing!r}")
        found = self._by_ingredient.get(ing)
        if found is None:
            found = self._by_ingredient[ing] = self._screen_ingredient(ing)
        self._by_identity[id(ing)] = (ing, found)
        return found

    def _screen_ingredient(self, ing: ScreenIngredient) -> tuple[tuple[_Keyed, ...], int]:
        items: list[_Item] = []
        name, groups = _clean(ing.name), _shown_groups(ing.groups)
        if ing.contraindications:
            for condition in self._conditions:
                if condition in ing.contraindications:
                    items.append((ing, Finding(
                        "block", "contraindication", ing.id,
                        msg(_INGREDIENT_CONTRA[condition].template, ingredient=name))))
        asked = set(self._coded_by_id.get(ing.id, ()))
        coded_by_group = self._coded_by_group
        for key, _ in groups:
            asked.update(coded_by_group.get(key, ()))
        for index in sorted(asked):
            items.extend(self._coded[index].findings(ing, name, groups))
        named = 0
        if self._free:
            words = set(_words(ing.name))
            for _, shown in groups:
                words.update(_words(shown))
            asked = set()
            for word in words:
                asked.update(self._free_by_word.get(word, ()))
            for index in sorted(asked):
                allergy = self._free[index]
                block = _free_text_block(allergy, ing)
                if block is not None:
                    items.append((ing, block))
                    named |= 1 << index
        bits = _level_bits(items) | named << _NAMED_SHIFT
        return tuple([_keyed(item) for item in items]), bits

    def flags(self, ing: ScreenIngredient) -> int:
        """What ``ing`` gives a verdict (any block, any warning, which free-text allergies
        name it), as an int: OR those of a cocktail's ingredients together and
        :meth:`verdict_of_flags` is the cocktail's verdict. For ranking many cocktails in
        a tight loop over flags worked out once per ingredient."""
        return self._of_ingredient(ing)[1]

    def verdict_of_flags(self, flags: int) -> str:
        """The verdict of a cocktail whose ingredients' :meth:`flags`, ORed, are ``flags``
        (0 for a cocktail with no ingredients)."""
        flags |= self._general_bits
        if flags & _BLOCKS:
            return "blocked"
        if flags & _WARNS or (flags >> _NAMED_SHIFT) & self._all_free != self._all_free:
            return "caution"  # a warning, or a free-text allergy no ingredient named
        return "safe"

    def verdict(self, ingredients: Iterable[ScreenIngredient]) -> str:
        """``self(ingredients).verdict``, from what each ingredient gives (its
        :meth:`flags`) without building or sorting findings."""
        bits = 0
        by_identity = self._by_identity
        for ing in ingredients:
            known = by_identity.get(id(ing))
            # Not seen yet: screened now (TypeError if it is not a ScreenIngredient).
            bits |= known[1][1] if known is not None else self._of_ingredient(ing)[1]
        return self.verdict_of_flags(bits)

    def _ingredient_parts(self, found: tuple[tuple[_Keyed, ...], int]
                          ) -> tuple[tuple | None, tuple[Finding, ...], tuple[Finding, ...]]:
        """One ingredient's findings (``found``, from :meth:`_of_ingredient`) as
        :meth:`__call__` puts a cocktail's together: the ingredient's place among
        ingredients (name, then id, as in the sort key; None when it gives no finding),
        its blocks and its warnings, each in sort order with no duplicate. Worked out
        once per ingredient."""
        parts = self._parts.get(id(found))
        if parts is None:
            keyed = sorted(dict(found[0]).items(), key=itemgetter(0))
            parts = self._parts[id(found)] = (
                keyed[0][0][2:5] if keyed else None,
                tuple(f for key, f in keyed if key[0] == _BLOCK_RANK),
                tuple(f for key, f in keyed if key[0] != _BLOCK_RANK))
        return parts

    def __call__(self, ingredients: Iterable[ScreenIngredient]) -> ScreenResult:
        # Each ingredient object with what it gives and its parts, by its identity (the
        # entry holds the object): one look-up per ingredient of each cocktail.
        entries = self._entries
        given = []
        for ing in ingredients:
            entry = entries.get(id(ing))
            if entry is None:
                found = self._of_ingredient(ing)  # TypeError if not a ScreenIngredient
                entry = entries[id(ing)] = (ing, found, self._ingredient_parts(found))
            given.append(entry)
        # What each distinct ingredient gives, once (an ingredient listed twice, or two
        # equal values, give the same tuple), and whether two differing values share an
        # ingredient id.
        distinct = {id(entry[1]): entry for entry in given}
        same_id = len({entry[0].id for entry in distinct.values()}) < len(distinct)
        bits = 0
        for entry in distinct.values():
            bits |= entry[1][1]
        named = bits >> _NAMED_SHIFT
        if same_id:
            return self._in_full([entry[1] for entry in distinct.values()], named)
        # The sorted findings without sorting them: within a level, the patient's own
        # (kept in sort order), then each ingredient's in the order of its name and id
        # (distinct ids: no two ingredients tie, and none repeats another's finding).
        parts = sorted([entry[2] for entry in distinct.values() if entry[2][0] is not None],
                       key=itemgetter(0))
        blocks = list(self._patient_blocks)
        warns = [f for f, reviews in self._patient_warns if not reviews or reviews & ~named]
        for _, ing_blocks, ing_warns in parts:
            blocks.extend(ing_blocks)
            warns.extend(ing_warns)
        verdict = "blocked" if blocks else "caution" if warns else "safe"
        blocks.extend(warns)
        return ScreenResult(verdict, tuple(blocks))

    def _in_full(self, founds: list[tuple[tuple[_Keyed, ...], int]], named: int) -> ScreenResult:
        """The result from what the distinct ingredients gave (``founds``), every finding
        sorted by its key: what :meth:`__call__` gives, and how it gives it when two
        differing ingredients share an id."""
        items = list(self._general)
        for found in founds:
            items.extend(found[0])
        items.extend(review for index, review in enumerate(self._free_reviews)
                     if review is not None and not named >> index & 1)
        items.sort(key=itemgetter(0))
        # No exact duplicates; the first of equal findings is kept, in sorted order. A
        # sort key names its finding, and two equal findings have equal keys unless two
        # differing ingredients share an id (names differ): then findings are compared.
        findings = tuple(dict.fromkeys(finding for _, finding in items))
        return ScreenResult(verdict_of(findings), findings)


def screen(patient: ScreenPatient, ingredients: Iterable[ScreenIngredient],
           cross: CrossReactivity) -> ScreenResult:
    """Screen ``patient`` against a cocktail made of ``ingredients``.

    ``cross`` is required on purpose: a caller that forgot the cross-reactivity table
    would silently lose every cross-reactivity warning. Pass ``CrossReactivity()`` for
    none. See the module docstring for the rules; :class:`PatientScreen` for many
    cocktails at once.
    """
    return PatientScreen(patient, cross)(ingredients)


# --------------------------------------------------------------------------- the picker

K = TypeVar("K")
_VERDICT_RANK = {"safe": 0, "caution": 1, "blocked": 2}


def name_order(name: str) -> tuple[str, str]:
    """How cocktails of one verdict are ordered by name: case-insensitive, then exact
    (the name as shown). ``formulation_key(v, name) == (rank, *name_order(name))``, for
    a caller that works it out once per cocktail and ranks it for many patients."""
    shown = _clean(name)
    return (shown.casefold(), shown)


def formulation_key(verdict: str, name: str | None = None) -> tuple:
    """Where a cocktail goes in the formulation picker: safe first, then caution, then
    blocked; within a verdict by ``name`` (case-insensitive, then exact) when given."""
    rank = _VERDICT_RANK[verdict]
    if name is None:
        return (rank,)
    return (rank, *name_order(name))


def rank_formulations(results: Iterable[tuple[K, ScreenResult]], *,
                      name: Callable[[K], str] | None = None) -> list[tuple[K, ScreenResult]]:
    """Order ``(key, result)`` pairs for the formulation picker: safe first, then
    caution, then blocked. Within a verdict, by ``name(key)`` (case-insensitive, then
    exact) when ``name`` is given, else in the order given (the sort is stable). See
    :func:`formulation_key`."""
    def key(item: tuple[K, ScreenResult]):
        return formulation_key(item[1].verdict, None if name is None else name(item[0]))

    return sorted(results, key=key)

