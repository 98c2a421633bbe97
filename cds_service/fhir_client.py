"""A small FHIR REST reader for the fallback path: bearer token, timeouts, paging, bounded size.

The token goes only where the base URL allows: redirects are never followed, and a Bundle `next` link is
followed only when, after percent-decoding and removing `.`/`..` segments, it stays on the same scheme, host
and port and under the base path. One client serves one hook call and makes at most `max_requests` GETs.
"""

from __future__ import annotations

import os
import threading
from functools import cached_property
from urllib.parse import unquote, urljoin, urlsplit, urlunsplit

import requests
from requests.utils import get_environ_proxies

from .jsonio import loads


class FhirError(Exception):
    """The FHIR server could not give a usable answer (message is safe to show: no token)."""


class FhirClient:
    def __init__(self, base_url: str, token: str | None, timeout: float, max_pages: int, max_entries: int,
                 max_requests: int = 50):
        self.base = base_url.rstrip("/") + "/"
        self.timeout = timeout
        self.max_pages = max_pages
        self.max_entries = max_entries
        self.requests_left = max_requests  # for the whole hook call, across the parallel queries
        self._count_lock = threading.Lock()
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

    def get(self, relative: str) -> list[dict]:
        """Resources answering a read or search, following Bundle `next` links on the same server."""
        session = self._session()
        url = self.within_base(urljoin(self.base, relative.lstrip("/")))
        if url is None:
            raise FhirError("link leaves the FHIR server; not followed")
        resources: list[dict] = []
        for _ in range(self.max_pages):
            body = self._get_json(session, url)
            if body.get("resourceType") != "Bundle":
                return [body]
            resources.extend(bundle_resources(body))
            if len(resources) > self.max_entries:
                raise FhirError(f"more than {self.max_entries} resources for {relative}: too large to read safely")
            link = next_link(body)
            if link is None:
                return resources
            url = self.within_base(link)
            if url is None:
                # Never send the token elsewhere; an incomplete list is not a complete one.
                raise FhirError(f"next link for {relative} leaves the FHIR server")
        raise FhirError(f"more than {self.max_pages} pages for {relative}")

    def within_base(self, url: str) -> str | None:
        """`url` with its dot segments removed when it stays under the base URL (see the module doc), else None."""
        return within_base(self.base, url)

    def _take_request(self) -> None:
        with self._count_lock:
            if self.requests_left <= 0:
                raise FhirError("the limit of FHIR requests for one call was reached; not read completely")
            self.requests_left -= 1

    def _get_json(self, session: requests.Session, url: str) -> dict:
        self._take_request()
        try:
            # A redirect is an answer like any other non-200: the token never follows it anywhere.
            response = session.get(url, headers=self.headers, timeout=self.timeout, allow_redirects=False)
        except requests.Timeout:
            raise FhirError(f"FHIR server timed out after {self.timeout:g} s") from None
        except requests.RequestException as err:
            raise FhirError(f"FHIR server unreachable ({type(err).__name__})") from None
        if response.is_redirect:
            raise FhirError(f"FHIR server answered HTTP {response.status_code} (a redirect; not followed)")
        if response.status_code != 200:
            raise FhirError(f"FHIR server answered HTTP {response.status_code}")
        try:
            body = loads(response.content)
        except ValueError:
            raise FhirError("FHIR server answered with invalid JSON") from None
        if not isinstance(body, dict) or not isinstance(body.get("resourceType"), str):
            raise FhirError("FHIR server answered with something that is not a FHIR resource")
        if body["resourceType"] == "OperationOutcome":
            raise FhirError("FHIR server answered with an OperationOutcome: " + outcome_text(body))
        return body


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


def bundle_resources(bundle: dict) -> list[dict]:
    """Entries' resources; search-mode 'outcome' entries (warnings) are left out. Lenient on Bundle.type."""
    out = []
    for entry in as_list(bundle.get("entry")):
        resource = entry.get("resource") if type(entry) is dict else None
        if type(resource) is not dict:
            continue
        search = entry.get("search")
        if type(search) is dict and search.get("mode") == "outcome":
            continue
        out.append(resource)
    return out


def next_link(bundle: dict) -> str | None:
    for link in as_list(bundle.get("link")):
        if isinstance(link, dict) and link.get("relation") == "next" and isinstance(link.get("url"), str):
            return link["url"]
    return None


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
