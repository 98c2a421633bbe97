"""Medication orders and administrations: the Zolgensma order, prior doses, corticosteroid plans."""

from __future__ import annotations

from .. import terminology as t
from ..facts import ClinicalEvidence, DataIssue, Evidence, Order, PriorDose
from ..fhir_validation import InvalidResource, validate
from .common import (
    _all_text,
    _code_keys,
    _codings,
    _concept_text,
    _norm,
    _ref,
    _s,
    _start,
    _to_date,
    unreadable_concept,
)
from .course import _course, _dose, _doses, _planned_date, dose_unit_problem
from .dosage import several_doses, text_volumes
from .products import (
    LABELER_PRODUCT,
    _kit_codes,
    _medication_concept,
    _medication_text,
    _reference,
    as_medication,
    coded_zolgensma,
    medication_kind,
)
from .therapy_text import act_names_dose


class MedicationReader:
    # Medication orders and administrations -----------------------------------------------------
    def zolgensma_order(self, order: dict) -> Order | None:
        """The order under review. When part of it cannot be read (an invalid timing.event date), what it says
        about its dose, timing and dispense is not read from the rest: the Order carries `unreadable` (the field
        and value in plain words) and no dose, date or count, so no criterion reading them is decided (review
        2026-11-24c R6; before, an empty stand-in gave one-time-dose `met`)."""
        if not order:
            return None
        lenient = _lenient_draft(order, self.facts.patient_reference)
        lost: list[str] = []
        mr = self._valid(lenient, droppable=_ORDER_READ_IN_PART, lost=lost)
        if mr is not None and not any(e.endswith(" (invalid)") and e.split(".")[0].split(" ")[0] in _ORDER_READ_IN_PART
                                      for e in lost):
            if lost:
                self.facts.issues.append(DataIssue(_ref(mr), "ignored elements: " + ", ".join(lost)))
            return self._order(mr, order)
        why = _why_invalid(lenient)
        if mr is None:  # skipped and reported by _valid: nothing of it is read
            return Order(_ref(order), "zolgensma", str(order.get("status", "unknown")), "Zolgensma", unreadable=why)
        self.facts.issues.append(DataIssue(_ref(mr), f"the Zolgensma order could not be read in full ({why}): its "
                                                     "dose, timing and dispense are not read"))
        return self._order(mr, order, unreadable=why)

    def _order(self, mr: dict, order: dict, unreadable: str = "") -> Order:
        """A Zolgensma order from its validated subset `mr` (`order` as sent: its Medication may be contained);
        with `unreadable`, only what identifies it (status, product, kit codes)."""
        concept = _medication_concept(order, self.medications)  # a code, or a Medication by reference
        kits, elsewhere = _kit_codes(concept)
        if unreadable:
            return Order(_ref(mr), "zolgensma", mr["status"], _concept_text(concept) or "Zolgensma",
                         kit_ndc=kits[0] if len(kits) == 1 else None, kit_ndcs=kits, kit_codes_elsewhere=elsewhere,
                         unreadable=unreadable)
        doses = _doses(mr)
        for problem in dict.fromkeys(dose_unit_problem(d) for d in doses if dose_unit_problem(d)):
            self.facts.issues.append(DataIssue(_ref(mr), problem))
        for ndc, system in elsewhere:
            self.facts.issues.append(DataIssue(_ref(mr), f"kit code {ndc} is written under {system}, not as an NDC "
                                                         f"({t.NDC}): compared with the band's kit, never trusted"))
        planned, source = _planned_date(mr)
        several, unclear = several_doses(mr)
        return Order(_ref(mr), "zolgensma", mr["status"], _concept_text(concept) or "Zolgensma",
                     kit_ndc=kits[0] if len(kits) == 1 else None, dose=doses[0] if doses else None,
                     planned_date=planned, planned_date_source=source, doses=doses, several=tuple(several),
                     unclear=tuple(unclear), kit_ndcs=kits, kit_codes_elsewhere=elsewhere,
                     text_volumes=tuple(text_volumes(order)))  # as sent: the validated subset keeps no text

    def _medication_request(self, resource) -> None:
        kind = self._kind(resource)
        if self.facts.order and _ref(resource) == self.facts.order.reference:
            return
        if kind is None:
            if resource.get("status") in _REQUEST_MAY_HAVE_BEEN_GIVEN:  # a prior Itvisma / AVXS-101 order (T4)
                self._same_vector(resource, resource.get("authoredOn"))
            return
        if kind == LABELER_PRODUCT:
            if resource.get("status") in _REQUEST_MAY_BE_A_DOSE:
                self._labeler_product(resource)
            return
        # A prior Zolgensma order decides renewal by its status alone: its dosage may be invalid.
        mr = self._valid(resource, kind, droppable=_PRIOR_ORDER_DROPPABLE if kind == "zolgensma" else frozenset())
        if mr is None:
            return
        text = _medication_text(resource, self.medications)
        if kind == "antimicrobial":
            self._antimicrobial_order(mr, text)
            return
        if kind == "zolgensma":
            if mr["status"] in t.OPEN_REQUEST_STATUSES:  # an Appointment may be for this order
                self._zolgensma_orders.add(_ref(mr))
                # Zolgensma is one dose: a second open order beside the one under review is a duplicate (or a
                # second dose) to settle before signing; its dose is never checked in place of this one's.
                # Read from the subset validated above (leniently: no second, stricter validation).
                other = self._order(mr, resource)
                written = _to_date(mr.get("authoredOn")) or "on an unstated date"
                self.facts.other_zolgensma_orders.append(Evidence(
                    other.reference, f"another open Zolgensma order, written {written}: {other.evidence.text}"))
            if mr["status"] == "completed":  # dated by its planned infusion date, else when it was written
                when = _planned_date(mr)[0] or _to_date(mr.get("authoredOn"))
                self.facts.prior_doses.append(PriorDose(_ref(mr), when, f"Zolgensma order completed ({text})"))
            elif mr["status"] in ("stopped", "unknown"):
                # R4 "stopped": halted before all administrations occurred; for one infusion, possibly part way
                # through (a partial dose). "unknown": the EHR cannot say. Neither is "no prior dose".
                when = _to_date(mr.get("authoredOn")) or _planned_date(mr)[0]
                written = f"of {when.isoformat()}" if when else "of an unstated date"
                self._skip(mr, f"a Zolgensma order {written} with status {mr['status']} ({text}): it may have been "
                               "infused in part or in full; confirm nothing was infused", "zolgensma", when)
            return
        start, end, per_day = _course(mr)
        self.facts.steroid_orders.append(Order(
            _ref(mr), "corticosteroid", mr["status"], text, dose=_dose(mr), per_day=per_day, start=start, end=end,
            not_a_course=_not_a_course(mr, text, on_record=self._source != "draft-orders")))
        dose = self.facts.steroid_orders[-1].dose
        if dose_unit_problem(dose):
            self.facts.issues.append(DataIssue(_ref(mr), dose_unit_problem(dose)))
        elif dose is not None and dose.problem:  # a bound, or unit and code that disagree (review 2026-11-24c R7)
            self.facts.issues.append(DataIssue(_ref(mr), f"dose {dose.shown}: {dose.problem}; its mg/kg/day is "
                                                         "not computed"))

    def _antimicrobial_order(self, mr: dict, text: str) -> None:
        """An open (draft, active, on-hold) antibacterial, antifungal or antiviral order: evidence for criterion 10
        (clinical-facts 5.1 row 10), named with its dates (started, if nothing else says, when it was written)."""
        if mr["status"] not in t.OPEN_REQUEST_STATUSES:
            return
        start, end, _ = _course(mr, _to_date(mr.get("authoredOn")))
        self.facts.antimicrobial_orders.append(Order(_ref(mr), "antimicrobial", mr["status"], text, start=start,
                                                     end=end))

    def _medication_administration(self, resource: dict) -> None:
        kind = self._kind(resource)
        if kind == "corticosteroid" and resource.get("status") not in ("not-done", "entered-in-error", "stopped"):
            self._steroid_administration(resource)
            return
        if resource.get("status") in ("not-done", "entered-in-error"):
            return
        ma = self._zolgensma_record(resource, kind, resource.get("effectiveDateTime")
                                    or _start(resource.get("effectivePeriod")))
        if ma is None:
            return
        stated = ma.get("effectiveDateTime") or _start(ma.get("effectivePeriod"))
        if self._skipped_as_future(ma, stated, "zolgensma"):
            return
        when = _to_date(stated)
        self.facts.prior_doses.append(PriorDose(_ref(ma), when, f"Zolgensma administration ({ma['status']}, "
                                                                f"{_medication_text(resource, self.medications)})"))

    def _steroid_administration(self, resource: dict) -> None:
        """A corticosteroid given: evidence that the label's course runs (monitoring, FDA label 2.1). Undated or
        future-dated ones are skipped and reported (they cannot show the course runs today)."""
        ma = self._valid(resource, "corticosteroid")
        if ma is None:
            return
        stated = ma.get("effectiveDateTime") or _start(ma.get("effectivePeriod"))
        when = _to_date(stated)
        if self._future(stated) or when is None:
            self._skip(ma, f"skipped: corticosteroid administration dated {stated or 'nowhere'}: not evidence",
                       "corticosteroid")
            return
        self.facts.steroid_administrations.append(ClinicalEvidence(
            _ref(ma), f"corticosteroid given ({ma['status']}, {_medication_text(resource, self.medications)})", when))

    def _medication_statement(self, resource: dict) -> None:
        """Another provider's record (an outside hospital's infusion): a dose unless not taken or only intended."""
        kind = self._kind(resource)
        if resource.get("status") in t.STATEMENT_NOT_A_DOSE:
            return
        ms = self._zolgensma_record(resource, kind, resource.get("effectiveDateTime")
                                    or _start(resource.get("effectivePeriod")) or resource.get("dateAsserted"))
        if ms is None:
            return
        stated = ms.get("effectiveDateTime") or _start(ms.get("effectivePeriod")) or ms.get("dateAsserted")
        if self._skipped_as_future(ms, stated, "zolgensma"):
            return
        self.facts.prior_doses.append(PriorDose(_ref(ms), _to_date(stated), f"Zolgensma medication statement "
                                                f"({ms['status']}, {_medication_text(resource, self.medications)})"))

    def _zolgensma_record(self, resource: dict, kind: str | None, stated) -> dict | None:
        """A dose record (administration, statement or dispense) as validated JSON when it is Zolgensma's; else None,
        after what its kind calls for: a same-vector product (Itvisma, AVXS-101) or a product of Zolgensma's labeler
        that cannot be identified is remembered for the rules (review or unknown), anything else is passed over."""
        if kind is None:
            self._same_vector(resource, stated)
        if kind == LABELER_PRODUCT:
            self._labeler_product(resource)
        if kind != "zolgensma":
            return None
        return self._valid(resource, "zolgensma")

    def _same_vector(self, resource: dict, stated) -> None:
        """Itvisma, AVXS-101, OAV101 or onasemnogene (any suffix) given, not identified as Zolgensma, or a gene
        therapy named as given ("AAV9 gene therapy": therapy_text, the vocabulary every family reads; review
        2026-11-24g G2): a possible prior dose (one-time-dose `review`, DR.005.D renewal; review 2026-11-24e T4).
        Not validated further: the record is only named for review, never used as a dose or a date."""
        text = _medication_text(resource, self.medications)
        named = act_names_dose(text)
        if named is None or self._future(stated):
            return
        self.facts.possible_prior_doses.append(PriorDose(
            _ref(resource), _to_date(stated) if isinstance(stated, str) else None,
            f"{resource.get('resourceType')} ({resource.get('status')}): {text}",
            gene_therapy_text=named == "gene-therapy"))

    def _medication_dispense(self, resource: dict) -> None:
        """A Zolgensma kit or vial handed over to this patient (review 2026-11-24e T1): a pharmacy's record may be
        the only one of a dose given. Completed or in progress: a prior dose, unless it fills the order under
        review (its authorizingPrescription names that order). Status "unknown": it may be one, so unread."""
        kind = self._kind(resource)
        if resource.get("status") in t.DISPENSE_NOT_A_DOSE:
            return
        md = self._zolgensma_record(resource, kind, resource.get("whenHandedOver") or resource.get("whenPrepared"))
        if md is None:
            return
        stated = md.get("whenHandedOver") or md.get("whenPrepared")
        if md["status"] == "stopped":  # R4: halted before all its actions occurred (review 2026-11-24g G10)
            self._skip(md, f"skipped: a Zolgensma dispense with status stopped (dated {stated or 'nowhere'}): halted "
                           "before all of it was done, so the kit may have been handed over and infused in part or "
                           "in full; confirm nothing was infused", "zolgensma", _to_date(stated))
            return
        if md["status"] not in t.DISPENSE_HANDED_OVER:
            self._skip(md, f"skipped: a Zolgensma dispense with status {md['status']} (dated {stated or 'nowhere'}): "
                           "whether it was handed over and infused cannot be read", "zolgensma", _to_date(stated))
            return
        order = self.facts.order
        fills = order and any(isinstance(p, dict) and isinstance(p.get("reference"), str)
                              and p["reference"].split("/_history/")[0].endswith(order.reference)
                              for p in md.get("authorizingPrescription") or ())
        if fills:
            self.facts.issues.append(DataIssue(_ref(md), f"a dispense of the order under review ({order.reference}): "
                                                         "not a prior dose"))
            return
        if self._skipped_as_future(md, stated, "zolgensma"):
            return
        self.facts.prior_doses.append(PriorDose(_ref(md), _to_date(stated), f"Zolgensma dispense ({md['status']}, "
                                                f"{_medication_text(resource, self.medications)}) handed over"))

    def _immunization(self, resource: dict) -> None:
        """A dose filed as an Immunization (review 2026-11-24e T5), read as a medication record (its vaccineCode):
        completed and coded as Zolgensma (kit or vial NDC, J3399), a prior dose; named Zolgensma in text only, or
        the same vector under another name, a possible one (`review`); a product of Zolgensma's labeler not
        identified, or a vaccine code that cannot be read, leaves "no prior dose" unsaid. Not done or entered in
        error: nothing. Dated by occurrenceDateTime, else when recorded."""
        if resource.get("status") in t.IMMUNIZATION_NOT_GIVEN:
            return
        view = as_medication(resource)
        stated = resource.get("occurrenceDateTime") or resource.get("recorded")
        im = self._zolgensma_record(view, self._kind(view), stated)
        if im is None:
            return
        stated = im.get("occurrenceDateTime") or im.get("recorded")
        if self._skipped_as_future(im, stated, "zolgensma"):
            return
        shown = _medication_text(view, self.medications)
        if not coded_zolgensma(view, self.medications, self._codes):  # free text never makes a dose (T5)
            self.facts.possible_prior_doses.append(PriorDose(
                _ref(im), _to_date(stated), f"Immunization ({im['status']}) naming Zolgensma in text only: {shown}"))
            return
        self.facts.prior_doses.append(PriorDose(
            _ref(im), _to_date(stated), f"Zolgensma recorded as an immunization ({im['status']}, {shown})"))

    def _labeler_product(self, resource: dict) -> None:
        """A record of a product of Zolgensma's labeler that is not identified: it may be a Zolgensma dose, so no
        "no prior Zolgensma" conclusion can rest on its source (rules/integrity.py), and day 0 may be missing."""
        stated = resource.get("effectiveDateTime") or _start(resource.get("effectivePeriod")) \
            or resource.get("authoredOn") or resource.get("whenHandedOver") or resource.get("occurrenceDateTime")
        when = f" (dated {stated})" if isinstance(stated, str) and stated else ""
        self._skip(resource, f"skipped: {_medication_text(resource, self.medications)}{when} is a product of "
                             f"Zolgensma's labeler {t.ZOLGENSMA_LABELER} (Novartis Gene Therapies) but not a Zolgensma "
                             "kit or vial NDC known to this service: it may be a Zolgensma dose; check which product "
                             "it was", "zolgensma", _to_date(stated) if isinstance(stated, str) else None)

    def _kind(self, resource: dict) -> str | None:
        """medication_kind with this request's Medications and site codes. A medication that cannot be identified
        (no readable concept, or a medicationReference that could not be read) is skipped and reported: it may be
        anything, so no "none on record" conclusion rests on its source (rules/integrity.py)."""
        kind = medication_kind(resource, self.medications, self._codes)
        if kind is None and unreadable_concept(_medication_concept(resource, self.medications)):
            unresolved = " (its medicationReference could not be read)" if _reference(resource) else ""
            self._skip(resource, f"skipped: the medication cannot be identified{unresolved}")
        return kind


