"""Pure rules and helpers: no Flask, no HTTP; explicit dates."""

from __future__ import annotations

import ast
import copy
import json
from datetime import date
from pathlib import Path

import pytest
from fhir_fake import hook_request, scenario_names

from cds_service import config
from cds_service.cards import CardBuilder, cards_for
from cds_service.coverage_cards import CoverageCards
from cds_service.data_access import SOURCES, gather
from cds_service.facts import Dose, GeneticResult, Measurement, Order, PatientFacts, SequenceVariant, Titer
from cds_service.hook_requests import draft_resources, zolgensma_order
from cds_service.orders import OrderSuggester
from cds_service.quantities import UnitError, parse_titer_string, titer_at_most, to_canonical
from cds_service.queries import eligibility_plan
from cds_service.rules import eligibility, treatment
from cds_service.rules.billing import billing_guidance
from cds_service.rules.dosing import kit_for_ndc, kit_for_weight
from cds_service.rules.eligibility import CRITERIA, evaluate
from cds_service.translate import Translator
from cds_service.wording import Wording

TODAY = date(2026, 11, 23)
ALL_SOURCES = {s.name for s in SOURCES}  # every data source read (and empty unless a test adds to it)


@pytest.mark.parametrize("text, expected", [
    ("1:25", (25, "=")), ("<1:25", (25, "<")), ("< 1:25", (25, "<")), ("≤1:50", (50, "<=")),
    (">1:50", (50, ">")), ("1/400", (400, "=")), ("1:50 (negative)", (50, "=")),
])
def test_titer_strings(text, expected):
    assert parse_titer_string(text) == expected


@pytest.mark.parametrize("text", ["negative", "25", "2:50", "", "1:"])
def test_titer_strings_rejected(text):
    with pytest.raises(ValueError):
        parse_titer_string(text)


@pytest.mark.parametrize("reciprocal, comparator, verdict", [
    (25, "<", True), (50, "=", True), (50, "<=", True), (100, "=", False), (100, "<", None),
    (50, ">", False), (25, ">", None), (51, ">=", False),
])
def test_titer_decisions(reciprocal, comparator, verdict):
    assert titer_at_most(reciprocal, comparator, 50) is verdict


@pytest.mark.parametrize("analyte, value, unit, expected", [
    ("weight", 7200, "g", 7.2), ("weight", 10, "[lb_av]", 4.5359), ("bilirubin", 17.1, "umol/L", 1.0),
    ("troponin-i", 176, "ng/L", 0.176), ("troponin-i", 0.176, "ug/L", 0.176), ("platelets", 250, "10*9/L", 250),
    ("platelets", 250000, "/uL", 250), ("gestational-age", 259, "d", 37), ("temperature", 100.4, "[degF]", 38.0),
])
def test_unit_conversion(analyte, value, unit, expected):
    assert to_canonical(analyte, value, unit) == pytest.approx(expected, rel=1e-3)


def test_unknown_unit_is_refused_not_guessed():
    with pytest.raises(UnitError):
        to_canonical("bilirubin", 1.0, "mg%")


# The verified rows of the label kit table (clinical-facts.md 1.3 and 4).
@pytest.mark.parametrize("weight, band, volume, small, large, ndc", [
    (2.6, (2.6, 3.0), 16.5, 0, 2, "71894-120-02"), (3.5, (3.1, 3.5), 19.3, 2, 1, "71894-121-03"),
    (3.6, (3.6, 4.0), 22.0, 1, 2, "71894-122-03"), (8.5, (8.1, 8.5), 46.8, 1, 5, "71894-131-06"),
    (13.5, (13.1, 13.5), 74.3, 0, 9, "71894-141-09"), (14.0, (13.6, 14.0), 77.0, 2, 8, "71894-142-10"),
    (17.2, (17.1, 17.5), 96.3, 1, 11, "71894-149-12"), (21.0, (20.6, 21.0), 115.5, 0, 14, "71894-156-14"),
])
def test_kit_table(weight, band, volume, small, large, ndc):
    kit = kit_for_weight(weight)
    assert (kit.band_kg, kit.dose_volume_ml, kit.vials_5_5ml, kit.vials_8_3ml, kit.ndc) == (
        band, volume, small, large, ndc)
    assert 2 <= kit.vial_count <= 14
    assert kit_for_ndc(ndc).ndc == ndc


