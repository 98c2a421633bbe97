"""Which of a result's reference ranges applies to this patient (review 2026-11-24b item B1).

clinical-facts.md 3: "Use the ULN on each result: referenceRange.high (matched on referenceRange.appliesTo / age
where present)", and a ULN is never guessed. A lab may send several ranges (adult 5-45 U/L, infant 5-30 U/L);
the first one is not the patient's. So: a range restricted by `age` applies when the patient's age on the
result's date lies within it (both limits inclusive, counted on the calendar from the birth date); a range
restricted by `appliesTo` cannot be matched (the service does not read the patient's sex or other population
attributes), so it may or may not apply. The bound used is the one every range that applies, or may apply,
agrees on; otherwise the bound is unknown and a note says why (shown on the evidence line). Pure.
"""

from __future__ import annotations

import calendar
from dataclasses import dataclass
from datetime import date, timedelta

from ..quantities import scientific


@dataclass(frozen=True)
class RangeOption:
    """One referenceRange with a bound, in the result's canonical unit."""

    low: float | None
    high: float | None
    age: dict | None  # FHIR Range of ages (Quantity low/high, UCUM a / mo / wk / d / h)
    applies_to: bool  # restricted by referenceRange.appliesTo


# Age units (UCUM code, or a unit text as labs write it) -> (calendar unit, multiplier).
_AGE_UNITS = {"a": ("years", 1), "ann": ("years", 1), "yr": ("years", 1), "yrs": ("years", 1), "y": ("years", 1),
              "year": ("years", 1), "years": ("years", 1), "mo": ("months", 1), "month": ("months", 1),
              "months": ("months", 1), "wk": ("days", 7), "week": ("days", 7), "weeks": ("days", 7),
              "d": ("days", 1), "day": ("days", 1), "days": ("days", 1), "h": ("hours", 1), "hour": ("hours", 1),
              "hours": ("hours", 1)}


def _after_birth(birth: date, q: dict) -> date | None:
    """The date on which the patient reaches the age `q`, or None when the age cannot be read."""
    value = q.get("value")
    unit = str(q.get("code") or q.get("unit") or "").strip().lower()
    if type(value) not in (int, float) or value < 0 or unit not in _AGE_UNITS:
        return None
    kind, factor = _AGE_UNITS[unit]
    value = value * factor
    if kind in ("years", "months") and float(value).is_integer():
        months = int(value) * (12 if kind == "years" else 1)
        year, month = divmod(birth.month - 1 + months, 12)
        year += birth.year
        return date(year, month + 1, min(birth.day, calendar.monthrange(year, month + 1)[1]))
    per_day = {"years": 365.25, "months": 30.4375, "days": 1, "hours": 1 / 24}[kind]
    try:
        return birth + timedelta(days=int(value * per_day))
    except OverflowError:
        return None


def _applies(option: RangeOption, birth: date | None, when: date) -> bool | None:
    """True: the range applies on `when`; False: it does not (another age); None: it cannot be told."""
    verdict: bool | None = True
    if option.age:
        if birth is None:
            verdict = None
        else:
            for key, inside in (("low", lambda limit: when >= limit), ("high", lambda limit: when <= limit)):
                q = option.age.get(key)
                if not q:
                    continue
                limit = _after_birth(birth, q)
                if limit is None:
                    verdict = None
                elif not inside(limit):
                    return False
    if option.applies_to and verdict:
        verdict = None
    return verdict


def _age_text(birth: date | None, when: date) -> str:
    if birth is None:
        return "birth date unknown"
    days = (when - birth).days
    if days < 60:
        return f"age {days} days on {when.isoformat()}"
    months = (when.year - birth.year) * 12 + when.month - birth.month - (when.day < birth.day)
    return f"age {months} months on {when.isoformat()}" if months < 24 else \
        f"age {months // 12} years on {when.isoformat()}"


def pick_range(options: tuple[RangeOption, ...], birth: date | None, when: date,
               unit: str) -> tuple[float | None, float | None, dict[str, str]]:
    """(low, high, notes): the bounds of the range that applies on `when`, each None when unknown; `notes`
    ("low" / "high") says why the ranges on record gave no such bound (none when there is no range at all)."""
    if not options:
        return None, None, {}
    verdicts = [(o, _applies(o, birth, when)) for o in options]
    applies = [o for o, v in verdicts if v]
    unsure = [o for o, v in verdicts if v is None]
    if not applies:
        if unsure:
            why = "birth date unknown" if birth is None and any(o.age for o in unsure) else \
                "a range for a population (appliesTo) the service cannot match to this patient"
            note = f"no reference range known to apply ({why})"
        else:
            note = f"the lab's reference ranges are for other ages ({_age_text(birth, when)})"
        return None, None, {"low": note, "high": note}
    considered = applies + unsure
    found: dict[str, float | None] = {}
    notes: dict[str, str] = {}
    for side, name in (("low", "lower limit"), ("high", "upper limit")):
        values = sorted({getattr(o, side) for o in considered if getattr(o, side) is not None})
        found[side] = values[0] if len(values) == 1 else None
        if len(values) > 1:
            notes[side] = (f"reference ranges that may apply disagree ({name} "
                           + " / ".join(f"{scientific(v)} {unit}" for v in values) + ")")
    return found["low"], found["high"], notes
