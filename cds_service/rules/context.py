"""What every eligibility rule reads: the dates it is evaluated against, the current weight and its kit, and the
windows the policy, the label and the billing guide set. Pure (no I/O)."""

from __future__ import annotations

from datetime import date

from ..facts import Measurement, PatientFacts
from .dosing import kit_for_weight
from .findings import UNKNOWN, Finding

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
# (clinical-facts.md 1.5; the same course end as rules/monitoring_terms.STEROID_COURSE_END_DAY).
STEROID_COURSE_DAYS = 30
# How close an ordered dose must be to the label band dose.
VOLUME_TOLERANCE_ML = 0.1
VG_RELATIVE_TOLERANCE = 0.01
AGE_WARNING_DAYS = 30


class RuleContext:
    def __init__(self, facts: PatientFacts, as_of: date, basis: str, today: date, planned: date | None,
                 stated: date | None):
        self.facts, self.as_of, self.basis, self.today = facts, as_of, basis, today
        self.planned = planned  # the usable planned infusion date (day 0), or None
        self.weight = facts.latest("weight", as_of)
        self.weight_current = bool(self.weight and (as_of - self.weight.when).days <= WEIGHT_MAX_AGE_DAYS)
        # A weight reported as a bound (">7.2 kg": Quantity.comparator) is not a measurement: it can choose
        # neither a 0.5 kg dose band nor a mg/kg dose (review 2026-11-24b I1). The rules answer `unknown`.
        self.weight_bound = bool(self.weight_current and self.weight.comparator != "=")
        self.kit = kit_for_weight(self.weight.value) if self.weight_current and not self.weight_bound else None
        self.as_of_text = as_of.isoformat()
        if basis == "planned-infusion-date":
            self.basis_text = "the planned infusion date"
        elif facts.order is not None and facts.order.unreadable:
            self.basis_text = "today; the order could not be read in full, so no planned date is taken from it"
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


# PT and INR are two readings of one coagulation status (clinical-facts 3: "T-bili and PT normal ... PT may also
# be judged by INR"; FDA label 2.1 tapers only with normal PT). Review 2026-11-24c R2: both are read, and either
# one abnormal, or without a ULN, decides. One of them is set aside only when the other test was measured more
# than this many days later: the newer one is then the current status (as for any re-measured result). 2 days:
# the window of one scheduled draw (clinical-facts 5.2, +/- 2 days), so the PT and INR of one draw always count.
COAG_SUPERSEDED_DAYS = 2


def coagulation_readings(pt: Measurement | None, inr: Measurement | None) -> list[Measurement]:
    """The latest PT and the latest INR (dated) that both describe the current coagulation status."""
    readings = [m for m in (pt, inr) if m is not None and m.when is not None]
    if not readings:
        return []
    newest = max(m.when for m in readings)
    return [m for m in readings if (newest - m.when).days <= COAG_SUPERSEDED_DAYS]


def days(a: date, b: date) -> int:
    return (a - b).days


def iso(day: date | None) -> str:
    return day.isoformat() if day else "not stated"
