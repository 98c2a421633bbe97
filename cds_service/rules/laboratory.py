"""The laboratory criteria of DR.005.D: the AAV9 antibody titer (criterion 6) and the baseline liver function,
platelets and troponin-I (criteria 8 and 9). Pure, like every rule (rules/eligibility.py)."""

from __future__ import annotations

from ..facts import TITER_NOT_READABLE, Evidence, Measurement, Titer
from ..quantities import bound_holds, plain_list, titer_at_most, with_unit
from .context import (
    BASELINE_LAB_MAX_AGE_DAYS,
    TITER_LIMIT,
    TITER_MAX_AGE_DAYS,
    RuleContext,
    coagulation_readings,
    days,
)
from .findings import MET, NOT_MET, REVIEW, UNKNOWN, Finding


# --- criterion 6 ------------------------------------------------------------------------------
def aav9_titer(ctx: RuleContext) -> Finding:
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
        # A titer labelled as the mother's is another person's measurement: the member's own is still needed
        # (review 2026-11-24f F3; DR.005.D 6 asks for the member's baseline titer).
        others = [r for r in ctx.facts.other_persons if r.analyte == c]
        if not undated and others:
            return ctx.finding(c, UNKNOWN, "titer-other-person", [r.evidence for r in others], missing=(c,),
                               whose=others[0].whose, window=TITER_MAX_AGE_DAYS)
        return ctx.finding(c, UNKNOWN, "titer-undated" if undated else "titer-missing", undated,
                           missing=("aav9-titer",), window=TITER_MAX_AGE_DAYS)
    latest = max(dated, key=lambda t: t.when)
    ev = [latest.evidence]
    params = dict(titer=latest.reported, limit="1:50", date=latest.when.isoformat(),
                  age_days=days(ctx.as_of, latest.when), window=TITER_MAX_AGE_DAYS)
    # What the lab wrote beside the value decides before the value does (review 2026-11-24f F2, F4): a specimen it
    # calls unfit is no measurement (re-draw); a comment, a note pointing at a repeat or another dilution, or a
    # flag that contradicts the value leaves the result unsettled: never `met` (nor `not-met`) on it.
    if latest.remark_kind == "specimen":
        return ctx.finding(c, UNKNOWN, "titer-specimen-unfit", ev, missing=("aav9-titer",), remark=latest.remark,
                           **params)
    if latest.remark_kind:
        return ctx.finding(c, REVIEW, "titer-remark", ev, remark=latest.remark, **params)
    within = titer_at_most(latest.reciprocal, latest.comparator, TITER_LIMIT)
    against = _flag_against(latest, within)
    if against:
        return ctx.finding(c, REVIEW, "titer-flag-contradicts", ev, flag=against, **params)
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
    # A NEWER titer by another assay (neutralising antibodies, transduction inhibition, ECL) that is not at or below
    # 1:50 is evidence of AAV9 immunity after the ELISA. The ELISA stays the policy's test and the scales differ,
    # so it cannot fail the criterion, nor be missing data an order would settle: the record contradicts itself
    # on the question the criterion asks, which is the Medical Director's call (`review`), quoting both
    # (review 2026-11-24b A3; the same-day case is `conflicting-results`, rules/integrity.py).
    newer = [t for t in ctx.facts.titers if t.method_kind == "other" and t.when is not None
             and latest.when < t.when <= ctx.as_of
             and titer_at_most(t.reciprocal, t.comparator, TITER_LIMIT) is not True]
    if newer:
        other = max(newer, key=lambda t: t.when)
        return ctx.finding(c, REVIEW, "titer-newer-other-assay", ev + [t.evidence for t in newer],
                           other_titer=other.reported, other_method=other.method or "another assay",
                           other_date=other.when.isoformat(), **params)
    noted = [shown for shown, meaning in latest.flags if meaning in ("positive", "high", "equivocal")]
    if noted:  # "1:25" flagged High against a lab range of <1:25: the policy's limit is 1:50 (a note, not a doubt)
        return ctx.finding(c, MET, "titer-within-limit-flagged", ev, flag=", ".join(noted), **params)
    return ctx.finding(c, MET, "titer-within-limit", ev, **params)


def _flag_against(titer: Titer, within: bool | None) -> str:
    """The lab's flag that contradicts the titer's value, as shown ("" when none does): positive or high beside a
    value below a dilution ("<1:25": no antibodies at the lowest dilution tested), negative beside a titer above
    the limit or reported as at least a dilution. Either the value or the flag is wrong: the lab says which."""
    for shown, meaning in titer.flags:
        if meaning in ("positive", "high") and titer.comparator in ("<", "<="):
            return shown
        if meaning == "negative" and (within is False or titer.comparator in (">", ">=")):
            return shown
    return ""

