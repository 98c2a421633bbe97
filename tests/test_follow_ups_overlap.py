"""The lab follow-ups (follow_ups.py: the lab results of the SMN1 result's day, the lab history when no titer was
found) start as soon as the labs are read, inside the call's one gathering: beside the other sources still on their
way, with the same request limit, deadline and batch mode; each stays a source of its own (a follow-up that fails
or is late stops only its criterion). Behaviour and order only, never timings: a held request waits for an event
(10 s at most, so that a client that never sends the follow-up is not stuck, and the test then fails)."""

from __future__ import annotations

import json
import re
import threading

import responses
from conftest import make_app
from fhir_fake import FHIR_BASE, FakeFhir, hook_request, load

SIGN = "/cds-services/zolgensma-order-sign"
REPORT_DAY = "Observation?date=2026-03-20&patient=eligible-infant&category=laboratory&_sort=-date&_count=200"
HISTORY = "Observation?patient=eligible-infant&category=laboratory&_sort=-date&_count=200"
OUTCOME = {"resourceType": "OperationOutcome", "issue": [{"severity": "error", "code": "exception"}]}


class Holding:
    """Serves `fake` (GETs, and a FHIR batch of GETs), holding the answer to each GET that `held(query)` picks until
    a GET that `releases(query)` picks has arrived. `released_in_time`: for each held GET, whether that happened
    while it was held; `order`: the GETs as they arrived."""

    def __init__(self, fake: FakeFhir, held, releases, wait: float = 10):
        self.fake, self.held, self.releases, self.wait = fake, held, releases, wait
        self.event = threading.Event()
        self.released_in_time: list[bool] = []
        self.order: list[str] = []

    def register(self, rsps, batch: bool = False) -> None:
        def get(request):
            relative = request.url[len(FHIR_BASE) + 1:]
            self.order.append(relative)
            if self.releases(relative):
                self.event.set()
            if self.held(relative):
                self.released_in_time.append(self.event.wait(self.wait))
            body = self.fake.answer(relative)
            return (404 if body["resourceType"] == "OperationOutcome" else 200), {}, json.dumps(body)

        def post(request):
            entries = []
            for entry in json.loads(request.body)["entry"]:
                relative = entry["request"]["url"]
                self.order.append("batch:" + relative)
                body = self.fake.answer(relative)
                entries.append({"resource": body, "response": {"status": "200 OK"}})
            return 200, {}, json.dumps({"resourceType": "Bundle", "type": "batch-response", "entry": entries})

        rsps.add_callback(responses.GET, re.compile(re.escape(FHIR_BASE) + r"/.*"), callback=get)
        if batch:
            rsps.add_callback(responses.POST, FHIR_BASE, callback=post)


def _call(rsps, server: Holding, batch: bool = False, **config) -> dict:
    server.register(rsps, batch=batch)
    response = make_app(**{"GATHER_DEADLINE_SECONDS": 60, "FHIR_BATCH": batch, **config}).test_client().post(
        SIGN, json=hook_request("eligible-infant", mode="server"))
    assert response.status_code == 200, response.get_data(as_text=True)
    return response.json["cards"][0]["extension"]["org.example.zolgensma-cds.eligibility"]


def _statuses(outcome: dict) -> dict:
    return {c["id"]: c["status"] for c in outcome["criteria"]}


def test_the_report_day_search_starts_while_an_unrelated_source_is_still_unanswered(rsps):
    """Parallel GETs: the Coverage search is answered only once the SMN1 day's search has arrived; before, the
    follow-up waited for every source (then the whole gathering again)."""
    server = Holding(FakeFhir(load("eligible-infant")), held=lambda q: q.startswith("Coverage?"),
                     releases=lambda q: q == REPORT_DAY)
    outcome = _call(rsps, server)
    assert server.released_in_time == [True]
    assert outcome["overall"] == "eligible"
    # still after the labs' answers that named the day: the combined search and the titer's fallback
    labs = [i for i, q in enumerate(server.order) if q.startswith("Observation?") and q != REPORT_DAY]
    assert server.order.index(REPORT_DAY) > max(labs)


