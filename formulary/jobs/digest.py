"""The daily digest by email (SPEC §14): to each active user who opted in (profile) and
has an email address, what their role should act on today.

| section | admin | manager | pharmacist | practitioner |
| --- | --- | --- | --- | --- |
| low stock (usable below the reorder level) | yes | yes | yes | no |
| lots expiring within 30 days | yes | yes | yes | no |
| batches awaiting verification | yes | no | yes | no |
| expired or on-hold batches (SPEC §12) | yes | yes | yes | yes |
| sessions due today and overdue (SPEC §11) | yes | yes | yes | yes (theirs too) |
| open recalls (SPEC §12): lot, patients still to contact | yes | yes | yes | yes |

Counts and names of stock and batches only: never a patient's name (an email leaves the
clinic's systems; a recall says how many patients are still to contact, not who). Every
digest ends with the audit chain's head (SPEC §2).

No ``SMTP_HOST``: nothing is sent (the profile page says so).
"""

from __future__ import annotations

import smtplib
import ssl
from dataclasses import dataclass
from datetime import datetime
from email.message import EmailMessage

from flask import current_app
from sqlalchemy import select
from sqlalchemy.orm import Session

from formulary import clock
from formulary.audit.services import chain_head
from formulary.auth.models import User
from formulary.auth.permissions import BATCHES, REPORTS, VIEW

EXPIRING_DAYS = 30
LISTED = 15


@dataclass(frozen=True)
class Section:
    title: str
    lines: list[str]
    total: int


def smtp_configured() -> bool:
    return bool(current_app.config.get("SMTP_HOST"))


def _low_stock(session, now, tz) -> Section:
    from formulary.inventory.models import Ingredient
    from formulary.inventory.queries import stock_levels

    low, _ = stock_levels(session, now, tz)
    names = dict(session.execute(select(Ingredient.id, Ingredient.name)
                                 .where(Ingredient.id.in_(list(low) or [0]))).all())
    units = dict(session.execute(select(Ingredient.id, Ingredient.unit)
                                 .where(Ingredient.id.in_(list(low) or [0]))).all())
    lines = sorted(f"{names[i]}: {usable.normalize():f} {units[i]} usable, reorder level "
                   f"{level.normalize():f}" for i, (usable, level) in low.items())
    return Section("Low stock", lines[:LISTED], len(lines))


def _expiring(session, now, tz) -> Section:
    from formulary.inventory.models import Ingredient, Lot
    from formulary.inventory.queries import expiring_filter

    rows = session.execute(
        select(Ingredient.name, Lot.lot_number, Lot.expiry_date).join(Ingredient)
        .where(expiring_filter(now, tz, EXPIRING_DAYS)).order_by(Lot.expiry_date, Lot.id)).all()
    lines = [f"{name}, lot {lot}: expires {expiry.isoformat()}" for name, lot, expiry in rows]
    return Section(f"Lots expiring within {EXPIRING_DAYS} days", lines[:LISTED], len(lines))


def _batches(session, now, state: str, title: str) -> Section:
    from formulary.compounding.models import Batch
    from formulary.compounding.state import state_clause

    rows = session.execute(select(Batch.batch_number).where(state_clause(state, now))
                           .order_by(Batch.prepared_at, Batch.id)).scalars().all()
    return Section(title, list(rows[:LISTED]), len(rows))


def _sessions(session, today, user) -> Section:
    from formulary.courses.dashboard import due_counts

    c = due_counts(session, today, user.id)
    lines = [f"Due today: {c['due']}", f"Overdue: {c['overdue']}"]
    if user.role == "practitioner":
        lines += [f"Yours due today: {c['my_due']}", f"Yours overdue: {c['my_overdue']}"]
    return Section("Treatment sessions", lines, c["due"] + c["overdue"])


def _recalls(session) -> Section:
    from formulary.recalls.services import counts_of, open_recall_summaries

    total, recalls = open_recall_summaries(session, limit=LISTED)
    counts = counts_of(session, [r.id for r in recalls])
    lines = [f"{r.lot.ingredient.name}, lot {r.lot.lot_number}: "
             f"{counts[r.id]['to_contact']} of {counts[r.id]['patients']} patient(s) still to contact"
             for r in recalls]
    return Section("Open recalls", lines, total)


def sections_for(session: Session, user, now: datetime) -> list[Section]:
    tz = clock.clinic_tz()
    today = now.astimezone(tz).date()
    out: list[Section] = []
    if user.may(REPORTS):
        out += [_low_stock(session, now, tz), _expiring(session, now, tz)]
    if user.may(BATCHES):
        out.append(_batches(session, now, "prepared", "Batches awaiting verification"))
    if user.may(VIEW):
        out.append(_batches(session, now, "expired", "Expired batches (not fully given)"))
        out.append(_batches(session, now, "on_hold", "Batches on hold"))
        out.append(_recalls(session))
        out.append(_sessions(session, today, user))
    return out


def compose(session: Session, user, now: datetime) -> EmailMessage:
    cfg = current_app.config
    tz = clock.clinic_tz()
    day = now.astimezone(tz).date()
    msg = EmailMessage()
    msg["Subject"] = f"{cfg['CLINIC_NAME']}: daily digest for {day.isoformat()}"
    msg["From"] = cfg["MAIL_FROM"]
    msg["To"] = user.email
    parts = [f"Good morning {user.display_name},", ""]
    for section in sections_for(session, user, now):
        parts.append(f"{section.title} ({section.total})")
        parts += [f"  - {line}" for line in section.lines] or ["  - none"]
        if section.total > len(section.lines):
            parts.append(f"  ... and {section.total - len(section.lines)} more")
        parts.append("")
    parts.append(chain_head(session).label())
    parts.append("")
    parts.append("You receive this because you asked for it on your profile page.")
    msg.set_content("\n".join(parts))
    return msg


def recipients(session: Session) -> list:
    return list(session.execute(
        select(User).where(User.active.is_(True), User.digest_opt_in.is_(True))
        .order_by(User.id)).scalars())


def send_digests(session: Session, now: datetime) -> tuple[int, int]:
    """Send every opted-in user their digest; answers (sent, skipped for no address).
    Nothing is sent without ``SMTP_HOST``. A refused recipient does not stop the others;
    the job fails afterwards with their addresses."""
    if not smtp_configured():
        return 0, 0
    cfg = current_app.config
    users = recipients(session)
    messages = [(u, compose(session, u, now)) for u in users if u.email]
    skipped = sum(1 for u in users if not u.email)
    session.rollback()
    failures: list[str] = []
    sent = 0
    if not messages:
        return 0, skipped
    smtp_class = smtplib.SMTP_SSL if cfg.get("SMTP_SSL") else smtplib.SMTP
    with smtp_class(cfg["SMTP_HOST"], cfg["SMTP_PORT"], timeout=30) as smtp:
        if cfg.get("SMTP_STARTTLS") and not cfg.get("SMTP_SSL"):
            smtp.starttls(context=ssl.create_default_context())
        if cfg.get("SMTP_USERNAME"):
            smtp.login(cfg["SMTP_USERNAME"], cfg.get("SMTP_PASSWORD") or "")
        for user, msg in messages:
            try:
                smtp.send_message(msg)
                sent += 1
            except smtplib.SMTPException as exc:
                failures.append(f"{user.email}: {exc}")
    if failures:
        raise RuntimeError(f"Sent {sent}; refused: " + "; ".join(failures))
    return sent, skipped


