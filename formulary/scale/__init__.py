"""``flask demo-data --scale year``: a year of a busy clinic, loaded in bulk.

About 200 ingredients, 5,000 lots, 20,000 patients with allergies, 300 cocktails with
their versions, 50,000 batches with 400,000 lot lines, the matching ledger and audit
trail, and the demo users. Rows are generated in Python (seeded: the same data every
run) and inserted in chunks with ``insert()``; ids are given explicitly, so PostgreSQL's
sequences are moved past them at the end. ``factor`` scales every count (the tests load
a small clinic with ``factor=0.002``). One transaction: committed at the end or not at all.
"""

from __future__ import annotations

import random
import time
from datetime import timedelta, timezone
from decimal import Decimal

from sqlalchemy import func, insert, select, text

from formulary import clock
from formulary.audit.models import AuditEntry
from formulary.auth import demo as auth_demo
from formulary.cocktails.models import Cocktail, CocktailVersion, Component
from formulary.compounding.models import Batch, BatchLine
from formulary.courses.models import (Administration, AdministrationLine, AdverseEvent, Consent,
                                      ConsentText, Course, CourseSession)
from formulary.inventory import totals as stock_totals
from formulary.inventory.models import (AllergenGroup, CrossReactivity, Ingredient,
                                        IngredientContraindication, IngredientGtin, Lot, Movement,
                                        ingredient_allergen_group)
from formulary.patients.models import Allergy, Patient, PatientCondition
from formulary.scale import activity, audit, catalog, courses, people

SEED = 20240601
CHUNK = 5_000
FULL = {"ingredients": 200, "lots": 5_000, "patients": 20_000, "cocktails": 300,
        "batches": 50_000}
#: Tables that must be empty before a load.
GUARDED = (AuditEntry, Ingredient, Lot, Patient, Cocktail, Batch, Course)


class NotEmpty(Exception):
    pass


def sizes(factor: float) -> dict[str, int]:
    """Counts for ``factor``: patients and batches scale linearly; the catalogue (which a
    clinic does not grow tenfold) with the square root, with small floors."""
    root = factor ** 0.5
    return {"ingredients": max(12, round(FULL["ingredients"] * root)),
            "cocktails": max(10, round(FULL["cocktails"] * root)),
            "lots": max(60, round(FULL["lots"] * root)),
            "patients": max(20, round(FULL["patients"] * factor)),
            "batches": max(30, round(FULL["batches"] * factor))}


