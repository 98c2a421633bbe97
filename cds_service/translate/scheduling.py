"""Scheduled Zolgensma infusions that are not a Zolgensma MedicationRequest: an Appointment for the infusion
visit, or a ServiceRequest for the infusion. They only ever give the readiness plan its target date.

Recognition, strictest first (PlannedInfusion.recognised_by):
- "code": a coding that names the product or its administration: a Zolgensma NDC (kit or product code), HCPCS
  J3399, or a site code configured as `zolgensma` in CDS_LOCAL_CODES (Appointment serviceType,
  appointmentType, reasonCode, serviceCategory, specialty; ServiceRequest code). No standard appointment or
  service-type code for "gene therapy infusion" could be verified, so none is matched;
- "reference": an Appointment based on (basedOn) or supporting (supportingInformation, reasonReference) an
  open Zolgensma order of this record (MedicationRequest or ServiceRequest);
- "text": the record's own words name the product (Zolgensma, onasemnogene abeparvovec; never Itvisma or
  intrathecal) or a "gene therapy" infusion, and nothing in them says the visit is something else (a consult,
  teaching, a lab draw, a follow-up). Text can propose a date, never more; the card quotes it.
Anything else is not the infusion, whatever its date (a neuromuscular clinic visit is not day 0).
"""

from __future__ import annotations

import re

from ..facts import DataIssue, PlannedInfusion
from .common import _codings, _concept_text, _ref, _s, _start, _to_date
from .products import _names_zolgensma, medication_kind

# FHIR R4 appointmentstatus: the ones that still plan a visit. Arrived/checked-in/fulfilled are under way or
# over; cancelled, noshow, entered-in-error and waitlist plan nothing.
APPOINTMENT_STATUSES = ("proposed", "pending", "booked")
_QUOTE = 160  # the record's words are quoted on the card up to this length
_GENE_THERAPY = re.compile(r"\bgene therap(y|ies)\b")
_ADMINISTRATION = re.compile(r"\b(infusion|infuse|dose|dosing|administration|administer|treatment day|day 0)\b")
# Words that make a visit something other than the infusion itself (a text mention of Zolgensma in a teaching
# session, a titer draw or a follow-up visit is not day 0). Project choice; the card says how it was recognised.
_NOT_THE_INFUSION = re.compile(
    r"\b(consult\w*|counsel\w*|educat\w*|teach\w*|follow ?up|lab|labs|draw|titer|titre|antibod\w*|blood|"
    r"screen\w*|evaluat\w*|assessment|monitoring|pre ?infusion|post ?infusion|telehealth|phone|video|"
    r"not|no|cancel\w*)\b")


class SchedulingReader:
    """Mixin of the Translator: reads Appointments and infusion ServiceRequests into facts.planned_infusions."""

    def _appointment(self, resource: dict) -> None:
        if resource.get("status") not in APPOINTMENT_STATUSES:
            return
        a = self._valid(resource, "appointment")
        if a is None:
            return
        me = self.facts.patient_reference
        mine = [p for p in a["participant"] if (p.get("actor") or {}).get("reference", "").endswith(me)]
        if mine and all(p.get("status") == "declined" for p in mine):
            return
        concepts = [*(a.get("serviceType") or ()), a.get("appointmentType"), *(a.get("reasonCode") or ()),
                    *(a.get("serviceCategory") or ()), *(a.get("specialty") or ())]
        words = [_s(a.get("description")), _s(a.get("comment")), _s(a.get("patientInstruction"))]
        references = [_s(r.get("reference")) for key in ("basedOn", "supportingInformation", "reasonReference")
                      for r in a.get(key) or ()]
        self._infusion_candidate(a, "appointment", a.get("start"), concepts, words, references)

    def _infusion_service_request(self, sr: dict) -> bool:
        """A ServiceRequest (already validated, status open) for the Zolgensma infusion: a planned infusion."""
        return self._infusion_candidate(sr, "service-request",
                                        sr.get("occurrenceDateTime") or _start(sr.get("occurrencePeriod")),
                                        [sr.get("code")], [], [])

    def _infusion_candidate(self, resource: dict, kind: str, start, concepts: list, words: list[str],
                            references: list[str]) -> bool:
        how, shown = self._recognise(concepts, words)
        if how is None and not references:
            return False
        when = _to_date(start)
        if how is not None and when is None:
            self.facts.issues.append(DataIssue(_ref(resource), f"recognised as the Zolgensma infusion ({shown}) but "
                                                               "has no start date: not used as the target date"))
            return True
        if when is not None:
            self._candidates.append((PlannedInfusion(_ref(resource), kind, when, how or "", resource["status"],
                                                     shown), references))
        return how is not None

    def _recognise(self, concepts: list, words: list[str]) -> tuple[str | None, str]:
        """("code", the code) | ("text", the words) | (None, "")."""
        concepts = [c for c in concepts if c]
        for concept in concepts:
            for c in _codings(concept):
                bare = {"coding": [{"system": c.get("system"), "code": c.get("code")}]}
                if c.get("code") and medication_kind({"medicationCodeableConcept": bare}, None,
                                                     self._codes) == "zolgensma":
                    return "code", f"{_s(c.get('system'))}|{c['code']}"
        texts = [t for t in [*(_concept_text(c) for c in concepts), *words] if t]
        for text in texts:
            low = " ".join(re.sub(r"[^a-z0-9]+", " ", text.lower()).split())
            named = _names_zolgensma(text) or (_GENE_THERAPY.search(low) and _ADMINISTRATION.search(low))
            if named and not _NOT_THE_INFUSION.search(low):
                return "text", text if len(text) <= _QUOTE else text[:_QUOTE - 1] + "…"
        return None, ""

    def _finish_planned_infusions(self) -> None:
        """Candidates recognised by code or text, and those referring to an open Zolgensma order of this record
        (the order under consideration, a Zolgensma ServiceRequest, an open Zolgensma MedicationRequest)."""
        orders = set(self._zolgensma_orders)
        if self.facts.order:
            orders.add(self.facts.order.reference)
        orders |= {p.reference for p, _ in self._candidates if p.kind == "service-request" and p.recognised_by}
        for plan, references in self._candidates:
            if not plan.recognised_by:
                named = next((r for r in references if _tail(r) in orders), None)
                if named is None:
                    continue
                plan.recognised_by, plan.shown = "reference", f"the Zolgensma order {_tail(named)}"
            self.facts.planned_infusions.append(plan)
        self._candidates = []


def _tail(reference: str) -> str:
    """'https://ehr/fhir/MedicationRequest/1' -> 'MedicationRequest/1'."""
    parts = reference.strip().split("/")
    return "/".join(parts[-2:]) if len(parts) >= 2 else reference
