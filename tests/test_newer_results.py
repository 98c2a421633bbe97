"""A result that may be newer than the one a conclusion rests on, and is not evidence (a partial or absent date, not
final yet, another assay), never leaves an older result to decide in silence (review 2026-11-24b A1, A2, A3, P1;
and the contradictions I2, O1). Each case through prefetch and through the FHIR server, with identical answers."""

from __future__ import annotations

import copy

from conftest import make_app
from fhir_fake import answer_both_routes, criterion_card, criterion_outcome, load

from cds_service.hooks import MONITORING, SERVICES

SIGN = "/cds-services/zolgensma-order-sign"
UCUM = "http://unitsofmeasure.org"


def _record(name: str = "eligible-infant") -> list[dict]:
    return copy.deepcopy(load(name))


def _get(resources: list[dict], rid: str) -> dict:
    return next(r for r in resources if r.get("id") == rid)


def _add_copy(resources: list[dict], rid: str, new_id: str, drop: tuple[str, ...] = (), **changes) -> list[dict]:
    """A second result: a copy of `rid` under `new_id`, with `changes` and without `drop`."""
    copied = copy.deepcopy(_get(resources, rid))
    copied["id"] = new_id
    copied.update(changes)
    for key in drop:
        copied.pop(key, None)
    resources.append(copied)
    return resources


def _answer(resources: list[dict], url: str = SIGN, name: str = "eligible-infant", hook: str = "order-sign",
            sources: tuple[str, ...] = ()) -> dict:
    """The answer through prefetch, checked equal (ids aside) to the FHIR-server route's."""
    return answer_both_routes(make_app().test_client(), resources, url, name, hook, sources=sources)


def _card(answer: dict, starts: str) -> dict:
    """A card without a criterion (monitoring), by the start of its summary."""
    return next(c for c in answer["cards"] if c["summary"].startswith(starts))


TITER_CARD, LIVER_CARD, DOSE_CARD = "aav9-titer", "baseline-liver-function", "dose-within-label"


# --- A1: a newer result with a partial or no date ---------------------------------------------------------
def test_a_titer_with_a_partial_date_that_may_be_newer_stops_the_met():
    answer = _answer(_add_copy(_record(), "aav9", "aav9-b", effectiveDateTime="2026-11", valueString="1:200"))
    got = criterion_outcome(answer, "aav9-titer")
    assert got["status"] == "unknown" and got["reasonCode"] == "source-incomplete"
    assert got["overall"] != "eligible"
    detail = criterion_card(answer, TITER_CARD)["detail"]
    assert "Observation/aav9-b (titer 1:200 dated '2026-11', not a full date" in detail
    assert "Observation/aav9" in detail  # the older titer stays as evidence


def test_a_partial_date_that_must_be_older_does_not_block():
    """'2026-10' ends before the dated titer of 2026-11-20: it cannot be the newer one."""
    answer = _answer(_add_copy(_record(), "aav9", "aav9-b", effectiveDateTime="2026-10", valueString="1:200"))
    got = criterion_outcome(answer, "aav9-titer")
    assert got["status"] == "met" and got["overall"] == "eligible"


def test_an_alt_with_a_partial_date_or_no_date_stops_the_met():
    quantity = {"value": 300, "unit": "U/L", "system": UCUM, "code": "U/L"}
    for changes, shown in (({"effectiveDateTime": "2026-11"}, "ALT 300 U/L dated '2026-11', not a full date"),
                           ({}, "ALT 300 U/L with no date")):
        drop = () if changes else ("effectiveDateTime", "issued")
        answer = _answer(_add_copy(_record(), "alt", "alt-b", drop, valueQuantity=quantity, **changes))
        got = criterion_outcome(answer, "baseline-liver-function")
        assert got["status"] == "unknown" and got["reasonCode"] == "source-incomplete", changes
        assert f"Observation/alt-b ({shown}: it may be newer than the result used)" in \
            criterion_card(answer, LIVER_CARD)["detail"]


def test_a_weight_with_a_partial_date_stops_the_dose_and_steroid_mets():
    quantity = {"value": 9.5, "unit": "kg", "system": UCUM, "code": "kg"}
    answer = _answer(_add_copy(_record(), "weight", "weight-b", effectiveDateTime="2026-11", valueQuantity=quantity))
    for cid in ("dose-within-label", "weight-in-label-range", "corticosteroid-plan"):
        got = criterion_outcome(answer, cid)
        assert got["status"] == "unknown" and got["reasonCode"] == "source-incomplete", cid
    assert "Observation/weight-b (weight 9.5 kg dated '2026-11'" in criterion_card(answer, DOSE_CARD)["detail"]


