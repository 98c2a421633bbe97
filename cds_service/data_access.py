"""The one data-access seam: prefetch first, then the FHIR server with the bearer token, then a clear outcome.

CDS Hooks 2.0 prefetch rules (reference/cds-hooks-and-crd.md 1.4):
- key present with a value      -> use it (follow Bundle `next` links on the FHIR server if any);
- key present with `null`       -> no data (an empty, successful answer); never re-queried;
- key present with an OperationOutcome -> that fetch failed: re-query the FHIR server if there is one;
- key absent                    -> query the FHIR server; with no FHIR server: 412 Precondition Failed.
A FHIR server that fails (timeout, 401, 5xx, bad JSON) leaves that source unread: the rules
then say `unknown`, never `met`.

Completeness is a fact carried to the rules: `Gathered.gaps` names, per source, why what was received
may not be the whole record (Bundle.total above the entries received with no `next` link, an
OperationOutcome entry, an entry without a resource, a page or entry limit, a `next` page that could
not be read). What was received still counts as evidence; a "none on record" conclusion does not.
"""

from __future__ import annotations

import logging
import re
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from urllib.parse import quote

from .errors import PreconditionFailed
from .facts import DataIssue
from .fhir_client import FhirClient, FhirError, Read, canonical_base, outcome_text, read_page, truncation

log = logging.getLogger("cds_service.data_access")


@dataclass(frozen=True)
class Source:
    name: str
    key: str  # prefetch key
    templates: tuple[str, ...]  # first is advertised; later ones are fallbacks for other user types


LABS = ("Observation?patient={{context.patientId}}&category=laboratory&_sort=-date&_count=200",)
VITAL_CODES = ",".join(f"http://loinc.org|{c}" for c in ("29463-7", "3141-9", "76516-4", "11884-4", "8310-5"))

SOURCES: tuple[Source, ...] = (
    Source("patient", "patient", ("Patient/{{context.patientId}}",)),
    Source("labs", "labs", LABS),
    Source("vitals", "vitals", (f"Observation?patient={{{{context.patientId}}}}&code={VITAL_CODES}&_sort=-date",)),
    Source("conditions", "conditions", ("Condition?patient={{context.patientId}}",)),
    Source("medication-requests", "medicationRequests", ("MedicationRequest?patient={{context.patientId}}",)),
    Source("medication-administrations", "medicationAdministrations",
           ("MedicationAdministration?patient={{context.patientId}}",)),
    Source("procedures", "procedures", ("Procedure?patient={{context.patientId}}",)),
    Source("coverage", "coverage", ("Coverage?patient={{context.patientId}}&status=active",)),
    Source("practitioner-roles", "practitionerRoles",
           ("PractitionerRole?practitioner={{userPractitionerId}}", "PractitionerRole?_id={{userPractitionerRoleId}}")),
    Source("care-teams", "careTeams", ("CareTeam?patient={{context.patientId}}&status=active",)),
    # Site of care: the encounter and its Location in one search (_include, as Da Vinci CRD does).
    Source("encounter", "encounter", ("Encounter?_id={{context.encounterId}}&_include=Encounter:location",)),
    # Issue 12: other providers' medication records (a prior dose given elsewhere), and devices (a home
    # ventilator is evidence of advanced SMA, criterion 3); a device use brings its Device along.
    Source("medication-statements", "medicationStatements", ("MedicationStatement?patient={{context.patientId}}",)),
    Source("devices", "devices", ("Device?patient={{context.patientId}}",)),
    Source("device-use", "deviceUseStatements",
           ("DeviceUseStatement?patient={{context.patientId}}&_include=DeviceUseStatement:device",)),
)


def prefetch_templates(names: tuple[str, ...] = ()) -> dict[str, str]:
    return {s.key: s.templates[0] for s in SOURCES if not names or s.name in names}


