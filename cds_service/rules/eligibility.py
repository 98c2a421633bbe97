"""Zolgensma eligibility: policy DR.005.D criteria 1-11, renewal, product line, and label checks.

Pure: takes PatientFacts and explicit dates, returns an Evaluation. No I/O, no Flask, no FHIR.
Each rule returns one Finding whose `reason` is a code worded in cards/criteria.json.

The one safety principle: a criterion is `met` only on positive evidence, or on a negative search
of a source that was actually read, and read completely (an empty problem list that was retrieved is
evidence; a fetch that failed, a truncated list or an unreadable entry is not: rules/integrity.py).
Missing data is `unknown`.
"""

from __future__ import annotations

from datetime import date, timedelta

from ..facts import TITER_NOT_READABLE, Evidence, Measurement, PatientFacts
from ..quantities import add_years, age_in_months, plain_list, scientific, titer_at_most
from ..terminology import (
    ADVANCED_SMA_CODES,
    ADVANCED_SMA_TEXT,
    FEVER_THRESHOLD_C,
    FEVER_WINDOW_DAYS,
    INFECTION_ICD10_PREFIXES,
    INFECTION_SNOMED_CODES,
    INFECTION_TEXT,
    NONINFECTIVE_ICD10_PREFIXES,
    NONINFECTIVE_TEXT,
    NOT_SMA_EVIDENCE,
    SMA_DIAGNOSES,
)
from .dosing import (
    CONCENTRATION_VG_PER_ML,
    DOSE_VG_PER_KG,
    MAX_WEIGHT_KG,
    MIN_WEIGHT_KG,
    ML_PER_KG,
    kit_for_ndc,
    kit_for_weight,
)
from .findings import MET, NOT_MET, REVIEW, UNKNOWN, Evaluation, Finding, overall
from .integrity import disagreements, guard, merge, variants

# Policy DR.005.D criterion 6: baseline titer <= 1:50 by ELISA.
TITER_LIMIT = 50.0
# Billing guide, "Top denial #1": titer "current within 2 weeks of infusion" (payer practice,
# not in the label: clinical-facts.md 1.8e).
TITER_MAX_AGE_DAYS = 14
# Billing guide workflow "Day -14: baseline labs + age/weight verification". We accept weights up to
# 14 days before the infusion and baseline labs up to 30 days before (project choice: the guide draws
# at day -14 and infusions slip; the card shows each date).
WEIGHT_MAX_AGE_DAYS = 14
BASELINE_LAB_MAX_AGE_DAYS = 30
# Full term: 37 completed weeks (clinical-facts.md 5.1 row 4, site convention). A live-born infant has
# a gestational age of at least 20 weeks, so 17 weeks of postnatal age reaches term whatever the GA.
FULL_TERM_WEEKS = 37
MIN_GESTATIONAL_AGE_WEEKS = 20
# A GA at birth derived from a dated estimate above this is not physiological (post-term births end by
# about 42-43 weeks; ACOG "post-term" >= 42 weeks): the estimate is not read as GA on its date.
MAX_GESTATIONAL_AGE_WEEKS = 44
# FDA label 2.1: prednisolone 1 mg/kg/day; clinical-facts.md 5.1 row 7 accepts 0.9-1.1 mg/kg/day.
STEROID_MG_PER_KG_RANGE = (0.9, 1.1)
# FDA label 2.1: "for a total of 30 days" starting the day before infusion: day -1 through day 28
# (clinical-facts.md 1.5; the same course end as rules/monitoring.STEROID_COURSE_END_DAY).
STEROID_COURSE_DAYS = 30
# How close an ordered dose must be to the label band dose.
VOLUME_TOLERANCE_ML = 0.1
VG_RELATIVE_TOLERANCE = 0.01
AGE_WARNING_DAYS = 30

CRITERIA = (
    "specialist-prescriber", "smn1-biallelic", "no-advanced-sma", "gestational-age", "age-under-2",
    "aav9-titer", "corticosteroid-plan", "baseline-liver-function", "baseline-platelets-troponin",
    "no-active-infection", "dose-within-label", "weight-in-label-range", "one-time-dose", "benefit-covered",
)
ACTIVE_ORDER_STATUSES = ("active", "draft", "on-hold")


