"""The dashboard's panel of sessions due today and overdue (SPEC §11)."""

from __future__ import annotations

from datetime import timedelta

from formulary import clock
from formulary.courses import services
from formulary.extensions import db
from tests.inventory.test_panel_cache import second_process  # noqa: F401 (a fixture)
from tests.pages import without_csrf


def _course(clinic, practitioner, start_offset: int, sessions: int = 3, patient=None):
    course = services.create_course(
        db.session, practitioner, patient=patient or clinic["patient"],
        cocktail=clinic["cocktail"], planned_sessions=sessions, interval_days=7,
        start_date=clock.today() + timedelta(days=start_offset))
    db.session.commit()
    return course


def test_the_panel_counts_due_and_overdue_for_the_clinic_and_me(client, login_as, make_user,
                                                                clinic):
    me = login_as("practitioner")
    other = make_user("practitioner")
    _course(clinic, me, 0)        # session 1 due today (mine)
    _course(clinic, other, -8)    # sessions 1 and 2 overdue (someone else's)
    stopped = _course(clinic, other, -1)
    services.stop_course(db.session, other, stopped, "moved away")
    db.session.commit()
    html = client.get("/dashboard").get_data(as_text=True)
    assert 'data-count="due">1<' in html and 'data-count="overdue">2<' in html
    assert 'data-count="my_due">1<' in html and 'data-count="my_overdue">0<' in html
    assert clinic["patient"].mrn in html


def test_a_manager_sees_counts_never_a_patient(client, login_as, clinic):
    manager = login_as("manager")
    _course(clinic, clinic_practitioner(), -1)
    html = client.get("/dashboard").get_data(as_text=True)
    assert 'data-count="overdue">1<' in html
    assert clinic["patient"].mrn not in html and 'data-testid="due-sessions"' not in html
    assert manager.role == "manager"


def clinic_practitioner():
    from formulary.auth import services as auth

    user = auth.create_user(db.session, "test", username="inchargep", password="correct horse battery",
                            role="practitioner")
    db.session.commit()
    return user


def test_the_panel_reads_a_fixed_number_of_statements(client, login_as, clinic, count_queries,
                                                      make_patient):
    me = login_as("practitioner")
    counted = []
    for n in (1, 12):
        for _ in range(n):
            _course(clinic, me, -30, sessions=5, patient=make_patient())
        client.get("/dashboard")
        with count_queries() as c:
            assert client.get("/dashboard").status_code == 200
        counted.append(c.count)
    assert counted[0] == counted[1], counted


# --- the counts kept between views (courses.revision) -------------------------------------

def test_the_counts_are_kept_until_a_session_changes(client, login_as, clinic, count_queries):
    me = login_as("practitioner")
    course = _course(clinic, me, -8)  # sessions 1 and 2 overdue, mine
    html = client.get("/dashboard").get_data(as_text=True)
    assert 'data-count="my_overdue">2<' in html
    with count_queries() as first:
        client.get("/dashboard")
    with count_queries() as again:
        assert without_csrf(client.get("/dashboard").get_data(as_text=True)) == without_csrf(html)
    assert again.count == first.count  # the same statements: the count's is the token's
    course.sessions[0].status = "missed"
    db.session.commit()
    assert 'data-count="my_overdue">1<' in client.get("/dashboard").get_data(as_text=True)
    services.stop_course(db.session, me, course, "moved away")
    db.session.commit()
    assert 'data-count="my_overdue">0<' in client.get("/dashboard").get_data(as_text=True)


def test_the_next_day_counts_again(client, login_as, clinic, monkeypatch):
    me = login_as("practitioner")
    today = clock.today()
    _course(clinic, me, 1)  # session 1 tomorrow
    assert 'data-count="my_due">0<' in client.get("/dashboard").get_data(as_text=True)
    monkeypatch.setattr(clock, "today", lambda: today + timedelta(days=1))
    assert 'data-count="my_due">1<' in client.get("/dashboard").get_data(as_text=True)
    monkeypatch.setattr(clock, "today", lambda: today + timedelta(days=2))
    html = client.get("/dashboard").get_data(as_text=True)
    assert 'data-count="my_due">0<' in html and 'data-count="my_overdue">1<' in html


