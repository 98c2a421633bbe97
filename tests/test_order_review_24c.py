"""Review 2026-11-24c, items R4, R5, R7, R8, R10: how the Zolgensma order's kit and dose are read. Two kit NDCs on one
order, a kit NDC under another system, a dosage text that names another volume, a dose given as a bound or with a
unit and code that disagree, and the 0.1 mL tolerance at both edges. Each case through prefetch and through the FHIR
server, with identical answers; the card a clinician reads is checked, not only the status."""

from __future__ import annotations

import copy

import pytest
from conftest import make_app
from fhir_fake import answer_both_routes, criterion_card, criterion_outcome, load

NDC = "http://hl7.org/fhir/sid/ndc"
RXNORM = "http://www.nlm.nih.gov/research/umls/rxnorm"
UCUM = "http://unitsofmeasure.org"
DOSE = "dose-within-label"


@pytest.fixture
def client():
    return make_app().test_client()


def _order_changed(change) -> list[dict]:
    """The eligible infant (7.2 kg: the 7.1-7.5 kg band, 41.3 mL, kit 71894-129-05) with its order changed."""
    resources = copy.deepcopy(load("eligible-infant"))
    change(next(r for r in resources if r.get("id") == "zolgensma-order"))
    return resources


def _codings(*codings):
    def change(order):
        order["medicationCodeableConcept"]["coding"] = list(codings)
    return change


def _dose(**quantity):
    def change(order):
        order["dosageInstruction"][0]["doseAndRate"][0]["doseQuantity"] = quantity
    return change


def _dose_answer(client, change) -> tuple[dict, dict, dict | None]:
    """(the answer, the dose criterion's outcome, its card: none when met)."""
    answer = answer_both_routes(client, _order_changed(change))
    got = criterion_outcome(answer, DOSE)
    return answer, got, None if got["status"] == "met" else criterion_card(answer, DOSE)


# --- R4: two kit NDCs on one order ------------------------------------------------------------------------------


@pytest.mark.parametrize("kits", [("71894-129-05", "71894-130-06"), ("71894-130-06", "71894-129-05")])
def test_an_order_naming_two_kits_is_not_met_whichever_comes_first(client, kits):
    answer, got, card = _dose_answer(client, _codings(*({"system": NDC, "code": k} for k in kits)))
    assert (got["status"], got["reasonCode"], got["overall"]) == ("not-met", "kits-disagree", "not-eligible")
    assert "71894-129-05" in card["summary"] and "71894-130-06" in card["summary"]
    assert "one kit" in card["summary"] and "2 different kits" in card["summary"]
    assert "DR.005.D 11" in card["detail"] and "MedicationRequest/zolgensma-order" in card["detail"]
    assert answer["cards"][0]["summary"].startswith("Do not infuse Zolgensma")


def test_one_kit_written_in_two_forms_is_one_kit(client):
    _, got, _ = _dose_answer(client, _codings({"system": NDC, "code": "71894-129-05"},
                                              {"system": NDC, "code": "71894012905"}))
    assert (got["status"], got["reasonCode"], got["overall"]) == ("met", "dose-matches-band", "eligible")


# --- R8: a kit NDC under another system ------------------------------------------------------------------------


def test_another_bands_kit_ndc_under_rxnorm_is_unknown_and_named(client):
    answer, got, card = _dose_answer(client, _codings(
        {"system": RXNORM, "code": "71894-130-06", "display": "Zolgensma kit"}))
    assert (got["status"], got["reasonCode"], got["overall"]) == ("unknown", "kit-code-other-system", "incomplete")
    assert "71894-130-06 under RxNorm" in card["summary"] and "71894-129-05" in card["summary"]
    assert "not coded as an NDC" in card["summary"]
    issues = " ".join(c["detail"] for c in answer["cards"] if "could not be used" in c["summary"]
                      or "data" in c["summary"].lower())
    assert "71894-130-06" in issues


def test_the_bands_kit_under_rxnorm_beside_its_ndc_does_not_change_the_answer(client):
    _, got, _ = _dose_answer(client, _codings({"system": NDC, "code": "71894-129-05"},
                                              {"system": RXNORM, "code": "71894-129-05"}))
    assert (got["status"], got["overall"]) == ("met", "eligible")


# --- R5: the dosage text names another volume ----------------------------------------------------------------


