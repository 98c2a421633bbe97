"""Review 2026-11-24g, items G4 and G9: advanced SMA (DR.005.D criterion 3) read in context.

G4 (missed, "can go ahead"): "Trach/vent dependent since 09/2026" in Condition.note (not read); CPT 94003 ventilation
management completed yesterday (counted only while in progress); a DeviceRequest "Tracheostomy care kit". Each now goes
to review. G9 (false alarms, "needs Medical Director review"): ventricles ("vents not dilated"), negations ("no trach,
no vent", "off vent"), a vented G-tube and its vent bag, a "trach aspirate", a ventilation-perfusion mismatch, CPAP for
apnea of prematurity, ventilation at delivery. Each now keeps the eligible infant eligible, while the true shorthand of
review f F1 still goes to review, and the card quotes the words that matched. Both routes, identical answers."""

from __future__ import annotations

import copy

import pytest
from conftest import make_app
from fhir_fake import answer_both_routes, criterion_card, criterion_outcome, load

from cds_service import terminology as t
from cds_service.respiratory_text import respiratory_words

SIGN = "/cds-services/zolgensma-order-sign"
CPT = "http://www.ama-assn.org/go/cpt"
ME = {"reference": "Patient/eligible-infant"}
ACTIVE = {"coding": [{"system": "http://terminology.hl7.org/CodeSystem/condition-clinical", "code": "active"}]}


def condition(text: str, note: str | None = None, rid="c-resp") -> dict:
    c = {"resourceType": "Condition", "id": rid, "clinicalStatus": ACTIVE, "code": {"text": text}, "subject": ME,
         "recordedDate": "2026-11-10"}
    return c | ({"note": [{"text": note}]} if note else {})


def procedure(code: dict, status="completed", when: str | dict = "2026-09-01", rid="p-resp") -> dict:
    performed = {"performedPeriod": when} if isinstance(when, dict) else {"performedDateTime": when}
    return {"resourceType": "Procedure", "id": rid, "status": status, "code": code, "subject": ME, **performed}


def device_request(text: str, rid="dr-resp") -> dict:
    return {"resourceType": "DeviceRequest", "id": rid, "status": "active", "intent": "order", "subject": ME,
            "authoredOn": "2026-11-01", "codeCodeableConcept": {"text": text}}


def device_in_use(name: str) -> list[dict]:
    return [{"resourceType": "Device", "id": "d-resp", "status": "active", "patient": ME,
             "deviceName": [{"name": name, "type": "user-friendly-name"}]},
            {"resourceType": "DeviceUseStatement", "id": "u-resp", "status": "active", "subject": ME,
             "device": {"reference": "Device/d-resp"}}]


def _answer(client, *added, url=SIGN, hook="order-sign"):
    resources = copy.deepcopy(load("eligible-infant")) + [copy.deepcopy(r) for r in added]
    return answer_both_routes(client, resources, url, "eligible-infant", hook=hook)


@pytest.fixture
def client():
    return make_app().test_client()


MISSED = [
    # G4 (a): the note is read
    (condition("Chronic respiratory failure", note="Trach/vent dependent since 09/2026"), "Condition/c-resp",
     'note: "Trach/vent dependent since 09/2026"; words that matched: "trach", "vent"'),
    # G4 (b): ventilation management completed yesterday, or over a prolonged stay, may still go on
    (procedure({"coding": [{"system": CPT, "code": "94003"}]}, when="2026-11-22"), "Procedure/p-resp",
     "Procedure (completed): CPT 94003; ventilation management within the last 30 days"),
    (procedure({"coding": [{"system": CPT, "code": "94002"}]}, when={"start": "2026-05-01", "end": "2026-05-20"}),
     "Procedure/p-resp", "CPT 94002; ventilation management within the last 30 days, lasting 14 days or more"),
    (procedure({"text": "Mechanical ventilation"}, when="2026-11-20"), "Procedure/p-resp",
     'words that matched: "mechanical ventilation"'),
    # G4 (c): tracheostomy supplies
    (device_request("Tracheostomy care kit"), "DeviceRequest/dr-resp",
     'Device request (active): Tracheostomy care kit; words that matched: "tracheostomy"'),
    # true shorthand next to a look-alike: the look-alike is dropped, the marker still counts
    (condition("Home vent, G-tube fed"), "Condition/c-resp", 'words that matched: "vent"'),
    (condition("Trach, no vent"), "Condition/c-resp", 'words that matched: "trach"'),
    (condition("Weaned off vent by day, back on vent at night"), "Condition/c-resp", 'words that matched: "vent"'),
    (condition("No distress on vent"), "Condition/c-resp", 'words that matched: "vent"'),
    (condition("Trach and vent dependent"), "Condition/c-resp", 'words that matched: "trach", "vent"'),
    (condition("Ventilator-dependent since 2026-09"), "Condition/c-resp", 'words that matched: "ventilator dependent"'),
    (condition("Apnea of prematurity resolved; SMA type 1 on BiPAP 16 h/day"), "Condition/c-resp",
     'words that matched: "bipap"'),
]


