"""Shell commands: ``flask --app wsgi create-user | demo-data | audit head | audit verify``.

Each command is one transaction: it commits once at the end, or not at all.
"""

from __future__ import annotations

import importlib
import importlib.util
import json
import sys
from pathlib import Path

import click
from flask import Flask
from sqlalchemy import func, select

from formulary.auth import services as auth_services
from formulary.auth.models import User
from formulary.auth.permissions import ROLES
from formulary.domain.errors import DomainError
from formulary.auth import demo as auth_demo
from formulary.extensions import db

#: Areas that contribute demo data, in the order they depend on each other. Each has a
#: module ``formulary/<area>/demo.py`` with ``load(session, ctx: dict)``.
DEMO_AREAS = ("auth", "inventory", "cocktails", "patients", "compounding", "courses")
DEMO_ADMIN = ("admin", "formulary-admin")


def load_demo(session) -> dict:
    ctx: dict = {}
    for area in DEMO_AREAS:
        name = f"formulary.{area}.demo"
        if importlib.util.find_spec(name) is not None:
            importlib.import_module(name).load(session, ctx)
            session.flush()
    return ctx


def register_cli(app: Flask) -> None:
    @app.cli.command("create-user")
    @click.argument("username")
    @click.option("--role", type=click.Choice(ROLES), required=True)
    @click.option("--password", help="prompted for when not given")
    @click.option("--full-name", default="")
    def create_user(username, role, password, full_name):
        """Create a user (the shell's actor is recorded as 'cli')."""
        if password is None:
            password = click.prompt("Password", hide_input=True, confirmation_prompt=True)
        try:
            user = auth_services.create_user(db.session, "cli", username=username,
                                             password=password, role=role, full_name=full_name)
            db.session.commit()
        except DomainError as exc:
            db.session.rollback()
            details = "; ".join(f"{k}: {' '.join(v)}" for k, v in exc.fields.items())
            raise click.ClickException(f"{exc.message} {details}".strip()) from None
        click.echo(f"Created {user.role} {user.username}.")

    @app.cli.command("demo-data")
    @click.option("--if-empty", is_flag=True, help="do nothing when the database has users")
    @click.option("--scale", type=click.Choice(["clinic", "year"]), default="clinic",
                  help="clinic: a small realistic clinic; year: a year of a busy clinic, in bulk")
    def demo_data(if_empty, scale):
        """Load a realistic demo clinic (ingredients, lots, cocktails, patients, batches)."""
        if scale == "year":
            from formulary.scale import load_year  # the bulk generator

            load_year(db.session, echo=click.echo)
            return
        has_users = db.session.execute(select(func.count()).select_from(User)).scalar_one()
        if has_users:
            if if_empty:
                click.echo("Demo data: the database already has data; left as it is.")
                return
            raise click.ClickException("The database already has data; demo data goes into an empty one.")
        try:
            load_demo(db.session)
            db.session.commit()
        except Exception:
            db.session.rollback()
            raise
        click.echo("Demo data loaded.")
        others = ", ".join(name for name, _role, _full in auth_demo.USERS if name != DEMO_ADMIN[0])
        click.echo(f"Log in at http://127.0.0.1:5000 as '{DEMO_ADMIN[0]}' with password "
                   f"'{DEMO_ADMIN[1]}' (demo users {others}: same password; pharmacist2 is "
                   "the second pharmacist who verifies and approves what pharmacist made).")

    # Further command groups of their own modules (backup and restore, ...).
    for name in ("formulary.backup", "formulary.jobs.cli"):
        if importlib.util.find_spec(name) is not None:
            importlib.import_module(name).register_cli(app)

    @app.cli.group("audit")
    def audit_group():
        """The audit log."""

    @audit_group.command("head")
    @click.option("--json", "as_json", is_flag=True, help="print {\"seq\": N, \"hash\": H}")
    def audit_head(as_json):
        """Print the chain's head (newest entry's number and hash) to keep outside the log."""
        from formulary.audit.services import chain_head

        head = chain_head(db.session)
        db.session.rollback()
        click.echo(json.dumps(head.as_dict()) if as_json else str(head))

    @audit_group.command("verify")
    @click.option("--head", "head_text", metavar="SEQ:HASH",
                  help="a head recorded earlier (`audit head`, an export's footer): the log "
                       "must still reach it, with the same hash")
    @click.option("--head-file", type=click.Path(exists=True, dir_okay=False, path_type=Path),
                  help="the same, from a JSON file (the .head.json written beside a backup)")
    def audit_verify(head_text, head_file):
        """Recompute the hash chain; exit 1 if any entry was changed or removed, or if the
        log no longer reaches the given head."""
        from formulary.audit.models import AuditEntry
        from formulary.audit.services import ChainHead, verify_chain

        if head_text and head_file:
            raise click.UsageError("Give --head or --head-file, not both.")
        head = None
        try:
            if head_text:
                head = ChainHead.parse(head_text)
            elif head_file:
                head = ChainHead.parse(json.loads(head_file.read_text(encoding="utf-8")))
        except (ValueError, AttributeError) as exc:
            raise click.BadParameter(str(exc), param_hint="--head / --head-file") from None
        count = db.session.execute(select(func.count()).select_from(AuditEntry)).scalar_one()
        problems = verify_chain(db.session, head=head)
        db.session.rollback()
        if problems:
            for p in problems:
                click.echo(f"entry {p.seq} (id {p.entry_id}): {p.problem}", err=True)
            click.echo(f"Audit log: {len(problems)} problem(s) in {count} entries.", err=True)
            sys.exit(1)
        against = f", reaches the recorded head {head.seq}" if head is not None else ""
        click.echo(f"Audit log verified: {count} entries, chain intact{against}.")
