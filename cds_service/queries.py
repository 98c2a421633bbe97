"""Which FHIR searches the service makes when prefetch did not bring the data: targeted, bounded, few.

Every search carries `_count`. Results the rules read as "the latest" (labs, vitals) are asked for by code per
analyte, newest first (`_sort=-date`), a few at a time, and date-bounded where the rule has a window (the
service computes the dates). Results the rules read as "none on record" (conditions, prior doses) are read
completely, page by page, within the client's limits, or the source counts as unread.

A server that ignores a parameter never makes the answer wrong: the translator re-checks codes, dates,
statuses and the patient of every resource; a "latest" search stops after its first page only when the
server says it sorted newest first (the Bundle's self link) and the page is in that order, otherwise every
page is read (fhir_client.FhirClient.get). A code search that finds nothing is followed by a bounded
search without the code (`fallback`): results under unconfigured local codes or only a name are still found.

Round trips: the Observation searches by code of one call are sent as ONE search (`combined`, FHIR R4 search:
a comma-separated token list is an OR) when the server is asked for several, unsorted, one page. Its answer
stands for every analyte's own search only when that page is provably the whole answer (searches.split);
otherwise every analyte is searched on its own, sorted, so a long history never hides a result.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta

from . import terminology as t
from .rules.eligibility import BASELINE_LAB_MAX_AGE_DAYS, WEIGHT_MAX_AGE_DAYS
from .rules.monitoring import INFUSION_SOURCES

PATIENT = "{{context.patientId}}"
LATEST_FEW = 10  # "the latest few": enough to skip a few unusable results and see same-day repeats
PAGE = 200  # page size asked for when every result must be read


COMBINED_PAGE = 200  # page size of the combined Observation search (its only page)


@dataclass(frozen=True)
class ByCode:
    """What an Observation search by code asks for, so that it can be merged into one search with others."""

    codes: tuple[str, ...]  # "system|code"
    window: str | None  # the window token its results must fall in ("window.labs"), None: any date
    every: bool  # every result (of the window) is needed, not only the latest few
    analytes: tuple[str, ...] = ()  # what it looks for, as named to the user


@dataclass(frozen=True)
class Query:
    template: str  # relative URL; {{context.*}}, {{userXId}} and {{window.*}} tokens
    latest: bool = False  # sorted newest first: the first page is enough when the server honoured the sort
    fallback: Query | None = None  # run when this search finds nothing
    one_page: bool = False  # only the first page is read: a `next` link is a gap, not followed
    by_code: ByCode | None = None  # an Observation search by code that may be merged with others


def _codes(codes) -> tuple[str, ...]:
    return tuple(dict.fromkeys(f"{system}|{code}" for system, code in codes))


def _observations(analytes: tuple[str, ...], codes, window: str | None = None, fallback: Query | None = None,
                  latest: bool = True) -> Query:
    codes = _codes(codes)
    bound = f"&date=ge{{{{window.{window}}}}}" if window else ""
    count = LATEST_FEW if latest else PAGE
    return Query(f"Observation?patient={PATIENT}&code={','.join(codes)}{bound}&_sort=-date&_count={count}",
                 latest=latest, fallback=fallback,
                 by_code=ByCode(codes, f"window.{window}" if window else None, not latest, analytes))


def combined(parts: list[Query]) -> Query:
    """One Observation search for the codes of `parts` (each a `by_code` search), one page of COMBINED_PAGE,
    date-bounded only when every part has the same window. Unsorted: it is used only when that page is the
    whole answer, where order does not matter, and sorting is what costs a search engine most (Medplum 4.5.2's
    in-memory server: 33-37 ms sorted, 14.5 ms unsorted, for the eligible infant, 2026-11-24)."""
    codes = tuple(dict.fromkeys(c for p in parts for c in p.by_code.codes))
    windows = {p.by_code.window for p in parts}
    bound = f"&date=ge{{{{{windows.pop()}}}}}" if len(windows) == 1 and None not in windows else ""
    return Query(f"Observation?patient={PATIENT}&code={','.join(codes)}{bound}&_count={COMBINED_PAGE}", one_page=True)


# Bounded fallbacks: every lab result of the baseline window (which contains the titer's 14 days), every
# vital sign of the weight's window, and (genetics have no window) the whole lab history within the limits.
LAB_WINDOW_SCAN = Query(f"Observation?patient={PATIENT}&category=laboratory&date=ge{{{{window.labs}}}}"
                        f"&_sort=-date&_count={PAGE}")
VITALS_WINDOW_SCAN = Query(f"Observation?patient={PATIENT}&category=vital-signs&date=ge{{{{window.weight}}}}"
                           f"&_sort=-date&_count={PAGE}")
LAB_HISTORY_SCAN = Query(f"Observation?patient={PATIENT}&category=laboratory&_sort=-date&_count={PAGE}")

# PT and INR are one search: the rules read INR only when there is no PT (rules/eligibility.py), so "found
# nothing" (which starts the bounded fallback) means neither.
# Creatinine and hemoglobin: the FDA label's other baseline tests (a card suggests them when absent).
BASELINE_ANALYTES = (("alt",), ("ast",), ("bilirubin",), ("pt", "inr"), ("platelets",), ("troponin-i",),
                     ("creatinine",), ("hemoglobin",))


def eligibility_plan(local_codes: dict[tuple[str, str], str]) -> dict[str, tuple[Query, ...]]:
    """Source name -> the searches that read it, for a Zolgensma order. `local_codes`: (system, code) -> analyte,
    the site's configured codes, searched first together with the standard ones."""

    def codes(*analytes: str) -> list[tuple[str, str]]:
        return [key for a in analytes for key in [c.key for c in t.ANALYTES.get(a, ())]
                + [k for k, found in local_codes.items() if found == a]]

    labs = [_observations(group, codes(*group), "labs", LAB_WINDOW_SCAN) for group in BASELINE_ANALYTES]
    titer_codes = codes("aav9-titer")
    # The AAV9 titer has no LOINC code: the site's local codes first, else the window's lab results.
    labs.append(_observations(("aav9-titer",), titer_codes, None, LAB_WINDOW_SCAN) if titer_codes
                else LAB_WINDOW_SCAN)
    labs.append(_genetics(codes("genetics"), LAB_HISTORY_SCAN))
    vitals = (
        # no window: a stale weight is worth naming
        _observations(("weight",), codes("weight"), None, VITALS_WINDOW_SCAN),
        _observations(("gestational-age",), codes("gestational-age")),
        # Fever: every temperature of the window counts ("none recent" is read from this search), so it is
        # read completely, not just the latest few.
        _observations(("temperature",), codes("temperature"), "fever", latest=False),
    )
    return {
        "patient": (Query(f"Patient/{PATIENT}"),),
        "labs": tuple(labs),
        "vitals": vitals,
        "conditions": (Query(f"Condition?patient={PATIENT}&_count={PAGE}"),),
        "medication-requests": (Query(f"MedicationRequest?patient={PATIENT}&_count={PAGE}"),),
        "medication-administrations": (Query(f"MedicationAdministration?patient={PATIENT}&_count={PAGE}"),),
        "procedures": (Query(f"Procedure?patient={PATIENT}&_count={PAGE}"),),
        # with the payors' Organizations: a payor is identified by what it refers to (review 2026-11-24e T7)
        "coverage": (Query(f"Coverage?patient={PATIENT}&status=active&_include=Coverage:payor&_count=50"),),
        # a PractitionerRole user's role is read by id (issue 15)
        "practitioner-roles": (Query("PractitionerRole?practitioner={{userPractitionerId}}&_count=50"),
                               Query("PractitionerRole/{{userPractitionerRoleId}}")),
        # Lab orders already drafted/active (issue 15): recognised by code in translation, not suggested again.
        # Completed ones too: a completed Zolgensma infusion request is a prior dose (review 2026-11-24e T2).
        "service-requests": (
            Query(f"ServiceRequest?patient={PATIENT}&status=draft,active,on-hold,completed&_count=50"),),
        "care-teams": (Query(f"CareTeam?patient={PATIENT}&status=active&_count=50"),),
        "encounter": (Query("Encounter?_id={{context.encounterId}}&_include=Encounter:location&_count=10"),),
        "medication-statements": (Query(f"MedicationStatement?patient={PATIENT}&_count={PAGE}"),),
        "medication-dispenses": (Query(f"MedicationDispense?patient={PATIENT}&_count={PAGE}"),),
        "immunizations": (Query(f"Immunization?patient={PATIENT}&_count={PAGE}"),),
        "devices": (Query(f"Device?patient={PATIENT}&_count=50"),),
        "device-use": (Query(f"DeviceUseStatement?patient={PATIENT}&_include=DeviceUseStatement:device&_count=50"),),
        "device-requests": (Query(f"DeviceRequest?patient={PATIENT}&_count=50"),),
    }


