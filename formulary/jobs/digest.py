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

Each digest is written in its recipient's language (SPEC §13): their profile's choice,
else ``DEFAULT_LOCALE``; dates and numbers in that language's form.

No ``SMTP_HOST``: nothing is sent (the profile page says so).
"""

from __future__ import annotations

import smtplib
import ssl
from dataclasses import dataclass
from datetime import datetime
from email.message import EmailMessage

from flask import current_app
from flask_babel import force_locale
from sqlalchemy import select
from sqlalchemy.orm import Session

from formulary import clock
from formulary.audit.services import chain_head
from formulary.auth.models import User
from formulary.auth.permissions import BATCHES, REPORTS, VIEW
from formulary.i18n import _, available_locales, format_date_l, format_qty_l, ngettext

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

    low, _levels = stock_levels(session, now, tz)
    names = dict(session.execute(select(Ingredient.id, Ingredient.name)
                                 .where(Ingredient.id.in_(list(low) or [0]))).all())
    units = dict(session.execute(select(Ingredient.id, Ingredient.unit)
                                 .where(Ingredient.id.in_(list(low) or [0]))).all())
    lines = [_("%(ingredient)s: %(usable)s %(unit)s usable, reorder level %(level)s",
               ingredient=names[i], usable=format_qty_l(usable), unit=units[i],
               level=format_qty_l(level))
             for i, (usable, level) in sorted(low.items(), key=lambda item: names[item[0]])]
    return Section(_("Low stock"), lines[:LISTED], len(lines))


def _expiring(session, now, tz) -> Section:
    from formulary.inventory.models import Ingredient, Lot
    from formulary.inventory.queries import expiring_filter

    rows = session.execute(
        select(Ingredient.name, Lot.lot_number, Lot.expiry_date).join(Ingredient)
        .where(expiring_filter(now, tz, EXPIRING_DAYS)).order_by(Lot.expiry_date, Lot.id)).all()
    lines = [_("%(ingredient)s, lot %(lot)s: expires %(date)s", ingredient=name, lot=lot,
               date=format_date_l(expiry)) for name, lot, expiry in rows]
    return Section(_("Lots expiring within %(days)s days", days=EXPIRING_DAYS), lines[:LISTED],
                   len(lines))


def _batches(session, now, state: str, title: str) -> Section:
    from formulary.compounding.models import Batch
    from formulary.compounding.state import state_clause

    rows = session.execute(select(Batch.batch_number).where(state_clause(state, now))
                           .order_by(Batch.prepared_at, Batch.id)).scalars().all()
    return Section(title, list(rows[:LISTED]), len(rows))


def _sessions(session, today, user) -> Section:
    from formulary.courses.dashboard import due_counts

    c = due_counts(session, today, user.id)
    lines = [_("Due today: %(count)s", count=c["due"]), _("Overdue: %(count)s", count=c["overdue"])]
    if user.role == "practitioner":
        lines += [_("Yours due today: %(count)s", count=c["my_due"]),
                  _("Yours overdue: %(count)s", count=c["my_overdue"])]
    return Section(_("Treatment sessions"), lines, c["due"] + c["overdue"])


def _recalls(session) -> Section:
    from formulary.recalls.services import counts_of, open_recall_summaries

    total, recalls = open_recall_summaries(session, limit=LISTED)
    counts = counts_of(session, [r.id for r in recalls])
    lines = [ngettext("%(ingredient)s, lot %(lot)s: %(left)s of %(num)s patient still to contact",
                      "%(ingredient)s, lot %(lot)s: %(left)s of %(num)s patients still to contact",
                      counts[r.id]["patients"], ingredient=r.lot.ingredient.name,
                      lot=r.lot.lot_number, left=counts[r.id]["to_contact"])
             for r in recalls]
    return Section(_("Open recalls"), lines, total)


def sections_for(session: Session, user, now: datetime) -> list[Section]:
    tz = clock.clinic_tz()
    today = now.astimezone(tz).date()
    out: list[Section] = []
    if user.may(REPORTS):
        out += [_low_stock(session, now, tz), _expiring(session, now, tz)]
    if user.may(BATCHES):
        out.append(_batches(session, now, "prepared", _("Batches awaiting verification")))
    if user.may(VIEW):
        out.append(_batches(session, now, "expired", _("Expired batches (not fully given)")))
        out.append(_batches(session, now, "on_hold", _("Batches on hold")))
        out.append(_recalls(session))
        out.append(_sessions(session, today, user))
    return out


def language_of(user) -> str:
    """The language a user's digest is written in: their profile's, else the clinic's
    default."""
    allowed = available_locales()
    if user.locale and user.locale in allowed:
        return user.locale
    default = current_app.config.get("DEFAULT_LOCALE", "en")
    return default if default in allowed else "en"


def compose(session: Session, user, now: datetime) -> EmailMessage:
    """The digest of ``user``, in their language (:func:`language_of`)."""
    lang = language_of(user)
    with force_locale(lang):
        return _compose(session, user, now, lang)


def _compose(session: Session, user, now: datetime, lang: str) -> EmailMessage:
    cfg = current_app.config
    tz = clock.clinic_tz()
    day = now.astimezone(tz).date()
    msg = EmailMessage()
    msg["Subject"] = _("%(clinic)s: daily digest for %(date)s", clinic=cfg["CLINIC_NAME"],
                       date=format_date_l(day))
    msg["From"] = cfg["MAIL_FROM"]
    msg["To"] = user.email
    parts = [_("Good morning %(name)s,", name=user.display_name), ""]
    for section in sections_for(session, user, now):
        parts.append(f"{section.title} ({section.total})")
        parts += [f"  - {line}" for line in section.lines] or [f"  - {_('none')}"]
        if section.total > len(section.lines):
            parts.append("  " + _("… and %(count)s more", count=section.total - len(section.lines)))
        parts.append("")
    parts.append(chain_head(session).label())
    parts.append("")
    parts.append(_("You receive this because you asked for it on your profile page."))
    msg.set_content("\n".join(parts))
    msg["Content-Language"] = lang.replace("_", "-")  # after set_content, which clears Content-*
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


