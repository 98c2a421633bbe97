"""The HTTP contract: discovery, request validation, CDS Hooks 2.0 response rules."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from conftest import make_app
from fhir_fake import EXAMPLES, MONITORING_EXAMPLES, example_request, hook_request, scenario_names

from cds_service.data_access import SOURCES

SIGN = "/cds-services/zolgensma-order-sign"
SELECT = "/cds-services/zolgensma-order-select"


@pytest.mark.parametrize("mode", ["lean", "full"])
def test_discovery_lists_both_services_with_prefetch(mode):
    response = make_app(PREFETCH=mode).test_client().get("/cds-services")
    assert response.status_code == 200
    entries = [(s["id"], s["hook"]) for s in response.json["services"]]
    assert entries == [("zolgensma-order-select", "order-select"), ("zolgensma-order-sign", "order-sign"),
                       ("zolgensma-monitoring", "patient-view"), ("zolgensma-monitoring-lab-orders", "order-select"),
                       ("zolgensma-readiness", "patient-view")]
    # labCodes: the lab analytes by code whatever their category, joining `labs` (data_access.SOURCES)
    monitoring = {"patient", "labs", "labCodes", "medicationRequests", "medicationAdministrations", "procedures",
                  "medicationDispenses", "serviceRequests", "conditions", "assessments"}
    for s in response.json["services"]:
        assert s["title"] and s["description"]
        if s["id"] == "zolgensma-readiness":  # patient-view on every chart open: lean, the Patient only
            full = {src.key for src in SOURCES if src.default} - {"encounter"} | {"appointments"}
            assert set(s["prefetch"]) == (full if mode == "full" else {"patient"})
        elif s["id"] == "zolgensma-monitoring":  # likewise
            assert set(s["prefetch"]) == (monitoring if mode == "full" else {"patient"})
        else:
            # Lean: an order that is not Zolgensma (or, for the lab-order service, not a lab order for a treated
            # child) must cost the EHR no FHIR query, so nothing is prefetched.
            wanted = {src.key for src in SOURCES if src.default} if s["id"] != "zolgensma-monitoring-lab-orders" \
                else monitoring
            assert set(s.get("prefetch", {})) == (wanted if mode == "full" else set())
        for template in s.get("prefetch", {}).values():
            assert "_count=" in template or "?" not in template  # every search bounded
            # CDS Hooks 2.0 tokens: only context fields and user identifiers
            for token in template.split("{{")[1:]:
                name = token.split("}}")[0]
                assert name.startswith("context.") or name in ("userPractitionerId", "userPractitionerRoleId")


@pytest.mark.parametrize("raw, status", [(b"{not json", 400), (b"", 400), (b"null", 400), (b"[]", 422),
                                         (b'"text"', 422)])
def test_malformed_body_is_400_json(client, raw, status):
    """CRD 2.0.1 hooks.md: 400 when the body is not JSON, 422 when it is JSON but not a CDS Hooks request."""
    response = client.post(SIGN, data=raw, content_type="application/json")
    assert response.status_code == status
    assert response.json["resourceType"] == "OperationOutcome"
    assert "Traceback" not in response.get_data(as_text=True)


@pytest.mark.parametrize("mutate, message", [
    (lambda b: b.pop("hookInstance"), "hookInstance"),
    (lambda b: b.pop("context"), "context"),
    (lambda b: b.__setitem__("hook", "order-select"), "order-sign"),
    (lambda b: b["context"].pop("patientId"), "patientId"),
    (lambda b: b["context"].__setitem__("draftOrders", []), "draftOrders"),
    # another resource type holding entries is not a Bundle (review 2026-11-24f F9)
    (lambda b: b["context"]["draftOrders"].__setitem__("resourceType", "Parameters"), "draftOrders"),
    (lambda b: b.__setitem__("prefetch", []), "prefetch"),
    (lambda b: b.__setitem__("fhirServer", 7), "fhirServer"),
])
def test_invalid_requests_are_422_with_reason(client, mutate, message):
    body = hook_request("eligible-infant")
    mutate(body)
    response = client.post(SIGN, json=body)
    assert response.status_code == 422  # valid JSON, not CDS Hooks conformant (CRD 2.0.1 hooks.md)
    assert message in response.json["issue"][0]["diagnostics"]


def test_order_select_needs_selections(client):
    body = hook_request("eligible-infant", hook="order-select")
    body["context"].pop("selections")
    assert client.post(SELECT, json=body).status_code == 422


def test_unknown_service_is_404_and_get_on_service_is_405(client):
    assert client.post("/cds-services/nope", json=hook_request("eligible-infant")).status_code == 404
    response = client.get(SIGN)
    assert response.status_code == 405
    assert response.json["resourceType"] == "OperationOutcome"


def test_order_select_only_acts_on_selected_orders(client):
    body = hook_request("eligible-infant", hook="order-select")
    body["context"]["selections"] = ["MedicationRequest/something-else"]
    assert client.post(SELECT, json=body).json == {"cards": []}


def test_sandbox_style_draft_orders_are_accepted(client):
    """The CDS Hooks sandbox sends draftOrders without Bundle.type and a MedicationRequest without intent."""
    body = hook_request("eligible-infant")
    draft = body["context"]["draftOrders"]
    draft.pop("type", None)
    order = draft["entry"][0]["resource"]
    order.pop("intent")
    order.pop("status")
    response = client.post(SIGN, json=body)
    assert response.json["cards"][0]["extension"]["org.example.zolgensma-cds.eligibility"]["overall"] == "eligible"


@pytest.mark.parametrize("text, acts", [
    ("Zolgensma suspension for IV infusion", True),
    ("onasemnogene abeparvovec-xioi", True),
    ("Itvisma (onasemnogene abeparvovec-brve) intrathecal", False),
    ("onasemnogene abeparvovec-brve", False),
])
def test_zolgensma_recognised_by_text_but_not_itvisma(client, text, acts):
    body = hook_request("eligible-infant")
    order = body["context"]["draftOrders"]["entry"][0]["resource"]
    order["medicationCodeableConcept"] = {"text": text}
    cards = client.post(SIGN, json=body).json["cards"]
    assert bool(cards) is acts


@pytest.mark.parametrize("ndc", ["71894-129-05", "71894012905", "7189412905"])
def test_zolgensma_recognised_by_kit_ndc_forms(client, ndc):
    body = hook_request("eligible-infant")
    order = body["context"]["draftOrders"]["entry"][0]["resource"]
    order["medicationCodeableConcept"] = {"coding": [{"system": "http://hl7.org/fhir/sid/ndc", "code": ndc}]}
    ext = client.post(SIGN, json=body).json["cards"][0]["extension"]["org.example.zolgensma-cds.eligibility"]
    assert {c["id"]: c["status"] for c in ext["criteria"]}["dose-within-label"] == "met"


def _walk(value, path="$"):
    yield path, value
    if isinstance(value, dict):
        for k, v in value.items():
            yield from _walk(v, f"{path}.{k}")
    elif isinstance(value, list):
        for i, v in enumerate(value):
            yield from _walk(v, f"{path}[{i}]")


@pytest.mark.parametrize("name", [n for n in scenario_names() if n != "no-zolgensma"])
def test_cards_follow_cds_hooks_rules(client, name):
    cards = client.post(SIGN, json=hook_request(name)).json["cards"]
    assert cards
    for path, value in _walk(cards):
        assert value not in (None, "", [], {}), f"empty element at {path}"
    for card in cards:
        assert len(card["summary"]) < 140, card["summary"]
        assert card["indicator"] in ("info", "warning", "critical")
        assert card["source"]["label"]
        assert card["uuid"]
        if "suggestions" in card:
            assert card["selectionBehavior"] in ("any", "at-most-one")
            for s in card["suggestions"]:
                assert s["uuid"] and s["label"]
                for action in s["actions"]:
                    assert action["type"] in ("create", "update", "delete") and action["description"]
                    if action["type"] == "delete":  # CDS Hooks 2.0: a relative reference, no resource
                        assert "resource" not in action and action["resourceId"].count("/") == 1
                    else:
                        assert action["resource"]["resourceType"]
        for reason in card.get("overrideReasons", []):
            assert reason["code"] and reason["system"] and reason["display"]


@pytest.mark.parametrize("name", [n for n in scenario_names() if n != "no-zolgensma"])
def test_every_non_met_criterion_has_a_card_naming_source_and_evidence(client, name):
    cards = client.post(SIGN, json=hook_request(name)).json["cards"]
    outcome = cards[0]["extension"]["org.example.zolgensma-cds.eligibility"]
    by_criterion = {c["extension"]["org.example.zolgensma-cds.criterion"]["id"]: c for c in cards[1:]
                    if "org.example.zolgensma-cds.criterion" in c.get("extension", {})}
    for criterion in outcome["criteria"]:
        assert criterion["source"] and criterion["reason"]
        if criterion["status"] == "met" and not criterion.get("caution"):
            assert criterion["id"] not in by_criterion
            continue
        if criterion["id"] not in by_criterion:  # folded into the card of the criterion that decides it
            assert criterion["id"] == "dose-within-label", criterion
            card = by_criterion["weight-in-label-range"]
            assert criterion["source"] in card["detail"] and "Also blocks" in card["detail"]
            continue
        card = by_criterion[criterion["id"]]
        assert criterion["source"] in card["detail"]
        basis = "planned infusion date" if outcome["asOfBasis"] == "planned-infusion-date" else "today"
        assert f"Evaluated as of:** {outcome['asOf']} ({basis})" in card["detail"]
        for ref in criterion.get("evidence", []):
            assert f"({ref})" in card["detail"]
        expected = {"unknown": "warning", "review": "warning", "met": "warning"}.get(criterion["status"])
        if expected:
            assert card["indicator"] == expected


@pytest.mark.parametrize("name", EXAMPLES + MONITORING_EXAMPLES)
def test_request_examples_in_readme_match_fixtures(client, name):
    """The README's curl examples post committed request files; keep them in step with the fixtures."""
    file, fresh = example_request(name)
    saved = json.loads((Path(__file__).parent.parent / "fhir_fixtures" / "requests" / file).read_text())
    assert saved == fresh
    service = "zolgensma-monitoring" if name in MONITORING_EXAMPLES else "zolgensma-order-sign"
    response = client.post(f"/cds-services/{service}", json=saved)
    assert response.status_code == 200 and response.json["cards"]


def test_integers_beyond_64_bits_do_not_break_reading_or_writing(client):
    body = hook_request("eligible-infant")
    body["context"]["draftOrders"]["entry"][0]["resource"]["extension"] = [
        {"url": "http://example.org/huge", "valueInteger": 2 ** 70}]
    response = client.post(SIGN, json=body)  # the test client encodes with the app's JSON provider
    assert response.status_code == 200
    assert response.json["systemActions"][0]["resource"]["extension"][0]["url"] == "http://example.org/huge"


def test_draft_orders_without_their_resource_type_are_read_leniently(client):
    """Parse leniently: a draftOrders object with entries but no resourceType is read as the Bundle it stands for
    (only another resourceType is refused, 422)."""
    body = hook_request("eligible-infant")
    body["context"]["draftOrders"].pop("resourceType")
    response = client.post(SIGN, json=body)
    assert response.status_code == 200
    assert response.json["cards"][0]["summary"].startswith("Zolgensma can go ahead")
