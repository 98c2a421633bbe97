"""Data access at a real EHR's scale: lean prefetch, targeted bounded searches, the gathering deadline and
the size and request limits. Behaviour only (never timings)."""

from __future__ import annotations

import gzip
import json
import re
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
import responses
from conftest import make_app
from fhir_fake import FHIR_BASE, FakeFhir, hook_request, load, long_history

SIGN = "/cds-services/zolgensma-order-sign"


def _outcome(response) -> dict:
    assert response.status_code == 200, response.get_data(as_text=True)
    return response.json["cards"][0]["extension"]["org.example.zolgensma-cds.eligibility"]


def _statuses(response) -> dict:
    return {c["id"]: c["status"] for c in _outcome(response)["criteria"]}


def _problems(response) -> str:
    return " | ".join(i["problem"] for i in _outcome(response).get("dataIssues", []))


def test_a_non_zolgensma_order_costs_the_ehr_no_fhir_query(client, rsps):
    fake = FakeFhir(load("no-zolgensma"))
    fake.register(rsps)
    body = hook_request("no-zolgensma", mode="server")
    assert "prefetch" not in body  # the lean discovery asks for nothing
    response = client.post(SIGN, json=body)
    assert response.status_code == 200 and response.json == {"cards": []}
    assert fake.calls == []


@pytest.mark.parametrize("observations, administrations, page_size",
                         [(2500, 600, None), (10000, 600, None), (2500, 600, 50)])
def test_long_histories_stay_evaluable(observations, administrations, page_size, rsps):
    """An infant after a long NICU stay: thousands of results, hundreds of administrations. (The deadline is
    raised: this is about what is read, not how fast a mocked server on a busy test machine answers.)"""
    fake = FakeFhir(long_history(load("eligible-infant"), observations, administrations), page_size)
    fake.register(rsps)
    client = make_app(GATHER_DEADLINE_SECONDS=120).test_client()
    response = client.post(SIGN, json=hook_request("eligible-infant", mode="server"))
    assert _outcome(response)["overall"] == "eligible", _problems(response)
    assert len(fake.calls) <= 50


def _newer_high_alt(resources: list[dict]) -> list[dict]:
    """A history whose latest ALT (the day before the scenario's) is 5 x ULN, and the scenario's is dropped."""
    history = long_history(resources, 300, 0)
    high = next(r for r in history if r.get("id") == "alt")
    high["valueQuantity"]["value"] = 250
    return history


@pytest.mark.parametrize("ignore", [(), ("_sort",), ("_sort", "_count", "date"), ("code",), ("date", "code")])
def test_a_server_ignoring_a_parameter_never_makes_the_answer_wrong(ignore, client, rsps):
    fake = FakeFhir(_newer_high_alt(load("eligible-infant")), page_size=100, ignore=ignore)
    fake.register(rsps)
    statuses = _statuses(client.post(SIGN, json=hook_request("eligible-infant", mode="server")))
    # The elevated ALT is the latest: `review` when read, `unknown` if the server made it unreachable; never met.
    assert statuses["baseline-liver-function"] in ("review", "unknown")
    if not ignore or ignore == ("_sort",):
        assert statuses["baseline-liver-function"] == "review"


def test_the_gathering_deadline_is_honoured(rsps):
    """A server that never answers within the deadline: the call answers while its searches are still
    waiting, with the sources they read unread (unknown), never met."""
    release = threading.Event()
    fake = FakeFhir(load("eligible-infant"))

    def stalled(request):
        if "/Observation" in request.url:
            release.wait(30)
        relative = request.url[len(FHIR_BASE) + 1:]
        return 200, {"Content-Type": "application/fhir+json"}, json.dumps(fake.answer(relative))

    rsps.add_callback(responses.GET, re.compile(re.escape(FHIR_BASE) + r"/.*"), callback=stalled)
    try:
        client = make_app(GATHER_DEADLINE_SECONDS=0.5).test_client()
        response = client.post(SIGN, json=hook_request("eligible-infant", mode="server"))
        assert not release.is_set()  # answered while the labs searches were still stalled
        statuses = _statuses(response)
        assert statuses["baseline-liver-function"] == "unknown"
        assert statuses["weight-in-label-range"] == "unknown"
        assert statuses["no-active-infection"] == "unknown"  # fever could not be ruled out
        assert statuses["one-time-dose"] == "met"  # other sources were read in time
        assert "deadline" in _problems(response)
    finally:
        release.set()


