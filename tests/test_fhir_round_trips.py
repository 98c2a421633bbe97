"""Round trips of a Zolgensma order without prefetch: the Observation searches by code go as one (unsorted, one
page), everything independent starts at once, and the combined answer never hides a result (it stands for the
analytes' own searches only when complete; an incomplete page, a long history, a server that ignores _sort or
_count, returns the page in any order or refuses the combined search); lab results without a category are
found on both routes. Behaviour only (request counts, overlap, outcomes), never timings."""

from __future__ import annotations

import copy
import json
import random
import re
import threading
from urllib.parse import parse_qs, unquote, urlsplit

import pytest
import responses
from conftest import LOCAL_CODES, make_app
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


def test_a_zolgensma_order_without_prefetch_makes_19_requests_17_of_them_started_at_once(rsps):
    """Was 25 (one search per analyte, partly after one another). Now: one Observation search for every code,
    the other 16 sources' searches beside it (MedicationDispense since review 2026-11-24e T1, DeviceRequest since
    review 2026-11-24f F1, Immunization since review 2026-11-24e T5), all started together: as GETs (this server
    answers no batch), all 17 in flight at once (within the CDS_FHIR_MAX_PARALLEL default, 24); then the one
    search whose query needs that answer (the titer is not found under the configured local code: the window's lab
    results); then the lab results of the SMN1 result's day (a report filed under a name
    only: follow_ups.py, review 2026-11-24b C2)."""
    fake = FakeFhir(load("eligible-infant"))
    server = Overlapping(fake, expected=17)
    server.register(rsps)
    response = make_app(GATHER_DEADLINE_SECONDS=60).test_client().post(
        SIGN, json=hook_request("eligible-infant", mode="server"))
    assert _outcome(response)["overall"] == "eligible"
    assert len(fake.calls) == 19 and server.peak == 17
    by_code = _by_code(fake.calls)
    assert len(by_code) == 1  # every analyte's codes in one search, one bounded page
    query = parse_qs(urlsplit(by_code[0]).query)
    assert "_sort" not in query and query["_count"] == ["200"]  # unsorted: order is never read from it
    assert {ALT, GA, GENETICS, "http://lab.example-hospital.org/codes|L-9071"} <= set(_codes(by_code[0]))
    # the titer is not under the configured local code: the window's lab results, once the combined search said so
    assert [c for c in fake.calls if "category=" in c] == [
        "Observation?patient=eligible-infant&category=laboratory&date=ge2026-10-24&_sort=-date&_count=200", REPORT_DAY]
    assert all("_count=" in c for c in fake.calls if "?" in c)


TITER = "http://lab.example-reference.com/tests|1181"  # the fixtures' AAV9 titer code, when a site configures it
# The lab results of the day of the SMN1 result (follow_ups.py): a report filed beside it under a name only.
REPORT_DAY = "Observation?date=2026-03-20&patient=eligible-infant&category=laboratory&_sort=-date&_count=200"


def _observation_searches(calls: list[str]) -> list[str]:
    return [c for c in calls if c.startswith("Observation?")]


def test_a_complete_unsorted_combined_page_answers_every_analyte_with_no_further_observation_search(rsps):
    """With the titer's code configured, the one combined page (no next link, total = what was read) answers
    labs, titer, genetics, weight, gestational age and temperatures: no other Observation search by code (one of
    the lab results of the SMN1 result's day follows, for a report filed under a name only)."""
    fake = FakeFhir(load("eligible-infant"))
    fake.register(rsps)
    client = make_app(LOCAL_CODES={**LOCAL_CODES, TITER: "aav9-titer"}).test_client()
    response = client.post(SIGN, json=hook_request("eligible-infant", mode="server"))
    assert _outcome(response)["overall"] == "eligible"
    observations = _observation_searches(fake.calls)
    assert observations[1:] == [REPORT_DAY]
    assert "_sort" not in observations[0] and TITER in _codes(observations[0])
    assert len(fake.calls) == 18


