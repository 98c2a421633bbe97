"""FHIR knowledge for reading an exported record (a Bundle, or Bulk Data NDJSON) outside a hook call:
whose record a resource belongs to, the Zolgensma orders in it, and an order's planned infusion date.
Used by the packet command line (packet/records.py)."""

from __future__ import annotations

import re
from datetime import date

from ..terminology import OPEN_REQUEST_STATUSES
from .products import is_zolgensma, medication_index

# FHIR R4 id: [A-Za-z0-9\-\.]{1,64} (also safe as part of a file name).
FHIR_ID = re.compile(r"[A-Za-z0-9\-.]{1,64}")
# Resources that belong to no patient but that a patient's resources refer to (site of care, products).
SHARED_TYPES = ("Location", "Medication", "Organization", "Practitioner", "PractitionerRole")
_PATIENT_ELEMENTS = ("subject", "patient", "beneficiary")


def patient_id_of(resource: dict) -> str | None:
    """The id of the patient a resource belongs to (`Patient/<id>` references only), or None."""
    if resource.get("resourceType") == "Patient":
        rid = resource.get("id")
        return rid if isinstance(rid, str) else None
    for element in _PATIENT_ELEMENTS:
        value = resource.get(element)
        ref = value.get("reference") if isinstance(value, dict) else None
        if isinstance(ref, str) and ref.startswith("Patient/"):
            return ref[len("Patient/"):]
    return None


def requester_reference(order: dict) -> str | None:
    """The order's `requester` reference (`Type/id`), if it has one."""
    requester = order.get("requester")
    ref = requester.get("reference") if isinstance(requester, dict) else None
    return ref if isinstance(ref, str) and "/" in ref.strip("/") else None


def prescriber_roles(order: dict, roles: list[dict]) -> list[dict]:
    """The PractitionerRoles of the order's requester (the role itself, or the roles of the Practitioner): in a
    hook these are the signing user's; here the prescriber's, for criterion 1."""
    ref = requester_reference(order)
    if ref is None:
        return []
    return [r for r in roles if f"PractitionerRole/{r.get('id')}" == ref
            or (isinstance(r.get("practitioner"), dict) and r["practitioner"].get("reference") == ref)]


def zolgensma_orders(resources: list, medications: dict | None = None) -> list[dict]:
    """Open (draft, active, on-hold) Zolgensma MedicationRequests (the product named or referenced: among
    `medications`, else the Medications in `resources`). Entries that are not resources are passed over."""
    if medications is None:
        medications = medication_index(resources)
    return [r for r in resources if isinstance(r, dict) and r.get("resourceType") == "MedicationRequest"
            and r.get("status") in OPEN_REQUEST_STATUSES and is_zolgensma(r, medications)]


def with_planned_date(order: dict, planned: date) -> dict:
    """A copy of the order whose planned infusion date (dosageInstruction[0].timing.event, the first place the
    translator looks) is `planned`."""
    copy = dict(order)
    dosages = [dict(d) if isinstance(d, dict) else {} for d in (order.get("dosageInstruction") or [{}])]
    timing = dict(dosages[0].get("timing") or {}) if isinstance(dosages[0].get("timing"), dict) else {}
    timing["event"] = [planned.isoformat()]
    dosages[0]["timing"] = timing
    copy["dosageInstruction"] = dosages
    return copy


def planned_order(patient_id: str, planned: date) -> dict:
    """A draft order standing for a planned infusion when the record has none: the drug by name only (no code
    is emitted), no dose (so the dose criterion stays unknown), the date given."""
    return {"resourceType": "MedicationRequest", "id": "planned-zolgensma", "status": "draft", "intent": "order",
            "subject": {"reference": f"Patient/{patient_id}"},
            "medicationCodeableConcept": {
                "text": "Zolgensma (onasemnogene abeparvovec-xioi): planned infusion, no order on record"},
            "dosageInstruction": [{"timing": {"event": [planned.isoformat()]}}]}
