"""The data-access seam: prefetch semantics, 412, and FHIR server faults degrading to `unknown`."""

from __future__ import annotations

import json
import re

import pytest
import requests
import responses
from conftest import make_app
from fhir_fake import FHIR_BASE, TOKEN, FakeFhir, answer_both_routes, hook_request, load

from cds_service import data_access
from cds_service.data_access import SOURCES, resolve
from cds_service.fhir_client import FhirClient

URL = "/cds-services/zolgensma-order-sign"


def _statuses(response) -> dict:
    assert response.status_code == 200, response.get_data(as_text=True)
    ext = response.json["cards"][0]["extension"]["org.example.zolgensma-cds.eligibility"]
    return {c["id"]: c["status"] for c in ext["criteria"]}


def _issues(response) -> list[dict]:
    return response.json["cards"][0]["extension"]["org.example.zolgensma-cds.eligibility"].get("dataIssues", [])


def test_null_prefetch_means_no_data_and_is_not_requeried(client, rsps):
    body = hook_request("eligible-infant")
    body["prefetch"]["labs"] = body["prefetch"]["labCodes"] = None
    statuses = _statuses(client.post(URL, json=body))
    assert not rsps.calls
    assert statuses["aav9-titer"] == "unknown"
    assert statuses["baseline-liver-function"] == "unknown"


def test_operation_outcome_in_prefetch_is_requeried(client, rsps):
    fake = FakeFhir(load("eligible-infant"))
    fake.register(rsps)
    body = hook_request("eligible-infant")
    body["prefetch"]["conditions"] = {"resourceType": "OperationOutcome",
                                      "issue": [{"severity": "error", "code": "timeout", "diagnostics": "slow"}]}
    response = client.post(URL, json=body)
    assert [c for c in fake.calls if c.startswith("Condition?")]
    assert set(_statuses(response).values()) == {"met"}
    # Read from the FHIR server in its place: nothing is missing, so no data issue (the FHIR-server route,
    # which never saw the failed prefetch, has none either; fix-cov item 4). The failure is logged.
    assert _issues(response) == []


def test_a_failed_search_is_the_same_data_issue_on_both_routes(client):
    """The ServiceRequest search fails on the EHR and on its FHIR server: prefetch route (the EHR's failed prefetch,
    then the server) and FHIR-server route report the one failure the same way (before: 2 issues against 1)."""
    def failing(query, answer):
        return {"resourceType": "OperationOutcome", "issue": [{"severity": "error", "code": "exception",
                                                                "diagnostics": "database offline"}]} \
            if query.startswith("ServiceRequest") else answer
    answer = answer_both_routes(client, load("eligible-infant"), tamper=failing)  # identical answers
    outcome = answer["cards"][0]["extension"]["org.example.zolgensma-cds.eligibility"]
    assert outcome["dataIssues"] == [{"source": "service-requests", "problem": "FHIR server answered HTTP 404"}]
    card = next(c for c in answer["cards"] if "could not be used" in c["summary"])
    assert card["summary"] == "1 data item could not be used by the Zolgensma PA check"
    assert "- service-requests: FHIR server answered HTTP 404" in card["detail"]
    assert "prefetch" not in card["detail"]
    one_time = next(c for c in outcome["criteria"] if c["id"] == "one-time-dose")
    assert (one_time["status"], one_time["reasonCode"]) == ("unknown", "source-unavailable")


def test_operation_outcome_without_server_degrades_to_unknown(client):
    body = hook_request("eligible-infant")
    del body["fhirServer"], body["fhirAuthorization"]
    body["prefetch"]["conditions"] = {"resourceType": "OperationOutcome", "issue": [{"severity": "error",
                                                                                    "code": "exception"}]}
    statuses = _statuses(client.post(URL, json=body))
    assert statuses["no-active-infection"] == "unknown"
    assert statuses["no-advanced-sma"] == "unknown"


def test_missing_key_without_fhir_server_is_412(client):
    body = hook_request("eligible-infant")
    del body["fhirServer"], body["fhirAuthorization"]
    del body["prefetch"]["coverage"]
    response = client.post(URL, json=body)
    assert response.status_code == 412
    assert response.json["resourceType"] == "OperationOutcome"
    assert "coverage" in response.json["issue"][0]["diagnostics"]


