"""A tiny in-memory FHIR search over a scenario Bundle, used two ways with the same answers:
to build CDS Hooks prefetch, and (through `responses`) as the EHR's FHIR server for the fallback path."""

from __future__ import annotations

import json
import re
import uuid
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import responses

from cds_service.data_access import SOURCES, resolve

FIXTURES = Path(__file__).resolve().parent.parent / "fhir_fixtures"
FHIR_BASE = "https://ehr.example.org/fhir"
TOKEN = "test-access-token"
USER = "Practitioner/neuro-1"


def scenario_names() -> list[str]:
    """The order-time (eligibility) scenarios."""
    return sorted(p.stem for p in FIXTURES.glob("*.json") if not p.stem.startswith(("monitoring-", "readiness-")))


def readiness_names() -> list[str]:
    return sorted(p.stem for p in FIXTURES.glob("readiness-*.json"))


def monitoring_names() -> list[str]:
    return sorted(p.stem for p in FIXTURES.glob("monitoring-*.json"))


def load(name: str) -> list[dict]:
    bundle = json.loads((FIXTURES / f"{name}.json").read_text())
    return [e["resource"] for e in bundle["entry"]]


class FakeFhir:
    """Searches as servers do: `_count` is the page size (unless `page_size` caps it), `_sort=-date` orders
    Observations newest first, `date=ge/le` bounds them, the self link echoes the parameters used, `next`
    links are absolute. `ignore` names parameters this server ignores (not echoed in the self link).
    `tamper(query, answer) -> answer` changes what a query returns (a truncated Bundle, an outcome
    entry...), the same way for prefetch and for the FHIR server."""

    def __init__(self, resources: list[dict], page_size: int | None = None, tamper=None,
                 ignore: tuple[str, ...] = ()):
        self.record = [r for r in resources if not _is_draft(r)]
        self.page_size = page_size
        self.tamper = tamper or (lambda query, answer: answer)
        self.ignore = ignore
        self.calls: list[str] = []

    def answer(self, relative: str) -> dict:
        return self.tamper(relative, self._answer(relative))

    def _answer(self, relative: str) -> dict:
        """A read returns the resource; a search returns a searchset Bundle (paged when page_size)."""
        parts = urlsplit(relative)
        path = parts.path.strip("/")
        params = {k: v[0] for k, v in parse_qs(parts.query).items() if k not in self.ignore}
        if "/" in path:
            rtype, rid = path.split("/", 1)
            found = [r for r in self.record if r["resourceType"] == rtype and r.get("id") == rid]
            return found[0] if found else {"resourceType": "OperationOutcome",
                                           "issue": [{"severity": "error", "code": "not-found"}]}
        matches = [r for r in self.record if r["resourceType"] == path and _matches(r, params)]
        if params.get("_include") == "Encounter:location":
            refs = {loc["location"]["reference"] for m in matches for loc in m.get("location", [])}
            matches += [r for r in self.record if f"{r['resourceType']}/{r.get('id')}" in refs]
        elif params.get("_include") == "Coverage:payor":
            refs = {p.get("reference") for m in matches for p in m.get("payor") or []}
            matches += [r for r in self.record if f"{r['resourceType']}/{r.get('id')}" in refs]
        elif params.get("_include") == "DeviceUseStatement:device":
            refs = {(m.get("device") or {}).get("reference") for m in matches}
            matches += [r for r in self.record if f"{r['resourceType']}/{r.get('id')}" in refs]
        if params.get("_sort") == "-date":
            matches.sort(key=lambda r: _effective(r) or "", reverse=True)
        offset = int(params.get("_offset", 0))
        size = min(n for n in (self.page_size, int(params.get("_count", 0)) or None, len(matches) or 1) if n)
        page = matches[offset: offset + size]
        query = "&".join(f"{k}={v}" for k, v in params.items() if k != "_offset")
        bundle = {"resourceType": "Bundle", "type": "searchset", "total": len(matches),
                  "link": [{"relation": "self", "url": f"{FHIR_BASE}/{path}?{query}"}],
                  "entry": [{"resource": r} for r in page]}
        if offset + size < len(matches):
            bundle["link"].append({"relation": "next", "url": f"{FHIR_BASE}/{path}?{query}&_offset={offset + size}"})
        return bundle

    def register(self, rsps: responses.RequestsMock, require_token: bool = True, batch: bool = False) -> None:
        """Answers GETs; with `batch`, also a FHIR batch of GETs (POST [base]), each entry answered as its GET
        (recorded in `calls` with a "batch:" prefix)."""
        def callback(request):
            if require_token and request.headers.get("Authorization") != f"Bearer {TOKEN}":
                return 401, {}, json.dumps({"resourceType": "OperationOutcome", "issue": []})
            relative = request.url[len(FHIR_BASE) + 1:]
            self.calls.append(relative)
            body = self.answer(relative)
            status = 404 if body["resourceType"] == "OperationOutcome" else 200
            return status, {"Content-Type": "application/fhir+json"}, json.dumps(body)

        def batch_callback(request):
            if require_token and request.headers.get("Authorization") != f"Bearer {TOKEN}":
                return 401, {}, json.dumps({"resourceType": "OperationOutcome", "issue": []})
            entries = []
            for entry in json.loads(request.body)["entry"]:
                relative = entry["request"]["url"]
                self.calls.append("batch:" + relative)
                body = self.answer(relative)
                status = "404 Not Found" if body["resourceType"] == "OperationOutcome" else "200 OK"
                entries.append({"resource": body, "response": {"status": status}})
            return 200, {"Content-Type": "application/fhir+json"}, json.dumps(
                {"resourceType": "Bundle", "type": "batch-response", "entry": entries})

        rsps.add_callback(responses.GET, re.compile(re.escape(FHIR_BASE) + r"/.*"), callback=callback)
        if batch:
            rsps.add_callback(responses.POST, FHIR_BASE, callback=batch_callback)


