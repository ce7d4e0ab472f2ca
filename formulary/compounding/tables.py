"""The rows of the recall trace's two tables (its batches, its administrations), written
in Python.

The most used lot of a year is in some 180 batches and 80 administrations, and a recall
list is not paged: written by the template, each of its ~250 rows cost a clinic-local
date (Flask-Babel's locale looked up for each), one or two links (``url_for``), a status
badge whose word was translated at each call, the locale's quantities and a translated
"#course, session" text: most of the page's time. Here what depends only on the request
(the locale's date and quantity writers, the links' form, each status's badge, each
technique's word, the translated text) is worked out once per request, and each row is
one format string; text that comes from people (batch numbers, names, MRNs, units,
sites) is escaped. The HTML is the one the template wrote
(``tests/recalls/test_list_rows.py`` holds it to the template as it was).
"""

from __future__ import annotations

from flask import url_for
from markupsafe import Markup, escape

from formulary.display import code_word, status_badge
from formulary.i18n import _, datetime_writer, qty_writer, tr

#: An id no row has, put in a link to find where the id goes.
_MARK = 987654321


def url_writer(endpoint: str, arg: str):
    """``url_for(endpoint, **{arg: id})`` for an integer id, its form worked out once."""
    head, found, tail = url_for(endpoint, **{arg: _MARK}).rpartition(str(_MARK))
    if not found or url_for(endpoint, **{arg: 1}) != f"{head}1{tail}":
        return lambda value: url_for(endpoint, **{arg: value})
    return lambda value: f"{head}{int(value)}{tail}"


def memo(fn):
    """``fn`` of each distinct value worked out once (within one request: the words are
    in the request's language)."""
    seen: dict = {}

    def get(value):
        try:
            return seen[value]
        except KeyError:
            out = seen[value] = fn(value)
            return out

    return get


_BATCH_ROW = """
  <tr data-batch="{number}"><td><a href="{url}">{number}</a></td>
    <td>{prepared}</td><td>{cocktail} v{version}</td>
    <td>{mrn}</td>
    <td class="text-end">{taken}</td>
    <td>{badge}</td></tr>
  """


def trace_batch_rows(batches, taken: dict[int, list]) -> Markup:
    """The ``<tr>`` of each batch that used the lot, with the quantity of the lot each
    took (``LotTrace.taken``)."""
    dt, qty = datetime_writer(), qty_writer()
    batch_url = url_writer("compounding.batch", "batch_id")
    badge = memo(status_badge)
    # lines alike are one object (``rows.lines_of_lot``): each one's text written once
    line_text: dict[int, str] = {}

    def taken_text(lines) -> str:
        out = []
        for line in lines:
            text = line_text.get(id(line))
            if text is None:
                text = line_text[id(line)] = f"{escape(qty(line.quantity))} {escape(line.unit)}"
            out.append(text)
        return "".join(out)

    out = []
    for b in batches:
        number = escape(b.batch_number)
        out.append(_BATCH_ROW.format(
            number=number, url=batch_url(b.id), prepared=escape(dt(b.prepared_at)),
            cocktail=escape(b.cocktail.name), version=escape(b.version.number),
            mrn=escape(b.patient.mrn) if b.patient else "",
            taken=taken_text(taken[b.id]), badge=badge(b.status)))
    return Markup("".join(out))


def trace_patient_items(patients) -> Markup:
    """The ``<li>`` of each patient the lot reached (``LotTrace.patients``)."""
    return Markup("".join(
        f'<li data-mrn="{mrn}">{mrn} · {escape(p.last_name)}, {escape(p.first_name)}</li>'
        for p in patients for mrn in (escape(p.mrn),)))


_ADMINISTRATION_ROW = """
  <tr data-administration="{id}"><td>{given}</td>
    <td><a href="{patient_url}">{mrn}</a> · {last}, {first}</td>
    <td>{practitioner}</td>
    <td><a href="{batch_url}">{number}</a></td>
    <td class="text-end">{doses}</td><td class="text-end">{quantity} {unit}</td>
    <td>{sites} <span class="text-muted small">({technique})</span></td>
    <td>{course}</td></tr>
  """


def trace_administration_rows(administrations) -> Markup:
    """The ``<tr>`` of each administration that gave some of the lot
    (``queries.TracedAdministration``)."""
    dt, qty = datetime_writer(), qty_writer()
    patient_url = url_writer("patients.record", "patient_id")
    batch_url = url_writer("compounding.batch", "batch_id")
    technique = memo(lambda code: escape(code_word(code)))
    # the template's ``_()``: the translation is trusted text, its values whole numbers
    # (nothing to escape in their digits) put in by ``%``
    session_text = str(_("#%(course)s, session %(number)s"))
    out = []
    for a in administrations:
        out.append(_ADMINISTRATION_ROW.format(
            id=escape(a.id), given=escape(dt(a.given_at)), patient_url=patient_url(a.patient.id),
            mrn=escape(a.patient.mrn), last=escape(a.patient.last_name),
            first=escape(a.patient.first_name), practitioner=escape(a.practitioner),
            batch_url=batch_url(a.batch_id), number=escape(a.batch_number),
            doses=escape(a.doses), quantity=escape(qty(a.quantity)), unit=escape(a.unit),
            sites=escape(a.sites), technique=technique(a.technique),
            course=session_text % {"course": int(a.course_id), "number": int(a.session_number)}))
    return Markup("".join(out))


_LIST_ROW = """
  <tr data-batch="{number}">
    <td><a href="{url}">{number}</a></td>
    <td>{prepared}</td>
    <td>{cocktail} <span class="text-muted small">v{version}</span></td>
    <td class="text-end">{doses}</td>
    <td>{mrn}
      {override}</td>
    <td>{prepared_by}</td>
    <td>{verified_by}</td>
    <td>{beyond_use}</td>
    <td>{badge}</td>
    <td data-state="{state}">{state_badge}</td>
  </tr>
  """


def batch_list_rows(batches, states: dict) -> Markup:
    """The ``<tr>`` of each batch of the batch list (``rows.BatchRow``s, or ORM batches),
    with its state now (``states``, by batch id): the rows the template wrote, with the
    request's date writer, link form, badges and words worked out once per page."""
    dt = datetime_writer()
    batch_url = url_writer("compounding.batch", "batch_id")
    badge = memo(status_badge)
    override_word = escape(_("safety override"))
    out = []
    for b in batches:
        number = escape(b.batch_number)
        st = states[b.id]
        override = (f'<span class="badge text-bg-danger" title="{escape(b.override_reason)}">'
                    f'{override_word}</span>' if b.override_reason else "")
        state_badge = (f'<span title="{escape(tr(st.reason))}">{badge(st.state)}</span>'
                       if st.state != b.status else "")
        out.append(_LIST_ROW.format(
            number=number, url=batch_url(b.id), prepared=escape(dt(b.prepared_at)),
            cocktail=escape(b.cocktail.name), version=escape(b.version.number),
            doses=escape(b.doses), mrn=escape(b.patient.mrn) if b.patient else "",
            override=override, prepared_by=escape(b.prepared_by.display_name),
            verified_by=escape(b.verified_by.display_name) if b.verified_by else "",
            beyond_use=escape(dt(b.beyond_use_at)), badge=badge(b.status),
            state=escape(st.state), state_badge=state_badge))
    return Markup("".join(out))
