"""Fixtures shared by every test.

Database tests run on SQLite and, when ``TEST_DATABASE_URL`` names a PostgreSQL database,
on PostgreSQL too: the ``app`` fixture is parametrized over the backends. Each test starts
from empty tables. The CSRF protection stays on in tests: page tests post the token
the form carries (``client.post_form``).
"""

from __future__ import annotations

import os
import re
import shutil
import tempfile
import time
from contextlib import contextmanager
from itertools import count

import pytest
from flask.testing import FlaskClient
from sqlalchemy import text

# Every process of the run (pytest-xdist's workers, and the servers and job workers the tests
# start, which inherit the environment) keeps its job queue, job files and backups under one
# directory made for the run (config.TestingConfig reads it), removed when the run ends: no
# /tmp/formulary-test-<pid> left behind by each process. Set before config is imported.
_RUN_TMP_OWNED = "FORMULARY_TEST_TMP" not in os.environ
if _RUN_TMP_OWNED:
    os.environ["FORMULARY_TEST_TMP"] = tempfile.mkdtemp(prefix="formulary-tests-")

from config import TestingConfig  # noqa: E402
from formulary import create_app  # noqa: E402
from formulary.extensions import db  # noqa: E402
from tests import tools  # noqa: E402

# The tests' own "today" (date.today(), datetime.now()) is the clinic's: the process runs in the
# clinic's zone, so a test that makes a batch "today" and filters by today's date agrees with the
# app at any hour (at 23:30 UTC it is already tomorrow in Paris).
os.environ["TZ"] = TestingConfig.CLINIC_TIMEZONE
time.tzset()

#: The PostgreSQL database given to the run (``TEST_DATABASE_URL``), or "".
PG_RUN_URL = os.environ.get("TEST_DATABASE_URL", "").strip()
#: Under pytest-xdist (``-n``), each worker process (gw0, gw1, ...) has a PostgreSQL database
#: of its own, named after the run's with the worker's id appended, made when the worker
#: starts and dropped when it ends: the workers' tests empty the tables, terminate the
#: database's backends and count its waiting connections, which must not reach another
#: worker's. Without xdist the run's database itself is used.
WORKER = os.environ.get("PYTEST_XDIST_WORKER", "")


def _worker_url(url: str, worker: str) -> str:
    if not url or not worker:
        return url
    from sqlalchemy.engine import make_url

    parsed = make_url(url)
    return parsed.set(database=f"{parsed.database}_{worker}").render_as_string(hide_password=False)


PG_URL = _worker_url(PG_RUN_URL, WORKER)
BACKENDS = ["sqlite"] + (["postgresql"] if PG_URL else [])
PASSWORD = "correct horse battery"
_CSRF_RE = re.compile(r'name="csrf_token"[^>]*value="([^"]+)"|value="([^"]+)"[^>]*name="csrf_token"')