@dataclass
class Gathered:
    resources: dict[str, list[dict] | None]  # None: the source could not be read
    issues: list[DataIssue]
    # source name -> why its answer may be incomplete (absent or empty: read completely)
    gaps: dict[str, list[str]] = field(default_factory=dict)


_TOKEN = re.compile(r"\{\{\s*([^}]+?)\s*\}\}")


def resolve(template: str, context: dict) -> str | None:
    """Fill prefetch tokens from the hook context, percent-encoded (an id never adds a path segment or a
    search parameter); None when a token has no value."""
    user = context.get("userId") if isinstance(context.get("userId"), str) else ""
    user_type, _, user_id = user.partition("/")
    values = {f"user{user_type}Id": user_id} if user_id else {}

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


_REFUSED = "_fhirServerRefused"  # set only by effective_request, read only here
REFUSED_SERVER = "the request's fhirServer is not one this client may name (CDS_TRUSTED_ISSUERS fhirServers)"


def effective_request(request: dict, allowed_servers: frozenset[str] | None) -> dict:
    """The request as the service acts on it. With an allowlist (production: the client's issuer lists its
    FHIR servers), a fhirServer not on it is treated as no server at all: never queried, its token never sent,
    the data must then come from prefetch (412 otherwise). A listed one is used in its canonical spelling.
    `allowed_servers` None: the open quickstart mode, any fhirServer is queried."""
    server = request.get("fhirServer")
    if allowed_servers is None or not isinstance(server, str):
        return request
    canonical = canonical_base(server)
    effective = {k: v for k, v in request.items() if k not in ("fhirServer", "fhirAuthorization")}
    if canonical is not None and canonical in allowed_servers:
        return {**effective, "fhirServer": canonical, "fhirAuthorization": request.get("fhirAuthorization")}
    return {**effective, _REFUSED: True}


def gather(request: dict, config: dict, names: tuple[str, ...] = ()) -> Gathered:
    """Resources per source (all of SOURCES, or just `names`)."""
    prefetch = request.get("prefetch") if isinstance(request.get("prefetch"), dict) else {}
    context = request["context"]
    server = request.get("fhirServer") if isinstance(request.get("fhirServer"), str) else None

    resources: dict[str, list[dict] | None] = {}
    issues: list[DataIssue] = []
    to_fetch: dict[str, str] = {}  # source name -> query for the FHIR server
    absent: list[Source] = []  # prefetch keys the EHR did not send
    continuations: dict[str, tuple[str, int]] = {}  # source name -> (next link, matches received so far)
    gaps: dict[str, list[str]] = {}
    for source in SOURCES:
        if names and source.name not in names:
            continue
        value = prefetch.get(source.key)
        if source.key in prefetch and value is None:
            resources[source.name] = []
        elif isinstance(value, dict) and value.get("resourceType") == "Bundle":
            page = read_page(value)
            resources[source.name] = page.resources
            gaps[source.name] = list(page.gaps)
            if page.next:
                continuations[source.name] = (page.next, page.matches)
            elif truncation(page.total, page.matches):
                gaps[source.name].append(truncation(page.total, page.matches))
        elif isinstance(value, dict) and isinstance(value.get("resourceType"), str) \
                and value["resourceType"] != "OperationOutcome":
            resources[source.name] = [value]
        else:  # absent, failed (OperationOutcome) or unusable: ask the FHIR server
            if source.key not in prefetch:
                absent.append(source)
            elif isinstance(value, dict) and value.get("resourceType") == "OperationOutcome":
                issues.append(DataIssue(f"prefetch.{source.key}", "the EHR's fetch failed: " + outcome_text(value)))
            else:
                issues.append(DataIssue(f"prefetch.{source.key}", "not a FHIR resource; ignored"))
            query = _query_for(source, context)
            if query is None:
                resources[source.name] = []  # not applicable: e.g. no encounterId in this context
            else:
                to_fetch[source.name] = query

    if server is None and to_fetch:
        missing = [s.key for s in absent if s.name in to_fetch]
        if missing:
            raise PreconditionFailed("prefetch lacks " + ", ".join(missing) + (
                "; " + REFUSED_SERVER if request.get(_REFUSED) else " and the request has no fhirServer to query"))
        # The EHR sent a failed or unusable value and there is no server to ask: that source stays unread.
        resources.update({name: None for name in to_fetch})
        if request.get(_REFUSED):
            issues.append(DataIssue("fhirServer", REFUSED_SERVER + "; not queried"))
        to_fetch = {}

    jobs = {name: (url, 0) for name, url in to_fetch.items()}
    jobs.update(continuations)
    if jobs:  # the FHIR client is set up only when there is something to ask
        client = _client(request, config, server) if server else None
        with ThreadPoolExecutor(max_workers=len(jobs)) as pool:
            futures = {name: pool.submit(_fetch, client, url, already) for name, (url, already) in jobs.items()}
        for name, future in futures.items():
            got, problem = future.result()
            if name in continuations:  # the prefetch page stays evidence; the unread rest is a gap
                resources[name] = (resources.get(name) or []) + got.resources
                gaps[name].extend(got.gaps + ([f"next page not read: {problem}"] if problem else []))
            elif problem:
                issues.append(DataIssue(name, problem))
                resources[name] = None
            else:
                resources[name] = got.resources
                gaps[name] = got.gaps
    gaps = {name: reasons for name, reasons in gaps.items() if reasons}
    for name, reasons in gaps.items():
        issues.extend(DataIssue(name, f"not read completely: {reason}") for reason in reasons)
    return Gathered(resources, issues, gaps)