def test_every_band_kit_covers_its_dose_and_only_derived_rows_are_unverified():
    unverified = []
    for tenths in range(26, 211):
        kit = kit_for_weight(tenths / 10)
        assert kit.vials_5_5ml * 5.5 + kit.vials_8_3ml * 8.3 >= kit.dose_volume_ml
        if not kit.ndc_verified:
            unverified.append(kit.band_kg)
    assert set(unverified) == {(8.6, 9.0), (9.1, 9.5), (9.6, 10.0), (10.1, 10.5), (10.6, 11.0), (11.1, 11.5),
                               (11.6, 12.0), (17.6, 18.0), (18.1, 18.5), (18.6, 19.0), (19.1, 19.5),
                               (19.6, 20.0), (20.1, 20.5), (20.6, 21.0)}


@pytest.mark.parametrize("weight", [2.5, 21.1, 0.0, 30])
def test_no_kit_outside_label_table(weight):
    assert kit_for_weight(weight) is None


def _facts(**changes) -> PatientFacts:
    f = PatientFacts("Patient/p", birth_date=date(2026, 3, 10), sources_read=set(ALL_SOURCES))
    f.order = Order("MedicationRequest/z", "zolgensma", "draft", "Zolgensma", dose=Dose(41.3, "mL"),
                    planned_date=date(2026, 12, 1))
    f.measurements = [Measurement("weight", 7.2, "kg", date(2026, 11, 20), "Observation/w")]
    for key, value in changes.items():
        setattr(f, key, value)
    return f


def _status(facts, criterion, today=TODAY):
    return evaluate(facts, today).finding(criterion)


def test_nothing_is_met_from_absence_of_data():
    facts = PatientFacts("Patient/p")  # no sources read, nothing known
    facts.order = Order("MedicationRequest/z", "zolgensma", "draft", "Zolgensma")
    evaluation = evaluate(facts, TODAY)
    assert {f.status for f in evaluation.findings} == {"unknown"}
    assert evaluation.overall == "incomplete"
    assert [f.criterion for f in evaluation.findings] == list(CRITERIA)


def test_empty_sources_that_were_read_confirm_only_exclusions():
    evaluation = evaluate(_facts(), TODAY)
    met = {f.criterion for f in evaluation.findings if f.status == "met"}
    # Exclusion criteria may rest on a negative search of a source that was read...
    assert {"no-advanced-sma", "no-active-infection", "one-time-dose"} <= met
    # ...but nothing that needs a positive result does.
    for c in ("smn1-biallelic", "aav9-titer", "baseline-liver-function", "corticosteroid-plan", "benefit-covered",
              "specialist-prescriber"):
        assert evaluation.finding(c).status == "unknown", c


@pytest.mark.parametrize("planned, status", [(date(2028, 3, 9), "met"), (date(2028, 3, 10), "not-met")])
def test_age_boundary_at_second_birthday(planned, status):
    facts = _facts()
    facts.order = Order("MedicationRequest/z", "zolgensma", "draft", "Zolgensma", planned_date=planned)
    assert _status(facts, "age-under-2").status == status


def test_age_uses_today_when_no_planned_date_and_says_so():
    facts = _facts()
    facts.order = Order("MedicationRequest/z", "zolgensma", "draft", "Zolgensma")
    finding = _status(facts, "age-under-2", today=date(2028, 2, 20))
    assert finding.status == "met" and finding.reason == "under-2-turning-2-soon"
    assert "today" in finding.params["basis"]


def test_leap_day_birthday():
    facts = _facts(birth_date=date(2024, 2, 29))
    today = date(2026, 2, 1)  # the planned dates must not be in the past to be used
    facts.order = Order("MedicationRequest/z", "zolgensma", "draft", "Zolgensma", planned_date=date(2026, 2, 28))
    assert _status(facts, "age-under-2", today=today).status == "met"
    facts.order = Order("MedicationRequest/z", "zolgensma", "draft", "Zolgensma", planned_date=date(2026, 3, 1))
    assert _status(facts, "age-under-2", today=today).status == "not-met"


@pytest.mark.parametrize("ga_weeks, born, status", [(28, date(2026, 10, 20), "not-met"),
                                                   (36, date(2026, 11, 10), "met"),
                                                   (None, date(2026, 10, 1), "unknown"),
                                                   (None, date(2026, 6, 1), "met")])
