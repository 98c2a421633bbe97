"""FHIR batch (CDS_FHIR_BATCH): the searches of a call that start together sent as ONE `POST [base]` Bundle of type
batch of GETs, and what the service remembers about each FHIR server between calls.

Modes: `auto` (the default) tries the batch; a server that refuses it (an HTTP client error, 501, an
OperationOutcome, anything but a batch-response with one entry per request) gets the searches one by one, and
that refusal is remembered for the server's base URL (ServerMemory, bounded and expiring) so that its next calls
go straight to GETs. `true` always tries the batch (a refusal is not remembered), `false` never does.

An entry that failed (any status but 200, an OperationOutcome, no status) is sent again as its own GET, whose
answer then counts as it would without the batch: a server may refuse a search inside a batch that it answers on
its own ("not supported in batch"), and the batch must never leave a source unread that the GETs would have read.
The one exception is 401: the GET would carry the same refused token.
"""

from __future__ import annotations

import logging
import re
import threading
import time
from collections import OrderedDict
from collections.abc import Callable
from urllib.parse import parse_qs, urlsplit

from .fhir_client import (
    FhirClient,
    FhirError,
    Refused,
    RequestLimit,
    as_list,
    bundle_link,
    next_link,
    outcome_text,
    read_page,
    truncation,
)

LOG = logging.getLogger("cds_service.data_access")  # as before this moved here

MODES = {"auto": "auto", "true": "always", "false": "never"}
_WORDS = {"1": "true", "yes": "true", "on": "true", "0": "false", "no": "false", "off": "false"}


def batch_mode(value) -> str:
    """CDS_FHIR_BATCH as "auto", "always" or "never" (a bool as set by create_app(config) means true/false)."""
    if isinstance(value, bool):
        return "always" if value else "never"
    word = str(value).strip().lower()
    mode = MODES.get(_WORDS.get(word, word))
    if mode is None:
        raise ValueError(f"CDS_FHIR_BATCH must be auto, true or false, not {value!r}")
    return mode


class BatchRefused(FhirError):
    """The server answered the batch, but not as a batch-response: it does not take batches (remembered in auto)."""


# Statuses that say nothing about batch support: a timeout or rate limit (408, 429) passes, 401/403 concern the
# token; 5xx other than 501 (Not Implemented) may be an outage. Only a refusal is remembered.
_PASSING = frozenset({401, 403, 408, 429})


def refuses_batches(err: FhirError) -> bool:
    """Whether the answer `err` to a batch POST says that this server does not take batches."""
    if isinstance(err, BatchRefused):
        return True
    if isinstance(err, Refused):  # 4xx other than 401/403, or an OperationOutcome (status None)
        return err.status not in _PASSING
    return err.status == 501


class ServerMemory:
    """Per FHIR server base URL, what a call learned that the next calls use: whether it refused a batch. No
    record data is kept between calls (a Location remembered across calls kept deciding the site of care after the
    server's Location changed, review 2026-11-24d S3). A refusal expires after `ttl` seconds; at most `size`
    servers are kept (the oldest forgotten first). Shared by the threads of a worker; one per app."""

    def __init__(self, ttl: float = 600.0, size: int = 256, clock: Callable[[], float] = time.monotonic):
        self.ttl, self.size, self.clock = ttl, size, clock
        self._lock = threading.Lock()
        self._refused: OrderedDict[str, float] = OrderedDict()  # base URL -> when the refusal expires

    def batch_refused(self, base: str) -> bool:
        with self._lock:
            expires = self._refused.get(base)
            if expires is not None and self.clock() >= expires:
                del self._refused[base]
                return False
            return expires is not None

    def remember_batch_refused(self, base: str) -> None:
        with self._lock:
            self._refused[base] = self.clock() + self.ttl
            self._refused.move_to_end(base)
            while len(self._refused) > self.size:
                self._refused.popitem(last=False)


def batch_payload(relatives: list[str]) -> dict:
    """A batch Bundle of GETs. Bare ids in `patient=`/`practitioner=` are written as typed references
    (`Patient/<id>`, the same search in FHIR R4): some servers expand the bare form only in a URL's own query
    string."""
    return {"resourceType": "Bundle", "type": "batch", "entry": [
        {"request": {"method": "GET", "url": _typed_references(r.lstrip("/"))}} for r in relatives]}


_BARE_REFERENCE = re.compile(r"([?&])(patient|practitioner)=([A-Za-z0-9\-.]{1,64})(?=&|$)")


def _typed_references(relative: str) -> str:
    return _BARE_REFERENCE.sub(lambda m: f"{m[1]}{m[2]}={m[2].capitalize()}/{m[3]}", relative)


