"""Writing and verifying the audit log.

``record()`` queues an entry on the session; the entries are chained and inserted just
before the transaction commits, under a lock (PostgreSQL advisory transaction lock;
SQLite's write lock from ``BEGIN IMMEDIATE``), so two transactions never fork the chain
and a rolled-back change leaves no entry. ``seq`` gaps and broken links are reported.

Removal of the newest entries cannot be told from a shorter log by the chain alone, so
the chain's head (:func:`chain_head`: the newest entry's ``seq`` and hash) is recorded
outside the log -- beside every backup (``backup.py``), in the footer of every export
workbook -- and :func:`verify_chain` checks the log against such a head when given one:
a log that no longer reaches it was cut short, one whose entry there has another hash
was changed or rewritten.
"""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from typing import Any, Iterator

from sqlalchemy import insert, select
from sqlalchemy.orm import Session

from formulary.audit.models import AuditEntry
from formulary.db import lock_commit_order, utcnow
from formulary.i18n import _
from formulary.session_hooks import install_hooks

GENESIS = "0" * 64
_PENDING = "formulary_audit_pending"


def _default(value: Any):
    if isinstance(value, Decimal):
        return format(value.normalize(), "f") if value == value.to_integral() else str(value.normalize())
    if isinstance(value, (datetime, date)):
        return value.isoformat()
    if isinstance(value, (set, frozenset, tuple)):
        return sorted(value, key=str)
    raise TypeError(f"not JSON serialisable: {type(value).__name__}")


def canonical_json(value: Any) -> str | None:
    if value is None:
        return None
    return json.dumps(value, default=_default, sort_keys=True, separators=(",", ":"),
                      ensure_ascii=False)


def record(session: Session, actor, action: str, obj_type: str, obj_id: Any = "", *,
           summary: str = "", before: Any = None, after: Any = None,
           reason: str | None = None) -> None:
    """Queue one audit entry; it is written with the transaction's commit."""
    session.info.setdefault(_PENDING, []).append({
        "at": utcnow(),
        "user_id": getattr(actor, "id", None),
        "username": getattr(actor, "username", None) or (actor if isinstance(actor, str) else "system"),
        "action": action,
        "object_type": obj_type,
        "object_id": "" if obj_id is None else str(obj_id),
        "summary": summary[:300],
        "before": canonical_json(before),
        "after": canonical_json(after),
        "reason": reason or None,
    })


def entry_hash(prev_hash: str, seq: int, fields: dict) -> str:
    payload = canonical_json({
        "prev": prev_hash,
        "seq": seq,
        "at": fields["at"].isoformat(),
        "user_id": fields["user_id"],
        "username": fields["username"],
        "action": fields["action"],
        "object_type": fields["object_type"],
        "object_id": fields["object_id"],
        "summary": fields["summary"],
        "before": fields["before"],
        "after": fields["after"],
        "reason": fields["reason"],
    })
    return hashlib.sha256(payload.encode("utf-8")).hexdigest()


def _write_pending(session: Session) -> None:
    pending = session.info.pop(_PENDING, None)
    if not pending:
        return
    lock_commit_order(session)
    last = session.execute(
        select(AuditEntry.seq, AuditEntry.hash).order_by(AuditEntry.seq.desc()).limit(1)
    ).first()
    seq, prev = (last.seq, last.hash) if last else (0, GENESIS)
    rows = []
    for fields in pending:
        seq += 1
        h = entry_hash(prev, seq, fields)
        rows.append({"seq": seq, "prev_hash": prev, "hash": h, **fields})
        prev = h
    # chained above, written by one statement (an executemany): a list that audits the
    # 50 patients it shows writes 50 entries at once, not one INSERT each
    session.execute(insert(AuditEntry), rows)


def discard_pending(session: Session) -> None:
    session.info.pop(_PENDING, None)


def install(session_class) -> None:
    """Hook the audit writer onto a Session class (once)."""
    install_hooks(session_class, "audit_chain", before_commit=_write_pending,
                  after_rollback=discard_pending)


@dataclass(frozen=True)
class ChainProblem:
    seq: int | None
    entry_id: int | None
    problem: str


