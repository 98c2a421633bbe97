"""Da Vinci CRD outputs: coverage-information systemAction, billing, site of care, alternatives, configuration."""

from __future__ import annotations

import copy

import pytest
from fhir_fake import hook_request, load, scenario_names

from cds_service.crd import COVERAGE_INFORMATION_URL
from cds_service.fhir_validation import model_for
from cds_service.markdown import unescape

# Value sets of CRD STU 2.0.1 CoverageInformationValuesets.fsh (copied from the shared test data,
# davinci-crd-ig-2.0.1, HL7/davinci-crd tag 2.0.1, CC0).
COVERED = {"covered", "not-covered", "conditional"}
PA_NEEDED = {"no-auth", "auth-needed", "satisfied", "performpa", "conditional"}
DOC_NEEDED = {"clinical", "admin", "both", "conditional"}
DOC_PURPOSE = {"withpa", "withclaim", "withorder", "retain-doc", "OTH"}
INFO_NEEDED = {"performer", "location", "timeframe", "contract-window", "OTH"}
CARDINALITY = {"coverage": (1, 1), "covered": (1, 1), "pa-needed": (0, 1), "doc-needed": (0, 1),
               "date": (1, 1), "coverage-assertion-id": (1, 1), "satisfied-pa-id": (0, 1)}


def check_coverage_information(ext: dict) -> dict:
    """CRD 2.0.1 ext-coverage-information: cardinalities, bindings and invariants crd-ci-q1..q5."""
    assert ext["url"] == COVERAGE_INFORMATION_URL
    parts: dict[str, list] = {}
    for sub in ext["extension"]:
        value = next(v for k, v in sub.items() if k.startswith("value"))
        parts.setdefault(sub["url"], []).append(value)
    for name, (low, high) in CARDINALITY.items():
        assert low <= len(parts.get(name, [])) <= high, name
    assert parts["coverage"][0]["reference"].startswith("Coverage/")
    assert parts["covered"][0] in COVERED
    assert set(parts.get("pa-needed", [])) <= PA_NEEDED
    assert set(parts.get("doc-needed", [])) <= DOC_NEEDED
    assert set(parts.get("doc-purpose", [])) <= DOC_PURPOSE
    assert set(parts.get("info-needed", [])) <= INFO_NEEDED
    # q1: questionnaire/response only with doc-needed
    if "questionnaire" in parts or "response" in parts:
        assert "doc-needed" in parts
    # q2: not-covered <=> no pa-needed (description and CRD 2.0.1 FHIRPath both hold)
    assert ("pa-needed" in parts) == (parts["covered"][0] != "not-covered")
    # q3: info-needed implies something conditional
    if "info-needed" in parts:
        values = parts["covered"] + parts.get("pa-needed", []) + parts.get("doc-needed", [])
        assert "conditional" in values
    # q4/q5: satisfied-pa-id iff pa-needed satisfied
    assert ("satisfied-pa-id" in parts) == (parts.get("pa-needed") == ["satisfied"])
    return parts


def _post(client, name, hook="order-sign", body=None):
    body = body or hook_request(name, hook)
    response = client.post(f"/cds-services/zolgensma-{hook}", json=body)
    assert response.status_code == 200
    return response.json


def _coverage_parts(response) -> dict:
    [action] = response["systemActions"]
    ext = next(e for e in action["resource"]["extension"] if e["url"] == COVERAGE_INFORMATION_URL)
    return check_coverage_information(ext)