# --- A2: a newer result not final yet -----------------------------------------------------------------------
def test_a_newer_preliminary_titer_stops_the_met_and_is_named():
    answer = _answer(_add_copy(_record(), "aav9", "aav9-b", status="preliminary", valueString="1:200",
                               effectiveDateTime="2026-11-21"))
    got = criterion_outcome(answer, "aav9-titer")
    assert got["status"] == "unknown" and got["reasonCode"] == "result-not-final"
    assert got["overall"] != "eligible"
    card = criterion_card(answer, TITER_CARD)
    assert card["summary"].endswith("a newer result is not final yet")
    assert "Observation/aav9-b (AAV9 titer of 2026-11-21 is preliminary (1:200): wait for the final result)" \
        in card["detail"]
    assert "newer result not final" in answer["cards"][0]["summary"]
    assert not card.get("suggestions")  # nothing to order: the result is on its way


def test_a_newer_registered_titer_stops_the_met():
    answer = _answer(_add_copy(_record(), "aav9", "aav9-b", ("valueString",), status="registered",
                               effectiveDateTime="2026-11-21"))
    got = criterion_outcome(answer, "aav9-titer")
    assert got["status"] == "unknown" and got["reasonCode"] == "result-not-final"
    assert "AAV9 titer of 2026-11-21 is registered (no value yet)" in criterion_card(answer, TITER_CARD)["detail"]


def test_an_older_preliminary_or_a_newer_cancelled_titer_changes_nothing():
    for changes in ({"status": "preliminary", "effectiveDateTime": "2026-11-19"},
                    {"status": "cancelled", "effectiveDateTime": "2026-11-21"},
                    {"status": "entered-in-error", "effectiveDateTime": "2026-11-21"}):
        answer = _answer(_add_copy(_record(), "aav9", "aav9-b", valueString="1:200", **changes))
        got = criterion_outcome(answer, "aav9-titer")
        assert got["status"] == "met" and got["overall"] == "eligible", changes


def test_a_newer_preliminary_alt_stops_the_baseline_liver_met():
    answer = _answer(_add_copy(_record(), "alt", "alt-b", status="preliminary", effectiveDateTime="2026-11-21",
                               valueQuantity={"value": 300, "unit": "U/L", "system": UCUM, "code": "U/L"}))
    got = criterion_outcome(answer, "baseline-liver-function")
    assert got["status"] == "unknown" and got["reasonCode"] == "result-not-final"
    assert "ALT of 2026-11-21 is preliminary (300 U/L)" in criterion_card(answer, LIVER_CARD)["detail"]


# --- P1: monitoring, no taper while a newer liver test is not final ------------------------------------------
MONITOR_URL = f"/cds-services/{MONITORING}"
DAY_31 = "monitoring-day-31-normal"


def _monitoring(resources: list[dict]) -> dict:
    return _answer(resources, MONITOR_URL, DAY_31, "patient-view", SERVICES[MONITORING].sources)


def _newer_alt(**changes) -> list[dict]:
    changes = {"effectiveDateTime": "2026-11-22", **changes}
    return _add_copy(_record(DAY_31), "alt-d28", "alt-d30",
                     valueQuantity={"value": 300, "unit": "U/L", "system": UCUM, "code": "U/L"}, **changes)


def _suggestions(answer: dict) -> list[str]:
    return [s["label"] for c in answer["cards"] for s in c.get("suggestions") or ()]


def test_the_day_31_fixture_suggests_the_taper():
    answer = _monitoring(_record(DAY_31))
    assert any(label.startswith("Order a 28-day prednisolone taper") for label in _suggestions(answer))


def test_a_newer_preliminary_alt_holds_the_taper():
    answer = _monitoring(_newer_alt(status="preliminary"))
    assert not any("taper" in label for label in _suggestions(answer))
    card = _card(answer, "Taper on hold: a newer liver test is not final yet")
    assert card["indicator"] == "warning"
    assert "Observation/alt-d30 (ALT of 2026-11-22 is preliminary (300 U/L): wait for the final result)" \
        in card["detail"]
    assert "FDA label 2.1" in card["detail"] and "Do not taper yet" in card["detail"]
    assert answer["cards"][0]["indicator"] == "warning"  # the first card never looks calmer


def test_a_newer_liver_test_with_a_partial_date_holds_the_taper():
    answer = _monitoring(_newer_alt(effectiveDateTime="2026-11"))
    assert not any("taper" in label for label in _suggestions(answer))
    assert "Observation/alt-d30 (ALT 300 U/L dated '2026-11', not a full date" in \
        _card(answer, "Taper on hold")["detail"]


def test_an_older_preliminary_alt_does_not_hold_the_taper():
    answer = _monitoring(_newer_alt(status="preliminary", effectiveDateTime="2026-11-10"))
    assert any(label.startswith("Order a 28-day prednisolone taper") for label in _suggestions(answer))


# --- A3: a newer titer by another assay --------------------------------------------------------------------
NAB = {"text": "neutralizing antibody assay"}


