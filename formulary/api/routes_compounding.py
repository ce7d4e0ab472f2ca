"""Batches and recall trace (SPEC §7, §9)."""

from __future__ import annotations

from flask import current_app, jsonify, request

from formulary import clock
from formulary.api import schema as S
from formulary.api.core import (PAGE_QUERY, api_route, arg_date_range, arg_int, created,
                                current_api_user, dec, iso, json_body, json_encoder,
                                json_with_lists, only_fields, paginate, sort_query, want_type,
                                writes_compact_json)
from formulary.auth.permissions import BATCHES, COURSES_VIEW, PATIENTS, VIEW
from formulary.cocktails.models import Cocktail
from formulary.compounding import services
from formulary.compounding.models import BATCH_STATUSES, Batch
from formulary.compounding.queries import (BATCH_SORT, batch_count_statement, batch_list_page,
                                           patients_filter)
from formulary.compounding.rows import read_page
from formulary.compounding.state import state_of
from formulary.domain.batch_state import STATES
from formulary.domain.errors import NotFound, ValidationError
from formulary.domain.messages import msg
from formulary.extensions import db
from formulary.i18n import tr, tr_once
from formulary.patients.models import Patient

BATCH_LINE = S.component("BatchLine", S.obj(
    required=("ingredient_id", "lot_id", "lot_number", "expiry_date", "quantity", "unit"),
    ingredient_id=S.integer(), ingredient_name=S.string(), lot_id=S.integer(),
    lot_number=S.string(), expiry_date=S.string(fmt="date"), quantity=S.decimal_out(),
    unit=S.string()))

BATCH = S.component("Batch", S.obj(
    required=("id", "batch_number", "cocktail_id", "cocktail_version", "doses", "patient_id",
              "prepared_by", "prepared_at", "verified_by", "beyond_use_date", "status",
              "override_reason", "lines", "state", "doses_left"),
    id=S.integer(), batch_number=S.string(), cocktail_id=S.integer(), cocktail_name=S.string(),
    cocktail_version=S.integer(), doses=S.integer(minimum=1), patient_id=S.integer(null=True),
    patient_mrn=S.string(null=True), prepared_by=S.string(), prepared_at=S.string(fmt="date-time"),
    verified_by=S.string(null=True), verified_at=S.string(fmt="date-time", null=True),
    beyond_use_date=S.string(fmt="date-time", description="use before this instant"),
    beyond_use_reason=S.string(), storage=S.string(enum=("room", "fridge")),
    status=S.string(enum=BATCH_STATUSES, description="the recorded status"),
    state=S.string(enum=STATES, description="the effective state now (SPEC §12): expired past "
                   "the beyond-use date, on_hold while a lot it used is quarantined or recalled"),
    state_reason=S.string(description="why it is in that state (empty when nothing is wrong)"),
    doses_left=S.integer(minimum=0), safety_verdict=S.string(null=True),
    override_reason=S.string(null=True), discard_reason=S.string(null=True),
    lines=S.array(BATCH_LINE)))

LOT_BRIEF = S.obj(id=S.integer(), ingredient_id=S.integer(), ingredient_name=S.string(),
                  lot_number=S.string(), expiry_date=S.string(fmt="date"), status=S.string(),
                  quantity_on_hand=S.decimal_out())
PATIENT_BRIEF = S.obj(id=S.integer(), mrn=S.string(), first_name=S.string(), last_name=S.string())


def batch_json(batch: Batch) -> dict:
    body = _batch_head(batch, clock.clinic_tz(), clock.now())
    body["lines"] = [_line_json(line) for line in batch.lines]
    return body


