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

from ..facts import Evidence, PatientFacts
from ..quantities import add_years, age_in_months
from ..terminology import FEVER_THRESHOLD_C, FEVER_WINDOW_DAYS, NOT_SMA_EVIDENCE, SMA_DIAGNOSES, TEMPERATURES
from .birth import over_birth_span, partial_birth
from .conditions import advanced_sma_evidence, is_advanced_sma, is_infection, refuted_sma
from .context import (  # noqa: F401  (the windows are re-exported: orders, queries and readiness read them here)
    AGE_WARNING_DAYS,
    BASELINE_LAB_MAX_AGE_DAYS,
    FULL_TERM_WEEKS,
    MAX_GESTATIONAL_AGE_WEEKS,
    MIN_GESTATIONAL_AGE_WEEKS,
    TITER_LIMIT,
    TITER_MAX_AGE_DAYS,
    WEIGHT_MAX_AGE_DAYS,
    RuleContext,
    coagulation_readings,
    days,
)
from .coverage import benefit_covered
from .findings import MET, NOT_MET, REVIEW, UNKNOWN, Evaluation, Finding, overall
from .integrity import disagreements, guard, merge, variants
from .laboratory import aav9_titer, baseline_liver_function, baseline_platelets_troponin
from .treatment import corticosteroid_plan, dose_within_label, weight_in_label_range

CRITERIA = (
    "specialist-prescriber", "smn1-biallelic", "no-advanced-sma", "gestational-age", "age-under-2",
    "aav9-titer", "corticosteroid-plan", "baseline-liver-function", "baseline-platelets-troponin",
    "no-active-infection", "dose-within-label", "weight-in-label-range", "one-time-dose", "benefit-covered",
)

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
        ctx = RuleContext(variant, as_of, basis, today, planned, stated)
        # Every `met` passes the integrity guard: it may rest only on sources read completely (rules/integrity.py).
        runs.append((tuple(guard(rule(ctx), variant, ctx.finding) for rule in rules), ctx))
    findings, ctx = runs[0]
    kit = ctx.kit
    if groups:  # same-day results that disagree: no choice between them decides (rules/integrity.py)
        findings = merge([r[0] for r in runs], groups, ctx.finding)
        kit = kit if len({r[1].kit for r in runs}) == 1 else None
    return Evaluation(overall(list(findings)), as_of, basis, findings, kit, notes, today)

# --- criterion 1 ------------------------------------------------------------------------------
def specialist_prescriber(ctx: RuleContext) -> Finding:
    c = "specialist-prescriber"
    # A role counts only while held: when the order is signed (today) and on the evaluation date.
    held = [s for s in ctx.facts.specialists if s.period.holds_on(ctx.today) and s.period.holds_on(ctx.as_of)]
    coded = [s for s in held if s.coded]
    if coded:
        return ctx.finding(c, MET, "specialist-documented", [s.evidence for s in coded])
    if held:  # free text never makes a criterion met
        return ctx.finding(c, REVIEW, "specialty-text-only", [s.evidence for s in held])
    if ctx.facts.specialists:
        lapsed = ctx.facts.specialists
        return ctx.finding(c, UNKNOWN, "specialist-role-not-current", [s.evidence for s in lapsed],
                           missing=("specialist",), why=_role_not_held(lapsed[0].period, ctx))
    # The specialties on record that are not SMA specialties (a psychiatrist) are the evidence the card shows.
    return (ctx.unavailable(c, "practitioner-roles", "care-teams")
            or ctx.finding(c, UNKNOWN, "specialist-not-documented", ctx.facts.other_specialties,
                           missing=("specialist",)))


def _role_not_held(period, ctx: RuleContext) -> str:
    """Why a role does not count: "ended 2025-01-01" (before today, or before the evaluation date)."""
    return period.why_not(ctx.today) if period.holds_on(ctx.today) is not True else period.why_not(ctx.as_of)


