"""FHIR R4 resources -> typed facts. The only package that knows FHIR element paths.

Parse leniently (local codes, names, odd units, titers as strings/ratios/quantities, draft orders
without `intent`), decide strictly: a resource that cannot be read with certainty is skipped and
reported as a DataIssue, never guessed. One reader module per resource family; the Translator
below combines them and owns validation and the per-resource safety net.
"""

from __future__ import annotations

import logging
from datetime import date, datetime

from .. import terminology as t
from ..errors import where_it_failed
from ..facts import DataIssue, PatientFacts, Unread
from ..fhir_validation import InvalidResource, validate
from .checks import after_now, not_this_patients
from .clinical import ClinicalReader
from .common import _day_span, _ref, _to_date, tidy, tidy_status, unreadable_concept
from .medications import MedicationReader, _lenient_draft
from .observations import LocalCodes, ObservationReader
from .people import CoverageReader, payer_key
from .products import (
    LABELER_PRODUCT,
    _medication_concept,
    as_medication,
    is_zolgensma,
    medication_index,
    medication_kind,
    unresolved_medication_ids,
)
from .scheduling import SchedulingReader

# A resource of these types that is not read is evidence of this kind unread. A Procedure or a device could be
# the infusion or an advanced-SMA marker: unknown kind (None), so both criteria reading those sources wait.
_KIND_BY_TYPE = {"Patient": "patient", "Condition": "condition", "Coverage": "coverage", "CareTeam": "specialist",
                 "PractitionerRole": "specialist", "Encounter": "site", "Location": "site",
                 "Procedure": None, "Device": "advanced-sma", "DeviceUseStatement": "advanced-sma",
                 "DeviceRequest": "advanced-sma",
                 "Appointment": "appointment"}
__all__ = ["LocalCodes", "Translator", "is_zolgensma", "medication_index", "medication_kind",
           "unresolved_medication_ids"]
log = logging.getLogger("cds_service.translate")