def test_gestational_age(ga_weeks, born, status):
    m = [Measurement("weight", 3.0, "kg", date(2026, 11, 20), "Observation/w")]
    if ga_weeks:
        m.append(Measurement("gestational-age", ga_weeks, "wk", born, "Observation/ga"))
    assert _status(_facts(birth_date=born, measurements=m), "gestational-age").status == status


@pytest.mark.parametrize("titer, when, method, status, reason", [
    (Titer(25, "<", None, "O/t", "ELISA", "<1:25", "elisa"), date(2026, 11, 20), "ELISA", "met",
     "titer-within-limit"),
    (Titer(50, "=", None, "O/t", None, "1:50"), date(2026, 11, 20), None, "unknown",
     "titer-within-limit-method-unrecorded"),
    (Titer(100, "=", None, "O/t", "ELISA", "1:100"), date(2026, 11, 20), "ELISA", "not-met", "titer-above-limit"),
    (Titer(100, "<", None, "O/t", "ELISA", "<1:100"), date(2026, 11, 20), "ELISA", "unknown", "titer-inconclusive"),
    (Titer(25, "<", None, "O/t", "ELISA", "<1:25"), date(2026, 11, 16), "ELISA", "unknown", "titer-stale"),
    (Titer(25, "<", None, "O/t", "neutralizing (TI)", "<1:25", "other"), date(2026, 11, 20), "x", "unknown",
     "titer-method-not-elisa"),
])
def test_aav9_titer(titer, when, method, status, reason):
    t = Titer(titer.reciprocal, titer.comparator, when, titer.reference, titer.method, titer.reported,
              titer.method_kind)
    finding = _status(_facts(titers=[t]), "aav9-titer")
    assert (finding.status, finding.reason) == (status, reason)


@pytest.mark.parametrize("dose, per_day, status", [(7.0, 1, "met"), (5.0, 1, "not-met"), (3.5, 2, "met"),
                                                   (None, 1, "unknown")])
def test_steroid_dose_per_kg(dose, per_day, status):
    order = Order("MedicationRequest/s", "corticosteroid", "active", "prednisolone",
                  dose=Dose(dose, "mg") if dose else None, per_day=per_day, start=date(2026, 11, 30),
                  end=date(2026, 12, 29))
    assert _status(_facts(steroid_orders=[order]), "corticosteroid-plan").status == status


def test_steroid_starting_on_infusion_day_is_late():
    order = Order("MedicationRequest/s", "corticosteroid", "active", "prednisolone", dose=Dose(7, "mg"), per_day=1,
                  start=date(2026, 12, 1))
    assert _status(_facts(steroid_orders=[order]), "corticosteroid-plan").reason == "steroid-starts-late"


@pytest.mark.parametrize("dose, status", [(Dose(41.3, "mL"), "met"), (Dose(41.2, "mL"), "met"),
                                          (Dose(39.6, "mL"), "not-met"), (Dose(8.25e14, "vg"), "met"),
                                          (Dose(7.92e14, "vg"), "not-met"), (Dose(1.1e14, "vg/kg"), "unknown"),
                                              (Dose(1.0e14, "vg/kg"), "not-met"),
                                          (None, "unknown")])
def test_ordered_dose_against_band(dose, status):
    facts = _facts()
    facts.order = Order("MedicationRequest/z", "zolgensma", "draft", "Zolgensma", dose=dose,
                        planned_date=date(2026, 12, 1))
    assert _status(facts, "dose-within-label").status == status


def test_kit_ndc_of_other_band_is_not_met():
    facts = _facts()
    facts.order = Order("MedicationRequest/z", "zolgensma", "draft", "Zolgensma", kit_ndc="71894-128-05",
                        planned_date=date(2026, 12, 1))
    assert _status(facts, "dose-within-label").reason == "kit-mismatch"


def test_stale_weight_is_unknown_for_dose_and_range():
    facts = _facts(measurements=[Measurement("weight", 7.2, "kg", date(2026, 10, 1), "Observation/w")])
    evaluation = evaluate(facts, TODAY)
    assert evaluation.finding("weight-in-label-range").reason == "weight-stale"
    assert evaluation.finding("dose-within-label").status == "unknown"
    assert evaluation.kit is None