def batch_entry(entry) -> dict | FhirError:
    """One batch-response entry as its own GET would have been answered (FHIR R4 Bundle.entry.response)."""
    response = entry.get("response") if type(entry) is dict else None
    status = response.get("status") if type(response) is dict else None
    code = status.split(" ", 1)[0] if isinstance(status, str) else ""
    resource = entry.get("resource") if type(entry) is dict else None
    if not code.isdigit():
        return FhirError("FHIR batch entry without a response status")
    if code != "200":
        outcome = response.get("outcome")
        detail = ": " + outcome_text(outcome) if isinstance(outcome, dict) else ""
        refused = code.startswith("4") and code not in ("401", "403")
        return (Refused if refused else FhirError)(f"FHIR server answered HTTP {code} (in a batch){detail}",
                                                   int(code))
    if type(resource) is not dict or not isinstance(resource.get("resourceType"), str):
        return FhirError("FHIR server answered with something that is not a FHIR resource")
    if resource["resourceType"] == "OperationOutcome":
        return Refused("FHIR server answered with an OperationOutcome: " + outcome_text(resource))
    outcome = response.get("outcome")
    if _warns(outcome):  # "hints and warnings" about this entry (R4 Bundle.entry.response.outcome), e.g. results cut
        if resource["resourceType"] != "Bundle":  # a read has nowhere to carry it: its own GET is asked instead
            return FhirError("FHIR server warned about a batch entry: " + outcome_text(outcome))
        # Read as the GET route reads the same warning inside the searchset: a gap of that search (read_page).
        entries = resource.get("entry") if type(resource.get("entry")) is list else []
        resource = {**resource, "entry": [*entries, {"resource": outcome, "search": {"mode": "outcome"}}]}
    return resource


def _warns(outcome) -> bool:
    return type(outcome) is dict and any(isinstance(i, dict) and i.get("severity") != "information"
                                         for i in as_list(outcome.get("issue")))


def worth_a_get(answer: dict | FhirError) -> bool:
    """Whether a failed batch entry is sent again as its own GET (module doc): any failure but a refused token."""
    return isinstance(answer, FhirError) and answer.status != 401


def send(client: FhirClient, relatives: list[str]) -> list[dict | FhirError]:
    """The answers to `relatives` (reads or searches relative to the base) from ONE FHIR batch: per request the
    resource its GET would have returned, or the FhirError it would have raised. Raises BatchRefused when the
    server answered but not as a batch (`refuses_batches`), FhirError when it could not be asked (unreachable,
    an outage, a limit or the deadline): either way the caller sends the requests one by one. Each entry counts
    as one request against the call's limit."""
    try:
        body = client.post(batch_payload(relatives), len(relatives))
    except FhirError as err:
        if not isinstance(err, RequestLimit):  # taken, then the POST failed: it counts as one request
            client.give_back(len(relatives) - 1)
        if refuses_batches(err):
            raise BatchRefused(f"the FHIR server refused a batch ({err})", err.status) from None
        raise
    entries = body.get("entry")
    if body.get("type") != "batch-response" or type(entries) is not list or len(entries) != len(relatives):
        client.give_back(len(relatives) - 1)
        raise BatchRefused(f"the FHIR server answered a batch with no batch-response of {len(relatives)} entries")
    try:
        return placed(relatives, [batch_entry(entry) for entry in entries])
    except BatchRefused:
        client.give_back(len(relatives) - 1)  # as for any batch not answered as one: its searches go one by one
        raise


# Review 2026-11-24d S1: FHIR R4 requires a batch-response in request order, but an entry is used only once it is
# shown to answer ITS request: a server that reorders entries must never file one search's answer, failure or
# truncation under another (an empty Condition answer in place of a failed one: "no infection recorded").
PROVEN, UNPROVEN, MISPLACED = "proven", "unproven", "misplaced"
_UNPLACED = "a FHIR batch entry that could not be shown to answer this request; sent as its own GET"


def placed(relatives: list[str], answers: list[dict | FhirError]) -> list[dict | FhirError]:
    """`answers` (in request order) with each entry checked against its request (`belongs`). One entry shown to
    answer another request: the batch's order cannot be trusted, BatchRefused (every search sent as its own GET).
    Entries that carry no proof (a searchset with no self or next link, as Medplum 4.5.2 answers; a failed entry)
    are interchangeable only when all of them are complete and alike: when one of them failed or is incomplete,
    each of them is asked again as its own GET, so a failure or a truncation is never read as another search's
    (and the failed search is always re-sent as itself)."""
    verdicts = [belongs(relative, answer) for relative, answer in zip(relatives, answers, strict=True)]
    if MISPLACED in verdicts:
        raise BatchRefused("the FHIR server's batch-response entries do not answer the requests in order")
    loose = [i for i, verdict in enumerate(verdicts) if verdict == UNPROVEN]
    if any(isinstance(answers[i], FhirError) or not _complete(answers[i]) for i in loose):
        # A failed entry keeps its own error (sent again as a GET, worth_a_get); an answer with no proof is not read.
        answers = [FhirError(_UNPLACED) if i in loose and isinstance(answers[i], dict) else answers[i]
                   for i in range(len(answers))]
    return answers


