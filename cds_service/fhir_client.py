"""A small FHIR REST reader for the fallback path: bearer token, timeouts, paging, bounded size.

The token goes only where the base URL allows: redirects are never followed, and a Bundle `next` link is
followed only when, after percent-decoding and removing `.`/`..` segments, it stays on the same scheme, host
and port and under the base path. One client serves one hook call and makes at most `max_requests` GETs.
It stops at the call's deadline (no request starts after it, and a body still arriving is abandoned), and
reads at most `max_response_bytes` of each answer after decompression (a small gzip body can expand to
gigabytes).

A FHIR batch (fhir_batch.py, CDS_FHIR_BATCH) is POSTed through `post`; each entry's answer is then read here
exactly as the answer to its own GET would be (`first`: same completeness checks, paging on the same server,
limits and deadline).
"""

from __future__ import annotations

import logging
import os
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import cached_property
from urllib.parse import parse_qs, unquote, urljoin, urlsplit, urlunsplit

import requests
from requests.utils import get_environ_proxies
from urllib3.exceptions import ReadTimeoutError

from .jsonio import dumps_bytes, loads

LOG = logging.getLogger(__name__)


class FhirError(Exception):
    """The FHIR server could not give a usable answer (message is safe to show: no token). `status`: the HTTP
    status it answered, when that was the problem."""

    def __init__(self, message: str = "", status: int | None = None):
        super().__init__(message)
        self.status = status


class Refused(FhirError):
    """The server answered this query with a client error (HTTP 4xx other than 401/403, or an OperationOutcome):
    it may not support its form (too many values, a parameter), so another form of it may be answered."""


class RequestLimit(FhirError):
    """The call's limit of FHIR requests left too few for this one: it was not sent (and nothing was counted)."""


@dataclass
class Read:
    """What one read or search returned, and why that answer may not be the whole record (`gaps`:
    truncation signals, unreadable entries, limits reached). No gaps: the source was read completely."""

    resources: list[dict]
    gaps: list[str] = field(default_factory=list)
    refused: bool = False  # nothing read: the server refused the query (fhir_client.Refused)


_CHUNK = 16384  # bytes read from the socket at a time: a gzip chunk this size expands to at most ~16 MiB