# --- criterion 2 ------------------------------------------------------------------------------
def smn1_biallelic(ctx: RuleContext) -> Finding:
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
    negative = [g for g in genetics if g.text_claim == "not-biallelic"]
    ev = [g.evidence for g in structured]
    biallelic = 0 in copies or len(variants) >= 2 or both_alleles or (1 in copies and len(variants) >= 1)
    smn1_present = bool(copies) and min(copies) >= 2 and not variants
    # Results that disagree on the copy number the decision rests on, or a report whose text contradicts the
    # structured result (a carrier / normal / "not detected" report beside bi-allelic loss, or the reverse):
    # free text cannot decide, but it stops a `met` (HELPER_GUIDE: evidence "not contradicted").
    against = negative if biallelic else affirming if smn1_present else []
    reports = [g.evidence for g in (against or affirming) if g not in structured]  # text-only results, quoted
    if (biallelic and len(copies) > 1) or against:
        return ctx.finding(c, REVIEW, "genetics-conflict", ev + reports)
    # The lab's own flag against the structured result (review 2026-11-24f F4): "Normal" on SMN1 copy number 0,
    # "Abnormal" on two copies and no variant. The value or the flag is wrong: the lab says which.
    flagged = [(g, shown) for g in structured for shown in _genetics_flags_against(g)]
    if flagged:
        g, shown = flagged[0]
        return ctx.finding(c, REVIEW, "genetics-flag-contradicts", ev, flag=shown, result=g.evidence.text)
    if biallelic:
        # The genetic result is the diagnosis (DR.005.D: bi-allelic SMN1 loss is diagnostic of SMA), so a coded SMA
        # diagnosis is not required; a clinician's refuted one contradicts it (review 2026-11-24b Q1).
        refuted = refuted_sma(ctx.facts.conditions, ctx.facts.refuted_conditions)
        return ctx.finding(c, REVIEW, "diagnosis-refuted", ev + refuted) if refuted else \
            ctx.finding(c, MET, "biallelic-confirmed", ev)
    if smn1_present:
        return ctx.finding(c, NOT_MET, "smn1-present", ev)
    if affirming:  # free text never makes it met: the reviewer reads the report
        return ctx.finding(c, REVIEW, "biallelic-text-only", ev + reports)
    if structured:  # one allele shown (1 copy, or one heterozygous variant): a carrier is never bi-allelic
        return ctx.finding(c, UNKNOWN, "one-allele-only", ev, missing=("genetics",))
    if negative:
        # A report whose text is negative (deletion not detected, normal copy number, carrier) is a result, not
        # missing data: it speaks against the indication (clinical-facts.md 5.1 row 2). Free text cannot make
        # it not-met either, so a reviewer reads the report (a structured 2-copy result stays not-met).
        return ctx.finding(c, REVIEW, "genetics-text-negative", [g.evidence for g in negative])
    if genetics:  # report text only, making no claim either way
        return ctx.finding(c, UNKNOWN, "genetics-text-not-structured", [g.evidence for g in genetics],
                           missing=("genetics",))
    unreadable = [Evidence(u.reference, u.reason) for u in ctx.facts.unread if u.kind == "genetics"]
    if unreadable:  # a result is on record: the criterion waits for it to be readable, not for a new test
        return ctx.finding(c, UNKNOWN, "genetics-unreadable", unreadable)
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


def _genetics_flags_against(g) -> list[str]:
    """The flags that contradict an SMN1 result: normal / negative beside bi-allelic loss (copy number 0, or a
    pathogenic variant), abnormal / positive beside two or more copies and no variant."""
    loss = g.smn1_copies == 0 or bool(g.variants)
    present = g.smn1_copies is not None and g.smn1_copies >= 2 and not g.variants
    return [shown for shown, meaning in g.flags
            if loss and meaning in ("normal", "negative") or present and meaning in ("abnormal", "positive")]


# --- criterion 3 ------------------------------------------------------------------------------
def no_advanced_sma(ctx: RuleContext) -> Finding:
    c = "no-advanced-sma"
    advanced = [f for f in ctx.facts.conditions if f.active and is_advanced_sma(f)]
    # Procedures (tracheostomy, invasive ventilation) and a home ventilator (Device, DeviceUseStatement,
    # DeviceRequest) are evidence too: DR.005.D refers such requests to the Medical Director.
    if advanced or ctx.facts.advanced_sma:
        return ctx.finding(c, REVIEW, "advanced-sma-recorded",
                           [advanced_sma_evidence(f) for f in advanced] + [e.evidence for e in ctx.facts.advanced_sma])
    return ctx.unavailable(c, "conditions", "procedures", "devices", "device-use", "device-requests") or ctx.finding(
        c, MET, "no-advanced-sma-recorded", count=len(ctx.facts.conditions))


