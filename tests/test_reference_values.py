"""Lab and weight values as the lab states them (review 2026-11-24b items B1, B2, B3/I1, I3, A4, A6): the
reference range that applies to this patient, comparators (a bound is not a measurement), units that disagree,
and titer methods and values that cannot be read. Each case through prefetch and through the FHIR server, with
identical answers; the assertions read the card text a clinician reads."""

from __future__ import annotations

import copy

import pytest
import responses
from conftest import make_app
from fhir_fake import FakeFhir, hook_request, load, without_generated_ids

from cds_service.hooks import MONITORING, SERVICES

SIGN = "/cds-services/zolgensma-order-sign"
EXT = "org.example.zolgensma-cds.eligibility"
UCUM = "http://unitsofmeasure.org"


def q(value, unit, comparator=None) -> dict:
    out = {"value": value, "unit": unit, "system": UCUM, "code": unit}
    if comparator:
        out["comparator"] = comparator
    return out


def years(low, high) -> dict:
    return {"low": q(low, "a"), "high": q(high, "a")}


def _edit(name: str, rid: str, **changes) -> list[dict]:
    resources = copy.deepcopy(load(name))
    resource = next(r for r in resources if r.get("id") == rid)
    for key, value in changes.items():
        if value is None:
            resource.pop(key, None)
        else:
            resource[key] = value
    return resources


def _answer(resources: list[dict], name: str = "eligible-infant", hook: str = "order-sign", url: str = SIGN,
            sources: tuple[str, ...] = ()) -> dict:
    """The answer through prefetch, checked equal (generated ids aside) to the FHIR-server route's."""
    client = make_app().test_client()
    answers = []
    with responses.RequestsMock(assert_all_requests_are_fired=False) as rsps:
        FakeFhir(resources).register(rsps)
        for mode in ("prefetch", "server"):
            body = hook_request(name, hook, mode, resources=resources, sources=sources)
            response = client.post(url, json=body)
            assert response.status_code == 200, response.get_data(as_text=True)
            answers.append(response.json)
    assert without_generated_ids(answers[0]) == without_generated_ids(answers[1])
    return answers[0]


def _criterion(answer: dict, cid: str) -> dict:
    outcome = answer["cards"][0]["extension"][EXT]
    return next(c for c in outcome["criteria"] if c["id"] == cid) | {"overall": outcome["overall"]}


def _text(answer: dict) -> str:
    return "\n".join(c["summary"] + "\n" + c.get("detail", "") for c in answer["cards"])


def _monitoring(resources: list[dict], name: str) -> dict:
    return _answer(resources, name, "patient-view", f"/cds-services/{MONITORING}", SERVICES[MONITORING].sources)


# --- B1: the reference range that applies to the patient's age ---------------------------------------------
def test_the_infants_range_is_used_not_the_first_adult_one():
    """ALT 70 U/L; ranges [adults 18-99 y: ULN 45, infants 0-1 y: ULN 30]; the patient is 8 months old: 70 > 2 x 30."""
    answer = _answer(_edit("eligible-infant", "alt", valueQuantity=q(70, "U/L"), referenceRange=[
        {"high": q(45, "U/L"), "age": years(18, 99)}, {"high": q(30, "U/L"), "age": years(0, 1)}]))
    got = _criterion(answer, "baseline-liver-function")
    assert (got["status"], got["reasonCode"], got["overall"]) == ("review", "lft-above-2x-uln", "needs-review")
    assert "70 U/L, ULN 30 U/L on 2026-11-17 (Observation/alt)" in _text(answer)


def test_the_infants_range_clears_a_value_the_adult_range_would_not():
    answer = _answer(_edit("eligible-infant", "alt", valueQuantity=q(28, "U/L"), referenceRange=[
        {"high": q(70, "U/L"), "age": years(18, 99)}, {"high": q(45, "U/L"), "age": years(0, 1)}]))
    got = _criterion(answer, "baseline-liver-function")
    assert (got["status"], got["overall"]) == ("met", "eligible")
    assert "28 U/L, ULN 45 U/L on 2026-11-17" in _text(answer)


