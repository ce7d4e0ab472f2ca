"""``flask --app wsgi backup PATH`` and ``flask --app wsgi restore PATH``.

- SQLite: the online backup API (``sqlite3.Connection.backup``) copies a consistent
  snapshot page by page while the application keeps running; a restore copies the file
  back over the live database the same way (one transaction: readers see the old data or
  the new, never a mix).
- PostgreSQL: ``pg_dump -Fc`` (a consistent snapshot of one transaction) and
  ``pg_restore --clean --if-exists --single-transaction`` (all or nothing). The password,
  when the URL has one, is passed in ``PGPASSWORD``, never on the command line.

A restore replaces everything: it refuses to overwrite a database that holds data unless
``--yes`` is given or the person at the terminal confirms. After a restore the stock ledger
(``check_books``) and the audit hash chain (``verify_chain``) are checked and reported.

Beside every backup ``PATH`` goes ``PATH.head.json``: the audit chain's head (``{"seq",
"hash", "at"}``), read just before the copy starts, so the copy holds at least that
head. A restore checks the restored log against it (when the file is there), and ``audit
verify --head-file PATH.head.json`` checks the live log against it: the removal of the
newest entries after the backup, which the chain alone cannot see, is found.
"""

from __future__ import annotations

import json
import os
import shutil
import sqlite3
import subprocess
from pathlib import Path

import click
from flask import Flask
from sqlalchemy import func, inspect, select
from sqlalchemy.engine import URL

from formulary.extensions import db


def _sqlite_path(url: URL) -> str:
    if url.database in (None, "", ":memory:"):
        raise click.ClickException("An in-memory SQLite database cannot be backed up or restored.")
    return url.database


def _pg_args(url: URL) -> tuple[list[str], dict]:
    for tool in ("pg_dump", "pg_restore"):
        if shutil.which(tool) is None:
            raise click.ClickException(f"{tool} is not installed (Debian: apt install postgresql-client).")
    args = []
    if url.host:
        args += ["-h", url.host]
    if url.port:
        args += ["-p", str(url.port)]
    if url.username:
        args += ["-U", url.username]
    env = dict(os.environ)
    if url.password:
        env["PGPASSWORD"] = str(url.password)
    return args + ["-d", url.database], env


def _run(cmd: list[str], env: dict) -> None:
    result = subprocess.run(cmd, env=env, capture_output=True, text=True)
    if result.returncode != 0:
        raise click.ClickException(f"{cmd[0]} failed: {result.stderr.strip()}")


def has_data() -> bool:
    """Whether the current database holds any user or stock (the tables may not exist)."""
    from formulary.auth.models import User

    if not inspect(db.engine).has_table(User.__tablename__):
        return False
    return db.session.execute(select(func.count()).select_from(User)).scalar_one() > 0


def head_path(path: Path) -> Path:
    """Where the audit chain's head of the backup ``path`` is kept."""
    return path.with_name(path.name + ".head.json")


def read_head(path: Path):
    """The head recorded beside the backup ``path``, or None when there is no such file
    (a backup made before heads were recorded). A file that is not a head raises."""
    from formulary.audit.services import ChainHead

    file = head_path(path)
    if not file.exists():
        return None
    try:
        return ChainHead.parse(json.loads(file.read_text(encoding="utf-8")))
    except (ValueError, AttributeError) as exc:
        raise click.ClickException(f"{file} is not an audit chain head: {exc}") from None


def backup(path: Path):
    """Copy the database to ``path`` and its audit chain's head to ``head_path(path)``;
    answers the head."""
    from formulary.audit.services import chain_head
    from formulary.db import utcnow

    url = db.engine.url
    path.parent.mkdir(parents=True, exist_ok=True)
    # Read before the copy begins: entries are only added, so the copy reaches it.
    head = chain_head(db.session) if inspect(db.engine).has_table("audit_entry") else None
    db.session.rollback()
    _copy(url, path)
    if head is not None:
        head_path(path).write_text(
            json.dumps({**head.as_dict(), "at": utcnow().isoformat()}) + "\n", encoding="utf-8")
    return head


