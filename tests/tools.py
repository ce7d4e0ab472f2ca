"""What the run needs from outside Python, decided once: the tests that need it and the
run's header (``pytest_report_header``) read the same conditions, so the header names
every skip the run will make."""

from __future__ import annotations

import os
import shutil

#: LibreOffice's program (Debian installs both names), or None: its checks are skipped.
LIBREOFFICE = shutil.which("libreoffice") or shutil.which("soffice")
LIBREOFFICE_SKIP = "LibreOffice checks skipped: neither libreoffice nor soffice is on the PATH"

#: A PostgreSQL login that may create databases, for the migration tests (each builds and
#: drops a database of its own); empty: those tests are skipped.
POSTGRES_ADMIN_URL = os.environ.get("TEST_POSTGRES_ADMIN_URL", "").strip()
POSTGRES_ADMIN_SKIP = "PostgreSQL migration tests skipped: TEST_POSTGRES_ADMIN_URL is not set"