def test_ranges_only_for_other_ages_leave_the_uln_unknown():
    answer = _answer(_edit("eligible-infant", "alt", valueQuantity=q(28, "U/L"), referenceRange=[
        {"high": q(45, "U/L"), "age": years(18, 99)}]))
    got = _criterion(answer, "baseline-liver-function")
    assert (got["status"], got["reasonCode"]) == ("unknown", "baseline-lft-documented-uln-unknown")
    text = _text(answer)
    assert "Baseline ALT has no reference range (ULN) for this patient" in text
    assert ("28 U/L, ULN unknown: the lab's reference ranges are for other ages (age 8 months on 2026-11-17) "
            "on 2026-11-17 (Observation/alt)") in text


def test_ranges_that_may_apply_and_disagree_leave_the_uln_unknown():
    """Two ranges without age (or one restricted by appliesTo, which the service cannot match): never the first."""
    for ranges in ([{"high": q(45, "U/L")}, {"high": q(30, "U/L")}],
                   [{"high": q(45, "U/L")}, {"high": q(30, "U/L"), "appliesTo": [{"text": "infant"}]}]):
        answer = _answer(_edit("eligible-infant", "alt", valueQuantity=q(50, "U/L"), referenceRange=ranges))
        got = _criterion(answer, "baseline-liver-function")
        assert (got["status"], got["reasonCode"]) == ("unknown", "baseline-lft-documented-uln-unknown")
        assert "ULN unknown: reference ranges that may apply disagree (upper limit 30 U/L / 45 U/L)" in _text(answer)


def test_a_range_only_for_a_population_the_service_cannot_match_is_not_used():
    answer = _answer(_edit("eligible-infant", "alt", referenceRange=[
        {"high": q(45, "U/L"), "appliesTo": [{"text": "male"}]}]))
    got = _criterion(answer, "baseline-liver-function")
    assert got["status"] == "unknown"
    assert "ULN unknown: no reference range known to apply" in _text(answer)


def test_monitoring_takes_the_infants_range_and_asks_for_hepatology_not_a_taper():
    """Day 31, ALT 120 U/L on day 28: the infant range (ULN 45) applies, not the adult one listed first (ULN 70)."""
    name = "monitoring-day-31-abnormal"
    resources = copy.deepcopy(load(name))
    alt = next(r for r in resources if r.get("id") == "alt-d28")
    infant = dict(alt["referenceRange"][0], age=years(0, 1))
    alt["referenceRange"] = [{"high": q(70, "U/L"), "age": years(18, 99)}, infant]
    answer = _monitoring(resources, name)
    summaries = [c["summary"] for c in answer["cards"]]
    assert "ALT >= 2 x ULN after the 30-day steroid course: consult pediatric hepatology now" in summaries
    assert not any("taper" in s.lower() for s in summaries)
    labels = [s.get("label", "") for c in answer["cards"] for s in c.get("suggestions") or ()]
    assert not any("taper" in label.lower() for label in labels)


# --- B3 / I1: a bound (Quantity.comparator) is not a measurement -------------------------------------------
@pytest.mark.parametrize(("value", "comparator", "expected", "shown"), [
    (90, None, ("met", "baseline-lft-documented", "eligible"), "90 U/L, ULN 45 U/L on 2026-11-17 (Observation/alt)"),
    (20, "<", ("met", "baseline-lft-documented", "eligible"), "\\<20 U/L, ULN 45 U/L on 2026-11-17 (Observation/alt)"),
    (90, ">=", ("review", "lft-above-2x-uln", "needs-review"), "\\>=90 U/L, ULN 45 U/L on 2026-11-17"),
    (100, "<", ("unknown", "lft-bound-unsettled", "incomplete"),
     "Baseline ALT <100 U/L is a bound, not a measurement: ask the lab for the value"),
])
def test_an_alt_bound_decides_only_where_it_settles_twice_the_uln(value, comparator, expected, shown):
    """ULN 45: "<20" is below 2 x ULN whatever it is; ">=90" is at least 2 x ULN; "<100" could be either; a
    measured 90 is not above 2 x ULN (label 8.6)."""
    answer = _answer(_edit("eligible-infant", "alt", valueQuantity=q(value, "U/L", comparator)))
    got = _criterion(answer, "baseline-liver-function")
    assert (got["status"], got["reasonCode"], got["overall"]) == expected
    assert shown in _text(answer)


