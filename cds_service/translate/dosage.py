"""How many doses a Zolgensma order gives. Zolgensma is "for single-dose intravenous infusion only" (FDA label 2;
DR.005.D renewal: "one-time-only dose"), so an order whose timing, dosage instructions or dispense give more than one
administration (or kit) is a finding, and one whose timing cannot be read is never taken as one dose.

Pure functions over the order's JSON (a validated MedicationRequest subset): each returns plain-text reasons naming
the order element and its value, for the card."""

from __future__ import annotations

import re
from datetime import date

from ..fhir_client import as_list
from .common import _NONE, _all_text, _codings, _s, _start, _to_date

# Timing.code values of HL7 v3 GTSAbbreviation (BID, TID, QID, QD, QOD, AM, PM, Q4H, WK, MO, ...) all name a
# repeating schedule (terminology.hl7.org CodeSystem v3-GTSAbbreviation); none means "once".
GTS_ABBREVIATION = "http://terminology.hl7.org/CodeSystem/v3-GTSAbbreviation"
# Words of a timing code (text or another system) that say once, or that say repeated. Anything else: not read.
_ONCE = re.compile(r"\b(once|one time|onetime|single|stat|now|x ?1|1 ?x|one dose)\b")
_REPEATED = re.compile(r"\b(bid|tid|qid|qd|qod|qam|qpm|qhs|daily|twice|three times|four times|every|each|weekly|"
                       r"monthly|q ?\d+ ?(h|hr|hrs|hours?|d|days?|wk|weeks?)|per day|a day|/day|hourly|nightly|"
                       r"morning|evening|bedtime)\b")
# Timing.repeat.periodUnit (UCUM units of time, FHIR units-of-time) in days.
_UNIT_DAYS = {"s": 1 / 86400, "min": 1 / 1440, "h": 1 / 24, "d": 1, "wk": 7, "mo": 30, "a": 365}
# dispenseRequest.quantity units that count whole kits (a kit is one patient's complete dose, FDA label 16).
_KIT_UNITS = frozenset({"kit", "kits", "{kit}", "{kits}", "package", "packages", "{package}", "pack", "carton",
                        "{carton}", "box"})


def several_doses(mr: dict) -> tuple[list[str], list[str]]:
    """(why the order gives more than one administration or kit, why its timing or dispense cannot be read)."""
    several: list[str] = []
    unclear: list[str] = []
    dosages = [d for d in as_list(mr.get("dosageInstruction")) if isinstance(d, dict)]
    stating = [d for d in dosages if d.get("doseAndRate") or d.get("timing")]
    if len(stating) > 1:
        several.append(f"the order has {len(stating)} dosageInstruction entries, each with its own dose or time")
    for dosage in dosages:
        timing = dosage.get("timing")
        if isinstance(timing, dict):
            _timing(timing, several, unclear)
        if dosage.get("asNeededBoolean") is True or dosage.get("asNeededCodeableConcept"):
            unclear.append("the dose is ordered as needed (dosageInstruction.asNeeded): it may be repeated")
    _dispense(mr.get("dispenseRequest") or _NONE, several, unclear)
    return list(dict.fromkeys(several)), list(dict.fromkeys(unclear))


def _timing(timing: dict, several: list[str], unclear: list[str]) -> None:
    events = sorted({e.strip() for e in as_list(timing.get("event")) if isinstance(e, str) and e.strip()})
    if len(events) > 1:
        several.append(f"timing.event lists {len(events)} times ({', '.join(events)})")
    repeat = timing.get("repeat") if isinstance(timing.get("repeat"), dict) else {}
    count, count_max = _number(repeat.get("count")), _number(repeat.get("countMax"))
    if count is not None and count > 1:
        several.append(f"timing.repeat.count is {count:g}")
    if count_max is not None and count_max > 1:
        several.append(f"timing.repeat.countMax is {count_max:g}")
    if count == 1 and not (count_max and count_max > 1):
        return  # at most one administration, whatever the pattern says
    _pattern(repeat, bool(events), several, unclear)
    code = timing.get("code")
    if isinstance(code, dict) and (code.get("text") or code.get("coding")):
        shown = _code_shown(code)
        if any(_s(c.get("system")) == GTS_ABBREVIATION and _s(c.get("code")) for c in _codings(code)):
            several.append(f"timing.code {shown} is a repeating schedule")
        else:
            words = " ".join(re.sub(r"[^a-z0-9/]+", " ", (_all_text(code) + " " + " ".join(
                _s(c.get("code")) for c in _codings(code))).lower()).split())
            if _REPEATED.search(words):
                several.append(f"timing.code {shown} is a repeating schedule")
            elif not _ONCE.search(words):
                unclear.append(f"timing.code {shown} cannot be read as once")


