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
from dataclasses import dataclass, field
from datetime import date, timedelta

from ..facts import LOW_LIMIT_ANALYTES
from ..quantities import CANONICAL_UNITS, display_unit, scientific, to_canonical, unit_scales


@dataclass(frozen=True)
class RangeOption:
    """One referenceRange with a bound, in the result's canonical unit."""

    low: float | None
    high: float | None
    age: dict | None  # FHIR Range of ages (Quantity low/high, UCUM a / mo / wk / d / h)
    applies_to: bool  # restricted by referenceRange.appliesTo
    # "low" / "high" -> why the bound on record could not be used (read_bound): that side is then unknown
    refused: dict[str, str] = field(default_factory=dict)


# Where a lab's reference LIMIT can lie, per analyte, in the canonical unit, inclusive: the limit the rules use
# (the upper limit, the lower one for LOW_LIMIT_ANALYTES). Review 2026-11-24c R1: a limit outside is a unit or
# entry error (45 ukat/L = 2700 U/L as an ALT ULN), never a ULN; and a bound given WITHOUT a unit is read in the
# result's unit only when no other unit the analyte is reported in would also give a limit inside the band, so
# it cannot be misread. Project choice, anchored on published reference intervals, each band wide enough that no
# real limit is refused (an out-of-band limit only makes the result's limit "unknown", never a guessed one):
# - ALT/AST: upper limits from ~19 U/L (adult ALT, Prati 2002) to ~150 U/L (newborn AST, CALIPER 2012); 10-500.
#   U/L and ukat/L (x 60) readings of one number never both fall inside (60 > 500/10).
# - total bilirubin: upper limits from ~0.6 mg/dL (children) to ~12-15 mg/dL (first days of life); 0.5-16. The
#   umol/L (x 1/17.1) and mg/dL readings of 8.55-16 both fall inside: such a number without a unit stays unknown.
# - PT: upper limits ~11-17 s (adults, neonates: Andrew 1987); 8-60. INR: ~1.1-1.6; 0.8-5 (a ratio: no unit).
# - platelets (lower limit): ~100-200 x 10^3/uL; 10-1000 (/uL reads x 1/1000: never both inside).
# - troponin-I: 99th percentiles ~0.01 ng/mL (hs assays) to ~0.5 ng/mL (older assays); 0.005-2 (ng/L x 1/1000).
# - creatinine: upper limits ~0.3 mg/dL (infants) to ~1.3 mg/dL (adults); 0.1-5 (umol/L x 1/88.4).
REFERENCE_LIMITS: dict[str, tuple[float, float]] = {
    "alt": (10.0, 500.0), "ast": (10.0, 500.0), "bilirubin": (0.5, 16.0), "pt": (8.0, 60.0), "inr": (0.8, 5.0),
    "platelets": (10.0, 1000.0), "troponin-i": (0.005, 2.0), "creatinine": (0.1, 5.0),
}


