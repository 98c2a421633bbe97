"""Site of care from the order's encounter (billing guide "Site of care": POS 21, 22, 19 accepted; 11, 49, 12 not):
locations that disagree, and an encounter that is not happening (review 2026-11-24b N1). Each case through prefetch
and through the FHIR server, with identical answers."""

from __future__ import annotations

import copy

from fhir_fake import answer_both_routes, load

SIGN = "/cds-services/zolgensma-order-sign"
POS = "https://www.cms.gov/Medicare/Coding/place-of-service-codes/Place_of_Service_Code_Set"
COVERAGE_INFORMATION = "http://hl7.org/fhir/us/davinci-crd/StructureDefinition/ext-coverage-information"


def _record(locations: list[tuple[str, str, str]] | None = None, status: str | None = None) -> list[dict]:
    resources = copy.deepcopy(load("eligible-infant"))
    encounter = next(r for r in resources if r["resourceType"] == "Encounter")
    if status:
        encounter["status"] = status
    if locations:
        resources = [r for r in resources if r["resourceType"] != "Location"]
        encounter["location"] = [{"location": {"reference": f"Location/{id_}"}} for id_, _, _ in locations]
        resources += [{"resourceType": "Location", "id": id_, "status": "active", "name": name,
                       "type": [{"coding": [{"system": POS, "code": pos}]}]} for id_, pos, name in locations]
    return resources


def _covered(answer: dict) -> str:
    order = answer["systemActions"][0]["resource"]
    parts = next(e for e in order["extension"] if e["url"] == COVERAGE_INFORMATION)["extension"]
    return next(p["valueCode"] for p in parts if p["url"] == "covered")


def _billing(answer: dict) -> str:
    return next(c["detail"] for c in answer["cards"] if c["summary"].startswith("Bill J3399"))


def test_one_accepted_location_is_the_site(client):
    answer = answer_both_routes(client, _record([("site-1", "22", "Infusion center")]))
    assert _covered(answer) == "covered"
    assert "POS 22 (On Campus-Outpatient Hospital) at Location/site-1 is an accepted site of care" in _billing(answer)


def test_locations_with_different_places_of_service_leave_the_site_unknown_whatever_their_order(client):
    both = [("site-1", "22", "Infusion center"), ("site-2", "11", "Neurology office")]
    answers = [answer_both_routes(client, _record(both)), answer_both_routes(client, _record(both[::-1]))]
    for answer in answers:
        assert _covered(answer) == "conditional"  # coverage depends on a site that is not known
        detail = _billing(answer)
        assert "Place of service not determined" in detail
        assert "Location/site-1 POS 22 (Infusion center)" in detail
        assert "Location/site-2 POS 11 (Neurology office)" in detail
        assert "accepted site of care" not in detail
    assert answers[0]["cards"][0]["summary"] == answers[1]["cards"][0]["summary"]


def test_locations_agreeing_on_the_place_of_service_are_one_site(client):
    record = _record([("site-1", "22", "Infusion center"), ("site-2", "22", "Infusion bay 4")])
    answer = answer_both_routes(client, record)
    assert _covered(answer) == "covered"


def test_a_cancelled_encounter_is_not_the_site(client):
    answer = answer_both_routes(client, _record(status="cancelled"))
    assert _covered(answer) == "conditional"
    assert "Encounter/enc-1 is cancelled" in _billing(answer)


def _coverage_parts(answer: dict) -> list[tuple[str, object]]:
    order = answer["systemActions"][0]["resource"]
    parts = next(e for e in order["extension"] if e["url"] == COVERAGE_INFORMATION)["extension"]
    return [(p["url"], p.get("valueCode") or (p.get("valueCodeableConcept") or {}).get("text")) for p in parts]


def test_a_known_site_the_guide_does_not_accept_is_never_covered(client):
    """Review 2026-11-24d S2: POS 11 (Office) or 12 (Home) known from the encounter gave `covered=covered` while
    the cards said "not accepted". The billing guide ("SITE OF CARE": POS 11 / 49 / 12 NOT eligible) makes coverage
    depend on where the infusion happens: `conditional` with info-needed `location`, the reason naming the site."""
    for pos, name in (("11", "Office"), ("12", "Home")):
        answer = answer_both_routes(client, _record([("site-1", pos, "Clinic room")]))
        parts = _coverage_parts(answer)
        assert ("covered", "conditional") in parts
        assert ("covered", "covered") not in parts
        assert ("pa-needed", "auth-needed") in parts
        assert ("info-needed", "location") in parts
        reason = next(v for k, v in parts if k == "reason")
        assert f"site of care POS {pos} ({name}) at Location/site-1 is not accepted" in reason
        assert "POS 21, 22 or 19" in reason
        summaries = [c["summary"] for c in answer["cards"]]
        assert f"Site of care POS {pos} ({name}) not accepted for Zolgensma: use a certified center " \
               "(POS 21/22/19)" in summaries
