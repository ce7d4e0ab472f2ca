"""The audit trail of the generated year, chained in bulk.

Entries are made in time order with the same hash as ``formulary.audit.services`` writes
(``entry_hash``), starting the chain at the genesis hash (the database is empty), so that
``flask audit verify`` passes. The demo users' own entries, queued through ``record``,
are chained after these at commit.
"""

from __future__ import annotations

from datetime import timezone

from formulary.audit.services import GENESIS, entry_hash


def chain(events, usernames):
    """``events``: (at, user id, action, object type, object id, summary). Returns rows."""
    rows = []
    prev = GENESIS
    events.sort(key=lambda e: e[0])
    for seq, (at, user_id, action, obj_type, obj_id, summary) in enumerate(events, start=1):
        fields = {"at": at.astimezone(timezone.utc).replace(microsecond=0), "user_id": user_id,
                  "username": usernames.get(user_id, "system"), "action": action,
                  "object_type": obj_type, "object_id": str(obj_id), "summary": summary[:300],
                  "before": None, "after": None, "reason": None}
        h = entry_hash(prev, seq, fields)
        rows.append(dict(fields, id=seq, seq=seq, prev_hash=prev, hash=h))
        prev = h
    return rows