def read_bound(analyte: str, side: str, q: dict | None, result_unit: str | None) -> tuple[float | None, str]:
    """(the bound in the canonical unit or None, why it is not used: "" when it is or when there is none).
    A bound's own unit wins (UnitError when not recognised, as for the result); a bound without a unit is read in
    the result's unit only where it cannot be misread (REFERENCE_LIMITS). Pure."""
    value = q.get("value") if isinstance(q, dict) else None
    if value is None:
        return None, ""
    value = float(value)
    own = q.get("code") or q.get("unit")
    used = side == ("low" if analyte in LOW_LIMIT_ANALYTES else "high")  # the side the rules compare with
    band = REFERENCE_LIMITS.get(analyte)
    canonical = CANONICAL_UNITS.get(analyte, "")
    limit = round(to_canonical(analyte, value, own or result_unit), 4)
    name = "upper" if side == "high" else "lower"
    if not own and value != 0:
        scales = unit_scales(analyte)
        if len(scales) > 1 and (not used or band is None):
            return None, (f"the lab's {name} limit {value:g} has no unit, and this test is reported in "
                          "several units: it cannot be read with certainty")
        if len(scales) > 1:
            inside = sorted({round(value * scale, 4) for scale in scales if band[0] <= value * scale <= band[1]})
            if inside != [limit]:
                readings = " or ".join(f"{scientific(v)} {display_unit(canonical)}".strip() for v in inside)
                return None, (f"the lab's {name} limit {value:g} has no unit; read in the result's unit "
                              f"({display_unit(result_unit or '')}) it would be {scientific(limit)} "
                              f"{display_unit(canonical)}".rstrip()
                              + (f", and it could also mean {readings}" if inside else "")
                              + ": ask the lab for the range with its unit")
    if used and band is not None and limit != 0 and not band[0] <= limit <= band[1]:
        return None, (f"the lab's {name} limit {value:g} {display_unit(own or result_unit or '')}".rstrip()
                      + f" ({scientific(limit)} {display_unit(canonical)})".replace(" )", ")")
                      + f" is not a plausible {name} limit (expected {band[0]:g}-{band[1]:g} "
                      f"{display_unit(canonical)})".replace("  ", " ").replace(" )", ")"))
    return limit, ""


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


def _applies(option: RangeOption, birth: date | tuple[date, date] | None, when: date) -> bool | None:
    """True: the range applies on `when`; False: it does not (another age); None: it cannot be told. A birth date
    known only in part (its first and last possible day): what both ends say, else None (fix-cov item 5)."""
    if isinstance(birth, tuple):
        ends = {_applies(option, day, when) for day in birth}
        return ends.pop() if len(ends) == 1 else None
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


def _age_text(birth: date | tuple[date, date] | None, when: date) -> str:
    if birth is None:
        return "birth date unknown"
    if isinstance(birth, tuple):
        return f"born {birth[0].isoformat()} to {birth[1].isoformat()}, birth date partial"
    days = (when - birth).days
    if days < 60:
        return f"age {days} days on {when.isoformat()}"
    months = (when.year - birth.year) * 12 + when.month - birth.month - (when.day < birth.day)
    return f"age {months} months on {when.isoformat()}" if months < 24 else \
        f"age {months // 12} years on {when.isoformat()}"


def pick_range(options: tuple[RangeOption, ...], birth: date | tuple[date, date] | None, when: date,
               unit: str) -> tuple[float | None, float | None, dict[str, str]]:
    """(low, high, notes): the bounds of the range that applies on `when`, each None when unknown; `notes`
    ("low" / "high") says why the ranges on record gave no such bound (none when there is no range at all).
    `birth`: the birth date, or its first and last possible day when recorded only in part."""
    if not options:
        return None, None, {}
    verdicts = [(o, _applies(o, birth, when)) for o in options]
    applies = [o for o, v in verdicts if v]
    unsure = [o for o, v in verdicts if v is None]
    if not applies:
        if unsure:
            why = ("birth date partial" if isinstance(birth, tuple) else "birth date unknown") \
                if not isinstance(birth, date) and any(o.age for o in unsure) else \
                "a range for a population (appliesTo) the service cannot match to this patient"
            note = f"no reference range known to apply ({why})"
        else:
            note = f"the lab's reference ranges are for other ages ({_age_text(birth, when)})"
        return None, None, {"low": note, "high": note}
    considered = applies + unsure
    found: dict[str, float | None] = {}
    notes: dict[str, str] = {}
    for side, name in (("low", "lower limit"), ("high", "upper limit")):
        refused = [o.refused[side] for o in considered if side in o.refused]
        if refused:  # a limit that may be the patient's could not be read: not replaced by another (R1)
            found[side], notes[side] = None, refused[0]
            continue
        values = sorted({getattr(o, side) for o in considered if getattr(o, side) is not None})
        found[side] = values[0] if len(values) == 1 else None
        if len(values) > 1:
            notes[side] = (f"reference ranges that may apply disagree ({name} "
                           + " / ".join(f"{scientific(v)} {unit}" for v in values) + ")")
    return found["low"], found["high"], notes
