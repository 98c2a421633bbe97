"""The laboratory searches that need the first answer (FHIR-server route only): what the prefetch route has
in hand because its labs prefetch is the patient's whole categorised lab history, while the server route
reads lab results by code and within the 30-day window (queries.py).

- The lab results of the day(s) of the SMN1 results found: a report filed beside the structured result
  under a name only ("SMN1 deletion analysis", no code) is found by no code search, and it may contradict the
  structured result (review 2026-11-24b C2: a carrier report next to copy number 0 is `review`).
- No AAV9 titer among the results read: the lab history (within the client's limits), so that a titer on
  record with no usable date, or outside the window, is named as it is on the prefetch route, not reported
  missing (review 2026-11-24b A5). Not needed when a titer was found (the eligible infant: no extra search).

Each follow-up is a source of its own, so that what it could not read stops only the criterion it serves
(rules/integrity.py DEPENDS): a failed search is a gap of its source, never a silent `met`.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import date

from .data_access import Gathered, gather
from .facts import DataIssue
from .queries import LAB_HISTORY_SCAN, PAGE, PATIENT, Query
from .searches import without_duplicates
from .translate.observations import analyte_days

GENETICS_REPORTS, LAB_HISTORY = "genetics-reports", "lab-history"  # the follow-ups' source names
GENETICS_DAYS_MAX = 3  # days of SMN1 results searched for a report (the newest); more are reported, not searched


def report_day_search(day: date) -> Query:
    """The laboratory results of one day (FHIR date search at day precision: the whole day). The date comes first:
    the parameters of a search are one AND in any order, but a server that tests them in the order written and
    stops at the first that fails (Medplum's in-memory server, whose `patient` test is its costliest: 6 against
    15-21 ms for the eligible infant, 2026-11-24) then tests the patient only on that day's results."""
    return Query(f"Observation?date={day.isoformat()}&patient={PATIENT}&category=laboratory&_sort=-date&_count={PAGE}")


def lab_follow_ups(body: dict, config: dict, gathered: Gathered, classify: Callable[[dict], str | None],
                   ends: float) -> Gathered:
    """`gathered` with the follow-up searches' answers as their own sources, when the labs were searched on the
    FHIR server (not prefetched) and something calls for them; else `gathered` as it is."""
    if not _labs_searched_on_server(body) or gathered.resources.get("labs") is None:
        return gathered
    found = analyte_days(gathered.resources["labs"], classify)
    plan: dict[str, tuple[Query, ...]] = {}
    issues: list[DataIssue] = []
    # The days are searched even when the lab history is read: within its limits, the history may stop before
    # them (newest first), and the genetics criterion must not depend on how long the history is.
    days = sorted(d for d in found.get("genetics", ()) if d is not None)
    plan[GENETICS_REPORTS] = tuple(report_day_search(d) for d in days[-GENETICS_DAYS_MAX:])
    if len(days) > GENETICS_DAYS_MAX:
        issues.append(DataIssue(GENETICS_REPORTS, "SMN1 results on more days than searched for a report: "
                                + ", ".join(d.isoformat() for d in days[:-GENETICS_DAYS_MAX]) + " not searched"))
    if "aav9-titer" not in found:
        plan[LAB_HISTORY] = (LAB_HISTORY_SCAN,)
    plan = {name: queries for name, queries in plan.items() if queries}
    resources, gaps = dict(gathered.resources), dict(gathered.gaps)
    for name, queries in plan.items():
        # Read as the labs are (the data-access seam's own rules), without the prefetch: it had no labs.
        got = gather({**body, "prefetch": {}}, config, {"labs": queries}, dict, ends, classify)
        read = got.resources.get("labs")
        resources[name] = without_duplicates(read) if read else []
        if read is None:  # failed: what it was for cannot be known, a gap of its own source
            gaps[name] = [i.problem for i in got.issues if i.source == "labs"] or ["not read"]
        elif got.gaps.get("labs"):
            gaps[name] = got.gaps["labs"]
        issues += [DataIssue(name, i.problem) if i.source == "labs" else i for i in got.issues]
    return Gathered(resources, gathered.issues + issues, gaps)


def _labs_searched_on_server(body: dict) -> bool:
    """The labs were not taken from the prefetch (key absent, or the EHR's fetch failed or was unusable) and
    there is a FHIR server: data_access.gather then searched them there."""
    if not isinstance(body.get("fhirServer"), str):
        return False
    prefetch = body.get("prefetch") if isinstance(body.get("prefetch"), dict) else {}
    value = prefetch.get("labs")
    if "labs" in prefetch and value is None:
        return False  # CDS Hooks: null is "no data", never re-queried
    return not (isinstance(value, dict) and value.get("resourceType") == "Bundle")