def test_a_change_committed_by_another_process_is_seen_at_once(second_process, make_user,
                                                               make_ingredient, make_cocktail,
                                                               make_patient):
    from formulary.courses.models import CourseSession

    viewer, writer = second_process
    with writer.app_context():
        me = make_user("practitioner")
        cocktail = make_cocktail([(make_ingredient("Biotin 5 mg/mL", unit="mL"), "1", "mL")],
                                 name="Scalp mix", area="scalp", indication="hair loss")
        course = _course({"patient": make_patient(), "cocktail": cocktail}, me, -8)
        me_id, first = me.get_id(), course.sessions[0].id
    client = viewer.test_client()
    with client.session_transaction() as sess:
        sess["_user_id"] = me_id
        sess["_fresh"] = True
    for _ in range(2):  # counted, then served from what the viewer kept
        assert 'data-count="overdue">2<' in client.get("/dashboard").get_data(as_text=True)
    with writer.app_context():
        db.session.get(CourseSession, first).status = "missed"
        db.session.commit()
    assert 'data-count="overdue">1<' in client.get("/dashboard").get_data(as_text=True)


# --- the batch and sessions panels drawn again only when a value differs (main.rendered) ----

def _panel_figures(html: str) -> dict:
    """What the batch and sessions panels show: their counts, and the sessions listed
    (each as its text, so a patient's name is part of it)."""
    import re

    figures = {k: int(v) for k, v in re.findall(r'data-count="(\w+)">(\d+)<', html)}
    for name, pattern in (("today", r'data-testid="batches-today">(\d+)<'),
                          ("awaiting", r'data-testid="awaiting-verification">\s*(\d+)'),
                          ("on_hold", r'data-testid="batches-on-hold"[^>]*>(\d+)'),
                          ("expired", r'data-testid="batches-expired"[^>]*>(\d+)')):
        figures[name] = int(re.search(pattern, html).group(1))
    figures["listed"] = [" ".join(re.sub(r"<[^>]+>", " ", li).split())
                         for li in re.findall(r"<li data-session=.*?</li>", html, re.S)]
    return figures