class FhirClient:
    def __init__(self, base_url: str, token: str | None, timeout: float, max_pages: int, max_entries: int,
                 max_requests: int = 50, deadline: float | None = None, max_response_bytes: int = 32 << 20):
        self.base = base_url.rstrip("/") + "/"
        self.timeout = timeout
        self.max_pages = max_pages
        self.max_entries = max_entries
        self.requests_left = max_requests  # for the whole hook call, across the parallel queries
        self._count_lock = threading.Lock()
        self.deadline = deadline  # time.monotonic() value after which nothing more is read
        self.max_response_bytes = max_response_bytes
        self.headers = {"Accept": "application/fhir+json"}
        if token:
            self.headers["Authorization"] = f"Bearer {token}"

    # The environment's proxy and CA settings, read once per call (and only when a query is made) rather
    # than on every query: requests scans the whole environment each time, ~1 ms of CPU per query,
    # serialised across parallel queries by the GIL. ~/.netrc is deliberately not consulted: it would
    # replace the bearer token.
    @cached_property
    def proxies(self) -> dict:
        return get_environ_proxies(self.base)

    @cached_property
    def verify(self) -> str | bool:
        return os.environ.get("REQUESTS_CA_BUNDLE") or os.environ.get("CURL_CA_BUNDLE") or True

    def _session(self) -> requests.Session:
        session = requests.Session()  # one per query: Session is not documented as thread-safe
        session.trust_env = False
        session.proxies.update(self.proxies)
        session.verify = self.verify
        return session

    def get(self, relative: str, already: int = 0, newest_first: Callable[[list[dict]], bool] | None = None,
            one_page: bool = False, first: dict | None = None) -> Read:
        """Resources answering a read or search, following Bundle `next` links on the same server.
        `already`: search matches received before this URL (a prefetch page being continued), so that
        Bundle.total is compared with everything received. A limit reached keeps what was read and says so.

        With `newest_first` (a search sorted `_sort=-date` where only the latest results matter), paging stops
        after a page when the server says it applied that sort (its self link) and `newest_first(page)` agrees:
        the rest is older, not a gap. A server that ignored the sort is read to the end, so an older page never
        hides a newer result.

        With `one_page`, only the first page is read: a `next` link makes the answer incomplete (a gap).
        `first`: the answer to `relative` already received (an entry of a batch), read as if just fetched."""
        session = None
        url = None if first is not None else self.within_base(urljoin(self.base, relative.lstrip("/")))
        if url is None and first is None:
            raise FhirError("link leaves the FHIR server; not followed")
        read = Read([])
        matches = already
        for _ in range(self.max_pages):
            if first is not None:
                body, first = first, None
            else:
                session = session or self._session()
                body = self._request_json(session, url)
            if body.get("resourceType") != "Bundle":
                read.resources.append(body)
                return read
            page = read_page(body)
            read.resources.extend(page.resources)
            read.gaps.extend(page.gaps)
            matches += page.matches
            if len(read.resources) > self.max_entries:
                read.gaps.append(f"more than {self.max_entries} resources: the rest was not read")
                return read
            if page.next is None:
                gap = truncation(page.total, matches)  # dropped results could be anywhere, even the newest
                read.gaps.extend([gap] if gap else [])
                return read
            if newest_first is not None and _sorted_newest_first(body) and newest_first(page.resources):
                return read  # the rest is older than what the rules read
            if one_page:
                read.gaps.append("more results on a next page, not read (one page asked for)")
                return read
            url = self.within_base(page.next)
            if url is None:
                # Never send the token elsewhere; an incomplete list is not a complete one.
                read.gaps.append("next link leaves the FHIR server: the rest was not read")
                return read
        read.gaps.append(f"more than {self.max_pages} pages: the rest was not read")
        return read

    def within_base(self, url: str) -> str | None:
        """`url` with its dot segments removed when it stays under the base URL (see the module doc), else None."""
        return within_base(self.base, url)

    def post(self, payload: dict, requests_taken: int) -> dict:
        """POST `payload` (a FHIR batch) to the base: the FHIR resource answered (errors as for a GET). It counts
        as `requests_taken` requests against the call's limit (a batch entry is one search for the server)."""
        return self._request_json(self._session(), self.base.rstrip("/"), dumps_bytes(payload), requests_taken)

    def give_back(self, count: int) -> None:
        """Requests taken that the server was never asked as such (the entries of a batch it did not answer as a
        batch: one POST; its searches are then sent, and counted, one by one)."""
        with self._count_lock:
            self.requests_left += count

    def _take_request(self, count: int = 1) -> None:
        with self._count_lock:
            if self.requests_left < count:
                raise RequestLimit("the limit of FHIR requests for one call was reached; not read completely")
            self.requests_left -= count

    def _remaining(self) -> float:
        """Seconds this request may take: the read timeout, cut short by the call's deadline."""
        if self.deadline is None:
            return self.timeout
        left = self.deadline - time.monotonic()
        if left <= 0:
            raise FhirError("the deadline for gathering data passed; not read")
        return min(self.timeout, left)

    def _request_json(self, session: requests.Session, url: str, payload: bytes | None = None,
                      requests_taken: int = 1) -> dict:
        """GET `url`, or POST `payload` (a FHIR batch) to it: the FHIR resource answered."""
        self._take_request(requests_taken)
        timeout = self._remaining()
        try:
            # A redirect is an answer like any other non-200: the token never follows it anywhere.
            if payload is None:
                response = session.get(url, headers=self.headers, timeout=timeout, allow_redirects=False,
                                       stream=True)
            else:
                response = session.post(url, data=payload, headers={
                    **self.headers, "Content-Type": "application/fhir+json"}, timeout=timeout,
                    allow_redirects=False, stream=True)
            try:
                status = response.status_code
                if response.is_redirect:
                    raise FhirError(f"FHIR server answered HTTP {status} (a redirect; not followed)", status)
                if status != 200:
                    refused = 400 <= status < 500 and status not in (401, 403)
                    raise (Refused if refused else FhirError)(f"FHIR server answered HTTP {status}", status)
                content = self._read_body(response)
            finally:
                response.close()
        except requests.Timeout:
            raise FhirError(f"FHIR server timed out after {timeout:g} s") from None
        except requests.RequestException as err:
            # The card says it in plain words; the exception's class is for the operator's log.
            LOG.warning("FHIR request failed: %s", type(err).__name__)
            what = "connection failed" if isinstance(err, requests.ConnectionError) else "request failed"
            raise FhirError(f"the EHR's FHIR server could not be reached ({what})") from None
        try:
            body = loads(content)
        except ValueError:
            raise FhirError("FHIR server answered with invalid JSON") from None
        if not isinstance(body, dict) or not isinstance(body.get("resourceType"), str):
            raise FhirError("FHIR server answered with something that is not a FHIR resource")
        if body["resourceType"] == "OperationOutcome":
            raise Refused("FHIR server answered with an OperationOutcome: " + outcome_text(body))
        return body

    def _read_body(self, response: requests.Response) -> bytes:
        """The decompressed body, read a chunk at a time so that neither a slow trickle (each chunk resets
        the socket timeout) outlives the deadline nor an expanding body outgrows the size limit."""
        limit = self.max_response_bytes
        declared = response.headers.get("Content-Length", "")
        if declared.isdigit() and int(declared) > limit:
            raise FhirError(f"FHIR response larger than {limit} bytes; not read")
        chunks, size = [], 0
        raw = response.raw
        while True:
            try:
                chunk = raw.read1(_CHUNK, decode_content=True)
            except ReadTimeoutError:
                raise FhirError("FHIR server timed out while sending its answer") from None
            except Exception as err:  # noqa: BLE001 - urllib3's decode/protocol errors: the answer is unusable
                raise FhirError(f"FHIR response could not be read ({type(err).__name__})") from None
            if not chunk:
                return b"".join(chunks)
            size += len(chunk)
            if size > limit:
                raise FhirError(f"FHIR response larger than {limit} bytes after decompression; not read")
            chunks.append(chunk)
            if self.deadline is not None and time.monotonic() > self.deadline:
                raise FhirError("the deadline for gathering data passed while the answer was arriving; not read")


