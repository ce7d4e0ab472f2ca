"""Racing state changes of one batch (SPEC §7): of racing changes exactly one wins, the
others get 409 ``invalid_state`` and write nothing (no audit entry); a change that
answered 2xx is never undone by another.

Each race is real: requests from separate threads, each with its own test client, app
context and database connection, released together by a barrier, against a PostgreSQL
database (READ COMMITTED: the race the conditional ``UPDATE ... WHERE status = ...``
closes) or a SQLite file (``BEGIN IMMEDIATE`` serialises the writers, so there the
requests queue and the later ones see the change). Each race is run ``ROUNDS`` times, on a
fresh batch each time: unguarded, PostgreSQL let two or more of them through in about
half the tries.
"""

from __future__ import annotations

import json
import threading

import pytest
from sqlalchemy import select

from formulary.audit.models import AuditEntry
from formulary.auth import services as auth_services
from formulary.auth.models import User
from formulary.cocktails.models import Cocktail
from formulary.compounding import services
from formulary.compounding.models import Batch
from formulary.domain.errors import InvalidState
from formulary.extensions import db
from tests.compounding.conftest import TZ
from tests.conftest import PASSWORD, seed_cocktail

pytestmark = pytest.mark.timeout(300)

ROUNDS = 15
JOIN_TIMEOUT = 60


def seed(rounds: int, verifiers: int = 2) -> dict:
    """A cocktail with plenty of stock, its preparer (``user_id``, ``token``), ``rounds``
    prepared batches (``batch_ids``) and ``verifiers`` other pharmacists with tokens
    (``others``: [(user_id, token)]). Committed, no transaction left open."""
    ids = seed_cocktail([("Plenty", "1000", "PLENTY-1", "1")], cocktail="Race", username="preparer")
    others = []
    for n in range(verifiers):
        user = auth_services.create_user(db.session, "test", username=f"checker{n}",
                                         password=PASSWORD, role="pharmacist")
        db.session.flush()
        token, _ = auth_services.create_token(db.session, user, days=1)
        others.append((user.id, token))
    preparer = db.session.get(User, ids["user_id"])
    cocktail = db.session.get(Cocktail, ids["cocktail_id"])
    ids["batch_ids"] = [services.prepare_batch(db.session, preparer, cocktail=cocktail, doses=1,
                                               tz=TZ).id for _ in range(rounds)]
    ids["others"] = others
    db.session.commit()
    db.session.remove()
    return ids