def test_bearer_token_is_sent(client, rsps):
    fake = FakeFhir(load("eligible-infant"))
    fake.register(rsps, require_token=True)
    client.post(URL, json=hook_request("eligible-infant", mode="server"))
    assert rsps.calls
    assert all(c.request.headers["Authorization"] == f"Bearer {TOKEN}" for c in rsps.calls)


def test_complete_prefetch_sets_up_no_fhir_client(client, monkeypatch):
    """Nothing to ask, nothing set up (a FHIR client reads the environment's proxy settings)."""
    def refuse(*args, **kwargs):
        raise AssertionError("FhirClient created although prefetch was complete")
    monkeypatch.setattr(data_access, "FhirClient", refuse)
    response = client.post(URL, json=hook_request("eligible-infant"))
    assert _statuses(response)["aav9-titer"] == "met"


def test_netrc_never_replaces_the_bearer_token(client, rsps, tmp_path, monkeypatch):
    """requests would let a ~/.netrc entry for the FHIR host override our Authorization header."""
    netrc = tmp_path / "netrc"
    netrc.write_text("machine ehr.example.org login someone password secret\n")
    netrc.chmod(0o600)
    monkeypatch.setenv("NETRC", str(netrc))
    FakeFhir(load("eligible-infant")).register(rsps, require_token=True)
    response = client.post(URL, json=hook_request("eligible-infant", mode="server"))
    assert _statuses(response)["aav9-titer"] == "met"
    assert all(c.request.headers["Authorization"] == f"Bearer {TOKEN}" for c in rsps.calls)


def test_proxy_settings_come_from_the_environment():
    env = {"HTTPS_PROXY": "http://proxy.example.org:3128", "NO_PROXY": "internal.example.org"}
    with pytest.MonkeyPatch.context() as mp:
        for key, value in env.items():
            mp.setenv(key, value)
        assert FhirClient(FHIR_BASE, TOKEN, 5, 5, 100).proxies.get("https") == "http://proxy.example.org:3128"
        assert not FhirClient("https://internal.example.org/fhir", TOKEN, 5, 5, 100).proxies


def test_non_finite_numbers_from_the_fhir_server_are_never_read_as_results(client, rsps):
    """Python's JSON parser accepts NaN; a NaN ALT compares false with every limit, so it must not pass."""
    fake = FakeFhir(load("eligible-infant"))
    body = hook_request("eligible-infant")
    del body["prefetch"]["labs"]
    labs = fake.answer(resolve(next(s for s in SOURCES if s.name == "labs").templates[0], body["context"]))
    alt = next(e["resource"] for e in labs["entry"] if e["resource"]["id"] == "alt")
    alt["valueQuantity"]["value"] = float("nan")
    rsps.add(responses.GET, re.compile(re.escape(FHIR_BASE) + r"/Observation\?.*"),
             body=json.dumps(labs), content_type="application/fhir+json")
    response = client.post(URL, json=body)
    assert "NaN" in json.dumps(labs)
    assert _statuses(response)["baseline-liver-function"] == "unknown"
    assert any(i["source"] == "Observation/alt" for i in _issues(response))


def test_non_finite_numbers_in_prefetch_are_never_read_as_results(client):
    """A body with a bare NaN is lenient JSON (Python writes it); it is read, and the NaN is rejected."""
    body = hook_request("eligible-infant")
    alt = next(e["resource"] for e in body["prefetch"]["labs"]["entry"] if e["resource"]["id"] == "alt")
    alt["valueQuantity"]["value"] = float("inf")
    raw = json.dumps(body)
    assert "Infinity" in raw
    response = client.post(URL, data=raw, content_type="application/json")
    assert _statuses(response)["baseline-liver-function"] == "unknown"
    assert any(i["source"] == "Observation/alt" for i in _issues(response))


FAULTS = {
    "timeout": dict(body=requests.Timeout("slow")),
    "unreachable": dict(body=requests.ConnectionError("refused")),
    "401": dict(status=401, json={"resourceType": "OperationOutcome", "issue": []}),
    "404": dict(status=404, json={"resourceType": "OperationOutcome", "issue": []}),
    "500": dict(status=500, body="oops"),
    "invalid-json": dict(status=200, body="{not json"),
    "not-fhir": dict(status=200, json=[1, 2, 3]),
}