def test_a_newer_neutralising_antibody_titer_above_1_50_goes_to_review():
    answer = _answer(_add_copy(_record(), "aav9", "aav9-b", effectiveDateTime="2026-11-21", valueString="1:200",
                               method=NAB))
    got = criterion_outcome(answer, "aav9-titer")
    assert got["status"] == "review" and got["reasonCode"] == "titer-newer-other-assay"
    assert got["overall"] == "needs-review"
    assert set(got["evidence"]) == {"Observation/aav9", "Observation/aav9-b"}
    card = criterion_card(answer, TITER_CARD)
    assert "newer titer 1:200 by another assay: refer to the Medical Director" in card["summary"]
    assert "The latest ELISA titer is \\<1:25 on 2026-11-20" in card["detail"]
    assert "(neutralizing antibody assay) is 1:200 on 2026-11-21" in card["detail"]
    assert "newer AAV9 titer 1:200 by another assay (2026-11-21)" in answer["cards"][0]["summary"]


def test_a_newer_neutralising_antibody_titer_within_1_50_or_an_older_one_changes_nothing():
    for changes in ({"effectiveDateTime": "2026-11-21", "valueString": "<1:5"},
                    {"effectiveDateTime": "2026-11-19", "valueString": "1:200"}):
        answer = _answer(_add_copy(_record(), "aav9", "aav9-b", method=NAB, **changes))
        got = criterion_outcome(answer, "aav9-titer")
        assert got["status"] == "met" and got["overall"] == "eligible", changes


# --- I2: weights that cannot both be right -----------------------------------------------------------------
def _with_weight(kg: float, day: str) -> list[dict]:
    return _add_copy(_record(), "weight", "weight-b", effectiveDateTime=day,
                     valueQuantity={"value": kg, "unit": "kg", "system": UCUM, "code": "kg"})


def test_weights_a_day_apart_that_cannot_both_be_right_leave_the_dose_and_steroid_unknown():
    answer = _answer(_with_weight(9.5, "2026-11-19"))
    for cid in ("dose-within-label", "corticosteroid-plan"):
        got = criterion_outcome(answer, cid)
        assert got["status"] == "unknown" and got["reasonCode"] == "weights-contradict", cid
        assert set(got["evidence"]) >= {"Observation/weight", "Observation/weight-b"}
    # Both weights are within the label's 2.6-21 kg, so that check holds whichever is right (as for same-day
    # disagreements: rules/integrity.py).
    assert criterion_outcome(answer, "weight-in-label-range")["status"] == "met"
    detail = criterion_card(answer, DOSE_CARD)["detail"]
    assert "9.5 kg on 2026-11-19 (Observation/weight-b); 7.2 kg on 2026-11-20 (Observation/weight)" in detail
    assert "differ by 2.3 kg in 1 day(s), more than the 1.83 kg" in detail
    assert "recent weights contradict each other" in answer["cards"][0]["summary"]


def test_normal_growth_and_small_differences_between_weights_never_trip_the_check():
    for kg, day in ((7.0, "2026-11-13"), (7.4, "2026-11-19"), (6.6, "2026-11-19"), (9.5, "2026-11-01")):
        answer = _answer(_with_weight(kg, day))
        got = criterion_outcome(answer, "dose-within-label")
        assert got["status"] == "met" and got["overall"] == "eligible", (kg, day)


# --- O1: gestational age at birth is one fact ----------------------------------------------------------------
def _ga_record(first: float, second: float) -> list[dict]:
    """Born 2026-10-20 (6 weeks on the planned 2026-12-01): GA at birth `first` on 10-20, `second` on 11-01."""
    resources = _record()
    next(r for r in resources if r["resourceType"] == "Patient")["birthDate"] = "2026-10-20"
    ga = _get(resources, "ga-birth")
    ga["effectiveDateTime"] = "2026-10-20"
    ga["valueQuantity"] = {"value": first, "unit": "wk", "system": UCUM, "code": "wk"}
    return _add_copy(resources, "ga-birth", "ga-b", effectiveDateTime="2026-11-01",
                     valueQuantity={"value": second, "unit": "wk", "system": UCUM, "code": "wk"})


def test_two_ga_at_birth_values_on_different_dates_are_a_conflict_whichever_is_newer():
    for first, second in ((28, 39), (39, 28)):
        answer = _answer(_ga_record(first, second))
        got = criterion_outcome(answer, "gestational-age")
        assert got["status"] == "unknown" and got["reasonCode"] == "ga-at-birth-conflict", (first, second)
        assert set(got["evidence"]) == {"Observation/ga-birth", "Observation/ga-b"}
        assert f"{first:g} wk on 2026-10-20 (Observation/ga-birth); {second:g} wk on 2026-11-01 (Observation/ga-b)" \
            in got["reason"]
        assert "GA at birth recorded with different values" in answer["cards"][0]["summary"]


def test_ga_at_birth_values_that_agree_or_do_not_change_the_answer_keep_it():
    assert criterion_outcome(_answer(_ga_record(39, 39)), "gestational-age")["status"] == "met"
    assert criterion_outcome(_answer(_ga_record(39, 39.1)), "gestational-age")["status"] == "met"  # within a day
    # Term either way (38 or 40 weeks at birth, 6 weeks old): the answer does not depend on which is right.
    assert criterion_outcome(_answer(_ga_record(38, 40)), "gestational-age")["status"] == "met"
