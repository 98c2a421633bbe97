"""Running the searches of one hook call (for data_access.gather): in parallel, all started at once, as one FHIR
batch where the server takes one, within the call's deadline; what each search's answer calls for (a fallback,
every analyte's own search after an incomplete combined one, the Locations an encounter names, the follow-ups of
follow_ups.py) started as soon as it arrives. A source with a search failed or unfinished is unread (None)."""

from __future__ import annotations

import logging
import re
import time
from concurrent.futures import FIRST_COMPLETED, ThreadPoolExecutor, wait
from urllib.parse import quote

from .facts import DataIssue
from .fhir_batch import ServerMemory, batch_mode, send_batch, worth_a_get
from .fhir_client import FhirClient, FhirError, Read, Refused, as_list, next_link
from .queries import Query
from .searches import Job, Then, found, jobs_for, leaves, resolve, split, without_duplicates
from .translate.result_dates import newest_first

log = logging.getLogger("cds_service.data_access")
_BATCH = "batch"  # the source of the job standing for a FHIR batch while it is pending (its parts: its searches)
FHIR_ID = re.compile(r"^[A-Za-z0-9\-.]{1,64}$")


LOCATION_PROBLEM = "Location not included with the encounter: "


def missing_locations(read: list[dict] | None) -> list[str]:
    """Ids of the Locations the Encounters of `read` name that are not in `read`."""
    have = {f"Location/{r.get('id')}" for r in read or () if r.get("resourceType") == "Location"}
    ids = []
    for encounter in read or ():
        for part in as_list(encounter.get("location")) if encounter.get("resourceType") == "Encounter" else ():
            ref = part.get("location", {}).get("reference") if isinstance(part, dict) and isinstance(
                part.get("location"), dict) else None
            if isinstance(ref, str) and ref.startswith("Location/") and ref not in have:
                ids.append(ref.removeprefix("Location/"))
    return [i for i in dict.fromkeys(ids) if FHIR_ID.match(i)]


