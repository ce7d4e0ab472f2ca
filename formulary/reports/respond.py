"""Sending a workbook over HTTP: the thin edge between a report's sheets and a response.

The workbook is written to an anonymous temporary file (rows stream from the database
into it), then the file is sent in chunks and closed, and so deleted, once the last
chunk is out or the client goes away: memory stays flat whatever the size.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Iterable, Iterator
from typing import BinaryIO

from flask import Response

from formulary.reports.workbook import Sheet, write_workbook

XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
CHUNK = 64 * 1024


def _chunks(f: BinaryIO) -> Iterator[bytes]:
    try:
        while chunk := f.read(CHUNK):
            yield chunk
    finally:
        f.close()


def file_response(f: BinaryIO, filename: str) -> Response:
    """Send the binary file ``f`` (positioned at its start) as an .xlsx attachment; the
    response closes it."""
    start = f.tell()
    size = f.seek(0, os.SEEK_END) - start
    f.seek(start)
    response = Response(_chunks(f), mimetype=XLSX, direct_passthrough=True)
    response.headers.set("Content-Disposition", "attachment", filename=filename)
    response.headers["Content-Length"] = str(size)
    response.headers["Cache-Control"] = "no-store"  # patient data: never cached
    return response


def workbook_response(sheets: Iterable[Sheet], filename: str, tz,
                      footer: str | None = None, **options) -> Response:
    """``options``: more of ``write_workbook``'s (``title``, ``currency``)."""
    out = tempfile.TemporaryFile(suffix=".xlsx")
    try:
        write_workbook(sheets, out, tz=tz, footer=footer, **options)
        out.seek(0)
    except BaseException:
        out.close()
        raise
    return file_response(out, filename)