def evaluate(facts: PatientFacts, today: date, target: date | None = None) -> Evaluation:
    """Evaluate every criterion as of the planned infusion date when it is usable, otherwise `today`.

    A planned date before today is not a usable basis (an infusion cannot be planned in the past; typically
    a typo such as last year): ages, windows and the steroid timing are then evaluated as of today, and the
    evaluation carries the note `planned-date-in-past` (a warning card and the machine-readable outcome).

    `target` replaces the order's planned date (the readiness plan asks "would the criteria hold on this
    date?" before any order exists). With no order, criterion 11 (the ordered dose) is not evaluated."""
    stated = target or (facts.order.planned_date if facts.order else None)
    planned = stated if stated and stated >= today else None
    as_of, basis = (planned, "planned-infusion-date") if planned else (today, "today")
    notes = ("planned-date-in-past",) if stated and stated < today else ()
    groups = disagreements(facts, as_of)
    rules = _RULES if facts.order else tuple(r for r in _RULES if r is not dose_within_label)
    runs = []
    for variant in variants(facts, groups) if groups else [facts]:
        ctx = _Context(variant, as_of, basis, today, planned, stated)
        # Every `met` passes the integrity guard: it may rest only on sources read completely (rules/integrity.py).
        runs.append((tuple(guard(rule(ctx), variant, ctx.finding) for rule in rules), ctx))
    findings, ctx = runs[0]
    kit = ctx.kit
    if groups:  # same-day results that disagree: no choice between them decides (rules/integrity.py)
        findings = merge([r[0] for r in runs], groups, ctx.finding)
        kit = kit if len({r[1].kit for r in runs}) == 1 else None
    return Evaluation(overall(list(findings)), as_of, basis, findings, kit, notes)


class _Context:
    def __init__(self, facts: PatientFacts, as_of: date, basis: str, today: date, planned: date | None,
                 stated: date | None):
        self.facts, self.as_of, self.basis, self.today = facts, as_of, basis, today
        self.planned = planned  # the usable planned infusion date (day 0), or None
        self.weight = facts.latest("weight", as_of)
        self.weight_current = bool(self.weight and (as_of - self.weight.when).days <= WEIGHT_MAX_AGE_DAYS)
        self.kit = kit_for_weight(self.weight.value) if self.weight_current else None
        self.as_of_text = as_of.isoformat()
        if basis == "planned-infusion-date":
            self.basis_text = "the planned infusion date"
        elif stated:
            self.basis_text = f"today; the order's planned date {stated.isoformat()} is in the past"
        else:
            self.basis_text = "today; no planned infusion date on the order"

    def finding(self, criterion, status, reason, evidence=(), missing=(), caution=False, **params) -> Finding:
        params.setdefault("as_of", self.as_of_text)
        params.setdefault("basis", self.basis_text)
        return Finding(criterion, status, reason, tuple(evidence), params, tuple(missing), caution)

    def unavailable(self, criterion: str, *sources: str) -> Finding | None:
        """An `unknown` finding when a source the rule needs could not be read."""
        lost = [s for s in sources if s not in self.facts.sources_read]
        if not lost:
            return None
        return self.finding(criterion, UNKNOWN, "source-unavailable", sources=", ".join(lost))


def _days(a: date, b: date) -> int:
    return (a - b).days


# --- criterion 1 ------------------------------------------------------------------------------
def specialist_prescriber(ctx: _Context) -> Finding:
    c = "specialist-prescriber"
    coded = [s for s in ctx.facts.specialists if s.coded]
    if coded:
        return ctx.finding(c, MET, "specialist-documented", [s.evidence for s in coded])
    if ctx.facts.specialists:  # free text never makes a criterion met
        return ctx.finding(c, REVIEW, "specialty-text-only", [s.evidence for s in ctx.facts.specialists])
    # The specialties on record that are not SMA specialties (a psychiatrist) are the evidence the card shows.
    return (ctx.unavailable(c, "practitioner-roles", "care-teams")
            or ctx.finding(c, UNKNOWN, "specialist-not-documented", ctx.facts.other_specialties,
                           missing=("specialist",)))