def _shuffled(query: str, answer: dict, seed: int) -> dict:
    """The combined search's page in an arbitrary order (a server that sorts some other way, or not at all)."""
    if query.startswith("Observation?") and "_sort" not in query and isinstance(answer.get("entry"), list):
        entries = list(answer["entry"])
        random.Random(seed).shuffle(entries)
        answer = {**answer, "entry": entries}
    return answer


@pytest.mark.parametrize("seed", [1, 2, 3])
@pytest.mark.parametrize("newest_high", [False, True])
def test_a_combined_page_in_any_order_still_gives_each_analyte_s_newest_result(seed, newest_high, rsps):
    """15 older copies of each analyte's result (all in one complete page): the newest ALT decides, wherever it
    stands in the page. Newest normal and older ones 5 x ULN: met; newest 5 x ULN and older ones normal: review."""
    history = long_history(load("eligible-infant"), 15 * 9, 0)
    for r in history:
        if r.get("id") == "alt" or (r.get("id", "").startswith("history-") and r["code"]["coding"][0]["code"]
                                    == "1742-6"):
            is_newest = r["id"] == "alt"
            r["valueQuantity"]["value"] = 250 if is_newest == newest_high else 20
    fake = FakeFhir(history, tamper=lambda q, a: _shuffled(q, a, seed))
    fake.register(rsps)
    client = make_app(LOCAL_CODES={**LOCAL_CODES, TITER: "aav9-titer"}).test_client()
    statuses = _statuses(client.post(SIGN, json=hook_request("eligible-infant", mode="server")))
    assert statuses["baseline-liver-function"] == ("review" if newest_high else "met")
    assert len(_by_code(fake.calls)) == 1  # the page was complete: answered from it


def _incomplete(kind: str):
    """A combined page that lacks the newest ALT (5 x ULN) and says it is incomplete (`kind`): a next link, a
    Bundle.total above what was sent, or an OperationOutcome entry; the analytes' own searches are answered."""

    def tamper(query: str, answer: dict) -> dict:
        if not (query.startswith("Observation?") and "_sort" not in query and "_offset" not in query):
            return answer
        entries = [e for e in answer["entry"] if e["resource"].get("id") != "alt"]
        answer = {**answer, "entry": entries, "total": len(entries)}
        if kind == "next":
            answer["link"] = [*answer["link"], {"relation": "next", "url": f"{FHIR_BASE}/Observation?page=2"}]
        elif kind == "total":
            answer["total"] = len(entries) + 1
        else:
            answer["entry"] = [*entries, {"search": {"mode": "outcome"}, "resource": {
                "resourceType": "OperationOutcome", "issue": [{"severity": "warning", "code": "too-costly",
                                                                "diagnostics": "results limited"}]}}]
        return answer

    return tamper


@pytest.mark.parametrize("kind", ["next", "total", "outcome"])
def test_an_incomplete_combined_page_leads_to_each_analyte_s_own_sorted_search(kind, rsps):
    history = long_history(load("eligible-infant"), 18, 0)  # an older, normal ALT besides the newest
    next(r for r in history if r.get("id") == "alt")["valueQuantity"]["value"] = 250
    fake = FakeFhir(history, tamper=_incomplete(kind))
    fake.register(rsps)
    client = make_app(LOCAL_CODES={**LOCAL_CODES, TITER: "aav9-titer"}).test_client()
    statuses = _statuses(client.post(SIGN, json=hook_request("eligible-infant", mode="server")))
    # Read from the combined page alone, the older normal ALT would have been taken as the latest: met.
    assert statuses["baseline-liver-function"] == "review"
    assert statuses["smn1-biallelic"] == "met" and statuses["gestational-age"] == "met"
    assert statuses["aav9-titer"] == "met" and statuses["no-active-infection"] == "met"
    by_code = _by_code(fake.calls)
    combined, alone = by_code[0], by_code[1:]
    assert "_sort" not in combined and not any("page=2" in c for c in fake.calls)  # its next link is not read
    assert len(alone) == 13 and all("_sort=-date" in c for c in alone)  # every analyte, newest first
    assert any(_codes(c) == [ALT, "http://lab.example-hospital.org/codes|L-ALT"] and "_count=10" in c
               for c in alone)


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