def _worker_database(action: str) -> None:
    """CREATE or DROP this worker's PostgreSQL database, through ``TEST_POSTGRES_ADMIN_URL``
    when given, otherwise through the run's database (whose login may then create one)."""
    from sqlalchemy import create_engine
    from sqlalchemy.engine import make_url

    name = make_url(PG_URL).database
    admin = create_engine(tools.POSTGRES_ADMIN_URL or PG_RUN_URL, isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
            if action == "create":
                conn.execute(text(f'CREATE DATABASE "{name}"'))
    finally:
        admin.dispose()


def pytest_configure(config):
    if PG_URL != PG_RUN_URL:
        _worker_database("create")


@pytest.hookimpl(tryfirst=True)
def pytest_sessionfinish(session):
    # Here, not in pytest_unconfigure: the controller may end a worker's process as soon as
    # the worker reports its session finished (tryfirst: before xdist's own hook reports it).
    if PG_URL != PG_RUN_URL:
        for app, _config in _shared_apps.values():
            with app.app_context():
                db.engine.dispose()
        _worker_database("drop")


def pytest_unconfigure(config):
    if _RUN_TMP_OWNED:  # the process that made the run's directory (the controller under xdist)
        shutil.rmtree(os.environ["FORMULARY_TEST_TMP"], ignore_errors=True)


@pytest.hookimpl(trylast=True)
def pytest_collection_modifyitems(config, items):
    """The modules of the longest tests first (those marked ``slow``, then the browser's),
    the rest in their order: the workers (``--dist loadfile``: one module to a worker at a
    time, in this order) then end together on short modules, instead of one of them
    starting a crawl of a minute when the other has nothing left. A stable sort: a
    module's tests keep their order."""
    weight = {}
    for item in items:
        key = item.nodeid.split("::", 1)[0]
        mark = 0 if item.get_closest_marker("slow") else 1 if item.get_closest_marker("browser") else 2
        weight[key] = min(weight.get(key, 2), mark)
    items.sort(key=lambda item: weight[item.nodeid.split("::", 1)[0]])


def pytest_report_header(config):
    lines = [f"database backends: {', '.join(BACKENDS)}"]
    if not PG_URL:
        lines.append("PostgreSQL tests skipped: TEST_DATABASE_URL is not set")
    if not os.path.exists("/usr/bin/chromium"):
        lines.append("browser tests skipped: no Chromium at /usr/bin/chromium")
    if not tools.LIBREOFFICE:
        lines.append(tools.LIBREOFFICE_SKIP)
    if not tools.POSTGRES_ADMIN_URL:
        lines.append(tools.POSTGRES_ADMIN_SKIP)
    return lines


class FormClient(FlaskClient):
    """A test client that can post a form with the CSRF token its page carries."""

    def csrf_token(self, url: str = "/login") -> str:
        html = self.get(url).get_data(as_text=True)
        match = _CSRF_RE.search(html)
        assert match, f"no CSRF token on {url}"
        return match.group(1) or match.group(2)

    def post_form(self, url: str, data: dict | None = None, *, form_url: str | None = None, **kw):
        data = dict(data or {})
        data.setdefault("csrf_token", self.csrf_token(form_url or url))
        return self.post(url, data=data, **kw)


def make_app(url: str, **overrides):
    class Config(TestingConfig):
        SQLALCHEMY_DATABASE_URI = url
        PROPAGATE_UNEXPECTED = True  # an unexpected error fails the test loudly

    for key, value in overrides.items():
        setattr(Config, key, value)
    app = create_app(Config)
    app.test_client_class = FormClient

    @app.before_request
    def _fresh_g():
        # Tests keep an app context pushed, and a request reuses it, so ``g`` would
        # outlive the request (Flask-Login caches the user there). Start each request
        # as a real server would: with an empty ``g``.
        from flask import g

        for name in list(g):
            if not name.startswith("_write_token"):
                g.pop(name)

    app.before_request_funcs[None].insert(0, app.before_request_funcs[None].pop())
    return app


_shared_apps: dict = {}


def seed_cocktail(lots: list[tuple[str, str, str, str]], *, cocktail: str, username: str) -> dict:
    """For the tests that serve the app to several connections: ingredients in mL, each
    with one lot received in full, given as ``(name, quantity, lot number, mL a dose)``,
    behind one active cocktail (a component per ingredient, in that order), and a
    pharmacist with an API token. Committed, with no transaction left open (on SQLite it
    would hold the write lock). Answers ``cocktail_id``, ``ingredient_ids``, ``lot_ids``,
    ``user_id`` and ``token``."""
    from datetime import date, timedelta
    from decimal import Decimal

    from formulary.auth import services as auth_services
    from formulary.cocktails.models import Cocktail, CocktailVersion, Component
    from formulary.inventory.models import Ingredient, Lot, Movement

    made = []
    for name, quantity, number, _dose in lots:
        ing = Ingredient(name=name, name_key=name.casefold(), category="vitamin", unit="mL")
        q = Decimal(quantity)
        lot = Lot(ingredient=ing, lot_number=number, quantity_received=q, quantity_on_hand=q,
                  expiry_date=date.today() + timedelta(days=300), status="available")
        db.session.add_all([ing, lot, Movement(lot=lot, kind="receipt", quantity_delta=q, balance_after=q)])
        made.append((ing, lot))
    mix = Cocktail(name=cocktail, name_key=cocktail.casefold(), status="active")
    version = CocktailVersion(cocktail=mix, number=1, area="scalp", storage="fridge", status="active")
    for pos, ((ing, _lot), (*_, dose)) in enumerate(zip(made, lots)):
        version.components.append(Component(ingredient=ing, position=pos, amount=Decimal(dose), unit="mL",
                                            stock_quantity=Decimal(dose), stock_unit="mL"))
    db.session.add_all([mix, version])
    db.session.flush()
    mix.active_version = version
    user = auth_services.create_user(db.session, "test", username=username, password=PASSWORD,
                                     role="pharmacist")
    db.session.flush()
    token, _ = auth_services.create_token(db.session, user, days=1)
    ids = {"cocktail_id": mix.id, "ingredient_ids": [ing.id for ing, _ in made],
           "lot_ids": [lot.id for _, lot in made], "user_id": user.id, "token": token}
    db.session.commit()
    db.session.remove()
    return ids


def _empty_tables(app) -> None:
    """Every table emptied, ids restarting at 1, as a fresh database would be.

    Only the tables holding rows are emptied (one query asks which), by DELETE, children
    before parents. PostgreSQL's TRUNCATE of every table did the same at a cost that
    dominated the suite: it gives each table and index a new file, fsynced at commit (a
    few hundred milliseconds a test on a loaded 2-core box, against a few milliseconds
    here). The append-only tables refuse DELETE (formulary.append_only): when they hold
    rows their triggers are dropped for the emptying and made again in the same
    transaction (DDL is transactional on both databases). On PostgreSQL the sequences that
    have handed out a value are set back to 1 (``setval(.., 1, false)``, what ``RESTART
    IDENTITY`` did); SQLite's rowids restart by themselves once a table is empty."""
    from formulary import append_only

    with app.app_context():
        dialect = db.engine.dialect.name
        tables = db.metadata.sorted_tables
        probe = " UNION ALL ".join(f"SELECT '{t.name}' WHERE EXISTS (SELECT 1 FROM \"{t.name}\")"
                                   for t in tables)
        filled = set(db.session.execute(text(probe)).scalars())
        if dialect == "postgresql":
            _empty_postgresql(tables, filled)
        elif filled:
            guarded = [t for t in append_only.TABLES if t in filled]
            db.session.execute(text("PRAGMA foreign_keys=OFF"))
            for statement in append_only.drop_statements(dialect, guarded):
                db.session.execute(text(statement))
            for table in reversed(tables):
                if table.name in filled:
                    db.session.execute(table.delete())
            for statement in append_only.trigger_statements(dialect, guarded):
                db.session.execute(text(statement))
            db.session.execute(text("PRAGMA foreign_keys=ON"))
        db.session.commit()


def _empty_postgresql(tables, filled: set) -> None:
    """The same on PostgreSQL, as one ``DO`` block (one round trip instead of some thirty:
    on a 2-core box the statements' own overhead was most of a test's set-up)."""
    from formulary import append_only

    guarded = [t for t in append_only.TABLES if t in filled]
    body = [*append_only.drop_statements("postgresql", guarded),
            *(f'DELETE FROM "{t.name}"' for t in reversed(tables) if t.name in filled),
            *append_only.trigger_statements("postgresql", guarded, function=False),
            "PERFORM setval(format('%I.%I', schemaname, sequencename)::regclass, 1, false) "
            "FROM pg_sequences WHERE schemaname = current_schema() AND last_value IS NOT NULL"]
    db.session.execute(text(
        "DO $formulary_empty$ BEGIN " + "; ".join(body) + "; END $formulary_empty$"))


def _shared_app(backend: str):
    """One app per backend for the whole run (making one costs a quarter of a second);
    each test gets it with empty tables and its configuration as it was."""
    if backend not in _shared_apps:
        app = make_app("sqlite://" if backend == "sqlite" else PG_URL)
        with app.app_context():
            if backend == "postgresql":
                # Start from nothing: tables of an older schema could block drop_all.
                db.session.execute(text("DROP SCHEMA public CASCADE"))
                db.session.execute(text("CREATE SCHEMA public"))
                db.session.commit()
            db.create_all()
        _shared_apps[backend] = (app, dict(app.config))
    return _shared_apps[backend]


def database_other_processes_open(backend: str, tmp_path, request, name: str):
    """Yields ``(app, url)``: an app whose database other connections and processes can
    open too: the PostgreSQL test database (the ``app`` fixture's, emptied; its engine
    options copied, so a test may change them) or a SQLite file ``name`` under ``tmp_path``
    (``sqlite://`` in memory is private to one connection). For the race, fault and
    concurrency fixtures."""
    if backend == "postgresql":
        app = request.getfixturevalue("app")
        app.config["SQLALCHEMY_ENGINE_OPTIONS"] = dict(app.config["SQLALCHEMY_ENGINE_OPTIONS"])
        yield app, PG_URL
        return
    url = f"sqlite:///{tmp_path / name}"
    app = make_app(url)
    with app.app_context():
        db.create_all()
    with app.app_context():
        yield app, url
        db.session.remove()
        db.engine.dispose()


@pytest.fixture(scope="session", params=BACKENDS)
def backend(request) -> str:
    if request.param not in BACKENDS:  # named by a test's own parametrize (indirect)
        pytest.skip("PostgreSQL tests skipped: TEST_DATABASE_URL is not set")
    return request.param


@pytest.fixture
def app(backend):
    app, config = _shared_app(backend)
    _empty_tables(app)
    ctx = app.app_context()
    ctx.push()
    try:
        yield app
    finally:
        db.session.remove()
        ctx.pop()
        app.config.clear()
        app.config.update(config)


@pytest.fixture
def client(app) -> FormClient:
    return app.test_client()


@pytest.fixture
def session(app):
    return db.session


_names = count(1)


@pytest.fixture
def make_user(app):
    from formulary.auth import services

    def make(role: str = "pharmacist", username: str | None = None, password: str = PASSWORD, **kw):
        user = services.create_user(db.session, "test", username=username or f"{role}{next(_names)}",
                                    password=password, role=role, **kw)
        db.session.commit()
        return user

    return make


@pytest.fixture
def login_as(client, make_user):
    """Log the test client in as a new user of ``role``; return the user."""

    def login(role: str = "pharmacist", **kw):
        user = make_user(role, **kw)
        with client.session_transaction() as sess:
            sess["_user_id"] = user.get_id()
            sess["_fresh"] = True
        return user

    return login


@pytest.fixture
def api(client, make_user):
    """``api(role)`` returns a JSON client authenticated with a bearer token of a new user."""
    from formulary.auth import services

    class ApiClient:
        def __init__(self, token: str, user):
            self.token, self.user = token, user
            self.headers = {"Authorization": f"Bearer {token}"}

        def __getattr__(self, method):
            def call(url, json=None, **kw):
                headers = dict(self.headers, **kw.pop("headers", {}))
                return getattr(client, method)(url if url.startswith("/") else f"/api/v1/{url}",
                                               json=json, headers=headers, **kw)
            return call

    def make(role: str = "pharmacist", **kw):
        user = make_user(role, **kw)
        token, _ = services.create_token(db.session, user, days=1)
        db.session.commit()
        return ApiClient(token, user)

    return make


# --- factories: rows made directly, for tests of the areas built on them ---------------

_seq = count(1)


@pytest.fixture
def make_group(app):
    from formulary.inventory.models import AllergenGroup

    def make(name: str, description: str = ""):
        key = " ".join(name.split()).casefold()
        group = db.session.execute(
            db.select(AllergenGroup).where(AllergenGroup.name_key == key)).scalar_one_or_none()
        if group is None:
            group = AllergenGroup(name=name, name_key=key, description=description)
            db.session.add(group)
            db.session.commit()
        return group

    return make


@pytest.fixture
def make_cross(app, make_group):
    from formulary.inventory.models import CrossReactivity

    def make(a: str, b: str):
        ga, gb = sorted((make_group(a), make_group(b)), key=lambda g: g.id)
        db.session.add(CrossReactivity(group_a_id=ga.id, group_b_id=gb.id))
        db.session.commit()

    return make


@pytest.fixture
def make_ingredient(app, make_group):
    from decimal import Decimal

    from formulary.inventory.models import Ingredient, IngredientContraindication, IngredientGtin

    def make(name: str | None = None, *, category: str = "vitamin", unit: str = "mL",
             strength: tuple | None = None, groups=(), contraindications=(), reorder_level=None,
             max_dose: tuple | None = None, gtins=(), storage: str = "room",
             multi_dose: bool = False, in_use_days: int | None = None, active: bool = True):
        name = name or f"Ingredient {next(_seq)}"
        ing = Ingredient(
            name=name, name_key=" ".join(name.split()).casefold(), category=category, unit=unit,
            strength_amount=Decimal(str(strength[0])) if strength else None,
            strength_unit=strength[1] if strength else None,
            reorder_level=Decimal(str(reorder_level)) if reorder_level is not None else None,
            max_dose_amount=Decimal(str(max_dose[0])) if max_dose else None,
            max_dose_unit=max_dose[1] if max_dose else None,
            storage=storage, multi_dose=multi_dose, in_use_days=in_use_days, active=active)
        ing.allergen_groups = [make_group(g) for g in groups]
        ing.contraindications = [IngredientContraindication(condition=c) for c in contraindications]
        ing.gtins = [IngredientGtin(gtin=g) for g in gtins]
        db.session.add(ing)
        db.session.commit()
        return ing

    return make


@pytest.fixture
def make_lot(app):
    """A received lot with its receipt in the ledger. ``quantity`` is what was received;
    ``on_hand`` (default: all of it) is reached with a count-correction movement."""
    from datetime import date, timedelta
    from decimal import Decimal

    from formulary.db import utcnow
    from formulary.inventory.models import Lot, Movement

    def make(ingredient, quantity="10", *, expiry: date | None = None, lot_number: str | None = None,
             status: str = "available", unit_cost=None, supplier: str = "Test supplier",
             received_at=None, opened_at=None, on_hand=None):
        q = Decimal(str(quantity))
        at = received_at or utcnow()
        lot = Lot(ingredient=ingredient, lot_number=lot_number or f"L{next(_seq):05d}",
                  expiry_date=expiry or (date.today() + timedelta(days=365)), supplier=supplier,
                  unit_cost=Decimal(str(unit_cost)) if unit_cost is not None else None,
                  quantity_received=q, quantity_on_hand=q, status=status, received_at=at,
                  opened_at=opened_at)
        db.session.add(lot)
        db.session.add(Movement(lot=lot, kind="receipt", quantity_delta=q, balance_after=q, at=at))
        if on_hand is not None and Decimal(str(on_hand)) != q:
            rest = Decimal(str(on_hand))
            db.session.add(Movement(lot=lot, kind="adjustment", reason="count_correction",
                                    quantity_delta=rest - q, balance_after=rest, at=at))
            lot.quantity_on_hand = rest
        db.session.commit()
        return lot

    return make


@pytest.fixture
def make_cocktail(app):
    """An active (default) or draft cocktail; components are ``(ingredient, amount, unit)``."""
    from decimal import Decimal

    from formulary.cocktails.models import Cocktail, CocktailVersion, Component
    from formulary.db import utcnow
    from formulary.domain.units import Strength, convert

    def make(components, *, name: str | None = None, area: str = "scalp",
             indication: str = "hair loss", storage: str = "fridge", status: str = "active"):
        name = name or f"Cocktail {next(_seq)}"
        cocktail = Cocktail(name=name, name_key=" ".join(name.split()).casefold(), status=status)
        version = CocktailVersion(cocktail=cocktail, number=1, area=area, indication=indication,
                                  storage=storage, status="active" if status == "active" else "draft",
                                  approved_at=utcnow() if status == "active" else None)
        for position, (ing, amount, unit) in enumerate(components):
            strength = (Strength(ing.strength_amount, ing.strength_unit)
                        if ing.strength_amount is not None else None)
            amount = Decimal(str(amount))
            version.components.append(Component(
                ingredient=ing, position=position, amount=amount, unit=unit,
                stock_quantity=convert(amount, unit, ing.unit, strength), stock_unit=ing.unit))
        db.session.add_all([cocktail, version])
        db.session.flush()
        if status == "active":
            cocktail.active_version = version
        db.session.commit()
        return cocktail

    return make


@pytest.fixture
def make_patient(app):
    """A patient; ``allergies`` are dicts with ``ingredient`` | ``group`` | ``substance``."""
    from datetime import date

    from formulary.inventory.models import AllergenGroup
    from formulary.patients.models import Allergy, Patient, PatientCondition

    def make(mrn: str | None = None, *, first_name: str = "Ana", last_name: str = "Test",
             allergy_status: str = "none_known", conditions=(), allergies=(),
             date_of_birth: date | None = date(1985, 4, 12)):
        patient = Patient(mrn=mrn or f"MRN{next(_seq):06d}", first_name=first_name,
                          last_name=last_name, date_of_birth=date_of_birth,
                          allergy_status="known" if allergies else allergy_status)
        patient.conditions = [PatientCondition(condition=c) for c in conditions]
        for a in allergies:
            group = a.get("group")
            if isinstance(group, str):
                key = " ".join(group.split()).casefold()
                group = db.session.execute(
                    db.select(AllergenGroup).where(AllergenGroup.name_key == key)).scalar_one()
            patient.allergies.append(Allergy(
                ingredient=a.get("ingredient"), allergen_group=group, substance=a.get("substance"),
                severity=a.get("severity", "moderate"), reaction=a.get("reaction", ""),
                status=a.get("status", "active")))
        db.session.add(patient)
        db.session.commit()
        return patient

    return make


# --- browser tests: a live server on a SQLite file, driven by Playwright + Chromium -----

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--no-first-run",
                 "--disable-dev-shm-usage"]