def lab_codes_template() -> str:
    """A full prefetch's second lab search: the required analytes (baseline tests and SMN1 results) by their
    standard codes, whatever their category. The labs prefetch asks for category=laboratory, and a result
    recorded without it (an outside or point-of-care result) may be the newest (review 2026-11-24b L1)."""
    codes = _codes([c.key for group in BASELINE_ANALYTES for a in group for c in t.ANALYTES.get(a, ())]
                   + [c.key for c in t.GENETICS_SEARCH_CODES])
    return f"Observation?patient={PATIENT}&code={','.join(codes)}&_sort=-date&_count={PAGE}"


def _genetics(local: list[tuple[str, str]], fallback: Query | None) -> Query:
    """SMN1 results by the variant, test, copy-number and clinical-significance codes, read completely."""
    return _observations(("genetics",), [c.key for c in t.GENETICS_SEARCH_CODES] + local, None, fallback,
                         latest=False)


# Appointments from today on that still plan a visit (readiness: an infusion appointment is a target date).
APPOINTMENTS = Query(f"Appointment?patient={PATIENT}&status=proposed,pending,booked&date=ge{{{{window.today}}}}"
                     f"&_count=50")


def readiness_plan(local_codes: dict[tuple[str, str], str]) -> tuple[dict[str, tuple[Query, ...]], ...]:
    """The readiness service's searches in three steps, each only when the one before says the child may concern
    it (a patient-view service is called on every chart open): (1) the Patient, for the age; (2) for a child
    under 2, the Conditions (SMA diagnosis) and the SMN1 results by code (no fallback scan: an SMN1 result under
    an unconfigured code, with no SMA diagnosis coded, leaves the service quiet); (3) for a child with SMA
    evidence, what the order-time services read (but the encounter: there is no order yet) and the appointments."""
    full = eligibility_plan(local_codes)
    genetics = tuple(k for k, a in local_codes.items() if a == "genetics")
    first = {"patient": full["patient"]}
    second = {"conditions": full["conditions"], "labs": (_genetics(list(genetics), None),)}
    third = {name: q for name, q in full.items() if name not in ("patient", "conditions", "encounter")}
    return first, second, {**third, "appointments": (APPOINTMENTS,)}