_FHIR_ID = re.compile(r"^[A-Za-z0-9\-.]{1,64}$")


def read_by_id(request: dict, config: dict, resource_type: str, ids: list[str]) -> tuple[list[dict], str | None]:
    """Resources of one type by id from the request's FHIR server, in one search (`_id=a,b`): what a prefetch
    cannot carry, e.g. a Medication named only by reference. (resources, problem); problem None when read."""
    server = request.get("fhirServer") if isinstance(request.get("fhirServer"), str) else None
    ids = [i for i in ids if _FHIR_ID.match(i)]
    if not ids:
        return [], None
    if server is None:
        return [], f"{resource_type} {', '.join(ids)} named by reference and no fhirServer to read it from"
    query = f"{resource_type}?_id={','.join(quote(i, safe='') for i in ids)}"
    got, problem = _fetch(_client(request, config, server), query, 0)
    # An incomplete answer is reported; a Medication it left out stays unresolved, so its record is unread.
    problem = problem or ("; ".join(got.gaps) if got.gaps else None)
    return [r for r in got.resources if isinstance(r, dict) and r.get("resourceType") == resource_type], problem


def _client(request: dict, config: dict, server: str) -> FhirClient:
    auth = request.get("fhirAuthorization") if isinstance(request.get("fhirAuthorization"), dict) else {}
    return FhirClient(server, auth.get("access_token"), config["FHIR_TIMEOUT_SECONDS"], config["FHIR_MAX_PAGES"],
                      config["FHIR_MAX_ENTRIES"], config["FHIR_MAX_REQUESTS"])


def _query_for(source: Source, context: dict) -> str | None:
    for template in source.templates:
        url = resolve(template, context)
        if url is not None:
            return url
    return None


def _fetch(client: FhirClient | None, url: str, already: int) -> tuple[Read, str | None]:
    if client is None:
        return Read([]), "no FHIR server to continue paging"
    try:
        return client.get(url, already), None
    except FhirError as err:
        return Read([]), str(err)
    except Exception as err:  # noqa: BLE001 - any transport failure leaves the source unread, never a 500
        log.warning("FHIR query failed: %s", type(err).__name__)
        return Read([]), f"FHIR query failed ({type(err).__name__})"
