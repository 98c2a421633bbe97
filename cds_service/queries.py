"""Which FHIR searches the service makes when prefetch did not bring the data: targeted and bounded.

Every search carries `_count`. Results the rules read as "the latest" (labs, vitals) are asked for by code per
analyte, newest first (`_sort=-date`), a few at a time, and date-bounded where the rule has a window (the
service computes the dates). Results the rules read as "none on record" (conditions, prior doses) are read
completely, page by page, within the client's limits, or the source counts as unread.

A server that ignores a parameter never makes the answer wrong: the translator re-checks codes, dates,
statuses and the patient of every resource; a "latest" search stops after its first page only when the
server says it sorted newest first (the Bundle's self link) and the page is in that order, otherwise every
page is read (fhir_client.FhirClient.get). A code search that finds nothing is followed by a bounded
search without the code (`fallback`): results under unconfigured local codes or only a name are still found.
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


@dataclass(frozen=True)
class Query:
    template: str  # relative URL; {{context.*}}, {{userXId}} and {{window.*}} tokens
    latest: bool = False  # sorted newest first: the first page is enough when the server honoured the sort
    fallback: Query | None = None  # run when this search finds nothing


def _codes(codes) -> str:
    return ",".join(f"{system}|{code}" for system, code in codes)


def _observations(codes, window: str | None = None, fallback: Query | None = None, latest: bool = True) -> Query:
    bound = f"&date=ge{{{{window.{window}}}}}" if window else ""
    count = LATEST_FEW if latest else PAGE
    return Query(f"Observation?patient={PATIENT}&code={_codes(codes)}{bound}&_sort=-date&_count={count}",
                 latest=latest, fallback=fallback)


# Bounded fallbacks: every lab result of the baseline window (which contains the titer's 14 days), every
# vital sign of the weight's window, and (genetics have no window) the whole lab history within the limits.
LAB_WINDOW_SCAN = Query(f"Observation?patient={PATIENT}&category=laboratory&date=ge{{{{window.labs}}}}"
                        f"&_sort=-date&_count={PAGE}")
VITALS_WINDOW_SCAN = Query(f"Observation?patient={PATIENT}&category=vital-signs&date=ge{{{{window.weight}}}}"
                           f"&_sort=-date&_count={PAGE}")
LAB_HISTORY_SCAN = Query(f"Observation?patient={PATIENT}&category=laboratory&_sort=-date&_count={PAGE}")

BASELINE_ANALYTES = ("alt", "ast", "bilirubin", "pt", "inr", "platelets", "troponin-i")


def eligibility_plan(local_codes: dict[tuple[str, str], str]) -> dict[str, tuple[Query, ...]]:
    """Source name -> the searches that read it, for a Zolgensma order. `local_codes`: (system, code) -> analyte,
    the site's configured codes, searched first together with the standard ones."""

    def codes(analyte: str) -> list[tuple[str, str]]:
        return [c.key for c in t.ANALYTES.get(analyte, ())] + [k for k, a in local_codes.items() if a == analyte]

    labs = [_observations(codes(a), "labs", LAB_WINDOW_SCAN) for a in BASELINE_ANALYTES]
    titer_codes = codes("aav9-titer")
    # The AAV9 titer has no LOINC code: the site's local codes first, else the window's lab results.
    labs.append(_observations(titer_codes, None, LAB_WINDOW_SCAN) if titer_codes else LAB_WINDOW_SCAN)
    labs.append(_genetics(codes("genetics"), LAB_HISTORY_SCAN))
    vitals = (
        _observations(codes("weight"), None, VITALS_WINDOW_SCAN),  # no window: a stale weight is worth naming
        _observations(codes("gestational-age")),
        # Fever: every temperature of the window counts ("none recent" is read from this search), so it is
        # read completely, not just the latest few.
        _observations(codes("temperature"), "fever", latest=False),
    )
    return {
        "patient": (Query(f"Patient/{PATIENT}"),),
        "labs": tuple(labs),
        "vitals": vitals,
        "conditions": (Query(f"Condition?patient={PATIENT}&_count={PAGE}"),),
        "medication-requests": (Query(f"MedicationRequest?patient={PATIENT}&_count={PAGE}"),),
        "medication-administrations": (Query(f"MedicationAdministration?patient={PATIENT}&_count={PAGE}"),),
        "procedures": (Query(f"Procedure?patient={PATIENT}&_count={PAGE}"),),
        "coverage": (Query(f"Coverage?patient={PATIENT}&status=active&_count=50"),),
        # a PractitionerRole user's role is read by id (issue 15)
        "practitioner-roles": (Query("PractitionerRole?practitioner={{userPractitionerId}}&_count=50"),
                               Query("PractitionerRole/{{userPractitionerRoleId}}")),
        # Lab orders already drafted/active (issue 15): recognised by code in translation, not suggested again.
        "service-requests": (Query(f"ServiceRequest?patient={PATIENT}&status=draft,active,on-hold&_count=50"),),
        "care-teams": (Query(f"CareTeam?patient={PATIENT}&status=active&_count=50"),),
        "encounter": (Query("Encounter?_id={{context.encounterId}}&_include=Encounter:location&_count=10"),),
        "medication-statements": (Query(f"MedicationStatement?patient={PATIENT}&_count={PAGE}"),),
        "devices": (Query(f"Device?patient={PATIENT}&_count=50"),),
        "device-use": (Query(f"DeviceUseStatement?patient={PATIENT}&_include=DeviceUseStatement:device&_count=50"),),
    }


def _genetics(local: list[tuple[str, str]], fallback: Query | None) -> Query:
    """SMN1 results by the variant, test, copy-number and clinical-significance codes, read completely."""
    return _observations([c.key for c in t.GENETICS_SEARCH_CODES] + local, None, fallback, latest=False)


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


def monitoring_plan() -> dict[str, tuple[Query, ...]]:
    """The monitoring service trends every lab against the pre-infusion baseline: the whole lab history."""
    return {
        "patient": (Query(f"Patient/{PATIENT}"),),
        "labs": (LAB_HISTORY_SCAN,),
        "medication-requests": (Query(f"MedicationRequest?patient={PATIENT}&_count={PAGE}"),),
        "medication-administrations": (Query(f"MedicationAdministration?patient={PATIENT}&_count={PAGE}"),),
        "procedures": (Query(f"Procedure?patient={PATIENT}&_count={PAGE}"),),
        # Outcomes milestones (rules/milestones.py): ventilation on record, and the assessments, read completely.
        "conditions": (Query(f"Condition?patient={PATIENT}&_count={PAGE}"),),
        "assessments": (Query(f"Observation?patient={PATIENT}&category=exam,survey,therapy,activity&_sort=-date"
                              f"&_count={PAGE}"),),
    }


def monitoring_steps() -> tuple[dict[str, tuple[Query, ...]], ...]:
    """The monitoring service's searches in three steps, each only when the one before says the patient may
    concern it (a patient-view service is called on every chart open): (1) the Patient, for the age; (2) for a
    child, the sources day 0 is found in (rules.monitoring.INFUSION_SOURCES: administrations, medication orders,
    procedures), read completely as before; (3) for a child with a Zolgensma dose on record, or one of those
    sources not read completely, the rest (lab history, conditions, assessments)."""
    plan = monitoring_plan()
    doses = {name: plan[name] for name in INFUSION_SOURCES}
    rest = {name: q for name, q in plan.items() if name != "patient" and name not in doses}
    return {"patient": plan["patient"]}, doses, rest


ALTERNATIVE_TEMPLATES = frozenset({"practitioner-roles"})  # its searches are alternatives: the first that applies


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
