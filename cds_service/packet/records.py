"""An exported record (one patient's FHIR Bundle, or Bulk Data NDJSON of many) as the hook request the
service answers: the Zolgensma order in `draftOrders`, everything else as prefetch. A prefetch key with no
resources is `null` ("no data"), as an EHR sends it: the export is the patient's whole record, so a source
it has nothing for was read and is empty."""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import date

from ..data_access import SOURCES
from ..fhir_client import read_page
from ..translate.records import (
    FHIR_ID,
    SHARED_TYPES,
    patient_id_of,
    planned_order,
    prescriber_roles,
    requester_reference,
    with_planned_date,
    zolgensma_orders,
)

TOOL_USER = "Device/zolgensma-packet"


class BadRecord(ValueError):
    """A record the packet cannot be made for; the message says why."""


@dataclass
class Record:
    """One patient's resources (and the shared ones), as read from the export."""

    label: str  # where it came from, for reports: "line 3" or "Patient/x"
    resources: list[dict] = field(default_factory=list)
    # Parts of the export that could not be read and might have been this patient's: every source then
    # counts as not read completely, so no "none on record" conclusion rests on it.
    gaps: list[str] = field(default_factory=list)


def _source_keys() -> dict[str, str]:
    """resourceType -> prefetch key, from the service's own templates (the first one that queries the type)."""
    keys: dict[str, str] = {}
    for source in SOURCES:
        rtype = source.templates[0].split("?")[0].split("/")[0]
        keys.setdefault(rtype, source.key)
    keys.setdefault("Location", next(s.key for s in SOURCES if s.name == "encounter"))  # read with the Encounter
    return keys


def hook_request(record: Record, order_ref: str | None, planned: date | None) -> dict:
    """The order-sign request for one patient's record. Raises BadRecord."""
    patients = {patient_id_of(r) for r in record.resources if r.get("resourceType") == "Patient"}
    owners = {patient_id_of(r) for r in record.resources} - {None}
    ids = patients or owners
    if len(ids) != 1:
        raise BadRecord(f"{record.label}: expected one patient's record, found {len(ids)} patients")
    patient_id = ids.pop()
    if not isinstance(patient_id, str) or not FHIR_ID.fullmatch(patient_id):
        raise BadRecord(f"{record.label}: the patient id is not a valid FHIR id")
    order = _order(record, patient_id, order_ref, planned)
    keys = _source_keys()
    grouped: dict[str, list[dict]] = {}
    roles = prescriber_roles(order, [r for r in record.resources if r.get("resourceType") == "PractitionerRole"])
    for r in record.resources:
        if r is order or (r.get("resourceType") == "MedicationRequest" and r.get("id") == order.get("id")):
            continue  # the order under review is the draft, as in a hook call
        if r.get("resourceType") == "PractitionerRole" and not any(r is role for role in roles):
            continue  # only the prescriber's roles speak to criterion 1
        key = keys.get(r.get("resourceType"))
        if key:
            grouped.setdefault(key, []).append(r)
    prefetch: dict = {}
    for source in SOURCES:
        found = grouped.get(source.key)
        if source.key == "patient":
            prefetch[source.key] = found[0] if found else None
        else:
            entries = [{"resource": r} for r in found or ()] + [{"unreadable": gap} for gap in record.gaps]
            prefetch[source.key] = {"resourceType": "Bundle", "type": "searchset", "total": len(found or ()),
                                    "entry": entries} if entries else None
    return {"hook": "order-sign", "hookInstance": str(uuid.uuid4()),
            # The user is the prescriber when the order names one, else this tool.
            "context": {"patientId": patient_id, "userId": requester_reference(order) or TOOL_USER,
                        # The record's Medications travel with the order, as an EHR may send them.
                        "draftOrders": {"resourceType": "Bundle", "type": "collection",
                                        "entry": [{"resource": order}] + [
                                            {"resource": r} for r in record.resources
                                            if r.get("resourceType") == "Medication"]}},
            "prefetch": prefetch}


def _order(record: Record, patient_id: str, order_ref: str | None, planned: date | None) -> dict:
    if order_ref:
        found = [r for r in record.resources if f"{r.get('resourceType')}/{r.get('id')}" == order_ref]
        if not found:
            raise BadRecord(f"{record.label}: {order_ref} is not in the record")
        order = found[0]
    else:
        orders = zolgensma_orders(record.resources)
        if len(orders) > 1:
            raise BadRecord(f"{record.label}: {len(orders)} open Zolgensma orders; name one with --order")
        if not orders:
            if planned is None:
                raise BadRecord(f"{record.label}: no open Zolgensma order; give --order or --planned-date")
            return planned_order(patient_id, planned)
        order = orders[0]
    return with_planned_date(order, planned) if planned else order


def read_bundle(data: bytes | str, label: str) -> Record:
    try:
        bundle = json.loads(data)
    except (ValueError, RecursionError) as err:
        raise BadRecord(f"{label}: not JSON ({err})") from None
    if not isinstance(bundle, dict) or bundle.get("resourceType") != "Bundle":
        raise BadRecord(f"{label}: not a FHIR Bundle")
    return _bundle_record(bundle, label)


def _bundle_record(bundle: dict, label: str) -> Record:
    page = read_page(bundle)
    return Record(label, [r for r in page.resources if isinstance(r.get("resourceType"), str)], list(page.gaps))


def read_ndjson(lines: Iterable[bytes | str], problems: list[str]) -> Iterator[Record]:
    """Records from NDJSON: a line holding a Bundle is one patient's record; resource lines are grouped by
    patient (resources that belong to no patient, such as Location or PractitionerRole, go with every patient;
    only those a patient's resources refer to are used). Unusable lines are added to `problems` and skipped;
    a line that cannot be read at all could have been anyone's, so it is a gap in every patient's record."""
    by_patient: dict[str, Record] = {}
    shared: list[dict] = []
    unreadable: list[str] = []
    for number, line in enumerate(lines, 1):
        if not line.strip():
            continue
        label = f"line {number}"
        try:
            resource = json.loads(line)
        except (ValueError, RecursionError):  # bad UTF-8, bad JSON, absurd nesting
            problems.append(f"{label}: skipped, not JSON (UTF-8)")
            unreadable.append(f"export {label} could not be read (not JSON)")
            continue
        if not isinstance(resource, dict) or not isinstance(resource.get("resourceType"), str):
            problems.append(f"{label}: skipped, not a FHIR resource")
            unreadable.append(f"export {label} could not be read (not a FHIR resource)")
            continue
        if resource["resourceType"] == "Bundle":
            yield _bundle_record(resource, label)
            continue
        if resource["resourceType"] in SHARED_TYPES:
            shared.append(resource)
            continue
        owner = patient_id_of(resource)
        if owner is None:
            problems.append(f"{label}: skipped, {resource['resourceType']} belongs to no Patient/<id>")
            continue
        by_patient.setdefault(owner, Record(f"Patient/{owner}")).resources.append(resource)
    for record in by_patient.values():
        record.resources += shared
        record.gaps += unreadable
        yield record