def _pattern(repeat: dict, has_events: bool, several: list[str], unclear: list[str]) -> None:
    """frequency, times of day and period against the bounds."""
    frequency = max(_number(repeat.get("frequency")) or 0, _number(repeat.get("frequencyMax")) or 0)
    period, unit = _number(repeat.get("period")), _s(repeat.get("periodUnit"))
    per = f" per {period:g} {unit}" if period and unit else ""
    if frequency > 1:
        several.append(f"timing.repeat.frequency is {frequency:g}{per}")
    for key in ("timeOfDay", "when", "dayOfWeek"):
        values = [_s(v) for v in as_list(repeat.get(key)) if _s(v)]
        if len(values) > 1:
            several.append(f"timing.repeat.{key} lists {len(values)} ({', '.join(values)})")
    days = period * _UNIT_DAYS[unit] if period and unit in _UNIT_DAYS else None
    if days is None:
        if (frequency or period) and not per:
            unclear.append("timing.repeat states a frequency or period without its unit")
        return
    span, shown = _bounds(repeat)
    if span is not None:
        if span >= days:
            several.append(f"timing.repeat gives a dose every {period:g} {unit} {shown}")
    elif has_events:
        unclear.append(f"timing.event with timing.repeat every {period:g} {unit} and no count or end: it may repeat")
    else:
        several.append(f"timing.repeat gives a dose every {period:g} {unit} with no count or end")


def _bounds(repeat: dict) -> tuple[float | None, str]:
    """(days from the first to the last possible administration, as shown) from boundsPeriod or boundsDuration."""
    bounds = repeat.get("boundsPeriod") if isinstance(repeat.get("boundsPeriod"), dict) else None
    if bounds is not None:
        start, end = _to_date(_start(bounds)), _to_date(bounds.get("end"))
        if isinstance(start, date) and isinstance(end, date):
            return (end - start).days, f"from {start.isoformat()} to {end.isoformat()}"
        return None, ""
    duration = repeat.get("boundsDuration") if isinstance(repeat.get("boundsDuration"), dict) else None
    if duration is not None:
        value = _number(duration.get("value"))
        unit = _s(duration.get("code")) or _s(duration.get("unit"))
        if value is not None and unit in _UNIT_DAYS:
            # a duration of one period holds one administration: the last one starts before its end
            return value * _UNIT_DAYS[unit] - 1e-9, f"for {value:g} {unit}"
    return None, ""


def _dispense(dispense: dict, several: list[str], unclear: list[str]) -> None:
    quantity = dispense.get("quantity") if isinstance(dispense.get("quantity"), dict) else _NONE
    value = _number(quantity.get("value"))
    unit = (_s(quantity.get("code")) or _s(quantity.get("unit"))).lower()
    if value is not None and value > 1:
        if unit in _KIT_UNITS:
            several.append(f"dispenseRequest.quantity is {value:g} {unit}: more than one kit")
        elif not unit:
            unclear.append(f"dispenseRequest.quantity is {value:g} with no unit: it may be more than one kit")
    refills = _number(dispense.get("numberOfRepeatsAllowed"))
    if refills:
        several.append(f"dispenseRequest.numberOfRepeatsAllowed is {refills:g}: a refill of a one-time dose")


def _number(value) -> float | None:
    return float(value) if isinstance(value, (int, float)) and not isinstance(value, bool) else None


def _code_shown(code: dict) -> str:
    coded = [_s(c.get("code")) for c in _codings(code) if _s(c.get("code"))]
    return ", ".join(coded) or f"“{_s(code.get('text'))}”"


# A volume written in a dosage text ("41.3 mL IV over 60 minutes"): a number (decimal point, or a decimal comma
# followed by one or two digits: "41,3 mL") and a millilitre unit, not a rate or a dose per kg ("0.7 mL/min",
# "5.5 mL/kg", "mL per kg").
_TEXT_VOLUME = re.compile(r"(?<![\d.,])(\d+(?:\.\d+)?|\d+,\d{1,2}(?!\d))\s*(?:ml|millilit(?:er|re)s?|cc|cm3)\b"
                          r"(?!\s*(?:/|per\b))", re.IGNORECASE)


def text_volumes(mr: dict) -> list[tuple[float, str]]:
    """Every volume (mL) the order's dosage texts name, each with its text: the text the infusion nurse reads, to
    be compared with the coded dose (it never makes a dose, review 2026-11-24c R5)."""
    found = []
    for dosage in as_list(mr.get("dosageInstruction")):
        text = _s(dosage.get("text")) if isinstance(dosage, dict) else ""
        found += [(float(m.group(1).replace(",", ".")), text) for m in _TEXT_VOLUME.finditer(text)]
    return found


def planned_date(events) -> tuple[date | None, int]:
    """The earliest readable date among timing.event (whatever their order), and how many there are."""
    dates = sorted({d for d in (_to_date(e) for e in as_list(events)) if d is not None})
    return (dates[0] if dates else None), len(dates)
