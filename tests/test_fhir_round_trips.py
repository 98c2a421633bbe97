"""Round trips of a Zolgensma order without prefetch: the Observation searches by code go as one, everything
independent starts at once, and the combined answer never hides a result (starvation, a server that ignores
_sort or _count, a combined search the server refuses); lab results without a category are found on both
routes. Behaviour only (request counts, overlap, outcomes), never timings."""

from __future__ import annotations

import copy
import json
import re
import threading
from urllib.parse import parse_qs, unquote, urlsplit

import pytest
import responses
from conftest import make_app
from fhir_fake import FHIR_BASE, FakeFhir, hook_request, load, long_history

from cds_service.queries import LATEST_FEW

SIGN = "/cds-services/zolgensma-order-sign"
ALT, GA, GENETICS = "http://loinc.org|1742-6", "http://loinc.org|76516-4", "http://loinc.org|69548-6"


def _outcome(response) -> dict:
    assert response.status_code == 200, response.get_data(as_text=True)
    return response.json["cards"][0]["extension"]["org.example.zolgensma-cds.eligibility"]


def _statuses(response) -> dict:
    return {c["id"]: c["status"] for c in _outcome(response)["criteria"]}


def _codes(call: str) -> list[str]:
    return unquote(parse_qs(urlsplit(call).query).get("code", [""])[0]).split(",")


def _by_code(calls: list[str]) -> list[str]:
    return [c for c in calls if c.startswith("Observation?") and "code=" in c]


class Overlapping:
    """Serves `fake`, holding each request until `expected` requests are in flight at once (or 10 s passed, so
    that a sequential client is not stuck): `peak` says how many were ever in flight together."""

    def __init__(self, fake: FakeFhir, expected: int):
        self.fake, self.expected = fake, expected
        self.lock, self.all_in = threading.Lock(), threading.Event()
        self.in_flight = self.peak = 0

    def register(self, rsps) -> None:
        def callback(request):
            with self.lock:
                self.in_flight += 1
                self.peak = max(self.peak, self.in_flight)
                if self.in_flight >= self.expected:
                    self.all_in.set()
            self.all_in.wait(10)
            try:
                relative = request.url[len(FHIR_BASE) + 1:]
                self.fake.calls.append(unquote(relative))
                return 200, {"Content-Type": "application/fhir+json"}, json.dumps(self.fake.answer(relative))
            finally:
                with self.lock:
                    self.in_flight -= 1

        rsps.add_callback(responses.GET, re.compile(re.escape(FHIR_BASE) + r"/.*"), callback=callback)


def test_a_zolgensma_order_without_prefetch_makes_15_requests_14_of_them_at_once(rsps):
    """Was 25 (one search per analyte, partly after one another). Now: one Observation search for every code,
    the other 13 sources' searches beside it, all in flight together; then the one search whose query needs
    that answer (the titer is not found under the configured local code: the window's lab results)."""
    fake = FakeFhir(load("eligible-infant"))
    server = Overlapping(fake, expected=14)
    server.register(rsps)
    response = make_app(GATHER_DEADLINE_SECONDS=60).test_client().post(
        SIGN, json=hook_request("eligible-infant", mode="server"))
    assert _outcome(response)["overall"] == "eligible"
    assert len(fake.calls) == 15 and server.peak == 14
    by_code = _by_code(fake.calls)
    assert len(by_code) == 1  # every analyte's codes in one search, newest first, one bounded page
    query = parse_qs(urlsplit(by_code[0]).query)
    assert query["_sort"] == ["-date"] and query["_count"] == ["200"]
    assert {ALT, GA, GENETICS, "http://lab.example-hospital.org/codes|L-9071"} <= set(_codes(by_code[0]))
    # the titer is not under the configured local code: the window's lab results, once the combined search said so
    assert [c for c in fake.calls if "category=" in c] == [
        "Observation?patient=eligible-infant&category=laboratory&date=ge2026-10-24&_sort=-date&_count=200"]
    assert all("_count=" in c for c in fake.calls if "?" in c)


