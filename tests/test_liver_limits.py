"""Review 2026-11-24c, R1-R3: the liver limits a baseline check and a taper decision rest on.

R1: a reference-range bound without a unit is read in the result's unit only where it cannot be misread
(translate/ranges.read_bound); otherwise, or when a limit is not a plausible one, the ULN is unknown.
R2: PT and INR are both read (rules/context.coagulation_readings); either one above its ULN decides, and the
monitoring service never suggests a taper beside an abnormal one.
R3: a PT or INR without a reference range is as open as an ALT without one.
Each case through prefetch and through the FHIR server, with identical answers."""

from __future__ import annotations

import copy
import json

import pytest
from fhir_fake import answer_both_routes, load

from cds_service.hooks import MONITORING, SERVICES
from cds_service.translate.ranges import read_bound

EXT = "org.example.zolgensma-cds.eligibility"
MONITORING_URL = "/cds-services/zolgensma-monitoring"
UCUM = "http://unitsofmeasure.org"
LOINC = "http://loinc.org"


def _q(value, unit):
    return {"value": value, "unit": unit, "system": UCUM, "code": unit}


def _inr(rid: str, value: float, when: str, ranged: bool = True) -> dict:
    """An INR result (LOINC 6301-6), with the range 0.8-1.2 (no unit: INR is a ratio) or none."""
    obs = {"resourceType": "Observation", "id": rid, "status": "final",
           "category": [{"coding": [{"system": "http://terminology.hl7.org/CodeSystem/observation-category",
                                     "code": "laboratory"}]}],
           "code": {"coding": [{"system": LOINC, "code": "6301-6", "display": "INR"}]},
           "effectiveDateTime": when, "valueQuantity": _q(value, "{INR}")}
    if ranged:
        obs["referenceRange"] = [{"low": {"value": 0.8}, "high": {"value": 1.2}}]
    return obs


def _record(name: str, change=None, extra: tuple[dict, ...] = ()) -> list[dict]:
    resources = copy.deepcopy(load(name))
    if change:
        rid, edit = change
        edit(next(r for r in resources if r.get("id") == rid and r["resourceType"] == "Observation"))
    patient = next(r["id"] for r in resources if r["resourceType"] == "Patient")
    for obs in extra:
        resources.append(dict(copy.deepcopy(obs), subject={"reference": f"Patient/{patient}"}))
    return resources


def _set(value=None, ranges=None, drop_range=False):
    def edit(obs):
        if value is not None:
            obs["valueQuantity"] = value
        if ranges is not None:
            obs["referenceRange"] = ranges
        if drop_range:
            obs.pop("referenceRange", None)
    return edit


def _baseline(client, resources) -> tuple[dict, dict, str]:
    """(baseline-liver-function criterion, its card, overall) through both routes."""
    answer = answer_both_routes(client, resources)
    outcome = answer["cards"][0]["extension"][EXT]
    criterion = next(c for c in outcome["criteria"] if c["id"] == "baseline-liver-function")
    card = next((c for c in answer["cards"] if c["summary"].startswith("Baseline ")), None)
    return criterion, card, outcome["overall"]


def _monitoring(client, resources) -> list[dict]:
    return answer_both_routes(client, resources, url=MONITORING_URL, name="monitoring-day-31-normal",
                              hook="patient-view", sources=SERVICES[MONITORING].sources)["cards"]


def _no_taper(cards: list[dict]) -> None:
    assert not any("taper over 28 days" in c["summary"] for c in cards)
    assert not any("taper" in s["label"].lower() for c in cards for s in c.get("suggestions") or ())


UNITLESS_5_45 = [{"low": {"value": 5}, "high": {"value": 45}}]


# --- R1 ---------------------------------------------------------------------------------------------
def test_unitless_range_beside_a_result_in_ukat_is_not_read_as_ukat(client):
    """ALT 5 ukat/L (300 U/L) with the range 5-45 and no unit: 45 ukat/L (2700 U/L) is no ULN."""
    criterion, card, overall = _baseline(client, _record(
        "eligible-infant", ("alt", _set(_q(5.0, "ukat/L"), UNITLESS_5_45))))
    assert (criterion["status"], criterion["reasonCode"]) == ("unknown", "baseline-lft-documented-uln-unknown")
    assert overall != "eligible"
    assert card["summary"] == ("Baseline ALT has no reference range (ULN) for this patient: get the lab's range "
                               "to check 2 x ULN")
    assert ("300 U/L (reported 5 ukat/L), ULN unknown: the lab's upper limit 45 has no unit; read in the "
            "result's unit (ukat/L) it would be 2700 U/L, and it could also mean 45 U/L: ask the lab for the "
            "range with its unit on 2026-11-17 (Observation/alt)") in card["detail"]
    assert "2700 U/L, ULN" not in card["detail"]