def test_dosage_text_naming_another_volume_goes_to_review_quoting_the_text(client):
    def change(order):
        order["dosageInstruction"][0]["text"] = "60.5 mL IV over 60 minutes *once*"
    answer, got, card = _dose_answer(client, change)
    assert (got["status"], got["reasonCode"]) == ("review", "dose-text-disagrees")
    assert got["overall"] != "eligible"
    assert "60.5 mL" in card["summary"] and "41.3 mL" in card["summary"]
    # an order-entry error the prescriber corrects, not a referral to the payer's Medical Director
    first = answer["cards"][0]["summary"]
    assert first.startswith("Zolgensma not ready, fix the orders: dosage text says 60.5 mL")
    assert "Medical Director" not in first
    assert "60.5 mL IV over 60 minutes \\*once\\*" in card["detail"]  # quoted, markdown escaped
    assert "FDA label 2.1" in card["detail"]


@pytest.mark.parametrize("text", ["41.3 mL IV over 60 minutes by syringe pump, once",
                                  "41,3 mL at 0.69 mL/min (5.5 mL/kg)", "infuse over 60 minutes"])
def test_dosage_text_agreeing_with_the_dose_or_naming_none_changes_nothing(client, text):
    def change(order):
        order["dosageInstruction"][0]["text"] = text
    _, got, _ = _dose_answer(client, change)
    assert (got["status"], got["overall"]) == ("met", "eligible")


def test_dosage_text_never_makes_a_missing_dose_met(client):
    def change(order):
        order["dosageInstruction"][0].pop("doseAndRate")
        order["dosageInstruction"][0]["text"] = "49.5 mL IV once"
    _, got, card = _dose_answer(client, change)
    # the kit NDC (the band's) matched; the text names another band's volume: review, never met
    assert (got["status"], got["reasonCode"]) == ("review", "dose-text-disagrees")
    assert "49.5 mL" in card["detail"]


# --- R7: a dose given as a bound, or with a unit and code that disagree ---------------------------------------


@pytest.mark.parametrize("comparator", ["<", ">="])
def test_a_dose_with_a_comparator_is_unknown(client, comparator):
    _, got, card = _dose_answer(client, _dose(value=41.3, comparator=comparator, unit="mL", system=UCUM, code="mL"))
    assert (got["status"], got["reasonCode"], got["overall"]) == ("unknown", "dose-unusable", "incomplete")
    assert f"{comparator}41.3 mL" in card["summary"].replace("\\", "") and "not an exact dose" in card["summary"]
    assert "41.3 mL" in card["detail"] and "MedicationRequest/zolgensma-order" in card["detail"]


@pytest.mark.parametrize(("unit", "code"), [("vg", "mL"), ("mL", "{vg}")])
def test_a_dose_whose_unit_and_code_disagree_is_unknown(client, unit, code):
    _, got, card = _dose_answer(client, _dose(value=41.3, unit=unit, system=UCUM, code=code))
    assert (got["status"], got["reasonCode"], got["overall"]) == ("unknown", "dose-unusable", "incomplete")
    assert f"unit '{unit}' and code '{code}' disagree" in card["summary"].replace("\\", "")


def test_a_unit_display_beside_a_known_code_is_read(client):
    _, got, _ = _dose_answer(client, _dose(value=41.3, unit="milliliter", system=UCUM, code="mL"))
    assert (got["status"], got["overall"]) == ("met", "eligible")


# --- R10: the 0.1 mL tolerance is the same on both sides ------------------------------------------------------


@pytest.mark.parametrize(("value", "status"), [(41.2, "met"), (41.4, "met"), (41.19, "not-met"), (41.41, "not-met")])
def test_the_volume_tolerance_is_symmetric(client, value, status):
    _, got, card = _dose_answer(client, _dose(value=value, unit="mL", system=UCUM, code="mL"))
    assert got["status"] == status
    if status == "not-met":
        assert got["reasonCode"] == "dose-off-band" and f"{value:g} mL" in card["summary"]


# --- R6: an order that cannot be read in full ------------------------------------------------------------------


@pytest.mark.parametrize(("events", "bad"), [(["2026-12-01", "2026-13-45"], "'2026-13-45'"),
                                             (["2026-12-01", "2026-12-08T25:00:00Z"], "'2026-12-08T25:00:00Z'"),
                                             (["2026-12-01", ""], "''")])
def test_an_order_with_an_invalid_event_date_leaves_the_criteria_reading_it_unknown(client, events, bad):
    def change(order):
        order["dosageInstruction"][0]["timing"]["event"] = events
    answer = answer_both_routes(client, _order_changed(change))
    where = f"timing.event 2 in dosageInstruction 1: {bad} is not a valid date or date-time"
    for criterion in ("one-time-dose", DOSE):
        got = criterion_outcome(answer, criterion)
        assert (got["status"], got["reasonCode"]) == ("unknown", "order-unreadable"), criterion
        card = criterion_card(answer, criterion)
        assert "could not be read" in card["summary"] and where.replace("'", "") in card["detail"].replace("'", "")
        assert "MedicationRequest/zolgensma-order" in card["detail"]
    assert criterion_outcome(answer, "corticosteroid-plan")["status"] == "unknown"
    assert answer["cards"][0]["extension"]["org.example.zolgensma-cds.eligibility"]["overall"] == "incomplete"
    every = " ".join(c["summary"] + c.get("detail", "") for c in answer["cards"])
    assert "has no dose or kit NDC" not in every  # the order has both; it was not read
    assert "should match pattern" not in every and "[0-9]" not in every  # no raw validation regex
    assert "could not be read in full" in every


