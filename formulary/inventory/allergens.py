"""Allergen groups and which of them cross-react (SPEC §4, §6; admin only).

``data`` is ``{name, description, cross_reacts_with: [name]}``. Cross-reaction is
symmetric: a pair is stored once, lower id first, and naming B among A's partners makes
A one of B's. ``update_group`` with ``cross_reacts_with`` replaces the group's partners.
"""

from __future__ import annotations

from sqlalchemy import delete, or_, select
from sqlalchemy.orm import Session

from formulary.audit.services import record
from formulary.domain.errors import Duplicate, ValidationError, refuse_unknown_fields
from formulary.domain.messages import msg
from formulary.domain.safety import CrossReactivity as CrossReactivityRule
from formulary.domain.safety import group_key
from formulary.domain.text import check_text
from formulary.inventory.models import GROUP_DESCRIPTION_MAX, AllergenGroup, CrossReactivity

FIELDS = ("name", "description", "cross_reacts_with")
NAME_MAX = 120
DESCRIPTION_MAX = GROUP_DESCRIPTION_MAX


def partners_by_group(session: Session) -> dict[int, list[AllergenGroup]]:
    """Every group's cross-reacting partners, by group id (two statements)."""
    groups = {g.id: g for g in session.execute(select(AllergenGroup)).scalars()}
    out: dict[int, list[AllergenGroup]] = {gid: [] for gid in groups}
    for a, b in session.execute(select(CrossReactivity.group_a_id, CrossReactivity.group_b_id)):
        out[a].append(groups[b])
        out[b].append(groups[a])
    for partners in out.values():
        partners.sort(key=lambda g: g.name_key)
    return out


def cross_reactivity(session: Session) -> CrossReactivityRule:
    """The table of cross-reacting groups, as the safety screen takes it."""
    names = dict(session.execute(select(AllergenGroup.id, AllergenGroup.name)).all())
    pairs = session.execute(select(CrossReactivity.group_a_id, CrossReactivity.group_b_id)).all()
    return CrossReactivityRule((names[a], names[b]) for a, b in pairs)


def _validate(session: Session, data, group: AllergenGroup | None) -> dict:
    if not isinstance(data, dict):
        raise ValidationError("Give the allergen group as an object.")
    refuse_unknown_fields(data, FIELDS)
    problems: dict[str, list[str]] = {}
    out: dict = {}
    if group is None or "name" in data:
        try:
            out["name"] = check_text(data.get("name"), "name", msg("Name"), required=True,
                                     max_length=NAME_MAX)
        except ValidationError as exc:
            problems["name"] = [exc.message]
    if "description" in data:
        try:
            out["description"] = check_text(data["description"], "description", msg("Description"),
                                            max_length=DESCRIPTION_MAX, multiline=True)
        except ValidationError as exc:
            problems["description"] = [exc.message]
    if "cross_reacts_with" in data:
        names = data["cross_reacts_with"]
        if names is None:
            names = []
        if not isinstance(names, list) or not all(isinstance(n, str) for n in names):
            problems["cross_reacts_with"] = ["Give a list of group names."]
        else:
            keys = {group_key(n): n for n in names if n.strip()}
            found = {g.name_key: g for g in session.execute(
                select(AllergenGroup).where(AllergenGroup.name_key.in_(list(keys)))).scalars()} \
                if keys else {}
            missing = [n for k, n in keys.items() if k not in found]
            own_key = group_key(out.get("name") or (group.name if group else ""))
            if missing:
                problems["cross_reacts_with"] = ["Unknown allergen group(s): " + ", ".join(missing) + "."]
            elif own_key in keys or (group is not None and group.name_key in keys):
                problems["cross_reacts_with"] = ["A group does not cross-react with itself."]
            else:
                out["cross_reacts_with"] = list(found.values())
    if problems:
        raise ValidationError(next(iter(problems.values()))[0], fields=problems)
    if "name" in out:
        clash = session.execute(select(AllergenGroup.id).where(
            AllergenGroup.name_key == group_key(out["name"]),
            AllergenGroup.id != (group.id if group else -1))).first()
        if clash:
            raise Duplicate(msg("An allergen group named %(name)s already exists.",
                                name=out['name']), field="name")
    return out


def _partner_names(session: Session, group: AllergenGroup) -> list[str]:
    return [g.name for g in partners(session, group)]


def partners(session: Session, group: AllergenGroup) -> list[AllergenGroup]:
    rows = session.execute(select(CrossReactivity).where(or_(
        CrossReactivity.group_a_id == group.id, CrossReactivity.group_b_id == group.id))).scalars()
    ids = [r.group_b_id if r.group_a_id == group.id else r.group_a_id for r in rows]
    if not ids:
        return []
    return list(session.execute(select(AllergenGroup).where(AllergenGroup.id.in_(ids))
                                .order_by(AllergenGroup.name_key)).scalars())


def _set_partners(session: Session, group: AllergenGroup, others: list[AllergenGroup]) -> None:
    session.execute(delete(CrossReactivity).where(or_(
        CrossReactivity.group_a_id == group.id, CrossReactivity.group_b_id == group.id)))
    for other in others:
        a, b = sorted((group.id, other.id))
        session.add(CrossReactivity(group_a_id=a, group_b_id=b))
    session.flush()


def _snapshot(session: Session, group: AllergenGroup) -> dict:
    return {"name": group.name, "description": group.description,
            "cross_reacts_with": sorted(_partner_names(session, group))}


def create_group(session: Session, actor, data: dict) -> AllergenGroup:
    out = _validate(session, data, None)
    group = AllergenGroup(name=out["name"], name_key=group_key(out["name"]),
                          description=out.get("description", ""))
    session.add(group)
    session.flush()
    if out.get("cross_reacts_with"):
        _set_partners(session, group, out["cross_reacts_with"])
    record(session, actor, "allergen_group.create", "allergen_group", group.id,
           summary=f"Created allergen group {group.name}", after=_snapshot(session, group))
    return group


def update_group(session: Session, actor, group: AllergenGroup, data: dict) -> AllergenGroup:
    before = _snapshot(session, group)
    out = _validate(session, data, group)
    if "name" in out:
        group.name, group.name_key = out["name"], group_key(out["name"])
    if "description" in out:
        group.description = out["description"]
    if "cross_reacts_with" in out:
        _set_partners(session, group, out["cross_reacts_with"])
    session.flush()
    after = _snapshot(session, group)
    if after != before:
        record(session, actor, "allergen_group.update", "allergen_group", group.id,
               summary=f"Changed allergen group {group.name}", before=before, after=after)
    return group


__all__ = ["create_group", "cross_reactivity", "partners", "partners_by_group", "update_group"]