@pytest.mark.parametrize("genetics, status", [
    ([GeneticResult("O/g", None, smn1_copies=0)], "met"),
    ([GeneticResult("O/g", None, smn1_copies=1, variants=[SequenceVariant("c.815a>g", "c.815A>G", "pathogenic")])],
     "met"),
    ([GeneticResult("O/g", None, smn1_copies=1)], "unknown"),
    ([GeneticResult("O/g", None, smn1_copies=2)], "not-met"),
    ([GeneticResult("O/g", None, smn1_copies=0), GeneticResult("O/h", None, smn1_copies=2)], "review"),
])
def test_smn1(genetics, status):
    assert _status(_facts(genetics=genetics), "smn1-biallelic").status == status


def test_lft_above_twice_uln_is_review_and_missing_uln_is_said():
    labs = [Measurement(a, v, "U/L", date(2026, 11, 17), f"Observation/{a}", ref_high=h)
            for a, v, h in (("alt", 100, 45), ("ast", 40, 60))]
    labs += [Measurement("bilirubin", 0.4, "mg/dL", date(2026, 11, 17), "Observation/b"),
             Measurement("pt", 12, "s", date(2026, 11, 17), "Observation/pt")]
    facts = _facts()
    facts.measurements += labs
    assert _status(facts, "baseline-liver-function").status == "review"
    labs[0] = Measurement("alt", 30, "U/L", date(2026, 11, 17), "Observation/alt", ref_high=45)
    facts.measurements = facts.measurements[:1] + labs
    finding = _status(facts, "baseline-liver-function")
    assert (finding.status, finding.reason) == ("unknown", "baseline-lft-documented-uln-unknown")
    assert finding.params["no_uln"] == "total bilirubin, PT"  # R3 (review 2026-11-24c): PT without a range too


def test_every_reason_code_in_the_rules_is_worded():
    """Reason codes are string literals passed to ctx.finding(...); each needs wording in cards/."""
    wording = json.loads((Path(__file__).parent.parent / "cards" / "criteria.json").read_text())
    modules = (eligibility, treatment)
    used = set()
    for node in (n for m in modules for n in ast.walk(ast.parse(Path(m.__file__).read_text()))):
        if isinstance(node, ast.Call) and getattr(node.func, "attr", "") == "finding" and len(node.args) >= 3:
            code = node.args[2]
            if isinstance(code, ast.Constant):
                used.add(code.value)
            elif isinstance(code, ast.IfExp):
                used |= {code.body.value, code.orelse.value}
    worded = set(wording["commonReasons"]) | {r for c in wording["criteria"].values() for r in c["reasons"]}
    assert used and used <= worded, used - worded
    assert set(wording["criteria"]) == set(CRITERIA)


def test_prenatal_gestational_age_estimate_is_carried_to_birth():
    born = date(2026, 11, 1)
    m = [Measurement("weight", 3.0, "kg", date(2026, 11, 20), "Observation/w"),
         Measurement("gestational-age-estimated", 30, "wk", date(2026, 9, 20), "Observation/ga")]  # 6 wk before
    finding = _status(_facts(birth_date=born, measurements=m), "gestational-age")
    assert finding.status == "met" and finding.params["ga"] == "36"  # 30 + 6 weeks; + 4.3 postnatal >= 37


@pytest.mark.parametrize("name", scenario_names())
def test_rules_never_change_the_facts(name):
    """Facts and findings are plain dataclasses (for speed); the rules and card building only read them."""
    body = hook_request(name)
    context = body["context"]
    drafts = draft_resources(context)
    order = zolgensma_order(context, body["hook"], drafts)
    if order is None:
        assert name == "no-zolgensma"  # the service answers no cards: nothing is evaluated
        return
    gathered = gather(body, config.load({}, environ={}), eligibility_plan({}))
    facts = Translator(context["patientId"]).build(gathered.resources, order, drafts, gathered.issues, TODAY)
    facts_before = copy.deepcopy(facts)
    evaluation = evaluate(facts, TODAY)
    evaluation_before = copy.deepcopy(evaluation)
    guidance = billing_guidance(evaluation, facts)
    wording = Wording.load(config.DEFAULTS["CARDS_DIR"])
    suggester = OrderSuggester(wording.orders, evaluation, facts, lambda: "id")
    builder = CardBuilder(wording, lambda: "id")
    cards_for(evaluation, facts, builder, suggester.for_finding, suggester.extension())
    suggester.monitoring_card(builder)
    CoverageCards(wording.billing, builder).all(guidance)
    assert facts == facts_before
    assert evaluation == evaluation_before
