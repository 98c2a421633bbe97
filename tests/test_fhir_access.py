"""Where the FHIR client may send the caller's token: no redirects, `next` links only under the base URL
(after normalisation), a bounded number of requests per call, ids percent-encoded in queries."""

from __future__ import annotations

import json
import re

import pytest
import responses
from conftest import make_app
from fhir_fake import FHIR_BASE, TOKEN, FakeFhir, hook_request, load
from test_data_access import _issues, _statuses

from cds_service.data_access import resolve
from cds_service.fhir_client import within_base

URL = "/cds-services/zolgensma-order-sign"
BASE = FHIR_BASE + "/"


@pytest.mark.parametrize("link", [
    FHIR_BASE + "/Observation?page=2",
    FHIR_BASE + "/./Observation?page=2",
    FHIR_BASE + "/a/../Observation",
    "HTTPS://EHR.example.org:443/fhir/Observation",
])
def test_links_under_the_base_are_followed(link):
    assert within_base(BASE, link) is not None
    assert "/../" not in within_base(BASE, link) and "/./" not in within_base(BASE, link)


@pytest.mark.parametrize("link", [
    FHIR_BASE + "/../admin",
    FHIR_BASE + "/Observation/../../admin",
    FHIR_BASE + "/%2e%2e/admin",
    FHIR_BASE + "/Observation/%2E%2E%2F%2E%2E%2Fadmin",
    FHIR_BASE + "/..%5cadmin",
    "https://ehr.example.org/fhir-other/Observation",
    "https://ehr.example.org:8443/fhir/Observation",
    "http://ehr.example.org/fhir/Observation",
    "https://ehr.example.org@evil.example.com/fhir/Observation",
    "https://user:pw@ehr.example.org/fhir/Observation",
    "https://ehr.example.org:99999/fhir/Observation",
    "https://evil.example.com/fhir/Observation",
])
def test_links_leaving_the_base_are_refused(link):
    assert within_base(BASE, link) is None


def test_dot_dot_in_a_next_link_never_sends_the_token_elsewhere(client, rsps):
    elsewhere = []
    rsps.add_callback(responses.GET, re.compile(r"https://ehr\.example\.org/(?!fhir/).*"),
                      callback=lambda r: (elsewhere.append(r.url), (200, {}, "{}"))[1])
    body = hook_request("eligible-infant")
    body["prefetch"]["procedures"] = {"resourceType": "Bundle", "type": "searchset", "entry": [],
                                      "link": [{"relation": "next", "url": FHIR_BASE + "/../internal/Procedure"}]}
    response = client.post(URL, json=body)
    assert not elsewhere and not rsps.calls
    assert _statuses(response)["one-time-dose"] == "unknown"


def test_redirects_are_not_followed_and_leave_the_source_unread(client, rsps):
    """The issue's case: labs served by a redirect target made the titer `met`."""
    fake = FakeFhir(load("eligible-infant"))
    # Every labs search is redirected: the combined one, and each analyte's own search that follows its failure.
    def answer(request):
        if "/Observation?" in request.url:
            return 302, {"Location": FHIR_BASE + "/Observation?patient=eligible-infant&copy=1"}, ""
        return 200, {"Content-Type": "application/fhir+json"}, json.dumps(fake.answer(request.url[len(FHIR_BASE) + 1:]))

    rsps.add_callback(responses.GET, re.compile(re.escape(FHIR_BASE) + r"/.*"), callback=answer)
    body = hook_request("eligible-infant")
    del body["prefetch"]["labs"]
    response = client.post(URL, json=body)
    assert rsps.calls and not any("copy=1" in c.request.url for c in rsps.calls)  # the labs searches, not followed
    statuses = _statuses(response)
    assert statuses["aav9-titer"] == "unknown"
    assert any(i["source"] == "labs" and "redirect" in i["problem"] for i in _issues(response))


def test_endless_next_links_stop_at_the_per_call_request_cap(rsps):
    client = make_app(FHIR_MAX_REQUESTS=7, FHIR_MAX_PAGES=100).test_client()
    pages = iter(range(10_000))

    def endless(request):
        link = FHIR_BASE + f"/Observation?page={next(pages)}"
        return 200, {}, ('{"resourceType": "Bundle", "type": "searchset", "entry": [], '
                         f'"link": [{{"relation": "next", "url": "{link}"}}]}}')

    rsps.add_callback(responses.GET, re.compile(re.escape(FHIR_BASE) + r"/.*"), callback=endless)
    body = hook_request("eligible-infant")
    for key in ("labs", "vitals", "conditions"):
        del body["prefetch"][key]
    response = client.post(URL, json=body)
    assert len(rsps.calls) == 7
    statuses = _statuses(response)
    assert statuses["aav9-titer"] == "unknown"
    assert statuses["no-active-infection"] == "unknown"
    assert any("limit of FHIR requests" in i["problem"] for i in _issues(response))


def test_context_ids_are_percent_encoded_in_queries(client, rsps):
    rsps.add(responses.GET, re.compile(re.escape(FHIR_BASE) + r"/.*"),
             json={"resourceType": "Bundle", "type": "searchset", "entry": []})
    body = hook_request("eligible-infant")
    body["context"]["patientId"] = "eligible-infant&subject=Patient/other#x"
    for entry in body["context"]["draftOrders"]["entry"]:  # the order stays this (oddly named) patient's
        entry["resource"]["subject"] = {"reference": "Patient/" + body["context"]["patientId"]}
    del body["prefetch"]["conditions"]
    client.post(URL, json=body)
    sent = [c.request.url for c in rsps.calls]
    assert sent == [FHIR_BASE + "/Condition?patient=eligible-infant%26subject%3DPatient%2Fother%23x&_count=200"]
    assert rsps.calls[0].request.headers["Authorization"] == f"Bearer {TOKEN}"


@pytest.mark.parametrize("patient, query", [
    ("a/../../admin", "Patient/a%2F..%2F..%2Fadmin"),
    ("..", "Patient/%2E%2E"),
    ("ok-1.2", "Patient/ok-1.2"),
])
def test_an_id_never_adds_a_path_segment(patient, query):
    assert resolve("Patient/{{context.patientId}}", {"patientId": patient}) == query
