"""Before any order: the readiness plan of the billing guide's pre-treatment gating workflow (pure).

Billing guide, "PRE-TREATMENT GATING WORKFLOW": bi-allelic SMN1 confirmation first; anti-AAV9 titer at day -28
to -14 (<= 1:50); baseline labs (LFTs, CBC, troponin-I) with age and weight verified at day -14; prednisolone
from day -1; infusion at day 0, before the second birthday, at <= 21 kg.

The criteria are NOT restated here: each gate's status is what rules/eligibility.evaluate says when asked
about the target date (and about today, to tell "done now but expires before the target" from "missing").
What this module adds is the calendar: the target date, the date by which each step must happen, the last
possible infusion date, and the weight trend against the label's 21 kg.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta

from ..facts import Evidence, Measurement, Order, PatientFacts
from ..quantities import add_years
from ..terminology import SMA_DIAGNOSES
from .dosing import MAX_WEIGHT_KG
from .eligibility import BASELINE_LAB_MAX_AGE_DAYS, TITER_MAX_AGE_DAYS, WEIGHT_MAX_AGE_DAYS, evaluate
from .findings import ELIGIBLE, MET, NOT_ELIGIBLE, NOT_MET, REVIEW, Evaluation, Finding
from .treatment import current_steroid_plans, steroid_mg_per_kg_day

# Billing guide workflow: the titer is drawn at day -28 to -14, but the guide's top denial #1 (and our
# `aav9-titer` rule) also wants it "current within 2 weeks of infusion". Both hold only for a draw from day -14
# on; we plan the draw for day -14 to day -7, leaving a week for the send-out ELISA result (project choice,
# stated on the card). Without a usable titer the earliest feasible infusion is therefore today + 7.
TITER_RESULT_DAYS = 7
# Guide workflow: "Day -14: baseline labs + age/weight verification"; "Day -1: start oral prednisolone".
VERIFICATION_DAY = -14
PREDNISOLONE_DAY = -1
# Guide workflow: SMN1 confirmation is the first step, before the titer window opens (day -28).
GENETICS_DAY = -28
# Weight trend: weights of the last 90 days, at least two dated 14 or more days apart (project choice: a
# shorter span extrapolates noise). A projection is shown, never used to decide a gate.
TREND_DAYS = 90
TREND_MIN_SPAN_DAYS = 14

# criterion -> (step, first day it may be done, guide day by which it is done, last day it can still be done);
# days relative to day 0. The "first day" values are the eligibility rules' own windows (titer 14 days, labs
# 30, weight 14); the guide day is the billing guide's workflow; the last day is what the rules still accept
# for this target (results in hand before the infusion; the titer a week before, for its send-out result).
SCHEDULE: dict[str, tuple[str, int | None, int, int]] = {
    "smn1-biallelic": ("genetics", None, GENETICS_DAY, -1),
    "aav9-titer": ("titer", -TITER_MAX_AGE_DAYS, -TITER_MAX_AGE_DAYS, -TITER_RESULT_DAYS),
    "baseline-liver-function": ("baseline-labs", -BASELINE_LAB_MAX_AGE_DAYS, VERIFICATION_DAY, -1),
    "baseline-platelets-troponin": ("baseline-labs", -BASELINE_LAB_MAX_AGE_DAYS, VERIFICATION_DAY, -1),
    "age-under-2": ("age-weight", None, VERIFICATION_DAY, 0),
    "weight-in-label-range": ("age-weight", -WEIGHT_MAX_AGE_DAYS, VERIFICATION_DAY, -1),
    "specialist-prescriber": ("documentation", None, VERIFICATION_DAY, -1),
    "gestational-age": ("documentation", None, VERIFICATION_DAY, -1),
    "no-advanced-sma": ("documentation", None, VERIFICATION_DAY, -1),
    "one-time-dose": ("documentation", None, VERIFICATION_DAY, -1),
    "benefit-covered": ("documentation", None, VERIFICATION_DAY, -1),
    "dose-within-label": ("documentation", None, VERIFICATION_DAY, -1),
    "corticosteroid-plan": ("prednisolone", None, PREDNISOLONE_DAY, PREDNISOLONE_DAY),
    "no-active-infection": ("infusion-day", None, 0, 0),
}
STEP_ORDER = ("genetics", "titer", "baseline-labs", "age-weight", "documentation", "prednisolone", "infusion-day")

DONE, MISSING, EXPIRES, BLOCKS, REVIEW_STATUS = "done", "missing", "expires", "blocks", "review"
READY, NOT_READY, BLOCKED = "ready", "not-ready", "blocked"


@dataclass
class Gate:
    criterion: str
    step: str
    status: str  # done | missing | expires | blocks | review
    finding: Finding  # the eligibility rule's finding as of the target date
    by: date  # the guide's date for this step
    latest: date  # the last date it can still be done for this target
    not_before: date | None  # the first date a result counts for the target (rule windows)
    expires: date | None = None  # status `expires`: the first date it no longer counts
    late: bool = False  # not done and its last date has passed: the target date cannot be kept


@dataclass
class WeightTrend:
    kg_per_month: float  # per 30 days
    # projected date the weight passes MAX_WEIGHT_KG: None when not rising, when a measured weight is already over
    # it (`above`), or when the projection falls before today (`passed`): never a crossing date in the past
    reaches_limit: date | None
    evidence: tuple[Evidence, ...]
    above: Measurement | None = None  # the latest weight, when it is already above MAX_WEIGHT_KG
    passed: bool = False  # rising, under the limit when measured, projected above it by today: re-weigh


@dataclass
class SteroidRecheck:
    """One current prednisolone order whose mg/kg/day the rule could not check for the target date because the
    weight is too old for it: shown as "order found", with what is open, never as done."""

    order: Order
    weight: Measurement | None  # the latest weight, older than the rule's window for the target
    mg_per_kg_day: float | None  # on that weight: an indication, the rule decides on a current one


@dataclass
class Readiness:
    overall: str  # ready | not-ready | blocked
    today: date
    target: date
    target_basis: str  # "order" | "service-request" | "appointment" | "steroid-plan" | "earliest-feasible"
    target_evidence: str  # the reference the target date was read from, or ""
    earliest_feasible: date
    last_possible: date  # the day before the second birthday
    gates: tuple[Gate, ...]
    evaluation: Evaluation  # the rules' evaluation as of the target date
    weight_trend: WeightTrend | None = None
    # "order-date-in-past", "too-late-for-plan", "other-planned-dates", "steroid-plan-too-late"
    notes: tuple[str, ...] = ()
    target_recognised_by: str = ""  # service-request / appointment targets: "code" | "reference" | "text"
    target_quote: str = ""  # text recognition: the record's own words
    other_dates: tuple[tuple[str, date], ...] = ()  # other planned dates on record (reference, date)
    steroid_start: date | None = None  # steroid-plan target, or a plan starting too late to move it
    steroid_recheck: SteroidRecheck | None = None


def under_two(facts: PatientFacts, today: date) -> bool:
    """A readable birth date and not yet 2 years old today (a partial one: whichever day it was)."""
    return facts.earliest_birth is not None and today < add_years(facts.earliest_birth, 2)


def concerns(facts: PatientFacts, today: date) -> bool:
    """A child under 2 today with an SMA diagnosis or an SMN1 result and no Zolgensma dose on record."""
    if not under_two(facts, today) or facts.prior_doses:
        return False
    return bool(facts.genetics) or any(f.codes & SMA_DIAGNOSES for f in facts.conditions)


def earliest_feasible(facts: PatientFacts, today: date) -> date:
    """Prednisolone starts at day -1, so tomorrow at the soonest; a titer still needed pushes it out by the
    draw-to-result time (the rule is asked whether the titer on record would count)."""
    candidate = today + timedelta(days=1)
    if evaluate(facts, today, target=candidate).finding("aav9-titer").status != MET:
        candidate = today + timedelta(days=TITER_RESULT_DAYS)
    return candidate


def assess(facts: PatientFacts, today: date) -> Readiness | None:
    if not concerns(facts, today):
        return None
    earliest = earliest_feasible(facts, today)
    # the day before the second birthday; a partial birth date: the earliest it can be (never planned past it)
    last = add_years(facts.earliest_birth, 2) - timedelta(days=1)
    choice = choose_target(facts, today, earliest, last)
    notes = list(choice.notes)
    if earliest > last:
        notes.append("too-late-for-plan")
        if today + timedelta(days=-PREDNISOLONE_DAY) <= last:
            # only our own draw-to-result assumption (TITER_RESULT_DAYS) pushes the plan past the birthday: a
            # faster titer result could still make it, and the card says so rather than blaming age
            notes.append("titer-turnaround")
    target = choice.target
    at_target = evaluate(facts, today, target=target)
    now = evaluate(facts, today, target=today)
    gates = tuple(_gate(f, now, facts, today, target) for f in at_target.findings)
    gates = tuple(sorted(gates, key=lambda g: (STEP_ORDER.index(g.step), g.by)))
    if at_target.overall == NOT_ELIGIBLE:
        overall = BLOCKED
    elif at_target.overall == ELIGIBLE:
        overall = READY  # every criterion met on the target date, by the rules and their integrity guard
    else:
        overall = NOT_READY
    return Readiness(overall, today, target, choice.basis, choice.reference, earliest, last, gates, at_target,
                     weight_trend(facts, today), tuple(notes), choice.recognised_by, choice.quote, choice.others,
                     choice.steroid_start, steroid_recheck(facts, today, at_target))


def steroid_recheck(facts: PatientFacts, today: date, at_target: Evaluation) -> SteroidRecheck | None:
    """The prednisolone order the rule found but could not dose-check for want of a current weight."""
    finding = at_target.finding("corticosteroid-plan")
    plans = current_steroid_plans(facts, today)
    if finding.reason != "steroid-dose-unverifiable" or len(plans) != 1 or plans[0].dose is None:
        return None
    # only when a current weight is what is missing: a dose that no weight could check (another corticosteroid,
    # no frequency) keeps the rule's own reason
    if at_target.finding("weight-in-label-range").reason not in ("weight-stale", "no-weight") \
            or steroid_mg_per_kg_day(plans[0], 1.0) is None:
        return None
    weights = [m for m in facts.measurements if m.analyte == "weight" and m.when and m.when <= today]
    weight = max(weights, key=lambda m: m.when) if weights else None
    per_kg = steroid_mg_per_kg_day(plans[0], weight.value if weight else None)
    return SteroidRecheck(plans[0], weight, round(per_kg, 2) if per_kg is not None else None)


@dataclass
class TargetChoice:
    target: date
    basis: str  # "order" | "service-request" | "appointment" | "steroid-plan" | "earliest-feasible"
    reference: str = ""
    recognised_by: str = ""  # service request / appointment: "code" | "reference" | "text"
    quote: str = ""  # text recognition: the record's words
    others: tuple[tuple[str, date], ...] = ()  # other planned dates on record, not chosen
    notes: tuple[str, ...] = ()
    steroid_start: date | None = None


# Recognised planned infusions, most authoritative first: the infusion requested as a service, then an
# appointment recognised by code or by referring to the order, then one recognised by its text only.
_PLAN_RANK = {("service-request", "code"): 0, ("service-request", "text"): 1, ("appointment", "code"): 2,
              ("appointment", "reference"): 2, ("appointment", "text"): 3}


def choose_target(facts: PatientFacts, today: date, earliest: date, last: date) -> TargetChoice:
    """Day 0 of the plan (project choice, stated on the card): the planned date of the Zolgensma order (what the
    order-sign check evaluates); else the planned date of a Zolgensma infusion ServiceRequest; else the earliest
    infusion appointment (recognised by code or reference before one recognised by text); else, when the only
    date on record is a prednisolone plan starting after day -1 of the earliest feasible date, the day after
    its start (the prescriber has said when day -1 is); else the earliest feasible date. Dates before today are
    never a target. Other planned dates that differ from the target are listed, to be reconciled."""
    candidates: list[tuple[tuple, str, str, date, str, str]] = []  # (rank, basis, reference, date, how, quote)
    notes: list[str] = []
    planned = facts.order.planned_date if facts.order else None
    if planned and planned >= today:
        candidates.append(((-1, planned), "order", facts.order.reference, planned, "", ""))
    else:
        if planned:
            notes.append("order-date-in-past")
        if dates_unread(facts):  # a date that would come first may be in what was not read: the card says so
            notes.append("planned-dates-unread")
    for p in facts.planned_infusions:
        if p.when >= today:
            candidates.append(((_PLAN_RANK[p.kind, p.recognised_by], p.when), p.kind, p.reference, p.when,
                               p.recognised_by, p.shown if p.recognised_by == "text" else ""))
    if candidates:
        candidates.sort(key=lambda c: c[0])
        _, basis, ref, target, how, quote = candidates[0]
        others = tuple(dict.fromkeys((c[2], c[3]) for c in candidates[1:] if c[3] != target))
        if others:
            notes.append("other-planned-dates")
        return TargetChoice(target, basis, ref, how, quote, others, tuple(notes))
    plans = current_steroid_plans(facts, today)
    start = plans[0].start if len(plans) == 1 else None
    if start and start + timedelta(days=-PREDNISOLONE_DAY) > earliest:
        if start + timedelta(days=-PREDNISOLONE_DAY) <= last:
            return TargetChoice(start + timedelta(days=-PREDNISOLONE_DAY), "steroid-plan", plans[0].reference,
                                notes=tuple(notes), steroid_start=start)
        notes.append("steroid-plan-too-late")  # kept at the earliest date: criterion 7 blocks, the plan must move
        return TargetChoice(earliest, "earliest-feasible", notes=tuple(notes), steroid_start=start)
    return TargetChoice(earliest, "earliest-feasible", notes=tuple(notes))


# Where a planned infusion date could be on record (translate/medications.py, translate/scheduling.py).
DATE_SOURCES = ("medication-requests", "service-requests", "appointments")
_DATE_KINDS = ("zolgensma", "service-request", "appointment", None)


def dates_unread(facts: PatientFacts) -> list[str]:
    """The sources that may hold a planned infusion date we did not see: not read, not read completely, or with an
    entry that could not be read and may have been the order, request or appointment."""
    return [s for s in DATE_SOURCES if s not in facts.sources_read or facts.source_gaps.get(s)
            or any(u.source == s and u.kind in _DATE_KINDS for u in facts.unread)]


def _gate(f: Finding, now: Evaluation, facts: PatientFacts, today: date, target: date) -> Gate:
    step, first, by, last = SCHEDULE[f.criterion]
    not_before = target + timedelta(days=first) if first is not None else None
    gate = Gate(f.criterion, step, MISSING, f, target + timedelta(days=by), target + timedelta(days=last),
                not_before)
    if f.status == NOT_MET:
        gate.status = BLOCKS
    elif f.status == REVIEW:
        gate.status = REVIEW_STATUS
    elif f.status == MET:
        gate.status = DONE
    elif now.finding(f.criterion).status == MET and target > today:
        # Met today, not on the target date: it lapses in between (a titer, lab or weight grows too old).
        gate.status, gate.expires = EXPIRES, _first_lapse(facts, today, target, f.criterion)
    gate.late = gate.status in (MISSING, EXPIRES) and gate.latest < today
    return gate


def _first_lapse(facts: PatientFacts, today: date, target: date, criterion: str) -> date:
    """The first date in (today, target] on which the rule no longer says `met` (bisection; the rules decide)."""
    lo, hi = today, target  # met on lo, not met on hi
    while (hi - lo).days > 1:
        mid = lo + timedelta(days=(hi - lo).days // 2)
        if evaluate(facts, today, target=mid).finding(criterion).status == MET:
            lo = mid
        else:
            hi = mid
    return hi


def weight_trend(facts: PatientFacts, today: date) -> WeightTrend | None:
    since = today - timedelta(days=TREND_DAYS)
    weights = sorted((m for m in facts.measurements if m.analyte == "weight" and m.when and since <= m.when <= today),
                     key=lambda m: m.when)
    if len(weights) < 2 or (weights[-1].when - weights[0].when).days < TREND_MIN_SPAN_DAYS:
        return None
    slope = _slope_per_day(weights)
    latest = weights[-1]
    evidence = tuple(m.evidence for m in weights)
    if latest.value > MAX_WEIGHT_KG:  # measured above the limit: nothing to project
        return WeightTrend(round(slope * 30, 2), None, evidence, above=latest)
    reaches = None
    if slope > 0:
        reaches = latest.when + timedelta(days=int((MAX_WEIGHT_KG - latest.value) / slope) + 1)
        if reaches <= today:
            return WeightTrend(round(slope * 30, 2), None, evidence, passed=True)
    return WeightTrend(round(slope * 30, 2), reaches, evidence)


def _slope_per_day(weights: list[Measurement]) -> float:
    """Least-squares slope in kg per day."""
    xs = [(m.when - weights[0].when).days for m in weights]
    ys = [m.value for m in weights]
    mx, my = sum(xs) / len(xs), sum(ys) / len(ys)
    sxx = sum((x - mx) ** 2 for x in xs)
    return sum((x - mx) * (y - my) for x, y in zip(xs, ys, strict=True)) / sxx if sxx else 0.0
