"""CDS Hooks 2.0.1 and Da Vinci CRD conformance choices (issue 15): names, versions, orders, required fields."""

from __future__ import annotations

import re

import pytest
from conftest import TODAY
from fhir_fake import FakeFhir, hook_request, load

SIGN = "/cds-services/zolgensma-order-sign"
REVERSE_DOMAIN = re.compile(r"^[a-z0-9-]+(\.[a-z0-9-]+)+$")


def _post(client, body, service=SIGN, status=200):
    response = client.post(service, json=body)
    assert response.status_code == status, response.json
    return response.json


def test_card_extensions_have_reverse_domain_names(client):
    cards = _post(client, hook_request("missing-labs"))["cards"]
    names = {name for card in cards for name in card.get("extension", {})
             if not name.startswith("davinci-crd.") and name != "zolgensma-eligibility"}  # the deprecated alias
    assert names == {"org.example.zolgensma-cds.eligibility", "org.example.zolgensma-cds.criterion"}  # ours
    assert all(REVERSE_DOMAIN.match(n) for n in names)
    monitoring = _post(client, hook_request("monitoring-day-45-overdue", "patient-view"),
                       "/cds-services/zolgensma-monitoring")["cards"]
    assert "org.example.zolgensma-cds.monitoring" in monitoring[0]["extension"]


def test_card_source_label_is_the_insurer_on_the_coverage(client):
    cards = _post(client, hook_request("missing-labs"))["cards"]
    assert {c["source"]["label"] for c in cards} == {"Jefferson Health Plans"}


def test_card_source_label_without_coverage_is_the_service(client):
    body = hook_request("missing-labs")
    body["prefetch"]["coverage"] = None
    cards = _post(client, body)["cards"]
    assert {c["source"]["label"] for c in cards} == {"Zolgensma PA check (policy DR.005.D + FDA label)"}


def _suggested_orders(cards):
    return [a["resource"] for c in cards for s in c.get("suggestions", []) for a in s["actions"]
            if a["resource"]["resourceType"] in ("ServiceRequest", "MedicationRequest")]


@pytest.mark.parametrize("mode", ["prefetch", "server"])
@pytest.mark.parametrize("name", ["missing-labs", "no-steroid-plan"])
def test_suggested_orders_have_author_and_date_per_crd_profiles(client, rsps, name, mode):
    """CRD 2.0.1 profile-servicerequest / profile-medicationrequest: requester and authoredOn are 1..1."""
    FakeFhir(load(name)).register(rsps)
    body = hook_request(name, mode=mode)
    orders = _suggested_orders(_post(client, body)["cards"])
    kinds = {o["resourceType"] for o in orders}
    assert kinds == ({"ServiceRequest"} if name == "missing-labs" else {"ServiceRequest", "MedicationRequest"})
    for order in orders:
        assert order["authoredOn"] == TODAY.isoformat()
        assert order["requester"] == {"reference": body["context"]["userId"]}


def test_monitoring_orders_have_author_and_date(client):
    body = hook_request("monitoring-day-45-overdue", "patient-view")
    body["context"]["userId"] = "PractitionerRole/neuro-role"
    orders = _suggested_orders(_post(client, body, "/cds-services/zolgensma-monitoring")["cards"])
    assert orders
    assert all(o["authoredOn"] == TODAY.isoformat() and o["requester"] == {"reference": "PractitionerRole/neuro-role"}
               for o in orders)


# Item 6: requests CDS Hooks forbids are refused (422 on the CRD services, CRD 2.0.1 hooks.md), never accepted.
@pytest.mark.parametrize("hook", ["order-sign", "order-select"])
@pytest.mark.parametrize("user", [None, "", "123", 7])
def test_order_hooks_without_a_user_reference_are_422(client, hook, user):
    body = hook_request("eligible-infant", hook)
    if user is None:
        body["context"].pop("userId")
    else:
        body["context"]["userId"] = user
    outcome = _post(client, body, f"/cds-services/zolgensma-{hook}", status=422)
    assert outcome["resourceType"] == "OperationOutcome"
    assert "context.userId" in outcome["issue"][0]["diagnostics"]


def test_patient_view_without_user_is_400(client):
    body = hook_request("monitoring-day-45-overdue", "patient-view")
    body["context"].pop("userId")
    _post(client, body, "/cds-services/zolgensma-monitoring", status=400)


