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
