"""The searches of one hook call as jobs (for data_access.py): fewer round trips, never less evidence.

The Observation searches by code (queries.ByCode) that one call sends to the FHIR server go as ONE search
for all their codes (FHIR R4 search: a comma-separated token list is an OR), unsorted, one page
(queries.combined). Its answer stands for every analyte's own search only when that page is provably the
whole answer: no `next` link, no Bundle.total above what was read, no OperationOutcome entry, no entry
unreadable, no limit reached. Then it holds every result of every analyte, whatever their order, and each
analyte's newest result is found by date when translated (never by position). Otherwise an unsorted page
proves nothing about any analyte's latest results, so every analyte is searched on its own (its own query:
newest first, a few, windowed, with its own fallback), as it would be without the combined search; a long
history of one analyte never hides another's result. A server that sorts anyway changes nothing: order is
not read. A combined search the server refuses is likewise replaced by every analyte's own search.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date
from urllib.parse import quote

from .queries import ALTERNATIVE_TEMPLATES, Query, combined
from .translate.result_dates import effective_date, search_codes


@dataclass(frozen=True)
class Job:
    source: str
    url: str
    query: Query
    continued: int | None = None  # a prefetch page being continued: the search matches it held
    parts: tuple[Job, ...] = ()  # a combined search: the by-code searches it stands for
    optional: str | None = None  # a follow-up whose failure is reported with this prefix, the source stays read


@dataclass(frozen=True)
class Then:
    """Searches formed from one source's whole answer (follow_ups.py): data_access starts them as soon as source
    `after` is read (none of its searches pending, none failed), within the same gathering (its client, request
    limit, deadline, batch mode), each under a source name of its own. `plan(after's resources)` -> ({source:
    its searches}, data issues)."""
    after: str
    plan: Callable[[list[dict]], tuple[dict[str, tuple[Query, ...]], list]]


def leaves(job: Job) -> tuple[Job, ...]:
    """The searches `job` stands for: itself, or those of its parts (a combined search, a batch)."""
    return tuple(leaf for part in job.parts for leaf in leaves(part)) if job.parts else (job,)


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


def split(job: Job, resources: list[dict], gaps: list[str],
          failed: bool) -> tuple[list[tuple[Job, list[dict]]], list[Job], list[dict]]:
    """A combined search's answer -> (the parts it answered, each with its results; the parts to search on
    their own; results that match no part's codes, e.g. from a server that ignored `code`). Answered only
    when the answer is complete (`gaps` empty: see the module doc): then all of them, else none."""
    if failed or gaps:
        return [], list(job.parts), []
    answered, matched = [], set()
    read = [(r, search_codes(r)) for r in resources]  # once per resource, not once per part
    for part in job.parts:
        codes = set(part.query.by_code.codes)
        mine = [r for r, tokens in read if tokens & codes]
        matched.update(id(r) for r in mine)
        answered.append((part, mine))
    return answered, [], [r for r in resources if id(r) not in matched]


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


_TOKEN = re.compile(r"\{\{\s*([^}]+?)\s*\}\}")


def resolve(template: str, context: dict, extra: dict[str, str] | None = None) -> str | None:
    """Fill prefetch tokens from the hook context (and `extra` tokens such as the search windows),
    percent-encoded (an id never adds a path segment or a search parameter); None when a token has no value."""
    user = context.get("userId") if isinstance(context.get("userId"), str) else ""
    user_type, _, user_id = user.partition("/")
    values = {f"user{user_type}Id": user_id} if user_id else {}
    values.update(extra or {})

    def value(match):
        token = match.group(1)
        if token.startswith("context."):
            v = context.get(token[len("context."):])
            return v if isinstance(v, (str, int)) and not isinstance(v, bool) else None
        return values.get(token)

    missing = False

    def sub(match):
        nonlocal missing
        v = value(match)
        if v is None:
            missing = True
            return ""
        text = quote(str(v), safe="")
        return text.replace(".", "%2E") if text in (".", "..") else text  # never a dot segment

    filled = _TOKEN.sub(sub, template)
    return None if missing else filled


def jobs_for(name: str, queries: tuple[Query, ...], context: dict, values: dict[str, str]) -> list[Job]:
    """The jobs of source `name`: each search of `queries` whose tokens all have a value (only the first such of
    an ALTERNATIVE_TEMPLATES source)."""
    jobs = []
    for query in queries:
        url = resolve(query.template, context, values)
        if url is not None:
            jobs.append(Job(name, url, query))
            if name in ALTERNATIVE_TEMPLATES:
                break
    return jobs