def test_fhir_authorization_without_fhir_server_is_422(client, rsps):
    body = hook_request("eligible-infant")
    body.pop("fhirServer")
    outcome = _post(client, body, status=422)
    assert "fhirServer is required" in outcome["issue"][0]["diagnostics"]
    assert not rsps.calls
    body["fhirAuthorization"] = None  # null is "no authorization", not a token without a server
    _post(client, body)


# Item 5: the CRD version claimed, advertised and requested.
def test_discovery_declares_the_crd_version_on_each_crd_hook(client):
    for service in client.get("/cds-services").json["services"]:
        if service["id"].startswith("zolgensma-monitoring") or service["id"] == "zolgensma-readiness":
            assert "extension" not in service
            continue
        versions = service["extension"]["davinci-crd.version"]
        assert versions == ["2.0"]
        # major.minor: CRD 2.2.1 deviations.md "2.0, not 2.0.0 or 2.0.1" (its crdver-1 regex, [1-9] for the
        # minor part, would refuse its own "2.0" example; the text is followed)
        assert all(re.match(r"^[1-9]\d*\.\d+$", v) for v in versions)


@pytest.mark.parametrize("version, status", [("2.0", 200), ("2.2", 422), ("2.0.1", 422), (2.0, 422)])
def test_requested_version_must_be_one_we_follow(client, version, status):
    body = hook_request("eligible-infant")
    body["extension"] = {"davinci-crd.requestedVersion": version}
    answer = _post(client, body, status=status)
    if status == 422:
        assert "davinci-crd.requestedVersion" in answer["issue"][0]["diagnostics"]


# Item 2: a user who is a PractitionerRole.
ROLE_USER = "PractitionerRole/neuro-1-role"


def _outcome(answer):
    return {c["id"]: c for c in answer["cards"][0]["extension"]["org.example.zolgensma-cds.eligibility"]["criteria"]}


def _prefetch_only(name, user):
    body = hook_request(name)
    body.pop("fhirServer"), body.pop("fhirAuthorization")
    body["context"]["userId"] = user
    body["prefetch"].pop("practitionerRoles")  # {{userPractitionerId}} has no value for this user
    return body


def test_prefetch_only_ehr_with_a_role_user_gets_cards_and_specialist_unknown(client, rsps):
    answer = _post(client, _prefetch_only("eligible-infant", ROLE_USER))
    outcome = _outcome(answer)
    assert outcome["specialist-prescriber"]["status"] == "unknown"
    assert {c: f["status"] for c, f in outcome.items() if c != "specialist-prescriber"} == {
        c: f["status"] for c, f in _outcome(_post(client, hook_request("eligible-infant"))).items()
        if c != "specialist-prescriber"}  # nothing else changes
    issues = answer["cards"][0]["extension"]["org.example.zolgensma-cds.eligibility"]["dataIssues"]
    assert any(i["source"] == "practitioner-roles" and ROLE_USER in i["problem"] for i in issues)
    assert not rsps.calls


def test_prefetch_only_ehr_with_a_practitioner_user_still_gets_412_for_a_missing_key(client):
    body = _prefetch_only("eligible-infant", "Practitioner/neuro-1")
    assert client.post(SIGN, json=body).status_code == 412


def test_with_fhir_access_the_role_user_is_read_by_id(client, rsps):
    fake = FakeFhir(load("eligible-infant"))
    fake.register(rsps)
    body = hook_request("eligible-infant")
    body["context"]["userId"] = ROLE_USER
    body["prefetch"].pop("practitionerRoles")
    outcome = _outcome(_post(client, body))
    assert fake.calls == ["PractitionerRole/neuro-1-role"]
    assert outcome["specialist-prescriber"]["status"] == "met"
    assert outcome["specialist-prescriber"]["evidence"] == ["PractitionerRole/neuro-1-role"]


# Item 3: lab orders already drafted or active are not suggested again.
def _lab_order(id_, loinc, status="active", subject="Patient/missing-labs"):
    return {"resourceType": "ServiceRequest", "id": id_, "status": status, "intent": "order",
            "code": {"coding": [{"system": "http://loinc.org", "code": loinc}]}, "subject": {"reference": subject},
            "authoredOn": "2026-11-20"}