def test_bounds_beyond_the_platelet_and_troponin_limits_raise_their_cautions():
    answer = _answer(_edit("eligible-infant", "platelets", valueQuantity=q(150, "10*3/uL", "<")))
    got = _criterion(answer, "baseline-platelets-troponin")
    assert (got["status"], got["reasonCode"]) == ("met", "baseline-platelets-low")
    assert "Baseline platelets <150 × 10^3/µL below the lab's range: confirm before infusion" in _text(answer)
    answer = _answer(_edit("eligible-infant", "troponin", valueQuantity=q(0.04, "ng/mL", ">")))
    got = _criterion(answer, "baseline-platelets-troponin")
    assert (got["status"], got["reasonCode"]) == ("met", "baseline-troponin-high")
    assert "Baseline troponin-I >0.04 ng/mL above the lab's range: assess before infusion" in _text(answer)


def test_a_troponin_bound_that_allows_both_is_unknown():
    answer = _answer(_edit("eligible-infant", "troponin", valueQuantity=q(0.1, "ng/mL", "<")))
    got = _criterion(answer, "baseline-platelets-troponin")
    assert (got["status"], got["reasonCode"]) == ("unknown", "baseline-plt-trop-range-unknown")
    assert ("troponin-I \\<0.1 ng/mL: a bound, not a measured value: above the lab's upper limit (0.04 ng/mL) "
            "cannot be excluded") in _text(answer)


def test_a_weight_bound_chooses_no_dose_band():
    answer = _answer(_edit("eligible-infant", "weight", valueQuantity=q(7.2, "kg", ">")))
    for cid in ("weight-in-label-range", "dose-within-label"):
        got = _criterion(answer, cid)
        assert (got["status"], got["reasonCode"]) == ("unknown", "weight-bound")
    assert _criterion(answer, "corticosteroid-plan")["status"] == "unknown"  # 7 mg/day: mg/kg needs a weight
    text = _text(answer)
    assert "weight >7.2 kg is a bound, not a measurement; re-weigh" in text
    assert "\\>7.2 kg on 2026-11-20 (Observation/weight)" in text
    assert "71894-129-05 matches" not in text and "kit" not in answer["cards"][0]["extension"][EXT]


def test_monitoring_does_not_taper_on_a_bound():
    name = "monitoring-day-31-normal"
    resources = copy.deepcopy(load(name))
    alt = next(r for r in resources if r.get("id") == "alt-d28")
    alt["valueQuantity"] = dict(alt["valueQuantity"], value=100, comparator="<")
    answer = _monitoring(resources, name)
    summaries = [c["summary"] for c in answer["cards"]]
    assert "Taper decision blocked: ALT <100 is a bound, not a measured value" in summaries
    labels = [s.get("label", "") for c in answer["cards"] for s in c.get("suggestions") or ()]
    assert not any("taper" in label.lower() for label in labels)


# --- B2: platelets / troponin-I without the lab's range --------------------------------------------------
def test_platelets_without_a_range_are_unknown_not_a_plain_met():
    answer = _answer(_edit("eligible-infant", "platelets", valueQuantity=q(40, "10*3/uL"), referenceRange=None))
    got = _criterion(answer, "baseline-platelets-troponin")
    assert (got["status"], got["reasonCode"], got["overall"]) == (
        "unknown", "baseline-plt-trop-range-unknown", "incomplete")
    text = _text(answer)
    assert "Baseline platelets/troponin-I cannot be judged against the lab's range: get the range or value" in text
    assert "platelet count 40 × 10^3/µL: no lower limit for this patient from the lab (reference range)" in text
    assert "40 × 10^3/µL on 2026-11-17 (Observation/platelets)" in text


