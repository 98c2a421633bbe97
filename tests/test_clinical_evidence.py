"""Clinical evidence a reviewer would sign (issue 12): FHIR resources through the translator and the rules,
for the prescriber's specialty, the titer method, infection, genetics, the one-time dose and advanced SMA."""

from __future__ import annotations

import copy
from datetime import date

import pytest
from fhir_fake import load

from cds_service.rules.eligibility import evaluate
from cds_service.translate import LocalCodes, Translator, medication_kind

EXT_ELIGIBILITY = "org.example.zolgensma-cds.eligibility"  # card extension names (README)
EXT_CRITERION = "org.example.zolgensma-cds.criterion"

TODAY = date(2026, 11, 23)
SOURCES = ("patient", "labs", "vitals", "conditions", "medication-requests", "medication-administrations",
           "medication-statements", "medication-dispenses", "procedures", "devices", "device-use", "device-requests",
           "coverage", "practitioner-roles", "care-teams", "encounter", "service-requests", "immunizations")
SOURCE_OF = {"Patient": "patient", "Condition": "conditions", "MedicationRequest": "medication-requests",
             "MedicationAdministration": "medication-administrations", "MedicationStatement": "medication-statements",
             "MedicationDispense": "medication-dispenses", "Immunization": "immunizations",
             "Medication": "medication-statements", "Procedure": "procedures", "Device": "devices",
             "DeviceUseStatement": "device-use", "DeviceRequest": "device-requests", "Coverage": "coverage",
             "PractitionerRole": "practitioner-roles",
             "CareTeam": "care-teams", "Encounter": "encounter", "Location": "encounter",
             "ServiceRequest": "service-requests"}
NUCC, SCT, LOINC = "http://nucc.org/provider-taxonomy", "http://snomed.info/sct", "http://loinc.org"


_ME = {"reference": "Patient/eligible-infant"}  # the fixture patient's records are the evidence


def eligible(pid: str = "eligible-infant") -> list[dict]:
    return copy.deepcopy(load(pid))


def finding(resources: list[dict], criterion: str, local_codes: dict | None = None, drop: tuple[str, ...] = ()):
    """Translate a chart (each resource in the source of its type; `drop`: sources not read) and evaluate one
    criterion."""
    order = next(r for r in resources if r["resourceType"] == "MedicationRequest" and r.get("status") == "draft")
    record = [r for r in resources if r is not order]
    sources = {name: [] for name in SOURCES if name not in drop}
    for r in record:
        source = SOURCE_OF.get(r["resourceType"], "labs")
        if source in sources:
            sources[source].append(r)
    translator = Translator("eligible-infant", LocalCodes.from_mapping(local_codes))
    facts = translator.build(sources, order, [order], [], TODAY)
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
           "subject": _ME, "effectiveDateTime": when, "valueString": value}
    if method:
        obs["method"] = method
    return obs


