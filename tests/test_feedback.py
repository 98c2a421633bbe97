"""Feedback: validated, persisted (SQLite by default, PostgreSQL by URL), concurrent, durable."""

from __future__ import annotations

import tempfile
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pg
import pytest
from conftest import make_app
from fhir_fake import hook_request

URL = "/cds-services/zolgensma-order-sign/feedback"
ACCEPTED = {"card": "card-1", "outcome": "accepted", "acceptedSuggestions": [{"id": "sugg-1"}],
            "outcomeTimestamp": "2026-11-23T10:00:00Z"}
OVERRIDDEN = {"card": "card-2", "outcome": "overridden", "outcomeTimestamp": "2026-11-23T10:01:00Z",
              "overrideReason": {"reason": {"system": "https://zolgensma-cds.example.org/CodeSystem/override-reason",
                                            "code": "documented-elsewhere"}, "userComment": "in PA packet"}}


def _rows(app):
    return app.extensions["cds.store"].feedback_rows()


def test_feedback_is_stored(app, client):
    response = client.post(URL, json={"feedback": [ACCEPTED, OVERRIDDEN]})
    assert response.status_code == 200 and response.json == {"stored": 2}
    rows = _rows(app)
    assert [(r["card_uuid"], r["outcome"]) for r in rows] == [("card-1", "accepted"), ("card-2", "overridden")]
    assert rows[0]["accepted_suggestions"] == '["sugg-1"]'
    assert rows[1]["override_code"] == "documented-elsewhere" and rows[1]["user_comment"] == "in PA packet"


def test_feedback_for_real_cards_round_trips(app, client):
    cards = client.post("/cds-services/zolgensma-order-sign", json=hook_request("no-steroid-plan")).json["cards"]
    card = next(c for c in cards if "suggestions" in c)
    item = {"card": card["uuid"], "outcome": "accepted", "outcomeTimestamp": "2026-11-23T10:00:00Z",
            "acceptedSuggestions": [{"id": card["suggestions"][0]["uuid"]}]}
    assert client.post(URL, json={"feedback": [item]}).status_code == 200
    override = card["overrideReasons"][0]
    item = {"card": card["uuid"], "outcome": "overridden", "outcomeTimestamp": "2026-11-23T10:00:00Z",
            "overrideReason": {"reason": {"system": override["system"], "code": override["code"]}}}
    assert client.post(URL, json={"feedback": [item]}).status_code == 200
    assert len(_rows(app)) == 2


@pytest.mark.parametrize("body, message", [
    ({}, "feedback"),
    ({"feedback": []}, "feedback"),
    ({"feedback": [{**ACCEPTED, "outcome": "maybe"}]}, "outcome"),
    ({"feedback": [{k: v for k, v in ACCEPTED.items() if k != "acceptedSuggestions"}]}, "acceptedSuggestions"),
    ({"feedback": [{**ACCEPTED, "acceptedSuggestions": [{"uuid": "x"}]}]}, "acceptedSuggestions"),
    ({"feedback": [{**OVERRIDDEN, "acceptedSuggestions": [{"id": "x"}]}]}, "acceptedSuggestions"),
    ({"feedback": [{**ACCEPTED, "overrideReason": {}}]}, "overrideReason"),
    ({"feedback": [{**OVERRIDDEN, "overrideReason": {"reason": {"code": "x"}}}]}, "Coding"),
    ({"feedback": [{**ACCEPTED, "outcomeTimestamp": "yesterday"}]}, "outcomeTimestamp"),
    ({"feedback": [{**ACCEPTED, "card": ""}]}, "card"),
])
def test_invalid_feedback_is_400_and_nothing_is_stored(app, client, body, message):
    response = client.post(URL, json=body)
    assert response.status_code == 400
    assert message in response.json["issue"][0]["diagnostics"]
    assert _rows(app) == []


def test_feedback_for_unknown_service_is_404(client):
    assert client.post("/cds-services/nope/feedback", json={"feedback": [ACCEPTED]}).status_code == 404


def _hammer(app, threads=16, per_thread=25):
    def send(t):
        client = app.test_client()
        for i in range(per_thread):
            item = {**ACCEPTED, "card": f"card-{t}-{i}"}
            assert client.post(URL, json={"feedback": [item]}).status_code == 200
    with ThreadPoolExecutor(threads) as pool:
        list(pool.map(send, range(threads)))
    return {f"card-{t}-{i}" for t in range(threads) for i in range(per_thread)}


def test_concurrent_writes_are_all_kept(app):
    expected = _hammer(app)
    assert {r["card_uuid"] for r in _rows(app)} == expected
    assert len(_rows(app)) == len(expected)


def test_store_survives_a_restart():
    url = "sqlite:///" + str(Path(tempfile.mkdtemp()) / "cds.sqlite3")
    first = make_app(DATABASE_URL=url)
    first.test_client().post(URL, json={"feedback": [ACCEPTED]})
    del first
    second = make_app(DATABASE_URL=url)
    assert [r["card_uuid"] for r in _rows(second)] == ["card-1"]


@pytest.mark.skipif(pg.available() is not None, reason=str(pg.available()))
def test_postgresql_store_by_url():
    with pg.postgres_url() as url:
        app = make_app(DATABASE_URL=url)
        expected = _hammer(app, threads=8, per_thread=10)
        assert {r["card_uuid"] for r in _rows(app)} == expected
        restarted = make_app(DATABASE_URL=url)
        assert len(_rows(restarted)) == len(expected)
        app.extensions["cds.store"].engine.dispose()
        restarted.extensions["cds.store"].engine.dispose()
