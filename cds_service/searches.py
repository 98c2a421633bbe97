"""The searches of one hook call as jobs (for data_access.py): fewer round trips, never less evidence.

The Observation searches by code (queries.ByCode) that one call sends to the FHIR server go as ONE search
for all their codes (FHIR R4 search: a comma-separated token list is an OR), sorted newest first, one page.
Its answer then stands for each analyte's own search only where it provably holds at least what that search
would have returned; every other analyte is searched on its own (its own query, with its own fallback):

- the server read to the end (no `next` link, or every page read because it did not confirm the sort):
  the answer holds every result of every analyte;
- the server confirmed `_sort=-date` and the first page ended with a `next` link (a "cut" at the date of
  that page's oldest result): the page holds every result newer than that date. An analyte whose whole
  window is newer is answered; one that needs every result (genetics, temperatures) is not; one read as
  "the latest few" is answered when at least queries.LATEST_FEW of its results are newer than that date
  (what its own search, `_count=LATEST_FEW` newest first, would have returned), else it is starved by the
  others' long history and searched on its own;
- the combined search failed, or its answer has a gap (a limit reached, truncation): every analyte on its own.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import date

from .queries import LATEST_FEW, Query, combined
from .translate.observations import effective_date, newest_first, search_codes


@dataclass(frozen=True)
class Job:
    source: str
    url: str
    query: Query
    continued: int | None = None  # a prefetch page being continued: the search matches it held
    parts: tuple[Job, ...] = ()  # a combined search: the by-code searches it stands for
    optional: str | None = None  # a follow-up whose failure is reported with this prefix, the source stays read


def combine(jobs: list[Job], resolve: Callable[[str], str | None]) -> list[Job]:
    """`jobs` with their Observation searches by code merged into one (first, as it is the slowest)."""
    by_code = [j for j in jobs if j.query.by_code is not None and j.continued is None]
    if len(by_code) < 2:
        return jobs
    query = combined([j.query for j in by_code])
    url = resolve(query.template)
    if url is None:
        return jobs
    return [Job(by_code[0].source, url, query, parts=tuple(by_code)), *(j for j in jobs if j not in by_code)]


def _window_start(query: Query, values: dict[str, str]) -> date | None:
    token = query.by_code.window if query.by_code else None
    try:
        return date.fromisoformat(values[token]) if token else None
    except (KeyError, ValueError):
        return None


def _mine(query: Query, resources: list[dict]) -> list[dict]:
    codes = set(query.by_code.codes)
    return [r for r in resources if search_codes(r) & codes]


def found(query: Query, resources: list[dict], values: dict[str, str],
          classify: Callable[[dict], str | None] | None = None) -> bool:
    """Whether `resources` hold a result of this by-code search within its window (by its codes, or
    recognised as one of its analytes by `classify(Observation.code)`)."""
    return _found_in(query, _read_once(resources, classify), values)


def _read_once(resources: list[dict], classify: Callable[[dict], str | None] | None) -> list[tuple]:
    """Per resource what `found` matches on: (its code tokens, its analyte by `classify` or None, its date)."""
    return [(search_codes(r), classify(r.get("code")) if classify is not None and isinstance(r, dict) else None,
             effective_date(r)) for r in resources]


def _found_in(query: Query, read: list[tuple], values: dict[str, str]) -> bool:
    start = _window_start(query, values)
    codes, analytes = set(query.by_code.codes), query.by_code.analytes
    return any((tokens & codes or (analyte is not None and analyte in analytes))
               and (start is None or (when or date.min) >= start) for tokens, analyte, when in read)


def split(job: Job, resources: list[dict], gaps: list[str], cut: bool, failed: bool,
          values: dict[str, str]) -> tuple[list[tuple[Job, list[dict]]], list[Job], list[dict]]:
    """A combined search's answer -> (the parts it answered, each with its results; the parts to search on
    their own; results that match no part's codes, e.g. from a server that ignored `code`)."""
    if failed or gaps or (cut and not newest_first(resources)):
        return [], list(job.parts), []
    cutoff = min((effective_date(r) for r in resources), default=None) if cut else None
    answered, alone, matched = [], [], set()
    for part in job.parts:
        mine = _mine(part.query, resources)
        matched.update(id(r) for r in mine)
        start = _window_start(part.query, values)
        if cutoff is None or (start is not None and start > cutoff):
            answered.append((part, mine))
        elif part.query.by_code.every:
            alone.append(part)
        elif sum(1 for r in mine if effective_date(r) > cutoff) >= LATEST_FEW:
            answered.append((part, mine))
        else:
            alone.append(part)
    return answered, alone, [r for r in resources if id(r) not in matched]


def absent_by_code(queries: tuple[Query, ...], resources: list[dict] | None, values: dict[str, str],
                   classify: Callable[[dict], str | None] | None = None) -> list[Query]:
    """The by-code searches of `queries` with no result within their window among `resources` (a prefetch).
    Each resource is read once for all the searches (a full prefetch holds every lab: reading it again per
    analyte was a fifth of an order-sign's time)."""
    wanted = [q for q in queries if q.by_code is not None]
    read = _read_once(resources or [], classify) if wanted else []
    return [q for q in wanted if not _found_in(q, read, values)]


def without_duplicates(resources: list[dict]) -> list[dict]:
    """`resources` without exact copies of a resource already in it (a server that ignored `code` answers the
    combined search and an analyte's own search with the same results). A copy that differs is kept."""
    kept: dict[tuple[str, str], list[dict]] = {}
    out = []
    for r in resources:
        key = (r.get("resourceType"), r.get("id")) if isinstance(r, dict) else None
        if key is not None and all(isinstance(k, str) for k in key):
            if r in kept.get(key, ()):
                continue
            kept.setdefault(key, []).append(r)
        out.append(r)
    return out
