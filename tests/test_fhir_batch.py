"""CDS_FHIR_BATCH (auto by default): the searches that start together go as ONE FHIR batch (POST [base], a Bundle of
type batch of GETs). Every answer is read as its own GET's would be: the same responses for every scenario, a
failed entry sent again as its own GET (its source unread only when that fails too), its next pages fetched on the
same server; a server that does not answer the batch gets the searches one by one, and in auto mode is remembered
(bounded, expiring) so that its next calls go straight to GETs; the deadline and the request limit hold.
Behaviour only, never timings."""

from __future__ import annotations

import json
import threading

import pytest
import responses
from conftest import make_app
from fhir_fake import FHIR_BASE, FakeFhir, hook_request, load, long_history, scenario_names, without_generated_ids
from test_fhir_round_trips import _outcome, _statuses

from cds_service.fhir_batch import ServerMemory

SIGN = "/cds-services/zolgensma-order-sign"


def _batched(calls: list[str]) -> list[str]:
    return [c.removeprefix("batch:") for c in calls if c.startswith("batch:")]


@pytest.mark.parametrize("hook", ["order-sign", "order-select"])
@pytest.mark.parametrize("name", scenario_names())
def test_every_scenario_gives_the_same_answer_with_and_without_batch(name, hook):
    """GETs only (false); the batch (true, and auto: the default); auto against a server that refuses batches."""
    answers = []
    for setting, server_batches in ((False, False), (True, True), ("auto", True), ("auto", False)):
        with responses.RequestsMock(assert_all_requests_are_fired=False) as rsps:
            fake = FakeFhir(load(name))
            fake.register(rsps, batch=server_batches)
            if setting == "auto" and not server_batches:
                rsps.add(responses.POST, FHIR_BASE, status=405, json=NOT_SUPPORTED)
            response = make_app(FHIR_BATCH=setting).test_client().post(
                f"/cds-services/zolgensma-{hook}", json=hook_request(name, hook, mode="server"))
            assert response.status_code == 200, response.get_data(as_text=True)
            answers.append(response.json)
            if server_batches and answers[0]["cards"]:  # a Zolgensma order: its searches went as one batch
                assert len(_batched(fake.calls)) >= 10
            if not answers[0]["cards"]:  # not Zolgensma: no query of any kind, not even a batch
                assert not rsps.calls
    for answer in answers[1:]:
        assert without_generated_ids(answers[0]) == without_generated_ids(answer)


NOT_SUPPORTED = {"resourceType": "OperationOutcome", "issue": [{"severity": "error", "code": "not-supported"}]}


def test_the_eligible_infant_takes_one_batch_and_the_titer_fallback_by_default(rsps):
    """Default settings (auto): the 17 searches that start together in one POST, with typed references
    (`patient=Patient/<id>`: the same search; some servers expand a bare id only in a URL's own query string);
    then the titer's fallback (its code is not the configured local one) and the lab results of the SMN1 result's
    day (follow_ups.py, review 2026-11-24b C2). This server includes the Location."""
    fake = FakeFhir(load("eligible-infant"))
    fake.register(rsps, batch=True)
    response = make_app().test_client().post(SIGN, json=hook_request("eligible-infant", mode="server"))
    assert _outcome(response)["overall"] == "eligible"
    batched = _batched(fake.calls)
    assert len(batched) == 17 and len(fake.calls) == 19 and len(rsps.calls) == 3
    assert "Patient/eligible-infant" in batched
    assert "Condition?patient=Patient/eligible-infant&_count=200" in batched
    assert "PractitionerRole?practitioner=Practitioner/neuro-1&_count=50" in batched
    assert [c for c in fake.calls if not c.startswith("batch:")] == [
        "Observation?patient=eligible-infant&category=laboratory&date=ge2026-10-24&_sort=-date&_count=200",
        "Observation?date=2026-03-20&patient=eligible-infant&category=laboratory&_sort=-date&_count=200"]


REFUSALS = [(405, NOT_SUPPORTED), (400, NOT_SUPPORTED), (501, {}), (200, NOT_SUPPORTED),
            (200, {"resourceType": "Bundle", "type": "batch-response", "entry": []}),
            (200, {"resourceType": "Bundle", "type": "searchset", "entry": []})]
PASSING = [(500, {}), (503, {}), (429, NOT_SUPPORTED), (401, NOT_SUPPORTED)]