def test_a_low_platelet_count_is_still_named_when_troponin_has_no_range():
    resources = _edit("eligible-infant", "troponin", referenceRange=None)
    next(r for r in resources if r.get("id") == "platelets")["valueQuantity"] = q(40, "10*3/uL")
    answer = _answer(resources)
    got = _criterion(answer, "baseline-platelets-troponin")
    assert (got["status"], got["reasonCode"]) == ("unknown", "baseline-plt-trop-range-unknown")
    assert ("Also, platelet count 40 × 10^3/µL is below the lab's lower limit (150 × 10^3/µL): confirm it and act "
            "on it before infusion.") in _text(answer)


def test_troponin_without_a_range_is_unknown_not_a_plain_met():
    answer = _answer(_edit("eligible-infant", "troponin", valueQuantity=q(0.5, "ng/mL"), referenceRange=None))
    got = _criterion(answer, "baseline-platelets-troponin")
    assert (got["status"], got["reasonCode"]) == ("unknown", "baseline-plt-trop-range-unknown")
    assert "troponin-I 0.5 ng/mL: no upper limit for this patient from the lab (reference range)" in _text(answer)


# --- I3: unit and code that disagree ------------------------------------------------------------------------
def test_a_weight_whose_unit_and_code_disagree_is_not_read():
    answer = _answer(_edit("eligible-infant", "weight", valueQuantity={"value": 7.2, "unit": "lb", "code": "kg"}))
    for cid in ("weight-in-label-range", "dose-within-label"):
        got = _criterion(answer, cid)
        assert (got["status"], got["reasonCode"]) == ("unknown", "weight-unreadable")
    text = _text(answer)
    assert "the weight on record could not be read; re-weigh" in text
    assert "unit 'lb' and code 'kg' disagree (7.2 lb or 7.2 kg): not read" in text
    assert "3.2659" not in text and "2.14 mg/kg/day" not in text


def test_a_unit_and_code_naming_the_same_unit_are_read():
    answer = _answer(_edit("eligible-infant", "weight", valueQuantity={"value": 7.2, "unit": "KG", "code": "kg"}))
    assert _criterion(answer, "dose-within-label")["status"] == "met"


# --- A4 / A6: titer method negated; a value that is no titer ------------------------------------------------
def test_a_negated_elisa_method_is_never_elisa():
    for method in ("non-ELISA", "not ELISA", "Non ELISA method", "ELISA not performed"):
        answer = _answer(_edit("eligible-infant", "aav9", method={"text": method}))
        got = _criterion(answer, "aav9-titer")
        assert (got["status"], got["reasonCode"], got["overall"]) == (
            "unknown", "titer-method-not-elisa", "incomplete"), method
        assert f"method {method}" in _text(answer)


def test_an_elisa_method_is_still_elisa():
    answer = _answer(_edit("eligible-infant", "aav9", method={"text": "ELISA (anti-AAV9 total antibody)"}))
    assert _criterion(answer, "aav9-titer")["status"] == "met"


def test_a_titer_outside_any_dilution_reads_as_not_a_titer_not_missing():
    answer = _answer(_edit("eligible-infant", "aav9", valueString=None,
                           valueQuantity={"value": 0.02, "unit": "titer"}))
    got = _criterion(answer, "aav9-titer")
    assert (got["status"], got["reasonCode"]) == ("unknown", "titer-unreadable")
    text = _text(answer)
    assert "AAV9 result on record is not a titer" in text and "AAV9 titer missing" not in text
    assert "AAV9 titer not readable: 1:0.02 is not a dilution 1:N" in text