def test_no_billing_guidance_for_an_order_that_could_not_be_read(client):
    """Units and codes for an order the service could not read would be a guess: the billing card says only that
    its guidance follows once the order is fixed (fix-cov item 3)."""
    def change(order):
        order["dosageInstruction"][0]["timing"]["event"] = ["2026-12-01", "2026-13-45"]
    answer = answer_both_routes(client, _order_changed(change))
    billing = [c for c in answer["cards"] if c["source"]["topic"]["code"] == "claim"]
    assert [c["summary"] for c in billing] == ["Zolgensma order unreadable: billing guidance after the order is fixed"]
    assert "no billing guidance" in billing[0]["detail"] and billing[0]["indicator"] == "info"
    every = " ".join(c["summary"] + c.get("detail", "") for c in answer["cards"])
    assert "J3399 x 1 unit" not in every and "CPT 96365" not in every


def test_a_readable_order_keeps_its_billing_guidance(client):
    answer = answer_both_routes(client, load("eligible-infant"))
    billing = [c for c in answer["cards"] if c["source"]["topic"]["code"] == "claim"]
    assert [c["summary"] for c in billing] == ["Bill J3399 x 1 unit (per treatment) + CPT 96365; diagnosis G12.0"]


def test_an_invalid_event_date_does_not_hide_a_kit_of_another_band(client):
    def change(order):
        order["dosageInstruction"][0]["timing"]["event"] = ["2026-12-01", "2026-13-45"]
        order["medicationCodeableConcept"]["coding"] = [{"system": NDC, "code": "71894-130-06"}]
    answer = answer_both_routes(client, _order_changed(change))
    got = criterion_outcome(answer, DOSE)
    assert (got["status"], got["reasonCode"]) == ("not-met", "kit-mismatch")


# --- R9: turning 2 tomorrow with no usable planned date --------------------------------------------------------


def _turning_2(born: str, event: str | None) -> list[dict]:
    resources = _order_changed(lambda order: order["dosageInstruction"][0]["timing"].pop("event") if event is None
                               else order["dosageInstruction"][0]["timing"].__setitem__("event", [event]))
    next(r for r in resources if r["resourceType"] == "Patient")["birthDate"] = born
    return resources


@pytest.mark.parametrize(("event", "basis"), [(None, "no planned infusion date on the order"),
                                              ("2025-12-01", "planned date 2025-12-01 is in the past")])
def test_turning_2_tomorrow_with_no_usable_planned_date_is_unknown(client, event, basis):
    answer = answer_both_routes(client, _turning_2("2024-11-24", event))  # today is 2026-11-23
    got = criterion_outcome(answer, "age-under-2")
    assert (got["status"], got["reasonCode"]) == ("unknown", "turning-2-no-planned-date")
    assert got["overall"] != "eligible"
    card = criterion_card(answer, "age-under-2")
    assert "Turns 2 tomorrow (2026-11-24)" in card["summary"]
    assert basis in card["detail"] and "FDA label 2.1" in card["detail"] and "DR.005.D 5" in card["detail"]
    assert "Patient/eligible-infant" in card["detail"] and "born 2024-11-24" in card["detail"]


def test_turning_2_in_two_days_with_no_planned_date_stays_met_with_a_warning(client):
    answer = answer_both_routes(client, _turning_2("2024-11-25", None))
    got = criterion_outcome(answer, "age-under-2")
    assert (got["status"], got["reasonCode"]) == ("met", "under-2-turning-2-soon")
    card = criterion_card(answer, "age-under-2")
    assert "(2 days)" in card["summary"]


def test_a_steroid_dose_with_a_comparator_is_not_computed_and_is_reported(client):
    resources = copy.deepcopy(load("eligible-infant"))
    plan = next(r for r in resources if r.get("id") == "prednisolone-plan")
    plan["dosageInstruction"][0]["doseAndRate"][0]["doseQuantity"]["comparator"] = "<"
    answer = answer_both_routes(client, resources)
    got = criterion_outcome(answer, "corticosteroid-plan")
    assert (got["status"], got["reasonCode"]) == ("unknown", "steroid-dose-unverifiable")
    every = " ".join(c.get("detail", "") for c in answer["cards"])
    assert "stated as a bound, <7 mg" in every.replace("\\", "") and "MedicationRequest/prednisolone-plan" in every
