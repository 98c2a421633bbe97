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

import copy
import logging
import re
import threading
import time
from collections import OrderedDict
from collections.abc import Callable

from .fhir_client import FhirClient, FhirError, Refused, RequestLimit, outcome_text

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
    """Per FHIR server base URL, what a call learned that the next calls use: whether it refused a batch, and the
    Locations read from it (facility data, not a patient's, named by the encounters of many orders). Each fact
    expires after `ttl` seconds; at most `size` per kind are kept (the oldest forgotten first). Shared by the
    threads of a worker; one per app."""

    def __init__(self, ttl: float = 600.0, size: int = 256, clock: Callable[[], float] = time.monotonic):
        self.ttl, self.size, self.clock = ttl, size, clock
        self._lock = threading.Lock()
        self._facts: OrderedDict[tuple, tuple[float, object]] = OrderedDict()

    def batch_refused(self, base: str) -> bool:
        return self._get(("batch-refused", base)) is not None

    def remember_batch_refused(self, base: str) -> None:
        self._put(("batch-refused", base), True)

    def location(self, base: str, location_id: str) -> dict | None:
        held = self._get(("location", base, location_id))
        return copy.deepcopy(held) if held is not None else None  # never shared with a call that may change it

    def remember_location(self, base: str, location: dict) -> None:
        if location.get("resourceType") == "Location" and isinstance(location.get("id"), str):
            self._put(("location", base, location["id"]), copy.deepcopy(location))

    def _get(self, key: tuple):
        with self._lock:
            held = self._facts.get(key)
            if held is None:
                return None
            if self.clock() >= held[0]:
                del self._facts[key]
                return None
            return held[1]

    def _put(self, key: tuple, value) -> None:
        with self._lock:
            self._facts[key] = (self.clock() + self.ttl, value)
            self._facts.move_to_end(key)
            kind = [k for k in self._facts if k[0] == key[0]]
            for old in kind[:max(0, len(kind) - self.size)]:
                del self._facts[old]


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
    return resource


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
    return [batch_entry(entry) for entry in entries]


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
