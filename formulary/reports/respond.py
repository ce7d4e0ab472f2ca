"""Sending a workbook over HTTP: the thin edge between a report's sheets and a response.

The workbook is written to an anonymous temporary file (rows stream from the database
into it), then the file is sent in chunks: memory stays flat whatever the size. The file
disappears when the response closes it.
"""

from __future__ import annotations

import tempfile
from collections.abc import Iterable

from flask import Response, send_file

from formulary.reports.workbook import Sheet, write_workbook

XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


def workbook_response(sheets: Iterable[Sheet], filename: str, tz) -> Response:
    out = tempfile.TemporaryFile(suffix=".xlsx")
    try:
        write_workbook(sheets, out, tz=tz)
        out.seek(0)
    except BaseException:
        out.close()
        raise
    response = send_file(out, mimetype=XLSX, as_attachment=True, download_name=filename,
                         max_age=0)
    response.headers["Cache-Control"] = "no-store"  # patient data: never cached
    return response
