"""CDS_FHIR_BATCH: the searches that start together go as ONE FHIR batch (POST [base], a Bundle of type batch of
GETs). Every answer is read as its own GET's would be: the same responses for every scenario, an entry's error
only its own source's, its next pages fetched on the same server; a server that does not answer the batch gets
the searches one by one; the deadline holds. Behaviour only, never timings."""

from __future__ import annotations

import json
import threading

import pytest
import responses
from conftest import make_app
from fhir_fake import FHIR_BASE, FakeFhir, hook_request, load, long_history, scenario_names, without_generated_ids
from test_fhir_round_trips import _outcome, _statuses

SIGN = "/cds-services/zolgensma-order-sign"


def _batched(calls: list[str]) -> list[str]:
    return [c.removeprefix("batch:") for c in calls if c.startswith("batch:")]


@pytest.mark.parametrize("hook", ["order-sign", "order-select"])
@pytest.mark.parametrize("name", scenario_names())
def test_every_scenario_gives_the_same_answer_with_and_without_batch(name, hook):
    answers = []
    for batch in (False, True):
        with responses.RequestsMock(assert_all_requests_are_fired=False) as rsps:
            fake = FakeFhir(load(name))
            fake.register(rsps, batch=batch)
            response = make_app(FHIR_BATCH=batch).test_client().post(
                f"/cds-services/zolgensma-{hook}", json=hook_request(name, hook, mode="server"))
            assert response.status_code == 200, response.get_data(as_text=True)
            answers.append(response.json)
            if batch and answers[0]["cards"]:  # a Zolgensma order: its searches went as one batch
                assert len(_batched(fake.calls)) >= 10
    assert without_generated_ids(answers[0]) == without_generated_ids(answers[1])


def test_the_eligible_infant_takes_one_batch_and_the_location_read(rsps):
    """The 14 searches that start together in one POST, with typed references (`patient=Patient/<id>`: the same
    search; some servers expand a bare id only in a URL's own query string); then the titer's fallback (its
    code is not the configured local one) and the Location the Encounter names, not included by this server; then
    the lab results of the SMN1 result's day (follow_ups.py, review 2026-11-24b C2)."""
    fake = FakeFhir(load("eligible-infant"))
    fake.register(rsps, batch=True)
    response = make_app(FHIR_BATCH=True).test_client().post(SIGN, json=hook_request("eligible-infant", mode="server"))
    assert _outcome(response)["overall"] == "eligible"
    batched = _batched(fake.calls)
    assert len(batched) == 14 and len(fake.calls) == 16
    assert "Patient/eligible-infant" in batched
    assert "Condition?patient=Patient/eligible-infant&_count=200" in batched
    assert "PractitionerRole?practitioner=Practitioner/neuro-1&_count=50" in batched
    assert [c for c in fake.calls if not c.startswith("batch:")] == [
        "Observation?patient=eligible-infant&category=laboratory&date=ge2026-10-24&_sort=-date&_count=200",
        "Observation?patient=eligible-infant&category=laboratory&date=2026-03-20&_sort=-date&_count=200"]


@pytest.mark.parametrize("refusal", [
    (405, {"resourceType": "OperationOutcome", "issue": [{"severity": "error", "code": "not-supported"}]}),
    (200, {"resourceType": "OperationOutcome", "issue": [{"severity": "error", "code": "not-supported"}]}),
    (200, {"resourceType": "Bundle", "type": "batch-response", "entry": []}),
    (500, {}),
])
def test_a_server_that_does_not_answer_the_batch_gets_the_searches_one_by_one(refusal, rsps):
    fake = FakeFhir(load("eligible-infant"))
    fake.register(rsps)
    status, body = refusal
    rsps.add(responses.POST, FHIR_BASE, status=status, json=body)
    response = make_app(FHIR_BATCH=True).test_client().post(SIGN, json=hook_request("eligible-infant", mode="server"))
    assert _outcome(response)["overall"] == "eligible"
    assert len(fake.calls) == 16 and not _batched(fake.calls)


def _batch_with_entry(fake: FakeFhir, resource_type: str, entry: dict):
    """A batch server whose answer to the first entry searching `resource_type` is replaced by `entry`."""

    def callback(request):
        entries = []
        for item in json.loads(request.body)["entry"]:
            relative = item["request"]["url"]
            fake.calls.append("batch:" + relative)
            if relative.startswith(resource_type + "?") and not any(
                    e is entry for e in entries):
                entries.append(entry)
            else:
                entries.append({"resource": fake.answer(relative), "response": {"status": "200 OK"}})
        return 200, {"Content-Type": "application/fhir+json"}, json.dumps(
            {"resourceType": "Bundle", "type": "batch-response", "entry": entries})

    return callback


