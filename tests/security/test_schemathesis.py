"""schemathesis against /api/v1/openapi.json: no 500, and every answer matches the document.

Stateless: each operation gets a few generated requests (derandomized and without the
literals schemathesis would otherwise take from the app's source, so a run is
reproducible and depends on the document alone), sent through WSGI with an
administrator's bearer token, on a small data set (one of each kind of object the id
routes reach). Checks: ``not_a_server_error`` and
``response_schema_conformance`` (an answer with a documented status must match its schema),
``status_code_conformance`` (no undocumented status). Bounded: about 5 examples per
operation, SQLite only (the document and the routes are the same on both databases).
"""

from __future__ import annotations

import pytest
import schemathesis  # requirements-test.txt: CI must run this, never skip it
from hypothesis import HealthCheck, Phase, given, settings
from schemathesis.config import SchemathesisConfig
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import response_schema_conformance, status_code_conformance

from tests.security.fixtures import seed_objects

MAX_EXAMPLES = 5
CHECKS = [not_a_server_error, response_schema_conformance, status_code_conformance]


def test_api_conforms_to_its_openapi_document(app, backend, api, make_user, request):
    if backend != "sqlite":
        pytest.skip("the document and the routes are the same on every database")
    request.getfixturevalue("make_ingredient")
    seed_objects(request)
    admin = api("admin")
    app.config["PROPAGATE_UNEXPECTED"] = False  # a 500 is a finding, reported by the check
    # Generated logins must not lock the admin out nor trip the rate limit.
    app.config["LOGIN_MAX_FAILURES"] = 10**6
    # schemathesis mixes into what it generates the literals it finds in the app's own
    # modules: any string changed anywhere in formulary/ would change the requests (and
    # how many get through). Without them a run depends on the document alone.
    config = SchemathesisConfig.from_dict({"analysis": {"constants": {"enabled": False}}})
    schema = schemathesis.openapi.from_wsgi("/api/v1/openapi.json", app, config=config)
    failures = []
    statuses: dict[str, list[int]] = {}
    operations = [r.ok() for r in schema.get_all_operations()]
    # Revoking tokens goes last: a revoked admin token would turn the rest into 401s.
    operations.sort(key=lambda op: op.method.upper() == "DELETE")
    assert len(operations) > 20
    for op in operations:
        @settings(max_examples=MAX_EXAMPLES, derandomize=True, deadline=None, database=None,
                  phases=[Phase.explicit, Phase.generate],
                  suppress_health_check=list(HealthCheck))
        @given(case=op.as_strategy())
        def run(case):
            response = case.call(headers=dict(admin.headers))
            statuses.setdefault(f"{op.method.upper()} {op.path}", []).append(response.status_code)
            case.validate_response(response, checks=CHECKS, headers=dict(admin.headers))

        try:
            run()
        except Exception as exc:  # collect every operation's finding, then fail once
            failures.append(f"{op.method.upper()} {op.path}: {str(exc)[:1500]}")
    assert not failures, "\n\n".join(failures)
    # The run did reach the routes: the admin's token held (no 401 but where credentials
    # are generated, or after the token may have been revoked), and requests got through.
    riding = {k: v for k, v in statuses.items() if k not in ("POST /tokens", "DELETE /tokens/{token_id}")}
    assert all(401 not in v for v in riding.values()), riding
    assert sum(s < 300 for v in statuses.values() for s in v) >= 30, statuses