# --- criterion 2 ------------------------------------------------------------------------------
def smn1_biallelic(ctx: _Context) -> Finding:
    """Structured results only can make it `met`, combined across the patient's Observations: SMN1 copy number
    0; or 1 copy plus a distinct pathogenic / likely pathogenic sequence variant; or two distinct such variants
    (or one reported homozygous or hemizygous). A carrier (1 copy, no second variant) is never bi-allelic.
    Report text can at most send the criterion to review, and is quoted."""
    c = "smn1-biallelic"
    genetics = ctx.facts.genetics
    copies = {g.smn1_copies for g in genetics if g.smn1_copies is not None}
    variants: dict[str, list] = {}
    for g in genetics:
        for v in g.variants:
            variants.setdefault(v.identifier, []).append(v)
    both_alleles = any(v.zygosity in ("homozygous", "hemizygous") for vs in variants.values() for v in vs)
    structured = [g for g in genetics if g.smn1_copies is not None or g.variants]
    affirming = [g for g in genetics if g.text_claim == "biallelic"]
    ev = [g.evidence for g in structured]
    text_ev = [g.evidence for g in affirming if g not in structured]
    biallelic = 0 in copies or len(variants) >= 2 or both_alleles or (1 in copies and len(variants) >= 1)
    conflict = biallelic and len(copies) > 1  # results disagree on the copy number the decision rests on
    smn1_present = bool(copies) and min(copies) >= 2 and not variants
    if conflict or (smn1_present and affirming):
        return ctx.finding(c, REVIEW, "genetics-conflict", ev + text_ev)
    if biallelic:
        return ctx.finding(c, MET, "biallelic-confirmed", ev)
    if smn1_present:
        return ctx.finding(c, NOT_MET, "smn1-present", ev)
    if affirming:  # free text never makes it met: the reviewer reads the report
        return ctx.finding(c, REVIEW, "biallelic-text-only", ev + text_ev)
    if structured:  # one allele shown (1 copy, or one heterozygous variant): a carrier is never bi-allelic
        return ctx.finding(c, UNKNOWN, "one-allele-only", ev, missing=("genetics",))
    negative = [g for g in genetics if g.text_claim == "not-biallelic"]
    if negative:
        # A report whose text is negative (deletion not detected, normal copy number, carrier) is a result, not
        # missing data: it speaks against the indication (clinical-facts.md 5.1 row 2). Free text cannot make
        # it not-met either, so a reviewer reads the report (a structured 2-copy result stays not-met).
        return ctx.finding(c, REVIEW, "genetics-text-negative", [g.evidence for g in negative])
    if genetics:  # report text only, making no claim either way
        return ctx.finding(c, UNKNOWN, "genetics-text-not-structured", [g.evidence for g in genetics],
                           missing=("genetics",))
    lost = ctx.unavailable(c, "labs")
    if lost:
        return lost
    sma = [f for f in ctx.facts.conditions if f.codes & SMA_DIAGNOSES]
    if sma:
        return ctx.finding(c, UNKNOWN, "diagnosis-without-genetics", [f.evidence for f in sma],
                           missing=("genetics",))
    misleading = [f for f in ctx.facts.conditions if any(code in NOT_SMA_EVIDENCE for _, code in f.codes)]
    if misleading:
        return ctx.finding(c, UNKNOWN, "not-sma-evidence", [f.evidence for f in misleading],
                           missing=("genetics",))
    return ctx.finding(c, UNKNOWN, "no-genetics", missing=("genetics",))


# --- criterion 3 ------------------------------------------------------------------------------
def no_advanced_sma(ctx: _Context) -> Finding:
    c = "no-advanced-sma"
    advanced = [f for f in ctx.facts.conditions if f.active and (
        f.codes & ADVANCED_SMA_CODES or any(t in f.text.lower() for t in ADVANCED_SMA_TEXT))]
    # Procedures (tracheostomy, invasive ventilation) and a home ventilator (Device, DeviceUseStatement) are
    # evidence too: DR.005.D refers such requests to the Medical Director.
    if advanced or ctx.facts.advanced_sma:
        return ctx.finding(c, REVIEW, "advanced-sma-recorded",
                           [f.evidence for f in advanced] + [e.evidence for e in ctx.facts.advanced_sma])
    return ctx.unavailable(c, "conditions", "procedures", "devices", "device-use") or ctx.finding(
        c, MET, "no-advanced-sma-recorded", count=len(ctx.facts.conditions))


# --- criterion 4 ------------------------------------------------------------------------------
def gestational_age(ctx: _Context) -> Finding:
    """GA at birth comes from the at-birth observation (LOINC 76516-4) only. Any other GA observation
    (estimated 11884-4, corrected) is an estimate of the GA *on its own date*: a later "estimated 34 weeks"
    never overrides "32 weeks at birth". Without an at-birth value, the latest dated estimate is carried
    back (or forward, for a prenatal scan) to the birth date."""
    c = "gestational-age"
    birth = ctx.facts.birth_date
    if birth is None:
        return ctx.unavailable(c, "patient") or ctx.finding(c, UNKNOWN, "no-birth-date", missing=("birth-date",))
    postnatal_weeks = _days(ctx.as_of, birth) / 7
    recorded = ctx.facts.latest("gestational-age")
    estimate = None if recorded else ctx.facts.latest("gestational-age-estimated", ctx.as_of)
    if recorded is not None or estimate is not None:
        ga = recorded or estimate
        at_birth = ga.value if recorded else ga.value - _days(ga.when, birth) / 7
        params = dict(ga=f"{at_birth:.1f}".removesuffix(".0"), term=FULL_TERM_WEEKS)
        suffix = ""
        if estimate is not None:
            params.update(estimate=f"{ga.value:g}", estimate_date=ga.when.isoformat())
            suffix = "-from-estimate"
            if not MIN_GESTATIONAL_AGE_WEEKS <= at_birth <= MAX_GESTATIONAL_AGE_WEEKS:
                # Not a GA on its date (perhaps a GA at birth recorded later under another code): not guessed.
                return ctx.finding(c, UNKNOWN, "ga-estimate-implausible", [ga.evidence],
                                   missing=("gestational-age",), **params)
        corrected = at_birth + postnatal_weeks
        params["corrected"] = f"{corrected:.1f}"
        if corrected >= FULL_TERM_WEEKS:
            return ctx.finding(c, MET, "term-reached" + suffix, [ga.evidence], **params)
        term_date = birth + timedelta(days=round((FULL_TERM_WEEKS - at_birth) * 7))
        return ctx.finding(c, NOT_MET, "before-term" + suffix, [ga.evidence], term_date=term_date.isoformat(),
                           **params)
    lost = ctx.unavailable(c, "vitals")
    birth_evidence = Evidence(ctx.facts.patient_reference, f"born {birth.isoformat()}")
    if postnatal_weeks >= FULL_TERM_WEEKS - MIN_GESTATIONAL_AGE_WEEKS:
        return ctx.finding(c, MET, "term-by-postnatal-age", [birth_evidence],
                           weeks=f"{postnatal_weeks:.0f}", floor=MIN_GESTATIONAL_AGE_WEEKS, term=FULL_TERM_WEEKS)
    return lost or ctx.finding(c, UNKNOWN, "ga-missing", [birth_evidence], missing=("gestational-age",),
                               weeks=f"{postnatal_weeks:.0f}")