_PRIOR_ORDER_DROPPABLE = frozenset({"dosageInstruction", "dispenseRequest"})
# The parts of the order under review that may be invalid while the rest (status, product, kit) is still read: what
# they say (dose, timing, dispense) is then not read at all, never read in part.
_ORDER_READ_IN_PART = _PRIOR_ORDER_DROPPABLE


def _why_invalid(resource: dict) -> str:
    """What makes a resource invalid, in plain words (fhir_validation._explain: the field, its value)."""
    try:
        validate(resource)
    except InvalidResource as err:
        return str(err)
    return "an element could not be read"
# MedicationRequest statuses under which a Zolgensma order is, or may become, a dose (open, completed, stopped part
# way, unknown): a product that may be Zolgensma under one of these is reported, never passed over.
_REQUEST_MAY_BE_A_DOSE = frozenset(t.OPEN_REQUEST_STATUSES) | {"completed", "stopped", "unknown"}
# ... and under which an order of the same vector under another name (Itvisma, AVXS-101) may have been given: a
# possible prior dose (review 2026-11-24e T4 remainder). An open one is an order, not a dose.
_REQUEST_MAY_HAVE_BEEN_GIVEN = frozenset({"completed", "stopped", "unknown"})


# --- order helpers (pure functions over JSON/models) ------------------------------------------
def _not_a_course(mr: dict, text: str, on_record: bool) -> tuple[str, ...]:
    """Why a corticosteroid order is not the label's course, a scheduled, active (or signed in this ordering
    session), systemic order (FDA label 2.1; DR.005.D 7 "systemic corticosteroids"): empty when it is one."""
    why = []
    if mr["status"] == "on-hold":
        why.append("on hold (status on-hold)")
    if mr["status"] == "draft" and on_record:
        why.append("an unsigned draft on record (status draft), not an order of this ordering session")
    if mr["intent"] in ("proposal", "plan", "option", "directive"):
        why.append(f"a {mr['intent']} (intent {mr['intent']}), not an order")
    dosages = mr.get("dosageInstruction") or []
    if any(d.get("asNeededBoolean") is True or d.get("asNeededCodeableConcept") for d in dosages):
        why.append("as needed (dosageInstruction.asNeeded), not scheduled")
    why += _route_problems(dosages, text)
    return tuple(why)