@pytest.mark.parametrize("record, reference, shown", MISSED, ids=[m[2][:50] for m in MISSED])
def test_advanced_sma_in_these_shapes_goes_to_review_quoting_the_words(client, record, reference, shown):
    answer = _answer(client, record)
    got = criterion_outcome(answer, "no-advanced-sma")
    assert (got["status"], got["reasonCode"], got["overall"]) == ("review", "advanced-sma-recorded", "needs-review")
    assert answer["cards"][0]["summary"].startswith("Zolgensma needs Medical Director review")
    card = criterion_card(answer, "no-advanced-sma")
    assert "refer to Medical Director (DR.005.D criterion 3)" in card["summary"]
    assert reference in card["detail"] and shown in card["detail"], card["detail"]


FALSE_ALARMS = [
    [condition("IVH grade I; vents not dilated on cranial US")],
    [condition("SMA type 1 - no trach, no vent, on room air")],
    [condition("Respiratory: off vent since day 2 of life")],
    [condition("Gastrostomy tube in place, vented to gravity PRN")],
    device_in_use("Farrell valve G-tube vent bag"),
    [device_request("Farrell enteral gravity vent bag")],
    [procedure({"text": "Trach aspirate culture"})],
    [condition("Ventilation-perfusion mismatch")],
    [condition("Apnea of prematurity, treated with CPAP")],
    [procedure({"text": "Intubation and mechanical ventilation at delivery"}, when="2026-03-10")],
    [procedure({"text": "Mechanical ventilation"}, when="2026-03-12")],  # a NICU course, over long ago
    [condition("Chronic respiratory failure", note="No trach or vent; on room air")],
]


@pytest.mark.parametrize("records", FALSE_ALARMS, ids=lambda r: (r[0].get("code") or {}).get("text")
                         or r[0].get("deviceName", [{}])[0].get("name") or r[0]["id"])
def test_look_alikes_keep_the_eligible_infant_eligible(client, records):
    answer = _answer(client, *records)
    got = criterion_outcome(answer, "no-advanced-sma")
    assert (got["status"], got["reasonCode"], got["overall"]) == ("met", "no-advanced-sma-recorded", "eligible")
    assert answer["cards"][0]["summary"].startswith("Zolgensma can go ahead")


def test_order_select_reads_the_note_too(client):
    answer = _answer(client, condition("Chronic respiratory failure", note="Trach/vent dependent since 09/2026"),
                     url="/cds-services/zolgensma-order-select", hook="order-select")
    assert criterion_outcome(answer, "no-advanced-sma")["status"] == "review"


@pytest.mark.parametrize("text, found", [
    ("no trach, no vent", []), ("not on home vent", []), ("weaned off CPAP", []), ("No longer on BiPAP", []),
    ("Trach/vent since 09/2026", ["trach", "vent"]), ("Central hypoventilation", ["hypoventilation"]),
    ("No. 3.5 Shiley trach", ["trach"]), ("vents normal size on head US", []), ("vent the G-tube PRN", []),
])
def test_the_words_read_in_context(text, found):
    assert respiratory_words(text, t.ADVANCED_SMA_TEXT, t.TRACH_WORDS + t.VENT_WORDS) == found


def test_readiness_reads_the_note_and_passes_the_look_alike(client):
    """The planning view agrees with order-sign: a note naming trach/vent is a gate to clear; ventricles are not."""
    from cds_service.services import READINESS, SERVICES

    def readiness(record):
        record = {**record, "subject": {"reference": "Patient/readiness-all-done"}}
        resources = copy.deepcopy(load("readiness-all-done")) + [record]
        return answer_both_routes(client, resources, f"/cds-services/{READINESS}", "readiness-all-done",
                                  hook="patient-view", sources=SERVICES[READINESS].sources)

    noted = readiness(condition("Chronic respiratory failure", note="Trach/vent dependent since 09/2026"))
    assert all("every gate met" not in card["summary"] for card in noted["cards"])
    assert any("advanced SMA" in card["summary"] for card in noted["cards"])
    ventricles = readiness(condition("IVH grade I; vents not dilated on cranial US"))
    assert "every gate met" in ventricles["cards"][0]["summary"]
