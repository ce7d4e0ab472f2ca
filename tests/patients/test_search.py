"""The patient search (``patients.services.search_statement``): every word found in the
last or first name, MRN or date of birth, case and accents ignored; the search column kept
on every write (ORM, Core insert) and served by an index (trigram GIN on PostgreSQL, FTS5
on SQLite)."""

from __future__ import annotations

from datetime import date

import pytest
from sqlalchemy import insert, text

from formulary.domain.text import search_key, search_words
from formulary.extensions import db
from formulary.patients import search, services
from formulary.patients.models import Patient


@pytest.mark.parametrize("typed, key", [
    ("Hélène", "helene"),
    ("HÉLÈNE", "helene"),
    ("he\u0301le\u0300ne", "helene"),       # decomposed accents
    ("Lefèvre-Dupré", "lefevre-dupre"),
    ("Ça  va", "ca va"),                    # spaces collapsed
    ("Straße", "strasse"),                  # case folding
    ("Øster", "øster"),                     # not a letter plus a mark: kept
    ("Ｍａｒｉｅ", "marie"),                  # fullwidth (NFKC)
    ("Ma\u200brie", "marie"),               # invisible characters dropped
    ("", ""),
])
def test_search_key(typed, key):
    assert search_key(typed) == key


@pytest.mark.parametrize("q, words", [
    ("  Hélène   MARTIN ", ["helene", "martin"]),
    ("14/03/1985", ["1985-03-14"]),
    ("14.3.1985", ["1985-03-14"]),
    ("1-2-2001", ["2001-02-01"]),
    ("31/02/2000", ["31/02/2000"]),          # no such day: as typed
    ("1985-03-14", ["1985-03-14"]),
    ("a b c d e f", ["a", "b", "c", "d"]),   # four words at most
    (None, []),
    ("", []),
])
def test_search_words(q, words):
    assert search_words(q) == words


def _found(q: str) -> list[str]:
    return [p.mrn for p in db.session.execute(services.search_statement(q)).scalars()]


def _column(mrn: str) -> str:
    return db.session.execute(text("SELECT search_text FROM patient WHERE mrn = :m"),
                              {"m": mrn}).scalar_one()


def test_found_by_name_mrn_and_birth_date_accents_and_case_ignored(session, make_patient):
    make_patient("MRN-100", first_name="Hélène", last_name="Lefèvre",
                 date_of_birth=date(1985, 3, 14))
    make_patient("MRN-200", first_name="Marc", last_name="Dupont", date_of_birth=None)
    make_patient("X_300%", first_name="Zoé", last_name="Martin", date_of_birth=date(1990, 1, 2))
    assert _column("MRN-100") == "lefevre helene mrn-100 1985-03-14"
    assert _found("helene") == ["MRN-100"]
    assert _found("HÉLÈNE lefevre") == ["MRN-100"]
    assert _found("he\u0301le\u0300ne") == ["MRN-100"]
    assert _found("mrn-1") == ["MRN-100"]
    assert _found("14/03/1985") == ["MRN-100"]
    assert _found("1985-03") == ["MRN-100"]
    assert _found("mar") == ["MRN-200", "X_300%"]            # Marc Dupont, Zoé Martin: by last name
    assert _found("ma") == ["MRN-200", "X_300%"]             # two letters: no trigram, still found
    assert _found("zoe martin") == ["X_300%"]
    assert _found("x_3") == ["X_300%"] and _found("_") == ["X_300%"]   # LIKE's wildcards are text
    assert _found("%") == ["X_300%"]
    assert _found('he"l') == [] and _found("helene dupont") == []
    assert _found("") == ["MRN-200", "MRN-100", "X_300%"]   # everyone, by last name


def test_the_column_follows_every_update(session, make_patient, make_user):
    patient = make_patient("MRN-1", first_name="Ana", last_name="Roux",
                           date_of_birth=date(1970, 5, 6))
    actor = make_user("practitioner")
    services.update_patient(session, actor, patient, last_name="Éluard", reason="married")
    session.commit()
    assert _column("MRN-1") == "eluard ana mrn-1 1970-05-06"
    assert _found("eluard") == ["MRN-1"] and _found("roux") == []
    services.update_patient(session, actor, patient, mrn="MRN-9", date_of_birth=None)
    session.commit()
    assert _found("mrn-9") == ["MRN-9"] and _found("mrn-1") == [] and _found("1970") == []
    session.delete(session.get(Patient, patient.id))
    session.commit()
    assert _found("eluard") == []


def test_a_core_insert_fills_the_column(session):
    """Bulk loads insert with Core (the year-scale generator): the column's default."""
    session.execute(insert(Patient), [
        {"mrn": "B-1", "first_name": "Inès", "last_name": "Faure", "allergy_status": "unknown",
         "notes": "", "date_of_birth": date(2001, 12, 31)},
        {"mrn": "B-2", "first_name": "Léa", "last_name": "André", "allergy_status": "unknown",
         "notes": ""}])
    session.commit()
    assert _column("B-1") == "faure ines b-1 2001-12-31"
    assert _found("ines 31/12/2001") == ["B-1"] and _found("andre lea") == ["B-2"]


def test_the_index_is_in_place_and_serves_the_search(session, make_patient):
    make_patient("MRN-1", first_name="Hélène", last_name="Lefèvre")
    connection = session.connection()
    assert search.missing(connection) == []
    statement = services.search_statement("lefevre")
    compiled = statement.compile(connection)
    if connection.dialect.name == "sqlite":
        assert "MATCH" in str(compiled)
        plan = " ".join(str(r) for r in connection.exec_driver_sql(
            "EXPLAIN QUERY PLAN " + str(compiled), tuple(compiled.params.values())))
        assert "patient_search VIRTUAL TABLE INDEX" in plan
    else:
        connection.exec_driver_sql("SET LOCAL enable_seqscan = off")
        plan = " ".join(r[0] for r in connection.execute(
            text("EXPLAIN SELECT id FROM patient WHERE search_text LIKE '%lefevre%'")))
        assert "ix_patient_search_trgm" in plan


def test_a_name_that_folds_long_is_stored_and_found(session, make_patient):
    """NFKD can make one character many (U+FDFA is 18 letters): each name is cut at 250
    characters, so no write fails on the column's length or its btree index, and the
    MRN and date of birth are still found."""
    make_patient("MRN-LONG", first_name="\ufdfa" * 80, last_name="\ufdfa" * 80,
                 date_of_birth=date(1999, 9, 9))
    assert len(_column("MRN-LONG")) == 250 + 1 + 250 + 1 + 8 + 1 + 10
    assert _found("mrn-long 09/09/1999") == ["MRN-LONG"] and _found("\ufdfa") == ["MRN-LONG"]