def _sorted_newest_first(bundle: dict) -> bool:
    """The server's self link says it applied `_sort=-date` (FHIR search: the self link carries the parameters
    the server actually used)."""
    link = bundle_link(bundle, "self")
    if link is None:
        return False
    sort = parse_qs(urlsplit(link).query).get("_sort", [""])[0]
    return sort.split(",")[0].strip() == "-date"


def within_base(base: str, url: str) -> str | None:
    """`url` with dot segments removed, or None when it leaves `base` (which ends with "/"): another scheme,
    host, port or user info, or a path outside the base path either as written or once percent-decoded (a
    server may decode `%2e%2e` and `%2f` before resolving)."""
    want, got = urlsplit(base), urlsplit(url)
    try:
        same_origin = (got.scheme.lower(), got.hostname, _port(got)) == (want.scheme.lower(), want.hostname,
                                                                       _port(want))
    except ValueError:  # an invalid port
        return None
    if not same_origin or got.username is not None or got.password is not None:
        return None
    path = remove_dot_segments(got.path)
    decoded = remove_dot_segments(unquote(got.path).replace("\\", "/"))
    if not (path.startswith(want.path) and decoded.startswith(want.path)):
        return None
    return urlunsplit((got.scheme, got.netloc, path, got.query, ""))