@pytest.mark.parametrize("value, ranges, shown", [
    (_q(30, "U/L"), UNITLESS_5_45, "30 U/L, ULN 45 U/L"),  # the result in the canonical unit: the common case
    (_q(0.5, "ukat/L"), [{"low": {"value": 0.1}, "high": {"value": 0.75}}], "30 U/L (reported 0.5 ukat/L), ULN 45 U/L"),
])
def test_unitless_range_that_cannot_be_misread_is_used(client, value, ranges, shown):
    answer = answer_both_routes(client, _record("eligible-infant", ("alt", _set(value, ranges))))
    outcome = answer["cards"][0]["extension"][EXT]
    criterion = next(c for c in outcome["criteria"] if c["id"] == "baseline-liver-function")
    assert (criterion["status"], outcome["overall"]) == ("met", "eligible")
    assert f"{shown} on 2026-11-17 (Observation/alt)" in json.dumps(answer, ensure_ascii=False)


def test_a_limit_with_a_unit_that_is_no_plausible_uln_is_refused(client):
    """ALT 30 U/L with ULN "45 ukat/L" (2700 U/L): a unit error in the range, not a ULN."""
    ranges = [{"high": {"value": 45, "unit": "ukat/L", "system": UCUM, "code": "ukat/L"}}]
    criterion, card, overall = _baseline(client, _record("eligible-infant", ("alt", _set(_q(30, "U/L"), ranges))))
    assert (criterion["status"], criterion["reasonCode"]) == ("unknown", "baseline-lft-documented-uln-unknown")
    assert "ULN unknown: the lab's upper limit 45 ukat/L (2700 U/L) is not a plausible upper limit " \
           "(expected 10-500 U/L)" in card["detail"]


def test_read_bound_decides_only_where_one_reading_is_plausible():
    assert read_bound("alt", "high", {"value": 45}, "U/L") == (45.0, "")
    assert read_bound("alt", "high", {"value": 0.75}, "ukat/L") == (45.0, "")
    assert read_bound("alt", "high", {"value": 45}, "ukat/L")[0] is None
    # bilirubin 17 with no unit beside a result in mg/dL: 17 umol/L is the usual ULN, 17 mg/dL is none
    assert read_bound("bilirubin", "high", {"value": 17}, "mg/dL")[0] is None
    assert read_bound("bilirubin", "high", {"value": 1.2}, "mg/dL") == (1.2, "")
    assert read_bound("bilirubin", "high", {"value": 12}, "umol/L")[0] is None  # 12 mg/dL or 12 umol/L
    assert read_bound("platelets", "low", {"value": 150000}, "10*3/uL")[0] is None
    assert read_bound("platelets", "low", {"value": 0}, "10*3/uL") == (0.0, "")  # 0 is 0 in every unit
    assert read_bound("inr", "high", {"value": 1.2}, "{INR}") == (1.2, "")


def test_monitoring_unitless_range_beside_ukat_blocks_the_taper(client):
    cards = _monitoring(client, _record("monitoring-day-31-normal",
                                        ("alt-d28", _set(_q(5.0, "ukat/L"), UNITLESS_5_45))))
    blocked = next(c for c in cards if c["summary"].startswith("Taper decision blocked"))
    assert blocked["summary"] == "Taper decision blocked: no reference range (ULN) on ALT"
    assert "300 U/L (reported 5 ukat/L), ULN unknown: the lab's upper limit 45 has no unit" in blocked["detail"]
    assert "(Observation/alt-d28)" in blocked["detail"]
    _no_taper(cards)


# --- R2 ---------------------------------------------------------------------------------------------
@pytest.mark.parametrize("when", ["2026-11-17", "2026-11-20"])  # same day as the normal PT, and newer
def test_baseline_inr_above_range_beside_a_normal_pt_is_review(client, when):
    criterion, card, overall = _baseline(client, _record("eligible-infant", extra=(_inr("inr", 1.6, when),)))
    assert (criterion["status"], criterion["reasonCode"]) == ("review", "coagulation-above-uln")
    assert overall != "eligible"
    assert card["summary"] == "Baseline INR 1.6 above the lab's upper limit (1.2): refer to Medical Director"
    assert f"INR 1.6 on {when} is above the upper limit of normal (1.2)" in card["detail"]
    assert f"1.6, ULN 1.2 on {when} (Observation/inr)" in card["detail"]
    # Same day: the PT of that draw is evidence too; 3 days later the INR is the newer reading (the PT is superseded).
    assert ("12.1 s, ULN 13.5 s on 2026-11-17 (Observation/pt)" in card["detail"]) == (when == "2026-11-17")


