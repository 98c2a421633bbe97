"""Units, titers and calendar arithmetic: pure helpers shared by translation and rules."""

from __future__ import annotations

import math
import re
from datetime import date
from functools import lru_cache

# Canonical unit per analyte, and factors from accepted units to it.
# Sources: clinical-facts.md 2.6 (UCUM table: bilirubin 1 mg/dL = 17.1 umol/L; troponin
# 1 ng/mL = 1000 ng/L, ug/L = ng/mL; platelets 10*3/uL = 10*9/L). Creatinine 88.4 umol/L per
# mg/dL and haemoglobin 10 g/L per g/dL are standard molar/mass conversions (MEMORY).
CANONICAL_UNITS = {
    "alt": "U/L", "ast": "U/L", "bilirubin": "mg/dL", "pt": "s", "inr": "{INR}",
    "platelets": "10*3/uL", "troponin-i": "ng/mL", "creatinine": "mg/dL", "hemoglobin": "g/dL",
    "weight": "kg", "gestational-age": "wk", "gestational-age-estimated": "wk", "temperature": "Cel",
}

# How a canonical (UCUM) unit is shown to a clinician: UCUM's 10*3/uL reads "300 × 10^3/µL", {INR} is a bare
# ratio, Cel is °C. Units not listed are shown as they are.
DISPLAY_UNITS = {"10*3/uL": "× 10^3/µL", "10*9/L": "× 10^9/L", "{INR}": "", "Cel": "°C", "umol/L": "µmol/L",
                 "uL": "µL"}


def display_unit(unit: str) -> str:
    return DISPLAY_UNITS.get(unit, unit)


def with_unit(value: str, unit: str) -> str:
    """'300' and '10*3/uL' -> '300 × 10^3/µL'; a unitless ratio stays '1.1'."""
    shown = display_unit(unit)
    return f"{value} {shown}" if shown else value


def scientific(value: float, digits: int = 3) -> str:
    """8.25e14 -> '8.25 × 10^14' (the label's own notation); small numbers plainly."""
    if abs(value) < 1e6:
        return f"{value:g}"
    mantissa, exponent = f"{value:.{digits - 1}e}".split("e")
    return f"{float(mantissa):g} × 10^{int(exponent)}"


def plain_list(items: list[str] | tuple[str, ...], labels: dict[str, str] | None = None) -> str:
    """['ast', 'alt', 'bilirubin'] -> 'AST, ALT and total bilirubin' (with the labels given)."""
    words = [(labels or {}).get(i, i) for i in items]
    if len(words) <= 1:
        return "".join(words)
    return ", ".join(words[:-1]) + " and " + words[-1]


_ENZYME = {"u/l": 1.0, "iu/l": 1.0, "[iu]/l": 1.0, "units/l": 1.0, "ukat/l": 60.0}
_FACTORS: dict[str, dict[str, float]] = {
    "alt": _ENZYME,
    "ast": _ENZYME,
    "bilirubin": {"mg/dl": 1.0, "umol/l": 1 / 17.1, "µmol/l": 1 / 17.1, "μmol/l": 1 / 17.1,
                  "mmol/l": 1000 / 17.1},
    "pt": {"s": 1.0, "sec": 1.0, "secs": 1.0, "second": 1.0, "seconds": 1.0},
    "inr": {"{inr}": 1.0, "1": 1.0, "inr": 1.0, "ratio": 1.0, "{ratio}": 1.0, "": 1.0},
    "platelets": {"10*3/ul": 1.0, "10^3/ul": 1.0, "x10^3/ul": 1.0, "x10*3/ul": 1.0, "k/ul": 1.0,
                  "thou/ul": 1.0, "10*3/mm3": 1.0, "10*9/l": 1.0, "10^9/l": 1.0, "x10^9/l": 1.0,
                  "x10*9/l": 1.0, "g/l": 1.0, "/ul": 1e-3, "/mm3": 1e-3},
    "troponin-i": {"ng/ml": 1.0, "ug/l": 1.0, "µg/l": 1.0, "μg/l": 1.0, "ng/l": 1e-3, "pg/ml": 1e-3},
    "creatinine": {"mg/dl": 1.0, "umol/l": 1 / 88.4, "µmol/l": 1 / 88.4, "μmol/l": 1 / 88.4},
    "hemoglobin": {"g/dl": 1.0, "g/l": 0.1, "mmol/l": 1.611},
    "weight": {"kg": 1.0, "g": 1e-3, "[lb_av]": 0.45359237, "lb": 0.45359237, "lbs": 0.45359237,
               "[oz_av]": 0.028349523125, "oz": 0.028349523125},
    "gestational-age": {"wk": 1.0, "week": 1.0, "weeks": 1.0, "wks": 1.0, "d": 1 / 7, "day": 1 / 7,
                        "days": 1 / 7},
}
_FACTORS["gestational-age-estimated"] = _FACTORS["gestational-age"]