# --- criterion 4 ------------------------------------------------------------------------------
def gestational_age(ctx: RuleContext) -> Finding:
    """GA at birth comes from the at-birth observation (LOINC 76516-4) only. Any other GA observation
    (estimated 11884-4, corrected) is an estimate of the GA *on its own date*: a later "estimated 34 weeks"
    never overrides "32 weeks at birth". Without an at-birth value, the latest dated estimate is carried
    back (or forward, for a prenatal scan) to the birth date."""
    c = "gestational-age"
    birth = ctx.facts.birth_date
    if birth is None and partial_birth(ctx):  # corrected GA grows with postnatal age: the span's ends decide
        return over_birth_span(gestational_age, ctx, agreed={r: r for r in (
            "term-reached", "term-reached-from-estimate", "before-term", "before-term-from-estimate",
            "term-by-postnatal-age")})
    if birth is None:
        return ctx.unavailable(c, "patient") or ctx.finding(c, UNKNOWN, "no-birth-date", missing=("birth-date",))
    postnatal_weeks = days(ctx.as_of, birth) / 7
    recorded = ctx.facts.latest("gestational-age")
    estimate = None if recorded else ctx.facts.latest("gestational-age-estimated", ctx.as_of)
    if recorded is not None or estimate is not None:
        ga = recorded or estimate
        at_birth = ga.value if recorded else ga.value - days(ga.when, birth) / 7
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
def age_under_2(ctx: RuleContext) -> Finding:
    c = "age-under-2"
    birth = ctx.facts.birth_date
    if birth is None and partial_birth(ctx):  # under 2 whichever day it was, or 2 or more whichever: else unknown
        return over_birth_span(age_under_2, ctx, agreed={"under-2": "under-2-partial-birth-date",
                                                         "age-2-or-more": "age-2-or-more-partial-birth-date"})
    if birth is None:
        return ctx.unavailable(c, "patient") or ctx.finding(c, UNKNOWN, "no-birth-date", missing=("birth-date",))
    second = add_years(birth, 2)
    ev = [Evidence(ctx.facts.patient_reference, f"born {birth.isoformat()}")]
    params = dict(months=age_in_months(birth, ctx.as_of), second_birthday=second.isoformat())
    if ctx.as_of >= second:
        return ctx.finding(c, NOT_MET, "age-2-or-more", ev, **params)
    if ctx.basis == "today" and days(second, ctx.today) <= 1:
        # No usable planned date and the second birthday is tomorrow: only an infusion today would be under 2,
        # and the label's prednisolone starts the day before infusion (FDA label 2.1). Judged as of today the
        # child is under 2, but DR.005.D 5 is age at infusion and nothing shows an infusion today: unknown, never
        # met (review 2026-11-24c R9). Not `not-met` either: a course started yesterday would allow today.
        return ctx.finding(c, UNKNOWN, "turning-2-no-planned-date", ev, missing=("planned-date",), **params)
    if ctx.basis == "today" and days(second, ctx.as_of) <= AGE_WARNING_DAYS:
        # Met today, but with no usable planned date nothing shows the infusion will happen before the
        # second birthday: a warning card asks for the date (clinical-facts.md 5.1 row 5).
        return ctx.finding(c, MET, "under-2-turning-2-soon", ev, caution=True, days_left=days(second, ctx.as_of),
                           window=AGE_WARNING_DAYS, **params)
    return ctx.finding(c, MET, "under-2", ev, **params)


# --- criterion 10 -----------------------------------------------------------------------------
def no_active_infection(ctx: RuleContext) -> Finding:
    c = "no-active-infection"
    # Any active infection counts whatever its onset: a CMV infection that began 45 days ago and is still
    # active is an infection now.
    infections = [f for f in ctx.facts.conditions if f.active and is_infection(f)]
    since = ctx.today - timedelta(days=FEVER_WINDOW_DAYS)
    readings = [m for m in ctx.facts.measurements if m.analyte == "temperature" and m.when is not None
                and since <= m.when <= ctx.today]
    fevers = [m for m in readings if m.value >= FEVER_THRESHOLD_C]
    # The card says what was searched: every body-temperature code the service reads, and how many readings
    # fell in the window ("no fever" from no reading at all is worded as such).
    window = dict(threshold=f"{FEVER_THRESHOLD_C:.1f}", window=FEVER_WINDOW_DAYS, since=since.isoformat(),
                  today=ctx.today.isoformat(), temperature_codes=", ".join(code.code for code in TEMPERATURES),
                  readings=f"{len(readings)} temperature reading{'' if len(readings) == 1 else 's'}"
                  if readings else "no temperature reading")
    # An open antimicrobial order (clinical-facts 5.1 row 10) whose course has not ended before the fever window:
    # an infection may be under treatment (or prevented). It cannot show the infection has resolved, nor that one
    # is present (prophylaxis is common in SMA): the criterion goes to review, naming the order and its dates.
    courses = [o for o in ctx.facts.antimicrobial_orders if o.end is None or o.end >= since]
    if infections or fevers:
        ev = [f.evidence for f in infections] + [m.evidence for m in sorted(fevers, key=lambda m: m.when)]
        return ctx.finding(c, NOT_MET, "infection-present", ev + [o.evidence for o in courses], **window)
    # "No recent fever" is read from the temperatures: with vitals unread it cannot be said; "no antimicrobial
    # course" from the medication orders.
    lost = ctx.unavailable(c, "conditions", "vitals", "medication-requests")
    if courses and not lost:
        first = min(courses, key=lambda o: o.start or date.max)
        return ctx.finding(c, REVIEW, "antimicrobial-order-open", [o.evidence for o in courses], **window,
                           medication=first.text or "an antimicrobial",
                           started=first.start.isoformat() if first.start else "an unstated date",
                           orders=f"{len(courses)} open order{'' if len(courses) == 1 else 's'}")
    return lost or ctx.finding(c, MET, "no-infection-recorded", count=len(ctx.facts.conditions), **window)


