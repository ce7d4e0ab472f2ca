"""Cocktails and their versions (SPEC §5): one function per action, the actor passed in.

- ``create_cocktail``: a new cocktail, its version 1 a draft.
- ``update_cocktail``: a draft is changed in place; an active cocktail gets its next draft
  version while the active one stays in force. A retired cocktail cannot change.
- ``approve_cocktail``: the pending draft becomes the active version; the previous active
  one is superseded. Its components are checked again against the ingredients as they
  are now (one may have been retired or given a lower maximum dose meanwhile).
- ``retire_cocktail``: no longer preparable; a pending draft is retired with it.

An approved version never changes: every function refuses it, and the model's hooks
(``models.version_is_frozen``) refuse it again at flush.

The name belongs to the cocktail (not to a version): unique, compared case-insensitively
and with runs of spaces collapsed (``name_key``). Every change is audited with the state
before and after.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

from sqlalchemy import func, select
from sqlalchemy.orm import Session, selectinload

from formulary.audit.services import record
from formulary.cocktails.composition import check_new_components, load_ingredients
from formulary.cocktails.models import AREAS, NOTES_MAX, Cocktail, CocktailVersion, Component
from formulary.db import utcnow
from formulary.domain.doses import ComponentDose, ComponentInput
from formulary.domain.errors import Duplicate, InvalidState, NotFound, ValidationError
from formulary.domain.messages import code, msg, quoted
from formulary.domain.text import check_text, text_key
from formulary.inventory.models import Ingredient
from formulary.listing import SortColumns

STORAGES = ("room", "fridge")
NAME_MAX, INDICATION_MAX = 160, 200


@dataclass(frozen=True)
class CocktailInput:
    """A cocktail as a form or a client gave it: raw values, checked by the service."""

    name: object
    area: object
    indication: object = ""
    storage: object = "fridge"
    notes: object = ""
    components: Sequence[ComponentInput] | None = field(default_factory=tuple)


def name_key(name: str) -> str:
    """The one comparison key of names (``formulary.domain.text.text_key``)."""
    return text_key(name)


# --- reading -------------------------------------------------------------------------

def loaded_options():
    """Eager loading of versions, components, ingredients and users (no N+1)."""
    return (selectinload(Cocktail.versions).selectinload(CocktailVersion.components)
            .selectinload(Component.ingredient),
            selectinload(Cocktail.versions).selectinload(CocktailVersion.approved_by),
            selectinload(Cocktail.versions).selectinload(CocktailVersion.created_by))


def get_cocktail(session: Session, cocktail_id: object, *, lock: bool = False) -> Cocktail:
    """The cocktail with every version, component and ingredient loaded; 404 if none.
    ``lock``: take its row lock first (PostgreSQL), so two changes queue."""
    if isinstance(cocktail_id, bool) or not isinstance(cocktail_id, int):
        raise NotFound("No such cocktail.")
    if lock:
        session.execute(select(Cocktail.id).where(Cocktail.id == cocktail_id).with_for_update())
    stmt = select(Cocktail).where(Cocktail.id == cocktail_id).options(*loaded_options())
    if lock:
        stmt = stmt.execution_options(populate_existing=True)
    cocktail = session.execute(stmt).scalar_one_or_none()
    if cocktail is None:
        raise NotFound("No such cocktail.")
    return cocktail


def pending_draft(cocktail: Cocktail) -> CocktailVersion | None:
    """The draft version waiting for approval, if any (there is at most one)."""
    latest = cocktail.versions[-1] if cocktail.versions else None
    return latest if latest is not None and latest.status == "draft" else None


def shown_version(cocktail: Cocktail) -> CocktailVersion:
    """The version people read by default: the one in force (or last in force, when
    retired); a cocktail never approved shows its latest version."""
    if cocktail.active_version_id is not None:
        for version in cocktail.versions:
            if version.id == cocktail.active_version_id:
                return version
    return cocktail.versions[-1]


def version_by_number(cocktail: Cocktail, number: object) -> CocktailVersion:
    for version in cocktail.versions:
        if version.number == number:
            return version
    raise NotFound(msg("%(cocktail_name)s has no version %(number)s.",
                       cocktail_name=cocktail.name, number=number))


def _shown_version_column(column):
    """``column`` of the version a list shows (the one in force, else the latest), as a
    correlated subquery: a list sorts by it without joining."""
    latest = (select(func.max(CocktailVersion.id)).where(CocktailVersion.cocktail_id == Cocktail.id)
              .correlate(Cocktail).scalar_subquery())
    return (select(column).where(CocktailVersion.id == func.coalesce(Cocktail.active_version_id, latest))
            .correlate(Cocktail).scalar_subquery())


#: The orders of the cocktail list (page and API).
COCKTAIL_SORT = SortColumns(
    columns={"name": Cocktail.name_key, "status": Cocktail.status,
             "area": _shown_version_column(CocktailVersion.area),
             "indication": _shown_version_column(func.lower(CocktailVersion.indication)),
             "created_at": Cocktail.created_at},
    default="name", tiebreak=(Cocktail.id,))


def list_statement(*, area: str | None = None, status: str | None = None, q: str | None = None,
                   indication: str | None = None, columns: Sequence = ()):
    """Cocktails filtered by the area and indication of their shown version, their status
    and a search over name and indication; ordered by name. The cocktails as objects,
    nothing more loaded (the lists read their versions as plain rows:
    ``cocktails.rows``), or, given ``columns``, their rows of those columns."""
    stmt = select(*columns) if columns else select(Cocktail)
    latest = (select(func.max(CocktailVersion.id)).where(CocktailVersion.cocktail_id == Cocktail.id)
              .correlate(Cocktail).scalar_subquery())
    if area or indication or q:
        stmt = stmt.join(CocktailVersion, CocktailVersion.cocktail_id == Cocktail.id).where(
            CocktailVersion.id == func.coalesce(Cocktail.active_version_id, latest))
    if area:
        stmt = stmt.where(CocktailVersion.area == area)
    if indication:
        stmt = stmt.where(func.lower(CocktailVersion.indication).like(f"%{indication.strip().lower()}%"))
    if status:
        stmt = stmt.where(Cocktail.status == status)
    if q:
        like = f"%{text_key(q)}%"
        stmt = stmt.where(Cocktail.name_key.like(like)
                          | func.lower(CocktailVersion.indication).like(like))
    return stmt.order_by(Cocktail.name_key, Cocktail.id)


# --- checking ------------------------------------------------------------------------

def _text(value: object, field_name: str, maximum: int, problems: dict, *,
          required: bool = False, label: str = "") -> str:
    """The shared check (a visible letter or digit; SPEC §3), its message collected."""
    if required and (value is None or (isinstance(value, str) and not value.strip())):
        problems.setdefault(field_name, []).append(
            msg("Give the cocktail a name.") if field_name == "name"
            else msg("%(label)s is required.", label=label))
        return ""
    try:
        return check_text(value, field_name, label, required=required, max_length=maximum,
                          multiline=field_name == "notes")
    except ValidationError as exc:
        for message in exc.fields.get(field_name, [exc.message]):
            problems.setdefault(field_name, []).append(message)
        return ""


@dataclass(frozen=True)
class _Checked:
    name: str
    area: str
    indication: str
    storage: str
    notes: str
    doses: tuple[ComponentDose, ...]


def _check(session: Session, data: CocktailInput) -> _Checked:
    """Every field at once; one ValidationError naming each field that is wrong."""
    problems: dict[str, list[str]] = {}
    name = _text(data.name, "name", NAME_MAX, problems, required=True, label=msg("Name"))
    indication = _text(data.indication, "indication", INDICATION_MAX, problems, label=msg("Indication"))
    notes = _text(data.notes, "notes", NOTES_MAX, problems, label=msg("Notes"))
    area = data.area.strip().lower() if isinstance(data.area, str) else data.area
    if area in (None, ""):
        problems.setdefault("area", []).append(msg("Choose an area: %(areas)s.",
                                                   areas=", ".join(AREAS)))
    elif area not in AREAS:
        problems.setdefault("area", []).append(
            msg("Unknown area %(area)s: use one of %(areas)s.", area=quoted(data.area),
                areas=", ".join(AREAS)))
    storage = data.storage.strip().lower() if isinstance(data.storage, str) else data.storage
    if storage in (None, ""):
        storage = "fridge"
    elif storage not in STORAGES:
        problems.setdefault("storage", []).append("Storage is 'room' or 'fridge'.")
    components = data.components
    if components is not None and not isinstance(components, (list, tuple)):
        problems.setdefault("components", []).append("Components must be a list.")
        components = None
    components = list(components or ())
    ingredients = load_ingredients(session, [c.ingredient_id for c in components])
    doses: tuple[ComponentDose, ...] = ()
    try:
        doses = check_new_components(components, ingredients)
    except ValidationError as error:
        for key, messages in error.fields.items():
            problems.setdefault(key, []).extend(messages)
    if problems:
        count = sum(len(m) for m in problems.values())
        first = next(iter(problems.values()))[0]
        raise ValidationError(first if count == 1 else msg("The cocktail has %(count)s problems.", count=count),
                              fields=problems)
    return _Checked(name=name, area=area, indication=indication, storage=storage,
                    notes=notes, doses=doses)


def _claim_name(session: Session, cocktail: Cocktail | None, name: str) -> None:
    key = name_key(name)
    stmt = select(Cocktail.id, Cocktail.name).where(Cocktail.name_key == key)
    if cocktail is not None and cocktail.id is not None:
        stmt = stmt.where(Cocktail.id != cocktail.id)
    taken = session.execute(stmt).first()
    if taken is not None:
        raise Duplicate(msg("The name is already taken by the cocktail '%(taken_name)s'.",
                            taken_name=taken.name), field="name")


def snapshot(cocktail: Cocktail, version: CocktailVersion) -> dict:
    """The state of one version for the audit log."""
    return {"name": cocktail.name, "cocktail_status": cocktail.status,
            "version": version.number, "status": version.status, "area": version.area,
            "indication": version.indication, "storage": version.storage,
            "notes": version.notes,
            "components": [{"ingredient_id": c.ingredient_id, "amount": c.amount, "unit": c.unit,
                            "stock_quantity": c.stock_quantity, "stock_unit": c.stock_unit}
                           for c in version.components]}


def _fill(version: CocktailVersion, checked: _Checked) -> None:
    version.area, version.indication = checked.area, checked.indication
    version.storage, version.notes = checked.storage, checked.notes
    version.components.extend(
        Component(ingredient_id=d.ingredient_id, position=i, amount=d.amount, unit=d.unit,
                  stock_quantity=d.stock_quantity, stock_unit=d.stock_unit)
        for i, d in enumerate(checked.doses))


def _refuse_frozen(version: CocktailVersion) -> None:
    if version.status != "draft" or version.approved_at is not None:
        raise InvalidState(msg("Version %(version_number)s was approved: an approved version "
                               "never changes. Edit the cocktail to make a new draft version.",
                               version_number=version.number))


# --- actions -------------------------------------------------------------------------

def create_cocktail(session: Session, actor, data: CocktailInput) -> Cocktail:
    """A new cocktail whose version 1 is a draft."""
    checked = _check(session, data)
    _claim_name(session, None, checked.name)
    actor_id = getattr(actor, "id", None)
    cocktail = Cocktail(name=checked.name, name_key=name_key(checked.name), status="draft",
                        created_by_id=actor_id)
    version = CocktailVersion(cocktail=cocktail, number=1, status="draft", created_by_id=actor_id)
    _fill(version, checked)
    session.add_all([cocktail, version])
    session.flush()
    record(session, actor, "cocktail.create", "cocktail", cocktail.id,
           summary=f"Cocktail {cocktail.name} created (draft version 1)",
           after=snapshot(cocktail, version))
    return cocktail


def update_cocktail(session: Session, actor, cocktail_id: int, data: CocktailInput) -> CocktailVersion:
    """Change a cocktail: its pending draft in place, or else a new draft version after
    the active one (which stays in force until the draft is approved). Returns the draft."""
    cocktail = get_cocktail(session, cocktail_id, lock=True)
    if cocktail.status == "retired":
        raise InvalidState(msg("%(cocktail_name)s is retired: it can no longer be changed.",
                               cocktail_name=cocktail.name))
    checked = _check(session, data)
    _claim_name(session, cocktail, checked.name)
    draft = pending_draft(cocktail)
    base = draft or shown_version(cocktail)
    before = snapshot(cocktail, base)
    renamed = checked.name != cocktail.name
    if renamed:
        cocktail.name, cocktail.name_key = checked.name, name_key(checked.name)
    if draft is not None:
        _refuse_frozen(draft)
        draft.created_by_id = getattr(actor, "id", None)  # its writer now: four eyes on the change
        draft.components.clear()
        session.flush()  # the old rows go before new ones take their (version, ingredient)
        _fill(draft, checked)
        action, summary = "cocktail.edit_draft", f"Draft version {draft.number} of {cocktail.name} changed"
    else:
        draft = CocktailVersion(cocktail=cocktail, number=cocktail.versions[-1].number + 1,
                                status="draft", created_by_id=getattr(actor, "id", None))
        _fill(draft, checked)
        session.add(draft)
        action = "cocktail.new_version"
        summary = (f"Draft version {draft.number} of {cocktail.name} made; version "
                   f"{base.number} stays in force until it is approved")
    session.flush()
    record(session, actor, action, "cocktail", cocktail.id, summary=summary,
           before=before, after=snapshot(cocktail, draft))
    return draft


def _check_four_eyes(cocktail: Cocktail, draft: CocktailVersion, actor, *,
                     single_pharmacist: bool, confirmation: object) -> bool:
    """Four eyes on a formulation (SPEC §12): the approver is not the pharmacist who wrote
    the draft (``created_by_id``; an edit of a draft by another pharmacist makes them its
    writer). In single-pharmacist mode the writer may approve, but only by typing the
    cocktail's name as ``confirmation``. Answers whether this is a self-approval; refuses
    (409 ``invalid_state``) otherwise."""
    actor_id = getattr(actor, "id", None)
    if draft.created_by_id is None or actor_id is None or draft.created_by_id != actor_id:
        return False
    if not single_pharmacist:
        raise InvalidState(msg("Version %(draft_number)s of %(cocktail_name)s was written by "
                               "you: another pharmacist approves it (four eyes).",
                               draft_number=draft.number, cocktail_name=cocktail.name))
    typed = " ".join(confirmation.split()).casefold() if isinstance(confirmation, str) else ""
    if typed != name_key(cocktail.name):
        raise InvalidState(msg("You wrote version %(draft_number)s of %(cocktail_name)s. To "
                               "approve your own formulation (single-pharmacist mode), type "
                               "the cocktail's name, %(cocktail_name)s, to confirm.",
                               draft_number=draft.number, cocktail_name=cocktail.name), field="confirm_self_approval")
    return True


def approve_cocktail(session: Session, actor, cocktail_id: int, *,
                     version_number: object = None, single_pharmacist: bool = False,
                     confirm_self_approval: object = None) -> CocktailVersion:
    """Make the pending draft the active version. ``version_number``, when given, must be
    the draft's number (so a client approves exactly what it read). The approver is not
    the draft's writer, unless ``single_pharmacist`` (the clinic's setting) and the
    cocktail's name is typed as ``confirm_self_approval``: the audit entry then says so."""
    cocktail = get_cocktail(session, cocktail_id, lock=True)
    if cocktail.status == "retired":
        raise InvalidState(msg("%(cocktail_name)s is retired: it cannot be approved.",
                               cocktail_name=cocktail.name))
    draft = pending_draft(cocktail)
    if draft is None:
        raise InvalidState(msg("%(cocktail_name)s has no draft version to approve: version "
                               "%(number)s is already %(status)s.",
                               cocktail_name=cocktail.name,
                               number=shown_version(cocktail).number,
                               status=code(shown_version(cocktail).status)))
    if version_number is not None and version_number != draft.number:
        raise InvalidState(msg("The draft awaiting approval is version %(draft_number)s, not "
                               "%(version_number)s.",
                               draft_number=draft.number, version_number=version_number), field="version")
    _refuse_frozen(draft)
    self_approved = _check_four_eyes(cocktail, draft, actor, single_pharmacist=single_pharmacist,
                                     confirmation=confirm_self_approval)
    # Checked again: an ingredient may have been retired, or its maximum dose lowered.
    # Share-locked: an ingredient's unit or strength may change until it is in an
    # approved version, never after (inventory.ingredients), so none changes meanwhile.
    inputs = [ComponentInput(c.ingredient_id, c.amount, c.unit) for c in draft.components]
    doses = check_new_components(inputs, load_ingredients(
        session, [c.ingredient_id for c in draft.components], lock=True))
    for component, dose in zip(draft.components, doses):
        component.stock_quantity, component.stock_unit = dose.stock_quantity, dose.stock_unit
    session.flush()
    previous = cocktail.active_version if cocktail.active_version_id is not None else None
    before = snapshot(cocktail, draft)
    if previous is not None and previous.status == "active":
        previous.status = "superseded"
    approver_id = getattr(actor, "id", None)  # read first: it may load, and autoflush
    draft.status = "active"
    draft.approved_by_id = approver_id
    draft.approved_at = utcnow()
    cocktail.status = "active"
    cocktail.active_version = draft
    session.flush()
    after = snapshot(cocktail, draft)
    if self_approved:
        after["self_approved"] = True
    record(session, actor, "cocktail.approve", "cocktail", cocktail.id,
           summary=(f"Version {draft.number} of {cocktail.name} approved"
                    + (" by its own writer (single-pharmacist mode, confirmed by typing its name)"
                       if self_approved else "")
                    + (f"; version {previous.number} superseded" if previous is not None else "")),
           before=before, after=after,
           reason="self-approval in single-pharmacist mode" if self_approved else None)
    return draft


def retire_cocktail(session: Session, actor, cocktail_id: int, *, reason: object = "") -> Cocktail:
    """Retire a cocktail: it can no longer be prepared or changed. Its versions stay
    readable; a pending draft is retired with it."""
    cocktail = get_cocktail(session, cocktail_id, lock=True)
    if cocktail.status == "retired":
        raise InvalidState(msg("%(cocktail_name)s is already retired.",
                               cocktail_name=cocktail.name))
    reason = check_text(reason, "reason", msg("The reason"), max_length=300, multiline=True)
    before = snapshot(cocktail, shown_version(cocktail))
    for version in cocktail.versions:
        if version.status in ("draft", "active"):
            version.status = "retired"
    cocktail.status = "retired"
    session.flush()
    record(session, actor, "cocktail.retire", "cocktail", cocktail.id,
           summary=f"Cocktail {cocktail.name} retired", before=before,
           after=snapshot(cocktail, shown_version(cocktail)), reason=reason or None)
    return cocktail


__all__ = ["CocktailInput", "approve_cocktail", "create_cocktail", "get_cocktail",
           "list_statement", "loaded_options", "name_key", "pending_draft", "retire_cocktail", "shown_version",
           "snapshot", "update_cocktail", "version_by_number"]
