"""Rows and clients for the jobs tests."""

from __future__ import annotations

import io
from datetime import timedelta

from openpyxl import load_workbook
from sqlalchemy import func, insert, select

from formulary.audit.models import AuditEntry
from formulary.db import utcnow
from formulary.extensions import db
from tests.conftest import PASSWORD


def add_audit_rows(n: int, chunk: int = 5000) -> None:
    """``n`` audit entries made directly (an export reads them; the chain is not what is
    tested here), committed."""
    start = (db.session.execute(select(func.max(AuditEntry.seq))).scalar() or 0) + 1
    at = utcnow() - timedelta(hours=1)
    for lo in range(0, n, chunk):
        db.session.execute(insert(AuditEntry), [
            {"seq": start + i, "at": at, "username": "bulk", "action": "test.row",
             "object_type": "test", "object_id": str(i), "summary": f"row {i}",
             "prev_hash": "0" * 64, "hash": "0" * 64}
            for i in range(lo, min(n, lo + chunk))])
    db.session.commit()


class Api:
    def __init__(self, client, token):
        self.client, self.headers = client, {"Authorization": f"Bearer {token}"}

    def get(self, url, **kw):
        return read_whole(self.client.get(url, headers=self.headers, **kw))

    def post(self, url, json=None, **kw):
        return self.client.post(url, json=json, headers=self.headers, **kw)


def user_api(app, role: str, username: str):
    from formulary.auth import services

    user = services.create_user(db.session, "test", username=username, password=PASSWORD,
                                role=role)
    db.session.flush()
    token, _ = services.create_token(db.session, user, days=1)
    db.session.commit()
    return Api(app.test_client(), token), user


def rows_of(data: bytes, sheet: str) -> list[tuple]:
    wb = load_workbook(io.BytesIO(data), read_only=True)
    return list(wb[sheet].iter_rows(values_only=True))


def read_whole(response):
    """The response read and closed (a file response holds its file open until then)."""
    response.get_data()
    response.close()
    return response