# --- renewal and product line -------------------------------------------------------------------
def one_time_dose(ctx: RuleContext) -> Finding:
    c = "one-time-dose"
    if ctx.facts.prior_doses:
        return ctx.finding(c, NOT_MET, "prior-dose", [d.evidence for d in ctx.facts.prior_doses])
    if ctx.facts.possible_prior_doses:  # DR.005.D renewal: prior gene therapy goes to the Medical Director
        maybe = ctx.facts.possible_prior_doses
        records = "; ".join(f"{d.reference} ({d.text}, {d.when or 'undated'})" for d in maybe)
        if all(d.gene_therapy_text for d in maybe):  # a gene-therapy infusion not naming the product (T3)
            dates = sorted({d.when.isoformat() if d.when else "an unstated date" for d in maybe})
            return ctx.finding(c, REVIEW, "gene-therapy-infusion", [d.evidence for d in maybe], records=records,
                               dates=" and ".join(dates))
        if all(d.open_request for d in maybe):  # an infusion request left open past its date (review 24g G7)
            dates = sorted({d.when.isoformat() for d in maybe if d.when})
            return ctx.finding(c, REVIEW, "open-infusion-request", [d.evidence for d in maybe], records=records,
                               dates=" and ".join(dates))
        return ctx.finding(c, REVIEW, "possible-prior-dose", [d.evidence for d in maybe], records=records)
    if ctx.facts.order and ctx.facts.other_zolgensma_orders:
        # Two open Zolgensma orders ask for two doses of a one-time therapy (or one is a duplicate): whichever is
        # checked, the other could be the one signed. Not met until one remains.
        others = ctx.facts.other_zolgensma_orders
        return ctx.finding(c, NOT_MET, "several-zolgensma-orders", [ctx.facts.order.evidence, *others],
                           count=len(others) + 1)
    order = ctx.facts.order
    # FDA label 2: "for single-dose intravenous infusion only": an order giving more than one dose (or kit) fails;
    # one whose timing or dispense cannot be read is never taken for one dose.
    if order and order.unreadable:  # its timing was never read: one dose is not shown (review 2026-11-24c R6)
        return ctx.finding(c, UNKNOWN, "order-unreadable", [order.evidence], missing=("dose",), why=order.unreadable)
    if order and order.several:
        return ctx.finding(c, NOT_MET, "order-several-doses", [order.evidence], why="; ".join(order.several))
    if order and order.unclear:
        return ctx.finding(c, UNKNOWN, "order-doses-unclear", [order.evidence], missing=("dose",),
                           why="; ".join(order.unclear))
    # service-requests: a completed infusion ServiceRequest is a prior dose (review 2026-11-24e T2); immunizations:
    # a dose filed as an Immunization (T5)
    # conditions: a problem-list entry naming the therapy as given (review 2026-11-24g G2)
    return ctx.unavailable(c, "medication-administrations", "medication-statements", "medication-dispenses",
                           "procedures", "medication-requests", "service-requests", "immunizations", "conditions") \
        or ctx.finding(c, MET, "no-prior-dose")


_RULES = (specialist_prescriber, smn1_biallelic, no_advanced_sma, gestational_age, age_under_2, aav9_titer,
          corticosteroid_plan, baseline_liver_function, baseline_platelets_troponin, no_active_infection,
          dose_within_label, weight_in_label_range, one_time_dose, benefit_covered)
