"""Every answer that used to be a 500 (issue 16) is now the right 4xx or a clean answer, and no free text
from a request reaches the log."""

from __future__ import annotations

import json
import logging
import time

import pg
import pytest
from conftest import make_app
from fhir_fake import hook_request
from flask import request
from sqlalchemy import insert
from sqlalchemy.exc import IntegrityError
from test_data_access import _statuses
from test_feedback import ACCEPTED, OVERRIDDEN
from test_trust import EC_KEY, ISS, JWKS, RSA_KEY, SIGN_URL, token

from cds_service.store import feedback as feedback_table

URL = "/cds-services/zolgensma-order-sign"
FEEDBACK = URL + "/feedback"


@pytest.fixture
def secured():
    return make_app(AUTH_REQUIRED=True, TRUSTED_ISSUERS={ISS: {"jwks": JWKS}},
                    PUBLIC_BASE_URL="http://localhost").test_client()


def _call(client, authorization):
    return client.post(URL, json=hook_request("eligible-infant"), headers={"Authorization": authorization})


NOW = int(time.time())
BAD = {
    "RS384 header naming the EC key": token(RSA_KEY, "RS384", "ec-1"),
    "ES384 header naming the RSA key": token(EC_KEY, "ES384", "rsa-1"),
    "exp as a string": token(exp=str(NOW + 300)),
    "iat as a string": token(iat=str(NOW)),
    "exp and iat as strings": token(exp=str(NOW + 300), iat=str(NOW)),
    "jti over 500 characters": token(jti="j" * 501),
    "jti with a NUL": token(jti="a\x00b"),
    "jti as a number": token(jti=12345),
}


@pytest.mark.parametrize("case", sorted(BAD))
def test_malformed_tokens_are_401_without_detail(secured, case, caplog):
    caplog.set_level(logging.INFO)
    response = _call(secured, f"Bearer {BAD[case]}")
    assert response.status_code == 401
    assert response.json["issue"][0]["diagnostics"] == "unauthorized"
    assert "Traceback" not in caplog.text and BAD[case] not in caplog.text


def test_a_jti_of_500_characters_is_still_accepted(secured):
    assert _call(secured, f"Bearer {token(jti='j' * 500)}").status_code == 200


@pytest.mark.parametrize("scheme", ["bearer", "BEARER", "Bearer"])
def test_the_bearer_scheme_is_case_insensitive(secured, scheme):
    assert _call(secured, f"{scheme} {token()}").status_code == 200


def test_rejection_log_never_repeats_values_from_the_token(secured, caplog):
    caplog.set_level(logging.INFO, logger="cds_service.auth")
    _call(secured, f"Bearer {token(iss='https://evil.example.org/patient-jane-doe')}")
    assert "issuer not trusted" in caplog.text and "jane-doe" not in caplog.text


@pytest.mark.parametrize("method, path, allowed", [
    ("put", URL, {"POST", "OPTIONS"}),
    ("delete", "/cds-services", {"GET", "HEAD", "OPTIONS"}),
    ("get", FEEDBACK, {"POST", "OPTIONS"}),
])
def test_405_names_the_allowed_methods(client, method, path, allowed):
    response = getattr(client, method)(path)
    assert response.status_code == 405
    assert {m.strip() for m in response.headers["Allow"].split(",")} == allowed
    assert response.json["resourceType"] == "OperationOutcome"


def _with_deep_value(body: dict, where: str, depth: int) -> str:
    """The request as JSON text with `where` replaced by `depth` nested objects (too deep for json.dumps)."""
    holder, _, field = where.rpartition(".")
    target = body
    for part in holder.split("."):
        target = target[int(part)] if part.isdigit() else target[part]
    target[field] = "__DEEP__"
    return json.dumps(body).replace('"__DEEP__"', '{"a":' * depth + "1" + "}" * depth)


@pytest.mark.parametrize("depth", [100, 300, 900, 1100, 100_000])
def test_deeply_nested_draft_order_is_refused(client, depth):
    """Not JSON to our parser (deeper than it allows): 400; valid JSON nested too deep for CDS Hooks: the CRD
    services answer 422 (CRD 2.0.1 hooks.md), the plain CDS Hooks service 400."""
    text = _with_deep_value(hook_request("eligible-infant"), "context.draftOrders.entry.0.resource.note", depth)
    response = client.post(URL, data=text, content_type="application/json")
    assert response.status_code == (400 if depth > 1024 else 422)
    assert response.json["resourceType"] == "OperationOutcome"


@pytest.mark.parametrize("depth", [300, 900, 1100, 100_000])
def test_deeply_nested_prefetch_never_5xx_and_never_met_from_it(client, depth):
    text = _with_deep_value(hook_request("eligible-infant"), "prefetch.labs.entry.0.resource.note", depth)
    response = client.post(URL, data=text, content_type="application/json")
    assert response.status_code in (200, 400)
    if response.status_code == 200:  # the lab carrying it is skipped and reported
        assert _statuses(response)["aav9-titer"] != "met"  # the titer is the first lab entry


def test_a_normally_nested_draft_order_is_still_echoed(client):
    response = client.post(URL, json=hook_request("eligible-infant"))
    assert response.status_code == 200 and response.json["systemActions"]