# Plausible ranges per quantity the rules use, in the canonical unit, inclusive. A value outside is an entry
# or unit error (grams entered as kg, a GA in days entered as weeks), never evidence: skipped and reported.
# Project choice: each bound lies beyond the most extreme values reported in people, so that no real result
# is refused; the anchors are named. Non-negative quantities start at 0.
PLAUSIBLE: dict[str, tuple[float, float]] = {
    # kg. Smallest surviving newborn: 0.245 kg (Sharp Mary Birch Hospital, 2018); heaviest adults ~ 600 kg.
    "weight": (0.2, 650.0),
    # weeks at birth. Live birth from 20 weeks (as eligibility.MIN_GESTATIONAL_AGE_WEEKS); post-term is
    # >= 42 weeks (ACOG) and pregnancies are induced long before 45.
    "gestational-age": (20.0, 45.0),
    # weeks on the day of a dating estimate: from the earliest ultrasound dating (~5 weeks) to 45.
    "gestational-age-estimated": (4.0, 45.0),
    # Cel. Survived extremes: 13.7 (accidental hypothermia, Bagenholm 1999) and 46.5 (heat stroke, 1980).
    "temperature": (10.0, 47.0),
    # U/L. Acute liver failure and shock liver reach ALT/AST in the low tens of thousands.
    "alt": (0.0, 100_000.0), "ast": (0.0, 100_000.0),
    # mg/dL. Neonatal exchange-transfusion range is 20-30; reported extremes stay below 100.
    "bilirubin": (0.0, 100.0),
    "pt": (5.0, 300.0),  # seconds; unclottable samples are reported as > 120 s
    "inr": (0.5, 30.0),
    # 10*3/uL. Extreme thrombocytosis is ~ 2000-3000.
    "platelets": (0.0, 5_000.0),
    "troponin-i": (0.0, 10_000.0),  # ng/mL; large infarcts reach a few hundred
    "creatinine": (0.0, 40.0),  # mg/dL; untreated renal failure rarely exceeds 20
    "hemoglobin": (1.0, 30.0),  # g/dL; survived extremes ~ 1.4 and 27
}
# A titer 1:N is a dilution, so N >= 1 ("1:0.01" is not a titer). Labs dilute serially to ~1:10^6 at most.
TITER_RECIPROCAL_RANGE = (1.0, 1e7)


def implausible(analyte: str, value: float) -> str | None:
    """Why `value` (canonical unit) cannot be a real result, or None."""
    low, high = PLAUSIBLE.get(analyte, (float("-inf"), float("inf")))
    if low <= value <= high:
        return None
    return f"{value:g} {CANONICAL_UNITS.get(analyte, '')} is outside the plausible range {low:g}-{high:g}"


# Two weights that cannot both be right (review 2026-11-24b I2): their difference exceeds what a child's weight can
# change in the days between them. Conservative, so that growth, illness and scales never trip it:
# - growth: WHO Child Growth Standards, weight velocity (2009): the fastest gains, in the first month of life, stay
#   under about 2 kg a month even at the top centiles; allowed 0.1 kg/day (3 kg a month);
# - acute loss: severe dehydration is a loss of 10 % of body weight or more (WHO, "The treatment of diarrhoea",
#   2005); allowed 15 % of the larger weight, in a day or more;
# - scales, clothing, a full nappy: 0.3 kg.
# 9.5 kg and 7.2 kg a day apart differ by 2.3 kg against 1.83 kg allowed; 7.2 and 7.6 kg a week apart are fine.
WEIGHT_CHANGE_FRACTION = 0.15
WEIGHT_CHANGE_FIXED_KG = 0.3
WEIGHT_GROWTH_KG_PER_DAY = 0.1
# Weights compared: those that could be the current weight (rules/context.WEIGHT_MAX_AGE_DAYS before the newest).
WEIGHT_COMPARED_DAYS = 14


