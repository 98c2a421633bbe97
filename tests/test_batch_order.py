"""Review 2026-11-24d S1 and S6: a batch-response entry is used only once it is shown to answer ITS request, and a
warning a server attaches to a successful entry makes that search incomplete, as on the GET route.

A server that puts the entries in another order (non-conformant: FHIR R4 keeps request order) must never file one
search's failure, truncation or empty answer under another: the answer is then the one the GETs give. Each case is
run with the self links a conformant server sends, and without any link, as Medplum 4.5.2 answers batch entries
(measured: searchset entries with no `link`, each with an information "All OK" response.outcome). Behaviour only."""

from __future__ import annotations

import copy
import json

import pytest
import responses
from conftest import make_app
from fhir_fake import FHIR_BASE, FakeFhir, hook_request, load
from test_fhir_round_trips import _outcome

from cds_service.fhir_batch import MISPLACED, PROVEN, UNPROVEN, batch_entry, belongs
from cds_service.fhir_client import FhirError, read_page

SIGN = "/cds-services/zolgensma-order-sign"
ALL_OK = {"resourceType": "OperationOutcome", "id": "ok", "issue": [
    {"severity": "information", "code": "informational", "details": {"text": "All OK"}}]}
WARNING = {"resourceType": "OperationOutcome", "issue": [
    {"severity": "warning", "code": "incomplete", "diagnostics": "Search results truncated"}]}
PNEUMONIA = {"resourceType": "Condition", "id": "pna", "subject": {"reference": "Patient/eligible-infant"},
             "clinicalStatus": {"coding": [{"system": "http://terminology.hl7.org/CodeSystem/condition-clinical",
                                            "code": "active"}]},
             "verificationStatus": {"coding": [{
                 "system": "http://terminology.hl7.org/CodeSystem/condition-ver-status", "code": "confirmed"}]},
             "code": {"coding": [{"system": "http://hl7.org/fhir/sid/icd-10-cm", "code": "J18.9",
                                  "display": "Pneumonia, unspecified organism"}]},
             "onsetDateTime": "2026-11-20"}


def _index(urls: list[str], resource_type: str) -> int:
    return next(i for i, url in enumerate(urls) if url.startswith(resource_type + "?"))


def _swap(first: str, second: str, fail: bool = False):
    """An edit that swaps the entries answering `first` and `second` (the `first` one failed when `fail`)."""
    def edit(urls, entries):
        i, j = _index(urls, first), _index(urls, second)
        if fail:
            entries[i] = {"response": {"status": "500 Internal Server Error"}}
        entries[i], entries[j] = entries[j], entries[i]
    return edit


def _answer(resources, tamper=None, edit=None, links=True, batch=True):
    """(overall, {criterion: (status, reasonCode)}, first card summary, the GETs sent) for the eligible infant's
    order-sign on the FHIR-server route; the batch answered entry by entry as the GETs are, then `edit`ed."""
    with responses.RequestsMock(assert_all_requests_are_fired=False) as rsps:
        fake = FakeFhir(resources, tamper=tamper)
        fake.register(rsps)

        def batch_callback(request):
            urls = [e["request"]["url"] for e in json.loads(request.body)["entry"]]
            entries = []
            for url in urls:
                fake.calls.append("batch:" + url)
                body = copy.deepcopy(fake.answer(url))
                if not links and body.get("resourceType") == "Bundle":
                    body.pop("link", None)
                failed = body["resourceType"] == "OperationOutcome"
                entries.append({"resource": body, "response": {"status": "404" if failed else "200", **(
                    {} if links else {"outcome": ALL_OK})}})
            if edit is not None:
                edit(urls, entries)
            return 200, {"Content-Type": "application/fhir+json"}, json.dumps(
                {"resourceType": "Bundle", "type": "batch-response", "entry": entries})

        rsps.add_callback(responses.POST, FHIR_BASE, callback=batch_callback)
        response = make_app(FHIR_BATCH=batch).test_client().post(
            SIGN, json=hook_request("eligible-infant", mode="server", resources=resources))
    outcome = _outcome(response)
    criteria = {c["id"]: (c["status"], c.get("reasonCode")) for c in outcome["criteria"]}
    return outcome["overall"], criteria, response.json["cards"][0]["summary"], [
        c for c in fake.calls if not c.startswith("batch:")]


def _with_pneumonia():
    return [*load("eligible-infant"), copy.deepcopy(PNEUMONIA)]


