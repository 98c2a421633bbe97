"""A small FHIR REST reader for the fallback path: bearer token, timeouts, paging, bounded size."""

from __future__ import annotations

import os
from functools import cached_property
from urllib.parse import urljoin

import requests
from requests.utils import get_environ_proxies

from .jsonio import loads


class FhirError(Exception):
    """The FHIR server could not give a usable answer (message is safe to show: no token)."""


class FhirClient:
    def __init__(self, base_url: str, token: str | None, timeout: float, max_pages: int, max_entries: int):
        self.base = base_url.rstrip("/") + "/"
        self.timeout = timeout
        self.max_pages = max_pages
        self.max_entries = max_entries
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
        url = urljoin(self.base, relative.lstrip("/"))
        if not url.startswith(self.base):
            raise FhirError("link leaves the FHIR server; not followed")
        resources: list[dict] = []
        for _ in range(self.max_pages):
            body = self._get_json(session, url)
            if body.get("resourceType") != "Bundle":
                return [body]
            resources.extend(bundle_resources(body))
            if len(resources) > self.max_entries:
                raise FhirError(f"more than {self.max_entries} resources for {relative}: too large to read safely")
            url = next_link(body)
            if url is None:
                return resources
            if not url.startswith(self.base):
                # Never send the token elsewhere; an incomplete list is not a complete one.
                raise FhirError(f"next link for {relative} leaves the FHIR server")
        raise FhirError(f"more than {self.max_pages} pages for {relative}")

    def _get_json(self, session: requests.Session, url: str) -> dict:
        try:
            response = session.get(url, headers=self.headers, timeout=self.timeout)
        except requests.Timeout:
            raise FhirError(f"FHIR server timed out after {self.timeout:g} s") from None
        except requests.RequestException as err:
            raise FhirError(f"FHIR server unreachable ({type(err).__name__})") from None
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