LONG = {
    "card over 200 characters": {**ACCEPTED, "card": "c" * 201},
    "card with a NUL": {**ACCEPTED, "card": "c\x00d"},
    "suggestion id over 200 characters": {**ACCEPTED, "acceptedSuggestions": [{"id": "s" * 201}]},
    "override code over 200 characters": {**OVERRIDDEN, "overrideReason": {
        "reason": {"system": "http://x", "code": "k" * 201}}},
    "override system over 500 characters": {**OVERRIDDEN, "overrideReason": {
        "reason": {"system": "s" * 501, "code": "k"}}},
    "override display not a string": {**OVERRIDDEN, "overrideReason": {
        "reason": {"system": "http://x", "code": "k", "display": ["x"]}}},
    "comment over 4000 characters": {**OVERRIDDEN, "overrideReason": {"userComment": "w" * 4001}},
    "comment with a NUL": {**OVERRIDDEN, "overrideReason": {"userComment": "private\x00note"}},
    "timestamp over 40 characters": {**ACCEPTED, "outcomeTimestamp": "2026-11-23T10:00:00" + "0" * 30 + "Z"},
}


def _feedback_is_validated_before_the_database(app, caplog):
    caplog.set_level(logging.INFO)
    client = app.test_client()
    for case, item in LONG.items():
        response = client.post(FEEDBACK, json={"feedback": [item]})
        assert response.status_code == 400, case
        assert "private" not in response.get_data(as_text=True)
    assert client.post(FEEDBACK, json={"feedback": [ACCEPTED] * 101}).status_code == 400
    assert app.extensions["cds.store"].feedback_rows() == []
    at_limit = {**OVERRIDDEN, "card": "c" * 200, "overrideReason": {
        "reason": {"system": "s" * 500, "code": "k" * 200, "display": "d" * 500}, "userComment": "w" * 4000}}
    assert client.post(FEEDBACK, json={"feedback": [at_limit]}).status_code == 200
    assert app.extensions["cds.store"].feedback_rows()[0]["card_uuid"] == "c" * 200
    assert "private" not in caplog.text and "Traceback" not in caplog.text


def test_feedback_lengths_are_validated_before_the_database(caplog):
    _feedback_is_validated_before_the_database(make_app(), caplog)


@pytest.mark.skipif(pg.available() is not None, reason=str(pg.available()))
def test_feedback_lengths_are_validated_before_postgresql(caplog):
    with pg.postgres_url() as url:
        app = make_app(DATABASE_URL=url)
        _feedback_is_validated_before_the_database(app, caplog)
        app.extensions["cds.store"].engine.dispose()


def test_database_errors_never_quote_stored_values(app):
    with pytest.raises(IntegrityError) as raised, app.extensions["cds.store"].engine.begin() as conn:
        conn.execute(insert(feedback_table).values(service_id="s", card_uuid=None, outcome="overridden",
                                                    user_comment="private comment", outcome_timestamp="t",
                                                    received_at=0.0))
    assert "private comment" not in str(raised.value)


def test_an_unexpected_error_logs_where_never_what(caplog):
    app = make_app()

    @app.post("/boom")
    def boom():
        raise ValueError(request.get_json()["comment"])

    caplog.set_level(logging.INFO)
    response = app.test_client().post("/boom", json={"comment": "private comment from the request"})
    assert response.status_code == 500
    assert "ValueError" in caplog.text and "boom" in caplog.text
    assert "private comment" not in caplog.text and "private comment" not in response.get_data(as_text=True)


def test_call_log_carries_no_free_text_from_the_request(client, caplog):
    caplog.set_level(logging.INFO, logger="cds_service.calls")
    body = hook_request("eligible-infant")
    body["hook"] = "free text about the patient"
    body["prefetch"]["a note about the patient"] = None
    body["hookInstance"] = "h" * 5000
    client.post(URL, json=body)
    body = hook_request("eligible-infant")
    body["prefetch"]["a note about the patient"] = None
    client.post(URL, json=body)
    client.post("/cds-services/" + "secret-" * 40, json={})
    assert "about the patient" not in caplog.text and "secret-secret" * 10 not in caplog.text
    assert "h" * 129 not in caplog.text
    events = [json.loads(r.getMessage()) for r in caplog.records]
    assert events[0]["hook"] == "other" and events[1]["otherPrefetchKeys"] == 1
    assert SIGN_URL.endswith(events[1]["path"])


def test_a_resource_that_breaks_the_reader_is_logged_without_its_values(client, caplog, monkeypatch):
    from cds_service.translate import Translator

    def explode(self, resource, *args):
        raise ValueError(f"could not read {resource.get('note')}")

    monkeypatch.setattr(Translator, "_coverage", explode)
    body = hook_request("eligible-infant")
    body["prefetch"]["coverage"]["entry"][0]["resource"]["note"] = "private note about the patient"
    caplog.set_level(logging.INFO)
    response = client.post(URL, json=body)
    assert response.status_code == 200
    assert "could not read Coverage/" in caplog.text and "ValueError" in caplog.text
    assert "private note" not in caplog.text
