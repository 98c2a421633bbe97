"""The monitoring schedule's terms (FDA label boxed warning, Warnings and Precautions 5.1-5.4, 2.1; clinical-facts
1.5-1.7, 5.2) and the shapes of what rules/monitoring.py answers; small helpers that word a result. Pure."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date

from ..facts import Evidence, Measurement
from ..quantities import bound_holds

LFT_DAYS = (7, 14, 21, 28, 42, 56, 70, 84)
PLATELET_DAYS = (7, 14, 21, 28, 42, 56, 70, 84)
TROPONIN_DAYS = (7, 14, 21, 28, 56, 84)
LFT_ANALYTES = ("alt", "ast", "bilirubin", "pt")
LIVER_KINDS = frozenset(LFT_ANALYTES) | {"inr"}
WINDOW_DAYS = 2  # clinical-facts 5.2: allow +/- 2 days per draw (later: done late)
OVERDUE_AFTER_DAYS = 3  # clinical-facts 5.2: overdue by more than 3 days -> warning
STEROID_COURSE_END_DAY = 28  # day -1 through day 28 = 30 doses (label 2.1)
TAPER_DAYS = 28
# A corticosteroid given today or yesterday shows the daily course runs (label 2.1: once daily); our choice.
STEROID_GIVEN_RECENT_DAYS = 1
TAPER_DECISION_LAST_DAY = 60  # after this the taper decision is past; no taper card
LFT_RECENT_DAYS = 10  # an LFT this recent (or newer) may decide the taper
# "Back to baseline" is not defined numerically by the label; project choice, shown on the card:
PLATELETS_BACK_FRACTION = 0.9  # latest >= 90 % of the pre-infusion count
TROPONIN_BACK_FRACTION = 1.1  # latest <= 110 % of the pre-infusion value (or within the reference range)
PLATELET_FALL_FRACTION = 0.5  # below half the baseline counts as a fall when the lab gives no lower limit
CREATININE_RISE_FRACTION = 1.5  # 1.5 x baseline counts as rising (or above the reference range)
TROPONIN_RISE_FRACTION = 2.0
# Acute liver injury at any day after infusion (FDA label boxed warning and section 5.1: "if acute serious liver
# injury or acute liver failure is suspected, promptly consult a pediatric gastroenterologist or hepatologist").
# The label gives no numbers; these are the named sources' (stated on the card):
# - Hy's law, FDA Guidance for Industry "Drug-Induced Liver Injury: Premarketing Clinical Evaluation" (2009):
#   ALT or AST >= 3 x ULN with total bilirubin > 2 x ULN (jaundice).
INJURY_TRANSAMINASE_X_ULN = 3.0
INJURY_BILIRUBIN_X_ULN = 2.0
# - Coagulopathy: Pediatric Acute Liver Failure Study Group entry criteria (Squires et al., J Pediatr 2006):
#   INR >= 1.5 (~ PT >= 15 s) with encephalopathy, INR >= 2.0 (~ PT >= 20 s) without. Encephalopathy is hard
#   to see in infants and is not in the record, so the lower pair is used: an alert, not a diagnosis.
INJURY_INR = 1.5
INJURY_PT_SECONDS = 15.0
SEVERITY_ORDER = {"critical": 0, "warning": 1, "info": 2}
# Results drawn after the infusion outside every scheduled window still appear in the table.
UNSCHEDULED_TESTS = {"alt": "lft", "ast": "lft", "bilirubin": "lft", "pt": "lft", "inr": "lft",
                     "platelets": "platelets", "troponin-i": "troponin-i"}


@dataclass(frozen=True)
class ScheduleItem:
    test: str  # "lft" | "platelets" | "troponin-i"
    day: int
    due: date
    status: str  # "done" | "abnormal" | "due" | "overdue" | "upcoming" | "missed"
    evidence: tuple[Evidence, ...] = ()
    missing: tuple[str, ...] = ()  # LFT components not drawn in the window
    scheduled: bool = True  # False: a draw outside every scheduled window, shown as drawn
    late: bool = False  # drawn more than WINDOW_DAYS after the due date


@dataclass(frozen=True)
class Alert:
    code: str  # reason code worded in cards/monitoring.json
    severity: str  # "critical" | "warning" | "info"
    evidence: tuple[Evidence, ...] = ()
    params: dict = field(default_factory=dict)


@dataclass(frozen=True)
class MonitoringEvaluation:
    infusion: date
    infusion_evidence: Evidence
    today: date
    day: int
    items: tuple[ScheduleItem, ...]
    alerts: tuple[Alert, ...]
    continuing: tuple[str, ...]  # tests continued past month 3, with why in alerts
    overdue_tests: tuple[str, ...]


_NAMES = {"alt": "ALT", "ast": "AST", "bilirubin": "total bilirubin", "inr": "INR", "pt": "PT"}


def _period(order) -> str:
    """'2026-11-21 to 2026-12-18' (an order's course dates as stated)."""
    start = order.start.isoformat() if order.start else "start not stated"
    return f"{start} to {order.end.isoformat()}" if order.end else f"from {start}"


def _holds(m: Measurement, op: str, limit: float) -> bool | None:
    """Does the result satisfy `op limit`, given its comparator (None: a bound that does not settle it)?"""
    return bound_holds(m.value, m.comparator, op, limit)


def _above_uln(m: Measurement) -> str:
    """'total bilirubin 3 mg/dL (ULN 1.2 mg/dL)'."""
    if m.analyte == "inr":
        return f"INR {m.value:g} (ULN {m.ref_high:g})"
    return f"{_NAMES[m.analyte]} {m.value:g} {m.unit} (ULN {m.ref_high:g} {m.unit})"


def _brief(m: Measurement) -> str:
    """'ALT 9 x ULN', 'INR 1.6', 'PT 16.5 s': a summary's words, no parentheses."""
    if m.analyte in ("alt", "ast", "bilirubin") and m.ref_high:
        name = "bilirubin" if m.analyte == "bilirubin" else _NAMES[m.analyte]
        return f"{name} {m.value / m.ref_high:.1f} x ULN"
    return f"INR {m.value:g}" if m.analyte == "inr" else f"{_NAMES[m.analyte]} {m.value:g} {m.unit}"


def _times_uln(m: Measurement) -> str:
    """'ALT 405 U/L (9 x ULN)'; INR and PT as measured (their thresholds are absolute)."""
    if m.analyte == "inr":
        return f"INR {m.value:g}"
    text = f"{_NAMES[m.analyte]} {m.value:g} {m.unit}"
    if m.analyte in ("alt", "ast", "bilirubin") and m.ref_high:
        text += f" ({m.value / m.ref_high:.1f} x ULN)"
    return text
