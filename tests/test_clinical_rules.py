"""Clinical rule details a reviewer signs (issue 12: weight band, gestational age, steroid course, planned
date, risks that are met but need a card). Pure rules: explicit dates, no HTTP."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest

from cds_service.data_access import SOURCES
from cds_service.facts import Dose, Measurement, Order, PatientFacts
from cds_service.quantities import weight_band
from cds_service.rules.dosing import kit_for_weight
from cds_service.rules.eligibility import evaluate

TODAY = date(2026, 11, 23)
ALL_SOURCES = {s.name for s in SOURCES}  # every data source read (and empty unless a test adds to it)


def _facts(weight=7.2, **changes) -> PatientFacts:
    f = PatientFacts("Patient/p", birth_date=date(2026, 3, 10), sources_read=set(ALL_SOURCES))
    f.order = Order("MedicationRequest/z", "zolgensma", "draft", "Zolgensma", dose=Dose(41.3, "mL"),
                    planned_date=date(2026, 12, 1))
    f.measurements = [Measurement("weight", weight, "kg", date(2026, 11, 20), "Observation/w")]
    for key, value in changes.items():
        setattr(f, key, value)
    return f


# --- item 5: weight band ----------------------------------------------------------------------------
@pytest.mark.parametrize("weight, band, volume", [
    (3.05, (3.1, 3.5), 19.3),  # between 2.6-3.0 and 3.1-3.5: the higher band (round-half-even gave 2.6-3.0)
    (3.0, (2.6, 3.0), 16.5), (3.01, (3.1, 3.5), 19.3), (2.6, (2.6, 3.0), 16.5), (7.25, (7.1, 7.5), 41.3),
    (7.51, (7.6, 8.0), 44.0), (20.95, (20.6, 21.0), 115.5),
])
def test_a_weight_between_bands_takes_the_higher_band(weight, band, volume):
    kit = kit_for_weight(weight)
    assert (kit.band_kg, kit.dose_volume_ml) == (band, volume)


def test_no_weight_in_the_table_gets_a_band_below_it():
    """Every weight 2.60-21.00 kg in 0.01 kg steps: the band's upper limit (the dosing weight) is at or above
    the weight and less than 0.5 kg above it (the label doses at the upper limit of the patient's band)."""
    for hundredths in range(260, 2101):
        weight = hundredths / 100
        low, upper = weight_band(weight)
        assert weight <= upper < weight + 0.5, weight
        assert Decimal(str(upper)) % Decimal("0.5") == 0 and low == round(upper - 0.4, 1)


@pytest.mark.parametrize("weight", [2.55, 2.56, 2.57, 2.58, 2.59, 21.01, 21.02, 21.03, 21.04, 21.05])
def test_range_is_checked_on_the_weight_as_measured(weight):
    assert weight_band(weight) is None and kit_for_weight(weight) is None
    evaluation = evaluate(_facts(weight=weight), TODAY)
    assert evaluation.finding("weight-in-label-range").status == "not-met"
    assert evaluation.finding("dose-within-label").status == "not-met"


def test_weight_converted_from_pounds_at_a_band_limit_is_not_pushed_up_by_float_noise():
    assert weight_band(6.613867865546327 * 0.45359237) == (2.6, 3.0)  # 3.0 kg expressed in lb
    assert weight_band(2600 * 1e-3) == (2.6, 3.0)


def test_correct_order_for_3_05_kg_is_met():
    f = _facts(weight=3.05)
    f.order.dose = Dose(19.3, "mL")
    assert evaluate(f, TODAY).finding("dose-within-label").status == "met"
    f.order.dose = Dose(16.5, "mL")  # the lower band's volume: under the label dose
    assert evaluate(f, TODAY).finding("dose-within-label").status == "not-met"


# --- item 11: a planned date before today is not a usable basis ---------------------------------------
@pytest.mark.parametrize("planned, as_of, basis, notes", [
    (date(2025, 12, 1), TODAY, "today", ("planned-date-in-past",)),
    (date(2026, 11, 22), TODAY, "today", ("planned-date-in-past",)),
    (TODAY, TODAY, "planned-infusion-date", ()),
    (date(2026, 12, 1), date(2026, 12, 1), "planned-infusion-date", ()),
])
def test_planned_date_before_today_is_replaced_by_today(planned, as_of, basis, notes):
    f = _facts()
    f.order.planned_date = planned
    evaluation = evaluate(f, TODAY)
    assert (evaluation.as_of, evaluation.as_of_basis, evaluation.notes) == (as_of, basis, notes)
    if notes:
        assert planned.isoformat() in evaluation.finding("age-under-2").params["basis"]


# --- item 10: met, but with a risk that needs a card -------------------------------------------------
def _baseline(platelets=(320, 150), troponin=(0.01, 0.04), alt_high=45.0):
    day = date(2026, 11, 17)
    return [Measurement("weight", 7.2, "kg", date(2026, 11, 20), "Observation/w"),
            Measurement("alt", 130, "U/L", day, "Observation/alt", ref_high=alt_high),
            Measurement("ast", 40, "U/L", day, "Observation/ast", ref_high=60),
            Measurement("bilirubin", 0.4, "mg/dL", day, "Observation/tb", ref_high=1.2),
            Measurement("pt", 12, "s", day, "Observation/pt", ref_high=13.5),
            Measurement("platelets", platelets[0], "10*3/uL", day, "Observation/plt", ref_low=platelets[1]),
            Measurement("troponin-i", troponin[0], "ng/mL", day, "Observation/trop", ref_high=troponin[1])]


@pytest.mark.parametrize("platelets, troponin, reason, caution", [
    ((320, 150), (0.01, 0.04), "baseline-plt-trop-documented", False),
    ((112, 150), (0.01, 0.04), "baseline-platelets-low", True),
    ((320, 150), (0.09, 0.04), "baseline-troponin-high", True),
    ((112, 150), (0.09, 0.04), "baseline-platelets-low-troponin-high", True),
])
def test_abnormal_baseline_blood_is_met_with_a_caution(platelets, troponin, reason, caution):
    finding = evaluate(_facts(measurements=_baseline(platelets, troponin, alt_high=150)), TODAY).finding(
        "baseline-platelets-troponin")
    assert (finding.status, finding.reason, finding.caution) == ("met", reason, caution)


def test_alt_without_a_uln_is_unknown_naming_it():
    """Above 2 x ULN the criterion goes to review: with no ULN that cannot be excluded, so it is never met."""
    finding = evaluate(_facts(measurements=_baseline(alt_high=None)), TODAY).finding("baseline-liver-function")
    assert (finding.status, finding.reason, finding.params["no_uln"]) == (
        "unknown", "baseline-lft-documented-uln-unknown", "ALT")


@pytest.mark.parametrize("planned, caution", [(None, True), (date(2026, 12, 1), False)])
def test_turning_2_soon_needs_a_card_only_without_a_planned_date(planned, caution):
    f = _facts(birth_date=date(2024, 12, 5))
    f.order.planned_date = planned
    finding = evaluate(f, TODAY).finding("age-under-2")
    assert (finding.status, finding.caution) == ("met", caution)
    if caution:
        assert finding.params["days_left"] == 12


# --- item 6: gestational age at birth -----------------------------------------------------------------
def _ga(*measurements, born=date(2026, 11, 3)):
    m = [Measurement("weight", 2.9, "kg", date(2026, 11, 20), "Observation/w"), *measurements]
    return evaluate(_facts(birth_date=born, measurements=m), TODAY).finding("gestational-age")


def test_a_later_estimate_never_overrides_ga_at_birth():
    finding = _ga(Measurement("gestational-age", 32, "wk", date(2026, 11, 3), "Observation/birth"),
                  Measurement("gestational-age-estimated", 34, "wk", date(2026, 11, 17), "Observation/est"))
    assert (finding.status, finding.reason, finding.params["ga"], finding.params["corrected"]) == (
        "not-met", "before-term", "32", "36.0")
    assert [e.reference for e in finding.evidence] == ["Observation/birth"]


def test_ga_at_birth_recorded_later_is_still_ga_at_birth():
    finding = _ga(Measurement("gestational-age", 39, "wk", date(2026, 11, 20), "Observation/birth"))
    assert (finding.status, finding.params["ga"]) == ("met", "39")


@pytest.mark.parametrize("weeks, when, status, reason, at_birth", [
    (34, date(2026, 11, 17), "not-met", "before-term-from-estimate", "32"),  # GA on its date, 2 weeks after birth
    (39, date(2026, 11, 3), "met", "term-reached-from-estimate", "39"),  # recorded on the birth date
    (30, date(2026, 9, 22), "met", "term-reached-from-estimate", "36"),  # prenatal scan, 6 weeks before birth
    (16, date(2026, 11, 17), "unknown", "ga-estimate-implausible", "14"),  # 14 weeks at birth: not GA on its date
])
def test_a_dated_estimate_without_ga_at_birth_is_carried_to_birth(weeks, when, status, reason, at_birth):
    finding = _ga(Measurement("gestational-age-estimated", weeks, "wk", when, "Observation/est"))
    assert (finding.status, finding.reason, finding.params["ga"]) == (status, reason, at_birth)


# --- item 7: corticosteroid course ----------------------------------------------------------------------
def _steroid(dose=7.0, unit="mg", start=date(2026, 11, 30), end=date(2026, 12, 29), status="active", ref="s"):
    return Order(f"MedicationRequest/{ref}", "corticosteroid", status, "prednisolone", dose=Dose(dose, unit),
                 per_day=1, start=start, end=end)


def _course(*orders, today=TODAY, planned=date(2026, 12, 1)):
    f = _facts(steroid_orders=list(orders))
    f.order.planned_date = planned
    return evaluate(f, today).finding("corticosteroid-plan")


@pytest.mark.parametrize("order, status, reason", [
    (_steroid(), "met", "steroid-plan-ok"),  # day -1 through day 28: the label's 30 days
    (_steroid(start=date(2026, 11, 20)), "met", "steroid-plan-ok"),  # started earlier, still by day -1
    (_steroid(end=date(2026, 12, 28)), "not-met", "steroid-course-short"),  # ends day 27: 29 days
    (_steroid(end=date(2026, 12, 6)), "not-met", "steroid-course-short"),  # a 7-day course
    (_steroid(start=date(2026, 12, 1)), "not-met", "steroid-starts-late"),
    (_steroid(end=None), "unknown", "steroid-course-unstated"),
    (_steroid(start=None), "unknown", "steroid-course-unstated"),
    (_steroid(end=date(2026, 9, 24)), "unknown", "steroid-plan-ended"),  # period ended, status still active
    (_steroid(status="completed"), "unknown", "steroid-plan-ended"),
    (_steroid(status="stopped"), "unknown", "steroid-plan-ended"),
    (_steroid(dose=7.0, unit="mg/d"), "met", "steroid-plan-ok"),  # total per day, 0.97 mg/kg/day
    (_steroid(dose=1.0, unit="mg/kg/d"), "met", "steroid-plan-ok"),
    (_steroid(dose=14.0, unit="mg/d"), "not-met", "steroid-dose-off"),
])
def test_course_must_start_by_day_minus_1_and_run_30_days(order, status, reason):
    finding = _course(order)
    assert (finding.status, finding.reason) == (status, reason)


def test_a_7_day_course_says_how_many_days_it_covers():
    finding = _course(_steroid(end=date(2026, 12, 6)))
    assert (finding.params["covered"], finding.params["last_day"]) == (7, "2026-12-29")


def test_course_without_a_usable_planned_date_is_unknown_not_met():
    assert _course(_steroid(), planned=None).reason == "steroid-timing-unverifiable"
    assert _course(_steroid(), planned=date(2025, 12, 1)).reason == "steroid-timing-unverifiable"


def test_mg_per_day_needs_a_current_weight():
    f = _facts(steroid_orders=[_steroid(unit="mg/d")], measurements=[])
    assert evaluate(f, TODAY).finding("corticosteroid-plan").reason == "steroid-dose-unverifiable"


def test_concurrent_orders_are_added_up_and_reviewed():
    finding = _course(_steroid(7.0, ref="a"), _steroid(14.0, ref="b"))
    # 0.97 + 1.94 as shown
    assert (finding.status, finding.reason, finding.params["total"]) == ("review", "steroid-orders-concurrent", "2.91")
    assert [e.reference for e in finding.evidence][:2] == ["MedicationRequest/a", "MedicationRequest/b"]


def test_sequential_orders_go_to_review_and_an_ended_one_is_ignored():
    first = _steroid(end=date(2026, 12, 14), ref="a")
    second = _steroid(start=date(2026, 12, 15), ref="b")
    assert _course(first, second).reason == "steroid-orders-several"
    old = _steroid(start=date(2026, 8, 1), end=date(2026, 8, 30), ref="old")
    assert _course(old, _steroid(ref="new")).reason == "steroid-plan-ok"


@pytest.mark.parametrize("repeat, end", [
    ({"boundsPeriod": {"start": "2026-11-30", "end": "2026-12-29"}}, date(2026, 12, 29)),
    ({"boundsPeriod": {"start": "2026-11-30"}, "count": 30, "frequency": 1, "period": 1, "periodUnit": "d"},
     date(2026, 12, 29)),
    ({"boundsPeriod": {"start": "2026-11-30"}, "count": 60, "frequency": 2, "period": 1, "periodUnit": "d"},
     date(2026, 12, 29)),
    ({"boundsDuration": {"value": 30, "unit": "d", "system": "http://unitsofmeasure.org", "code": "d"},
      "frequency": 1, "period": 1, "periodUnit": "d"}, date(2026, 12, 29)),  # start from validityPeriod
    ({"boundsPeriod": {"start": "2026-11-30"}}, None),
])
def test_translation_reads_the_course_end(repeat, end):
    from cds_service.translate import Translator

    order = {"resourceType": "MedicationRequest", "id": "s", "status": "active", "intent": "order",
             "subject": {"reference": "Patient/p"},
             "medicationCodeableConcept": {"text": "prednisolone 15 mg/5 mL oral solution"},
             "dispenseRequest": {"validityPeriod": {"start": "2026-11-30"}},
             "dosageInstruction": [{"timing": {"repeat": repeat},
                                    "doseAndRate": [{"doseQuantity": {"value": 7, "unit": "mg/d"}}]}]}
    facts = Translator("p").build({"medication-requests": [order]}, {}, [], [], TODAY)
    (steroid,) = facts.steroid_orders
    assert (steroid.start, steroid.end, steroid.dose) == (date(2026, 11, 30), end, Dose(7.0, "mg/d"))


# --- item 9: liver injury after the infusion ------------------------------------------------------------
def _monitoring(alt, bili=0.5, pt=12.2, inr=None, day=10):
    from datetime import timedelta

    from cds_service.facts import PriorDose
    from cds_service.rules.monitoring import evaluate_monitoring

    day0 = TODAY - timedelta(days=day)
    drawn = TODAY - timedelta(days=1)
    m = [Measurement("alt", alt, "U/L", drawn, "Observation/alt", ref_high=45),
         Measurement("ast", 40, "U/L", drawn, "Observation/ast", ref_high=60),
         Measurement("bilirubin", bili, "mg/dL", drawn, "Observation/tb", ref_high=1.2),
         Measurement("pt", pt, "s", drawn, "Observation/pt", ref_high=13.5)]
    if inr is not None:
        m.append(Measurement("inr", inr, "{INR}", drawn, "Observation/inr", ref_high=1.2))
    facts = PatientFacts("Patient/p", measurements=m, prior_doses=[PriorDose("MedicationAdministration/z", day0, "")])
    return [(a.code, a.severity) for a in evaluate_monitoring(facts, TODAY).alerts]


@pytest.mark.parametrize("alt, bili, pt, inr, day, expected", [
    (405, 3.1, 16.5, None, 10, [("acute-liver-injury", "critical")]),  # issue example, before day 28
    (135, 2.5, 12.2, None, 10, [("acute-liver-injury", "critical")]),  # ALT 3 x ULN, bilirubin 2.08 x ULN
    (135, 2.4, 12.2, None, 10, [("alt-ast-2x", "warning")]),  # bilirubin exactly 2 x ULN: not > 2
    (130, 3.0, 12.2, None, 10, [("alt-ast-2x", "warning")]),  # ALT 2.9 x ULN: not Hy's law
    (200, 0.5, 12.2, 1.5, 10, [("acute-liver-injury", "critical")]),  # coagulopathy by INR
    (200, 0.5, 15.0, None, 10, [("acute-liver-injury", "critical")]),  # coagulopathy by PT seconds
    (200, 0.5, 14.0, None, 10, [("alt-ast-2x", "warning")]),  # PT above ULN but under 15 s
    (405, 3.1, 12.2, None, 35, [("acute-liver-injury", "critical")]),  # replaces the after-course card
])
def test_transaminase_with_jaundice_or_coagulopathy_is_critical_at_any_day(alt, bili, pt, inr, day, expected):
    alerts = [a for a in _monitoring(alt, bili, pt, inr, day) if a[0] in ("acute-liver-injury", "alt-ast-2x",
                                                                         "alt-ast-2x-after-course")]
    assert alerts == expected


def test_an_order_entered_in_error_is_neither_a_plan_nor_evidence_of_one():
    finding = _course(_steroid(status="entered-in-error"))
    assert (finding.reason, finding.evidence) == ("no-steroid-plan", ())