def _alt_burst(resources: list[dict], count: int, high: bool = False) -> list[dict]:
    """`resources` plus `count` ALT results newer than every other result (2026-11-18 to 2026-11-22): the
    combined search's first page holds nothing else. `high`: the newest of them, alone on its day, is 5 x ULN."""
    alt = next(r for r in resources if r.get("id") == "alt")
    out = list(resources)
    for i in range(count):
        copy_ = copy.deepcopy(alt)
        copy_["id"] = f"alt-burst-{i}"
        day = 22 if i == 0 else 21 - (i - 1) * 4 // (count - 1)
        copy_["effectiveDateTime"] = f"2026-11-{day:02d}T{i % 24:02d}:00:00Z"
        if high and i == 0:
            copy_["valueQuantity"]["value"] = 250
        out.append(copy_)
    return out


def test_an_analyte_starved_by_another_s_long_history_is_searched_on_its_own(client, rsps):
    fake = FakeFhir(_alt_burst(load("eligible-infant"), 300))
    fake.register(rsps)
    response = client.post(SIGN, json=hook_request("eligible-infant", mode="server"))
    assert _outcome(response)["overall"] == "eligible"
    by_code = _by_code(fake.calls)
    combined = [c for c in by_code if len(_codes(c)) > 10]
    alone = [c for c in by_code if c not in combined]
    assert len(combined) == 1
    # ALT filled the page (at least LATEST_FEW newer than its oldest date): answered; the others searched alone.
    assert not any(ALT in _codes(c) for c in alone)
    assert any(_codes(c) == [GA] and "_count=10" in c for c in alone)
    assert any(GENETICS in _codes(c) and "_count=200" in c for c in alone)  # genetics: every result
    assert any("date=ge2026-10-24" in c for c in alone if "http://loinc.org|1920-8" in _codes(c))  # AST: windowed
    assert LATEST_FEW == 10


def test_a_starved_analyte_s_abnormal_result_is_still_read(client, rsps):
    history = _alt_burst(load("eligible-infant"), 300)
    troponin = next(r for r in history if r.get("id") == "troponin")
    troponin["valueQuantity"]["value"] = 5  # far above the upper limit, and older than every ALT of the burst
    FakeFhir(history).register(rsps)
    outcome = _outcome(client.post(SIGN, json=hook_request("eligible-infant", mode="server")))
    criterion = next(c for c in outcome["criteria"] if c["id"] == "baseline-platelets-troponin")
    assert "Troponin-I 5 ng/mL is above the lab's upper limit" in criterion["reason"]


@pytest.mark.parametrize("ignore", [(), ("_sort",), ("_count",), ("_sort", "_count"), ("_sort", "_count", "date")])
def test_a_server_ignoring_sort_or_count_still_gives_the_latest_result(ignore, rsps):
    """The newest ALT (5 x ULN) is among 300: found whether or not the server sorts or honours _count (it pages
    50 at a time); the starved analytes are still read."""
    fake = FakeFhir(_alt_burst(load("eligible-infant"), 300, high=True), page_size=50, ignore=ignore)
    fake.register(rsps)
    client = make_app(GATHER_DEADLINE_SECONDS=60).test_client()
    statuses = _statuses(client.post(SIGN, json=hook_request("eligible-infant", mode="server")))
    assert statuses["baseline-liver-function"] == "review"
    assert statuses["baseline-platelets-troponin"] == "met" and statuses["smn1-biallelic"] == "met"
    assert statuses["gestational-age"] == "met" and statuses["weight-in-label-range"] == "met"


