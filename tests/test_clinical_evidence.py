"""Clinical evidence a reviewer would sign (issue 12): FHIR resources through the translator and the rules,
for the prescriber's specialty, the titer method, infection, genetics, the one-time dose and advanced SMA."""

from __future__ import annotations

import copy
from datetime import date

import pytest
from fhir_fake import load

from cds_service.rules.eligibility import evaluate
from cds_service.translate import LocalCodes, Translator

TODAY = date(2026, 11, 23)
SOURCES = ("patient", "labs", "vitals", "conditions", "medication-requests", "medication-administrations",
           "medication-statements", "procedures", "devices", "device-use", "coverage", "practitioner-roles",
           "care-teams", "encounter")
NUCC, SCT, LOINC = "http://nucc.org/provider-taxonomy", "http://snomed.info/sct", "http://loinc.org"


def eligible(pid: str = "eligible-infant") -> list[dict]:
    return copy.deepcopy(load(pid))


def finding(resources: list[dict], criterion: str, local_codes: dict | None = None, drop: tuple[str, ...] = ()):
    """Translate a chart (every resource in one source, the others read and empty) and evaluate one criterion."""
    order = next(r for r in resources if r["resourceType"] == "MedicationRequest" and r.get("status") == "draft")
    record = [r for r in resources if r is not order]
    sources = {name: [] for name in SOURCES if name not in drop}
    sources["labs"] = record
    facts = Translator("p", LocalCodes.from_mapping(local_codes)).build(sources, order, [order], [], TODAY)
    return evaluate(facts, TODAY).finding(criterion)


def with_resource(resources: list[dict], new: dict) -> list[dict]:
    return [r for r in resources if r.get("id") != new.get("id")] + [new]


# --- item 8: the prescriber's specialty -----------------------------------------------------------------------
def _role(*codings, text=None):
    specialty = {"coding": list(codings)} if codings else {}
    if text:
        specialty["text"] = text
    return {"resourceType": "PractitionerRole", "id": "neuro-1-role", "active": True,
            "practitioner": {"reference": "Practitioner/neuro-1"}, "specialty": [specialty]}


@pytest.mark.parametrize("role, status", [
    (_role({"system": NUCC, "code": "2084N0402X", "display": "Child Neurology"}), "met"),
    (_role({"system": NUCC, "code": "2084N0400X"}), "met"),
    (_role({"system": SCT, "code": "394591006", "display": "Neurology"}), "met"),
    # A psychiatrist: NUCC's display names "Neurology", the code decides.
    (_role({"system": NUCC, "code": "2084P0800X", "display": "Psychiatry & Neurology, Psychiatry"}), "unknown"),
    (_role({"system": NUCC, "code": "2084P0804X"}, text="Child neurology and psychiatry"), "unknown"),
    # Text only: at most review, and never psychiatry.
    (_role(text="Pediatric Neurology"), "review"),
    (_role(text="Psychiatry & Neurology, Neurology"), "review"),
    (_role(text="Psychiatry & Neurology, Psychiatry"), "unknown"),
    (_role(text="Neuropsychiatry"), "unknown"),
    (_role({"system": "http://hospital.example.org/specialty", "code": "PSY", "display": "Psychiatry"}), "unknown"),
])
def test_specialty_is_decided_by_code_and_text_is_only_a_fallback(role, status):
    assert finding(with_resource(eligible(), role), "specialist-prescriber").status == status


def test_site_specialty_codes_by_configuration():
    role = _role({"system": "http://hospital.example.org/specialty", "code": "NMD", "display": "NM clinic"})
    chart = with_resource(eligible(), role)
    assert finding(chart, "specialist-prescriber").status == "unknown"
    configured = {"http://hospital.example.org/specialty|NMD": "sma-specialty"}
    assert finding(chart, "specialist-prescriber", configured).status == "met"


# --- item 12: the titer method ------------------------------------------------------------------------------
def _titer(method=None, name="AAV9 total antibody titer", id_="aav9", when="2026-11-20", value="<1:25"):
    obs = {"resourceType": "Observation", "id": id_, "status": "final",
           "code": {"coding": [{"system": "http://lab.example-reference.com/tests", "code": "1181",
                                "display": name}]},
           "subject": {"reference": "Patient/p"}, "effectiveDateTime": when, "valueString": value}
    if method:
        obs["method"] = method
    return obs