@pytest.mark.parametrize("titer, status, reason", [
    (_titer({"text": "ELISA"}), "met", "titer-within-limit"),
    (_titer({"coding": [{"system": "http://lab.example.org/methods", "code": "E1",
                         "display": "Enzyme-linked immunosorbent assay"}]}), "met", "titer-within-limit"),
    (_titer(name="AAV9 Total Antibody ELISA"), "met", "titer-within-limit"),
    (_titer(), "unknown", "titer-within-limit-method-unrecorded"),
    (_titer({"text": "see report"}), "unknown", "titer-within-limit-method-unrecorded"),
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
    card = next(c for c in cards if c.get("extension", {}).get(EXT_CRITERION, {}).get("id") == "aav9-titer")
    assert "AAV9 neutralizing antibody (NAb) titer" in card["detail"] and "test name" in card["detail"]
    assert "can neither meet nor fail the ELISA limit" in card["detail"]


# --- item 4: infection --------------------------------------------------------------------------------------
def _condition(id_, system, code, display=None, onset=None, status="active", **more):
    c = {"resourceType": "Condition", "id": id_, "subject": _ME,
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
            "subject": _ME, "effectiveDateTime": when,
            "valueQuantity": {"value": value, "unit": unit, "system": "http://unitsofmeasure.org", "code": unit}}


@pytest.mark.parametrize("temperatures, status", [
    ([("t1", 38.9, "2026-11-22T23:10:00Z"), ("t2", 36.9, "2026-11-23T07:30:00Z")], "not-met"),
    ([("t1", 102.0, "2026-11-21T20:00:00Z", "[degF]"), ("t2", 98.6, "2026-11-23T07:30:00Z", "[degF]")], "not-met"),
    ([("t1", 38.9, "2026-11-20T23:10:00Z"), ("t2", 36.9, "2026-11-23T07:30:00Z")], "met"),  # 3 days ago
    ([("t1", 37.9, "2026-11-22T23:10:00Z")], "met"),
    # Two readings of one day are a series, not a contradiction: the fever counts.
    ([("t1", 38.9, "2026-11-23T01:10:00Z"), ("t2", 36.9, "2026-11-23T07:30:00Z")], "not-met"),
])
def test_every_temperature_in_the_window_counts(temperatures, status):
    chart = eligible() + [_temperature(*t) for t in temperatures]
    f = finding(chart, "no-active-infection")
    assert f.status == status
    assert (f.params["threshold"], f.params["window"], f.params["since"]) == ("38.0", 2, "2026-11-21")


def test_same_day_temperatures_are_not_reported_as_disagreeing(client):
    from fhir_fake import hook_request
    chart = eligible() + [_temperature("t1", 38.9, "2026-11-23T01:10:00Z"),
                          _temperature("t2", 36.9, "2026-11-23T07:30:00Z")]
    outcome = client.post("/cds-services/zolgensma-order-sign", json=hook_request(
        "eligible-infant", resources=chart)).json["cards"][0]["extension"]["org.example.zolgensma-cds.eligibility"]
    assert next(c for c in outcome["criteria"] if c["id"] == "no-active-infection")["status"] == "not-met"
    assert not any("disagree" in i["problem"] for i in outcome.get("dataIssues", []))


# --- item 1: genetics -----------------------------------------------------------------------------------------
GENE = {"code": {"coding": [{"system": LOINC, "code": "48018-6"}]},
        "valueCodeableConcept": {"coding": [{"system": "http://www.genenames.org/geneId", "code": "HGNC:11117"}]}}
SMN2 = {"code": {"coding": [{"system": LOINC, "code": "48018-6"}]},
        "valueCodeableConcept": {"coding": [{"system": "http://www.genenames.org/geneId", "code": "HGNC:11118"}]}}


def _comp(loinc, answer=None, quantity=None, string=None, text=None):
    c = {"code": {"coding": [{"system": LOINC, "code": loinc}]}}
    if quantity is not None:
        c["valueQuantity"] = {"value": quantity}
    elif string is not None:
        c["valueString"] = string
    else:
        c["valueCodeableConcept"] = {"coding": [{"system": LOINC, "code": answer}]} if answer else {"text": text}
    return c


def copies(n, *more, gene=GENE, id_="cn"):
    return {"resourceType": "Observation", "id": id_, "status": "final",
            "code": {"coding": [{"system": LOINC, "code": "69548-6"}]}, "subject": _ME,
            "effectiveDateTime": "2026-03-20", "component": [gene, _comp("82155-3", quantity=n), *more]}


def variant(hgvs, significance="LA6668-3", zygosity="LA6706-1", id_="snv"):
    comps = [GENE, _comp("48004-6", string=hgvs), _comp("53034-5", zygosity)]
    if significance:
        comps.append(_comp("53037-8", significance))
    return {"resourceType": "Observation", "id": id_, "status": "final",
            "code": {"coding": [{"system": LOINC, "code": "69548-6"}]}, "subject": _ME,
            "effectiveDateTime": "2026-03-20", "component": comps,
            "valueCodeableConcept": {"coding": [{"system": LOINC, "code": "LA9633-4"}]}}


def report(text, id_="report"):
    return {"resourceType": "Observation", "id": id_, "status": "final",
            "code": {"text": "SMN1 deletion analysis"}, "subject": _ME,
            "effectiveDateTime": "2026-03-20", "valueString": text}


PATHOGENIC, LIKELY, VUS = "LA6668-3", "LA26332-9", "LA26333-7"
HET, HOM, HEMI = "LA6706-1", "LA6705-3", "LA6707-9"


@pytest.mark.parametrize("results, status, reason", [
    ([copies(0)], "met", "biallelic-confirmed"),
    ([copies(1), variant("NM_000344.3:c.815A>G")], "met", "biallelic-confirmed"),  # compound heterozygote
    ([copies(1), variant("c.815A>G", LIKELY)], "met", "biallelic-confirmed"),
    ([variant("c.815A>G"), variant("c.683T>A", id_="snv2")], "met", "biallelic-confirmed"),
    ([variant("c.815A>G", zygosity=HOM)], "met", "biallelic-confirmed"),
    ([copies(1), variant("c.815A>G", zygosity=HEMI)], "met", "biallelic-confirmed"),
    # A carrier: 1 copy, heterozygous, "Pathogenic" is the deletion's own significance, not a second allele.
    ([copies(1, _comp("53034-5", HET), _comp("53037-8", PATHOGENIC))], "unknown", "one-allele-only"),
    ([copies(1), variant("c.815A>G", VUS)], "unknown", "one-allele-only"),
    ([copies(1), variant("c.(834+1_835-1)_(*1_?)del")], "unknown", "one-allele-only"),  # the deletion itself
    # The same variant reported twice is one allele, not two.
    ([variant("NM_000344.3:c.815A>G"), variant("c.815A>G", id_="snv2")], "unknown", "one-allele-only"),
    ([copies(2)], "not-met", "smn1-present"),
    ([copies(0), copies(2, id_="cn2")], "review", "genetics-conflict"),
    ([copies(0, gene=SMN2)], "unknown", "diagnosis-without-genetics"),  # SMN2 copies are not SMN1 evidence
    ([report("NEGATIVE: homozygous deletion of SMN1 exon 7 was not detected; 2 copies")], "review",
     "genetics-text-negative"),
    ([report("Heterozygous deletion, 1 copy; bi-allelic loss not detected")], "review",
     "genetics-text-negative"),
    ([report("Homozygous deletion of SMN1 exon 7 detected. No other variants detected.")], "review",
     "biallelic-text-only"),
    ([report("No copies of SMN1 detected; SMN2: 3 copies")], "review", "biallelic-text-only"),
    ([copies(1), report("Compound heterozygous: exon 7 deletion and c.815A>G")], "review", "biallelic-text-only"),
    ([copies(2), report("Homozygous deletion of SMN1 exon 7")], "review", "genetics-conflict"),
])
def test_smn1_met_only_from_structured_results_combined_across_observations(results, status, reason):
    chart = [r for r in eligible() if r.get("id") != "smn1-variant"] + results
    f = finding(chart, "smn1-biallelic")
    assert (f.status, f.reason) == (status, reason)


def test_significance_from_a_diagnostic_implication_observation():
    snv = variant("c.815A>G", significance=None)
    implication = {"resourceType": "Observation", "id": "impl", "status": "final",
                   "code": {"text": "Diagnostic implication"}, "subject": _ME,
                   "derivedFrom": [{"reference": "Observation/snv"}],
                   "component": [_comp("53037-8", PATHOGENIC)]}
    chart = [r for r in eligible() if r.get("id") != "smn1-variant"] + [copies(1), snv]
    assert finding(chart, "smn1-biallelic").status == "unknown"  # a variant of unstated significance
    assert finding(chart + [implication], "smn1-biallelic").status == "met"


def test_report_text_is_quoted_escaped_on_the_card(client):
    from fhir_fake import hook_request
    cards = client.post("/cds-services/zolgensma-order-sign", json=hook_request("genetics-text-positive")).json["cards"]
    card = next(c for c in cards if c.get("extension", {}).get(EXT_CRITERION, {}).get("id") == "smn1-biallelic")
    assert card["indicator"] == "warning"
    assert 'report text: "Homozygous deletion of SMN1 exon 7 detected (0 copies). Consistent with SMA."' \
        in card["detail"]  # escaped by cds_service.markdown.md (nothing to escape here; tests/test_card_safety.py)


# --- item 2: the one-time dose -----------------------------------------------------------------------------
NDC = "http://hl7.org/fhir/sid/ndc"
RXNORM = "http://www.nlm.nih.gov/research/umls/rxnorm"


@pytest.mark.parametrize("concept, kind", [
    ({"text": "onasemnogene abeparvovec 2 x 10^13 vg/mL IV suspension"}, "zolgensma"),
    ({"text": "Onasemnogene Abeparvovec-Xioi kit"}, "zolgensma"),
    ({"coding": [{"system": RXNORM, "code": "0000000", "display": "onasemnogene abeparvovec"}]}, "zolgensma"),
    ({"coding": [{"system": NDC, "code": "71894-120"}]}, "zolgensma"),  # NDC product code, no package
    ({"coding": [{"system": NDC, "code": "71894-0131"}]}, "zolgensma"),
    ({"coding": [{"system": NDC, "code": "718940131"}]}, "zolgensma"),
    # not a Zolgensma product code, but Zolgensma's labeler: not identified, so it may be Zolgensma (review
    # 2026-11-24b E1); the vial (71894-115-01, verified) is Zolgensma
    ({"coding": [{"system": NDC, "code": "71894-0200"}]}, "zolgensma-labeler-product"),
    ({"coding": [{"system": NDC, "code": "71894-115-01"}]}, "zolgensma"),
    ({"coding": [{"system": NDC, "code": "12345-0200-01"}]}, None),  # another labeler
    ({"text": "onasemnogene abeparvovec-brve (Itvisma) intrathecal"}, None),  # another product
    ({"text": "nusinersen"}, None),
])
def test_the_product_is_recognised_by_code_and_by_name(concept, kind):
    assert medication_kind({"resourceType": "MedicationAdministration", "medicationCodeableConcept": concept}) == kind


def test_a_site_maps_its_rxnorm_code():
    resource = {"medicationCodeableConcept": {"coding": [{"system": RXNORM, "code": "9999"}]}}
    assert medication_kind(resource) is None
    assert medication_kind(resource, codes={(RXNORM, "9999"): "zolgensma"}) == "zolgensma"


def _dose_record(rtype, status, medication, id_="x", **more):
    r = {"resourceType": rtype, "id": id_, "status": status, ("patient" if rtype == "Device" else "subject"): _ME,
         **medication}
    r.update(more)
    return r


ZOLGENSMA_NDC = {"medicationCodeableConcept": {"coding": [{"system": NDC, "code": "71894-125-04"}]}}
BY_REFERENCE = {"medicationReference": {"reference": "Medication/med-1"}}
MEDICATION = {"resourceType": "Medication", "id": "med-1",
              "ingredient": [{"itemCodeableConcept": {"text": "onasemnogene abeparvovec"}}]}


@pytest.mark.parametrize("records, status", [
    ([_dose_record("MedicationStatement", "completed", ZOLGENSMA_NDC, effectiveDateTime="2026-06-01")], "not-met"),
    ([_dose_record("MedicationStatement", "not-taken", ZOLGENSMA_NDC)], "met"),
    ([_dose_record("MedicationStatement", "intended", ZOLGENSMA_NDC)], "met"),
    ([_dose_record("MedicationStatement", "active", BY_REFERENCE), MEDICATION], "not-met"),  # in the Bundle
    ([_dose_record("MedicationAdministration", "completed", {"medicationReference": {"reference": "#m"}},
                   contained=[{**MEDICATION, "id": "m"}])], "not-met"),  # contained
    # Named by reference and readable nowhere: it may be a dose, so "no prior dose" cannot be concluded.
    ([_dose_record("MedicationAdministration", "completed", BY_REFERENCE)], "unknown"),
    ([_dose_record("Procedure", "completed", {}, code={"text": "Zolgensma infusion"})], "not-met"),
    ([_dose_record("Procedure", "in-progress", {}, code={"coding": [{"system": "http://www.ama-assn.org/go/cpt",
                                                                       "code": "96365"}]},
                   usedReference=[{"reference": "Medication/med-1"}]), MEDICATION], "not-met"),
    ([_dose_record("Procedure", "not-done", {}, code={"text": "Zolgensma infusion"})], "met"),
    # review 2026-11-24e T1: a kit handed over (its Medication in the Bundle); a declined dispense is no dose
    ([_dose_record("MedicationDispense", "completed", BY_REFERENCE, whenHandedOver="2026-03-01"), MEDICATION],
     "not-met"),
    ([_dose_record("MedicationDispense", "declined", ZOLGENSMA_NDC)], "met"),
    # review 2026-11-24e T5: a kit recorded as an immunization (its vaccineCode); not done: no dose
    ([{"resourceType": "Immunization", "id": "im", "status": "completed", "patient": _ME,
       "vaccineCode": ZOLGENSMA_NDC["medicationCodeableConcept"], "occurrenceDateTime": "2026-03-01"}], "not-met"),
    ([{"resourceType": "Immunization", "id": "im", "status": "not-done", "patient": _ME,
       "vaccineCode": ZOLGENSMA_NDC["medicationCodeableConcept"]}], "met"),
])
def test_prior_doses_in_every_record_shape(records, status):
    assert finding(eligible() + records, "one-time-dose").status == status


def test_unreadable_medication_reference_without_a_fhir_server_is_unknown_and_said(client):
    from fhir_fake import hook_request
    body = hook_request("eligible-infant")
    del body["fhirServer"], body["fhirAuthorization"]
    body["prefetch"]["medicationAdministrations"] = {"resourceType": "Bundle", "type": "searchset", "entry": [
        {"resource": _dose_record("MedicationAdministration", "completed", BY_REFERENCE, "given")}]}
    outcome = client.post("/cds-services/zolgensma-order-sign", json=body).json["cards"][0]["extension"][
        "org.example.zolgensma-cds.eligibility"]
    one_time = next(c for c in outcome["criteria"] if c["id"] == "one-time-dose")
    assert (one_time["status"], one_time["reasonCode"]) == ("unknown", "source-incomplete")
    assert "MedicationAdministration/given" in one_time["reason"]
    assert any("no fhirServer" in i["problem"] for i in outcome["dataIssues"])


def test_a_draft_naming_an_unreadable_medication_gets_no_cards_and_reads_nothing_else(client, rsps):
    from fhir_fake import FHIR_BASE, hook_request
    body = hook_request("eligible-infant", resources=_server_medication_charts()["eligible-infant"][0])
    rsps.add("GET", f"{FHIR_BASE}/Medication?_id=zolgensma-kit", status=404,
             json={"resourceType": "OperationOutcome", "issue": [{"severity": "error", "code": "not-found"}]})
    assert client.post("/cds-services/zolgensma-order-sign", json=body).json == {"cards": []}
    assert [c.request.url for c in rsps.calls] == [f"{FHIR_BASE}/Medication?_id=zolgensma-kit&_count=1"]


# --- item 3: advanced SMA beyond Conditions ------------------------------------------------------------------
@pytest.mark.parametrize("records, status", [
    ([_dose_record("Procedure", "completed", {}, code={"coding": [
        {"system": "http://www.cms.gov/Medicare/Coding/ICD10", "code": "5A1955Z"}]})], "review"),
    ([_dose_record("Procedure", "completed", {}, code={"coding": [{"system": SCT, "code": "1258985005"}]})],
     "review"),
    ([_dose_record("Procedure", "completed", {}, code={"text": "Tracheostomy revision"})], "review"),
    ([_dose_record("Procedure", "completed", {}, code={"text": "Non-invasive ventilation trial (BiPAP)"})], "met"),
    ([_dose_record("Procedure", "entered-in-error", {}, code={"coding": [{"system": SCT, "code": "48387007"}]})],
     "met"),
    ([_dose_record("DeviceUseStatement", "active", {}, device={"display": "BiPAP home ventilator"})], "review"),
    ([_dose_record("DeviceUseStatement", "completed", {}, device={"display": "Home ventilator"})], "met"),
    ([_dose_record("Device", "active", {}, type={"text": "Feeding pump"})], "met"),
    ([_dose_record("Device", "inactive", {}, type={"coding": [{"system": SCT, "code": "706172005"}]})], "met"),
    # A device in use that cannot be identified may be a ventilator: not excluded.
    ([_dose_record("DeviceUseStatement", "active", {}, device={"reference": "Device/elsewhere"})], "unknown"),
])
def test_procedures_and_devices_are_evidence_of_advanced_sma(records, status):
    assert finding(eligible() + records, "no-advanced-sma").status == status


@pytest.mark.parametrize("source", ["device-use", "device-requests"])
def test_an_unread_device_source_leaves_advanced_sma_unknown(source):
    assert finding(eligible(), "no-advanced-sma", drop=(source,)).status == "unknown"


def _server_medication_charts():
    prior = eligible("prior-dose-statement")
    statement = next(r for r in prior if r["resourceType"] == "MedicationStatement")
    statement["medicationReference"] = {"reference": "Medication/outside-zolgensma"}
    del statement["medicationCodeableConcept"]
    prior.append({"resourceType": "Medication", "id": "outside-zolgensma",
                  "code": {"coding": [{"system": NDC, "code": "71894-0125"}]}})
    draft = eligible()
    order = next(r for r in draft if r["id"] == "zolgensma-order")
    draft.append({"resourceType": "Medication", "id": "zolgensma-kit", "code": order.pop("medicationCodeableConcept")})
    order["medicationReference"] = {"reference": "Medication/zolgensma-kit"}
    return {"prior-dose-statement": (prior, ("not-eligible", {"one-time-dose": "not-met"})),
            "eligible-infant": (draft, ("eligible", {}))}


@pytest.mark.parametrize("name", ["prior-dose-statement", "eligible-infant"])
@pytest.mark.parametrize("hook", ["order-sign", "order-select"])
def test_medications_named_by_reference_on_the_server_through_both_routes(name, hook, client, rsps):
    """A Medication named only by reference is read from the FHIR server on both routes, in one search."""
    from fhir_fake import FakeFhir, hook_request
    chart, (overall, special) = _server_medication_charts()[name]
    fake = FakeFhir(chart)
    fake.register(rsps)
    url = f"/cds-services/zolgensma-{hook}"
    via_prefetch = client.post(url, json=hook_request(name, hook, "prefetch", resources=chart))
    assert fake.calls and all(c.startswith("Medication?_id=") for c in fake.calls), fake.calls
    fake.calls.clear()
    via_server = client.post(url, json=hook_request(name, hook, "server", resources=chart))
    assert any(c.startswith("Medication?_id=") for c in fake.calls)
    outcome = via_prefetch.json["cards"][0]["extension"]["org.example.zolgensma-cds.eligibility"]
    statuses = {c["id"]: c["status"] for c in outcome["criteria"]}
    assert outcome["overall"] == overall, statuses
    assert all(status == special.get(c, "met") for c, status in statuses.items()), statuses
    strip = [{k: v for k, v in card.items() if k not in ("uuid", "suggestions")} for card in via_prefetch.json["cards"]]
    assert strip == [{k: v for k, v in card.items() if k not in ("uuid", "suggestions")}
                     for card in via_server.json["cards"]]


def test_a_draft_order_naming_a_medication_sent_in_the_draft_bundle_gets_cards(client, rsps):
    from fhir_fake import hook_request
    chart = _server_medication_charts()["eligible-infant"][0]
    body = hook_request("eligible-infant", resources=chart)
    medication = next(r for r in chart if r["resourceType"] == "Medication")
    body["context"]["draftOrders"]["entry"].append({"resource": medication})
    cards = client.post("/cds-services/zolgensma-order-sign", json=body).json["cards"]
    assert cards[0]["extension"]["org.example.zolgensma-cds.eligibility"]["overall"] == "eligible"
    assert not rsps.calls  # found in the Bundle: nothing read from the server


def test_monitoring_finds_day_0_from_an_administration_naming_its_medication_by_reference(client, rsps):
    from fhir_fake import MONITORING_SOURCES, FakeFhir, hook_request
    chart = load("monitoring-day-20")
    infusion = next(r for r in chart if r["id"] == "zolgensma-infusion")
    chart.append({"resourceType": "Medication", "id": "kit", "code": infusion.pop("medicationCodeableConcept")})
    infusion["medicationReference"] = {"reference": "Medication/kit"}
    FakeFhir(chart).register(rsps)
    body = hook_request("monitoring-day-20", "patient-view", sources=MONITORING_SOURCES, resources=chart)
    cards = client.post("/cds-services/zolgensma-monitoring", json=body).json["cards"]
    assert cards and cards[0]["extension"]["org.example.zolgensma-cds.monitoring"]["day"] == 20