@pytest.fixture(scope="session")
def browser():
    if not os.path.exists(CHROMIUM):
        pytest.skip("browser tests skipped: no Chromium at /usr/bin/chromium")
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:  # pragma: no cover
        pytest.skip("browser tests skipped: playwright is not installed")
    with sync_playwright() as pw:
        b = pw.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
        yield b
        b.close()


@pytest.fixture(scope="session")
def axe():
    """axe-core, run on a Playwright page (``tests/a11y``, the French crawl)."""
    try:
        from axe_playwright_python.sync_playwright import Axe
    except ImportError:  # pragma: no cover
        pytest.skip("accessibility tests skipped: axe-playwright-python is not installed")
    return Axe()


class LiveServer:
    def __init__(self, app, url):
        self.app, self.url = app, url

    def make_user(self, role: str, username: str | None = None, password: str = PASSWORD):
        from formulary.auth import services

        with self.app.app_context():
            user = services.create_user(db.session, "test", username=username or f"{role}{next(_names)}",
                                        password=password, role=role)
            db.session.commit()
            return user.username


@contextmanager
def serve(app):
    """``app`` served over HTTP from a thread while the block runs; gives its URL."""
    import threading

    from werkzeug.serving import make_server

    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}"
    finally:
        server.shutdown()
        thread.join(5)
        with app.app_context():
            db.engine.dispose()