@pytest.mark.parametrize("links", [True, False], ids=["self-links", "no-links"])
@pytest.mark.parametrize("other", ["CareTeam", "ServiceRequest", "Procedure"])
def test_a_failed_condition_entry_moved_to_another_search_never_hides_the_pneumonia(other, links):
    """S1 (a): the Condition entry fails (500) and the server puts it where `other`'s (empty, complete) answer
    belongs. The pneumonia is read by the Condition search's own GET: not-met, as without the batch."""
    resources = _with_pneumonia()
    overall, criteria, summary, gets = _answer(resources, edit=_swap("Condition", other, fail=True), links=links)
    assert criteria["no-active-infection"] == ("not-met", "infection-present")
    assert summary == "Do not infuse Zolgensma: active infection or fever on record"
    assert "Condition?patient=eligible-infant&_count=200" in gets  # the failed search re-sent as ITSELF
    assert (overall, criteria, summary) == _answer(resources, batch=False)[:3]


def _truncated_observations(query: str, answer: dict) -> dict:
    """Every Observation search answer counts one more result than it sends, with no `next` link: truncated."""
    if query.startswith("Observation?") and answer.get("resourceType") == "Bundle":
        answer = dict(answer, total=len(answer.get("entry", [])) + 1)
    return answer


@pytest.mark.parametrize("links", [True, False], ids=["self-links", "no-links"])
@pytest.mark.parametrize("other", ["ServiceRequest", "CareTeam", "PractitionerRole", "Encounter", "Coverage"])
def test_a_truncated_lab_answer_moved_to_another_search_stays_the_labs_gap(other, links):
    """S1 (b): in request order 9 criteria are unknown (source-incomplete); with the lab entry swapped with
    `other`'s, the answer is the same (never "can go ahead")."""
    resources = load("eligible-infant")
    overall, criteria, summary, _ = _answer(resources, tamper=_truncated_observations,
                                            edit=_swap("Observation", other), links=links)
    assert overall != "eligible" and not summary.startswith("Zolgensma can go ahead")
    assert criteria["baseline-liver-function"] == ("unknown", "source-incomplete")
    assert criteria["aav9-titer"] == ("unknown", "source-incomplete")
    assert (overall, criteria, summary) == _answer(resources, tamper=_truncated_observations, batch=False)[:3]


def _administrations_truncated_empty(query: str, answer: dict) -> dict:
    """The administrations answer: no entry, but one counted (a truncated empty answer)."""
    if query.startswith("MedicationAdministration?") and answer.get("resourceType") == "Bundle":
        answer = dict(answer, total=1, entry=[])
    return answer


@pytest.mark.parametrize("links", [True, False], ids=["self-links", "no-links"])
def test_two_empty_answers_swapped_never_make_a_truncated_one_complete(links):
    """Two empty answers, one truncated (administrations), the other complete (CareTeam), swapped: "no prior
    dose" is never concluded from the CareTeam's empty answer."""
    resources = load("eligible-infant")
    overall, criteria, summary, gets = _answer(resources, tamper=_administrations_truncated_empty,
                                               edit=_swap("MedicationAdministration", "CareTeam"), links=links)
    assert criteria["one-time-dose"][0] == "unknown" and overall != "eligible"
    assert (overall, criteria, summary) == _answer(resources, tamper=_administrations_truncated_empty,
                                                   batch=False)[:3]


@pytest.mark.parametrize("links", [True, False], ids=["self-links", "no-links"])
def test_a_reversed_batch_is_not_read_by_position_and_the_eligible_infant_stays_eligible(links):
    resources = load("eligible-infant")
    overall, _, summary, gets = _answer(resources, edit=lambda urls, entries: entries.reverse(), links=links)
    assert overall == "eligible" and summary.startswith("Zolgensma can go ahead: all 14 checks met")
    assert "Condition?patient=eligible-infant&_count=200" in gets  # entries shown misplaced: every search a GET


@pytest.mark.parametrize("links", [True, False], ids=["self-links", "no-links"])
def test_a_conformant_batch_stays_one_round_trip(links):
    """In request order and complete, with or without links (Medplum's form): the entries are used, only the two
    follow-up searches go as GETs, the eligible infant is eligible."""
    overall, _, summary, gets = _answer(load("eligible-infant"), links=links)
    assert overall == "eligible" and summary.startswith("Zolgensma can go ahead: all 14 checks met")
    assert len(gets) == 2 and all(g.startswith("Observation?") for g in gets)