HISTORY_ANALYTES = ("alt", "ast", "tbili", "pt", "platelets", "troponin", "creatinine", "hgb", "weight")


def long_history(resources: list[dict], observations: int, administrations: int, last: str = "2026-11-16",
                 first: str = "2026-03-11") -> list[dict]:
    """`resources` plus a NICU-length history: `observations` older results (copies of the scenario's own,
    so the latest of each analyte stays the scenario's) spread evenly from `first` to `last`, and
    `administrations` MedicationAdministrations of another drug."""
    from datetime import date, timedelta

    by_id = {r.get("id"): r for r in resources}
    start, end = date.fromisoformat(first), date.fromisoformat(last)
    span = (end - start).days + 1
    out = list(resources)
    for i in range(observations):
        copy = json.loads(json.dumps(by_id[HISTORY_ANALYTES[i % len(HISTORY_ANALYTES)]]))
        copy["id"] = f"history-{i}"
        copy["effectiveDateTime"] = (end - timedelta(days=i * span // max(observations, 1))).isoformat()
        out.append(copy)
    patient = next(r["id"] for r in resources if r["resourceType"] == "Patient")
    for i in range(administrations):
        out.append({"resourceType": "MedicationAdministration", "id": f"ampicillin-{i}", "status": "completed",
                    "medicationCodeableConcept": {"text": "ampicillin 50 mg/kg IV"},
                    "subject": {"reference": f"Patient/{patient}"},
                    "effectiveDateTime": (end - timedelta(days=i * span // max(administrations, 1))).isoformat()})
    return out


def _is_draft(resource: dict) -> bool:
    return resource["resourceType"] == "MedicationRequest" and resource.get("status") == "draft"


def _effective(resource: dict) -> str | None:
    """What a FHIR server's Observation `date` search matches and sorts on: effective[x], never `issued`."""
    return resource.get("effectiveDateTime") or (resource.get("effectivePeriod") or {}).get("start")


def _matches(resource: dict, params: dict) -> bool:
    patient = params.get("patient") or params.get("beneficiary")
    if patient:  # a bare id or a typed reference (FHIR R4 reference search: the same search)
        refs = [(resource.get(k) or {}).get("reference") for k in ("subject", "patient", "beneficiary")]
        refs += [(p.get("actor") or {}).get("reference") for p in resource.get("participant") or []
                 if resource["resourceType"] == "Appointment"]
        if (patient if "/" in patient else f"Patient/{patient}") not in refs:
            return False
    practitioner = params.get("practitioner")
    if practitioner and (resource.get("practitioner") or {}).get("reference") != \
            (practitioner if "/" in practitioner else f"Practitioner/{practitioner}"):
        return False
    if "_id" in params and resource.get("id") not in params["_id"].split(","):
        return False
    if "status" in params and resource.get("status") not in params["status"].split(",") \
            and resource["resourceType"] != "Location":
        return False
    if "category" in params:
        codes = {c.get("code") for cat in resource.get("category") or [] for c in cat.get("coding") or []}
        if not set(params["category"].split(",")) & codes:
            return False
    if "code" in params:
        wanted = set(params["code"].split(","))
        have = {f"{c.get('system')}|{c.get('code')}" for c in (resource.get("code") or {}).get("coding") or []}
        if not wanted & have:
            return False
    if "date" in params and resource["resourceType"] in ("Observation", "Appointment"):
        value, when = params["date"], (_effective(resource) or resource.get("start") or "")[:10]
        if not when or (value.startswith("ge") and when < value[2:]) or (value.startswith("le") and when > value[2:]):
            return False
        day = value.removeprefix("eq")
        if day[:1].isdigit() and not when.startswith(day):  # no prefix: equal at the value's precision (a day)
            return False
    return True


def context_for(name: str, hook: str, resources: list[dict]) -> dict:
    if hook == "patient-view":
        return {"userId": USER, "patientId": name}
    drafts = [r for r in resources if _is_draft(r)]
    context = {"userId": USER, "patientId": name,
               "draftOrders": {"resourceType": "Bundle", "entry": [{"resource": r} for r in drafts]}}
    encounter = next((r for r in resources if r["resourceType"] == "Encounter"), None)
    if encounter:
        context["encounterId"] = encounter["id"]
    if hook == "order-select":
        context["selections"] = [f"MedicationRequest/{r['id']}" for r in drafts]
    return context


def hook_request(name: str, hook: str = "order-sign", mode: str = "prefetch", page_size: int | None = None,
                 sources: tuple[str, ...] = (), resources: list[dict] | None = None, tamper=None) -> dict:
    """A CDS Hooks request for a scenario: `prefetch` (the service's keys filled) or `server` (no prefetch).
    `resources` replaces the scenario's record (same patient id); `tamper` as in FakeFhir."""
    resources = load(name) if resources is None else resources
    context = context_for(name, hook, resources)
    body = {"hook": hook, "hookInstance": str(uuid.uuid5(uuid.NAMESPACE_URL, f"zolgensma-cds:{name}:{hook}")),
            "context": context, "fhirServer": FHIR_BASE,
            "fhirAuthorization": {"access_token": TOKEN, "token_type": "Bearer", "expires_in": 300,
                                  "scope": "user/*.read", "subject": "zolgensma-cds"}}
    if mode == "prefetch":
        fake = FakeFhir(resources, page_size, tamper)
        queries = {s.key: resolve(s.templates[0], context) for s in SOURCES
                   if (s.name in sources if sources else s.default)}
        body["prefetch"] = {key: fake.answer(query) for key, query in queries.items() if query is not None}
    return body


def both_routes(client, url: str, name: str, hook: str, sources: tuple[str, ...], rsps) -> dict:
    """The response through prefetch, after checking the FHIR-server route (no prefetch) answers the same
    (card and suggestion uuids aside) and that the prefetch route made no query."""
    answers = []
    fake = FakeFhir(load(name))
    fake.register(rsps)
    for mode in ("prefetch", "server"):
        if mode == "server":
            assert only_follow_ups(fake.calls)
            fake.calls.clear()
        response = client.post(url, json=hook_request(name, hook, mode, sources=sources))
        assert response.status_code == 200, response.get_data(as_text=True)
        answers.append(response.json)
    assert fake.calls
    assert without_ids(answers[0]) == without_ids(answers[1])
    return answers[0]


def answer_both_routes(client, resources: list[dict], url: str = "/cds-services/zolgensma-order-sign",
                       name: str = "eligible-infant", hook: str = "order-sign", ignore: tuple[str, ...] = (),
                       tamper=None, sources: tuple[str, ...] = ()) -> dict:
    """The answer to `name`'s request with `resources` as the record, through prefetch, after checking that the
    FHIR-server route (no prefetch; a server ignoring the search parameters `ignore`) answers the same,
    generated ids aside. `tamper` changes what both routes receive, as in FakeFhir; `sources` as for hook_request
    (a patient-view service passes its own)."""
    answers = []
    with responses.RequestsMock(assert_all_requests_are_fired=False) as rsps:
        FakeFhir(resources, tamper=tamper, ignore=ignore).register(rsps)
        for mode in ("prefetch", "server"):
            body = hook_request(name, hook, mode=mode, resources=resources, tamper=tamper, sources=sources)
            response = client.post(url, json=body)
            assert response.status_code == 200, response.get_data(as_text=True)
            answers.append(response.json)
    assert without_generated_ids(answers[0]) == without_generated_ids(answers[1])
    return answers[0]


def answer_each_route(client, resources: list[dict], tamper=None, url: str = "/cds-services/zolgensma-order-sign",
                      name: str = "eligible-infant", hook: str = "order-sign",
                      sources: tuple[str, ...] = ()) -> dict[str, dict]:
    """The answers through prefetch and through the FHIR server, each route on its own mocked server, by mode: for
    cases whose answers are not identical (a failed search is reported by each route in its own words)."""
    answers = {}
    for mode in ("prefetch", "server"):
        with responses.RequestsMock(assert_all_requests_are_fired=False) as rsps:
            FakeFhir(resources, tamper=tamper).register(rsps)
            body = hook_request(name, hook, mode=mode, resources=resources, tamper=tamper, sources=sources)
            answers[mode] = client.post(url, json=body).json
    return answers


def only_follow_ups(calls: list[str]) -> bool:
    """What the prefetch route may ask the FHIR server: lab results absent from the prefetch, by code (the labs
    prefetch asks for category=laboratory; a result recorded without it is searched for by code)."""
    return all(c.startswith("Observation?") and "code=" in c and "category=" not in c for c in calls)


def without_ids(body):
    if isinstance(body, dict):
        return {k: without_ids(v) for k, v in body.items() if k != "uuid"}
    if isinstance(body, list):
        return [without_ids(v) for v in body]
    return body


def without_generated_ids(body):
    """Drop generated identifiers (card/suggestion uuids, CRD coverage-assertion-id, packet link keys)."""
    if isinstance(body, dict):
        if body.get("url") == "coverage-assertion-id":
            return {"url": "coverage-assertion-id"}
        if "/packets/" in str(body.get("url")):
            return {**body, "url": body["url"].rsplit("/", 1)[0]}
        return {k: without_generated_ids(v) for k, v in body.items() if k != "uuid"}
    if isinstance(body, list):
        return [without_generated_ids(v) for v in body]
    return body


EXAMPLES = ("eligible-infant", "missing-labs", "titer-1-100")
MONITORING_EXAMPLES = ("monitoring-day-45-overdue",)
MONITORING_SOURCES = ("patient", "labs", "medication-requests", "medication-administrations", "procedures",
                      "medication-dispenses", "service-requests", "conditions", "assessments")


def example_request(name: str) -> tuple[str, dict]:
    """A ready-to-post request (prefetch only, no fhirServer) and its file name."""
    if name in MONITORING_EXAMPLES:
        body, file = hook_request(name, "patient-view", sources=MONITORING_SOURCES), f"{name}.patient-view.json"
    else:
        body, file = hook_request(name), f"{name}.order-sign.json"
    del body["fhirServer"], body["fhirAuthorization"]
    return file, body


def write_examples() -> None:
    """The requests the README's curl examples post."""
    out = FIXTURES / "requests"
    out.mkdir(exist_ok=True)
    for name in EXAMPLES + MONITORING_EXAMPLES:
        file, body = example_request(name)
        (out / file).write_text(json.dumps(body, indent=1) + "\n")


if __name__ == "__main__":
    write_examples()


def service_calls() -> list[tuple[str, str, dict]]:
    """(scenario, service id, prefetch request) for every fixture scenario through every service that answers
    it: the eligibility scenarios on order-sign and order-select, the monitoring and readiness scenarios on
    patient-view."""
    from cds_service.hooks import MONITORING, READINESS, SERVICES
    calls = [(name, f"zolgensma-{hook}", hook_request(name, hook))
             for name in scenario_names() for hook in ("order-sign", "order-select")]
    calls += [(name, MONITORING, hook_request(name, "patient-view", sources=SERVICES[MONITORING].sources))
              for name in monitoring_names()]
    calls += [(name, READINESS, hook_request(name, "patient-view", sources=SERVICES[READINESS].sources))
              for name in readiness_names()]
    return calls


ELIGIBILITY_EXTENSION = "org.example.zolgensma-cds.eligibility"  # card extension names (README)
CRITERION_EXTENSION = "org.example.zolgensma-cds.criterion"


def criterion_outcome(answer: dict, criterion: str) -> dict:
    """The machine-readable outcome of one criterion (first card's extension), with the overall outcome."""
    outcome = answer["cards"][0]["extension"][ELIGIBILITY_EXTENSION]
    return next(c for c in outcome["criteria"] if c["id"] == criterion) | {"overall": outcome["overall"]}


def criterion_card(answer: dict, criterion: str) -> dict:
    """The card of one criterion (the one whose criterion extension names it)."""
    return next(c for c in answer["cards"]
                if c.get("extension", {}).get(CRITERION_EXTENSION, {}).get("id") == criterion)


def with_prednisolone(resources: list[dict], patient: str, start: str = "2026-11-01", end: str = "2026-12-31",
                      status: str = "active") -> list[dict]:
    """`resources` plus a prednisolone order (the label's course, FDA label 2.1) for Patient/`patient`."""
    return resources + [{
        "resourceType": "MedicationRequest", "id": "prednisolone-course", "status": status, "intent": "order",
        "medicationCodeableConcept": {"coding": [{"system": "http://www.nlm.nih.gov/research/umls/rxnorm",
                                                  "code": "8638", "display": "prednisolone"}],
                                      "text": "prednisolone 15 mg/5 mL oral solution"},
        "subject": {"reference": f"Patient/{patient}"}, "authoredOn": start,
        "dosageInstruction": [{"text": "6 mg by mouth once daily", "timing": {"repeat": {
            "boundsPeriod": {"start": start, "end": end}, "frequency": 1, "period": 1, "periodUnit": "d"}},
            "doseAndRate": [{"doseQuantity": {"value": 6, "unit": "mg", "system": "http://unitsofmeasure.org",
                                              "code": "mg"}}]}]}]
