"""The scanned signed form of a consent (SPEC §11): checked by its content
(``domain.scans``), kept as a blob beside the consent in the same transaction, downloaded
by those who may read the patient's courses (audited as a view of the record)."""

from __future__ import annotations

import hashlib

from sqlalchemy import select
from sqlalchemy.orm import Session, undefer

from formulary.audit.services import record
from formulary.courses.models import Consent, ConsentScan
from formulary.db import utcnow
from formulary.domain.errors import Duplicate, NotFound
from formulary.domain.scans import MAX_SCAN_BYTES, check_scan

MAX_NAME = 200


def read_upload(upload) -> bytes:
    """An uploaded file's bytes (at most one more than the limit, so a huge upload is not
    read whole); the upload's spooled file is closed at once."""
    try:
        return upload.stream.read(MAX_SCAN_BYTES + 1)
    finally:
        upload.close()


def attach_scan(session: Session, actor, consent: Consent, *, data: bytes,
                filename: str | None) -> ConsentScan:
    kind = check_scan(data)
    if session.execute(select(ConsentScan.id).where(ConsentScan.consent_id == consent.id)
                       ).first() is not None:
        raise Duplicate("This consent already has its signed form.", field="scan")
    stem = (filename or "").rsplit("/", 1)[-1].rsplit("\\", 1)[-1].rsplit(".", 1)[0].strip()
    # ASCII only: the name goes back in a Content-Disposition header.
    stem = "".join(ch for ch in stem if ch.isascii() and (ch.isalnum() or ch in "-_ ")
                   )[:60].strip() or "consent"
    scan = ConsentScan(consent_id=consent.id, content_type=kind.content_type,
                       filename=f"{stem}.{kind.extension}", size=len(data),
                       sha256=hashlib.sha256(data).hexdigest(), data=data,
                       uploaded_by_id=actor.id, uploaded_at=utcnow())
    session.add(scan)
    session.flush()
    record(session, actor, "consent.scan", "course", consent.course_id,
           summary=f"Signed consent form attached to consent #{consent.id} "
                   f"({kind.extension.upper()}, {len(data)} bytes)",
           after={"consent_id": consent.id, "content_type": kind.content_type,
                  "size": len(data), "sha256": scan.sha256})
    return scan


def scans_of(session: Session, consent_ids: list[int]) -> dict[int, ConsentScan]:
    """The scans of the consents named, without their bytes: one statement."""
    if not consent_ids:
        return {}
    return {s.consent_id: s for s in session.execute(
        select(ConsentScan).where(ConsentScan.consent_id.in_(consent_ids))).scalars()}


def get_scan(session: Session, consent_id: int) -> ConsentScan:
    scan = session.execute(select(ConsentScan).options(undefer(ConsentScan.data))
                           .where(ConsentScan.consent_id == consent_id)).scalar_one_or_none()
    if scan is None:
        raise NotFound("This consent has no signed form on file.")
    return scan