# --- criterion 5 ------------------------------------------------------------------------------
def age_under_2(ctx: _Context) -> Finding:
    c = "age-under-2"
    birth = ctx.facts.birth_date
    if birth is None:
        return ctx.unavailable(c, "patient") or ctx.finding(c, UNKNOWN, "no-birth-date", missing=("birth-date",))
    second = add_years(birth, 2)
    ev = [Evidence(ctx.facts.patient_reference, f"born {birth.isoformat()}")]
    params = dict(months=age_in_months(birth, ctx.as_of), second_birthday=second.isoformat())
    if ctx.as_of >= second:
        return ctx.finding(c, NOT_MET, "age-2-or-more", ev, **params)
    if ctx.basis == "today" and _days(second, ctx.as_of) <= AGE_WARNING_DAYS:
        # Met today, but with no usable planned date nothing shows the infusion will happen before the
        # second birthday: a warning card asks for the date (clinical-facts.md 5.1 row 5).
        return ctx.finding(c, MET, "under-2-turning-2-soon", ev, caution=True, days_left=_days(second, ctx.as_of),
                           window=AGE_WARNING_DAYS, **params)
    return ctx.finding(c, MET, "under-2", ev, **params)


# --- criterion 6 ------------------------------------------------------------------------------
def aav9_titer(ctx: _Context) -> Finding:
    c = "aav9-titer"
    dated = [t for t in ctx.facts.titers if t.when is not None and t.when <= ctx.as_of]
    # Only an ELISA (or a titer whose method is not stated, flagged on the card) is the policy's test. A titer
    # by another assay (cell-based neutralising antibodies, ECL) is on another scale: it can neither meet nor
    # fail the ELISA limit, so it is `unknown` (the remedy is an ELISA titer, an order, not a reviewer's call).
    policy_test = [t for t in dated if t.method_kind != "other"]
    if dated and not policy_test:
        latest = max(dated, key=lambda t: t.when)
        return ctx.finding(c, UNKNOWN, "titer-method-not-elisa", [latest.evidence], missing=("aav9-titer",),
                           method=latest.method, method_from=latest.method_from, titer=latest.reported,
                           date=latest.when.isoformat())
    dated = policy_test
    if not dated:
        lost = ctx.unavailable(c, "labs")
        if lost:
            return lost
        undated = [t.evidence for t in ctx.facts.titers]
        # A titer on record whose value is not a dilution ("positive", "Not detected") is a result that could
        # not be read, not a missing one: the card quotes it.
        # Only this patient's titers whose value was unreadable (another patient's result is never evidence).
        unreadable = [u for u in ctx.facts.unread if u.kind == "aav9-titer" and u.reason.startswith(TITER_NOT_READABLE)]
        if not undated and unreadable:
            return ctx.finding(c, UNKNOWN, "titer-unreadable", [Evidence(u.reference, u.reason) for u in unreadable],
                               missing=("aav9-titer",), window=TITER_MAX_AGE_DAYS)
        return ctx.finding(c, UNKNOWN, "titer-undated" if undated else "titer-missing", undated,
                           missing=("aav9-titer",))
    latest = max(dated, key=lambda t: t.when)
    ev = [latest.evidence]
    params = dict(titer=latest.reported, limit="1:50", date=latest.when.isoformat(),
                  age_days=_days(ctx.as_of, latest.when), window=TITER_MAX_AGE_DAYS)
    within = titer_at_most(latest.reciprocal, latest.comparator, TITER_LIMIT)
    if within is False:
        return ctx.finding(c, NOT_MET, "titer-above-limit", ev, **params)
    if within is None:
        return ctx.finding(c, UNKNOWN, "titer-inconclusive", ev, missing=("aav9-titer",), **params)
    if params["age_days"] > TITER_MAX_AGE_DAYS:
        return ctx.finding(c, UNKNOWN, "titer-stale", ev, missing=("aav9-titer",), **params)
    if latest.method_kind != "elisa":
        # DR.005.D criterion 6 requires ELISA: a titer whose method is not stated cannot show it. Not `met`
        # (a wrong eligible is the worst outcome): `unknown` until the lab confirms the assay; no new draw needed.
        return ctx.finding(c, UNKNOWN, "titer-within-limit-method-unrecorded", ev, **params)
    return ctx.finding(c, MET, "titer-within-limit", ev, **params)