def run(jobs: list[Job], client: FhirClient | None, config: dict, resources: dict, issues: list[DataIssue],
         gaps: dict[str, list[str]], context: dict, values: dict[str, str], ends: float, then: Then | None) -> None:
    """Run the searches in parallel, all started at once, until they are done or the deadline passes. A
    search whose answer is needed to form another starts it as soon as it arrives: a code search that found
    nothing its fallback, a combined search that was not complete every analyte's own (searches.split), the encounter
    the Locations it names, a source read the searches `then` forms from it (while the other sources are still
    being read: a batch's answers that feed it are read first). A source with a search failed or unfinished is
    unread (None); the unread rest of a prefetch page being continued is a gap (that page stays evidence).

    Per CDS_FHIR_BATCH (fhir_batch.py), the searches that start at once go as one FHIR batch; each entry's answer
    is read as its own GET's would be (its next pages are fetched one by one), a failed entry is sent again as its
    own GET, and a server that does not answer the batch gets the searches one by one (in `auto`, remembered)."""
    deadline = config["GATHER_DEADLINE_SECONDS"]
    problems: dict[str, list[str]] = {}
    started: set[tuple[str, str]] = set()
    memory: ServerMemory | None = config.get("FHIR_SERVER_MEMORY")
    mode = batch_mode(config["FHIR_BATCH"])
    batching = client is not None and (mode == "always" or mode == "auto" and not (
        memory is not None and memory.batch_refused(client.base)))
    # Sized for every search (threads start only as work is submitted): a batch not answered sends them all.
    pool = ThreadPoolExecutor(max_workers=max(1, min(len(jobs) + 4, config["FHIR_MAX_PARALLEL"])))
    pending: dict = {}
    unread: list[tuple[Job, dict]] = []  # a batch's complete answers not read yet

    def start(new: list[Job]) -> None:
        """`new` all at once: as one FHIR batch (a job whose parts are its searches) when batching and more than
        one, else each its own GET."""
        batched = [job for job in new if job.continued is None] if batching else []
        if len(batched) > 1:
            started.update((job.source, job.url) for job in batched)
            pending[pool.submit(send_batch, client, [job.url for job in batched], memory if mode == "auto" else None)
                    ] = Job(_BATCH, "", Query(""), parts=tuple(batched))
        for job in new:
            submit(job)

    def follow_up() -> None:
        """`then`'s searches, once its source is read: none of its searches pending or unread, none failed."""
        nonlocal then
        waiting = (*pending.values(), *(job for job, _ in unread))
        if then is None or then.after in problems or any(leaf.source == then.after for job in waiting
                                                           for leaf in leaves(job)):
            return
        plan, more = then.plan(resources.get(then.after) or [])
        then = None
        issues.extend(more)
        resources.update({name: [] for name in plan})
        start([job for name, queries in plan.items() for job in jobs_for(name, queries, context, values)])

    def submit(job: Job, first: dict | None = None) -> None:
        if (job.source, job.url) not in started:
            started.add((job.source, job.url))
            latest = newest_first if job.query.latest else None
            pending[pool.submit(fetch, client, job.url, job.continued or 0, latest, job.query.one_page,
                                first)] = job

    def failed(job: Job, problem: str) -> None:
        if job.optional:
            issues.append(DataIssue(job.source, job.optional + problem))
        elif job.continued is not None:
            gaps.setdefault(job.source, []).append(f"next page not read: {problem}")
        else:
            problems.setdefault(job.source, []).append(problem)

    def answered(job: Job, got: list[dict]) -> None:
        resources[job.source] = (resources.get(job.source) or []) + got
        if job.query.fallback is not None and not (found(job.query, got, values) if job.query.by_code else got):
            url = resolve(job.query.fallback.template, context, values)
            if url is not None:
                submit(Job(job.source, url, job.query.fallback))
        if job.source == "encounter" and not job.optional and client is not None:
            ids = missing_locations(got)  # within the call: the Locations that did not come with it, once
            if ids:
                query = f"Location?_id={','.join(quote(i, safe='') for i in ids)}&_count={len(ids)}"
                submit(Job("encounter", query, Query(query), optional=LOCATION_PROBLEM))

    def settle(job: Job, got: Read, problem: str | None) -> None:
        if job.parts and problem and not got.refused:  # unreachable, too slow, a limit: so are the parts
            for part in job.parts:
                failed(part, problem)
        elif job.parts:
            parts, alone, others = split(job, got.resources, got.gaps, problem is not None)
            for part, mine in parts:
                answered(part, mine)
            for part in alone:
                submit(part)
            resources[job.source] = (resources.get(job.source) or []) + others
        elif problem:
            failed(job, problem)
        elif job.optional:  # only what was asked for (a server may ignore `_id`)
            rtype = job.url.partition("?")[0]
            mine = [r for r in got.resources if r.get("resourceType") == rtype]
            resources[job.source] = (resources.get(job.source) or []) + mine
            issues.extend(DataIssue(job.source, job.optional + gap) for gap in got.gaps)
        else:
            answered(job, got.resources)
            gaps.setdefault(job.source, []).extend(got.gaps)

    def unbatch(batched: tuple[Job, ...], answers: list | None) -> None:
        """Each batched search's answer read as its own GET's; all of them one by one when there is none."""
        for job, first in zip(batched, answers or [None] * len(batched), strict=True):
            if first is None or worth_a_get(first) or (isinstance(first, dict) and next_link(first) is not None):
                started.discard((job.source, job.url))
                submit(job, first if isinstance(first, dict) else None)  # fetched (or its next pages) in the pool
            elif isinstance(first, FhirError):  # a refused token: its own GET would carry the same
                settle(job, Read([], refused=isinstance(first, Refused)), str(first))
            else:  # the whole answer is here: read without a thread, what `then` waits for first
                unread.append((job, first))
        unread.sort(key=lambda item: then is None or all(leaf.source != then.after for leaf in leaves(item[0])))
        while unread:
            job, first = unread.pop(0)
            settle(job, *fetch(client, job.url, 0, newest_first if job.query.latest else None, job.query.one_page,
                                first))
            follow_up()

    start(jobs)
    try:
        while pending:
            done, _ = wait(pending, timeout=max(0.0, ends - time.monotonic()), return_when=FIRST_COMPLETED)
            if not done:
                break
            for future in done:
                job = pending.pop(future)
                if job.source == _BATCH:
                    unbatch(job.parts, future.result())
                else:
                    settle(job, *future.result())
                follow_up()
    finally:
        pool.shutdown(wait=False, cancel_futures=True)  # never wait for a search still running
    for job in pending.values():
        for unanswered in leaves(job):  # a combined search or a batch left every source it stood for unread
            failed(unanswered, f"not answered within the {deadline:g} s deadline")
    for name, texts in problems.items():
        resources[name] = None
        gaps.pop(name, None)
        issues.extend(DataIssue(name, text) for text in dict.fromkeys(texts))
    for name, read in resources.items():
        if read:
            resources[name] = without_duplicates(read)


def fetch(client: FhirClient | None, url: str, already: int, latest=None, one_page: bool = False,
           first: dict | None = None) -> tuple[Read, str | None]:
    """(what was read, None) or (an empty Read, why not; its `refused` says the server refused the query).
    `first`: the answer to `url` already received in a batch."""
    if client is None:
        return Read([]), "no FHIR server to continue paging"
    try:
        return client.get(url, already, latest, one_page, first), None
    except Refused as err:
        return Read([], refused=True), str(err)
    except FhirError as err:
        return Read([]), str(err)
    except Exception as err:  # noqa: BLE001 - any transport failure leaves the source unread, never a 500
        log.warning("FHIR query failed: %s", type(err).__name__)
        return Read([]), f"FHIR query failed ({type(err).__name__})"