def _criterion_card(cards, criterion):
    return next(c for c in cards if c.get("extension", {}).get("org.example.zolgensma-cds.criterion",
                                                               {}).get("id") == criterion)


def _suggested_codes(card):
    return {a["resource"]["code"]["coding"][0]["code"] for s in card.get("suggestions", []) for a in s["actions"]}


@pytest.mark.parametrize("mode", ["prefetch", "server"])
def test_an_active_lab_order_on_record_is_not_suggested_again(client, rsps, mode):
    resources = load("missing-labs") + [_lab_order("hfp-1", "24325-3"),
                                        _lab_order("trop-done", "10839-9", status="completed"),
                                        _lab_order("other-patient", "58410-2", subject="Patient/someone-else")]
    fake = FakeFhir(resources)
    fake.register(rsps)
    cards = _post(client, hook_request("missing-labs", mode=mode, resources=resources))["cards"]
    liver = _criterion_card(cards, "baseline-liver-function")
    assert _suggested_codes(liver) == {"5902-2"}  # PT/INR still to order; the hepatic panel is on order
    assert "Already on order, pending" in liver["detail"]
    assert "`ServiceRequest/hfp-1` (active, authored 2026-11-20)" in liver["detail"]
    assert liver["extension"]["org.example.zolgensma-cds.criterion"]["status"] == "unknown"  # no result yet
    platelets = _criterion_card(cards, "baseline-platelets-troponin")
    assert _suggested_codes(platelets) == {"58410-2", "10839-9"}  # completed / another patient's: not pending
    assert "Already on order" not in platelets["detail"]
    if mode == "server":
        assert "ServiceRequest?patient=missing-labs&status=draft,active,on-hold,completed&_count=50" in fake.calls


def test_a_lab_drafted_in_this_session_is_not_suggested_again(client):
    body = hook_request("missing-labs")
    draft = _lab_order("draft-trop", "10839-9", status="draft")
    del draft["subject"], draft["authoredOn"]  # lenient: drafts from real clients may lack them
    body["context"]["draftOrders"]["entry"].append({"resource": draft})
    card = _criterion_card(_post(client, body)["cards"], "baseline-platelets-troponin")
    assert _suggested_codes(card) == {"58410-2"}
    assert "Troponin-I: `ServiceRequest/draft-trop` (draft)." in card["detail"]


def test_all_tests_on_order_leaves_the_card_without_suggestions(client):
    body = hook_request("missing-labs")
    body["context"]["draftOrders"]["entry"] += [{"resource": _lab_order(f"d{i}", code, status="draft")}
                                                for i, code in enumerate(("24325-3", "6301-6"))]
    card = _criterion_card(_post(client, body)["cards"], "baseline-liver-function")
    assert "suggestions" not in card and "selectionBehavior" not in card
    assert card["detail"].count("`ServiceRequest/d") == 2


# Item 4: site of care when the Location does not come with the encounter.
def _ignore_include(query, answer):
    """A FHIR server (or EHR prefetch) that ignores _include=Encounter:location."""
    if query.startswith("Encounter?") and answer.get("resourceType") == "Bundle":
        answer = dict(answer, entry=[e for e in answer["entry"] if e["resource"]["resourceType"] != "Location"])
    return answer


def _billing(cards):
    return next(c for c in cards if c["summary"].startswith("Bill J3399"))


def _info_needed(answer):
    ext = answer["systemActions"][0]["resource"]["extension"][-1]["extension"]
    return [e["valueCode"] for e in ext if e["url"] == "info-needed"]


@pytest.mark.parametrize("mode", ["prefetch", "server"])
def test_location_left_out_of_the_encounter_search_is_read_by_reference(client, rsps, mode):
    fake = FakeFhir(load("site-office"), tamper=_ignore_include)
    fake.register(rsps)
    cards = _post(client, hook_request("site-office", mode=mode, tamper=_ignore_include))["cards"]
    site = next(c for c in cards if c["summary"].startswith("Site of care POS 11"))
    assert "Location/site-1" in site["detail"]
    assert any(c.startswith("Location?_id=site-1") for c in fake.calls)