# --- criterion 7 ------------------------------------------------------------------------------
def corticosteroid_plan(ctx: _Context) -> Finding:
    """FDA label 2.1: prednisolone-equivalent 1 mg/kg/day from the day before infusion for 30 days in total
    (day -1 through day 28). Orders that ended (status completed/stopped/cancelled, or a period that ended
    before today) do not count; several current orders are added up or sent to review, never one picked."""
    c = "corticosteroid-plan"
    orders = [o for o in ctx.facts.steroid_orders if o.status in ACTIVE_ORDER_STATUSES]
    plans = [o for o in orders if not (o.end and o.end < ctx.today)]
    ended = [o for o in ctx.facts.steroid_orders if o not in plans and o.status != "entered-in-error"]
    if not plans:
        lost = ctx.unavailable(c, "medication-requests")
        if lost:
            return lost
        if ended:
            return ctx.finding(c, UNKNOWN, "steroid-plan-ended", [o.evidence for o in ended],
                               missing=("corticosteroid",), today=ctx.today.isoformat())
        return ctx.finding(c, UNKNOWN, "no-steroid-plan", missing=("corticosteroid",))
    weight = ctx.weight.value if ctx.weight_current else None
    weight_ev = [ctx.weight.evidence] if ctx.weight_current else []
    low, high = STEROID_MG_PER_KG_RANGE
    if len(plans) > 1:
        return _concurrent_steroids(ctx, c, plans, weight, weight_ev)
    plan = plans[0]
    ev = [plan.evidence]
    mg_per_kg_day = _steroid_mg_per_kg_day(plan, weight)
    day_minus_1 = ctx.planned - timedelta(days=1) if ctx.planned else None
    last_day = ctx.planned + timedelta(days=STEROID_COURSE_DAYS - 2) if ctx.planned else None
    course = dict(day_minus_1=day_minus_1.isoformat() if day_minus_1 else "", course_days=STEROID_COURSE_DAYS,
                  last_day=last_day.isoformat() if last_day else "", start=_iso(plan.start), end=_iso(plan.end))
    if day_minus_1 and plan.start and plan.start > day_minus_1:
        return ctx.finding(c, NOT_MET, "steroid-starts-late", ev, **course)
    if last_day and plan.end and plan.end < last_day:
        covered = max(0, _days(plan.end, max(plan.start or day_minus_1, day_minus_1)) + 1)
        return ctx.finding(c, NOT_MET, "steroid-course-short", ev, covered=covered, **course)
    dose = dict(mg_per_kg_day=f"{mg_per_kg_day:.2f}" if mg_per_kg_day is not None else "", low=low, high=high)
    if mg_per_kg_day is not None and not low <= mg_per_kg_day <= high:
        return ctx.finding(c, NOT_MET, "steroid-dose-off", ev + weight_ev, **dose)
    if day_minus_1 is None:
        return ctx.finding(c, UNKNOWN, "steroid-timing-unverifiable", ev, missing=("planned-date",), **course)
    if plan.start is None or plan.end is None:
        return ctx.finding(c, UNKNOWN, "steroid-course-unstated", ev, missing=("corticosteroid-course",), **course)
    if mg_per_kg_day is None:
        return ctx.finding(c, UNKNOWN, "steroid-dose-unverifiable", ev + weight_ev, missing=("weight",))
    return ctx.finding(c, MET, "steroid-plan-ok", ev + weight_ev, **dose, **course)


def _concurrent_steroids(ctx: _Context, c: str, plans, weight: float | None, weight_ev) -> Finding:
    """Several current corticosteroid orders: the doses of those that overlap are added up and the whole goes
    to review (a duplicate left active, or a course split over two orders, is for the prescriber to settle)."""
    doses = [_steroid_mg_per_kg_day(o, weight) for o in plans]
    overlap = any(_overlaps(a, b) for n, a in enumerate(plans) for b in plans[n + 1:])
    total = f"{sum(round(d, 2) for d in doses):.2f}" if overlap and None not in doses else ""
    parts = ", ".join(f"{d:.2f}" if d is not None else "?" for d in doses)
    return ctx.finding(c, REVIEW, "steroid-orders-concurrent" if overlap else "steroid-orders-several",
                       [o.evidence for o in plans] + weight_ev, count=len(plans), doses=parts,
                       total=total or "not computable (a dose or the weight is missing)",
                       low=STEROID_MG_PER_KG_RANGE[0], high=STEROID_MG_PER_KG_RANGE[1])


def _overlaps(a, b) -> bool:
    """Do two orders' periods share a day? An open or unknown end overlaps everything after the start."""
    a_start, b_start = a.start or date.min, b.start or date.min
    a_end, b_end = a.end or date.max, b.end or date.max
    return a_start <= b_end and b_start <= a_end


def _iso(day: date | None) -> str:
    return day.isoformat() if day else "not stated"