def test_a_batch_entry_that_failed_leaves_only_its_own_source_unread(rsps):
    fake = FakeFhir(load("eligible-infant"))
    fake.register(rsps)
    rsps.add_callback(responses.POST, FHIR_BASE, callback=_batch_with_entry(
        fake, "MedicationAdministration", {"response": {"status": "500 Internal Server Error"}}))
    response = make_app(FHIR_BATCH=True).test_client().post(SIGN, json=hook_request("eligible-infant", mode="server"))
    statuses = _statuses(response)
    assert statuses["one-time-dose"] == "unknown"  # no "none on record" from an unread source
    assert statuses["baseline-liver-function"] == "met" and statuses["smn1-biallelic"] == "met"
    problems = [i for i in _outcome(response)["dataIssues"] if i["source"] == "medication-administrations"]
    assert problems and "HTTP 500" in problems[0]["problem"]


def test_a_refused_combined_search_in_a_batch_is_replaced_by_each_analyte_s_own(rsps):
    fake = FakeFhir(load("eligible-infant"))
    fake.register(rsps)
    rsps.add_callback(responses.POST, FHIR_BASE, callback=_batch_with_entry(fake, "Observation", {
        "response": {"status": "400 Bad Request", "outcome": {"resourceType": "OperationOutcome", "issue": [
            {"severity": "error", "code": "too-costly", "diagnostics": "too many values"}]}}}))
    response = make_app(FHIR_BATCH=True).test_client().post(SIGN, json=hook_request("eligible-infant", mode="server"))
    assert _outcome(response)["overall"] == "eligible"
    alone = [c for c in fake.calls if c.startswith("Observation?") and "code=" in c]
    assert len(alone) == 13 and all("_sort=-date" in c for c in alone)


def test_a_batch_entry_with_more_pages_is_read_on_the_same_server(rsps):
    """A long history: the combined page in the batch is incomplete (each analyte then searched on its own),
    the administrations' next pages are fetched one by one, and the infant is still eligible."""
    fake = FakeFhir(long_history(load("eligible-infant"), 2500, 600))
    fake.register(rsps, batch=True)
    response = make_app(FHIR_BATCH=True, GATHER_DEADLINE_SECONDS=120).test_client().post(
        SIGN, json=hook_request("eligible-infant", mode="server"))
    assert _outcome(response)["overall"] == "eligible"
    assert any(c.startswith("MedicationAdministration?") and "_offset=400" in c for c in fake.calls)
    assert len(fake.calls) <= 50


def test_a_batch_counts_each_of_its_searches_against_the_request_limit(rsps):
    fake = FakeFhir(load("eligible-infant"))
    fake.register(rsps, batch=True)
    response = make_app(FHIR_BATCH=True, FHIR_MAX_REQUESTS=10).test_client().post(
        SIGN, json=hook_request("eligible-infant", mode="server"))
    assert not _batched(fake.calls) and len(fake.calls) == 10  # 14 searches do not fit: 10 GETs, then the limit
    assert _outcome(response)["overall"] != "eligible"
    assert any("limit of FHIR requests" in i["problem"] for i in _outcome(response)["dataIssues"])


def test_the_deadline_holds_for_a_batch_that_never_answers(rsps):
    release = threading.Event()
    fake = FakeFhir(load("eligible-infant"))
    fake.register(rsps)

    def stalled(request):
        release.wait(30)
        return 500, {}, "{}"

    rsps.add_callback(responses.POST, FHIR_BASE, callback=stalled)
    try:
        response = make_app(FHIR_BATCH=True, GATHER_DEADLINE_SECONDS=0.5).test_client().post(
            SIGN, json=hook_request("eligible-infant", mode="server"))
        assert not release.is_set()
        statuses = _statuses(response)
        assert statuses["baseline-liver-function"] == "unknown" and statuses["one-time-dose"] == "unknown"
        assert "met" not in {statuses["no-active-infection"], statuses["weight-in-label-range"]}
        assert any("deadline" in i["problem"] for i in _outcome(response)["dataIssues"])
        assert _outcome(response)["overall"] != "eligible"
    finally:
        release.set()