def test_the_batch_and_sessions_panels_show_another_process_changes_at_once(
        second_process, make_user, make_ingredient, make_lot, make_cocktail, make_patient):
    """Each view reads the panels' counts and rows; their templates are drawn again when
    one of those values differs from the last drawing's. Every kind of change, committed
    by another process, is on the next view: a new batch, its verification, a session
    given, a session booked and cancelled, a patient renamed (the rows alone change), a
    batch discarded, a lot recalled (its batches on hold)."""
    from formulary.auth.models import User
    from formulary.compounding import services as batch_services
    from formulary.compounding.models import Batch
    from formulary.courses import administrations, consent
    from formulary.courses.models import Course, CourseSession
    from formulary.inventory import lots as lot_services
    from formulary.inventory.models import Lot
    from formulary.patients import services as patient_services
    from formulary.patients.models import Patient

    viewer, writer = second_process
    with writer.app_context():
        me, preparer = make_user("practitioner"), make_user("pharmacist")
        checker = make_user("pharmacist")
        biotin = make_ingredient("Biotin 5 mg/mL", unit="mL")
        lot = make_lot(biotin, "100", expiry=clock.today() + timedelta(days=200), lot_number="BIO-1")
        cocktail = make_cocktail([(biotin, "1", "mL")], name="Scalp mix", area="scalp",
                                 indication="hair loss")
        patient = make_patient()
        course = _course({"patient": patient, "cocktail": cocktail}, me, -8)  # 2 overdue
        ids = {"me": me.id, "preparer": preparer.id, "checker": checker.id, "lot": lot.id,
               "patient": patient.id, "cocktail": cocktail.id, "course": course.id,
               "first": course.sessions[0].id, "session_id": me.get_id()}
    client = viewer.test_client()
    with client.session_transaction() as sess:
        sess["_user_id"] = ids["session_id"]
        sess["_fresh"] = True

    def seen() -> dict:
        return _panel_figures(client.get("/dashboard").get_data(as_text=True))

    def change(do) -> None:
        with writer.app_context():
            get = db.session.get
            do(db.session, lambda name: get(User, ids[name]))
            db.session.commit()

    def prepare(s, user):
        return batch_services.prepare_batch(
            s, user("preparer"), cocktail=db.session.get(type(cocktail), ids["cocktail"]), doses=3,
            patient=s.get(Patient, ids["patient"]), tz=clock.clinic_tz(),
            policy=batch_services.policy_from_hours(writer.config["BEYOND_USE_HOURS"]))

    first = seen()
    assert (first["today"], first["overdue"], first["due"], len(first["listed"])) == (0, 2, 0, 2)
    assert seen() == first  # served from the drawing kept

    change(lambda s, user: ids.update(batch=prepare(s, user).id))  # a new batch
    now = seen()
    assert (now["today"], now["prepared"], now["awaiting"]) == (1, 1, 1)
    change(lambda s, user: batch_services.verify_batch(s, user("checker"), s.get(Batch, ids["batch"])))
    now = seen()
    assert (now["prepared"], now["verified"], now["awaiting"]) == (0, 1, 0)

    def given(s, user):  # session 1 given (the patient's consent first): one overdue left
        course = s.get(Course, ids["course"])
        text = consent.create_text(s, user("me"), area=course.area, title="Scalp", body="Agreed.")
        s.flush()
        consent.record_consent(s, user("me"), course, consent_text_id=text.id,
                               consented_on=clock.today(), today=clock.today())
        administrations.give(s, user("me"), s.get(CourseSession, ids["first"]),
                             batch_id=ids["batch"], doses=1, sites="vertex", technique="nappage")
    change(given)
    now = seen()
    assert (now["overdue"], len(now["listed"])) == (1, 1)

    def book(mrn):  # a session booked for today, for another patient
        def do(s, user):
            other = Patient(mrn=mrn, first_name="Ines", last_name="Okafor")
            s.add(other)
            s.flush()
            booked = services.create_course(s, user("me"), patient=other,
                                            cocktail=s.get(type(cocktail), ids["cocktail"]),
                                            planned_sessions=1, interval_days=7,
                                            start_date=clock.today())
            s.flush()
            ids["booked"] = booked.sessions[0].id
        return do
    change(book("MRN-KEPT-1"))
    now = seen()
    assert (now["due"], now["my_due"]) == (1, 1)
    assert any("MRN-KEPT-1" in text for text in now["listed"])
    change(lambda s, user: services.mark_session(s, user("me"), s.get(CourseSession, ids["booked"]),
                                                 "cancelled", "patient called", today=clock.today()))
    now = seen()
    assert now["due"] == 0 and not any("MRN-KEPT-1" in text for text in now["listed"])

    before = seen()
    change(lambda s, user: patient_services.update_patient(  # the rows alone change
        s, user("me"), s.get(Patient, ids["patient"]), last_name="Renamed-Kept", reason="typo"))
    now = seen()
    assert {k: v for k, v in now.items() if k != "listed"} == {
        k: v for k, v in before.items() if k != "listed"}
    assert "Renamed-Kept" in now["listed"][0] and "Renamed-Kept" not in before["listed"][0]

    def discard(s, user):
        batch_services.discard_batch(s, user("preparer"), prepare(s, user), "dropped")
    change(discard)
    now = seen()
    assert (now["today"], now["discarded"]) == (2, 1)

    change(lambda s, user: lot_services.set_lot_status(s, user("preparer"), s.get(Lot, ids["lot"]),
                                                       status="recalled", reason="supplier notice"))
    now = seen()
    assert now["on_hold"] == 1  # the verified batch, 2 doses left, made from the recalled lot
    assert seen() == now
    with writer.app_context():
        assert db.session.get(Course, ids["course"]).sessions[0].status == "given"
        manager = make_user("manager").get_id()

    # a manager reads the counts alone (no rows): a change of the counts only is seen too
    with client.session_transaction() as sess:
        sess["_user_id"] = manager
    watched = seen()
    assert watched["listed"] == [] and watched["due"] == 0
    change(book("MRN-KEPT-2"))
    now = seen()
    assert (now["due"], now["listed"]) == (1, [])
    change(lambda s, user: services.mark_session(s, user("me"), s.get(CourseSession, ids["booked"]),
                                                 "cancelled", "patient called", today=clock.today()))
    assert seen() == watched


def test_the_panels_kept_are_in_the_language_of_each_view(client, login_as, clinic):
    """A drawing is kept for its language too: English, French, English again."""
    login_as("practitioner")
    for lang, batches, sessions in (("en", "Batches today", "Sessions due"),
                                    ("fr", "Préparations du jour", "Séances prévues"),
                                    ("en", "Batches today", "Sessions due")):
        html = client.get("/dashboard", headers={"Accept-Language": lang}).get_data(as_text=True)
        assert batches in html and sessions in html, lang