def _complete(answer: dict) -> bool:
    """A searchset read entirely from this entry: no gap, no truncation, no further page."""
    if answer.get("resourceType") != "Bundle":
        return True
    page = read_page(answer)
    return not page.gaps and page.next is None and truncation(page.total, page.matches) is None


def belongs(relative: str, answer: dict | FhirError) -> str:
    """Whether `answer` is shown to answer `relative` (PROVEN), shown to answer something else (MISPLACED), or
    neither (UNPROVEN: a failure, or a searchset with no link naming its search and no match to check).
    A read: the resource of that type and id. A search: a Bundle whose self (else next) link names the same
    resource type and no other value of a parameter both carry, nor a search parameter the request lacks (a
    parameter the server ignored is left out of its link, as it would be for the GET); with no link, every match
    entry of the searched type (or of a type it `_include`s) proves nothing about an empty answer."""
    if isinstance(answer, FhirError):
        return UNPROVEN
    path, _, query = relative.lstrip("/").partition("?")
    rtype, _, rid = path.partition("/")
    if rid:
        same = answer.get("resourceType") == rtype and answer.get("id") == rid
        return PROVEN if same else MISPLACED
    if answer.get("resourceType") != "Bundle":
        return MISPLACED
    link = bundle_link(answer, "self") or next_link(answer)
    if link is not None:
        return PROVEN if _same_search(rtype, _parameters(query), link) else MISPLACED
    allowed = {rtype, *_included_types(query)}
    matches = [e.get("resource") for e in as_list(answer.get("entry")) if type(e) is dict and not (
        type(e.get("search")) is dict and e["search"].get("mode") in ("include", "outcome"))]
    types = {r.get("resourceType") for r in matches if type(r) is dict} - {"OperationOutcome"}
    if types - allowed:
        return MISPLACED
    return UNPROVEN


_PAGING = frozenset({"_count", "_offset", "_page", "_getpages", "_getpagesoffset", "_pretty", "_format", "_total",
                     "_bundletype", "_sort", "_elements", "_summary", "page", "__page", "_cursor", "ct"})


def _parameters(query: str) -> dict[str, frozenset[str]]:
    """Search parameters as name -> values (a comma list as a set; bare `patient=`/`subject=`/`practitioner=` ids
    as typed references, as FHIR R4 reads them)."""
    params: dict[str, set[str]] = {}
    for name, values in parse_qs(query, keep_blank_values=True).items():
        base = name.split(":", 1)[0]
        for value in values:
            for one in value.split(","):
                one = one.strip()
                if base in ("patient", "subject", "practitioner", "beneficiary") and "/" not in one and one:
                    one = ("Practitioner/" if base == "practitioner" else "Patient/") + one
                params.setdefault(name, set()).add(one)
    return {name: frozenset(values) for name, values in params.items()}


def _same_search(rtype: str, asked: dict[str, frozenset[str]], link: str) -> bool:
    parts = urlsplit(link)
    if parts.path.rstrip("/").removesuffix("/_search").rsplit("/", 1)[-1] != rtype:
        return False
    echoed = _parameters(parts.query)
    for name, values in echoed.items():
        if name in _PAGING:
            continue
        if name not in asked or asked[name] != values:
            return False
    return True


def _included_types(query: str) -> set[str]:
    """The types a search's `_include`/`_revinclude` may add (`Type:param[:Target]`: Target, else the
    parameter's name as a type, `location` -> Location)."""
    types = set()
    for name, values in parse_qs(query).items():
        if name.split(":", 1)[0] in ("_include", "_revinclude"):
            for value in values:
                parts = value.split(":")
                types.add(parts[2] if len(parts) > 2 else parts[-1][:1].upper() + parts[-1][1:])
                types.add(parts[0])
    return types


def send_batch(client: FhirClient, urls: list[str], memory: ServerMemory | None) -> list[dict | FhirError] | None:
    """The batch's answers (for data_access), or None: its searches are then sent one by one. A server that refused
    the batch, or every search in it, is remembered in `memory` (auto mode) so that its next calls skip the batch."""
    try:
        answers = send(client, urls)
    except FhirError as err:
        if isinstance(err, BatchRefused) and memory is not None:
            memory.remember_batch_refused(client.base)
        LOG.info("FHIR batch not answered (%s); sending its requests one by one", err)
        return None
    except Exception as err:  # noqa: BLE001 - any failure of the batch: its searches are sent one by one
        LOG.warning("FHIR batch failed: %s", type(err).__name__)
        return None
    if memory is not None and all(isinstance(a, FhirError) and refuses_batches(a) for a in answers):
        memory.remember_batch_refused(client.base)
    return answers