# --- criteria 8 and 9 -------------------------------------------------------------------------
def _baseline(ctx: RuleContext, c: str, analytes: tuple[str, ...], alternatives: dict[str, str] | None = None):
    """Latest result per analyte; returns (found, None) or, when any is missing or older than the baseline
    window, (found, the `unknown` finding that names the gaps)."""
    found: dict[str, Measurement] = {}
    missing, stale = [], []
    for analyte in analytes:
        m = ctx.facts.latest(analyte, ctx.as_of)
        other = ctx.facts.latest(alternatives[analyte], ctx.as_of) if alternatives and analyte in alternatives \
            else None
        if other is not None and (m is None or other.when > m.when):  # the newer of PT and INR
            m = other
        if m is None:
            missing.append(analyte)
        elif days(ctx.as_of, m.when) > BASELINE_LAB_MAX_AGE_DAYS:
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
_COAG_NAMES = {"pt": "PT", "inr": "INR"}
# Analytes as a clinician names them, for the lists on the cards ("AST, ALT and total bilirubin").
_LAB_NAMES = {**_LFT_NAMES, "pt": "PT/INR", "inr": "INR", "platelets": "platelet count", "troponin-i": "troponin-I",
              "creatinine": "creatinine", "hemoglobin": "hemoglobin"}


def _shown(m: Measurement) -> str:
    """'ALT >=90 U/L': a result as written on a card (INR has no unit)."""
    return f"{_LAB_NAMES[m.analyte]} {'' if m.comparator == '=' else m.comparator}{with_unit(f'{m.value:g}', m.unit)}"


def baseline_liver_function(ctx: RuleContext) -> Finding:
    c = "baseline-liver-function"
    found, gap = _baseline(ctx, c, ("ast", "alt", "bilirubin", "pt"), {"pt": "inr"})
    if gap:
        return gap
    # PT and INR both count (review 2026-11-24c R2): the latest of each that is current (context.coagulation_readings)
    # and within the baseline window; `found["pt"]` is the newer of the two.
    coags = [m for m in coagulation_readings(ctx.facts.latest("pt", ctx.as_of), ctx.facts.latest("inr", ctx.as_of))
             if days(ctx.as_of, m.when) <= BASELINE_LAB_MAX_AGE_DAYS]
    ev = [m.evidence for m in found.values()] + [m.evidence for m in coags if m is not found["pt"]]
    # A result reported as a bound ("<20", ">=90": Quantity.comparator) settles the 2 x ULN question only when
    # every value it allows falls on one side (quantities.bound_holds); ">=90" with ULN 45 is at least 2 x ULN.
    elevated, unsettled = [], []
    for a in ("alt", "ast", "bilirubin"):
        m = found[a]
        if m.ref_high is None:
            continue
        above = bound_holds(m.value, m.comparator, ">", 2 * m.ref_high)
        # A measured 2 x ULN exactly is not above it (label 8.6: "> 2 x ULN"); a bound from 2 x ULN up is.
        if above or (m.comparator != "=" and bound_holds(m.value, m.comparator, ">=", 2 * m.ref_high)):
            elevated.append(a)
        elif above is None:
            unsettled.append(m)
    # A PT/INR without a reference range is as open as an ALT without one (review 2026-11-24c R3): neither the
    # label nor DR.005.D nor clinical-facts gives a fixed normal limit for PT or INR, so none is assumed.
    no_uln = [_LAB_NAMES[a] for a in ("alt", "ast", "bilirubin") if found[a].ref_high is None] + \
        [_COAG_NAMES[m.analyte] for m in coags if m.ref_high is None]
    if elevated:
        return ctx.finding(c, REVIEW, "lft-above-2x-uln", ev, elevated=", ".join(_LFT_NAMES[a] for a in elevated))
    high = [m for m in coags if m.ref_high is not None and bound_holds(m.value, m.comparator, ">", m.ref_high)]
    if high:
        # A prolonged PT/INR at baseline is a sign of impaired liver synthetic function (or another
        # coagulopathy): the boxed warning asks for liver function incl. PT before infusion, and pre-existing
        # liver impairment may raise the risk of acute liver failure. Neither label nor policy sets a limit, so
        # it is the Medical Director's call (review, like ALT/AST/bilirubin > 2 x ULN), never a silent met.
        coag = max(high, key=lambda m: m.when)
        unit = "" if coag.unit.startswith("{") else f" {coag.unit}"  # INR is a ratio ({INR}): no unit shown
        shown = f"{'' if coag.comparator == '=' else coag.comparator}{coag.value:g}"
        return ctx.finding(c, REVIEW, "coagulation-above-uln", ev, test=_COAG_NAMES[coag.analyte],
                           value=shown, unit=unit, uln=f"{coag.ref_high:g}", date=coag.when.isoformat())
    unsettled += [m for m in coags if m.ref_high is not None
                  and bound_holds(m.value, m.comparator, ">", m.ref_high) is None]
    if unsettled:
        # Only a bound is known, and it allows values on both sides of the limit: not a measurement (B3).
        return ctx.finding(c, UNKNOWN, "lft-bound-unsettled", ev, missing=("liver-function-value",),
                           bounded=", ".join(_shown(m) for m in unsettled))
    if no_uln:
        # Documented, but the label's 2 x ULN question (section 8.6) cannot be answered: above 2 x ULN the answer
        # would be `review`, so `met` would be a guess (clinical-facts.md 3: "ULN unknown", never a guessed ULN).
        # Unknown until the lab gives its reference range.
        return ctx.finding(c, UNKNOWN, "baseline-lft-documented-uln-unknown", ev, missing=("liver-reference-range",),
                           no_uln=", ".join(no_uln))
    return ctx.finding(c, MET, "baseline-lft-documented", ev)