def _steroid_mg_per_kg_day(plan, weight_kg: float | None) -> float | None:
    """mg/kg/day of prednisolone (prednisone 1:1); None when it cannot be computed with certainty."""
    if plan.dose is None:
        return None
    if "methylpred" in plan.text.lower():
        return None  # equivalence (4 mg methylprednisolone = 5 mg prednisolone) left to the reviewer
    unit, value = plan.dose.unit, plan.dose.value
    if unit == "mg/kg/d":
        return value
    if unit == "mg/d":
        return value / weight_kg if weight_kg else None
    per_day = plan.per_day or None
    if per_day is None:
        return None
    if unit == "mg/kg":
        return value * per_day
    if unit == "mg" and weight_kg:
        return value * per_day / weight_kg
    return None


# --- criteria 8 and 9 -------------------------------------------------------------------------
def _baseline(ctx: _Context, c: str, analytes: tuple[str, ...], alternatives: dict[str, str] | None = None):
    """Latest result per analyte; returns (found, None) or, when any is missing or older than the baseline
    window, (found, the `unknown` finding that names the gaps)."""
    found: dict[str, Measurement] = {}
    missing, stale = [], []
    for analyte in analytes:
        m = ctx.facts.latest(analyte, ctx.as_of)
        if m is None and alternatives and analyte in alternatives:
            m = ctx.facts.latest(alternatives[analyte], ctx.as_of)
        if m is None:
            missing.append(analyte)
        elif _days(ctx.as_of, m.when) > BASELINE_LAB_MAX_AGE_DAYS:
            stale.append(analyte)
            found[analyte] = m
        else:
            found[analyte] = m
    if not (missing or stale):
        return found, None
    return found, ctx.unavailable(c, "labs") or ctx.finding(
        c, UNKNOWN, "baseline-labs-missing", [m.evidence for m in found.values()], missing=tuple(missing + stale),
        missing_list=plain_list(missing, _LAB_NAMES) or "none", stale_list=plain_list(stale, _LAB_NAMES) or "none",
        window=BASELINE_LAB_MAX_AGE_DAYS)


_LFT_NAMES = {"alt": "ALT", "ast": "AST", "bilirubin": "total bilirubin"}
# Analytes as a clinician names them, for the lists on the cards ("AST, ALT and total bilirubin").
_LAB_NAMES = {**_LFT_NAMES, "pt": "PT/INR", "inr": "INR", "platelets": "platelet count", "troponin-i": "troponin-I",
              "creatinine": "creatinine", "hemoglobin": "hemoglobin"}


def baseline_liver_function(ctx: _Context) -> Finding:
    c = "baseline-liver-function"
    found, gap = _baseline(ctx, c, ("ast", "alt", "bilirubin", "pt"), {"pt": "inr"})
    if gap:
        return gap
    ev = [m.evidence for m in found.values()]
    elevated = [a for a in ("alt", "ast", "bilirubin")
                if found[a].ref_high is not None and found[a].value > 2 * found[a].ref_high]
    no_uln = [a for a in ("alt", "ast", "bilirubin") if found[a].ref_high is None]
    if elevated:
        return ctx.finding(c, REVIEW, "lft-above-2x-uln", ev, elevated=", ".join(_LFT_NAMES[a] for a in elevated))
    coag = found["pt"]  # PT, or INR when no PT is on record
    if coag.ref_high is not None and coag.value > coag.ref_high:
        # A prolonged PT/INR at baseline is a sign of impaired liver synthetic function (or another
        # coagulopathy): the boxed warning asks for liver function incl. PT before infusion, and pre-existing
        # liver impairment may raise the risk of acute liver failure. Neither label nor policy sets a limit, so
        # it is the Medical Director's call (review, like ALT/AST/bilirubin > 2 x ULN), never a silent met.
        unit = "" if coag.unit.startswith("{") else f" {coag.unit}"  # INR is a ratio ({INR}): no unit shown
        return ctx.finding(c, REVIEW, "coagulation-above-uln", ev, test="INR" if coag.analyte == "inr" else "PT",
                           value=f"{coag.value:g}", unit=unit, uln=f"{coag.ref_high:g}", date=coag.when.isoformat())
    if no_uln:
        # Documented (criterion 8 is met) but the label's 2 x ULN question (section 8.6) is open: a warning card.
        return ctx.finding(c, MET, "baseline-lft-documented-uln-unknown", ev, caution=True,
                           no_uln=", ".join(_LFT_NAMES[a] for a in no_uln))
    return ctx.finding(c, MET, "baseline-lft-documented", ev)