def _drop_pneumonia_with_warning(query: str, answer: dict) -> dict:
    """The Condition answer without the pneumonia, with a "truncated" warning as an outcome entry."""
    if query.startswith("Condition?") and answer.get("resourceType") == "Bundle":
        answer = dict(answer, entry=[e for e in answer["entry"] if e["resource"].get("id") != "pna"])
        answer.pop("total", None)
        answer["entry"] = [*answer["entry"], {"resource": WARNING, "search": {"mode": "outcome"}}]
    return answer


def _warn_on_conditions(urls, entries):
    """The warning moved from inside the Condition searchset to its entry's response.outcome (a no-links entry
    carrying it is asked again as its own GET, which answers with the warning inside)."""
    entry = entries[_index(urls, "Condition")]
    entry["resource"]["entry"] = [e for e in entry["resource"]["entry"] if e["resource"] != WARNING]
    entry["response"]["outcome"] = WARNING


@pytest.mark.parametrize("links", [True, False], ids=["self-links", "no-links"])
def test_a_warning_on_a_successful_batch_entry_makes_its_search_incomplete(links):
    """S6: the Condition answer drops the pneumonia and the entry's response.outcome says "Search results
    truncated": no-active-infection is unknown (records not fully read), as on the GET route when the same
    server puts that warning inside the searchset."""
    resources = _with_pneumonia()
    overall, criteria, summary, _ = _answer(resources, tamper=_drop_pneumonia_with_warning, edit=_warn_on_conditions,
                                            links=links)
    assert criteria["no-active-infection"] == ("unknown", "source-incomplete")
    assert overall != "eligible"
    assert (overall, criteria, summary) == _answer(resources, tamper=_drop_pneumonia_with_warning, batch=False)[:3]


def test_an_entry_warning_is_read_as_a_gap_and_information_is_not():
    bundle = {"resourceType": "Bundle", "type": "searchset", "entry": []}
    warned = batch_entry({"resource": bundle, "response": {"status": "200 OK", "outcome": WARNING}})
    assert read_page(warned).gaps == ["the server reported: Search results truncated"]
    assert read_page(batch_entry({"resource": bundle, "response": {"status": "200", "outcome": ALL_OK}})).gaps == []
    patient = {"resourceType": "Patient", "id": "p"}
    assert isinstance(batch_entry({"resource": patient, "response": {"status": "200", "outcome": WARNING}}),
                      FhirError)  # a read cannot carry it: asked again as its own GET


def _searchset(link: str | None, *resources) -> dict:
    return {"resourceType": "Bundle", "type": "searchset", "entry": [{"resource": r} for r in resources],
            **({"link": [{"relation": "self", "url": link}]} if link else {})}


def test_an_entry_is_checked_against_its_own_request():
    condition = {"resourceType": "Condition", "id": "c"}
    location = {"resourceType": "Location", "id": "site-1"}
    asked = "Condition?patient=Patient/p&_count=200"
    assert belongs("Patient/p", {"resourceType": "Patient", "id": "p"}) == PROVEN
    assert belongs("Patient/p", {"resourceType": "Patient", "id": "q"}) == MISPLACED
    assert belongs("Patient/p", _searchset(None)) == MISPLACED
    assert belongs(asked, {"resourceType": "Patient", "id": "p"}) == MISPLACED
    assert belongs(asked, _searchset(f"{FHIR_BASE}/Condition?patient=Patient/p&_count=200", condition)) == PROVEN
    assert belongs(asked, _searchset(f"{FHIR_BASE}/Condition?patient=p&_count=100")) == PROVEN  # bare id, capped
    assert belongs(asked, _searchset(f"{FHIR_BASE}/Condition")) == PROVEN  # a server that ignored `patient`
    assert belongs(asked, _searchset(f"{FHIR_BASE}/Condition/_search?patient=Patient/p")) == PROVEN
    assert belongs(asked, _searchset(f"{FHIR_BASE}/CareTeam?patient=Patient/p&status=active")) == MISPLACED
    assert belongs(asked, _searchset(f"{FHIR_BASE}/Condition?patient=Patient/q")) == MISPLACED
    assert belongs(asked, _searchset(f"{FHIR_BASE}/Condition?patient=Patient/p&category=x")) == MISPLACED
    assert belongs(asked, _searchset(None, condition)) == UNPROVEN  # no link: of the type, not more
    assert belongs(asked, _searchset(None)) == UNPROVEN
    assert belongs(asked, _searchset(None, location)) == MISPLACED
    assert belongs("Encounter?_id=e&_include=Encounter:location", _searchset(
        None, {"resourceType": "Encounter", "id": "e"}, location)) == UNPROVEN  # the included Location is allowed
    assert belongs(asked, FhirError("500")) == UNPROVEN
