"""The one data-access seam: prefetch first, then the FHIR server with the bearer token, then a clear outcome.

CDS Hooks 2.0 prefetch rules (reference/cds-hooks-and-crd.md 1.4):
- key present with a value      -> use it (follow Bundle `next` links on the FHIR server if any);
- key present with `null`       -> no data (an empty, successful answer); never re-queried;
- key present with an OperationOutcome -> that fetch failed: re-query the FHIR server if there is one;
- key absent                    -> query the FHIR server; with no FHIR server: 412 Precondition Failed.
A FHIR server that fails (timeout, 401, 5xx, bad JSON, too large, too many requests, past the call's
deadline) leaves that source unread: the rules then say `unknown`, never `met`.

What is queried, and how it is bounded, is in queries.py: a source may be read by several searches (run
in parallel, with one deadline for the call); it is unread when any of them failed or did not finish.
Discovery advertises prefetch per `CDS_PREFETCH`: `lean` (the default) asks for nothing at order time, so
an order that is not Zolgensma costs the EHR no FHIR query (Da Vinci CRD: data needed only for some
invocations is queried, not prefetched); `full` advertises every source below for EHRs that give
services no FHIR access.

Completeness is a fact carried to the rules: `Gathered.gaps` names, per source, why what was received
may not be the whole record (Bundle.total above the entries received with no `next` link, an
OperationOutcome entry, an entry without a resource, a page or entry limit, a `next` page that could
not be read). What was received still counts as evidence; a "none on record" conclusion does not.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from urllib.parse import quote

from .errors import PreconditionFailed
from .facts import DataIssue
from .fhir_client import FhirClient, canonical_base, outcome_text, read_page, truncation
from .queries import FOLLOW_UP_BY_CODE, Query, lab_codes_template
from .search_run import FHIR_ID, LOCATION_PROBLEM, fetch, missing_locations, run
from .searches import Job, Then, absent_by_code, combine, jobs_for, resolve, without_duplicates
from .terminology import ANALYTES

log = logging.getLogger("cds_service.data_access")


@dataclass(frozen=True)
class Source:
    name: str
    key: str  # prefetch key
    templates: tuple[str, ...]  # full prefetch (CDS_PREFETCH=full): first is advertised; later ones are for
    # other user types
    default: bool = True  # False: read only by services that name it (discovery's full prefetch)
    feeds: str | None = None  # a prefetch-only key whose results join this source's (never fetched by itself)


# Full prefetch, for EHRs that cannot give services FHIR access: every search bounded by _count (a Bundle
# with a `next` link is continued on the FHIR server when there is one).
LABS = ("Observation?patient={{context.patientId}}&category=laboratory&_sort=-date&_count=1000",)
# The vital signs the rules read (weight, GA, every body-temperature code: terminology.ANALYTES).
VITAL_CODES = ",".join(f"{c.system}|{c.code}" for a in ("weight", "gestational-age", "gestational-age-estimated",
                                                       "temperature") for c in ANALYTES[a])

SOURCES: tuple[Source, ...] = (
    Source("patient", "patient", ("Patient/{{context.patientId}}",)),
    Source("labs", "labs", LABS),
    # The same analytes by code, whatever their category: a result filed without category=laboratory is not in
    # `labs` and may be the newest (review 2026-11-24b L1). Joins `labs`; on the FHIR-server route the labs are
    # searched by code anyway.
    Source("lab-codes", "labCodes", (lab_codes_template(),), feeds="labs"),
    Source("vitals", "vitals",
           (f"Observation?patient={{{{context.patientId}}}}&code={VITAL_CODES}&_sort=-date&_count=200",)),
    Source("conditions", "conditions", ("Condition?patient={{context.patientId}}&_count=200",)),
    Source("medication-requests", "medicationRequests",
           ("MedicationRequest?patient={{context.patientId}}&_count=200",)),
    Source("medication-administrations", "medicationAdministrations",
           ("MedicationAdministration?patient={{context.patientId}}&_count=200",)),
    Source("procedures", "procedures", ("Procedure?patient={{context.patientId}}&_count=200",)),
    # With the payors' Organizations (_include): a payor is identified by what it refers to (review 2026-11-24e T7).
    Source("coverage", "coverage",
           ("Coverage?patient={{context.patientId}}&status=active&_include=Coverage:payor&_count=50",)),
    # A user who is a PractitionerRole cannot fill the advertised template: with a FHIR server, their role is
    # read by id; without one, the source is unread (specialist `unknown`), never a 412 (see gather).
    Source("practitioner-roles", "practitionerRoles",
           ("PractitionerRole?practitioner={{userPractitionerId}}&_count=50",
            "PractitionerRole/{{userPractitionerRoleId}}")),
    # Lab orders already drafted or active: a test on order is not suggested again (recognised by code). Completed
    # ones too: a completed Zolgensma infusion request is a prior dose (review 2026-11-24e T2).
    Source("service-requests", "serviceRequests",
           ("ServiceRequest?patient={{context.patientId}}&status=draft,active,on-hold,completed&_count=50",)),
    Source("care-teams", "careTeams", ("CareTeam?patient={{context.patientId}}&status=active&_count=50",)),
    # Site of care: the encounter and its Location in one search (_include, as Da Vinci CRD does).
    Source("encounter", "encounter",
           ("Encounter?_id={{context.encounterId}}&_include=Encounter:location&_count=10",)),
    # Issue 12: other providers' medication records (a prior dose given elsewhere), and devices (a home
    # ventilator is evidence of advanced SMA, criterion 3); a device use brings its Device along.
    Source("medication-statements", "medicationStatements",
           ("MedicationStatement?patient={{context.patientId}}&_count=200",)),
    # A kit dispensed to this patient (a pharmacy's record, perhaps the only one of a dose given): review
    # 2026-11-24e T1. Read completely, as the administrations: "no prior Zolgensma" rests on it too.
    Source("medication-dispenses", "medicationDispenses",
           ("MedicationDispense?patient={{context.patientId}}&_count=200",)),
    # A dose some EHRs file as an immunization (vaccineCode a Zolgensma kit NDC): review 2026-11-24e T5. Read
    # completely: "no prior Zolgensma" rests on it too.
    Source("immunizations", "immunizations", ("Immunization?patient={{context.patientId}}&_count=200",)),
    Source("devices", "devices", ("Device?patient={{context.patientId}}&_count=50",)),
    Source("device-use", "deviceUseStatements",
           ("DeviceUseStatement?patient={{context.patientId}}&_include=DeviceUseStatement:device&_count=50",)),
    # A home ventilator or tracheostomy tube ordered (review 2026-11-24f F1): evidence of advanced SMA, read
    # completely like the device uses ("no advanced SMA" rests on it too).
    Source("device-requests", "deviceRequests", ("DeviceRequest?patient={{context.patientId}}&_count=50",)),
    # Scheduled visits (readiness service only): an infusion appointment gives the plan its target date. Prefetch
    # cannot say "from today" (no token for it), so past appointments come too and are dropped when read.
    Source("appointments", "appointments",
           ("Appointment?patient={{context.patientId}}&status=proposed,pending,booked&_count=50",), default=False),
    # Motor scales and developmental milestones after the infusion (monitoring service only): clinical
    # assessments are not laboratory results; FHIR observation-category exam, survey, therapy, activity.
    Source("assessments", "assessments",
           ("Observation?patient={{context.patientId}}&category=exam,survey,therapy,activity&_sort=-date&_count=200",),
           default=False),
)


def prefetch_templates(names: tuple[str, ...] = ()) -> dict[str, str]:
    """The full prefetch of `names` (all default sources when empty)."""
    return {s.key: s.templates[0] for s in SOURCES if (s.name in names or s.feeds in names if names else s.default)}


@dataclass
class Gathered:
    resources: dict[str, list[dict] | None]  # None: the source could not be read
    issues: list[DataIssue]
    # source name -> why its answer may be incomplete (absent or empty: read completely)
    gaps: dict[str, list[str]] = field(default_factory=dict)


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


def gather(request: dict, config: dict, plan: dict[str, tuple[Query, ...]],
           windows: Callable[[], dict[str, str]] = dict, ends: float | None = None,
           classify: Callable[[dict], str | None] | None = None, then: Then | None = None) -> Gathered:
    """Resources per source of `plan` (source name -> the searches that read it when prefetch did not).
    `windows` gives the dates that bound the searches; it is called only when something must be fetched.
    `ends`: the call's deadline (time.monotonic()) when it gathers in several steps; default: the deadline
    from now. `classify(Observation.code) -> analyte`: a prefetched result recognised by name or local code
    counts as present (no search by code follows it up). `then`: searches formed from a source's answer when
    that source is searched on the server (not prefetched), started as soon as it is read (searches.Then)."""
    ends = ends if ends is not None else time.monotonic() + config["GATHER_DEADLINE_SECONDS"]
    prefetch = request.get("prefetch") if isinstance(request.get("prefetch"), dict) else {}
    context = request["context"]
    server = request.get("fhirServer") if isinstance(request.get("fhirServer"), str) else None

    resources: dict[str, list[dict] | None] = {}
    issues: list[DataIssue] = []
    to_fetch: list[str] = []  # source names to read from the FHIR server
    absent: list[Source] = []  # prefetch keys the EHR did not send
    jobs: list[Job] = []
    gaps: dict[str, list[str]] = {}
    follow_up: list[str] = []  # prefetched sources whose by-code searches are checked (FOLLOW_UP_BY_CODE)
    # Prefetch values the EHR sent as failed or unusable, by source. With a FHIR server the source is read there
    # and what that read gives (the records, or why not) is the data issue, as on the FHIR-server route: both
    # routes report the same issues for the same record (fix-cov item 4). Without one, the failure is the issue.
    refused: dict[str, DataIssue] = {}
    for source in SOURCES:
        if source.name not in plan:
            continue
        value = prefetch.get(source.key)
        if source.key in prefetch and value is None:
            resources[source.name] = []
        elif isinstance(value, dict) and value.get("resourceType") == "Bundle":
            _take_page(source.name, value, resources, gaps, jobs)
            if source.name in FOLLOW_UP_BY_CODE:
                follow_up.append(source.name)
        elif isinstance(value, dict) and isinstance(value.get("resourceType"), str) \
                and value["resourceType"] != "OperationOutcome":
            resources[source.name] = [value]
        else:  # absent, failed (OperationOutcome) or unusable: ask the FHIR server
            if source.key not in prefetch:
                absent.append(source)
            elif isinstance(value, dict) and value.get("resourceType") == "OperationOutcome":
                refused[source.name] = DataIssue(f"prefetch.{source.key}", "the EHR's fetch failed: "
                                                 + outcome_text(value))
            else:
                refused[source.name] = DataIssue(f"prefetch.{source.key}", "not a FHIR resource; ignored")
            to_fetch.append(source.name)

    for source in SOURCES:
        if source.feeds in resources and source.feeds not in to_fetch:
            _join_prefetch(source, prefetch.get(source.key), resources, gaps, jobs, refused)

    values: dict[str, str] = {}
    if to_fetch or follow_up:
        values = windows()
    if to_fetch:
        searches = {name: jobs_for(name, plan[name], context, values) for name in to_fetch}
        for name in searches:
            resources[name] = []  # none applicable (e.g. no encounterId in this context): nothing to read
        to_fetch = [name for name, found in searches.items() if found]
        if server is None and to_fetch:
            # 412 only for keys the EHR could have filled: one whose template needs a token this context lacks
            # (a PractitionerRole user and {{userPractitionerId}}) is rightly omitted (CDS Hooks 2.0.1: clients
            # MUST NOT send a key they do not satisfy); that source stays unread and its criteria `unknown`.
            unfillable = [s for s in absent if s.name in to_fetch and resolve(s.templates[0], context) is None]
            missing = [s.key for s in absent if s.name in to_fetch and s not in unfillable]
            if missing:
                raise PreconditionFailed("prefetch lacks " + ", ".join(missing) + (
                    "; " + REFUSED_SERVER if request.get(_REFUSED) else " and the request has no fhirServer to query"))
            issues.extend(DataIssue(s.name, f"not prefetched (the EHR cannot fill {s.templates[0]} for user "
                                            f"{context.get('userId')}) and no fhirServer to read it")
                          for s in unfillable)
            # The EHR sent a failed or unusable value and there is no server to ask: that source stays unread.
            resources.update({name: None for name in to_fetch})
            if request.get(_REFUSED):
                issues.append(DataIssue("fhirServer", REFUSED_SERVER + "; not queried"))
        else:
            jobs += [job for name in to_fetch for job in searches[name]]
    for name in follow_up:
        # A required result absent from the prefetch (it may lack the category the template asks for): searched
        # by code (its fallback, a category scan, is what the prefetch already was); without a server, said.
        absent = absent_by_code(plan[name], resources[name], values, classify)
        if server is not None:
            jobs += [replace(job, optional=f"{' or '.join(job.query.by_code.analytes)} not searched by code after "
                                          "the prefetch: ")
                     for job in jobs_for(name, tuple(replace(q, fallback=None) for q in absent), context, values)]
        else:
            issues.extend(DataIssue(name, f"no {' or '.join(q.by_code.analytes)} result among the prefetched "
                                          "laboratory results (the prefetch asks for category=laboratory: a result "
                                          "recorded without that category is not among them) and no fhirServer to "
                                          "search for it by code") for q in absent)
    if server is None:
        issues[:0] = refused.values()
    else:  # reported when nothing was searched in its place
        issues[:0] = [issue for name, issue in refused.items() if name not in to_fetch and name not in follow_up]
        for issue in refused.values():
            log.info("%s: %s; read from the FHIR server instead", issue.source, issue.problem)
        jobs = combine(jobs, lambda template: resolve(template, context, values))
    if jobs:  # the FHIR client is set up only when there is something to ask
        run(jobs, _client(request, config, server, ends) if server else None, config, resources, issues, gaps,
             context, values, ends, then if then is not None and then.after in to_fetch and server else None)
    if not any(job.source == "encounter" for job in jobs):  # read from the server: its Locations were too
        _locations_by_reference(request, config, resources, issues)
    gaps = {name: reasons for name, reasons in gaps.items() if reasons}
    for name, reasons in gaps.items():
        issues.extend(DataIssue(name, f"not read completely: {reason}") for reason in reasons)
    return Gathered(resources, issues, gaps)


def _take_page(name: str, bundle: dict, resources: dict, gaps: dict, jobs: list[Job]) -> None:
    """A prefetched searchset page joins source `name`'s resources, with what makes it incomplete: its `next` page
    is continued on the server, a Bundle.total above what it holds with no `next` is truncation."""
    page = read_page(bundle)
    resources[name] = [*resources.get(name, ()), *page.resources]
    gaps.setdefault(name, []).extend(page.gaps)
    if page.next:
        jobs.append(Job(name, page.next, Query(page.next), continued=page.matches))
    elif truncation(page.total, page.matches):
        gaps[name].append(truncation(page.total, page.matches))


def _join_prefetch(source: Source, value, resources: dict, gaps: dict, jobs: list[Job],
                   refused: dict[str, DataIssue]) -> None:
    """A prefetch-only key's Bundle joins the source it feeds, with what makes it incomplete (its `next` page is
    continued on the server like the source's own); absent, it is simply not there (the source's own prefetch
    and its follow-ups by code stand as before); failed, it is put in `refused` (an issue without a FHIR server;
    with one, the results it would have brought are searched by code, FOLLOW_UP_BY_CODE)."""
    if isinstance(value, dict) and value.get("resourceType") == "Bundle":
        _take_page(source.feeds, value, resources, gaps, jobs)
        # The keys overlap by design (a categorised lab result with a baseline code is in both `labs` and
        # `labCodes`): an exact copy is read once, not translated and validated twice; a copy that differs stays.
        resources[source.feeds] = without_duplicates(resources[source.feeds])
    elif isinstance(value, dict) and value.get("resourceType") == "OperationOutcome":
        refused[source.feeds] = DataIssue(f"prefetch.{source.key}", "the EHR's fetch failed: " + outcome_text(value))


def read_by_id(request: dict, config: dict, resource_type: str, ids: list[str]) -> tuple[list[dict], str | None]:
    """Resources of one type by id from the request's FHIR server, in one search (`_id=a,b`): what a prefetch
    cannot carry, e.g. a Medication named only by reference. (resources, problem); problem None when read."""
    server = request.get("fhirServer") if isinstance(request.get("fhirServer"), str) else None
    ids = [i for i in ids if FHIR_ID.match(i)]
    if not ids:
        return [], None
    if server is None:
        return [], f"{resource_type} {', '.join(ids)} named by reference and no fhirServer to read it from"
    query = f"{resource_type}?_id={','.join(quote(i, safe='') for i in ids)}&_count={len(ids)}"
    got, problem = fetch(_client(request, config, server), query, 0)
    # An incomplete answer is reported; a Medication it left out stays unresolved, so its record is unread.
    problem = problem or ("; ".join(got.gaps) if got.gaps else None)
    return [r for r in got.resources if isinstance(r, dict) and r.get("resourceType") == resource_type], problem


def _locations_by_reference(request: dict, config: dict, resources: dict, issues: list[DataIssue]) -> None:
    """Site of care: a FHIR server may ignore `_include=Encounter:location` (a real one did), and an EHR's
    prefetch may leave the Location out. The Locations an Encounter names that did not come with it are read
    by id, on every call (never remembered from an earlier call: the server's Location may have changed, review
    2026-11-24d S3); what cannot be read is reported, and the card says the place of service is undetermined and
    why. (When the encounter itself is read from the server, search_run.run starts this read as soon as it arrives.)"""
    ids = missing_locations(resources.get("encounter"))
    if ids:
        got, problem = read_by_id(request, config, "Location", ids)
        resources["encounter"] = resources["encounter"] + got
        if problem:
            issues.append(DataIssue("encounter", LOCATION_PROBLEM + problem))


def _client(request: dict, config: dict, server: str, ends: float | None = None) -> FhirClient:
    auth = request.get("fhirAuthorization") if isinstance(request.get("fhirAuthorization"), dict) else {}
    return FhirClient(server, auth.get("access_token"), config["FHIR_TIMEOUT_SECONDS"], config["FHIR_MAX_PAGES"],
                      config["FHIR_MAX_ENTRIES"], config["FHIR_MAX_REQUESTS"],
                      ends if ends is not None else time.monotonic() + config["GATHER_DEADLINE_SECONDS"],
                      config["FHIR_MAX_RESPONSE_BYTES"])