@pytest.mark.parametrize("refusal", REFUSALS + PASSING)
@pytest.mark.parametrize("setting", [True, "auto"])
def test_a_server_that_does_not_answer_the_batch_gets_the_searches_one_by_one(refusal, setting, rsps):
    """Within the request limit: the POST counts as one request, not as the 17 searches it held."""
    fake = _refusing(rsps, refusal)
    response = make_app(FHIR_BATCH=setting, FHIR_MAX_REQUESTS=20).test_client().post(
        SIGN, json=hook_request("eligible-infant", mode="server"))
    assert _outcome(response)["overall"] == "eligible"
    assert len(fake.calls) == 19 and not _batched(fake.calls)
    assert len(rsps.calls) == 20  # the POST, then the 19 GETs


def _posts(rsps) -> int:
    return sum(call.request.method == "POST" for call in rsps.calls)


def _refusing(rsps, refusal: tuple[int, dict]) -> FakeFhir:
    """A server answering GETs, and a batch POST with `refusal` (status, body)."""
    fake = FakeFhir(load("eligible-infant"))
    fake.register(rsps)
    status, body = refusal
    rsps.add(responses.POST, FHIR_BASE, status=status, json=body)
    return fake


def _eligible(client) -> bool:
    return _outcome(client.post(SIGN, json=hook_request("eligible-infant", mode="server")))["overall"] == "eligible"


@pytest.mark.parametrize("refusal", REFUSALS)
def test_auto_remembers_a_server_that_refused_the_batch(refusal, rsps):
    """The next calls on that server go straight to GETs (same answer), on another server the batch is tried."""
    fake = _refusing(rsps, refusal)
    client = make_app().test_client()
    assert all(_eligible(client) for _ in range(3))
    assert _posts(rsps) == 1 and len(fake.calls) == 3 * 19
    other = "https://other-ehr.example.org/fhir"
    rsps.add(responses.POST, other, status=405, json=NOT_SUPPORTED)
    body = {**hook_request("eligible-infant", mode="server"), "fhirServer": other}
    client.post(SIGN, json=body)  # nothing answers its GETs here: only whether the batch is tried matters
    assert _posts(rsps) == 2


@pytest.mark.parametrize("refusal", PASSING)
def test_auto_tries_the_batch_again_after_a_failure_that_says_nothing_about_batches(refusal, rsps):
    """An outage, a rate limit or a refused token is not a refusal of batches: the next call tries it again."""
    _refusing(rsps, refusal)
    client = make_app().test_client()
    assert all(_eligible(client) for _ in range(2))
    assert _posts(rsps) == 2


def test_forced_batch_is_tried_on_every_call_and_false_never(rsps):
    _refusing(rsps, (405, NOT_SUPPORTED))
    for setting, posts in ((True, 2), (False, 0)):
        before = _posts(rsps)
        client = make_app(FHIR_BATCH=setting).test_client()
        assert all(_eligible(client) for _ in range(2))
        assert _posts(rsps) - before == posts


def test_auto_remembers_a_server_that_refused_every_search_in_its_batch(rsps):
    """A batch-response whose every entry is refused ("searches not supported in a batch"): each is sent as its
    own GET, the answer is the GETs', and the next call goes straight to GETs."""
    fake = FakeFhir(load("eligible-infant"))
    fake.register(rsps)

    def refuse_all(request):
        entries = json.loads(request.body)["entry"]
        return 200, {}, json.dumps({"resourceType": "Bundle", "type": "batch-response", "entry": [
            {"response": {"status": "400 Bad Request", "outcome": NOT_SUPPORTED}} for _ in entries]})

    rsps.add_callback(responses.POST, FHIR_BASE, callback=refuse_all)
    client = make_app().test_client()
    assert all(_eligible(client) for _ in range(2))
    assert _posts(rsps) == 1


def test_an_unknown_batch_setting_stops_the_start():
    with pytest.raises(ValueError, match="CDS_FHIR_BATCH"):
        make_app(FHIR_BATCH="sometimes")


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


def _administrations_fail(query: str, answer: dict) -> dict:
    """A server whose administrations search fails on its own too."""
    return {"resourceType": "OperationOutcome", "issue": [{"severity": "error", "code": "exception"}]} \
        if query.startswith("MedicationAdministration?") else answer


@pytest.mark.parametrize("status", ["400 Bad Request", "403 Forbidden", "404 Not Found", "500 Internal Server Error",
                                    "no status"])
