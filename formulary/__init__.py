"""Formulary: stock room, formulary and compounding log of a mesotherapy clinic."""

from __future__ import annotations

import gc
import importlib
import importlib.util
import logging
import os

from flask import Flask
from markupsafe import Markup
from werkzeug.routing import IntegerConverter

from config import CONFIGS, ProductionConfig
from formulary.db import MAX_ID

#: The areas of the application, each a package with a ``views.py`` defining ``bp``.
AREAS = ("main", "auth", "audit", "inventory", "cocktails", "patients", "compounding", "reports",
         "courses", "recalls", "search", "jobs")


def create_app(config: str | type | None = None) -> Flask:
    app = Flask(__name__, template_folder="../templates", static_folder="../static",
                instance_relative_config=True)
    _load_config(app, config)
    trust_proxies(app)
    from formulary.errors import refuse_too_large_early

    app.before_request(refuse_too_large_early)  # the first hook: an over-size body is never read
    _init_extensions(app)
    _register_blueprints(app)
    _register_error_handlers(app)
    _register_template_helpers(app)
    _register_cli(app)
    # What start-up built (modules, the app, its routes and tables) lives as long as the
    # process: move it out of the garbage collector's reach, so that its full passes,
    # which a busy request sets off, walk only what requests make (and, under gunicorn's
    # preload, the workers share those pages instead of copying them).
    gc.collect()
    gc.freeze()
    return app


def _load_config(app: Flask, config) -> None:
    if config is None:
        config = os.environ.get("FORMULARY_CONFIG") or ("production" if os.environ.get("FLASK_ENV") == "production" else "development")
    cls = CONFIGS[config] if isinstance(config, str) else config
    if issubclass(cls, ProductionConfig):
        cls.check()
    app.config.from_object(cls)
    # The environment is read when the app is made, not when config.py was imported.
    if os.environ.get("SECRET_KEY"):
        app.config["SECRET_KEY"] = os.environ["SECRET_KEY"]
    if os.environ.get("DATABASE_URL") and not app.testing:
        from config import _database_url

        app.config["SQLALCHEMY_DATABASE_URI"] = _database_url("")
    os.makedirs(app.instance_path, exist_ok=True)
    logging.basicConfig(level=logging.INFO if not app.testing else logging.WARNING)
    logging.getLogger("alembic.runtime.plugins").setLevel(logging.WARNING)


def trust_proxies(app: Flask) -> None:
    """Behind ``TRUSTED_PROXIES`` reverse proxies, read the client's address and scheme
    from the ``X-Forwarded-For`` / ``X-Forwarded-Proto`` they set (werkzeug's ProxyFix,
    which takes the entry the outermost trusted proxy added, not what the client sent).
    With 0, the default, those headers are ignored."""
    proxies = int(app.config.get("TRUSTED_PROXIES") or 0)
    if proxies < 0:
        raise ValueError("TRUSTED_PROXIES must be 0 or more.")
    if proxies:
        from werkzeug.middleware.proxy_fix import ProxyFix

        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=proxies, x_proto=proxies)


def _init_extensions(app: Flask) -> None:
    from formulary import db as dbmod
    from formulary import request_text, security, transaction
    from formulary.audit import services as audit_services
    from formulary.extensions import bootstrap, csrf, db, login_manager, migrate
    from formulary.inventory import totals as stock_totals

    from formulary.models import load_all

    load_all()
    db.init_app(app)
    migrate.init_app(app, db, render_as_batch=True, compare_type=True)
    csrf.init_app(app)
    bootstrap.init_app(app)
    login_manager.init_app(app)
    login_manager.login_view = "auth.login"
    from formulary.i18n import _l
    from formulary.i18n import install as install_i18n

    install_i18n(app)
    login_manager.login_message = _l("Log in to open this page.")
    login_manager.login_message_category = "info"
    login_manager.session_protection = "basic"
    with app.app_context():
        for engine in db.engines.values():
            dbmod.configure_engine(engine, app.config["SQLITE_BUSY_TIMEOUT"])
    from flask_sqlalchemy.session import Session

    stock_totals.install(Session, audit_services.install)  # hooks in their order
    from formulary.courses import revision as courses_revision

    courses_revision.install(Session)  # after the stock revision: the dashboard's due counts
    from formulary.jobs import kinds as job_kinds, queue as job_queue, services as job_services

    job_kinds.load_kinds()
    job_services.install(Session)  # a job goes on the queue when its row is committed
    job_queue.init_app(app)
    transaction.install(app)
    security.install(app)
    request_text.install(app)  # after CSRFProtect's hook: the token is read as sent


class _DatabaseInt(IntegerConverter):
    """``<int:...>`` in every URL: an id beyond what an integer column holds names no row,
    so it is read as 0 (ids start at 1) and the view answers 404 as for any unknown id,
    instead of the number reaching the database driver (which refuses it with an error)."""

    def to_python(self, value: str) -> int:
        number = super().to_python(value)
        return number if number <= MAX_ID else 0


def _register_blueprints(app: Flask) -> None:
    from formulary import api
    from formulary.extensions import csrf

    app.url_map.converters["int"] = _DatabaseInt
    for area in AREAS:
        name = f"formulary.{area}.views"
        if importlib.util.find_spec(name) is not None:
            app.register_blueprint(importlib.import_module(name).bp)
    api.load_routes()
    csrf.exempt(api.bp)  # the API authenticates by bearer token only, never by cookie
    app.register_blueprint(api.bp)


def _register_error_handlers(app: Flask) -> None:
    from formulary.errors import register_error_handlers

    register_error_handlers(app)


def _register_template_helpers(app: Flask) -> None:
    from formulary import clock
    from formulary.auth.permissions import ROLE_LABELS
    from formulary.nav import menu_for_current_user, personal_menu_for_current_user

    from formulary.display import status_badge

    app.add_template_global(status_badge, "status_badge")
    from formulary.display import code_word

    app.add_template_global(code_word, "code_word")

    from formulary import i18n

    @app.context_processor
    def _helpers():
        return {"nav_menu": menu_for_current_user, "personal_menu": personal_menu_for_current_user,
                "role_label": lambda r: i18n.tr(ROLE_LABELS.get(r, r)),
                "now": clock.now, "html_lang": i18n.locale_code, "tr": i18n.tr}

    # Dates, times, quantities and money in the reader's locale (formulary/i18n.py).
    app.add_template_filter(i18n.format_datetime_l, "local_dt")
    app.add_template_filter(i18n.format_date_l, "date")
    app.add_template_filter(i18n.format_qty_l, "qty")
    app.add_template_filter(i18n.format_money_l, "money")
    app.add_template_filter(i18n.tr, "tr")

    @app.template_filter("nl2br")
    def _nl2br(value):
        return Markup("<br>").join((value or "").splitlines())


def _register_cli(app: Flask) -> None:
    from formulary.cli import register_cli

    register_cli(app)
