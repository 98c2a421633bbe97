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

from .data_access import Gathered
from .facts import DataIssue
from .queries import LAB_HISTORY_SCAN, PAGE, PATIENT, Query
from .searches import Then
from .translate.observations import analyte_days

GENETICS_REPORTS, LAB_HISTORY = "genetics-reports", "lab-history"  # the follow-ups' source names
FOLLOW_UPS = (GENETICS_REPORTS, LAB_HISTORY)
MORE_DAYS = "SMN1 results on more days than searched for a report: "
GENETICS_DAYS_MAX = 3  # days of SMN1 results searched for a report (the newest); more are reported, not searched


def report_day_search(day: date) -> Query:
    """The laboratory results of one day (FHIR date search at day precision: the whole day). The date comes first:
    the parameters of a search are one AND in any order, but a server that tests them in the order written and
    stops at the first that fails (Medplum's in-memory server, whose `patient` test is its costliest: 6 against
    15-21 ms for the eligible infant, 2026-11-24) then tests the patient only on that day's results."""
    return Query(f"Observation?date={day.isoformat()}&patient={PATIENT}&category=laboratory&_sort=-date&_count={PAGE}")


def lab_follow_ups(classify: Callable[[dict], str | None]) -> Then:
    """For data_access.gather: the follow-up searches, formed from the labs' answer and started as soon as it is
    in (the other sources may still be on their way), when the labs are searched on the FHIR server (not
    prefetched). Their sources are then as `settled` gives them."""
    return Then("labs", lambda labs: _plan(labs, classify))


def _plan(labs: list[dict], classify: Callable[[dict], str | None]) -> tuple[dict[str, tuple[Query, ...]],
                                                                            list[DataIssue]]:
    """What the labs read call for: {follow-up source: its searches} (only those with searches), and issues."""
    found = analyte_days(labs, classify)
    plan: dict[str, tuple[Query, ...]] = {}
    issues: list[DataIssue] = []
    # The days are searched even when the lab history is read: within its limits, the history may stop before
    # them (newest first), and the genetics criterion must not depend on how long the history is.
    days = sorted(d for d in found.get("genetics", ()) if d is not None)
    plan[GENETICS_REPORTS] = tuple(report_day_search(d) for d in days[-GENETICS_DAYS_MAX:])
    if len(days) > GENETICS_DAYS_MAX:
        unsearched = ", ".join(d.isoformat() for d in days[:-GENETICS_DAYS_MAX])
        issues.append(DataIssue(GENETICS_REPORTS, f"{MORE_DAYS}{unsearched} not searched"))
    if "aav9-titer" not in found:
        plan[LAB_HISTORY] = (LAB_HISTORY_SCAN,)
    return {name: queries for name, queries in plan.items() if queries}, issues


def settled(gathered: Gathered) -> Gathered:
    """`gathered` with each follow-up that could not be read (failed, not answered by the deadline) as read but
    with its problems as gaps: the integrity guard then stops the criterion it serves (rules/integrity.py DEPENDS)
    and only it; the follow-ups' issues come last, after those of the sources they follow."""
    resources, gaps = dict(gathered.resources), dict(gathered.gaps)
    for name in FOLLOW_UPS:
        if name in resources and resources[name] is None:
            resources[name] = []
            gaps[name] = list(dict.fromkeys(i.problem for i in gathered.issues if i.source == name
                                            and not i.problem.startswith(MORE_DAYS))) or ["not read"]
    issues = sorted(gathered.issues, key=lambda i: FOLLOW_UPS.index(i.source) + 1 if i.source in FOLLOW_UPS else 0)
    return Gathered(resources, issues, gaps)