def canonical_base(url: str) -> str | None:
    """A FHIR base URL in one spelling for comparison with an allowlist (scheme and host lower case, default
    port left out, dot segments removed, no trailing slash), or None when it is no plain http(s) URL."""
    try:
        parts = urlsplit(url.strip())
        port = parts.port
    except ValueError:
        return None
    scheme = parts.scheme.lower()
    if scheme not in ("http", "https") or not parts.hostname or parts.username is not None \
            or parts.password is not None or parts.query or parts.fragment:
        return None
    host = parts.hostname if ":" not in parts.hostname else f"[{parts.hostname}]"
    netloc = host if port in (None, {"https": 443, "http": 80}[scheme]) else f"{host}:{port}"
    decoded = unquote(parts.path or "/")
    if "\\" in decoded:
        return None
    return f"{scheme}://{netloc}{remove_dot_segments(decoded).rstrip('/')}"


def _port(parts) -> int | None:
    return parts.port or {"https": 443, "http": 80}.get(parts.scheme.lower())


def remove_dot_segments(path: str) -> str:
    """RFC 3986 section 5.2.4: `/a/b/../c/./d` -> `/a/c/d`; never above the root."""
    segments = path.split("/")
    out: list[str] = []
    for segment in segments:
        if segment == "..":
            if len(out) > 1:
                out.pop()
        elif segment != ".":
            out.append(segment)
    if segments[-1] in (".", ".."):
        out.append("")  # "/a/b/.." names the directory "/a/"
    return "/".join(out) if out != [""] else "/"


@dataclass
class Page:
    """One searchset Bundle as read: its resources, how many were search matches, and its gaps."""

    resources: list[dict]
    matches: int
    gaps: list[str]
    total: int | None
    next: str | None


def read_page(bundle: dict) -> Page:
    """Entries' resources. Anything that makes this page less than the whole answer is a gap: an `entry`
    that is not an array, an entry without a resource, an OperationOutcome entry (search.mode `outcome`)
    above severity `information` (servers use it to say results were cut). Lenient on Bundle.type."""
    resources, gaps, matches = [], [], 0
    entries = bundle.get("entry")
    if entries is not None and type(entries) is not list:
        gaps.append("Bundle.entry is not an array: no entry could be read")
    for position, entry in enumerate(as_list(entries)):
        resource = entry.get("resource") if type(entry) is dict else None
        search = entry.get("search") if type(entry) is dict else None
        mode = search.get("mode") if type(search) is dict else None
        if type(resource) is not dict:
            gaps.append(f"Bundle entry {position} holds no resource")
            continue
        if mode == "outcome" or resource.get("resourceType") == "OperationOutcome":
            severities = {i.get("severity") for i in as_list(resource.get("issue")) if isinstance(i, dict)}
            if severities - {"information"}:
                gaps.append("the server reported: " + outcome_text(resource))
            continue
        if mode != "include":
            matches += 1
        resources.append(resource)
    total = bundle.get("total")
    total = total if type(total) is int else None
    return Page(resources, matches, gaps, total, next_link(bundle))


def truncation(total: int | None, matches: int) -> str | None:
    """Bundle.total counts every match; fewer received with no `next` link means results were dropped."""
    if total is not None and total > matches:
        return f"the server counted {total} results but sent {matches}, with no link to the rest"
    return None


def bundle_link(bundle: dict, relation: str) -> str | None:
    """The URL of the Bundle's first link of `relation` ("self", "next"), or None."""
    for link in as_list(bundle.get("link")):
        if isinstance(link, dict) and link.get("relation") == relation and isinstance(link.get("url"), str):
            return link["url"]
    return None


def next_link(bundle: dict) -> str | None:
    return bundle_link(bundle, "next")


def outcome_text(outcome: dict) -> str:
    texts = []
    for issue in as_list(outcome.get("issue")):
        if isinstance(issue, dict):
            texts.append(str(issue.get("diagnostics") or (issue.get("details") or {}).get("text")
                             or issue.get("code") or "error"))
    return "; ".join(texts)[:300] or "no detail"


def as_list(value) -> list:
    """A JSON array, or nothing: messy data never breaks iteration."""
    return value if isinstance(value, list) else []