@pytest.mark.parametrize("mode", ["prefetch", "server"])
def test_a_location_is_read_on_every_call_and_a_change_on_the_server_is_seen(client, rsps, mode):
    """Review 2026-11-24d S3: no Location is remembered between calls. Call 1 reads Location/site-1 as POS 22 (can
    go ahead); the server then holds it as POS 12 Home: call 2, same app and server, reads it again and warns."""
    resources = load("eligible-infant")
    location = next(r for r in resources if r["resourceType"] == "Location")
    fake = FakeFhir(resources, tamper=_ignore_include)
    fake.register(rsps)
    first = _post(client, hook_request("eligible-infant", mode=mode, resources=resources, tamper=_ignore_include))
    assert first["cards"][0]["summary"].startswith("Zolgensma can go ahead: all")
    location["type"][0]["coding"][0].update(code="12", display="Home")
    second = _post(client, hook_request("eligible-infant", mode=mode, resources=resources, tamper=_ignore_include))
    assert len([c for c in fake.calls if c.startswith("Location?_id=site-1")]) == 2
    assert not second["cards"][0]["summary"].startswith("Zolgensma can go ahead: all")
    site = next(c for c in second["cards"] if c["summary"].startswith("Site of care POS 12"))
    assert "Location/site-1" in site["detail"]


def test_without_fhir_server_the_card_says_why_the_place_of_service_is_unknown(client, rsps):
    body = hook_request("site-office", tamper=_ignore_include)
    body.pop("fhirServer"), body.pop("fhirAuthorization")
    answer = _post(client, body)
    assert not any(c["summary"].startswith("Site of care") for c in answer["cards"])
    detail = _billing(answer["cards"])["detail"]
    assert "Place of service not determined: Location/site-1 (named by Encounter/enc-1) could not be read" in detail
    issues = answer["cards"][0]["extension"]["org.example.zolgensma-cds.eligibility"]["dataIssues"]
    assert any(i["source"] == "encounter" and "no fhirServer" in i["problem"] for i in issues)
    assert "location" in _info_needed(answer)
    assert not rsps.calls


def test_a_location_without_a_place_of_service_code_is_named_on_the_card(client):
    resources = load("eligible-infant")
    location = next(r for r in resources if r["resourceType"] == "Location")
    location["type"] = [{"text": "Infusion center"}]
    answer = _post(client, hook_request("eligible-infant", resources=resources))
    detail = _billing(answer["cards"])["detail"]
    assert "Location/site-1 has no CMS place-of-service code in Location.type" in detail
    assert "location" in _info_needed(answer)


def test_an_unreadable_encounter_is_named_on_the_card(client, rsps):
    FakeFhir(load("eligible-infant")).register(rsps)
    body = hook_request("eligible-infant")
    body["prefetch"]["encounter"] = {"resourceType": "OperationOutcome", "issue": [{"severity": "error",
                                                                                    "code": "timeout"}]}
    body.pop("fhirServer"), body.pop("fhirAuthorization")
    detail = _billing(_post(client, body)["cards"])["detail"]
    assert "Place of service not determined: the encounter could not be read (see data issues)" in detail


def test_eligible_but_site_unknown_is_conditional_on_location(client):
    body = hook_request("eligible-infant")
    body["context"].pop("encounterId"), body["prefetch"].pop("encounter")
    answer = _post(client, body)
    ext = answer["systemActions"][0]["resource"]["extension"][-1]["extension"]
    assert {e["url"]: e.get("valueCode") for e in ext}["covered"] == "conditional"
    assert _info_needed(answer) == ["location"]
    assert "site of care" in next(e for e in ext if e["url"] == "reason")["valueCodeableConcept"]["text"]


def test_every_conditional_answer_on_order_sign_says_what_information_is_needed(client):
    """CRD 2.2.1 crd-ci-q3 (info-needed whenever something is conditional), which 2.0.1 also allows."""
    from fhir_fake import scenario_names
    seen = 0
    for name in scenario_names():
        answer = _post(client, hook_request(name))
        for action in answer.get("systemActions", []):
            ext = action["resource"]["extension"][-1]["extension"]
            values = [e.get("valueCode") for e in ext if e["url"] in ("covered", "pa-needed", "doc-needed")]
            if "conditional" in values:
                seen += 1
                assert _info_needed(answer), name
                assert all(e["url"] != "doc-needed" or e["valueCode"] != "conditional" for e in ext)
    assert seen > 10
