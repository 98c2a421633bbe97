"""Whose and when: identity and time checks on raw FHIR JSON, before a resource can be evidence.

Identity: every clinical resource names its patient (`subject`, `patient` or `beneficiary`), and that must be
the hook's context patient; the Patient resource's own id must be `context.patientId`. Anything else is
another person's record (a sibling's titer, a mother's chart) and never contributes evidence.
Time: a result dated after the service's current time is not evidence (a typo, a wrong clock, a result
entered against the wrong date). We allow CLOCK_SKEW for clocks that differ a little; a date without a time
is in the future only once no place on Earth has reached it (UTC+14).
"""

from __future__ import annotations

import re
import string
from datetime import date, datetime, timedelta

# Clock skew allowed between the EHR's clocks and ours (project choice: NTP-synchronised servers differ
# by well under a second; five minutes also covers a lab instrument's clock set by hand).
CLOCK_SKEW = timedelta(minutes=5)
# The largest UTC offset in use (UTC+14, Line Islands): a bare date is "today" somewhere until then.
MAX_UTC_OFFSET = timedelta(hours=14)

# Resource types that belong to one patient, and the element naming that patient (FHIR R4).
PATIENT_ELEMENT = {
    "Observation": "subject", "Condition": "subject", "MedicationRequest": "subject",
    "MedicationAdministration": "subject", "MedicationStatement": "subject", "Procedure": "subject",
    "MedicationDispense": "subject", "Immunization": "patient",
    "CareTeam": "subject", "Encounter": "subject", "ServiceRequest": "subject", "DeviceRequest": "subject",
    "DeviceUseStatement": "subject", "Device": "patient", "Coverage": "beneficiary",
}
# "Patient/123", "https://ehr.example.org/fhir/Patient/123", ".../Patient/123/_history/2"
_PATIENT_REFERENCE = re.compile(r"(?:^|/)Patient/([A-Za-z0-9\-.]{1,64})(?:/_history/[A-Za-z0-9\-.]{1,64})?$")


def not_this_patients(resource: dict, patient_id: str) -> str | None:
    """Why `resource` cannot be taken as the context patient's, or None when it can."""
    rtype = resource.get("resourceType")
    if rtype == "Patient":
        rid = resource.get("id")
        return None if rid == patient_id else f"a Patient resource for {_shown(rid)}, not Patient/{patient_id}"
    if rtype == "Appointment":
        return _not_a_participant(resource, patient_id)
    element = PATIENT_ELEMENT.get(rtype)
    if element is None:
        return None
    ref = resource.get(element)
    text = ref.get("reference") if type(ref) is dict else None
    if text == "Patient/" + patient_id and _is_id(patient_id):  # the usual case: what the regex below accepts
        return None
    if type(text) is not str:
        return f"its {element} does not name a patient, so it may not be this patient's"
    match = _PATIENT_REFERENCE.search(text.strip())
    if match is None or match.group(1) != patient_id:
        return f"its {element} is {_shown(text)}, not Patient/{patient_id}"
    return None


_ID_CHARACTERS = string.ascii_letters + string.digits + "-."


def _is_id(text: str) -> bool:
    """Does `text` match _PATIENT_REFERENCE's id, [A-Za-z0-9-.]{1,64}?"""
    return 0 < len(text) <= 64 and not text.strip(_ID_CHARACTERS)


def _not_a_participant(appointment: dict, patient_id: str) -> str | None:
    """An Appointment names its patient among its participants' actors (FHIR R4 Appointment.participant)."""
    participants = appointment.get("participant")
    actors = [p.get("actor") for p in participants if type(p) is dict] if type(participants) is list else []
    refs = [a.get("reference").strip() for a in actors if type(a) is dict and type(a.get("reference")) is str]
    patients = [m.group(1) for m in map(_PATIENT_REFERENCE.search, refs) if m]
    if patient_id in patients:
        return None
    if not patients:
        return "no participant is a patient, so it may not be this patient's"
    return f"its patient participant is {_shown(', '.join(refs))}, not Patient/{patient_id}"


def after_now(value, now: datetime | None, today: date) -> bool:
    """Is this FHIR date/dateTime later than now (with CLOCK_SKEW)? Without `now`, by calendar date
    against `today`. Unparseable values are not judged here (validation reports them)."""
    if type(value) is not str or len(value) < 10:
        return False
    try:
        day = date.fromisoformat(value[:10])
    except ValueError:
        return False
    if now is not None and len(value) > 10:
        try:
            moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
        except ValueError:
            moment = None
        if moment is not None and moment.tzinfo is not None:
            return moment > now + CLOCK_SKEW
    latest_day = (now + MAX_UTC_OFFSET + CLOCK_SKEW).date() if now is not None else today
    return day > latest_day


def _shown(value) -> str:
    return repr(value)[:80] if type(value) is not str else value[:80]