def _batch_head(batch, tz, now, say=tr) -> dict:
    """``batch_json`` but its lines (``say``: ``tr``, or a list's ``i18n.tr_once()``)."""
    st = state_of(batch, now)
    return {
        "id": batch.id, "batch_number": batch.batch_number, "cocktail_id": batch.cocktail_id,
        "cocktail_name": batch.cocktail.name, "cocktail_version": batch.version.number,
        "doses": batch.doses, "patient_id": batch.patient_id,
        "patient_mrn": batch.patient.mrn if batch.patient else None,
        "prepared_by": batch.prepared_by.username,
        "prepared_at": iso(batch.prepared_at.astimezone(tz)),
        "verified_by": batch.verified_by.username if batch.verified_by else None,
        "verified_at": iso(batch.verified_at.astimezone(tz)) if batch.verified_at else None,
        "beyond_use_date": iso(batch.beyond_use_at.astimezone(tz)),
        "beyond_use_reason": batch.beyond_use_reason, "storage": batch.version.storage,
        "status": batch.status, "state": st.state, "state_reason": say(st.reason),
        "doses_left": st.doses_left, "safety_verdict": batch.safety_verdict,
        "override_reason": batch.override_reason, "discard_reason": batch.discard_reason,
    }


def _line_json(line) -> dict:
    return {"ingredient_id": line.ingredient_id, "ingredient_name": line.ingredient.name,
            "lot_id": line.lot_id, "lot_number": line.lot.lot_number,
            "expiry_date": iso(line.lot.expiry_date), "quantity": dec(line.quantity),
            "unit": line.unit}


def _batches_response(body: dict, batches: list):
    """``body`` (whose ``batches`` are ``_batch_head``s of ``batches``, in order) with
    each batch's lines, as the text ``jsonify`` writes. A recall trace's batches hold
    1,200-1,500 lines that are a few hundred distinct ones (``rows.distinct_lines_of``:
    one object each, shared by the batches): the distinct lines' JSON is written by one
    encoding, and the body by one more (``json_with_lists``)."""
    def plain():
        for head, batch in zip(body["batches"], batches, strict=True):
            head["lines"] = [_line_json(line) for line in batch.lines]
        return body

    if not writes_compact_json():  # debug's indented JSON: no lines written for nothing
        return plain()
    index: dict[int, int] = {}  # by the line object's identity (held by the batches)
    distinct = []
    for batch in batches:
        for line in batch.lines:
            if id(line) not in index:
                index[id(line)] = len(distinct)
                distinct.append(line)
    texts = _line_texts(distinct)
    for head in body["batches"]:
        head["lines"] = []
    response = json_with_lists(body, "lines", [
        "[" + ",".join([texts[index[id(line)]] for line in batch.lines]) + "]"
        for batch in batches])
    return plain() if response is None else response


#: Where a worker keeps lines' JSON texts (``_line_texts``), and how many at most.
_LINE_TEXTS = "formulary.api.line_texts"
LINE_TEXTS_KEPT = 20_000


def _line_texts(lines: list) -> list[str]:
    """Each of ``lines`` (``rows.LineRow``s) as the app's encoder writes ``_line_json(line)``.

    A worker keeps the texts it wrote, by the line itself: a ``LineRow`` is frozen and
    equal to another only when every value its JSON shows is equal (the ingredient's id
    and name, the lot's id, number and expiry, the quantity's value and the unit; a
    quantity equal in value is written the same, ``units.to_api``), so a line that
    changed in any of them is another key, and a text is never stale: nothing depends
    on who wrote what since. A recall trace's 446 distinct lines are mostly the same
    from one request to the next: writing them took 2 ms of the request (bench/README.md,
    round 8). At most ``LINE_TEXTS_KEPT`` are kept; past that, the store starts again."""
    store = current_app.extensions.setdefault(_LINE_TEXTS, {})
    texts = [store.get(line) for line in lines]
    missing = [i for i, text in enumerate(texts) if text is None]
    if missing:
        written = _objects_text(json_encoder(), [_line_json(lines[i]) for i in missing])
        if len(store) + len(missing) > LINE_TEXTS_KEPT:
            store.clear()
        for i, text in zip(missing, written, strict=True):
            texts[i] = store[lines[i]] = text
    return texts


def _objects_text(encode, objects: list[dict]) -> list[str]:
    """Each of ``objects`` (flat: no object or list in them) as ``encode`` writes it, by
    one call: the list's text cut at ``},{``, which stands between two of them and,
    unless a string holds it, nowhere else (then: one call each)."""
    if not objects:
        return []
    pieces = encode(objects)[2:-2].split("},{")
    if len(pieces) != len(objects):  # a string holds "},{"
        return [encode(o) for o in objects]
    return ["{" + piece + "}" for piece in pieces]


