"""Conditions, procedures and devices: advanced SMA, infection, prior Zolgensma infusions."""

from __future__ import annotations

from .. import terminology as t
from ..facts import ClinicalEvidence, ConditionFact, PendingOrder, PriorDose
from ..fhir_client import as_list
from ..respiratory_text import respiratory_words
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
    canonical_system,
    unreadable_concept,
)
from .products import (
    LABELER_PRODUCT,
    _medication_text,
    _names_zolgensma,
    _unresolved_reference,
    medication_kind,
)
from .therapy_text import act_names_dose, condition_names_dose, names_same_vector


class ClinicalReader:
    # Conditions -------------------------------------------------------------------------------
    def _condition(self, resource: dict) -> None:
        c = self._valid(resource, "condition")
        if c is None:
            return
        verification = {(x.get("code") or "").lower() for x in _codings(c.get("verificationStatus"))}
        if "entered-in-error" in verification:
            return  # recorded by mistake: not evidence of anything
        status = next((v for v in t.CONDITION_VERIFICATION_ORDER if v in verification), "")
        clinical = {(x.get("code") or "").lower() for x in _codings(c.get("clinicalStatus"))}
        # Active: clinicalStatus active, recurrence or relapse; with no status, active unless abated. An
        # abatement next to an active status breaks FHIR invariant con-4: read as active (the safe side).
        abated = any(c.get(k) is not None for k in ("abatementDateTime", "abatementPeriod", "abatementString"))
        active = bool(clinical & {"active", "recurrence", "relapse"}) or not clinical and not abated
        text = _concept_text(c.get("code"))
        codes = _code_keys(c.get("code"))
        shown = ", ".join(f"{code}" for _, code in sorted(codes))
        fact = ConditionFact(
            _ref(c), codes, f"{text} [{shown}]".strip() if shown else text, active,
            _to_date(c.get("onsetDateTime")) or _to_date(_start(c.get("onsetPeriod"))),
            _to_date(c.get("recordedDate")), status, _notes(c))
        # A refuted condition is never evidence of what it names (no infection, no advanced SMA from it).
        (self.facts.refuted_conditions if status == "refuted" else self.facts.conditions).append(fact)
        if status != "refuted":
            self._condition_naming_a_dose(resource, c, fact)

    def _condition_naming_a_dose(self, resource: dict, c: dict, fact: ConditionFact) -> None:
        """A problem-list entry naming the product or a gene therapy as given ("S/p Zolgensma (onasemnogene
        abeparvovec) infusion 03/2026"): a possible prior dose (one-time-dose `review`, DR.005.D renewal), never a
        dose (a Condition records a state, not the infusion; review 2026-11-24g G2). Its words: code text and
        displays, and notes (read from the resource as sent)."""
        code = c.get("code") if isinstance(c.get("code"), dict) else {}
        notes = _notes(resource)
        words = " ; ".join(x for x in [_s(code.get("text")), *(_s(x.get("display")) for x in _codings(code)), notes]
                           if x)
        if condition_names_dose(words) is None:
            return
        clinical = ", ".join(sorted({_s(x.get("code")) for x in _codings(c.get("clinicalStatus")) if x.get("code")}))
        shown = f"Condition ({clinical or 'no clinical status'}), not itself proof of a dose: {_code_text(code)}"
        shown += f"; note: {_clip(notes)}" if notes else ""
        self.facts.possible_prior_doses.append(PriorDose(_ref(c), fact.onset or fact.recorded, shown))

    # Orders already placed ----------------------------------------------------------------------
    def _service_request(self, resource: dict) -> None:
        """A drafted, active or on-hold ServiceRequest of this patient, recognised later by its codes (CRD hooks:
        "don't recommend an action if there's already a draft order to perform that action")."""
        sr = self._valid(resource, "service-request")
        if sr is None or sr.get("doNotPerform") is True:
            return
        subject = (sr.get("subject") or {}).get("reference")
        if subject and subject != self.facts.patient_reference:
            return
        if sr["status"] == "completed":  # never a pending order nor a planned date (review 2026-11-24e T2)
            self._completed_service_request(sr)
            return
        if sr["status"] not in t.OPEN_REQUEST_STATUSES:
            return
        if not is_lab_order(sr):  # the Zolgensma infusion requested as a service: a planned date (scheduling.py)
            self._infusion_service_request(sr)
            self._open_infusion_request_past(sr)
        codes = _code_keys(sr.get("code"))
        if codes:
            self.facts.pending_orders.append(PendingOrder(_ref(sr), codes, sr["status"], sr.get("authoredOn")))

    def _completed_service_request(self, sr: dict) -> None:
        """A completed ServiceRequest for the Zolgensma infusion is evidence the infusion was done (DR.005.D
        renewal: one-time dose): coded (J3399, a kit NDC) a prior dose, like a completed order; named only in
        text, a possible one (`review`). A completed lab order is neither."""
        if is_lab_order(sr):
            return
        named, shown = self._infusion_named(sr)
        if named is None:
            return
        stated = sr.get("occurrenceDateTime") or _start(sr.get("occurrencePeriod")) or sr.get("authoredOn")
        if self._skipped_as_future(sr, stated, "zolgensma"):
            return
        what = "gene-therapy" if named == "gene-therapy" else "Zolgensma infusion"
        dose = PriorDose(_ref(sr), _to_date(stated), f"{what} ServiceRequest completed ({shown})",
                         gene_therapy_text=named == "gene-therapy")
        (self.facts.prior_doses if named == "code" else self.facts.possible_prior_doses).append(dose)

    def _infusion_named(self, sr: dict) -> tuple[str | None, str]:
        """("code", the code) when the request's code identifies Zolgensma (J3399, a kit NDC, a site code); else
        ("product" | "gene-therapy", its code text) when its words name the therapy as given, in the vocabulary the
        Procedure path reads (therapy_text; review 2026-11-24g G2); else (None, "")."""
        code = sr.get("code") if isinstance(sr.get("code"), dict) else {}
        if self._recognise([code], [])[0] == "code":
            return "code", _code_text(code)
        named = act_names_dose(_all_text(code), _code_keys(code))
        return named, _code_text(code) if named else ""

    def _open_infusion_request_past(self, sr: dict) -> None:
        """An active or on-hold Zolgensma infusion request whose date has passed (review 2026-11-24g G7): EHRs often
        leave an infusion order open after it was given, so it may record a dose (one-time-dose `review`, never a
        dose). Not the order under review, nor one drafted in this ordering session. Dated by occurrenceDateTime, or
        the end of occurrencePeriod (its start when it has none): a window still open is a plan."""
        if sr["status"] not in ("active", "on-hold") or self._source == "draft-orders" \
                or (self.facts.order is not None and _ref(sr) == self.facts.order.reference):
            return
        period = sr.get("occurrencePeriod") if isinstance(sr.get("occurrencePeriod"), dict) else {}
        when = _to_date(sr.get("occurrenceDateTime")) or _to_date(period.get("end")) or _to_date(_start(period))
        if when is None or when >= self.today:
            return
        named, shown = self._infusion_named(sr)
        if named is None:
            return
        self.facts.possible_prior_doses.append(PriorDose(
            _ref(sr), when, f"Zolgensma infusion request still open (status {sr['status']}), never marked completed: "
                            f"{shown}", open_request=True))

    def _procedure(self, resource: dict) -> None:
        """A Zolgensma infusion (J3399, the product named in the code, or the product in usedCode /
        usedReference), or an advanced-SMA procedure (tracheostomy, invasive ventilation)."""
        status = resource.get("status")
        if status in t.PROCEDURE_NOT_DONE:
            return
        code = resource.get("code") if isinstance(resource.get("code"), dict) else {}
        codings = [c for c in as_list(code.get("coding")) if isinstance(c, dict)]
        codes = {(canonical_system(c.get("system")), _s(c.get("code"))) for c in codings}
        words = " ".join([_s(code.get("text"))] + [_s(c.get("display")) for c in codings])
        infusion = _names_zolgensma(words) or any(s in t.HCPCS_SYSTEMS and c == t.J3399.code for s, c in codes)
        used = [u for u in as_list(resource.get("usedCode")) if isinstance(u, dict)]
        used += [{"medicationReference": u} for u in as_list(resource.get("usedReference")) if isinstance(u, dict)
                 and "Medication/" in _s(u.get("reference"))]
        used_kinds, products = [], []
        for u in used:
            holder = u if "medicationReference" in u else {"medicationCodeableConcept": u}
            if "medicationReference" in u:
                holder["contained"] = resource.get("contained")
            used_kinds.append(medication_kind(holder, self.medications, self._codes))
            if used_kinds[-1] == "zolgensma":
                products.append(_medication_text(holder, self.medications))
            if used_kinds[-1] is None and _unresolved_reference(holder, self.medications):
                self._skip(resource, "skipped: Procedure.usedReference names a Medication that could not be "
                                     "read, so what was given is unknown", "zolgensma")
                return
        infusion = infusion or "zolgensma" in used_kinds
        if not infusion and LABELER_PRODUCT in used_kinds:
            # a product of Zolgensma's labeler that is not identified: the procedure may be a Zolgensma infusion
            self._skip(resource, "skipped: Procedure.usedCode names a product of Zolgensma's labeler "
                                 f"{t.ZOLGENSMA_LABELER} (Novartis Gene Therapies) that is not a Zolgensma kit or vial "
                                 "NDC known to this service: it may have been a Zolgensma infusion", "zolgensma")
        ongoing = status in t.PROCEDURE_ONGOING or (isinstance(resource.get("performedPeriod"), dict)
                                                    and not resource["performedPeriod"].get("end"))
        current = ongoing or self._current_ventilation(resource)
        matched = _advanced_sma_text(words, ongoing, current)
        managed = current and bool(codes & t.VENTILATION_MANAGEMENT)
        advanced = bool(codes & t.ADVANCED_SMA_PROCEDURES) or managed or bool(matched)
        if not (infusion or advanced):
            self._possible_infusion(resource, code, codes, words, used)
            if unreadable_concept(resource.get("code")) and not used:
                self._skip(resource, "skipped: Procedure.code not readable, so what was done is unknown")
            elif any(unreadable_concept(u) for u in used if "medicationReference" not in u):
                # the product used might be Zolgensma: a prior dose cannot be ruled out
                self._skip(resource, "skipped: Procedure.usedCode not readable, so what was given is unknown",
                           "zolgensma")
            return
        if type(status) is not str:
            self._skip(resource, "skipped: Procedure.status not readable", "zolgensma" if infusion else "advanced-sma")
            return
        p = self._valid(resource, "zolgensma" if infusion else "advanced-sma")
        if p is None:
            return
        stated = p.get("performedDateTime") or _start(p.get("performedPeriod"))
        if self._skipped_as_future(p, stated, "zolgensma" if infusion else "advanced-sma"):
            return
        when = _to_date(stated)
        if infusion:
            product = f"; product used: {', '.join(products)}" if products else ""
            self.facts.prior_doses.append(PriorDose(_ref(p), when, f"Procedure ({status}): {_concept_text(code)}"
                                                                   f"{product}"))
        if advanced:
            shown = f"Procedure ({status}): {_code_text(code)}"
            if managed and not ongoing:
                shown += (f"; ventilation management within the last {t.VENTILATION_RECENT_DAYS} days, lasting "
                          f"{t.VENTILATION_PROLONGED_DAYS} days or more, or undated: it may still go on")
            self.facts.advanced_sma.append(ClinicalEvidence(_ref(p), shown + _matched(matched), when))

    def _current_ventilation(self, resource: dict) -> bool:
        """A finished procedure that may still describe the child's ventilation now (terminology
        VENTILATION_RECENT_DAYS, VENTILATION_PROLONGED_DAYS): ended within the last 30 days, lasted 14 days or more,
        or not dated at all."""
        period = resource.get("performedPeriod") if isinstance(resource.get("performedPeriod"), dict) else {}
        start = _to_date(resource.get("performedDateTime")) or _to_date(period.get("start"))
        end = _to_date(period.get("end")) or start
        if start is None or end is None:
            return True
        return (self.today - end).days <= t.VENTILATION_RECENT_DAYS \
            or (end - start).days >= t.VENTILATION_PROLONGED_DAYS

    def _possible_infusion(self, resource: dict, code: dict, codes: set, words: str, used: list[dict]) -> None:
        """A Procedure that may record a prior dose without identifying Zolgensma (one-time-dose `review`, DR.005.D
        renewal): its code naming the same vector under another name (Itvisma, AVXS-101: review 2026-11-24e T4), or
        its code text, display, note or usedCode text saying a gene therapy was given (T3: "gene therapy infusion",
        "AAV9 SMN1 gene replacement", CPT 96365 noted "onasemnogene abeparvovec infused"). Free text never makes
        it a dose; dated after the current time it is reported, and "no prior dose" does not rest on it."""
        notes = _notes(resource)
        used_text = "; ".join(_concept_text(u) for u in used if "medicationReference" not in u and _concept_text(u))
        named = act_names_dose(" ; ".join((words, notes, used_text)), codes)
        if named is None:
            return
        stated = resource.get("performedDateTime") or _start(resource.get("performedPeriod"))
        if self._skipped_as_future(resource, stated, "zolgensma"):
            return
        shown = f"Procedure ({resource.get('status')}): {_code_text(code) or 'no code text'}"
        shown += f"; used: {used_text}" if used_text else ""
        shown += f"; note: {_clip(notes)}" if notes else ""
        self.facts.possible_prior_doses.append(PriorDose(
            _ref(resource), _to_date(stated) if isinstance(stated, str) else None, shown,
            gene_therapy_text=not names_same_vector(words)))  # the vector named in the note only: an infusion (T3)

    # Devices: a home ventilator is evidence of advanced SMA (policy criterion 3) --------------------------
    def _device(self, resource: dict) -> None:
        if resource.get("status") not in (None, "active"):
            return
        d = self._valid(resource, "advanced-sma")
        if d is not None and _is_ventilator(d):
            text = _device_text(d)
            self.facts.advanced_sma.append(ClinicalEvidence(
                _ref(d), f"Device: {text}{_matched(_ventilator_words(text))}", None))

    def _device_request(self, resource: dict) -> None:
        """A home ventilator or tracheostomy tube requested for this patient (review 2026-11-24f F1): evidence of
        advanced SMA like a device in use. The device is named by code (codeCodeableConcept: HCPCS E0465/E0466,
        SNOMED CT, words) or by reference to a Device; one that cannot be identified may be a ventilator, so "no
        advanced SMA" cannot rest on its source."""
        if resource.get("status") in t.DEVICE_REQUEST_WITHDRAWN:
            return
        r = self._valid(resource, "advanced-sma")
        if r is None:
            return
        when = _to_date(r.get("occurrenceDateTime")) or _to_date(_start(r.get("occurrencePeriod"))) \
            or _to_date(r.get("authoredOn"))
        concept, named = r.get("codeCodeableConcept"), r.get("codeReference") or {}
        device = None
        if concept is None and named.get("reference"):
            device = self._devices.get(named["reference"]) or next(
                (c for c in as_list(resource.get("contained")) if isinstance(c, dict)
                 and f"#{c.get('id')}" == named["reference"]), None)
            device = self._valid(device) if device is not None and device.get("resourceType") == "Device" else None
        if concept is not None and not unreadable_concept(concept):
            text, ventilator = _code_text(concept), _names_ventilator(concept)
        elif device is not None:
            text, ventilator = _device_text(device), _is_ventilator(device)
        else:
            text = _s(named.get("display"))
            ventilator = _ventilator_words(text)
            if not text:  # it may be a ventilator: "no advanced SMA" cannot rest on it
                self._skip(r, f"skipped: the device requested ({named.get('reference') or 'no code'}) could not be "
                              "read, so what was requested is unknown", "advanced-sma")
                return
        if ventilator:
            self.facts.advanced_sma.append(ClinicalEvidence(
                _ref(r), f"Device request ({r['status']}): {text}{_matched(_ventilator_words(text))}", when))

    def _device_use(self, resource: dict) -> None:
        if resource.get("status") not in t.DEVICE_USE_CURRENT:
            return
        u = self._valid(resource, "advanced-sma")
        if u is None:
            return
        ref = (u.get("device") or {}).get("reference") or ""
        device = self._devices.get(ref) or next(
            (c for c in as_list(resource.get("contained")) if isinstance(c, dict) and f"#{c.get('id')}" == ref), None)
        when = _to_date(_start(u.get("timingPeriod"))) or _to_date(u.get("timingDateTime")) \
            or _to_date(u.get("recordedOn"))
        if device is not None:
            device = self._valid(device) if device.get("resourceType") == "Device" else None
        text = _device_text(device) if device else (u.get("device") or {}).get("display") or ""
        if (device is not None and _is_ventilator(device)) or (device is None and _ventilator_words(text)):
            self.facts.advanced_sma.append(ClinicalEvidence(
                _ref(u), f"Device use ({u['status']}): {text}{_matched(_ventilator_words(text))}", when))
        elif device is None and not text:  # it may be a ventilator: "no advanced SMA" cannot rest on it
            self._skip(u, f"skipped: device {ref or '(no reference)'} could not be read, so the device in use is "
                          "unknown", "advanced-sma")