def test_a_combined_search_the_server_refuses_is_replaced_by_each_analyte_s_own(client, rsps):
    """Some servers limit the values of one parameter: the combined search's failure is not the labs' failure."""
    fake = FakeFhir(load("eligible-infant"))

    def answer(request):
        relative = request.url[len(FHIR_BASE) + 1:]
        fake.calls.append(unquote(relative))
        if len(_codes(unquote(relative))) > 10:
            return 400, {}, json.dumps({"resourceType": "OperationOutcome", "issue": [
                {"severity": "error", "code": "too-costly", "diagnostics": "too many values"}]})
        return 200, {"Content-Type": "application/fhir+json"}, json.dumps(fake.answer(relative))

    rsps.add_callback(responses.GET, re.compile(re.escape(FHIR_BASE) + r"/.*"), callback=answer)
    response = client.post(SIGN, json=hook_request("eligible-infant", mode="server"))
    assert _outcome(response)["overall"] == "eligible"
    assert any(_codes(c) == [ALT, "http://lab.example-hospital.org/codes|L-ALT"] for c in _by_code(fake.calls))


def _without_category(name: str, *ids: str) -> list[dict]:
    resources = load(name)
    for r in resources:
        if r.get("id") in ids:
            r.pop("category", None)
    return resources


def test_a_lab_result_without_category_is_found_through_the_fhir_server(client, rsps):
    resources = _without_category("eligible-infant", "alt", "platelets")
    FakeFhir(resources).register(rsps)
    response = client.post(SIGN, json=hook_request("eligible-infant", mode="server", resources=resources))
    assert _outcome(response)["overall"] == "eligible"


def test_a_lab_result_without_category_is_searched_by_code_after_a_full_prefetch(client, rsps):
    """CDS_PREFETCH=full: the labs prefetch asks for category=laboratory, so ALT and platelets are not in it;
    the service searches for exactly those by code and reaches the same answer as through the server."""
    resources = _without_category("eligible-infant", "alt", "platelets")
    fake = FakeFhir(resources)
    fake.register(rsps)
    body = hook_request("eligible-infant", resources=resources)
    del body["prefetch"]["labCodes"]  # an EHR that does not fill the by-code lab key (discovery before it)
    assert not any(e["resource"]["id"] in ("alt", "platelets") for e in body["prefetch"]["labs"]["entry"])
    response = client.post(SIGN, json=body)
    assert _outcome(response)["overall"] == "eligible"
    assert len(fake.calls) == 1  # one search for both absent analytes
    assert set(_codes(fake.calls[0])) == {ALT, "http://lab.example-hospital.org/codes|L-ALT",
                                          "http://loinc.org|777-3", "http://loinc.org|26515-7"}
    assert "date=ge2026-10-24" in fake.calls[0] and "category" not in fake.calls[0]


def test_a_lab_result_without_category_and_no_fhir_server_leaves_the_criterion_unknown_and_says_why(client):
    resources = _without_category("eligible-infant", "alt")
    body = hook_request("eligible-infant", resources=resources)
    del body["fhirServer"], body["fhirAuthorization"], body["prefetch"]["labCodes"]
    response = client.post(SIGN, json=body)
    assert _statuses(response)["baseline-liver-function"] == "unknown"
    problems = [i["problem"] for i in _outcome(response)["dataIssues"] if i["source"] == "labs"]
    assert any(p.startswith("no alt result among the prefetched laboratory results") and "category=laboratory" in p
               and "no fhirServer" in p for p in problems), problems


def test_the_long_histories_of_benchmark_c_need_few_requests(rsps):
    """2,500 history Observations and 600 administrations: eligible, and far fewer requests than the 50 allowed."""
    fake = FakeFhir(long_history(load("eligible-infant"), 2500, 600))
    fake.register(rsps)
    response = make_app(GATHER_DEADLINE_SECONDS=120).test_client().post(
        SIGN, json=hook_request("eligible-infant", mode="server"))
    assert _outcome(response)["overall"] == "eligible"
    assert len(fake.calls) <= 30