@pytest.mark.parametrize("fault", sorted(FAULTS))
def test_fhir_server_fault_makes_affected_criteria_unknown_never_met(fault, client, rsps):
    """Labs come from a failing server; everything else from prefetch."""
    rsps.add(responses.GET, re.compile(re.escape(FHIR_BASE) + r"/Observation\?.*"),
             **FAULTS[fault])
    body = hook_request("eligible-infant")
    del body["prefetch"]["labs"]
    response = client.post(URL, json=body)
    statuses = _statuses(response)
    for criterion in ("aav9-titer", "smn1-biallelic", "baseline-liver-function", "baseline-platelets-troponin"):
        assert statuses[criterion] == "unknown", criterion
    ext = response.json["cards"][0]["extension"]["org.example.zolgensma-cds.eligibility"]
    assert ext["overall"] == "incomplete"
    assert any(i["source"] == "labs" for i in _issues(response))
    assert TOKEN not in json.dumps(response.json)
    reasons = {c["id"]: c["reasonCode"] for c in ext["criteria"]}
    assert reasons["aav9-titer"] == "source-unavailable"
    cards = json.dumps([c.get("detail", "") for c in response.json["cards"]])
    assert "Error" not in cards and "Timeout" not in cards  # plain words, no exception class names
    if fault == "unreachable":
        assert "could not be reached (connection failed)" in cards


def test_huge_bundle_is_not_read_as_complete(client, rsps):
    app_client = client
    many = [{"resourceType": "MedicationAdministration", "id": f"ma-{i}", "status": "completed",
             "medicationCodeableConcept": {"text": "acetaminophen"}, "subject": {"reference": "Patient/x"},
             "effectiveDateTime": "2026-01-01"} for i in range(2500)]
    rsps.add(responses.GET, re.compile(re.escape(FHIR_BASE) + r"/MedicationAdministration\?.*"),
             json={"resourceType": "Bundle", "type": "searchset", "entry": [{"resource": r} for r in many]})
    body = hook_request("eligible-infant")
    del body["prefetch"]["medicationAdministrations"]
    statuses = _statuses(app_client.post(URL, json=body))
    assert statuses["one-time-dose"] == "unknown"


def test_next_link_to_another_host_is_not_followed(client, rsps):
    body = hook_request("eligible-infant")
    body["prefetch"]["procedures"] = {"resourceType": "Bundle", "type": "searchset", "entry": [],
                                      "link": [{"relation": "next", "url": "https://elsewhere.example.com/Procedure"}]}
    response = client.post(URL, json=body)
    assert not rsps.calls
    assert _statuses(response)["one-time-dose"] == "unknown"


def test_unusable_resource_is_skipped_and_reported(client):
    body = hook_request("eligible-infant")
    labs = body["prefetch"]["labs"]["entry"]
    alt = next(e["resource"] for e in labs if e["resource"]["id"] == "alt")
    alt["effectiveDateTime"] = "last tuesday"
    alt2 = json.loads(json.dumps(alt))
    response = client.post(URL, json=body)
    statuses = _statuses(response)
    assert statuses["baseline-liver-function"] == "unknown"
    assert any(i["source"] == "Observation/alt" and "skipped" in i["problem"] for i in _issues(response))
    assert alt2["id"] == "alt"


@pytest.mark.parametrize("strict", [False, True])
def test_unknown_elements_never_knock_out_a_result(strict):
    """Fast mode ignores elements the rules do not read; strict mode drops and reports them."""
    client = make_app(STRICT_VALIDATION=strict).test_client()
    body = hook_request("eligible-infant")
    labs = body["prefetch"]["labs"]["entry"]
    alt = next(e["resource"] for e in labs if e["resource"]["id"] == "alt")
    alt["vendorExtraThing"] = {"x": 1}
    response = client.post(URL, json=body)
    assert _statuses(response)["baseline-liver-function"] == "met"
    reported = any("vendorExtraThing" in i["problem"] for i in _issues(response))
    assert reported is strict
    if strict:
        assert any("could not be used" in c["summary"] for c in response.json["cards"])