def _route_problems(dosages: list[dict], text: str) -> list[str]:
    problems = []
    for dosage in dosages:
        route = dosage.get("route")
        if not route:
            continue
        shown = _concept_text(route) or ", ".join(_s(c.get("code")) for c in _codings(route)) or "stated"
        words = _words(_all_text(route))
        if _code_keys(route) & t.LOCAL_ROUTES or _says(words, t.LOCAL_ROUTE_WORDS):
            problems.append(f"not systemic (route {shown})")
        elif not (_code_keys(route) & t.SYSTEMIC_ROUTES or _says(words, t.SYSTEMIC_ROUTE_WORDS)):
            problems.append(f"of a route not recognised as systemic ({shown})")
    if _says(_words(text), t.LOCAL_PRODUCT_WORDS):
        problems.append(f"not systemic (the product is {text})")
    return problems


def _words(text: str) -> str:
    return f" {_norm(text)} "  # padded: _says matches whole words


def _says(words: str, phrases) -> bool:
    return any(f" {p} " in words for p in phrases)


def _lenient_draft(order: dict, patient_ref: str) -> dict:
    """Draft orders from real clients (the sandbox) may lack `intent`, `status` or `subject`."""
    fixed = dict(order)
    fixed.setdefault("intent", "order")
    fixed.setdefault("status", "draft")
    fixed.setdefault("subject", {"reference": patient_ref})
    return fixed


# Dose units as written -> canonical. "mg/d" (UCUM) and "mg/kg/d" are totals per day: the frequency is not
# applied again (a 1 mg/kg/d order given twice daily is still 1 mg/kg/day).
# Dose units, lower-cased, -> canonical. Synonyms of mL: "cc" and "cm3" (1 cm3 = 1 mL exactly, SI definition
# of the litre since 1964) and the unit's written names; any other unit is unrecognised: the dose is then
# unusable (unknown, with a data issue), never ignored.