@pytest.mark.parametrize("name", [n for n in scenario_names() if n != "no-zolgensma"])
@pytest.mark.parametrize("hook", ["order-sign", "order-select"])
def test_coverage_information_is_valid_and_changes_nothing_else(client, name, hook):
    body = hook_request(name, hook)
    original = copy.deepcopy(body["context"]["draftOrders"]["entry"][0]["resource"])
    response = _post(client, name, hook, body)
    [action] = response["systemActions"]
    assert action["type"] == "update" and action["description"]
    updated = copy.deepcopy(action["resource"])
    model_for("MedicationRequest").model_validate(updated)
    updated["extension"] = [e for e in updated["extension"] if e["url"] != COVERAGE_INFORMATION_URL]
    if not updated["extension"]:
        del updated["extension"]
    assert updated == original
    parts = _coverage_parts(response)
    # No display: the J3399 descriptor is unconfirmed (clinical-facts.md 2.5).
    assert parts["billingCode"] == [{"system": "http://www.cms.gov/Medicare/Coding/HCPCSReleaseCodeSets",
                                     "code": "J3399"}]
    assert parts["date"] == ["2026-11-23"]
    if hook == "order-select":  # CRD: supporting hooks never ask for documentation
        assert "doc-needed" not in parts and "info-needed" not in parts


def test_eligible_is_covered_with_prior_auth(client):
    parts = _coverage_parts(_post(client, "eligible-infant"))
    assert parts["covered"] == ["covered"] and parts["pa-needed"] == ["auth-needed"]
    assert "doc-needed" not in parts


def test_incomplete_asks_for_clinical_documentation(client):
    parts = _coverage_parts(_post(client, "missing-labs"))
    assert parts["covered"] == ["conditional"]
    assert parts["doc-needed"] == ["clinical"] and parts["doc-purpose"] == ["withpa"]
    assert "baseline-liver-function" in parts["reason"][0]["text"]


def test_unknown_site_and_date_become_info_needed(client):
    body = hook_request("missing-labs")
    body["context"].pop("encounterId")
    body["prefetch"].pop("encounter")
    body["context"]["draftOrders"]["entry"][0]["resource"]["dosageInstruction"][0].pop("timing")
    parts = _coverage_parts(_post(client, None, body=body))
    assert set(parts["info-needed"]) == {"location", "timeframe"}


def test_aca_plan_is_not_covered_without_pa(client):
    parts = _coverage_parts(_post(client, "aca-plan"))
    assert parts["covered"] == ["not-covered"] and "pa-needed" not in parts
    assert "Individual and Family" in parts["reason"][0]["text"]


def test_assertion_ids_are_unique(client):
    first = _coverage_parts(_post(client, "eligible-infant"))["coverage-assertion-id"]
    second = _coverage_parts(_post(client, "eligible-infant"))["coverage-assertion-id"]
    assert first != second


def _card(response, prefix):
    return next((c for c in response["cards"] if c["summary"].startswith(prefix)), None)


def test_billing_card(client):
    card = _card(_post(client, "eligible-infant"), "Bill J3399")
    assert card["summary"] == "Bill J3399 x 1 unit (per treatment) + CPT 96365; diagnosis G12.0"
    assert card["source"]["topic"]["code"] == "claim"
    detail = unescape(card["detail"])
    assert "G12.0 Infantile spinal muscular atrophy, type I [Werdnig-Hoffman] (Condition/sma)" in detail
    assert "96413" in card["detail"]
    # Unconfirmed codes/descriptors (clinical-facts.md 1.8f, 2.5) carry a caveat, never stated as fact.
    assert "not confirmed against the CMS HCPCS file" in card["detail"]
    assert "not confirmed against the AMA CPT code set" in card["detail"]
    assert "that rule is not confirmed here" in card["detail"]
    assert "None of the guide's top clinical denials" in card["detail"]
    assert "POS 22 (On Campus-Outpatient Hospital) at Location/site-1 is an accepted" in card["detail"]


@pytest.mark.parametrize("name, denial", [("titer-stale", "#1 AAV9"), ("missing-genetics", "#2 SMA type"),
                                          ("no-steroid-plan", "#5 Glucocorticoid"), ("missing-labs", "#6 LFT")])
def test_billing_card_names_the_denials_this_patient_would_trigger(client, name, denial):
    detail = _card(_post(client, name), "Bill J3399")["detail"]
    assert denial in detail
    assert detail.count("- #") == 1