def baseline_platelets_troponin(ctx: RuleContext) -> Finding:
    c = "baseline-platelets-troponin"
    found, gap = _baseline(ctx, c, ("platelets", "troponin-i"))
    if gap:
        return gap
    ev = [m.evidence for m in found.values()]
    plt, trop = found["platelets"], found["troponin-i"]
    # Documented (criterion 9 is met), but an abnormal baseline is a risk the label's warnings name
    # (thrombocytopenia / TMA, troponin-I): a warning card says what to do. Whether it is abnormal needs the
    # lab's limit and a measured value: without the limit (B2), or with a bound that allows both sides (B3),
    # the caution can be neither raised nor excluded, so the criterion stays `unknown`, as criterion 8 does
    # without a ULN (clinical-facts.md 3: a limit is never guessed; 5.1 row 9: platelets below range -> warning).
    low_platelets = bound_holds(plt.value, plt.comparator, "<", plt.ref_low) if plt.ref_low is not None else None
    high_troponin = bound_holds(trop.value, trop.comparator, ">", trop.ref_high) \
        if trop.ref_high is not None else None
    checks = ((plt, low_platelets, plt.ref_low, "below", "lower limit"),
              (trop, high_troponin, trop.ref_high, "above", "upper limit"))
    open_questions = [
        f"{_shown(m)}: " + (f"a bound, not a measured value: {side} the lab's {name} "
                            f"({with_unit(f'{limit:g}', m.unit)}) cannot be excluded" if limit is not None
                            else f"no {name} for this patient from the lab (reference range)")
        for m, settled, limit, side, name in checks if settled is None]
    if open_questions:
        # The other result may be settled and abnormal: the card says so too (its caution is not lost).
        also = [f"{_shown(m)} is {side} the lab's {name} ({with_unit(f'{limit:g}', m.unit)})"
                for m, settled, limit, side, name in checks if settled]
        return ctx.finding(c, UNKNOWN, "baseline-plt-trop-range-unknown", ev, missing=("platelet-troponin-range",),
                           open="; ".join(open_questions),
                           also=f" Also, {also[0]}: confirm it and act on it before infusion." if also else "")
    if low_platelets or high_troponin:
        reason = ("baseline-platelets-low-troponin-high" if low_platelets and high_troponin
                  else "baseline-platelets-low" if low_platelets else "baseline-troponin-high")
        return ctx.finding(c, MET, reason, ev, caution=True,
                           platelets=f"{'' if plt.comparator == '=' else plt.comparator}{plt.value:g}",
                           low=f"{plt.ref_low:g}" if plt.ref_low is not None else "none",
                           troponin=f"{'' if trop.comparator == '=' else trop.comparator}{trop.value:g}",
                           high=f"{trop.ref_high:g}" if trop.ref_high is not None else "none")
    return ctx.finding(c, MET, "baseline-plt-trop-documented", ev)
