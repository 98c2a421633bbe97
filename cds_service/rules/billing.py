"""Billing, site-of-care and alternatives guidance from the billing guide (pure).

Source: the J3399 billing quick guide (policy/002): "THE 5 THINGS", "ICD-10", "SITE OF CARE", "TOP DENIALS
& FIXES", "SMA CLASS"; corrected where clinical-facts.md 1.8 shows it differs from the label or code titles.
"""

from __future__ import annotations

from dataclasses import dataclass

from ..facts import PatientFacts, SiteOfCare
from ..terminology import ICD10CM, NOT_SMA_EVIDENCE, POS_ACCEPTED, POS_NOT_ACCEPTED, SMA_ICD10, UNCERTAIN_VERIFICATION
from .dosing import MAX_WEIGHT_KG
from .findings import MET, NOT_MET, Evaluation

SMA_DESCRIPTIONS = {c.code: c.display for c in SMA_ICD10}
# Reason codes (rules/eligibility.py) that mean the guide's denial #5 / #6 "... missing" applies.
STEROID_PLAN_MISSING = frozenset({"no-steroid-plan", "steroid-plan-ended"})
LFT_BASELINE_MISSING = frozenset({"baseline-labs-missing"})


@dataclass(frozen=True)
class BillingGuidance:
    diagnoses: tuple[tuple[str, str, str], ...]  # (ICD-10-CM code, official description, Condition reference)
    # SMA diagnoses recorded as unconfirmed, provisional or differential: (code, description, reference, status).
    # Not coded for outpatient services (ICD-10-CM Official Guidelines IV.H; terminology.UNCERTAIN_VERIFICATION).
    uncertain: tuple[tuple[str, str, str, str], ...]
    misleading: tuple[tuple[str, str, str], ...]  # codes the guide glosses as SMA but that are not
    denials: tuple[str, ...]  # guide's top denials this patient's data would trigger
    site_status: str  # "accepted" | "not-accepted" | "other" | "unknown"
    site: SiteOfCare | None
    alternatives_reason: str | None  # "age" | "weight" | None
    # The order under review could not be read in full (facts.Order.unreadable): no billing guidance for it.
    order_unreadable: str = ""
    # Another payer's coverage billed before the policy's plan (rules/coverage.py): (its payers, the plan's name).
    primary_first: tuple[str, str] | None = None


def billing_guidance(evaluation: Evaluation, facts: PatientFacts) -> BillingGuidance:
    diagnoses, uncertain, misleading = [], [], []
    for condition in facts.conditions:
        for system, code in sorted(condition.codes):
            if system == ICD10CM and code in SMA_DESCRIPTIONS and condition.verification in UNCERTAIN_VERIFICATION:
                uncertain.append((code, SMA_DESCRIPTIONS[code], condition.reference, condition.verification))
            elif system == ICD10CM and code in SMA_DESCRIPTIONS:
                diagnoses.append((code, SMA_DESCRIPTIONS[code], condition.reference))
            elif system == ICD10CM and code in NOT_SMA_EVIDENCE:
                misleading.append((code, NOT_SMA_EVIDENCE[code], condition.reference))

    status = {f.criterion: f for f in evaluation.findings}
    weight = status["weight-in-label-range"].params.get("weight")
    over_weight = status["weight-in-label-range"].status == NOT_MET and weight and float(weight) > MAX_WEIGHT_KG
    # Denials #5 and #6 are "plan missing": only when the finding says so, not when a plan on record is late,
    # short, off-dose or under review (those have their own cards).
    triggers = [
        ("titer", status["aav9-titer"].status != MET),
        ("genetics", status["smn1-biallelic"].status != MET),
        ("age", status["age-under-2"].status == NOT_MET),
        ("weight", bool(over_weight)),
        ("steroid", status["corticosteroid-plan"].reason in STEROID_PLAN_MISSING),
        ("lft-plan", status["baseline-liver-function"].reason in LFT_BASELINE_MISSING),
    ]
    denials = tuple(name for name, hit in triggers if hit)

    site = facts.site_of_care
    if site is None or site.pos_code is None:
        site_status = "unknown"
    elif site.pos_code in POS_ACCEPTED:
        site_status = "accepted"
    elif site.pos_code in POS_NOT_ACCEPTED:
        site_status = "not-accepted"
    else:
        site_status = "other"

    alternatives = "age" if status["age-under-2"].status == NOT_MET else ("weight" if over_weight else None)
    return BillingGuidance(tuple(diagnoses), tuple(uncertain), tuple(misleading), denials, site_status, site,
                           alternatives, facts.order.unreadable if facts.order else "", _primary_first(status))


def _primary_first(status: dict) -> tuple[str, str] | None:
    """Whom to bill first when the plan's coverage is met behind another (its caution, rules/coverage.py)."""
    benefit = status["benefit-covered"]
    if benefit.status == MET and benefit.caution and "primary_payer" in benefit.params:
        return benefit.params["primary_payer"], benefit.params.get("payer") or "the plan"
    return None