def policy():
    return services.policy_from_hours(current_app.config["BEYOND_USE_HOURS"])


def _get(model, value, name: str, message: str):
    if value is None:
        return None
    obj = db.session.get(model, value)
    if obj is None:
        raise ValidationError(message, field=name)
    return obj


@api_route("/batches", ["GET"], summary="List batches, newest first", tag="batches",
           permission=VIEW,
           query=(("from", S.string(fmt="date"), "prepared on or after (clinic-local date)"),
                  ("to", S.string(fmt="date"), "prepared on or before (clinic-local date)"),
                  ("cocktail_id", S.integer(), "only this cocktail"),
                  ("patient_id", S.integer(), "only this patient"),
                  ("patient", S.string(), "the patient with this MRN; with the right to read "
                   "patients, else every patient whose names or MRN hold these words"),
                  ("status", S.string(enum=BATCH_STATUSES), "only this recorded status"),
                  ("state", S.string(enum=STATES), "only this effective state (now)"),
                  sort_query(BATCH_SORT), *PAGE_QUERY),
           responses={200: S.page_of(BATCH)})
def list_batches():
    status = request.args.get("status") or None
    if status is not None and status not in BATCH_STATUSES:
        raise ValidationError(msg("Use one of: %(choices)s.",
                                  choices=', '.join(BATCH_STATUSES)), field="status")
    state = request.args.get("state") or None
    if state is not None and state not in STATES:
        raise ValidationError(msg("Use one of: %(choices)s.",
                                  choices=', '.join(STATES)), field="state")
    date_from, date_to = arg_date_range()
    patient = (request.args.get("patient") or "").strip()
    patients = (patients_filter(db.session, patient, by_name=current_api_user().may(PATIENTS))
                if patient else None)
    filters = dict(tz=clock.clinic_tz(), date_from=date_from, date_to=date_to,
                   cocktail_id=arg_int("cocktail_id"), patient_id=arg_int("patient_id"),
                   status=status, state=state, now=clock.now(), patients=patients)
    return paginate(services.batch_list_query(**filters), batch_json, sort=BATCH_SORT,
                    scalars=False, read=lambda rows: read_page(db.session, rows),
                    count=batch_count_statement(filters),
                    page_rows=lambda sort, page, per_page, total: batch_list_page(
                        db.session, filters, sort, page, per_page, total))


@api_route("/batches", ["POST"], summary="Prepare a batch (201; 200 when the idempotency key "
           "was already used by you)", tag="batches", permission=BATCHES,
           body=S.obj(required=("cocktail_id", "doses"), cocktail_id=S.integer(),
                      doses=S.integer(minimum=1), patient_id=S.integer(null=True),
                      override_reason=S.string(null=True),
                      idempotency_key=S.string(max_length=100, null=True)),
           responses={201: BATCH, 200: BATCH},
           description="409 insufficient_stock carries `shortfalls` [{ingredient_id, quantity}]; "
                       "409 safety_block carries `findings`; the same idempotency key with "
                       "another cocktail, doses, patient or override reason is 409 "
                       "idempotency_mismatch.")
def create_batch():
    data = only_fields(json_body(), {"cocktail_id", "doses", "patient_id", "override_reason",
                                     "idempotency_key"})
    cocktail_id = want_type(data, "cocktail_id", int, "a cocktail id", required=True)
    patient_id = want_type(data, "patient_id", int, "a patient id")
    doses = want_type(data, "doses", int, "a positive whole number", required=True)
    want_type(data, "override_reason", str, "text")
    want_type(data, "idempotency_key", str, "text")
    cocktail = _get(Cocktail, cocktail_id, "cocktail_id", "No such cocktail.")
    patient = _get(Patient, patient_id, "patient_id", "No such patient.")
    batch = services.prepare_batch(
        db.session, current_api_user(), cocktail=cocktail, doses=doses, patient=patient,
        override_reason=data.get("override_reason"), idempotency_key=data.get("idempotency_key"),
        tz=clock.clinic_tz(), policy=policy())
    body = batch_json(batch)  # its rows are in the session: no reload needed
    return jsonify(body) if batch.replayed else created(body)