def baseline_platelets_troponin(ctx: _Context) -> Finding:
    c = "baseline-platelets-troponin"
    found, gap = _baseline(ctx, c, ("platelets", "troponin-i"))
    if gap:
        return gap
    ev = [m.evidence for m in found.values()]
    plt, trop = found["platelets"], found["troponin-i"]
    # Documented (criterion 9 is met), but an abnormal baseline is a risk the label's warnings name
    # (thrombocytopenia / TMA, troponin-I): a warning card says what to do.
    low_platelets = plt.ref_low is not None and plt.value < plt.ref_low
    high_troponin = trop.ref_high is not None and trop.value > trop.ref_high
    if low_platelets or high_troponin:
        reason = ("baseline-platelets-low-troponin-high" if low_platelets and high_troponin
                  else "baseline-platelets-low" if low_platelets else "baseline-troponin-high")
        return ctx.finding(c, MET, reason, ev, caution=True, platelets=f"{plt.value:g}",
                           low=f"{plt.ref_low:g}" if plt.ref_low is not None else "none",
                           troponin=f"{trop.value:g}",
                           high=f"{trop.ref_high:g}" if trop.ref_high is not None else "none")
    return ctx.finding(c, MET, "baseline-plt-trop-documented", ev)


# --- criterion 10 -----------------------------------------------------------------------------
def no_active_infection(ctx: _Context) -> Finding:
    c = "no-active-infection"
    # Any active infection counts whatever its onset: a CMV infection that began 45 days ago and is still
    # active is an infection now.
    infections = [f for f in ctx.facts.conditions if f.active and _is_infection(f)]
    since = ctx.today - timedelta(days=FEVER_WINDOW_DAYS)
    fevers = [m for m in ctx.facts.measurements if m.analyte == "temperature" and m.when is not None
              and since <= m.when <= ctx.today and m.value >= FEVER_THRESHOLD_C]
    window = dict(threshold=f"{FEVER_THRESHOLD_C:.1f}", window=FEVER_WINDOW_DAYS, since=since.isoformat(),
                  today=ctx.today.isoformat())
    if infections or fevers:
        ev = [f.evidence for f in infections] + [m.evidence for m in sorted(fevers, key=lambda m: m.when)]
        return ctx.finding(c, NOT_MET, "infection-present", ev, **window)
    # "No recent fever" is read from the temperatures: with vitals unread it cannot be said.
    return ctx.unavailable(c, "conditions", "vitals") or ctx.finding(
        c, MET, "no-infection-recorded", count=len(ctx.facts.conditions), **window)


def _is_infection(f) -> bool:
    # "Noninfective gastroenteritis" (ICD-10-CM K52.x) contains "gastroenteritis" but is no infection: the negated
    # words are removed before the text is matched, and K52 codes are never read as infections.
    if any(system.endswith("icd-10-cm") and code.startswith(NONINFECTIVE_ICD10_PREFIXES) for system, code in f.codes):
        return False
    if f.codes & INFECTION_SNOMED_CODES:
        return True
    if any(system.endswith("icd-10-cm") and code.startswith(INFECTION_ICD10_PREFIXES) for system, code in f.codes):
        return True
    text = f.text.lower()
    for negated in NONINFECTIVE_TEXT:
        text = text.replace(negated, " ")
    return any(t in text for t in INFECTION_TEXT)


# --- criterion 11 and the label's weight range ---------------------------------------------------
def dose_within_label(ctx: _Context) -> Finding:
    c = "dose-within-label"
    order = ctx.facts.order
    if not ctx.weight_current:
        return _weight_missing(ctx, c)
    kit = ctx.kit
    ev = [ctx.weight.evidence, order.evidence]
    if kit is None:
        return ctx.finding(c, NOT_MET, "weight-outside-table", ev, weight=f"{ctx.weight.value:g}",
                           ordered=_ordered_outside_table(order, ctx.weight.value))
    params = dict(band=f"{kit.band_kg[0]}-{kit.band_kg[1]}", volume=f"{kit.dose_volume_ml:g}",
                  vg=scientific(kit.dose_vg), ndc=kit.ndc, ndc_verified=kit.ndc_verified)
    if order.kit_ndc and order.kit_ndc != kit.ndc:
        return ctx.finding(c, NOT_MET, "kit-mismatch", ev, ordered_ndc=order.kit_ndc, **params)
    dose = order.dose
    if dose is None:
        if order.kit_ndc:
            return ctx.finding(c, MET, "kit-matches-band", ev, **params)
        return ctx.finding(c, UNKNOWN, "dose-not-stated", ev, missing=("dose",), **params)
    expected = {"mL": kit.dose_volume_ml, "vg": kit.dose_vg, "vg/kg": DOSE_VG_PER_KG}.get(dose.unit)
    if expected is None:
        return ctx.finding(c, UNKNOWN, "dose-unit-unknown", ev, missing=("dose",), unit=dose.unit, **params)
    tolerance = VOLUME_TOLERANCE_ML if dose.unit == "mL" else expected * VG_RELATIVE_TOLERANCE
    ordered = f"{dose.value:.4g} {dose.unit}"
    if abs(dose.value - expected) > tolerance:
        return ctx.finding(c, NOT_MET, "dose-off-band", ev, ordered=ordered, **params)
    if dose.unit == "vg/kg":
        # 1.1e14 vg/kg is the label's nominal dose, but the label infuses the dose of the band's upper limit, not
        # weight x 1.1e14: at the measured weight the order means a different volume than the band dose (the
        # same order in mL would not match). The volume to infuse is not stated: unknown, asking for mL / kit.
        w = ctx.weight.value
        return ctx.finding(c, UNKNOWN, "dose-per-kg-needs-volume", ev, missing=("dose",), ordered=ordered,
                           weight=f"{w:g}", computed_vg=f"{dose.value * w:.3g}",
                           computed_ml=f"{dose.value * w / CONCENTRATION_VG_PER_ML:.1f}", **params)
    return ctx.finding(c, MET, "dose-matches-band", ev, ordered=ordered, **params)


