"""Eligibility rules about the treatment itself: the corticosteroid plan (criterion 7), the ordered dose against the
label's weight bands (criterion 11) and the label's weight range. Pure: see rules/eligibility.py."""

from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal

from ..facts import Dose, Evidence
from ..quantities import scientific
from ..terminology import OPEN_REQUEST_STATUSES
from .context import (
    STEROID_COURSE_DAYS,
    STEROID_MG_PER_KG_RANGE,
    VG_RELATIVE_TOLERANCE,
    VOLUME_TOLERANCE_ML,
    WEIGHT_MAX_AGE_DAYS,
    RuleContext,
    days,
    iso,
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
from .findings import MET, NOT_MET, REVIEW, UNKNOWN, Finding


# --- criterion 7 ------------------------------------------------------------------------------
def corticosteroid_plan(ctx: RuleContext) -> Finding:
    """FDA label 2.1: prednisolone-equivalent 1 mg/kg/day from the day before infusion for 30 days in total
    (day -1 through day 28). Orders that ended (status completed/stopped/cancelled, or a period that ended
    before today) do not count; several current orders are added up or sent to review, never one picked."""
    c = "corticosteroid-plan"
    plans = current_steroid_plans(ctx.facts, ctx.today)
    ended = [o for o in ctx.facts.steroid_orders if o not in plans and o.status != "entered-in-error"]
    if not plans:
        lost = ctx.unavailable(c, "medication-requests")
        if lost:
            return lost
        # open orders that are not the label's course (as needed, on hold, a proposal, a draft never signed,
        # not systemic): the course is not ordered, and the card says why each one does not count
        other = [o for o in open_steroid_orders(ctx.facts, ctx.today) if o.not_a_course]
        if other:
            return ctx.finding(c, UNKNOWN, "steroid-order-not-a-course", [o.evidence for o in other],
                               missing=("corticosteroid",), kinds=" / ".join(dict.fromkeys(
                                   w.split(" (")[0] for o in other for w in o.not_a_course)),
                               why="; ".join(f"{o.reference} is {', '.join(o.not_a_course)}" for o in other))
        # A corticosteroid order on record that could not be read (or an unreadable medication order of unknown
        # kind) may be the course: "missing" would suggest a second, duplicate order (review 2026-11-24f F5).
        unreadable = [u for u in ctx.facts.unread if u.kind == "corticosteroid"
                      or u.kind is None and u.source == "medication-requests"]
        if unreadable:
            return ctx.finding(c, UNKNOWN, "steroid-order-unreadable", missing=("corticosteroid",),
                               unread="; ".join(f"{u.reference} ({u.reason})" for u in unreadable[:3])
                               + (f"; and {len(unreadable) - 3} more" if len(unreadable) > 3 else ""))
        if ended:
            return ctx.finding(c, UNKNOWN, "steroid-plan-ended", [o.evidence for o in ended],
                               missing=("corticosteroid",), today=ctx.today.isoformat())
        return ctx.finding(c, UNKNOWN, "no-steroid-plan", missing=("corticosteroid",))
    weight = ctx.weight.value if ctx.weight_current and not ctx.weight_bound else None
    weight_ev = [ctx.weight.evidence] if ctx.weight_current else []
    low, high = STEROID_MG_PER_KG_RANGE
    if len(plans) > 1:
        return _concurrent_steroids(ctx, c, plans, weight, weight_ev)
    plan = plans[0]
    ev = [plan.evidence]
    mg_per_kg_day = steroid_mg_per_kg_day(plan, weight)
    day_minus_1 = ctx.planned - timedelta(days=1) if ctx.planned else None
    last_day = ctx.planned + timedelta(days=STEROID_COURSE_DAYS - 2) if ctx.planned else None
    course = dict(day_minus_1=day_minus_1.isoformat() if day_minus_1 else "", course_days=STEROID_COURSE_DAYS,
                  last_day=last_day.isoformat() if last_day else "", start=iso(plan.start), end=iso(plan.end))
    if day_minus_1 and plan.start and plan.start > day_minus_1:
        return ctx.finding(c, NOT_MET, "steroid-starts-late", ev, **course)
    if last_day and plan.end and plan.end < last_day:
        covered = max(0, days(plan.end, max(plan.start or day_minus_1, day_minus_1)) + 1)
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


def current_steroid_plans(facts, today: date) -> list:
    """Corticosteroid orders that still plan the label's course: open status, a period that has not ended before
    today, and scheduled, active (or of this session), systemic (Order.not_a_course empty); also what the readiness
    plan reads as a prednisolone start date."""
    return [o for o in open_steroid_orders(facts, today) if not o.not_a_course]


def open_steroid_orders(facts, today: date) -> list:
    """Corticosteroid orders of open status whose period has not ended before today, a course or not."""
    return [o for o in facts.steroid_orders if o.status in OPEN_REQUEST_STATUSES and not (o.end and o.end < today)]


def _concurrent_steroids(ctx: RuleContext, c: str, plans, weight: float | None, weight_ev) -> Finding:
    """Several current corticosteroid orders: the doses of those that overlap are added up and the whole goes
    to review (a duplicate left active, or a course split over two orders, is for the prescriber to settle)."""
    doses = [steroid_mg_per_kg_day(o, weight) for o in plans]
    overlap = any(_overlaps(a, b) for n, a in enumerate(plans) for b in plans[n + 1:])
    total = f"{sum(round(d, 2) for d in doses):.2f}" if overlap and None not in doses else ""
    parts = ", ".join(f"{d:.2f}" if d is not None else "?" for d in doses)
    # The duplicate to cancel, only when it is unambiguous: overlapping orders, every dose known, exactly one at
    # the label's 1 mg/kg/day. The status stays `review` until the prescriber removes it (never `met` here).
    low, high = STEROID_MG_PER_KG_RANGE
    right = [o for o, d in zip(plans, doses, strict=True) if d is not None and low <= d <= high]
    duplicates = tuple(o.reference for o in plans if o not in right) \
        if overlap and None not in doses and len(right) == 1 else ()
    return ctx.finding(c, REVIEW, "steroid-orders-concurrent" if overlap else "steroid-orders-several",
                       [o.evidence for o in plans] + weight_ev, count=len(plans), doses=parts, duplicates=duplicates,
                       total=total or "not computable (a dose or the weight is missing)",
                       low=STEROID_MG_PER_KG_RANGE[0], high=STEROID_MG_PER_KG_RANGE[1])


def _overlaps(a, b) -> bool:
    """Do two orders' periods share a day? An open or unknown end overlaps everything after the start."""
    a_start, b_start = a.start or date.min, b.start or date.min
    a_end, b_end = a.end or date.max, b.end or date.max
    return a_start <= b_end and b_start <= a_end


def steroid_mg_per_kg_day(plan, weight_kg: float | None) -> float | None:
    """mg/kg/day of prednisolone (prednisone 1:1); None when it cannot be computed with certainty."""
    if plan.dose is None or plan.dose.problem:  # a bound, or unit and code that disagree: not a dose to compute
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


# --- criterion 11 and the label's weight range ---------------------------------------------------
def dose_within_label(ctx: RuleContext) -> Finding:
    c = "dose-within-label"
    order = ctx.facts.order
    if len(order.kit_ndcs) > 1:
        # One order, one kit (FDA label 2.1 and 16: a kit is one patient's dose for one 0.5 kg band): kits of two
        # bands cannot both be the band's, whatever the weight, and either could be dispensed. Not met, whichever
        # coding comes first (review 2026-11-24c R4).
        return ctx.finding(c, NOT_MET, "kits-disagree", [order.evidence], count=len(order.kit_ndcs),
                           kits=", ".join(order.kit_ndcs))
    if not ctx.weight_current or ctx.weight_bound:
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
    elsewhere = [(ndc, system) for ndc, system in order.kit_codes_elsewhere if ndc != kit.ndc]
    if elsewhere:
        # A kit NDC written under RxNorm or a local system (R8): the kit it names is another band's, and which
        # code the pharmacy reads cannot be told. Not a coded NDC, so not a clear failure either: unknown.
        return ctx.finding(c, UNKNOWN, "kit-code-other-system", ev, missing=("dose",),
                           codes="; ".join(f"{ndc} under {system}" for ndc, system in elsewhere), **params)
    if order.unreadable:
        return ctx.finding(c, UNKNOWN, "order-unreadable", ev, missing=("dose",), why=order.unreadable, **params)
    unusable = [d for d in order.doses if d.problem]
    if unusable:
        return ctx.finding(c, UNKNOWN, "dose-unusable", ev, missing=("dose",),
                           why="; ".join(f"{d.shown}: {d.problem}" for d in unusable), **params)
    dose = order.dose
    if dose is None:
        if order.kit_ndc:
            return _unless_text_disagrees(ctx, c, ev, kit, params,
                                          ctx.finding(c, MET, "kit-matches-band", ev, **params))
        return ctx.finding(c, UNKNOWN, "dose-not-stated", ev, missing=("dose",), **params)
    if len(order.doses) > 1:
        return _unless_text_disagrees(ctx, c, ev, kit, params, _several_doses(ctx, c, order.doses, ev, kit, params))
    expected = {"mL": kit.dose_volume_ml, "vg": kit.dose_vg, "vg/kg": DOSE_VG_PER_KG}.get(dose.unit)
    if expected is None:
        return ctx.finding(c, UNKNOWN, "dose-unit-unknown", ev, missing=("dose",), unit=dose.unit, **params)
    ordered = f"{scientific(dose.value, 4)} {dose.unit}"  # "1.1 × 10^14 vg/kg", "41.3 mL"
    if _off_band(dose, expected):
        return ctx.finding(c, NOT_MET, "dose-off-band", ev, ordered=ordered, **params)
    if dose.unit == "vg/kg":
        # 1.1e14 vg/kg is the label's nominal dose, but the label infuses the dose of the band's upper limit, not
        # weight x 1.1e14: at the measured weight the order means a different volume than the band dose (the
        # same order in mL would not match). The volume to infuse is not stated: unknown, asking for mL / kit.
        w = ctx.weight.value
        return ctx.finding(c, UNKNOWN, "dose-per-kg-needs-volume", ev, missing=("dose",), ordered=ordered,
                           weight=f"{w:g}", computed_vg=scientific(dose.value * w),
                           computed_ml=f"{dose.value * w / CONCENTRATION_VG_PER_ML:.1f}", **params)
    return _unless_text_disagrees(ctx, c, ev, kit, params,
                                  ctx.finding(c, MET, "dose-matches-band", ev, ordered=ordered, **params))


def _off_band(dose, expected: float) -> bool:
    """Is the dose further from the label's than the tolerance? Volumes are compared as the decimals written
    (review 2026-11-24c R10: in floats 41.4 - 41.3 exceeds 0.1 while 41.3 - 41.2 does not), so that the tolerance
    is the same on both sides: 41.2 and 41.4 mL are both within 0.1 mL of 41.3, 41.19 and 41.41 are not."""
    if dose.unit == "mL":
        return abs(Decimal(repr(dose.value)) - Decimal(repr(expected))) > Decimal(repr(VOLUME_TOLERANCE_ML))
    return abs(dose.value - expected) > expected * VG_RELATIVE_TOLERANCE


def _unless_text_disagrees(ctx: RuleContext, c: str, ev, kit, params, found: Finding) -> Finding:
    """`found` (the coded dose or kit matches the band), unless the order's dosage text names another volume:
    the text never makes the dose met, but a text the infusion nurse reads saying another volume is an
    order-entry error to settle before signing (review 2026-11-24c R5), as a report contradicting a coded
    genetic result is (criterion 3). The card quotes the text (escaped, as every parameter)."""
    if found.status != MET:
        return found
    other = [(ml, text) for ml, text in ctx.facts.order.text_volumes
             if _off_band(Dose(ml, "mL"), kit.dose_volume_ml)]
    if not other:
        return found
    return ctx.finding(c, REVIEW, "dose-text-disagrees", ev, text_volume=", ".join(f"{ml:g} mL" for ml, _ in other),
                       dosage_text=" / ".join(dict.fromkeys(text for _, text in other)), **params)


def _several_doses(ctx: RuleContext, c: str, doses, ev, kit, params) -> Finding:
    """An order stating more than one dose (several doseAndRate entries or dosageInstructions, a doseRange): each is
    judged, none passed over for the first (DR.005.D 11; label 2.1: one dose, the band's). One off the band fails the
    order; a unit no rule reads leaves it unknown; all on the band (the same dose in mL and vg, a range whose two ends
    are the band dose) is met; a dose per kg matches only alongside a volume or vg dose that does."""
    ordered = "; ".join(d.shown for d in doses)
    off, unread, matched = [], [], []
    for dose in doses:
        expected = {"mL": kit.dose_volume_ml, "vg": kit.dose_vg, "vg/kg": DOSE_VG_PER_KG}.get(dose.unit)
        if expected is None:
            unread.append(dose.shown)
            continue
        (off if _off_band(dose, expected) else matched).append(dose)
    several = dict(count=len(doses), ordered=ordered, **params)
    if off:
        return ctx.finding(c, NOT_MET, "doses-several-off", ev, off="; ".join(d.shown for d in off), **several)
    if unread or not any(d.unit != "vg/kg" for d in matched):
        return ctx.finding(c, UNKNOWN, "doses-several-unclear", ev, missing=("dose",),
                           unread="; ".join(unread) or "a dose per kg only, no volume", **several)
    return ctx.finding(c, MET, "dose-matches-band", ev, **several)


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


def weight_in_label_range(ctx: RuleContext) -> Finding:
    c = "weight-in-label-range"
    if not ctx.weight_current or ctx.weight_bound:
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


def _weight_missing(ctx: RuleContext, c: str) -> Finding:
    if ctx.weight is None:
        # A weight on record that could not be read (units that disagree, I3) is not a missing one: named.
        unread = [u for u in ctx.facts.unread if u.kind == "weight"]
        if unread:
            return ctx.finding(c, UNKNOWN, "weight-unreadable", [Evidence(u.reference, u.reason) for u in unread],
                               missing=("weight",))
        return ctx.unavailable(c, "vitals") or ctx.finding(c, UNKNOWN, "no-weight", missing=("weight",))
    if ctx.weight_bound:
        return ctx.finding(c, UNKNOWN, "weight-bound", [ctx.weight.evidence], missing=("weight",),
                           weight=f"{ctx.weight.comparator}{ctx.weight.value:g} kg", date=ctx.weight.when.isoformat())
    return ctx.finding(c, UNKNOWN, "weight-stale", [ctx.weight.evidence], missing=("weight",),
                       window=WEIGHT_MAX_AGE_DAYS)
