"""Findings: the rules' output, independent of wording and of CDS Hooks.

Plain (not frozen) dataclasses for speed, like facts.py; nothing changes them after the rules return."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date

from ..facts import Evidence

MET, NOT_MET, UNKNOWN, REVIEW = "met", "not-met", "unknown", "review"
STATUSES = (MET, NOT_MET, UNKNOWN, REVIEW)

ELIGIBLE, NOT_ELIGIBLE, NEEDS_REVIEW, INCOMPLETE = "eligible", "not-eligible", "needs-review", "incomplete"


@dataclass
class Finding:
    """One criterion's verdict. `reason` is a reason code whose wording lives in cards/."""

    criterion: str
    status: str
    reason: str
    evidence: tuple[Evidence, ...] = ()
    params: dict = field(default_factory=dict)
    # What would resolve an `unknown`: analyte/topic names used to pick suggested orders.
    missing: tuple[str, ...] = ()
    # A `met` finding that still carries a risk the prescriber must act on (e.g. baseline platelets below
    # the lab's range): it gets a warning card of its own. Never changes the status or the overall outcome.
    caution: bool = False

    def __post_init__(self):
        if self.status not in STATUSES:
            raise ValueError(f"bad status {self.status!r}")


def overall(findings: list[Finding]) -> str:
    """DR.005.D outcome: any not-met -> not-eligible; else any review; else any unknown; else eligible."""
    statuses = {f.status for f in findings}
    if NOT_MET in statuses:
        return NOT_ELIGIBLE
    if REVIEW in statuses:
        return NEEDS_REVIEW
    if UNKNOWN in statuses:
        return INCOMPLETE
    return ELIGIBLE


@dataclass
class Evaluation:
    overall: str
    as_of: date
    as_of_basis: str  # "planned-infusion-date" | "today"
    findings: tuple[Finding, ...]
    kit: object | None = None  # rules.dosing.Kit for the current weight, when known
    notes: tuple[str, ...] = ()  # note codes (wording in cards/)
    today: date | None = None  # the evaluation's today (nothing is ordered before it)

    def finding(self, criterion: str) -> Finding:
        return next(f for f in self.findings if f.criterion == criterion)