@pytest.mark.parametrize("titer, status, reason", [
    (_titer({"text": "ELISA"}), "met", "titer-within-limit"),
    (_titer({"coding": [{"system": "http://lab.example.org/methods", "code": "E1",
                         "display": "Enzyme-linked immunosorbent assay"}]}), "met", "titer-within-limit"),
    (_titer(name="AAV9 Total Antibody ELISA"), "met", "titer-within-limit"),
    (_titer(), "met", "titer-within-limit-method-unrecorded"),
    (_titer({"text": "see report"}), "met", "titer-within-limit-method-unrecorded"),
    (_titer(name="AAV9 neutralizing antibody (NAb) titer"), "unknown", "titer-method-not-elisa"),
    (_titer({"text": "Cell-based transduction inhibition assay"}), "unknown", "titer-method-not-elisa"),
    (_titer({"text": "ECL immunoassay"}, name="AAV9 Total Antibody ELISA"), "unknown", "titer-method-not-elisa"),
    # A high titer by another assay is not the policy's test either: unknown, not not-met; the card shows it.
    (_titer({"text": "neutralising antibody assay"}, value="1:400"), "unknown", "titer-method-not-elisa"),
])
def test_titer_method_from_observation_method_then_test_name(titer, status, reason):
    f = finding(with_resource(eligible(), titer), "aav9-titer")
    assert (f.status, f.reason) == (status, reason)


def test_an_elisa_titer_is_used_when_a_later_titer_is_by_another_assay():
    chart = with_resource(eligible(), _titer({"text": "ELISA"}))
    chart.append(_titer({"text": "NAb (transduction inhibition)"}, id_="aav9-nab", when="2026-11-21"))
    f = finding(chart, "aav9-titer")
    assert (f.status, f.evidence[0].reference) == ("met", "Observation/aav9")


def test_the_card_says_why_a_non_elisa_titer_is_unknown(client):
    from fhir_fake import hook_request
    cards = client.post("/cds-services/zolgensma-order-sign", json=hook_request("titer-nab-by-name")).json["cards"]
    card = next(c for c in cards if c.get("extension", {}).get("zolgensma-criterion", {}).get("id") == "aav9-titer")
    assert "AAV9 neutralizing antibody (NAb) titer" in card["detail"] and "test name" in card["detail"]
    assert "can neither meet nor fail the ELISA limit" in card["detail"]


# --- item 4: infection --------------------------------------------------------------------------------------
def _condition(id_, system, code, display=None, onset=None, status="active", **more):
    c = {"resourceType": "Condition", "id": id_, "subject": {"reference": "Patient/p"},
         "code": {"coding": [{"system": system, "code": code, **({"display": display} if display else {})}]}}
    if status:
        c["clinicalStatus"] = {"coding": [{"system": "http://terminology.hl7.org/CodeSystem/condition-clinical",
                                           "code": status}]}
    if onset:
        c["onsetDateTime"] = onset
    c.update(more)
    return c


@pytest.mark.parametrize("condition, status", [
    (_condition("cmv", SCT, "28944009", "Cytomegalovirus infection", "2026-10-09"), "not-met"),  # 45 days ago
    (_condition("croup", SCT, "71186008"), "not-met"),  # SNOMED CT code only, no display
    (_condition("bact", SCT, "5758002", "Bacteremia", "2026-08-01", status="recurrence"), "not-met"),
    (_condition("otitis", "http://hl7.org/fhir/sid/icd-10-cm", "H66.90", "Otitis media", "2026-06-01"), "not-met"),
    (_condition("cmv", SCT, "28944009", "Cytomegalovirus infection", "2026-10-09", status="resolved",
                abatementDateTime="2026-11-01"), "met"),
    (_condition("cmv", SCT, "28944009", None, "2026-10-09", status=None, abatementDateTime="2026-11-01"), "met"),
    # Active status and an abatement date contradict each other (FHIR con-4): read as active.
    (_condition("cmv", SCT, "28944009", None, "2026-10-09", abatementDateTime="2026-11-01"), "not-met"),
    (_condition("eczema", SCT, "43116000", "Eczema", "2026-10-09"), "met"),
])
def test_any_active_infection_counts_whatever_its_onset(condition, status):
    chart = eligible()
    chart.append(condition)
    assert finding(chart, "no-active-infection").status == status


def _temperature(id_, value, when, unit="Cel"):
    return {"resourceType": "Observation", "id": id_, "status": "final",
            "code": {"coding": [{"system": LOINC, "code": "8310-5", "display": "Body temperature"}]},
            "subject": {"reference": "Patient/p"}, "effectiveDateTime": when,
            "valueQuantity": {"value": value, "unit": unit, "system": "http://unitsofmeasure.org", "code": unit}}


@pytest.mark.parametrize("temperatures, status", [
    ([("t1", 38.9, "2026-11-22T23:10:00Z"), ("t2", 36.9, "2026-11-23T07:30:00Z")], "not-met"),
    ([("t1", 102.0, "2026-11-21T20:00:00Z", "[degF]"), ("t2", 98.6, "2026-11-23T07:30:00Z", "[degF]")], "not-met"),
    ([("t1", 38.9, "2026-11-20T23:10:00Z"), ("t2", 36.9, "2026-11-23T07:30:00Z")], "met"),  # 3 days ago
    ([("t1", 37.9, "2026-11-22T23:10:00Z")], "met"),
])
def test_every_temperature_in_the_window_counts(temperatures, status):
    chart = eligible() + [_temperature(*t) for t in temperatures]
    f = finding(chart, "no-active-infection")
    assert f.status == status
    assert (f.params["threshold"], f.params["window"], f.params["since"]) == ("38.0", 2, "2026-11-21")