class Translator(ObservationReader, MedicationReader, ClinicalReader, CoverageReader, SchedulingReader):
    def __init__(self, patient_id: str, local_codes: LocalCodes | None = None, strict: bool = False,
                 latest_only: bool = True, now: datetime | None = None,
                 medications: dict[str, dict] | None = None, policy_payers: tuple[str, ...] = (),
                 user: str | None = None):
        self.facts = PatientFacts(patient_reference=f"Patient/{patient_id}")
        # The hook's context.userId ("Practitioner/x" or "PractitionerRole/y"): only its roles are the
        # prescriber's (criterion 1); None: a caller that names no user.
        self.user = user.strip().strip("/") if isinstance(user, str) else None
        # Names of the plan whose policy is applied, beside terminology.POLICY_PAYER (people.payer_key form).
        self.policy_payers = tuple(payer_key(n) for n in (t.POLICY_PAYER, *policy_payers) if payer_key(n))
        self.patient_id = patient_id
        # The service's current time, against which future-dated results are refused (checks.after_now);
        # None: by calendar date against `today` (tests that inject only a date).
        self.now = now
        self.today = date.today()
        self.local = local_codes or LocalCodes()
        self.strict = strict
        # The eligibility rules read only the latest result per analyte (on or before the evaluation
        # date), so older results are neither validated nor converted: a long lab history costs little.
        self.latest_only = latest_only
        self._pending: dict[str, list[tuple[str, dict]]] = {}  # analyte -> [(source, Observation)]
        self._ranged: list = []  # (Measurement, its reference ranges): matched to the patient's age at the end
        self._source = "draft-orders"  # the source of the resource being read
        self._codes = self.local.table
        self._encounters: list = []
        self._locations: dict = {}
        self._implications: dict[str, str] = {}  # variant Observation reference -> significance (genetics.py)
        # Medications named by reference (medication_index: draft Bundle, prefetch, server reads) and the
        # Devices of this request: DeviceUseStatement.device is resolved against them.
        self.medications = dict(medications or {})
        self._devices: dict[str, dict] = {}
        self._organizations: dict[str, dict] = {}
        # Scheduled infusions (scheduling.py): candidates with the references they make, resolved after the
        # whole record is read; the open Zolgensma MedicationRequests an Appointment may refer to.
        self._candidates: list = []
        self._zolgensma_orders: set[str] = set()

    # Entry point ------------------------------------------------------------------------------
    def build(self, sources: dict[str, list[dict] | None], order: dict, draft_orders: list[dict],
              issues: list[DataIssue], today: date, gaps: dict[str, list[str]] | None = None) -> PatientFacts:
        """`sources` maps source name -> resources (None when that source could not be read); `gaps` names,
        per source, why its answer may be incomplete (data_access.Gathered.gaps)."""
        f = self.facts
        f.issues.extend(issues)
        f.sources_read = {name for name, resources in sources.items() if resources is not None}
        f.source_gaps = dict(gaps or {})
        self.today = today
        f.order = self.zolgensma_order(order)
        planned = f.order.planned_date if f.order else None
        horizon = max(planned, today) if planned else today
        handlers = {
            "Patient": self._patient, "Observation": self._observation, "Condition": self._condition,
            "MedicationRequest": self._medication_request,
            "MedicationAdministration": self._medication_administration, "Procedure": self._procedure,
            "MedicationStatement": self._medication_statement, "Device": self._device,
            "MedicationDispense": self._medication_dispense, "Immunization": self._immunization,
            "DeviceUseStatement": self._device_use, "DeviceRequest": self._device_request,
            "Coverage": self._coverage, "PractitionerRole": self._practitioner_role,
            "CareTeam": self._care_team, "Encounter": self._encounter, "Location": self._location,
            "ServiceRequest": self._service_request, "Appointment": self._appointment,
        }
        everything = [r for resources in sources.values() for r in resources or () if type(r) is dict]
        self.medications.update(medication_index(everything))
        self._devices = {f"Device/{r['id']}": r for r in everything
                         if r.get("resourceType") == "Device" and type(r.get("id")) is str}
        # Organizations read with the record (Coverage.payor, `_include`): a payor is identified by what it refers to.
        self._organizations = {f"Organization/{r['id']}": r for r in everything
                               if r.get("resourceType") == "Organization" and type(r.get("id")) is str}
        seen: dict[tuple[str, str], dict] = {}
        for name, resources in sources.items():
            self._source = name
            for resource in resources or ():
                rtype = resource.get("resourceType") if type(resource) is dict else None
                if type(rtype) is not str:
                    self._skip({}, "skipped: an entry that is not a FHIR resource")
                    continue
                resource = tidy_status(resource)
                rid = resource.get("id")
                if type(rid) is str:  # the same resource from two searches is read once
                    first = seen.setdefault((rtype, rid), resource)
                    if first is not resource:
                        if first == resource:
                            continue
                        # Two different copies under one id: both are read (neither is known to be the
                        # right one), and the clash is reported.
                        f.issues.append(DataIssue(_ref(resource), "two different versions in the record; both read"))
                stranger = not_this_patients(resource, self.patient_id)
                if stranger:  # never evidence; and a search that returned it is not a complete answer
                    self._skip(resource, f"skipped: {stranger}", self._kind_of(resource))
                    continue
                handler = handlers.get(rtype)
                if handler:
                    self._safely(handler, resource)
        self._resolve_pending(horizon)
        self._apply_reference_ranges()
        self._report_disagreements()
        self._finish_genetics()
        self._finish_planned_infusions()
        self._source = "draft-orders"
        f.site_of_care = self._site_of_care()
        for draft in draft_orders:
            if draft is not order and draft.get("resourceType") == "MedicationRequest":
                self._safely(self._medication_request, _lenient_draft(draft, f.patient_reference))
            elif draft.get("resourceType") == "ServiceRequest":  # a lab drafted in this ordering session
                self._safely(self._service_request, _lenient_draft(draft, f.patient_reference))
        return f

    def _safely(self, handler, resource: dict, *args) -> None:
        """Last line of defence: a resource we fail to read is skipped and reported, never fatal."""
        try:
            handler(resource, *args)
        except Exception as err:  # noqa: BLE001 - reported as a data issue, logged with the stack
            log.error("could not read %s: %s", _ref(resource), where_it_failed(err))
            self._skip(resource, "skipped: could not be read")

    def _kind_of(self, resource: dict) -> str | None:
        """What a resource would be evidence of, read leniently (for resources that are not used)."""
        rtype = resource.get("resourceType")
        if rtype == "Observation":
            return self.classify(resource.get("code")) or (None if unreadable_concept(resource.get("code"))
                                                           else "other")
        if rtype in t.MEDICATION_RESOURCES or rtype == "Immunization":  # a vaccine, unless its code says Zolgensma
            resource = as_medication(resource) if rtype == "Immunization" else resource
            kind = medication_kind(resource, self.medications, self._codes)
            kind = "zolgensma" if kind == LABELER_PRODUCT else kind  # it may be Zolgensma
            return kind or (None if unreadable_concept(_medication_concept(resource, self.medications)) else "other")
        return _KIND_BY_TYPE.get(rtype, "other") if type(rtype) is str else None

    def _future(self, value) -> bool:
        return after_now(value, self.now, self.today)

    def _skipped_as_future(self, resource: dict, stated, kind: str | None) -> bool:
        """True, with the resource reported and remembered as unread, when it is dated after the current time: a
        result or record from the future is never evidence (and is newer than any other: the rules wait)."""
        if not self._future(stated):
            return False
        self._skip(resource, f"skipped: dated {stated}, after the current time: not evidence", kind)
        return True

    def _skip(self, resource: dict, reason: str, kind: str | None = None, when: date | None = None) -> None:
        """Report a resource that is not used as evidence, and remember it against its source: a "none on
        record" conclusion about its kind (None: unknown, any kind) cannot rest on that source."""
        ref = _ref(resource) if resource else f"an entry of {self._source}"
        self.facts.issues.append(DataIssue(ref, reason))
        self.facts.unread.append(Unread(self._source, ref, reason, kind, when))

    def _valid(self, resource: dict, kind: str | None = None, when: date | None = None,
               droppable: frozenset[str] = frozenset(), lost: list[str] | None = None, skipped_as: str = "skipped"):
        """The validated subset, or None (skipped, reported with `skipped_as`, remembered as unread). Invalid
        elements that no decision needs (fhir_validation.DROPPABLE, plus `droppable`) are left out and reported
        instead; with `lost`, they are put there for the caller to report (it decides what their loss means)."""
        try:
            model, dropped = validate(resource, self.strict, droppable)
        except InvalidResource as err:
            try:  # harmless noise (whitespace, case of status codes) first, then strictly
                model, dropped = validate(tidy(resource), self.strict, droppable)
            except InvalidResource:
                self._skip(resource, f"{skipped_as}: {err}", kind, when)
                return None
        if "id (invalid)" in dropped and type(resource.get("id")) is str:
            model["id"] = resource["id"][:64]  # shown as the EHR names it, so that it can be found and fixed
        if lost is not None:
            lost += dropped
        elif dropped:
            self.facts.issues.append(DataIssue(_ref(resource), "ignored elements: " + ", ".join(dropped)))
        return model

    # Patient ----------------------------------------------------------------------------------
    def _patient(self, resource: dict) -> None:
        p = self._valid(resource, "patient")
        if p is None:
            return
        born = p.get("birthDate")
        span = _day_span(born)  # a partial date ("2025-03", "2025") as the days it can mean: parse leniently
        if born and span is None:
            self._skip(p, f"birthDate {born} is not a date", "patient")
        elif span is not None and span[0] > self.today:
            self._skip(p, f"birthDate {born} is after today: not a birth date", "patient")
            return
        if span is not None:
            self.facts.birth_span = (span[0], min(span[1], self.today))
            self.facts.birth_stated = born
        self.facts.birth_date = _to_date(born)