def race(app, calls: list[tuple[str, str, dict | None]]) -> list[tuple]:
    """Send every ``(token, path, body)`` at once, each from its own thread and client;
    answers ``(status, error code)`` per call, in the order given."""
    barrier = threading.Barrier(len(calls))
    answers: list[tuple] = [("no answer",)] * len(calls)

    def send(i: int, token: str, path: str, body: dict | None) -> None:
        client = app.test_client()
        try:
            barrier.wait(JOIN_TIMEOUT)
            r = client.post(f"/api/v1/{path}", json=body,
                            headers={"Authorization": f"Bearer {token}"})
            answers[i] = (r.status_code, ((r.get_json(silent=True) or {}).get("error") or {}).get("code"))
        except Exception as exc:  # noqa: BLE001 - reported by the assertions
            answers[i] = ("raised", repr(exc))

    threads = [threading.Thread(target=send, args=(i, *call), daemon=True)
               for i, call in enumerate(calls)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(JOIN_TIMEOUT)
    assert not any(t.is_alive() for t in threads), "a request never answered"
    return answers


def fresh(batch_id: int) -> Batch:
    db.session.expire_all()
    return db.session.get(Batch, batch_id)


def audit_of(batch_id: int) -> list[AuditEntry]:
    """The batch's audit entries after its preparation, in order."""
    return list(db.session.execute(
        select(AuditEntry).where(AuditEntry.object_type == "batch",
                                 AuditEntry.object_id == str(batch_id),
                                 AuditEntry.action != "batch.prepare")
        .order_by(AuditEntry.seq)).scalars())


def winners(answers: list[tuple]) -> list[int]:
    """The indexes of the calls that answered 2xx; every other one must be 409
    invalid_state."""
    for answer in answers:
        assert answer[0] == 200 or answer == (409, "invalid_state"), answers
    return [i for i, answer in enumerate(answers) if answer[0] == 200]


def test_racing_verifications_one_wins(race_app):
    app, _ = race_app
    ids = seed(ROUNDS)
    (v1, t1), (v2, t2) = ids["others"]
    for batch_id in ids["batch_ids"]:
        calls = [(t1 if i % 2 == 0 else t2, f"batches/{batch_id}/verify", None) for i in range(6)]
        won = winners(race(app, calls))
        assert len(won) == 1, f"batch {batch_id}: {len(won)} verifications answered 200"
        winner = v1 if won[0] % 2 == 0 else v2
        batch = fresh(batch_id)
        assert (batch.status, batch.verified_by_id) == ("verified", winner)
        assert [(e.action, e.user_id) for e in audit_of(batch_id)] == [("batch.verify", winner)]
        db.session.rollback()


def test_racing_discards_one_wins_and_keeps_its_reason(race_app):
    app, _ = race_app
    ids = seed(ROUNDS)
    people = [(ids["user_id"], ids["token"]), *ids["others"]]
    for batch_id in ids["batch_ids"]:
        calls = [(token, f"batches/{batch_id}/discard", {"reason": f"reason {n}"})
                 for n, (_, token) in enumerate(people)]
        won = winners(race(app, calls))
        assert len(won) == 1, f"batch {batch_id}: {len(won)} discards answered 200"
        batch = fresh(batch_id)
        assert (batch.status, batch.discard_reason, batch.discarded_by_id) == (
            "discarded", f"reason {won[0]}", people[won[0]][0])
        entries = audit_of(batch_id)
        assert [(e.action, e.user_id, e.reason) for e in entries] == [
            ("batch.discard", people[won[0]][0], f"reason {won[0]}")]
        db.session.rollback()


def test_discard_racing_a_verification(race_app):
    """A verified batch may still be discarded, so both may answer 200, but only one after
    the other: the discard then saw the batch verified. Never a verified batch with a
    discard reason, never a discard that overwrote a verification it did not see."""
    app, _ = race_app
    ids = seed(ROUNDS)
    (checker, t_check), (discarder, t_discard) = ids["others"]
    for batch_id in ids["batch_ids"]:
        answers = race(app, [(t_check, f"batches/{batch_id}/verify", None),
                             (t_discard, f"batches/{batch_id}/discard", {"reason": "Cloudy"})])
        won = winners(answers)
        batch = fresh(batch_id)
        entries = [(e.action, json.loads(e.before)["status"]) for e in audit_of(batch_id)]
        facts = (batch.status, batch.verified_by_id, batch.discard_reason, entries)
        if won == [0]:      # the verification won; the discard came too late
            assert facts == ("verified", checker, None, [("batch.verify", "prepared")]), answers
        elif won == [1]:    # the discard won; the verification came too late
            assert facts == ("discarded", None, "Cloudy", [("batch.discard", "prepared")]), answers
        else:               # one after the other: verified, then discarded
            assert won == [0, 1], answers
            assert facts == ("discarded", checker, "Cloudy", [("batch.verify", "prepared"),
                                                              ("batch.discard", "verified")])
        db.session.rollback()


def test_racing_verifications_on_the_page_one_wins(race_app):
    """Through the pages: the winner is redirected, each loser gets the batch page again
    with 409 and the reason in a flash; one audit entry."""
    app, _ = race_app
    rounds = 5
    ids = seed(rounds, verifiers=3)
    clients = []
    for user_id, _ in ids["others"]:
        client = app.test_client()
        with client.session_transaction() as sess:
            sess["_user_id"], sess["_fresh"] = db.session.get(User, user_id).get_id(), True
        clients.append((user_id, client))
    db.session.remove()
    for batch_id in ids["batch_ids"]:
        tokens = [client.csrf_token(f"/batches/{batch_id}") for _, client in clients]
        barrier = threading.Barrier(len(clients))
        answers: list = [None] * len(clients)

        def send(i: int) -> None:
            try:
                barrier.wait(JOIN_TIMEOUT)
                r = clients[i][1].post(f"/batches/{batch_id}/verify", data={"csrf_token": tokens[i]})
                answers[i] = (r.status_code, r.get_data(as_text=True))
            except Exception as exc:  # noqa: BLE001 - reported by the assertions
                answers[i] = ("raised", repr(exc))

        threads = [threading.Thread(target=send, args=(i,), daemon=True) for i in range(len(clients))]
        for t in threads:
            t.start()
        for t in threads:
            t.join(JOIN_TIMEOUT)
        assert not any(t.is_alive() for t in threads), "a request never answered"
        statuses = sorted(a[0] for a in answers)
        assert statuses == [302] + [409] * (len(clients) - 1), statuses
        for status, html in answers:
            if status == 409:
                assert "alert-danger" in html and "is verified" in html, html
        winner = clients[[a[0] for a in answers].index(302)][0]
        batch = fresh(batch_id)
        assert (batch.status, batch.verified_by_id) == ("verified", winner)
        assert [(e.action, e.user_id) for e in audit_of(batch_id)] == [("batch.verify", winner)]
        db.session.rollback()


# --- the loser's path, without threads: the row changed after the batch was read ---------

def _changed_behind(session, batch: Batch, **values) -> None:
    """Another request's committed change, which the loaded ``batch`` has not seen."""
    from sqlalchemy import update

    session.execute(update(Batch).where(Batch.id == batch.id).values(**values)
                    .execution_options(synchronize_session=False))
    assert batch.status == "prepared"  # what this request read


@pytest.fixture
def read_batch(app, make_user, session):
    """A prepared batch, read by this request, and two more pharmacists."""
    ids = seed_cocktail([("Plenty", "100", "PLENTY-1", "1")], cocktail="Stale", username="maker")
    maker = session.get(User, ids["user_id"])
    batch = services.prepare_batch(session, maker, cocktail=session.get(Cocktail, ids["cocktail_id"]),
                                   doses=1, tz=TZ)
    session.commit()
    return batch, make_user("pharmacist"), make_user("pharmacist")


def test_verify_refused_when_the_batch_was_discarded_since_it_was_read(read_batch, session):
    batch, checker, other = read_batch
    _changed_behind(session, batch, status="discarded", discarded_by_id=other.id,
                    discard_reason="Cloudy")
    with pytest.raises(InvalidState) as info:
        services.verify_batch(session, checker, batch)
    assert "is discarded" in info.value.message
    assert (batch.status, batch.verified_by_id, batch.discard_reason) == ("discarded", None, "Cloudy")
    session.commit()
    assert audit_of(batch.id) == []


def test_discard_refused_when_the_batch_was_verified_since_it_was_read(read_batch, session):
    batch, checker, other = read_batch
    _changed_behind(session, batch, status="verified", verified_by_id=checker.id)
    with pytest.raises(InvalidState) as info:
        services.discard_batch(session, other, batch, "Cloudy")
    assert "changed by someone else" in info.value.message and "verified" in info.value.message
    assert (batch.status, batch.discard_reason, batch.discarded_by_id) == ("verified", None, None)
    session.commit()
    assert audit_of(batch.id) == []


def test_second_discard_refused_when_the_first_is_not_yet_seen(read_batch, session):
    batch, checker, other = read_batch
    _changed_behind(session, batch, status="discarded", discarded_by_id=checker.id,
                    discard_reason="first reason")
    with pytest.raises(InvalidState) as info:
        services.discard_batch(session, other, batch, "second reason")
    assert "already discarded" in info.value.message
    assert (batch.discard_reason, batch.discarded_by_id) == ("first reason", checker.id)
    session.commit()
    assert audit_of(batch.id) == []


def test_winner_reads_what_it_wrote(read_batch, session):
    """After the UPDATE the object shows the row as it is now (no stale attribute)."""
    batch, checker, other = read_batch
    services.verify_batch(session, checker, batch)
    assert (batch.status, batch.verified_by_id, batch.verified_by.id) == ("verified", checker.id, checker.id)
    assert batch.verified_at is not None
    services.discard_batch(session, other, batch, "Dropped")
    assert (batch.status, batch.discarded_by.id, batch.discard_reason) == ("discarded", other.id, "Dropped")
    session.commit()
    assert [(e.action, json.loads(e.before)["status"]) for e in audit_of(batch.id)] == [
        ("batch.verify", "prepared"), ("batch.discard", "verified")]