@dataclass(frozen=True)
class ChainHead:
    """The newest entry of the chain: its ``seq`` (the number of entries) and hash.
    ``0:GENESIS`` for an empty log. Written ``SEQ:HASH``."""

    seq: int
    hash: str

    _FORMAT = re.compile(r"^(\d{1,12}):([0-9a-f]{64})$")

    def __str__(self) -> str:
        return f"{self.seq}:{self.hash}"

    @classmethod
    def parse(cls, value) -> "ChainHead":
        """``SEQ:HASH`` (as ``audit head`` prints it), or a mapping with ``seq`` and ``hash``
        (the ``.head.json`` beside a backup). ``ValueError`` when it is neither."""
        if isinstance(value, dict):
            value = f"{value.get('seq')}:{value.get('hash')}"
        match = cls._FORMAT.match(str(value).strip().lower())
        if match is None:
            raise ValueError("An audit chain head is written SEQ:HASH (a number, a colon and "
                             "64 hexadecimal digits), as `audit head` prints it.")
        return cls(int(match.group(1)), match.group(2))

    def as_dict(self) -> dict:
        return {"seq": self.seq, "hash": self.hash}

    def label(self) -> str:
        """One line for a footer: what ``audit verify --head`` takes, with its name."""
        # in the reader's language (an export's footer, a digest); SEQ:HASH stays as is
        return _("Audit log head: %(head)s (audit verify --head)", head=str(self))


def chain_head(session: Session) -> ChainHead:
    """The chain's head as committed (the newest entry; ``0:GENESIS`` for an empty log)."""
    last = session.execute(
        select(AuditEntry.seq, AuditEntry.hash).order_by(AuditEntry.seq.desc()).limit(1)
    ).first()
    return ChainHead(last.seq, last.hash) if last else ChainHead(0, GENESIS)


def check_head(session: Session, head: ChainHead) -> list[ChainProblem]:
    """Whether the log still reaches ``head`` with the same hash there: the newest entries
    removed (the log ends before it) or the log changed or rewritten up to it."""
    if head.seq == 0:
        return [] if head.hash == GENESIS else [
            ChainProblem(0, None, "the recorded head 0 must carry the genesis hash")]
    entry = session.execute(
        select(AuditEntry.id, AuditEntry.hash).where(AuditEntry.seq == head.seq)).first()
    if entry is None:
        last = chain_head(session).seq
        if last < head.seq:
            missing = head.seq - last
            return [ChainProblem(head.seq, None,
                                 f"the log ends at entry {last} but the recorded head is entry "
                                 f"{head.seq}: {missing} newest entr{'y is' if missing == 1 else 'ies are'} "
                                 "missing (removed after the head was recorded)")]
        return [ChainProblem(head.seq, None, f"entry {head.seq} of the recorded head is missing")]
    if entry.hash != head.hash:
        return [ChainProblem(head.seq, entry.id,
                             f"entry {head.seq} does not match the recorded head (another hash): "
                             "the log was changed or rewritten up to it")]
    return []


def verify_chain(session: Session, batch_size: int = 2000,
                 head: ChainHead | None = None) -> list[ChainProblem]:
    """Recompute every hash in order; report changed, removed or reordered entries, and,
    given a ``head`` recorded earlier, a log cut short or rewritten up to it."""
    problems: list[ChainProblem] = []
    prev_hash, expected_seq = GENESIS, 1
    last_seq = 0
    while True:
        rows = session.execute(
            select(AuditEntry).where(AuditEntry.seq > last_seq)
            .order_by(AuditEntry.seq).limit(batch_size)
        ).scalars().all()
        if not rows:
            break
        for e in rows:
            if e.seq != expected_seq:
                problems.append(ChainProblem(e.seq, e.id,
                                             f"entries {expected_seq}..{e.seq - 1} are missing"))
            if e.prev_hash != prev_hash:
                problems.append(ChainProblem(e.seq, e.id,
                                             "link to the previous entry is broken (an entry before it was changed or removed)"))
            fields = {k: getattr(e, k) for k in ("at", "user_id", "username", "action",
                                                 "object_type", "object_id", "summary",
                                                 "before", "after", "reason")}
            if entry_hash(e.prev_hash, e.seq, fields) != e.hash:
                problems.append(ChainProblem(e.seq, e.id, "content was changed after it was written"))
            prev_hash, expected_seq, last_seq = e.hash, e.seq + 1, e.seq
        for e in rows:
            session.expunge(e)
    if head is not None:
        problems.extend(check_head(session, head))
    return problems


def iter_entries(session: Session, stmt, batch_size: int = 1000) -> Iterator[AuditEntry]:
    yield from session.execute(stmt.execution_options(yield_per=batch_size)).scalars()