def test_a_long_history_of_one_analyte_leads_to_each_analyte_s_own_search(client, rsps):
    """300 ALT results newer than everything else: the combined page (200) ends with a next link, so it says
    nothing about any analyte's latest results; every analyte is searched on its own, newest first, windowed."""
    fake = FakeFhir(_alt_burst(load("eligible-infant"), 300))
    fake.register(rsps)
    response = client.post(SIGN, json=hook_request("eligible-infant", mode="server"))
    assert _outcome(response)["overall"] == "eligible"
    by_code = _by_code(fake.calls)
    combined = [c for c in by_code if len(_codes(c)) > 10]
    alone = [c for c in by_code if c not in combined]
    assert len(combined) == 1 and "_offset" not in "".join(combined)  # one page, its next link not followed
    assert any(_codes(c)[0] == ALT and "_count=10" in c and "_sort=-date" in c for c in alone)
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


@pytest.mark.parametrize("ignore", [(), ("_count",), ("_sort", "_count"), ("_sort", "_count", "date")])
def test_a_server_ignoring_sort_or_count_still_gives_the_latest_result(ignore, rsps):
    """The newest ALT (5 x ULN) is among 300: found whether or not the server sorts or honours _count (it pages
    50 at a time); the other analytes are still read. A server that ignores _sort but honours _count: below.
    Ignoring the date too, the call takes 50 requests since the Immunization search (review 2026-11-24e T5): the
    limit is raised above the default 50 here, which would otherwise leave the SMN1 day's search unsent (unknown)."""
    fake = FakeFhir(_alt_burst(load("eligible-infant"), 300, high=True), page_size=50, ignore=ignore)
    fake.register(rsps)
    client = make_app(GATHER_DEADLINE_SECONDS=60, FHIR_MAX_REQUESTS=60).test_client()
    statuses = _statuses(client.post(SIGN, json=hook_request("eligible-infant", mode="server")))
    assert statuses["baseline-liver-function"] == "review"
    assert statuses["baseline-platelets-troponin"] == "met" and statuses["smn1-biallelic"] == "met"
    assert statuses["gestational-age"] == "met" and statuses["weight-in-label-range"] == "met"


def test_a_server_ignoring_sort_with_a_long_history_and_small_pages_is_unknown_never_met(rsps):
    """The combined page is incomplete, so ALT is searched on its own, `_count=10` newest first: a server that
    ignores the sort but honours the count is read 10 at a time, 31 pages, beyond the page and request limits.
    The liver criterion is then `unknown`, saying why, never met on an older result."""
    fake = FakeFhir(_alt_burst(load("eligible-infant"), 300, high=True), page_size=50, ignore=("_sort",))
    fake.register(rsps)
    response = make_app(GATHER_DEADLINE_SECONDS=60).test_client().post(
        SIGN, json=hook_request("eligible-infant", mode="server"))
    assert _statuses(response)["baseline-liver-function"] == "unknown"
    assert any("limit of FHIR requests" in i["problem"] for i in _outcome(response)["dataIssues"])


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
    """2,500 history Observations and 600 administrations: eligible, within the 50 requests allowed: the combined
    page (incomplete), the 16 other sources and 2 more administration pages, each analyte's own search (13), and
    the titer's fallback (2 pages of the window's lab results), and the lab results of the SMN1 result's day: 35."""
    fake = FakeFhir(long_history(load("eligible-infant"), 2500, 600))
    fake.register(rsps)
    response = make_app(GATHER_DEADLINE_SECONDS=120).test_client().post(
        SIGN, json=hook_request("eligible-infant", mode="server"))
    assert _outcome(response)["overall"] == "eligible"
    assert len(fake.calls) <= 35
