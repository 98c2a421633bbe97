"""What a search sees of an Observation before it is translated: its code tokens, its date, the order of a page.
Read defensively (nothing here is validated): for ordering, search windows and what to read next; never evidence.
"""

from __future__ import annotations

from datetime import date, timedelta

from ..fhir_client import as_list
from .common import _to_date


def newest_first(page: list[dict]) -> bool:
    """The page's Observations are in newest-first order of their effective dates (each has one)."""
    dates = [raw_date(r) if type(r) is dict else None for r in page]
    return None not in dates and all(a >= b for a, b in zip(dates, dates[1:], strict=False))


def search_codes(resource: dict) -> set[str]:
    """The "system|code" tokens a FHIR code search matches on this Observation (Observation.code.coding)."""
    code = resource.get("code") if type(resource) is dict else None
    codings = code.get("coding") if type(code) is dict else None
    return {f"{c.get('system')}|{c.get('code')}" for c in as_list(codings)
            if type(c) is dict and type(c.get("system")) is str and type(c.get("code")) is str}


def effective_date(resource: dict) -> date | None:
    """The effective date of an unvalidated Observation, for ordering and search windows only."""
    return raw_date(resource) if type(resource) is dict else None


def stated_date(resource: dict) -> str:
    """The effective date as written (the element _read_observation reads), for the cards; "" when none.
    Observation.issued is not one: it is when the result was made available (FHIR R4), days or weeks after a
    send-out titer is drawn, so a result with only `issued` has no draw date (review 2026-11-24f F6)."""
    period = resource.get("effectivePeriod")
    for value in (resource.get("effectiveDateTime"), period.get("start") if isinstance(period, dict) else None):
        if isinstance(value, str) and value.strip():
            return value.strip()[:40]
    return ""


def reported_date(resource: dict) -> str:
    """Observation.issued as written (when the result was reported), for the cards; "" when none."""
    issued = resource.get("issued")
    return issued.strip()[:10] if isinstance(issued, str) and issued.strip() else ""


def date_problem(stated: str, reported: str = "") -> str:
    if stated:
        return f"dated {stated!r}, not a full date"
    if reported:
        return f"with no draw date (no effective[x]; reported {reported}, which is not the draw date)"
    return "with no date"


def latest_possible(resource: dict) -> date | None:
    """The last day a result may have been taken: its date; for a partial date (YYYY or YYYY-MM) the end of that
    year or month; with no date, the day it was reported (it was drawn no later); None when no date can be read at
    all (it may be newer than any other)."""
    stated = stated_date(resource) or reported_date(resource)
    full = _to_date(stated)
    if full is not None:
        return full
    try:
        if len(stated) == 7 and stated[4] == "-":  # YYYY-MM
            year, month = int(stated[:4]), int(stated[5:7])
            return date(year + month // 12, month % 12 + 1, 1) - timedelta(days=1)
        if len(stated) == 4:  # YYYY
            return date(int(stated), 12, 31)
    except ValueError:
        return None
    return None


def raw_date(resource: dict) -> date | None:
    """The effective date of an unvalidated Observation, for ordering only; never `issued` (a FHIR server's `date`
    search matches effective[x] only: windows and ordering agree with the searches)."""
    period = resource.get("effectivePeriod")
    for value in (resource.get("effectiveDateTime"), period.get("start") if isinstance(period, dict) else None):
        found = _to_date(value) if isinstance(value, str) else None
        if found:
            return found
    return None