@pytest.fixture
def live_server(tmp_path):
    """The app served over HTTP from a thread, on a fresh SQLite file."""
    app = make_app(f"sqlite:///{tmp_path / 'live.db'}")
    app.config["PROPAGATE_UNEXPECTED"] = False
    with app.app_context():
        db.create_all()
    with serve(app) as url:
        yield LiveServer(app, url)


@pytest.fixture
def page(browser, live_server):
    """A fresh browser page; ``page.login(role)`` logs in a new user of that role."""
    context = browser.new_context(base_url=live_server.url)
    pg = context.new_page()
    pg.set_default_timeout(10_000)

    def login(role: str = "pharmacist", username: str | None = None):
        name = live_server.make_user(role, username)
        pg.goto("/login")
        pg.fill("input[name=username]", name)
        pg.fill("input[name=password]", PASSWORD)
        pg.click("button[type=submit]")
        pg.wait_for_url("**/dashboard")
        return name

    pg.login = login
    pg.live = live_server
    yield pg
    context.close()


@pytest.fixture
def count_queries(app):
    """``with count_queries() as n: ...`` then ``n.count``: SQL statements sent meanwhile."""
    from contextlib import contextmanager

    from sqlalchemy import event

    class Counter:
        count = 0
        statements: list

    @contextmanager
    def counting():
        counter = Counter()
        counter.statements = []
        engine = db.engine

        def before(conn, cursor, statement, *args):
            counter.count += 1
            counter.statements.append(statement)

        event.listen(engine, "before_cursor_execute", before)
        try:
            yield counter
        finally:
            event.remove(engine, "before_cursor_execute", before)

    return counting