def test_baseline_normal_inr_beside_a_normal_pt_stays_eligible(client):
    criterion, _, overall = _baseline(client, _record("eligible-infant", extra=(_inr("inr", 1.0, "2026-11-17"),)))
    assert (criterion["status"], overall) == ("met", "eligible")


@pytest.mark.parametrize("day", ["2026-11-20", "2026-11-22"])  # day 28 (as the PT) and day 30
def test_monitoring_inr_above_range_means_no_taper(client, day):
    cards = _monitoring(client, _record("monitoring-day-31-normal", extra=(_inr("inr-new", 1.6, day),)))
    card = next(c for c in cards if c["summary"].startswith("Liver tests not yet unremarkable"))
    assert card["summary"] == "Liver tests not yet unremarkable: continue prednisolone 1 mg/kg/day, re-check"
    assert "total bilirubin, PT or INR above the lab's upper limit" in card["detail"]
    assert "Do not taper yet" in card["detail"]
    assert f"1.6, ULN 1.2 on {day} (Observation/inr-new)" in card["detail"]
    assert "12.2 s, ULN 13.5 s on 2026-11-20 (Observation/pt-d28)" in card["detail"]
    _no_taper(cards)


def test_monitoring_inr_without_range_beside_pt_blocks_the_taper(client):
    cards = _monitoring(client, _record("monitoring-day-31-normal",
                                        extra=(_inr("inr-new", 2.5, "2026-11-22", ranged=False),)))
    blocked = next(c for c in cards if c["summary"].startswith("Taper decision blocked"))
    assert blocked["summary"] == "Taper decision blocked: no reference range (ULN) on INR"
    assert "2.5 on 2026-11-22 (Observation/inr-new)" in blocked["detail"]
    _no_taper(cards)


# --- R3 ---------------------------------------------------------------------------------------------
def test_baseline_pt_without_range_is_unknown(client):
    criterion, card, overall = _baseline(client, _record("eligible-infant",
                                                         ("pt", _set(_q(25, "s"), drop_range=True))))
    assert (criterion["status"], criterion["reasonCode"]) == ("unknown", "baseline-lft-documented-uln-unknown")
    assert overall != "eligible"
    assert card["summary"] == ("Baseline PT has no reference range (ULN) for this patient: get the lab's range "
                               "to check 2 x ULN")
    assert "neither the label nor DR.005.D gives a fixed normal PT or INR" in card["detail"]
    assert "25 s on 2026-11-17 (Observation/pt)" in card["detail"]


def test_baseline_inr_alone_without_range_is_unknown(client):
    def to_inr(obs):
        obs["code"] = {"coding": [{"system": LOINC, "code": "6301-6", "display": "INR"}]}
        obs["valueQuantity"] = _q(2.5, "{INR}")
        obs.pop("referenceRange", None)
    criterion, card, overall = _baseline(client, _record("eligible-infant", ("pt", to_inr)))
    assert (criterion["status"], criterion["reasonCode"]) == ("unknown", "baseline-lft-documented-uln-unknown")
    assert overall != "eligible"
    assert card["summary"].startswith("Baseline INR has no reference range (ULN)")
    assert "2.5 on 2026-11-17 (Observation/pt)" in card["detail"]


def test_monitoring_an_older_abnormal_inr_re_measured_as_a_normal_pt_days_later_is_superseded(client):
    """PT and INR read one coagulation status: an INR of day 21 (2026-11-13) is replaced by the PT of day 28; the
    warning and the taper read the same results (no "abnormal" card beside a taper)."""
    cards = _monitoring(client, _record("monitoring-day-31-normal", extra=(_inr("inr-d21", 1.6, "2026-11-13"),)))
    assert any(c["summary"] == "Liver tests unremarkable after the steroid course: taper over 28 days" for c in cards)
    assert not any(c["summary"].startswith("Bilirubin or PT/INR above normal") for c in cards)
    assert not any(c["summary"].startswith("Liver tests not yet unremarkable") for c in cards)