def _notes(resource: dict) -> str:
    """The resource's note texts (Annotation.text), joined."""
    return "; ".join(_s(n.get("text")) for n in as_list(resource.get("note")) if isinstance(n, dict)
                     and _s(n.get("text")).strip())


def _clip(text: str, limit: int = 200) -> str:
    return text if len(text) <= limit else text[:limit].rstrip() + "..."


def _code_text(concept: dict) -> str:
    """The concept's name and codes, each code with its code system's short name where known ("CPT 94003",
    "HCPCS E0465"): a reviewer reading a bare "94003" cannot tell what it is."""
    shown = ", ".join(f"{_SYSTEM_LABELS[s]} {code}" if s in _SYSTEM_LABELS else code
                      for s, code in sorted(_code_keys(concept)))
    text = _concept_text(concept)
    return f"{text} [{shown}]" if shown and text else text or shown


_SYSTEM_LABELS = {t.CPT: "CPT", t.SNOMED: "SNOMED CT", t.ICD10PCS: "ICD-10-PCS", t.ICD10CM: "ICD-10-CM",
                  t.ICD10_WHO: "ICD-10", **{system: "HCPCS" for system in t.HCPCS_SYSTEMS}}


def _advanced_sma_text(text: str, ongoing: bool, current: bool) -> list[str]:
    """The words of a procedure that make it advanced SMA, read in context (respiratory_text): a tracheostomy
    ("trach" as a whole word too) whenever it was done; mechanical or invasive ventilation while it is current
    (ongoing, recent, prolonged); while the procedure is going on, also any respiratory support the Condition text
    recognises (BiPAP, CPAP, ventilation: ADVANCED_SMA_TEXT; "vent" as a whole word). Non-invasive support or a
    decannulation named in the text is not invasive."""
    if ongoing:
        found = respiratory_words(text, t.ADVANCED_SMA_TEXT, t.VENT_WORDS)
        if found:
            return found
    if any(w in text.lower() for w in t.NOT_INVASIVE_TEXT):
        return []
    return respiratory_words(text, t.TRACHEOSTOMY_PROCEDURE_TEXT + (t.VENTILATION_PROCEDURE_TEXT if current else ()),
                             t.TRACH_WORDS)


