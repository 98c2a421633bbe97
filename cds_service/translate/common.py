"""Small readers over FHIR JSON shared by the translation modules (validated by fhir_subset:
every element present is well typed; the `_s` guard covers the few raw reads before validation)."""

from __future__ import annotations

import re
from datetime import date, timedelta

from .. import terminology as t
from ..facts import ALWAYS, Period

FINAL_OBSERVATION = {"final", "amended", "corrected"}


def _s(value) -> str:
    """A JSON string, or "" for anything else: messy data never breaks string handling."""
    return value if isinstance(value, str) else ""


_NOT_ALNUM = re.compile(r"[^a-z0-9]+")


def _norm(text: str | None) -> str:
    return " ".join(_NOT_ALNUM.sub(" ", (text or "").lower()).split())



_NONE: dict = {}  # read-only stand-in for an absent element


def _codings(concept: dict | None) -> list[dict]:
    return (concept.get("coding") or []) if concept else []


def canonical_system(system) -> str:
    """The code system's canonical URI for any identifier it is known by (terminology.SYSTEM_ALIASES: the ICD-10-CM,
    CPT, WHO ICD-10 and HCPCS OIDs and other spellings, compared without case); any other system as written."""
    s = _s(system)
    return t.SYSTEM_ALIASES.get(s.strip().rstrip("/").lower(), s)


def _code_keys(concept: dict | None) -> frozenset[tuple[str, str]]:
    return frozenset((canonical_system(c.get("system")), c["code"]) for c in _codings(concept) if c.get("code"))


def _concept_text(concept: dict | None) -> str:
    if not concept:
        return ""
    return concept.get("text") or next((c["display"] for c in _codings(concept) if c.get("display")), "")


def _all_text(concept: dict | None) -> str:
    if not concept:
        return ""
    return " ".join([concept.get("text") or ""] + [c.get("display") or "" for c in _codings(concept)]).lower()


def _start(period: dict | None) -> str | None:
    return period.get("start") if period else None


def _to_date(value) -> date | None:
    """A FHIR date/dateTime as a calendar date; partial dates (year, year-month) are not usable."""
    if isinstance(value, str) and len(value) >= 10:
        try:
            return date.fromisoformat(value[:10])
        except ValueError:
            return None
    return None


def read_period(period: dict | None) -> Period:
    """Period (facts.py) of a validated FHIR Period: each bound as the first and last day it can mean."""
    if not period:
        return ALWAYS
    start, end = period.get("start"), period.get("end")
    spans = [_day_span(v) for v in (start, end)]
    return Period(spans[0], spans[1], any(v and s is None for v, s in zip((start, end), spans, strict=True)),
                  (start or "")[:10], (end or "")[:10])


def _day_span(value: str | None) -> tuple[date, date] | None:
    """"2026-10-31" (or a dateTime on that day): that day; "2026-10": the month; "2026": the year."""
    if not value:
        return None
    day = _to_date(value)
    if day:
        return day, day
    try:
        if len(value) == 7:
            first = date(int(value[:4]), int(value[5:7]), 1)
            return first, date(first.year + first.month // 12, first.month % 12 + 1, 1) - timedelta(days=1)
        if len(value) == 4:
            return date(int(value), 1, 1), date(int(value), 12, 31)
    except ValueError:
        return None
    return None


def _ref(resource: dict) -> str:
    rid, rtype = resource.get("id"), resource.get("resourceType")
    rtype = rtype if isinstance(rtype, str) else "Resource"
    return f"{rtype}/{rid}" if isinstance(rid, str) and rid else rtype



# Harmless noise, normalised before validating: surrounding whitespace anywhere, and the case of status
# and intent codes (FHIR defines them lower-case; "Completed " from a vendor means "completed").
_LOWER_CASE = frozenset({"status", "intent"})


# R4 status and intent codes as FHIR writes them: already tidy, nothing to strip or lower-case (most values).
_TIDY_CODES = frozenset({
    "active", "amended", "arrived", "booked", "cancelled", "checked-in", "completed", "corrected", "directive",
    "draft", "entered-in-error", "filler-order", "final", "finished", "fulfilled", "in-progress", "inactive",
    "instance-order", "intended", "noshow", "not-done", "not-taken", "on-hold", "option", "order",
    "original-order", "pending", "plan", "planned", "preliminary", "preparation", "proposal", "proposed",
    "reflex-order", "registered", "revoked", "stopped", "suspended", "unknown", "waitlist"})


def tidy_status(resource: dict) -> dict:
    """Cheap, always: the top-level `status` and `intent`, which the readers look at before validating."""
    fixed = None
    for key in _LOWER_CASE:
        value = resource.get(key)
        if type(value) is str and value not in _TIDY_CODES:
            clean = value.strip().lower()
            if clean != value:
                fixed = fixed or dict(resource)
                fixed[key] = clean
    return fixed or resource


def tidy(value, key: str = ""):
    """A copy with every string stripped (and status-like codes lower-cased); only when validation failed."""
    if type(value) is str:
        clean = value.strip()
        return clean.lower() if key in _LOWER_CASE or key == "code" and clean.lower() in _STATUS_CODES else clean
    if type(value) is dict:
        return {k: tidy(v, k) for k, v in value.items()}
    if type(value) is list:
        return [tidy(v, key) for v in value]
    return value


# Condition clinical/verification status codes (R4): their case is noise too.
_STATUS_CODES = frozenset({"active", "recurrence", "relapse", "inactive", "remission", "resolved", "unconfirmed",
                           "provisional", "differential", "confirmed", "refuted", "entered-in-error"})


def unreadable_concept(concept) -> bool:
    """A CodeableConcept that is absent or not well formed, so what it names cannot be known: the resource
    might be anything (a titer, a Zolgensma dose). A well-formed concept we simply do not recognise is not."""
    if type(concept) is not dict:
        return True
    codings, text = concept.get("coding"), concept.get("text")
    if codings is not None and type(codings) is not list or text is not None and type(text) is not str:
        return True
    for c in codings or ():
        if type(c) is not dict or any(c.get(k) is not None and type(c.get(k)) is not str
                                      for k in ("system", "code", "display")):
            return True
    return not text and not any(c.get("code") or c.get("display") for c in codings or ())
