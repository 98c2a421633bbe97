"""The amount and course of a medication order as written: the dose (value, unit, and what makes it not an exact
dose), the course's start, end and doses per day, and a Zolgensma order's planned infusion date. Pure functions over
the order's JSON (a validated MedicationRequest subset), for translate/medications.py."""

from __future__ import annotations

import math
from datetime import date, timedelta

from ..facts import Dose
from .common import _NONE, _all_text, _codings, _s, _start, _to_date
from .dosage import planned_date

_DOSE_UNITS = {"ml": "mL", "milliliter": "mL", "milliliters": "mL", "millilitre": "mL", "millilitres": "mL",
               "cc": "mL", "cm3": "mL", "{vg}": "vg", "{vector_genomes}": "vg", "vg": "vg",
               "vector genomes": "vg", "{vg}/kg": "vg/kg", "vg/kg": "vg/kg", "{vector_genomes}/kg": "vg/kg",
               "mg": "mg", "mg/kg": "mg/kg", "mg/kg/d": "mg/kg/d", "mg/kg/day": "mg/kg/d", "mg/d": "mg/d",
               "mg/day": "mg/d", "mg/(24.h)": "mg/d", "mg/24h": "mg/d"}
_CANONICAL_DOSE_UNITS = frozenset(_DOSE_UNITS.values())
_DURATION_DAYS = {"d": 1, "day": 1, "days": 1, "wk": 7, "week": 7, "weeks": 7}


def _dose(mr: dict) -> Dose | None:
    """The first doseQuantity (a corticosteroid order's dose)."""
    return next((d for dosage in mr.get("dosageInstruction") or [] for dr in dosage.get("doseAndRate") or []
                 for d in [_quantity_dose(dr.get("doseQuantity"))] if d is not None), None)


def _doses(mr: dict) -> tuple[Dose, ...]:
    """Every dose the order states, in every dosageInstruction and doseAndRate entry (a doseRange as its two ends),
    each once: a single-dose product's order states one (FDA label 2.1), and none is passed over for the first."""
    doses = []
    for dosage in mr.get("dosageInstruction") or []:
        for dr in dosage.get("doseAndRate") or []:
            doses.append(_quantity_dose(dr.get("doseQuantity")))
            dose_range = dr.get("doseRange") or _NONE
            doses += [_quantity_dose(dose_range.get(end), f"{end} end of doseRange") for end in ("low", "high")]
    unique: dict[tuple[float, str, str], Dose] = {}
    for dose in doses:
        if dose is not None:
            unique.setdefault((dose.value, dose.unit, dose.problem), dose)
    return tuple(unique.values())


def _quantity_dose(q: dict | None, stated: str = "") -> Dose | None:
    if not q or q.get("value") is None:
        return None
    unit = (q.get("code") or q.get("unit") or "").strip()
    # An unrecognised unit is kept as stated: no rule knows it, so none can decide on it.
    value = float(q["value"])
    return Dose(value, _DOSE_UNITS.get(unit.lower()) or unit or "(no unit)", stated, _dose_problem(q, value))


def _dose_problem(q: dict, value: float) -> str:
    """Why a dose quantity is not an exact amount in one unit (review 2026-11-24c R7), as for weight (review b I1,
    I3): a comparator ("<41.3 mL" is a bound; FHIR SimpleQuantity, the type of doseQuantity, forbids it), or a
    unit and code naming two different dose units ("vg" shown, "mL" coded: which one the EHR meant cannot be
    told). A unit text the service does not know beside a known code (a display) is not a disagreement."""
    comparator = _s(q.get("comparator")).strip()
    shown_unit = _s(q.get("unit")).strip() or _s(q.get("code")).strip()
    if comparator and comparator != "=":
        return f"stated as a bound, {comparator}{value:g} {shown_unit}: not an exact dose"
    unit, code = _s(q.get("unit")).strip(), _s(q.get("code")).strip()
    by_unit, by_code = _DOSE_UNITS.get(unit.lower()), _DOSE_UNITS.get(code.lower())
    if by_unit and by_code and by_unit != by_code:
        return f"unit {unit!r} and code {code!r} disagree: which one the order means cannot be told"
    return ""


def dose_unit_problem(dose: Dose | None) -> str | None:
    if dose is None or dose.unit in _CANONICAL_DOSE_UNITS:
        return None
    return f"dose unit {dose.unit!r} not recognised: the dose cannot be checked"


def _course_end(start: date | None, repeat: dict, per_day: float | None) -> date | None:
    """The last day an order covers (inclusive) from `boundsDuration` or `count`, when its start is known."""
    if start is None:
        return None
    duration = repeat.get("boundsDuration") or _NONE
    unit = _DURATION_DAYS.get(str(duration.get("code") or duration.get("unit") or "").strip().lower())
    if duration.get("value") is not None and unit:
        days = math.ceil(float(duration["value"]) * unit)
        return start + timedelta(days=days - 1) if days > 0 else None
    if repeat.get("count") and per_day:
        days = math.ceil(float(repeat["count"]) / per_day)
        return start + timedelta(days=days - 1) if days > 0 else None
    return None


def _course(mr: dict, fallback_start: date | None = None) -> tuple[date | None, date | None, float | None]:
    """(start, last day covered, administrations per day) of an order: the start from the dosage's boundsPeriod,
    else the dispense validity period, else `fallback_start`; the end from boundsPeriod.end, else from
    boundsDuration or count."""
    timing = _first_timing(mr)
    repeat = (timing or _NONE).get("repeat") or _NONE
    bounds = repeat.get("boundsPeriod")
    start = (_to_date(_start(bounds)) or _to_date(_start((mr.get("dispenseRequest") or _NONE).get("validityPeriod")))
             or fallback_start)
    per_day = _per_day(timing)
    return start, _to_date((bounds or _NONE).get("end")) or _course_end(start, repeat, per_day), per_day


def _first_timing(mr: dict) -> dict | None:
    return next((d["timing"] for d in mr.get("dosageInstruction") or [] if d.get("timing")), None)


def _per_day(timing: dict | None) -> float | None:
    if timing is None:
        return None
    r = timing.get("repeat") or _NONE
    unit = r.get("periodUnit")
    if r.get("frequency") and r.get("period") and unit in ("d", "h", "wk"):
        per_unit = {"d": 1, "h": 24, "wk": 1 / 7}[unit]
        return float(r["frequency"]) / float(r["period"]) * per_unit
    concept = timing.get("code")
    code = _all_text(concept) + " " + " ".join(c.get("code") or "" for c in _codings(concept)).lower()
    if any(w in code for w in ("qd", "once daily", "daily")):
        return 1.0
    return None


def _planned_date(mr: dict) -> tuple[date | None, str]:
    timing = _first_timing(mr)
    if timing is not None:
        first, count = planned_date(timing.get("event"))
        if first is not None:  # the earliest, whatever the order of the list (several: a finding of their own)
            return first, "dosageInstruction.timing.event" + (f" (the earliest of {count})" if count > 1 else "")
        bounds = (timing.get("repeat") or _NONE).get("boundsPeriod")
        if _to_date(_start(bounds)):
            return _to_date(_start(bounds)), "dosageInstruction.timing.repeat.boundsPeriod.start"
    validity = (mr.get("dispenseRequest") or _NONE).get("validityPeriod")
    if _to_date(_start(validity)):
        return _to_date(_start(validity)), "dispenseRequest.validityPeriod.start"
    return None, ""