def weight_change_allowed(heavier_kg: float, days_apart: int) -> float:
    """The largest difference (kg) two weights `days_apart` days apart may show (bound above)."""
    return WEIGHT_CHANGE_FRACTION * heavier_kg + WEIGHT_CHANGE_FIXED_KG + WEIGHT_GROWTH_KG_PER_DAY * abs(days_apart)


def weights_contradict(a_kg: float, a_day: date, b_kg: float, b_day: date) -> bool:
    return abs(a_kg - b_kg) > weight_change_allowed(max(a_kg, b_kg), (a_day - b_day).days)


class UnitError(ValueError):
    """A unit we cannot convert with certainty."""


def to_canonical(analyte: str, value: float, unit: str | None) -> float:
    """Convert `value` in `unit` to the analyte's canonical unit, or raise UnitError."""
    scale, offset = conversion(analyte, unit)
    return value * scale + offset


@lru_cache(maxsize=1024)
def conversion(analyte: str, unit: str | None) -> tuple[float, float]:
    """(scale, offset) from `unit` to the analyte's canonical unit, or UnitError. A pure function of two
    short strings, cached: a request converts each result and its reference range with the same unit."""
    key = (unit or "").strip().lower().replace(" ", "")
    if analyte == "temperature":
        if key in ("cel", "c", "°c", "degc"):
            return 1.0, 0.0
        if key in ("[degf]", "f", "°f", "degf"):
            return 5 / 9, -32 * 5 / 9
        raise UnitError(f"unit {unit!r} not recognised for temperature")
    factors = _FACTORS.get(analyte, {})
    if key not in factors:
        raise UnitError(f"unit {unit!r} not recognised for {analyte}")
    return factors[key], 0.0


def unit_scales(analyte: str) -> dict[float, str]:
    """The distinct scales from the units accepted for `analyte` to its canonical unit, each with one unit that
    has it ({1.0: 'u/l', 60.0: 'ukat/l'} for ALT): what a number given without a unit could mean."""
    scales: dict[float, str] = {}
    for unit, scale in _FACTORS.get(analyte, {}).items():
        scales.setdefault(scale, unit)
    return scales


_TITER = re.compile(r"^\s*(<=|>=|≤|≥|<|>|=)?\s*1\s*[:/]\s*(\d+(?:\.\d+)?)\s*(?:\((.*)\))?\s*$", re.DOTALL)
_COMPARATORS = {"≤": "<=", "≥": ">=", None: "=", "": "="}


def split_titer_string(text: str) -> tuple[float, str, str]:
    """'1:25 (negative)' -> (25, '=', 'negative'); '<1:25' -> (25, '<', ''). The parenthesis after the dilution
    is returned as written (stripped): what it says is the reader's to judge, never dropped here (review
    2026-11-24f F2: "1:25 (repeat at higher dilution 1:400)"). Raises ValueError."""
    match = _TITER.match(text or "")
    if not match:
        raise ValueError(f"not a titer: {text!r}")
    comparator = _COMPARATORS.get(match.group(1), match.group(1))
    return float(match.group(2)), comparator, (match.group(3) or "").strip()


def parse_titer_string(text: str) -> tuple[float, str]:
    """'1:25' -> (25, '='); '<1:25' -> (25, '<'); '1/50' -> (50, '='). Raises ValueError."""
    reciprocal, comparator, _ = split_titer_string(text)
    return reciprocal, comparator


def titer_at_most(reciprocal: float, comparator: str, limit: float) -> bool | None:
    """Is the titer certainly <= 1:limit (True), certainly above (False), or undecidable (None)?"""
    if comparator in ("=", "<=", "<"):
        if reciprocal <= limit:
            return True
        if comparator == "=":
            return False
        return None  # "<1:100" could still be above 1:50
    # ">" or ">=": the true value is at least the reported one
    if reciprocal > limit or (comparator == ">" and reciprocal >= limit):
        return False
    return None