def _ordered_outside_table(order, weight_kg: float) -> str:
    """What the order asks for when the weight has no label band: the ordered kit's band and its mL/kg at
    the measured weight (the label is 5.5 mL/kg), so the card shows how far off the order is."""
    kit = kit_for_ndc(order.kit_ndc) if order.kit_ndc else None
    dose = order.dose
    if kit is not None:
        return (f"The order names kit {order.kit_ndc} (the {kit.band_kg[0]}-{kit.band_kg[1]} kg band, "
                f"{kit.dose_volume_ml:g} mL = {kit.dose_volume_ml / weight_kg:.1f} mL/kg at {weight_kg:g} kg; "
                f"the label dose is {ML_PER_KG:g} mL/kg).")
    if dose is not None and dose.unit == "mL":
        return (f"The order says {dose.value:g} mL = {dose.value / weight_kg:.1f} mL/kg at {weight_kg:g} kg "
                f"(the label dose is {ML_PER_KG:g} mL/kg).")
    return "The order names no kit or volume."


def weight_in_label_range(ctx: _Context) -> Finding:
    c = "weight-in-label-range"
    if not ctx.weight_current:
        return _weight_missing(ctx, c)
    w = ctx.weight.value
    params = dict(weight=f"{w:g}", low=MIN_WEIGHT_KG, high=MAX_WEIGHT_KG)
    if ctx.kit is None:
        order = ctx.facts.order
        return ctx.finding(c, NOT_MET, "weight-out-of-range", [ctx.weight.evidence],
                           ordered=_ordered_outside_table(order, w) if order else "", **params)
    band = ctx.kit.band_kg
    if w < band[0]:
        # clinical-facts.md 4: a weight between two printed bands (3.04 kg: after 2.6-3.0, before 3.1-3.5) is not
        # covered by the label; the choice of band is a clinical decision, shown on a warning card.
        lower = (round(band[0] - 0.5, 1), round(band[1] - 0.5, 1))
        lower_kit = kit_for_weight(lower[1])
        return ctx.finding(c, MET, "weight-between-bands", [ctx.weight.evidence], caution=True,
                           band=f"{band[0]}-{band[1]}", volume=f"{ctx.kit.dose_volume_ml:g}",
                           lower_band=f"{lower[0]}-{lower[1]}", lower_volume=f"{lower_kit.dose_volume_ml:g}", **params)
    return ctx.finding(c, MET, "weight-in-range", [ctx.weight.evidence], **params)


def _weight_missing(ctx: _Context, c: str) -> Finding:
    if ctx.weight is None:
        return ctx.unavailable(c, "vitals") or ctx.finding(c, UNKNOWN, "no-weight", missing=("weight",))
    return ctx.finding(c, UNKNOWN, "weight-stale", [ctx.weight.evidence], missing=("weight",),
                       window=WEIGHT_MAX_AGE_DAYS)


# --- renewal and product line -------------------------------------------------------------------
def one_time_dose(ctx: _Context) -> Finding:
    c = "one-time-dose"
    if ctx.facts.prior_doses:
        return ctx.finding(c, NOT_MET, "prior-dose", [d.evidence for d in ctx.facts.prior_doses])
    return ctx.unavailable(c, "medication-administrations", "medication-statements", "procedures",
                           "medication-requests") or ctx.finding(c, MET, "no-prior-dose")


def benefit_covered(ctx: _Context) -> Finding:
    c = "benefit-covered"
    active = [cov for cov in ctx.facts.coverages if cov.active]
    excluded = [cov for cov in active if cov.product_line == "aca-individual"]
    if excluded:
        return ctx.finding(c, NOT_MET, "benefit-excluded", [cov.evidence for cov in excluded])
    covered = [cov for cov in active if cov.product_line in ("medicaid", "chip", "medicare")]
    if covered:
        return ctx.finding(c, MET, "covered-line", [cov.evidence for cov in covered],
                           line=covered[0].product_line)
    lost = ctx.unavailable(c, "coverage")
    if lost:
        return lost
    if active:
        return ctx.finding(c, UNKNOWN, "line-unknown", [cov.evidence for cov in active], missing=("coverage",))
    return ctx.finding(c, UNKNOWN, "no-coverage", missing=("coverage",))


_RULES = (specialist_prescriber, smn1_biallelic, no_advanced_sma, gestational_age, age_under_2, aav9_titer,
          corticosteroid_plan, baseline_liver_function, baseline_platelets_troponin, no_active_infection,
          dose_within_label, weight_in_label_range, one_time_dose, benefit_covered)