class _Trickle(BaseHTTPRequestHandler):
    """Sends a valid FHIR answer one byte at a time: every socket read succeeds, so only the deadline stops it."""

    def do_GET(self):  # noqa: N802 - http.server's naming
        body = json.dumps({"resourceType": "Bundle", "type": "searchset", "entry": []}).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/fhir+json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        try:
            for byte in body:
                self.wfile.write(bytes([byte]))
                self.wfile.flush()
                self.server.stop.wait(0.2)
        except OSError:
            pass

    def log_message(self, *args):
        pass


def test_a_trickling_server_is_cut_off_at_the_deadline():
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Trickle)
    server.stop = threading.Event()
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        body = hook_request("eligible-infant", mode="server")
        body["fhirServer"] = f"http://127.0.0.1:{server.server_port}/fhir"
        response = make_app(GATHER_DEADLINE_SECONDS=0.5).test_client().post(SIGN, json=body)
        outcome = _outcome(response)
        assert outcome["overall"] == "incomplete"
        assert "deadline" in _problems(response)
    finally:
        server.stop.set()
        server.shutdown()


def test_fhir_answer_size_is_limited_after_decompression(rsps):
    bomb = gzip.compress(b'{"resourceType": "Bundle", "entry": [' + b" " * (4 << 20) + b"]}")
    rsps.add(responses.GET, re.compile(re.escape(FHIR_BASE) + r"/Condition\?.*"), body=bomb,
             headers={"Content-Encoding": "gzip"}, content_type="application/fhir+json")
    FakeFhir(load("eligible-infant")).register(rsps)
    response = make_app(FHIR_MAX_RESPONSE_BYTES=1 << 20).test_client().post(
        SIGN, json=hook_request("eligible-infant", mode="server"))
    assert len(bomb) < (1 << 20)  # small on the wire
    statuses = _statuses(response)
    assert statuses["no-advanced-sma"] == "unknown" and statuses["no-active-infection"] == "unknown"
    assert "larger than 1048576 bytes after decompression" in _problems(response)


def test_fhir_requests_per_call_are_limited(rsps):
    fake = FakeFhir(load("eligible-infant"))
    fake.register(rsps)
    response = make_app(FHIR_MAX_REQUESTS=5).test_client().post(
        SIGN, json=hook_request("eligible-infant", mode="server"))
    assert len(fake.calls) == 5
    assert _outcome(response)["overall"] == "incomplete"
    assert "limit of FHIR requests" in _problems(response)


def test_request_body_size_is_limited_with_an_operation_outcome():
    client = make_app(MAX_REQUEST_BYTES=1000).test_client()
    response = client.post(SIGN, data=json.dumps(hook_request("eligible-infant")),
                           content_type="application/json")
    assert response.status_code == 413
    assert response.json["resourceType"] == "OperationOutcome"


def test_the_default_body_limit_admits_a_10000_observation_prefetch(client):
    resources = long_history(load("eligible-infant"), 10000, 0)
    body = hook_request("eligible-infant")
    body["prefetch"]["labs"] = FakeFhir(resources).answer(
        "Observation?patient=eligible-infant&category=laboratory&_count=20000")
    assert len(body["prefetch"]["labs"]["entry"]) > 8000
    response = client.post(SIGN, data=json.dumps(body), content_type="application/json")
    assert _outcome(response)["overall"] == "eligible"


def test_gunicorn_settings_keep_the_worker_timeout_above_the_deadline(monkeypatch):
    import runpy
    from pathlib import Path

    monkeypatch.setenv("CDS_GATHER_DEADLINE_SECONDS", "7.5")
    settings = runpy.run_path(str(Path(__file__).resolve().parent.parent / "gunicorn.conf.py"))
    assert settings["timeout"] > 7.5 + 1
    assert settings["max_requests"] > 0 and 0 < settings["max_requests_jitter"] < settings["max_requests"]
    assert callable(settings["post_worker_init"])


def test_garbage_collection_is_back_on_after_every_call(client):
    import gc

    assert gc.isenabled()
    client.post(SIGN, json=hook_request("eligible-infant"))
    client.post(SIGN, data=b"{not json", content_type="application/json")
    assert gc.isenabled()