@pytest.mark.parametrize("strict", [False, True])
@pytest.mark.parametrize("mutate, what", [
    (lambda alt: alt.__setitem__("effectiveDateTime", "2026-13-45"), "impossible date"),
    (lambda alt: alt.pop("status"), "missing required status"),
    (lambda alt: alt["code"].__setitem__("coding", {"code": "1742-6"}), "object where R4 has an array"),
    (lambda alt: alt["valueQuantity"].__setitem__("unit", ""), "empty string"),
])
def test_invalid_elements_the_rules_read_are_rejected_in_both_modes(strict, mutate, what):
    client = make_app(STRICT_VALIDATION=strict).test_client()
    body = hook_request("eligible-infant")
    alt = next(e["resource"] for e in body["prefetch"]["labs"]["entry"] if e["resource"]["id"] == "alt")
    mutate(alt)
    response = client.post(URL, json=body)
    assert _statuses(response)["baseline-liver-function"] == "unknown", what


def test_numbers_as_strings_are_rejected_in_fast_mode():
    """FHIR JSON numbers must be numbers; fhir.resources (strict mode) coerces "28", the fast models do not."""
    body = hook_request("eligible-infant")
    alt = next(e["resource"] for e in body["prefetch"]["labs"]["entry"] if e["resource"]["id"] == "alt")
    alt["valueQuantity"]["value"] = "28"
    fast = make_app().test_client().post(URL, json=body)
    assert _statuses(fast)["baseline-liver-function"] == "unknown"
    assert any(i["source"] == "Observation/alt" for i in _issues(fast))


def _history_request(newest_alt_value, older_alt_value="bad"):
    body = hook_request("eligible-infant")
    labs = body["prefetch"]["labs"]["entry"]
    alt = next(e["resource"] for e in labs if e["resource"]["id"] == "alt")
    older = json.loads(json.dumps(alt))
    older.update(id="alt-old", effectiveDateTime="2026-11-01")
    older["valueQuantity"]["value"] = older_alt_value
    alt["valueQuantity"]["value"] = newest_alt_value
    labs.append({"resource": older})
    return body


def test_only_the_latest_result_is_read(client):
    """An older, unreadable ALT does not matter (and is not reported) when a newer one is usable."""
    response = client.post(URL, json=_history_request(30))
    assert _statuses(response)["baseline-liver-function"] == "met"
    assert not any(i["source"] == "Observation/alt-old" for i in _issues(response))


def test_unreadable_latest_falls_back_to_the_previous_result_and_says_so(client):
    response = client.post(URL, json=_history_request("bad", older_alt_value=200))
    statuses = _statuses(response)
    assert statuses["baseline-liver-function"] == "review"  # the older ALT 200 U/L > 2 x ULN 45
    assert any(i["source"] == "Observation/alt" for i in _issues(response))


def _gathered_labs(body: dict) -> list[dict]:
    handler = make_app().extensions["cds.handler"].eligibility
    return data_access.gather(body, handler.config, handler.plan).resources["labs"]


def test_a_lab_result_in_both_labs_and_labcodes_is_read_once_and_a_differing_copy_is_kept():
    body = hook_request("eligible-infant")
    del body["fhirServer"], body["fhirAuthorization"]  # the prefetch alone: no search runs after it
    in_both = [e["resource"]["id"] for e in body["prefetch"]["labCodes"]["entry"]]
    assert "alt" in in_both and all(
        any(e["resource"]["id"] == i for e in body["prefetch"]["labs"]["entry"]) for i in in_both)
    ids = [r["id"] for r in _gathered_labs(body)]
    assert sorted(ids) == sorted({e["resource"]["id"] for e in body["prefetch"]["labs"]["entry"]})

    changed = json.loads(json.dumps(body))
    alt = next(e["resource"] for e in changed["prefetch"]["labCodes"]["entry"] if e["resource"]["id"] == "alt")
    alt["valueQuantity"]["value"] = 300  # the same id, another content: both are kept, for the rules to see
    values = [r["valueQuantity"]["value"] for r in _gathered_labs(changed) if r["id"] == "alt"]
    assert sorted(values) == sorted([values[0], 300]) and len(values) == 2


def test_the_answer_is_the_same_with_or_without_the_overlapping_labcodes_key():
    with_key = hook_request("eligible-infant")
    without = json.loads(json.dumps(with_key))
    del without["prefetch"]["labCodes"]
    answers = [make_app().test_client().post(URL, json=b).json for b in (with_key, without)]
    assert answers[0] == answers[1]
    assert answers[0]["cards"][0]["extension"]["org.example.zolgensma-cds.eligibility"]["overall"] == "eligible"