@pytest.mark.parametrize("name", ["titer-1-100", "age-25-months", "weight-22kg", "infection", "prior-dose"])
def test_no_billing_card_when_excluded_on_clinical_grounds(client, name):
    cards = _post(client, name)["cards"]
    assert not any(c["summary"].startswith("Bill J3399") for c in cards)
    assert cards[0]["indicator"] == "critical" and cards[0]["summary"].startswith("Do not infuse Zolgensma: ")


def test_coverage_only_exclusion_is_a_warning_without_billing(client):
    cards = _post(client, "aca-plan")["cards"]
    assert cards[0]["indicator"] == "warning"
    assert cards[0]["summary"] == "Zolgensma not covered by this plan: gene therapy excluded on ACA plans"
    assert all(c["indicator"] != "critical" for c in cards)
    # Not covered: no "Bill J3399" card and no "no denials triggered" reassurance.
    assert not any(c["summary"].startswith("Bill J3399") for c in cards)
    assert not any("top clinical denials" in c.get("detail", "") for c in cards)


@pytest.mark.parametrize("name", ["lft-high", "steroid-7-days", "steroid-two-orders", "turning-2-no-planned-date",
                                  "planned-date-last-year"])
def test_plan_missing_denials_only_when_the_plan_is_missing(client, name):
    """#5 / #6 say "plan missing": a plan or LFTs on record that are late, high or under review do not trigger
    them (their own cards say what is wrong)."""
    card = _card(_post(client, name), "Bill J3399")
    detail = card["detail"] if card else ""
    assert "#5 Glucocorticoid plan missing" not in detail and "#6 LFT baseline" not in detail


def test_screening_codes_are_flagged_not_accepted_as_sma(client):
    body = hook_request("missing-genetics")
    conditions = body["prefetch"]["conditions"]["entry"]
    conditions[0]["resource"]["code"] = {"coding": [{"system": "http://hl7.org/fhir/sid/icd-10-cm",
                                                     "code": "Z13.228"}]}
    response = _post(client, None, body=body)
    billing = _card(response, "Bill J3399")
    assert "Z13.228: Encounter for screening for other metabolic disorders" in billing["detail"]
    assert "code the SMA type" in billing["summary"]
    ext = response["cards"][0]["extension"]["org.example.zolgensma-cds.eligibility"]
    assert {c["id"]: c["reasonCode"] for c in ext["criteria"]}["smn1-biallelic"] == "not-sma-evidence"


def test_site_of_care_office_is_a_warning(client):
    response = _post(client, "site-office")
    card = _card(response, "Site of care POS 11")
    assert card["indicator"] == "warning"
    assert "(POS 11; Location/site-1)" in card["detail"] and "not an FDA label rule" in card["detail"]
    assert _card(_post(client, "eligible-infant"), "Site of care") is None


def test_site_unknown_without_encounter(client):
    body = hook_request("eligible-infant")
    body["context"].pop("encounterId")
    body["prefetch"].pop("encounter")
    response = _post(client, None, body=body)
    assert "Place of service not determined" in _card(response, "Bill J3399")["detail"]
    assert not response["cards"][0]["extension"]["org.example.zolgensma-cds.eligibility"].get("dataIssues")


@pytest.mark.parametrize("name, why", [("age-25-months", "age 2 years or more"),
                                       ("weight-22kg", "weight above 21 kg")])
def test_alternatives_card_without_suggestions(client, name, why):
    card = _card(_post(client, name), "Not eligible for Zolgensma")
    assert why in card["summary"]
    assert "J2326" in card["detail"] and "Evrysdi" in card["detail"]
    assert "suggestions" not in card
    assert card["source"]["topic"]["code"] == "therapy-alternatives-opt"


@pytest.mark.parametrize("name", ["eligible-infant", "titer-1-100", "premature-not-term"])
def test_no_alternatives_card_for_other_reasons(client, name):
    assert _card(_post(client, name), "Not eligible for Zolgensma") is None


