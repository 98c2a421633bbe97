"""Small readers over FHIR JSON shared by the translation modules (validated by fhir_subset:
every element present is well typed; the `_s` guard covers the few raw reads before validation)."""

from __future__ import annotations

import re
from datetime import date

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


def _code_keys(concept: dict | None) -> frozenset[tuple[str, str]]:
    return frozenset((c.get("system") or "", c["code"]) for c in _codings(concept) if c.get("code"))


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


def _ref(resource: dict) -> str:
    rid, rtype = resource.get("id"), resource.get("resourceType")
    rtype = rtype if isinstance(rtype, str) else "Resource"
    return f"{rtype}/{rid}" if isinstance(rid, str) and rid else rtype