def test_a_failed_batch_entry_is_sent_again_as_its_own_get(status, rsps):
    """A server may refuse a search in a batch that it answers on its own: the entry's GET is what counts, so the
    answer is the one the GETs give (same as without the batch), and only that entry took a second request."""
    fake = FakeFhir(load("eligible-infant"))
    fake.register(rsps)
    entry = {"response": {"status": status}} if status != "no status" else {"resource": {}}
    rsps.add_callback(responses.POST, FHIR_BASE, callback=_batch_with_entry(fake, "MedicationAdministration", entry))
    response = make_app().test_client().post(SIGN, json=hook_request("eligible-infant", mode="server"))
    assert _statuses(response)["one-time-dose"] == "met" and _outcome(response)["overall"] == "eligible"
    again = [c for c in fake.calls if not c.startswith("batch:")]
    assert "MedicationAdministration?patient=eligible-infant&_count=200" in again and len(again) == 3  # + 2 follow-ups


def test_a_batch_entry_that_failed_and_whose_get_fails_leaves_only_its_own_source_unread(rsps):
    fake = FakeFhir(load("eligible-infant"), tamper=_administrations_fail)
    fake.register(rsps)
    rsps.add_callback(responses.POST, FHIR_BASE, callback=_batch_with_entry(
        fake, "MedicationAdministration", {"response": {"status": "500 Internal Server Error"}}))
    response = make_app().test_client().post(SIGN, json=hook_request("eligible-infant", mode="server"))
    statuses = _statuses(response)
    assert statuses["one-time-dose"] == "unknown"  # no "none on record" from an unread source
    assert statuses["baseline-liver-function"] == "met" and statuses["smn1-biallelic"] == "met"
    problems = [i for i in _outcome(response)["dataIssues"] if i["source"] == "medication-administrations"]
    assert problems and "HTTP 404" in problems[0]["problem"]  # what its own GET answered


def test_a_batch_entry_refused_for_the_token_is_not_sent_again(rsps):
    """401: the GET would carry the same refused token. The source is unread, never "none on record"."""
    fake = FakeFhir(load("eligible-infant"))
    fake.register(rsps)
    rsps.add_callback(responses.POST, FHIR_BASE, callback=_batch_with_entry(
        fake, "MedicationAdministration", {"response": {"status": "401 Unauthorized"}}))
    response = make_app().test_client().post(SIGN, json=hook_request("eligible-infant", mode="server"))
    assert _statuses(response)["one-time-dose"] == "unknown"
    assert not any(c.startswith("MedicationAdministration?") for c in fake.calls if not c.startswith("batch:"))


def _refuse_combined(query: str, answer: dict) -> dict:
    """A server that refuses the combined Observation search (unsorted, one page of 200) on its own too."""
    return NOT_SUPPORTED if query.startswith("Observation?") and "code=" in query and "_sort" not in query else answer


def test_a_refused_combined_search_in_a_batch_is_replaced_by_each_analyte_s_own(rsps):
    """Its own GET is refused too: then every analyte's own search, as without the batch."""
    fake = FakeFhir(load("eligible-infant"), tamper=_refuse_combined)
    fake.register(rsps)
    rsps.add_callback(responses.POST, FHIR_BASE, callback=_batch_with_entry(fake, "Observation", {
        "response": {"status": "400 Bad Request", "outcome": {"resourceType": "OperationOutcome", "issue": [
            {"severity": "error", "code": "too-costly", "diagnostics": "too many values"}]}}}))
    response = make_app(FHIR_BATCH=True).test_client().post(SIGN, json=hook_request("eligible-infant", mode="server"))
    assert _outcome(response)["overall"] == "eligible"
    alone = [c for c in fake.calls if c.startswith("Observation?") and "code=" in c and "_sort" in c]
    assert len(alone) == 13 and all("_sort=-date" in c for c in alone)
    assert len([c for c in fake.calls if c.startswith("Observation?") and "_sort" not in c]) == 1  # its GET


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
    assert not _batched(fake.calls) and len(fake.calls) == 10  # 17 searches do not fit: 10 GETs, then the limit
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


def test_server_memory_expires_and_is_bounded():
    now = [0.0]
    memory = ServerMemory(ttl=60, size=2, clock=lambda: now[0])
    for base in ("https://a/fhir/", "https://b/fhir/", "https://c/fhir/"):
        memory.remember_batch_refused(base)
    assert not memory.batch_refused("https://a/fhir/")  # the oldest of three, beyond the bound of two
    assert memory.batch_refused("https://c/fhir/") and not memory.batch_refused("https://d/fhir/")  # per server
    now[0] = 60.0
    assert not memory.batch_refused("https://c/fhir/")