# The tests the boxed warning monitors (liver function, platelets, troponin-I; FDA label 5.1, 5.2, 5.4), searched
# by code as well: a result filed without category=laboratory (an outside or point-of-care result) is not in
# the lab history scan, and a newer ALT missed there could let a taper be suggested (review 2026-11-24b P1).
MONITORED_ANALYTES = ("alt", "ast", "bilirubin", "pt", "inr", "platelets", "troponin-i")


def monitoring_plan() -> dict[str, tuple[Query, ...]]:
    """The monitoring service trends every lab against the pre-infusion baseline: the whole lab history, and
    every result of the monitored tests by code (read completely)."""
    monitored = [c.key for a in MONITORED_ANALYTES for c in t.ANALYTES.get(a, ())]
    return {
        "patient": (Query(f"Patient/{PATIENT}"),),
        "labs": (LAB_HISTORY_SCAN, _observations(MONITORED_ANALYTES, monitored, latest=False)),
        "medication-requests": (Query(f"MedicationRequest?patient={PATIENT}&_count={PAGE}"),),
        "medication-administrations": (Query(f"MedicationAdministration?patient={PATIENT}&_count={PAGE}"),),
        "procedures": (Query(f"Procedure?patient={PATIENT}&_count={PAGE}"),),
        "medication-dispenses": (Query(f"MedicationDispense?patient={PATIENT}&_count={PAGE}"),),
        # A completed Zolgensma infusion ServiceRequest dates day 0 as order-sign reads it as a prior dose (review
        # 2026-11-24g G6); the same search as the order-time services' (one prefetch key, one answer per route).
        "service-requests": (
            Query(f"ServiceRequest?patient={PATIENT}&status=draft,active,on-hold,completed&_count={PAGE}"),),
        # Outcomes milestones (rules/milestones.py): ventilation on record, and the assessments, read completely.
        "conditions": (Query(f"Condition?patient={PATIENT}&_count={PAGE}"),),
        "assessments": (Query(f"Observation?patient={PATIENT}&category=exam,survey,therapy,activity&_sort=-date"
                              f"&_count={PAGE}"),),
    }


def monitoring_steps() -> tuple[dict[str, tuple[Query, ...]], ...]:
    """The monitoring service's searches in three steps, each only when the one before says the patient may
    concern it (a patient-view service is called on every chart open): (1) the Patient, for the age; (2) for a
    child, the sources day 0 is found in (rules.monitoring.INFUSION_SOURCES: administrations, medication orders,
    procedures, dispenses), read completely as before; (3) for a child with a Zolgensma dose on record, or one of those
    sources not read completely, the rest (lab history, conditions, assessments)."""
    plan = monitoring_plan()
    doses = {name: plan[name] for name in INFUSION_SOURCES}
    rest = {name: q for name, q in plan.items() if name != "patient" and name not in doses}
    return {"patient": plan["patient"]}, doses, rest


ALTERNATIVE_TEMPLATES = frozenset({"practitioner-roles"})  # its searches are alternatives: the first that applies
# Prefetched sources whose by-code searches are checked against what the EHR sent: the labs prefetch asks for
# category=laboratory, so a lab result recorded without a category is not in it. A required analyte absent
# from it is searched by code on the FHIR server (data_access.gather).
FOLLOW_UP_BY_CODE = frozenset({"labs"})


def windows(as_of: date, today: date) -> dict[str, str]:
    """The dates that bound the searches (FHIR date search values). Windows start from the earlier of the
    evaluation date and today, so they always contain what the rules look at."""
    start = min(as_of, today)
    return {
        "window.labs": (start - timedelta(days=BASELINE_LAB_MAX_AGE_DAYS)).isoformat(),
        "window.weight": (start - timedelta(days=WEIGHT_MAX_AGE_DAYS)).isoformat(),
        "window.fever": (today - timedelta(days=t.FEVER_WINDOW_DAYS)).isoformat(),
        "window.today": today.isoformat(),
    }
