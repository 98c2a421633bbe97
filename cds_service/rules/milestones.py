"""After the boxed-warning months: outcomes milestone assessments and developmental milestones (pure).

Sources:
- Billing guide, pre-treatment gating workflow, last row: "6 / 12 / 24 / 36 / 60 mo - Outcomes-based contract
  milestone assessments - CHOP-INTEND / HFMSE / RHS / ventilator-free survival; coordinated via OneGene"; and
  "Provider documents outcomes at 6/12/24/36/60 mo via OneGene".
- DR.005.D "Monitoring - Efficacy": "Achievement of developmental milestones (e.g., kicking, head control, rolling,
  sitting, crawling, standing, walking) may indicate efficacy."

A visit is `done` when, within its window, a motor scale (CHOP-INTEND, HFMSE or RHS: which one fits the child's
motor function is the clinician's call) AND a developmental-milestone assessment are on record. Neither the
guide nor the policy gives a window: we take the due date (months after day 0, calendar months) +/- 30 days
(project choice, on the card). Not done: `upcoming` before the window, `due` in it, `overdue` after it. A
"not done" conclusion rests on the assessments source read completely; otherwise `unknown`, never `overdue`.
Ventilator-free survival is shown as the record's state (no permanent-ventilation or tracheostomy condition,
from a completely read condition list), not counted as documentation: the manufacturer's program records it.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta

from ..facts import Assessment, Evidence, PatientFacts
from ..quantities import add_months
from ..terminology import ASSESSMENT_KINDS
from .conditions import records_ventilation

MILESTONE_MONTHS = (6, 12, 24, 36, 60)
WINDOW_DAYS = 30  # project choice: the sources give no window
MOTOR_SCALES = ("chop-intend", "hfmse", "rhs")
DEVELOPMENTAL = "developmental-milestones"
# Shown once the 6-month window is this close (before that the card would only say "upcoming").
SHOW_FROM_DAYS_BEFORE = 30


@dataclass
class MilestoneVisit:
    month: int
    due: date
    window: tuple[date, date]
    status: str  # "done" | "due" | "overdue" | "upcoming" | "unknown"
    motor: tuple[Assessment, ...] = ()  # motor scales documented in the window
    developmental: tuple[Assessment, ...] = ()
    missing: tuple[str, ...] = ()  # "motor-scale", "developmental-milestones"


@dataclass
class Milestones:
    visits: tuple[MilestoneVisit, ...]
    ventilation: str  # "no-permanent-ventilation-recorded" | "ventilation-recorded" | "unknown"
    ventilation_evidence: tuple[Evidence, ...]
    unread: str  # why the assessments source is not a complete answer ("" when it is)


def evaluate_milestones(facts: PatientFacts, day0: date, today: date) -> Milestones | None:
    """None before the 6-month window is near (nothing to say yet)."""
    first_due = add_months(day0, MILESTONE_MONTHS[0])
    if today < first_due - timedelta(days=WINDOW_DAYS + SHOW_FROM_DAYS_BEFORE):
        return None
    unread = _unread(facts)
    visits = tuple(_visit(facts, day0, today, month, unread) for month in MILESTONE_MONTHS)
    ventilation, evidence = _ventilation(facts)
    return Milestones(visits, ventilation, evidence, unread)


def _visit(facts: PatientFacts, day0: date, today: date, month: int, unread: str) -> MilestoneVisit:
    due = add_months(day0, month)
    low, high = due - timedelta(days=WINDOW_DAYS), due + timedelta(days=WINDOW_DAYS)
    found = [a for a in facts.assessments if a.when is not None and low <= a.when <= min(high, today)]
    motor = tuple(a for a in found if a.kind in MOTOR_SCALES)
    developmental = tuple(a for a in found if a.kind == DEVELOPMENTAL)
    missing = tuple(name for name, got in (("motor-scale", motor), (DEVELOPMENTAL, developmental)) if not got)
    if not missing:
        status = "done"
    elif today < low:
        status = "upcoming"
    elif unread:
        status = "unknown"  # documentation may be in what could not be read
    elif today <= high:
        status = "due"
    else:
        status = "overdue"
    return MilestoneVisit(month, due, (low, high), status, motor, developmental, missing)


def _unread(facts: PatientFacts) -> str:
    if "assessments" not in facts.sources_read:
        return "the assessments could not be read"
    reasons = list(facts.source_gaps.get("assessments", ()))
    reasons += [f"{u.reference} ({u.reason})" for u in facts.unread
                if u.source == "assessments" and (u.kind is None or u.kind in ASSESSMENT_KINDS)]
    return "; ".join(reasons)


def _ventilation(facts: PatientFacts) -> tuple[str, tuple[Evidence, ...]]:
    recorded = [f for f in facts.conditions if f.active and records_ventilation(f)]
    if recorded:
        return "ventilation-recorded", tuple(f.evidence for f in recorded)
    complete = "conditions" in facts.sources_read and not facts.source_gaps.get("conditions") and not any(
        u.source == "conditions" and u.kind in (None, "condition") for u in facts.unread)
    return ("no-permanent-ventilation-recorded" if complete else "unknown"), ()