def _copy(url: URL, path: Path) -> None:
    if db.engine.dialect.name == "sqlite":
        source = sqlite3.connect(_sqlite_path(url))
        target = sqlite3.connect(path)
        try:
            with target:
                source.backup(target)
        finally:
            target.close()
            source.close()
        return
    args, env = _pg_args(url)
    _run(["pg_dump", "-Fc", "--no-owner", "-f", str(path), *args], env)


def restore(path: Path) -> None:
    url = db.engine.url
    db.session.remove()
    db.engine.dispose()  # no pooled connection of ours holds a lock on the tables
    if db.engine.dialect.name == "sqlite":
        source = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
        try:
            if source.execute("PRAGMA integrity_check").fetchone()[0] != "ok":
                raise click.ClickException(f"{path} is not an intact SQLite database.")
            target = sqlite3.connect(_sqlite_path(url), timeout=30)
            try:
                source.backup(target)
            finally:
                target.close()
        except sqlite3.DatabaseError as exc:
            raise click.ClickException(f"{path} is not a SQLite database: {exc}") from None
        finally:
            source.close()
        return
    args, env = _pg_args(url)
    _run(["pg_restore", "--list", str(path)], env)  # a readable archive, before touching anything
    _run(["pg_restore", "--clean", "--if-exists", "--no-owner", "--single-transaction",
          "--exit-on-error", *args, str(path)], env)


def report(head=None) -> tuple[int, int, int, int]:
    """(lots, ledger problems, audit entries, audit problems) of the current database; the
    audit log is checked against ``head`` too when one is given."""
    from formulary.audit.models import AuditEntry
    from formulary.audit.services import verify_chain
    from formulary.inventory.ledger import check_books
    from formulary.inventory.models import Lot

    lots = db.session.execute(select(func.count()).select_from(Lot)).scalar_one()
    entries = db.session.execute(select(func.count()).select_from(AuditEntry)).scalar_one()
    result = (lots, len(check_books(db.session)), entries, len(verify_chain(db.session, head=head)))
    db.session.rollback()
    return result


def register_cli(app: Flask) -> None:
    @app.cli.command("backup")
    @click.argument("path", type=click.Path(dir_okay=False, path_type=Path))
    def backup_command(path: Path):
        """Write a consistent copy of the database to PATH (SQLite file or pg_dump archive)."""
        head = backup(path)
        click.echo(f"Backed up {db.engine.dialect.name} database to {path} "
                   f"({path.stat().st_size} bytes).")
        if head is not None:
            click.echo(f"Audit chain head {head} written to {head_path(path)}: keep it with "
                       "the backup (`audit verify --head-file` checks a log against it).")

    @app.cli.command("restore")
    @click.argument("path", type=click.Path(exists=True, dir_okay=False, path_type=Path))
    @click.option("--yes", is_flag=True, help="replace a database that holds data without asking")
    def restore_command(path: Path, yes: bool):
        """Replace the database with the backup at PATH, then verify the ledger and audit chain."""
        head = read_head(path)  # a bad head file refuses before anything is touched
        occupied = has_data()
        db.session.rollback()
        if occupied and not yes:
            click.confirm("The database holds data; replace all of it with the backup?", abort=True)
        restore(path)
        lots, book_problems, entries, chain_problems = report(head)
        click.echo(f"Restored {path}: {lots} lots, {entries} audit entries.")
        if head is None:
            click.echo(f"No {head_path(path).name} beside the backup: the audit log was not "
                       "checked against a recorded head.")
        if book_problems or chain_problems:
            raise click.ClickException(f"After the restore: {book_problems} lot(s) off their ledger, "
                                       f"{chain_problems} audit chain problem(s).")
        click.echo("Stock ledger and audit chain verified"
                   + (f" (the log reaches the recorded head {head.seq})." if head else "."))