def units_disagree(analyte: str, amount: float, unit: str | None, code: str | None) -> str:
    """Quantity.unit and Quantity.code naming two units that give different values ("lb" and "kg"): the
    reason it is not read, else "". A unit text the service does not know (a display such as "kilogram")
    is not a disagreement: the code is read as before."""
    if not unit or not code or unit.strip().lower() == code.strip().lower():
        return ""
    try:
        by_unit, by_code = to_canonical(analyte, amount, unit), to_canonical(analyte, amount, code)
    except UnitError:
        return ""
    if abs(by_unit - by_code) <= 1e-9 * max(abs(by_unit), abs(by_code), 1.0):
        return ""
    return f"unit {unit!r} and code {code!r} disagree ({amount:g} {unit} or {amount:g} {code}): not read"


_INF = float("inf")


def bound_holds(value: float, comparator: str, op: str, limit: float) -> bool | None:
    """Does the true result, known as `comparator value` (Quantity.comparator: "<" 20 means below 20), satisfy
    `true op limit` (op: ">", ">=", "<", "<=")? True: whatever the true value is; False: whatever it is, it
    does not; None: the bound does not settle it (review 2026-11-24b B3: a bound is not a measurement).
    ALT "<20" > 90: False; ">=90" > 90: None; ">=90" >= 90: True; platelets "<150" < 150: True."""
    lo, lo_open, hi, hi_open = {"=": (value, False, value, False), ">": (value, True, _INF, True),
                                ">=": (value, False, _INF, True), "<": (-_INF, True, value, True),
                                "<=": (-_INF, True, value, False)}.get(comparator, (-_INF, True, _INF, True))
    if op == ">":
        every, none = lo > limit or (lo == limit and lo_open), hi <= limit
    elif op == ">=":
        every, none = lo >= limit, hi < limit or (hi == limit and hi_open)
    elif op == "<":
        every, none = hi < limit or (hi == limit and hi_open), lo >= limit
    elif op == "<=":
        every, none = hi <= limit, lo > limit or (lo == limit and lo_open)
    else:
        raise ValueError(f"operator {op!r}")
    return True if every else False if none else None


def add_years(day: date, years: int) -> date:
    """The anniversary `years` after `day` (29 Feb -> 1 Mar in non-leap years)."""
    try:
        return day.replace(year=day.year + years)
    except ValueError:
        return date(day.year + years, 3, 1)


def add_months(day: date, months: int) -> date:
    """The same day `months` calendar months later (the 31st -> the month's last day)."""
    total = day.month - 1 + months
    year, month = day.year + total // 12, total % 12 + 1
    for last in (day.day, 30, 29, 28):
        try:
            return date(year, month, min(day.day, last))
        except ValueError:
            continue
    raise AssertionError("unreachable")


def age_in_months(birth: date, on: date) -> int:
    months = (on.year - birth.year) * 12 + (on.month - birth.month)
    if on.day < birth.day:
        months -= 1
    return months


# FDA label section 2.1 dose table: 2.6-21.0 kg in 0.5 kg bands.
LABEL_MIN_WEIGHT_KG = 2.6
LABEL_MAX_WEIGHT_KG = 21.0
FIRST_BAND_UPPER_KG = 3.0
# Float noise from unit conversion (lb, oz, g -> kg) is far below this; no scale weighs to a microgram.
WEIGHT_TOLERANCE_KG = 1e-6


def weight_band(weight_kg: float) -> tuple[float, float] | None:
    """The label's 0.5 kg dosing band for a weight as measured (FDA label section 2.1 table, 2.6-21.0 kg).

    The label doses at the band's upper limit ("calculated using the upper limit of the patient weight
    range"), so a weight between two printed bands (3.05 kg: above 2.6-3.0, below 3.1-3.5) takes the
    higher band: the upper limit is the smallest multiple of 0.5 kg at or above the weight. The weight is
    never rounded first (round-half-to-even put 3.05 kg in 2.6-3.0 and under-dosed it). Outside
    2.6-21.0 kg, checked on the weight as measured (2.59 and 21.01 kg are outside): None.
    """
    if not LABEL_MIN_WEIGHT_KG - WEIGHT_TOLERANCE_KG <= weight_kg <= LABEL_MAX_WEIGHT_KG + WEIGHT_TOLERANCE_KG:
        return None
    upper = max(FIRST_BAND_UPPER_KG, math.ceil(weight_kg * 2 - WEIGHT_TOLERANCE_KG) / 2)
    return (round(upper - 0.4, 1), upper)