def _matched(words: list[str]) -> str:
    """The words that made a record advanced SMA, quoted for the reviewer (review 2026-11-24g G9)."""
    return "; words that matched: " + ", ".join(f'"{w}"' for w in words) if words else ""


def _device_text(device: dict) -> str:
    names = [n.get("name") for n in device.get("deviceName") or [] if n.get("name")]
    return "; ".join(x for x in [_code_text(device.get("type") or {}), *names] if x) or "device"


def _is_ventilator(device: dict) -> bool:
    return _names_ventilator(device.get("type")) or bool(_ventilator_words(_device_text(device)))


def _names_ventilator(concept) -> bool:
    """A ventilator by code (SNOMED CT, HCPCS E0465/E0466 under any HCPCS system) or by the concept's words."""
    keys = _code_keys(concept)
    return bool(keys & t.VENTILATOR_DEVICES) or any(s in t.HCPCS_SYSTEMS and c.strip().upper() in t.VENTILATOR_HCPCS
                                                     for s, c in keys) or bool(_ventilator_words(_all_text(concept)))


def _ventilator_words(text: str) -> list[str]:
    """The words naming a ventilator or tracheostomy supplies, read in context (respiratory_text: never a G-tube "vent
    bag"), or a home-ventilator model's name."""
    whole = f" {_norm(text)} "
    models = [m.strip() for m in t.VENTILATOR_MODEL_TEXT if m in whole]
    return respiratory_words(text, t.VENTILATOR_TEXT, t.TRACH_WORDS + t.VENT_WORDS) + models



def is_lab_order(resource: dict) -> bool:
    """A ServiceRequest for a laboratory test, by category or code (terminology.LAB_ORDER_CATEGORIES);
    free text alone does not make one."""
    if not isinstance(resource, dict) or resource.get("resourceType") != "ServiceRequest":
        return False
    categories = [c for concept in as_list(resource.get("category")) if isinstance(concept, dict)
                  for c in as_list(concept.get("coding")) if isinstance(c, dict)]
    if any((_s(c.get("system")), _s(c.get("code"))) in t.LAB_ORDER_CATEGORIES for c in categories):
        return True
    code = resource.get("code") if isinstance(resource.get("code"), dict) else {}
    for c in as_list(code.get("coding")):
        if not isinstance(c, dict):
            continue
        system, value = canonical_system(c.get("system")), _s(c.get("code")).strip()
        if system == t.LOINC and value:
            return True
        if system == t.CPT and value.isdigit() and t.CPT_LAB_RANGE[0] <= int(value) <= t.CPT_LAB_RANGE[1]:
            return True
    return False