def test_discovery_offers_a_boolean_option_per_card_type(client):
    for service in client.get("/cds-services").json["services"]:
        if service["id"].startswith("zolgensma-monitoring") or service["id"] == "zolgensma-readiness":
            assert "extension" not in service
            continue
        options = service["extension"]["davinci-crd.configuration-options"]
        for option in options:
            assert set(option) == {"code", "type", "name", "description", "default"}
            assert option["type"] == "boolean" and option["default"] is True
        codes = {o["code"] for o in options}
        for name in scenario_names():
            if name == "no-zolgensma":
                continue
            for card in _post(client, name)["cards"]:
                assert card["source"]["topic"]["code"] in codes


def _configured(client, settings, name="missing-labs"):
    body = hook_request(name)
    body["extension"] = {"davinci-crd.configuration": settings}
    return _post(client, None, body=body)


def test_configuration_suppresses_card_types(client):
    response = _configured(client, {"claim": False, "clinical-reminder": False})
    topics = {c["source"]["topic"]["code"] for c in response["cards"]}
    assert "claim" not in topics and "clinical-reminder" not in topics
    assert "coverage-info" in topics and response["systemActions"]


def test_configuration_coverage_info_off_drops_system_action(client):
    response = _configured(client, {"coverage-info": False})
    assert "systemActions" not in response
    assert all(c["source"]["topic"]["code"] != "coverage-info" for c in response["cards"])


def test_unknown_and_nonsensical_configuration_is_ignored(client):
    plain = _post(client, "missing-labs")
    response = _configured(client, {"max-cards": 2, "claim": "no", "cost": False})
    assert [c["summary"] for c in response["cards"]] == [c["summary"] for c in plain["cards"]]
    body = hook_request("missing-labs")
    body["extension"] = {"davinci-crd.configuration": ["claim"]}
    assert len(_post(client, None, body=body)["cards"]) == len(plain["cards"])


def test_no_coverage_resource_means_no_system_action(client):
    body = hook_request("eligible-infant")
    body["prefetch"]["coverage"] = None
    response = _post(client, None, body=body)
    assert "systemActions" not in response
    assert load("eligible-infant")


# CRD STU 2.0.1 card types (CRDTempCodes.fsh, copied from the shared test data, CC0).
CRD_CARD_TYPES = {"coverage-info", "claim", "insurance", "limits", "network", "appropriate-use", "cost",
                  "therapy-alternatives-opt", "therapy-alternatives-req", "clinical-reminder",
                  "duplicate-therapy", "contraindication", "guideline", "off-guideline"}


@pytest.mark.parametrize("name", scenario_names())
def test_card_topics_are_crd_card_types_never_contraindication(client, name):
    """The label lists no contraindications, and CRD's `contraindication` means data the payer has and the
    provider lacks: the label and DR.005.D gates are `guideline` cards."""
    for card in _post(client, name)["cards"]:
        code = card["source"]["topic"]["code"]
        assert code in CRD_CARD_TYPES and code != "contraindication", (name, card["summary"])


def test_derived_vial_split_is_caveated(client):
    first = _post(client, "eligible-infant")["cards"][0]
    kit = first["extension"]["org.example.zolgensma-cds.eligibility"]["kit"]
    assert kit["ndcVerified"] is True and kit["vialSplitVerified"] is False
    assert "5.5 mL / 8.3 mL split is derived" in first["detail"]


@pytest.mark.parametrize("name", ["no-steroid-plan", "steroid-ended-active"])
def test_prednisolone_action_description_is_whole(client, name):
    cards = _post(client, name)["cards"]
    actions = [a for c in cards for s in c.get("suggestions", []) for a in s["actions"]
               if a["resource"]["resourceType"] == "MedicationRequest"]
    assert actions
    for action in actions:
        text = action["description"]
        assert text.startswith("Create prednisolone order: ") and "prednisolone prednisolone" not in text
        assert text.endswith(".") and "(the day before infusion)" in text


def test_wording_plurals_and_brackets(client):
    """No "1 months old" / "the 1 conditions", no "(today (...))" nested brackets (billing review item 7)."""
    for name in scenario_names():
        text = " ".join(c.get("detail", "") + c["summary"] for c in _post(client, name)["cards"])
        assert " 1 months old" not in text and " 1 conditions" not in text, name
        assert "in the past))" not in text and "on the order))" not in text, name