@api_route("/batches/<int:batch_id>", ["GET"], summary="Read a batch", tag="batches",
           permission=VIEW, responses={200: BATCH})
def get_batch(batch_id: int):
    return batch_json(services.get_batch(db.session, batch_id))


@api_route("/batches/<int:batch_id>/verify", ["POST"], summary="Verify a batch (a second "
           "pharmacist)", tag="batches", permission=BATCHES, responses={200: BATCH},
           description="409 invalid_state when the batch is not (or no longer) prepared.")
def verify_batch(batch_id: int):
    batch = services.get_batch(db.session, batch_id)
    services.verify_batch(db.session, current_api_user(), batch)
    return batch_json(batch)


@api_route("/batches/<int:batch_id>/discard", ["POST"], summary="Discard a batch (stock is not "
           "returned)", tag="batches", permission=BATCHES,
           body=S.obj(required=("reason",), reason=S.string()), responses={200: BATCH})
def discard_batch(batch_id: int):
    batch = services.get_batch(db.session, batch_id)
    data = only_fields(json_body(), {"reason"})
    reason = want_type(data, "reason", str, "text", required=True)
    services.discard_batch(db.session, current_api_user(), batch, reason)
    return batch_json(batch)


TRACED_ADMINISTRATION = S.component("TracedAdministration", S.obj(
    required=("id", "given_at", "patient", "practitioner", "doses", "sites", "technique",
              "batch_id", "quantity", "unit"),
    id=S.integer(), given_at=S.string(fmt="date-time"), patient=PATIENT_BRIEF,
    practitioner=S.string(), doses=S.integer(minimum=1), sites=S.string(),
    technique=S.string(), batch_id=S.integer(), batch_number=S.string(),
    course_id=S.integer(), session_number=S.integer(),
    quantity=S.decimal_out(description="of this lot, in its stock unit"), unit=S.string()))


def traced_administration_json(a, tz) -> dict:
    return {"id": a.id, "given_at": iso(a.given_at.astimezone(tz)),
            "patient": {"id": a.patient.id, "mrn": a.patient.mrn,
                        "first_name": a.patient.first_name, "last_name": a.patient.last_name},
            "practitioner": a.practitioner, "doses": a.doses, "sites": a.sites,
            "technique": a.technique, "batch_id": a.batch_id, "batch_number": a.batch_number,
            "course_id": a.course_id, "session_number": a.session_number,
            "quantity": dec(a.quantity), "unit": a.unit}


@api_route("/lots/<int:lot_id>/trace", ["GET"], summary="Recall: every batch that used a lot, "
           "every administration of them and every patient reached", tag="batches",
           permission=VIEW,
           description="`administrations` (patient, date, practitioner, sites) only for the "
                       "roles that read treatment courses; every role gets "
                       "`administration_count`.",
           responses={200: S.obj(required=("lot", "batches", "patients", "administration_count"),
                                 lot=LOT_BRIEF, batches=S.array(BATCH),
                                 patients=S.array(PATIENT_BRIEF),
                                 administrations=S.array(TRACED_ADMINISTRATION),
                                 administration_count=S.integer(minimum=0))})
def trace_lot(lot_id: int):
    try:
        lot = services.get_lot(db.session, lot_id)
    except NotFound:
        raise NotFound("No such lot.") from None
    trace = services.trace_lot(db.session, lot, every_line=True)  # each batch's state
    tz, now, say = clock.clinic_tz(), clock.now(), tr_once()
    body = {"lot": {"id": lot.id, "ingredient_id": lot.ingredient_id,
                    "ingredient_name": lot.ingredient.name, "lot_number": lot.lot_number,
                    "expiry_date": iso(lot.expiry_date), "status": lot.status,
                    "quantity_on_hand": dec(lot.quantity_on_hand)},
            "batches": [_batch_head(b, tz, now, say) for b in trace.batches],
            "patients": [{"id": p.id, "mrn": p.mrn, "first_name": p.first_name,
                          "last_name": p.last_name} for p in trace.patients],
            "administration_count": len(trace.administrations)}
    if current_api_user().may(COURSES_VIEW):
        body["administrations"] = [traced_administration_json(a, tz)
                                   for a in trace.administrations]
    return _batches_response(body, trace.batches)