def _bulk(session, model, rows, echo, label=None):
    table = getattr(model, "__table__", model)
    started = time.perf_counter()
    conn = session.connection()
    for i in range(0, len(rows), CHUNK):
        conn.execute(insert(table), rows[i:i + CHUNK])
        if label and len(rows) > 4 * CHUNK and (i // CHUNK) % 20 == 19:
            echo(f"  {label}: {min(i + CHUNK, len(rows)):,} / {len(rows):,}")
    if label:
        echo(f"  {label}: {len(rows):,} rows in {time.perf_counter() - started:.1f} s")


def _reset_sequences(session) -> None:
    if session.get_bind().dialect.name != "postgresql":
        return
    for table in ("user", "allergen_group", "ingredient", "lot", "movement", "cocktail",
                  "cocktail_version", "component", "patient", "allergy", "batch", "batch_line",
                  "audit_entry", "consent_text", "course", "course_session", "consent",
                  "administration", "administration_line", "adverse_event"):
        session.execute(text(
            f"SELECT setval(pg_get_serial_sequence('\"{table}\"', 'id'), "
            f"(SELECT COALESCE(MAX(id), 0) + 1 FROM \"{table}\"), false)"))


def check_empty(session) -> None:
    for model in GUARDED:
        if session.execute(select(func.count()).select_from(model)).scalar_one():
            raise NotEmpty(f"The database already has data (table {model.__tablename__}); "
                           "--scale year loads only into an empty database.")


def load_year(session, echo=print, factor: float = 1.0, seed: int = SEED) -> dict[str, int]:
    """Fill an empty database with a year of a busy clinic; return the row counts."""
    import click

    try:
        check_empty(session)
    except NotEmpty as exc:
        session.rollback()
        raise click.ClickException(str(exc)) from None
    try:
        counts = _load(session, echo, factor, seed)
        echo("Committing ...")
        session.commit()
    except Exception:
        session.rollback()
        raise
    analyze(session, echo)
    return counts


def analyze(session, echo=print) -> None:
    """Give the planner statistics for what was just bulk-loaded.

    A year goes in by batched INSERTs; until statistics exist the planner guesses, and on
    PostgreSQL it guessed badly enough for the dashboard to take 11 s (21 ms once analysed,
    bench/README.md). Autovacuum would come round to it, but not before the first pages.
    Run after the commit, in a transaction of its own (both databases accept ANALYZE there).
    """
    echo("Analysing the tables ...")
    session.execute(text("ANALYZE"))
    session.commit()


def _some_run_low(ingredients, lots, today) -> None:
    """Every ninth product ends the year below its reorder level (the dashboard's and the
    stock report's low-stock list is never empty, at any size)."""
    usable: dict[int, Decimal] = {}
    for lot in lots:
        if lot["status"] == "available" and lot["expiry_date"] >= today:
            usable[lot["ingredient_id"]] = usable.get(lot["ingredient_id"], Decimal(0)) + lot["quantity_on_hand"]
    for row in ingredients:
        if row["id"] % 9 == 4:
            row["reorder_level"] = (usable.get(row["id"], Decimal(0)) + 10).quantize(Decimal(1))


def generate(factor: float, seed: int, end, tz, users: dict[str, int], echo=print) -> dict:
    """Every row of a year of a busy clinic ending at ``end`` (aware, UTC), as plain dicts.

    Pure: no database, no clock; the same ``factor``, ``seed``, ``end``, zone and users give
    the same rows. ``users`` maps the demo usernames to their ids. Every loop is bounded,
    and every batch falls inside the year and inside a period its cocktail version was in
    use, at any date and hour (tests/scale/test_generator.py freezes many).
    """
    rng = random.Random(seed)
    n = sizes(factor)
    start = end - timedelta(days=365)
    today = end.astimezone(tz).date()
    pharmacists = [users["pharmacist"], users["pharmacist2"]]
    practitioner = users["practitioner"]

    echo("Generating the catalogue ...")
    groups, cross, group_ids = catalog.groups_rows()
    specs = catalog.ingredient_specs(n["ingredients"])
    catalogued = start - timedelta(days=90)
    ingredients, links, contra, gtins = catalog.ingredient_rows(specs, group_ids, catalogued)
    cocktails, versions, components, periods, cocktail_events = catalog.cocktails(
        rng, specs, n["cocktails"], start, end, pharmacists, pharmacists[::-1])
    echo("Generating patients ...")
    patients, conditions, allergies, safe = people.patients(
        rng, n["patients"], group_ids, len(specs), start, end, practitioner)
    echo("Generating batches and the ledger ...")
    times = activity.batch_times(rng, n["batches"], start, end, tz)
    batches = activity.plan_batches(rng, times, periods, components, safe, pharmacists, end)
    by_version: dict[int, list[dict]] = {}
    for comp in components:
        by_version.setdefault(comp["version_id"], []).append(comp)
    lots, movements, lines = activity.run(rng, batches, by_version, specs, n["lots"],
                                          pharmacists[0], start, end, today)

    _some_run_low(ingredients, lots, today)

    echo("Generating treatment courses ...")
    treatment = courses.generate(seed + 1, batches, lines, versions, components, cocktails,
                                 specs, start, end, tz, practitioner)

    echo("Chaining the audit trail ...")
    events = [(catalogued, pharmacists[0], "ingredient.create", "ingredient", r["id"],
               f"Created ingredient {r['name']}") for r in ingredients]
    events += [(at, user, action, "cocktail", cid, summary)
               for at, user, action, cid, summary in cocktail_events]
    events += [(lot["received_at"], lot["received_by_id"], "lot.receive", "lot", lot["id"],
                f"Received lot {lot['lot_number']}: {lot['quantity_received']:f} mL")
               for lot in lots]
    events += [(p["created_at"], practitioner, "patient.create", "patient", p["id"],
                f"Recorded patient {p['mrn']}") for p in patients]
    for b in batches:
        events.append((b["prepared_at"], b["prepared_by_id"], "batch.prepare", "batch", b["id"],
                       f"Prepared {b['batch_number']}: {b['doses']} dose(s)"))
        if b["verified_at"]:
            events.append((b["verified_at"], b["verified_by_id"], "batch.verify", "batch",
                           b["id"], f"Verified {b['batch_number']}"))
        if b["discarded_at"]:
            events.append((b["discarded_at"], b["discarded_by_id"], "batch.discard", "batch",
                           b["id"], f"Discarded {b['batch_number']}"))
    events += treatment["events"]
    usernames = {uid: name for name, uid in users.items()}
    entries = audit.chain(events, usernames)
    return {"start": start, "periods": periods, "groups": groups, "cross": cross,
            "ingredients": ingredients, "links": links, "contra": contra, "gtins": gtins,
            "cocktails": cocktails, "versions": versions, "components": components,
            "patients": patients, "conditions": conditions, "allergies": allergies,
            "lots": lots, "batches": batches, "lines": lines, "movements": movements,
            "entries": entries,
            **{k: v for k, v in treatment.items() if k != "events"}}


def _load(session, echo, factor, seed):
    started = time.perf_counter()
    n = sizes(factor)
    end = clock.now().astimezone(timezone.utc).replace(microsecond=0)
    echo(f"A year of a busy clinic ({session.get_bind().dialect.name}, factor {factor:g}): "
         + ", ".join(f"{v:,} {k}" for k, v in n.items()))

    ctx: dict = {}
    auth_demo.load(session, ctx)
    session.flush()
    users = {name: u.id for name, u in ctx["users"].items()}
    rows = generate(factor, seed, end, clock.clinic_tz(), users, echo)
    echo(f"Generated in {time.perf_counter() - started:.1f} s; inserting ...")
    groups, cross, ingredients, links, contra, gtins = (
        rows[k] for k in ("groups", "cross", "ingredients", "links", "contra", "gtins"))
    cocktails, versions, components, patients, conditions, allergies = (
        rows[k] for k in ("cocktails", "versions", "components", "patients", "conditions",
                          "allergies"))
    lots, batches, lines, movements, entries = (
        rows[k] for k in ("lots", "batches", "lines", "movements", "entries"))

    _bulk(session, AllergenGroup, groups, echo)
    _bulk(session, CrossReactivity, cross, echo)
    _bulk(session, Ingredient, ingredients, echo, "ingredients")
    _bulk(session, ingredient_allergen_group, links, echo)
    _bulk(session, IngredientContraindication, contra, echo)
    _bulk(session, IngredientGtin, gtins, echo)
    _bulk(session, Cocktail, cocktails, echo, "cocktails")
    _bulk(session, CocktailVersion, versions, echo, "cocktail versions")
    _bulk(session, Component, components, echo, "components")
    _bulk(session, Patient, patients, echo, "patients")
    _bulk(session, PatientCondition, conditions, echo)
    _bulk(session, Allergy, allergies, echo, "allergies")
    _bulk(session, Lot, lots, echo, "lots")
    _bulk(session, Batch, batches, echo, "batches")
    _bulk(session, BatchLine, lines, echo, "batch lines")
    _bulk(session, Movement, movements, echo, "movements")
    _bulk(session, ConsentText, rows["consent_texts"], echo)
    _bulk(session, Course, rows["courses"], echo, "courses")
    _bulk(session, CourseSession, rows["sessions"], echo, "sessions")
    _bulk(session, Consent, rows["consents"], echo, "consents")
    _bulk(session, Administration, rows["administrations"], echo, "administrations")
    _bulk(session, AdministrationLine, rows["administration_lines"], echo,
          "administration lines")
    _bulk(session, AdverseEvent, rows["adverse_events"], echo)
    _bulk(session, AuditEntry, entries, echo, "audit entries")
    _reset_sequences(session)
    stock_totals.rebuild(session)  # the lots went in by bulk insert, not through the session
    from formulary.inventory import usage

    usage.rebuild(session)  # so did the ledger: the weekly usage from it
    from formulary.compounding import tally

    tally.rebuild(session)  # the batches and administrations too: the outstanding batches
    from formulary.courses import revision as courses_revision

    courses_revision.new_revision(session)  # and the courses: what a worker kept of them
    counts = {"ingredients": len(ingredients), "lots": len(lots), "patients": len(patients),
              "allergies": len(allergies), "cocktails": len(cocktails),
              "cocktail versions": len(versions), "batches": len(batches),
              "batch lines": len(lines), "movements": len(movements),
              "courses": len(rows["courses"]), "administrations": len(rows["administrations"]),
              "adverse events": len(rows["adverse_events"]),
              "audit entries": len(entries)}
    echo(f"Loaded in {time.perf_counter() - started:.1f} s: "
         + ", ".join(f"{v:,} {k}" for k, v in counts.items()))
    return counts