def test_in_a_batch_the_follow_up_starts_while_the_location_read_after_it_is_still_unanswered(rsps):
    """Default batch: the 17 searches in one POST, then (the server ignores `_include`) the encounter's Location
    by id beside the titer's fallback; the day's search goes out while the Location is still unanswered."""
    server = Holding(FakeFhir(load("eligible-infant"), ignore=("_include",)),
                     held=lambda q: q.startswith("Location?"), releases=lambda q: q == REPORT_DAY)
    outcome = _call(rsps, server, batch=True)
    assert server.released_in_time == [True]
    assert outcome["overall"] == "eligible"
    assert sum(q.startswith("batch:") for q in server.order) == 17


def test_two_follow_ups_go_as_one_batch_when_the_call_batches(rsps):
    """No titer found (its result carries no date, so the window's search misses it): the lab history and the SMN1
    day's lab results start together, as one batch, as the call's first searches did."""
    record = load("eligible-infant")
    for r in record:
        if r.get("id") == "aav9":
            del r["effectiveDateTime"]
    server = Holding(FakeFhir(record), held=lambda q: False, releases=lambda q: False)
    outcome = _call(rsps, server, batch=True)
    typed = [q.replace("patient=eligible-infant", "patient=Patient/eligible-infant") for q in (REPORT_DAY, HISTORY)]
    assert {"batch:" + q for q in typed} <= set(server.order)
    assert sum(q.startswith("batch:") for q in server.order) == 17 + 2  # the first searches' batch, then these
    assert REPORT_DAY not in server.order and HISTORY not in server.order
    assert _statuses(outcome)["aav9-titer"] == "unknown" and _statuses(outcome)["smn1-biallelic"] == "met"


def test_the_follow_up_counts_against_the_call_s_one_request_limit(rsps):
    """18 requests allowed: the 17 first searches and the titer's fallback take them all, so the SMN1 day's search is
    not sent; genetics is `unknown` (naming genetics-reports) and nothing else changes. Before, the follow-up had
    a request limit of its own, and the call made one more."""
    fake = FakeFhir(load("eligible-infant"))
    server = Holding(fake, held=lambda q: False, releases=lambda q: False)
    outcome = _call(rsps, server, FHIR_MAX_REQUESTS=18)
    assert len(server.order) == 18 and REPORT_DAY not in server.order
    statuses = _statuses(outcome)
    assert statuses.pop("smn1-biallelic") == "unknown"
    assert set(statuses.values()) == {"met"}
    assert any(i["source"] == "genetics-reports" and "limit of FHIR requests" in i["problem"]
               for i in outcome["dataIssues"])


def test_a_follow_up_not_answered_by_the_deadline_stops_only_the_genetics(rsps):
    """The day's search is held past the call's deadline: the call answers at the deadline, genetics `unknown`
    ("not answered within the 3 s deadline", genetics-reports), every other criterion met."""
    server = Holding(FakeFhir(load("eligible-infant")), held=lambda q: q == REPORT_DAY, releases=lambda q: False,
                     wait=6)
    try:
        outcome = _call(rsps, server, GATHER_DEADLINE_SECONDS=3)
    finally:
        server.event.set()  # let the held request end
    statuses = _statuses(outcome)
    assert statuses.pop("smn1-biallelic") == "unknown"
    assert set(statuses.values()) == {"met"}
    assert {"source": "genetics-reports", "problem": "not answered within the 3 s deadline"} in [
        {k: i[k] for k in ("source", "problem")} for i in outcome["dataIssues"]]


def test_labs_that_could_not_be_read_start_no_follow_up(rsps):
    """Every Observation search fails: the labs are unread (their criteria `unknown`), and nothing is searched
    for the days of SMN1 results that were never read."""
    fake = FakeFhir(load("eligible-infant"), tamper=lambda q, a: OUTCOME if q.startswith("Observation?") else a)
    server = Holding(fake, held=lambda q: False, releases=lambda q: False)
    outcome = _call(rsps, server)
    assert not any("date=2026" in q for q in server.order)
    assert _statuses(outcome)["smn1-biallelic"] == "unknown"
