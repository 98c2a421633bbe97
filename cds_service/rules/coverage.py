"""DR.005.D "Product variations": which plan the patient's Coverage is, and whether the policy applies (pure).

"This policy applies to Jefferson Health Plans Medicaid, CHIP and Medicare product lines"; gene therapy is a benefit
exclusion on its Individual and Family (ACA) lines. Beside the plan's line, what the record says about the other
coverage matters for billing: Medicaid is the payer of last resort, so a primary plan of another payer is billed
first and applies its own criteria (review 2026-11-24e T6).
"""

from __future__ import annotations

from ..facts import CoverageFact
from ..quantities import add_years
from .context import RuleContext
from .findings import MET, NOT_MET, UNKNOWN, Finding

COVERED_LINES = ("medicaid", "chip", "medicare")
# Medicaid pays after every other coverage (payer of last resort: Social Security Act 1902(a)(25), third-party
# liability). Medicare and CHIP are not said to here; behind another plan's lower `order` they are still secondary
# on that record.
LAST_RESORT_LINES = ("medicaid",)
# Medicare covers people under 65 only with a qualifying disability (after 24 months of benefits: adults), ALS, or
# end-stage renal disease; a child only through ESRD, as a dependent of an insured parent (Social Security Act 226A;
# SSA POMS DI 45001.001). For a patient under this age a Medicare line is implausible enough that the record is to
# be confirmed, never taken as the plan (review 2026-11-24e T7).
MEDICARE_CHILD_AGE_YEARS = 18


def benefit_covered(ctx: RuleContext) -> Finding:
    """DR.005.D "Product variations": the policy applies to the Jefferson Health Plans Medicaid, CHIP and
    Medicare lines; gene therapy is excluded on its ACA lines. With only Coverages naming another payer (whose
    own criteria apply) or no payer, the criterion is `unknown`: which policy applies is not known."""
    c = "benefit-covered"
    # A Coverage counts only when in force on the evaluation date (its period; none recorded: its status).
    status_active = [cov for cov in ctx.facts.coverages if cov.active]
    active = [cov for cov in status_active if cov.period.holds_on(ctx.as_of)]
    # ours, or not named: the exclusion is never waived for want of a payer's name
    excluded = [cov for cov in active if cov.product_line == "aca-individual" and cov.policy_payer is not False]
    if excluded:
        return ctx.finding(c, NOT_MET, "benefit-excluded", [cov.evidence for cov in excluded])
    covered = [cov for cov in active if cov.product_line in COVERED_LINES]
    # Medicaid/CHIP before Medicare: a child's Medicare line is to be confirmed, a Medicaid line beside it is not.
    ours = sorted((cov for cov in covered if cov.policy_payer), key=lambda cov: cov.product_line == "medicare")
    if ours:
        return _ours(ctx, ours[0], active)
    lost = ctx.unavailable(c, "coverage")
    if lost:
        return lost
    # The policy's plan (or an unnamed payer's) on record, but not in force on the date: eligibility to confirm.
    lapsed = [cov for cov in status_active if cov not in active and cov.policy_payer is not False]
    if lapsed:
        return _not_in_force(ctx, lapsed)
    conflicting = [cov for cov in active if cov.payer_conflict]
    if conflicting:
        return ctx.finding(c, UNKNOWN, "payer-conflict", [cov.evidence for cov in conflicting], missing=("coverage",),
                           why="; ".join(f"{cov.reference}: {cov.payer_conflict}" for cov in conflicting))
    unnamed = [cov for cov in active if cov.policy_payer is None]
    if unnamed and covered:
        return ctx.finding(c, UNKNOWN, "payer-not-named", [cov.evidence for cov in unnamed], missing=("coverage",))
    others = [cov for cov in active if cov.policy_payer is False]
    if others:
        return ctx.finding(c, UNKNOWN, "other-payer", [cov.evidence for cov in others], missing=("coverage",),
                           payers=", ".join(dict.fromkeys(cov.insurer or "the patient (self-pay)" for cov in others)))
    if active:
        return ctx.finding(c, UNKNOWN, "line-unknown", [cov.evidence for cov in active], missing=("coverage",))
    if status_active:  # another payer's, not in force on the date either
        return _not_in_force(ctx, status_active)
    return ctx.finding(c, UNKNOWN, "no-coverage", missing=("coverage",))


def _ours(ctx: RuleContext, ours: CoverageFact, active: list[CoverageFact]) -> Finding:
    """The policy's plan covers the line: `met`, unless it is Medicare for a child (`unknown`, to confirm); with
    another payer's coverage ahead of it (Coverage.order, or any other plan for Medicaid), `met` with a
    caution card naming it: benefits are coordinated and that plan's own criteria apply."""
    c = "benefit-covered"
    born = ctx.facts.earliest_birth  # a partial birth date too: a child whichever day it was
    if ours.product_line == "medicare" and born and ctx.as_of < add_years(born, MEDICARE_CHILD_AGE_YEARS):
        return ctx.finding(c, UNKNOWN, "medicare-child", [ours.evidence], missing=("coverage",),
                           payer=ours.insurer, born=ctx.facts.birth_stated or born.isoformat())
    ahead = [cov for cov in active if _ahead_of(cov, ours)]
    if not ahead:
        return ctx.finding(c, MET, "covered-line", [ours.evidence], line=ours.product_line, payer=ours.insurer)
    reason = "covered-line-last-resort" if ours.product_line in LAST_RESORT_LINES else "covered-line-secondary"
    return ctx.finding(c, MET, reason, [ours.evidence] + [cov.evidence for cov in ahead], caution=True,
                       line=ours.product_line, payer=ours.insurer, primary="; ".join(map(_primary_text, ahead)),
                       primary_payer=", ".join(dict.fromkeys(cov.insurer or "payer not named" for cov in ahead)))


def _ahead_of(other: CoverageFact, ours: CoverageFact) -> bool:
    """Is `other` (not the policy's plan, not self-pay) billed before `ours`? Ours is Medicaid (payer of last
    resort) and `other` is not another Medicaid plan, whatever the orders say; or `other`'s `order` is lower
    (or it is `order` 1 where ours states none)."""
    if other is ours or other.policy_payer or other.self_pay:
        return False
    if ours.product_line in LAST_RESORT_LINES and other.product_line not in LAST_RESORT_LINES:
        return True
    if other.order is None:
        return False
    return other.order < ours.order if ours.order is not None else other.order == 1


def _primary_text(cov: CoverageFact) -> str:
    """"Independence Blue Cross (Individual and Family ACA plan) on record (Coverage/cov2, order 1)"."""
    where = f"{cov.reference}, order {cov.order}" if cov.order is not None else cov.reference
    kind = f" ({cov.description})" if cov.description != "Coverage" else ""
    return f"{cov.insurer or 'payer not named'}{kind} on record ({where})"


def _not_in_force(ctx: RuleContext, coverages: list) -> Finding:
    """`unknown`: the Coverages on record are not (or not known to be) in force on the evaluation date."""
    first = coverages[0].period
    reason = "not-in-force" if first.holds_on(ctx.as_of) is False else "period-unclear"
    return ctx.finding("benefit-covered", UNKNOWN, reason, [cov.evidence for cov in coverages],
                       missing=("coverage",), why=first.why_not(ctx.as_of))
