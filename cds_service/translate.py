"""FHIR R4 resources -> typed facts. The only module that knows FHIR element paths.

Parse leniently (local codes, names, odd units, titers as strings/ratios/quantities, draft orders
without `intent`), decide strictly: a resource that cannot be read with certainty is skipped and
reported as a DataIssue, never guessed.
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass, field
from datetime import date
from functools import cached_property

from . import terminology as t
from .facts import (
    ConditionFact,
    CoverageFact,
    DataIssue,
    Dose,
    GeneticResult,
    Measurement,
    Order,
    PatientFacts,
    PriorDose,
    SiteOfCare,
    SpecialistFact,
    Titer,
)
from .fhir_client import as_list
from .fhir_validation import InvalidResource, validate
from .quantities import CANONICAL_UNITS, UnitError, parse_titer_string, to_canonical

FINAL_OBSERVATION = {"final", "amended", "corrected"}
log = logging.getLogger("cds_service.translate")


@dataclass
class LocalCodes:
    """Site-configured local codes: {(system, code): analyte}, e.g. a lab's own AAV9 code."""

    by_code: dict[tuple[str, str], str] = field(default_factory=dict)

    @cached_property
    def table(self) -> dict[tuple[str, str], str]:
        """Every recognised code -> analyte; site-configured local codes win over standard ones."""
        return {**_STANDARD_CODES, t.SMN1_TEST.key: "genetics", **self.by_code}

    @classmethod
    def from_mapping(cls, mapping: dict[str, str] | None) -> LocalCodes:
        parsed = {}
        for key, analyte in (mapping or {}).items():
            system, _, code = key.rpartition("|")
            parsed[(system, code)] = analyte
        return cls(parsed)


_STANDARD_CODES = {code.key: analyte for analyte, codes in t.ANALYTES.items() for code in codes}
_NAMES = {name: analyte for analyte, names in t.ANALYTE_NAMES.items() for name in names}


def _s(value) -> str:
    """A JSON string, or "" for anything else: messy data never breaks string handling."""
    return value if isinstance(value, str) else ""


_NOT_ALNUM = re.compile(r"[^a-z0-9]+")


def _norm(text: str | None) -> str:
    return " ".join(_NOT_ALNUM.sub(" ", (text or "").lower()).split())


_AAV9_MARKERS = tuple(_norm(m) for m in t.AAV9_TEXT_MARKERS)


# --- small readers over validated FHIR JSON (fhir_subset: every element present is well typed) ---
_NONE: dict = {}  # read-only stand-in for an absent element


def _codings(concept: dict | None) -> list[dict]:
    return (concept.get("coding") or []) if concept else []


def _code_keys(concept: dict | None) -> frozenset[tuple[str, str]]:
    return frozenset((c.get("system") or "", c["code"]) for c in _codings(concept) if c.get("code"))


def _concept_text(concept: dict | None) -> str:
    if not concept:
        return ""
    return concept.get("text") or next((c["display"] for c in _codings(concept) if c.get("display")), "")


def _all_text(concept: dict | None) -> str:
    if not concept:
        return ""
    return " ".join([concept.get("text") or ""] + [c.get("display") or "" for c in _codings(concept)]).lower()


def _start(period: dict | None) -> str | None:
    return period.get("start") if period else None


def _to_date(value) -> date | None:
    """A FHIR date/dateTime as a calendar date; partial dates (year, year-month) are not usable."""
    if isinstance(value, str) and len(value) >= 10:
        try:
            return date.fromisoformat(value[:10])
        except ValueError:
            return None
    return None


def _ref(resource: dict) -> str:
    rid, rtype = resource.get("id"), resource.get("resourceType")
    rtype = rtype if isinstance(rtype, str) else "Resource"
    return f"{rtype}/{rid}" if isinstance(rid, str) and rid else rtype


# --- the translator ---------------------------------------------------------------------------
class Translator:
    def __init__(self, patient_id: str, local_codes: LocalCodes | None = None, strict: bool = False,
                 latest_only: bool = True):
        self.facts = PatientFacts(patient_reference=f"Patient/{patient_id}")
        self.local = local_codes or LocalCodes()
        self.strict = strict
        # The eligibility rules read only the latest result per analyte (on or before the evaluation
        # date), so older results are neither validated nor converted: a long lab history costs little.
        self.latest_only = latest_only
        self._pending: dict[str, list[dict]] = {}
        self._codes = self.local.table
        self._encounters: list = []
        self._locations: dict = {}

    # Entry point ------------------------------------------------------------------------------
    def build(self, sources: dict[str, list[dict] | None], order: dict, draft_orders: list[dict],
              issues: list[DataIssue], today: date) -> PatientFacts:
        """`sources` maps source name -> resources (None when that source could not be read)."""
        f = self.facts
        f.issues.extend(issues)
        f.sources_read = {name for name, resources in sources.items() if resources is not None}
        f.order = self.zolgensma_order(order)
        planned = f.order.planned_date if f.order else None
        horizon = max(planned, today) if planned else today
        handlers = {
            "Patient": self._patient, "Observation": self._observation, "Condition": self._condition,
            "MedicationRequest": self._medication_request,
            "MedicationAdministration": self._medication_administration, "Procedure": self._procedure,
            "Coverage": self._coverage, "PractitionerRole": self._practitioner_role,
            "CareTeam": self._care_team, "Encounter": self._encounter, "Location": self._location,
        }
        seen: set[tuple[str, str]] = set()
        for resources in sources.values():
            for resource in resources or ():
                rtype = resource.get("resourceType") if type(resource) is dict else None
                if type(rtype) is not str:
                    f.issues.append(DataIssue("(unknown)", "skipped: an entry that is not a FHIR resource"))
                    continue
                rid = resource.get("id")
                if type(rid) is str:  # the same resource from two searches is read once
                    if (rtype, rid) in seen:
                        continue
                    seen.add((rtype, rid))
                handler = handlers.get(rtype)
                if handler:
                    self._safely(handler, resource)
        self._resolve_pending(horizon)
        f.site_of_care = self._site_of_care()
        for draft in draft_orders:
            if draft is not order and draft.get("resourceType") == "MedicationRequest":
                self._safely(self._medication_request, _lenient_draft(draft, f.patient_reference))
        return f

    def _safely(self, handler, resource: dict, *args) -> None:
        """Last line of defence: a resource we fail to read is skipped and reported, never fatal."""
        try:
            handler(resource, *args)
        except Exception:  # noqa: BLE001 - reported as a data issue, logged with the stack
            log.exception("could not read %s", _ref(resource))
            self.facts.issues.append(DataIssue(_ref(resource), "skipped: could not be read"))

    def _valid(self, resource: dict):
        try:
            model, dropped = validate(resource, self.strict)
        except InvalidResource as err:
            self.facts.issues.append(DataIssue(_ref(resource), f"skipped: {err}"))
            return None
        if dropped:
            self.facts.issues.append(DataIssue(_ref(resource), "ignored unknown elements: " + ", ".join(dropped)))
        return model

    # Patient ----------------------------------------------------------------------------------
    def _patient(self, resource: dict) -> None:
        p = self._valid(resource)
        if p is None:
            return
        born = p.get("birthDate")
        birth = _to_date(born)
        if born and birth is None:
            self.facts.issues.append(DataIssue(_ref(p), f"birthDate {born} is not a full date"))
        self.facts.birth_date = birth

    # Observations -----------------------------------------------------------------------------
    def classify(self, code: dict | None) -> str | None:
        """Which analyte an Observation.code (as JSON) is: standard code, local code, or exact name."""
        if not isinstance(code, dict):
            return None
        codings = code.get("coding")
        if type(codings) is not list:
            codings = ()
        for c in codings:
            if type(c) is dict:
                system, value = c.get("system"), c.get("code")
                if type(system) is str and type(value) is str:
                    found = self._codes.get((system, value))
                    if found:
                        return found
        texts = [_s(code.get("text"))] + [_s(c.get("display")) for c in codings if type(c) is dict]
        for text in texts:
            norm = _norm(text)
            if not norm:
                continue
            if any(m in norm for m in _AAV9_MARKERS):
                return "aav9-titer"
            if "smn1" in norm.split():
                return "genetics"
            if norm in _NAMES:
                return _NAMES[norm]
        return None

    def _observation(self, resource: dict) -> None:
        analyte = self.classify(resource.get("code"))
        if analyte is None and _mentions_smn1_component(resource):
            analyte = "genetics"
        if analyte is None or _s(resource.get("status")) not in FINAL_OBSERVATION:
            return
        if self.latest_only and analyte != "genetics":
            self._pending.setdefault(analyte, []).append(resource)
            return
        self._read_observation(resource, analyte)

    def _resolve_pending(self, horizon: date) -> None:
        """Per analyte, newest first: read results after the horizon (the rules ignore them, cheaply) and
        the first usable one on or before it; older results are not needed."""
        for analyte, resources in self._pending.items():
            if len(resources) == 1:
                self._safely(self._read_observation, resources[0], analyte)
                continue
            candidates = sorted(((_raw_date(r), r) for r in resources), key=lambda c: c[0] or date.min, reverse=True)
            for when, resource in candidates:
                before = len(self.facts.measurements) + len(self.facts.titers)
                self._safely(self._read_observation, resource, analyte)
                found = len(self.facts.measurements) + len(self.facts.titers) > before
                if found and when is not None and when <= horizon:
                    break

    def _read_observation(self, resource: dict, analyte: str) -> None:
        obs = self._valid(resource)
        if obs is None:
            return
        when = _to_date(obs.get("effectiveDateTime")) or _to_date(_start(obs.get("effectivePeriod"))) \
            or _to_date(obs.get("issued"))
        if analyte == "aav9-titer":
            self._titer(obs, when)
        elif analyte == "genetics":
            self._genetics(obs, when)
        else:
            self._measurement(obs, analyte, when)

    def _measurement(self, obs: dict, analyte: str, when: date | None) -> None:
        q = obs.get("valueQuantity") or _NONE
        amount = q.get("value")
        if amount is None:
            self.facts.issues.append(DataIssue(_ref(obs), f"{analyte}: no numeric valueQuantity"))
            return
        if when is None:
            self.facts.issues.append(DataIssue(_ref(obs), f"{analyte}: no usable effective date"))
            return
        code = q.get("code")
        unit = code if code and q.get("system") == t.UCUM else (q.get("unit") or code)
        try:
            value = to_canonical(analyte, float(amount), unit)
            low, high = _reference_range(obs, analyte, unit)
        except UnitError as err:
            self.facts.issues.append(DataIssue(_ref(obs), f"skipped: {err}"))
            return
        canonical = CANONICAL_UNITS[analyte]
        original = f"{float(amount):g} {unit}" if (unit or "") != canonical else ""
        self.facts.measurements.append(Measurement(
            analyte, round(value, 4), canonical, when, _ref(obs), q.get("comparator") or "=", low, high, original))

    def _titer(self, obs: dict, when: date | None) -> None:
        method = _concept_text(obs.get("method")) or None
        try:
            reciprocal, comparator, reported = _titer_value(obs)
        except ValueError as err:
            self.facts.issues.append(DataIssue(_ref(obs), f"AAV9 titer not readable: {err}"))
            return
        self.facts.titers.append(Titer(reciprocal, comparator, when, _ref(obs), method, reported))

    def _genetics(self, obs: dict, when: date | None) -> None:
        copies, pathogenic, statement = None, 0, False
        genes = set()
        texts = [_concept_text(obs["code"]), obs.get("valueString") or "",
                 _concept_text(obs.get("valueCodeableConcept"))]
        texts += [n["text"] for n in obs.get("note") or []]
        for comp in obs.get("component") or []:
            keys = _code_keys(comp["code"])
            value = comp.get("valueCodeableConcept")
            if t.GENE_STUDIED.key in keys or "gene" in _all_text(comp["code"]):
                genes |= {c.get("code") for c in _codings(value)}
                genes.add(_concept_text(value).upper())
            if t.COPY_NUMBER.key in keys:
                copies = _int_value(comp)
            if t.CLINICAL_SIGNIFICANCE.key in keys and (
                    t.PATHOGENIC.key in _code_keys(value)
                    or "pathogenic" in _all_text(value).replace("likely pathogenic", "")):
                pathogenic += 1
            if "homozygous" in _all_text(value) and pathogenic:
                pathogenic = 2
            texts.append(_concept_text(value))
        if t.COPY_NUMBER.key in _code_keys(obs["code"]):
            copies = _int_value(obs)
        if genes and not ({t.SMN1_GENE.code, t.SMN1_GENE.display} & genes):
            return  # e.g. an SMN2 copy-number result: informational, not SMN1 evidence
        blob = " ".join(texts).lower()
        if copies is None:
            m = re.search(r"smn1[^0-9]{0,40}?(\d)\s*cop", blob) or re.search(r"(\d)\s*cop(?:y|ies) of smn1", blob)
            copies = int(m.group(1)) if m else None
        if any(p in blob for p in ("homozygous deletion", "bi-allelic", "biallelic", "no copies of smn1",
                                   "absence of smn1", "0 copies")):
            statement = True
        parts = []
        if copies is not None:
            parts.append(f"SMN1 copy number {copies}")
        if pathogenic:
            parts.append(f"{pathogenic} pathogenic SMN1 variant(s)")
        if statement:
            parts.append("reported as bi-allelic/homozygous deletion")
        if not parts:
            self.facts.issues.append(DataIssue(_ref(obs), "SMN1 result without a readable copy number or variant"))
            return
        summary = "; ".join(parts) + (f" ({when.isoformat()})" if when else "")
        self.facts.genetics.append(GeneticResult(_ref(obs), when, copies, pathogenic, statement, summary))

    # Conditions -------------------------------------------------------------------------------
    def _condition(self, resource: dict) -> None:
        c = self._valid(resource)
        if c is None:
            return
        verification = {x.get("code") for x in _codings(c.get("verificationStatus"))}
        if verification & {"entered-in-error", "refuted"}:
            return
        clinical = {x.get("code") for x in _codings(c.get("clinicalStatus"))}
        active = bool(clinical & {"active", "recurrence", "relapse"}) or not clinical and not c.get("abatementDateTime")
        text = _concept_text(c.get("code"))
        codes = _code_keys(c.get("code"))
        shown = ", ".join(f"{code}" for _, code in sorted(codes))
        self.facts.conditions.append(ConditionFact(
            _ref(c), codes, f"{text} [{shown}]".strip() if shown else text, active,
            _to_date(c.get("onsetDateTime")) or _to_date(_start(c.get("onsetPeriod"))),
            _to_date(c.get("recordedDate"))))

    # Medication orders and administrations -----------------------------------------------------
    def zolgensma_order(self, order: dict) -> Order | None:
        if not order:
            return None
        mr = self._valid(_lenient_draft(order, self.facts.patient_reference))
        if mr is None:
            return Order(_ref(order), "zolgensma", str(order.get("status", "unknown")), "Zolgensma")
        concept = mr.get("medicationCodeableConcept")
        kit = next((n for n in (_normalise_ndc(c.get("code")) for c in _codings(concept)
                                if c.get("system") == t.NDC) if n), None)
        dose = _dose(mr)
        planned, source = _planned_date(mr)
        return Order(_ref(mr), "zolgensma", mr["status"], _concept_text(concept) or "Zolgensma",
                     kit_ndc=kit, dose=dose, planned_date=planned, planned_date_source=source)

    def _medication_request(self, resource) -> None:
        kind = medication_kind(resource)
        if kind is None or (self.facts.order and _ref(resource) == self.facts.order.reference):
            return
        mr = self._valid(resource)
        if mr is None:
            return
        text = _medication_text(resource)
        if kind == "zolgensma":
            if mr["status"] == "completed":  # dated by its planned infusion date, else when it was written
                when = _planned_date(mr)[0] or _to_date(mr.get("authoredOn"))
                self.facts.prior_doses.append(PriorDose(_ref(mr), when, f"Zolgensma order completed ({text})"))
            return
        timing = _first_timing(mr)
        bounds = ((timing or _NONE).get("repeat") or _NONE).get("boundsPeriod")
        start = _to_date(_start(bounds)) or _to_date(_start((mr.get("dispenseRequest") or _NONE).get("validityPeriod")))
        self.facts.steroid_orders.append(Order(
            _ref(mr), "corticosteroid", mr["status"], text, dose=_dose(mr), per_day=_per_day(timing), start=start))

    def _medication_administration(self, resource: dict) -> None:
        if medication_kind(resource) != "zolgensma" or resource.get("status") in ("not-done", "entered-in-error"):
            return
        ma = self._valid(resource)
        if ma is None:
            return
        when = _to_date(ma.get("effectiveDateTime")) or _to_date(_start(ma.get("effectivePeriod")))
        self.facts.prior_doses.append(PriorDose(_ref(ma), when, f"Zolgensma administration ({ma['status']})"))

    def _procedure(self, resource: dict) -> None:
        code = resource.get("code") if isinstance(resource.get("code"), dict) else {}
        codings = [c for c in as_list(code.get("coding")) if isinstance(c, dict)]
        codes = {(_s(c.get("system")), _s(c.get("code"))) for c in codings}
        named = _names_zolgensma(" ".join([_s(code.get("text"))] + [_s(c.get("display")) for c in codings]))
        j3399 = any(system in t.HCPCS_SYSTEMS and code == t.J3399.code for system, code in codes)
        if not (j3399 or named) or resource.get("status") != "completed":
            return
        p = self._valid(resource)
        if p is None:
            return
        when = _to_date(p.get("performedDateTime")) or _to_date(_start(p.get("performedPeriod")))
        self.facts.prior_doses.append(PriorDose(_ref(p), when, f"Procedure: {_concept_text(p.get('code'))}"))

    # Coverage, people, place -------------------------------------------------------------------
    def _coverage(self, resource: dict) -> None:
        cov = self._valid(resource)
        if cov is None:
            return
        classes = cov.get("class") or []
        texts = [_all_text(cov.get("type"))] + [f"{c['value']} {c.get('name') or ''}".lower() for c in classes]
        texts += [(p.get("display") or "").lower() for p in cov["payor"]]
        line = _product_line(" ".join(texts), _code_keys(cov.get("type")))
        description = "; ".join(x for x in [_concept_text(cov.get("type"))] + [
            f"{_concept_text(c['type'])}: {c.get('name') or c['value']}" for c in classes] if x)
        self.facts.coverages.append(CoverageFact(_ref(cov), line, description or "Coverage", cov["status"] == "active"))

    def _practitioner_role(self, resource: dict) -> None:
        role = self._valid(resource)
        if role is None or role.get("active") is False:
            return
        for specialty in role.get("specialty") or []:
            if _is_sma_specialty(specialty):
                who = (role.get("practitioner") or _NONE).get("reference") or _ref(role)
                self.facts.specialists.append(SpecialistFact(_ref(role), f"{who}: {_concept_text(specialty)}"))
                return

    def _care_team(self, resource: dict) -> None:
        team = self._valid(resource)
        if team is None or team.get("status") not in (None, "active", "proposed"):
            return
        for part in team.get("participant") or []:
            for role in part.get("role") or []:
                if _is_sma_specialty(role):
                    member = (part.get("member") or _NONE).get("reference") or "member"
                    self.facts.specialists.append(
                        SpecialistFact(_ref(team), f"care team {member}: {_concept_text(role)}"))
                    return

    def _encounter(self, resource: dict) -> None:
        enc = self._valid(resource)
        if enc is None:
            return
        self._encounters.append(enc)

    def _location(self, resource: dict) -> None:
        loc = self._valid(resource)
        if loc is not None:
            self._locations[_ref(loc)] = loc

    def _site_of_care(self) -> SiteOfCare | None:
        """Place of service from the encounter's Location.type, else from the Encounter's own codes."""
        for enc in self._encounters:
            for part in enc.get("location") or []:
                ref = part["location"].get("reference")
                loc = self._locations.get(ref or "")
                pos = _pos_code(loc.get("type") or []) if loc else None
                if pos:
                    return SiteOfCare(ref, pos, loc.get("name") or _concept_text((loc.get("type") or [None])[0]) or ref)
            pos = _pos_code([enc.get("serviceType"), *(enc.get("type") or [])])
            if pos:
                return SiteOfCare(_ref(enc), pos, _concept_text(enc.get("serviceType")) or "encounter")
            return SiteOfCare(_ref(enc), None, "encounter without a place-of-service code")
        return None


def _pos_code(concepts) -> str | None:
    for concept in concepts:
        for c in _codings(concept):
            if c.get("system") in t.POS_SYSTEMS and (c.get("code") or "").isdigit():
                return c["code"]
    return None


def _reference_range(obs: dict, analyte: str, unit: str | None) -> tuple[float | None, float | None]:
    """The first reference range with a bound, converted like the result (a bound's own unit wins)."""
    for rr in obs.get("referenceRange") or ():
        low, high = _bound(rr.get("low"), analyte, unit), _bound(rr.get("high"), analyte, unit)
        if low is not None or high is not None:
            return low, high
    return None, None


def _bound(q: dict | None, analyte: str, unit: str | None) -> float | None:
    value = q.get("value") if q else None
    if value is None:
        return None
    return round(to_canonical(analyte, float(value), q.get("code") or q.get("unit") or unit), 4)


def _raw_date(resource: dict) -> date | None:
    """The effective date of an unvalidated Observation, for ordering only."""
    period = resource.get("effectivePeriod")
    for value in (resource.get("effectiveDateTime"), period.get("start") if isinstance(period, dict) else None,
                  resource.get("issued")):
        found = _to_date(value) if isinstance(value, str) else None
        if found:
            return found
    return None


def _is_sma_specialty(concept) -> bool:
    return bool(_code_keys(concept) & t.SMA_SPECIALTIES) or any(w in _all_text(concept) for w in t.SMA_SPECIALTY_TEXT)


# --- order helpers (pure functions over JSON/models) ------------------------------------------
def _lenient_draft(order: dict, patient_ref: str) -> dict:
    """Draft orders from real clients (the sandbox) may lack `intent`, `status` or `subject`."""
    fixed = dict(order)
    fixed.setdefault("intent", "order")
    fixed.setdefault("status", "draft")
    fixed.setdefault("subject", {"reference": patient_ref})
    return fixed


def _medication_concept(resource: dict) -> dict:
    concept = resource.get("medicationCodeableConcept")
    if isinstance(concept, dict):
        return concept
    ref = (resource.get("medicationReference") or {}).get("reference") if isinstance(
        resource.get("medicationReference"), dict) else None
    for contained in as_list(resource.get("contained")):
        if isinstance(contained, dict) and ref == f"#{contained.get('id')}" and isinstance(contained.get("code"), dict):
            return contained["code"]
    display = (resource.get("medicationReference") or {}).get("display") if isinstance(
        resource.get("medicationReference"), dict) else None
    return {"text": display} if display else {}


def _medication_text(resource: dict) -> str:
    concept = _medication_concept(resource)
    codings = [c for c in as_list(concept.get("coding")) if isinstance(c, dict)]
    return _s(concept.get("text")) or next((_s(c.get("display")) for c in codings if _s(c.get("display"))), "")


def _names_zolgensma(text: str) -> bool:
    low = text.lower()
    return any(m in low for m in t.ZOLGENSMA_TEXT) and not any(m in low for m in t.NOT_ZOLGENSMA_TEXT)


def medication_kind(resource: dict) -> str | None:
    """'zolgensma', 'corticosteroid' or None, from codes first, then text (never ingredient alone)."""
    if not isinstance(resource, dict):
        return None
    concept = _medication_concept(resource)
    codings = [c for c in as_list(concept.get("coding")) if isinstance(c, dict)]
    for c in codings:
        system, code = _s(c.get("system")), _s(c.get("code"))
        if system == t.NDC and _normalise_ndc(code):
            return "zolgensma"
        if system in t.HCPCS_SYSTEMS and code == t.J3399.code:
            return "zolgensma"
        if (system, code) in t.CORTICOSTEROID_CODES:
            return "corticosteroid"
    text = " ".join([_s(concept.get("text"))] + [_s(c.get("display")) for c in codings])
    if _names_zolgensma(text):
        return "zolgensma"
    if any(s in text.lower() for s in t.CORTICOSTEROID_TEXT):
        return "corticosteroid"
    return None


def _normalise_ndc(code: str | None) -> str | None:
    """A Zolgensma kit NDC in 5-3-2 form ('71894-120-02'), from 5-3-2, 5-4-2 or 10/11-digit forms."""
    if not isinstance(code, str) or not code:
        return None
    parts = code.strip().split("-")
    if len(parts) == 3:
        labeler, product, package = parts
    else:
        digits = re.sub(r"\D", "", code)
        if len(digits) == 11:
            labeler, product, package = digits[:5], digits[5:9], digits[9:]
        elif len(digits) == 10:
            labeler, product, package = digits[:5], digits[5:8], digits[8:]
        else:
            return None
    if labeler != t.ZOLGENSMA_LABELER or not product.isdigit() or not package.isdigit():
        return None
    product_code = int(product)
    if product_code not in t.ZOLGENSMA_PRODUCT_CODES:
        return None
    return f"{labeler}-{product_code}-{int(package):02d}"


_DOSE_UNITS = {"ml": "mL", "milliliter": "mL", "{vg}": "vg", "{vector_genomes}": "vg", "vg": "vg",
               "vector genomes": "vg", "{vg}/kg": "vg/kg", "vg/kg": "vg/kg", "{vector_genomes}/kg": "vg/kg",
               "mg": "mg", "mg/kg": "mg/kg", "mg/kg/d": "mg/kg"}


def _dose(mr: dict) -> Dose | None:
    for dosage in mr.get("dosageInstruction") or []:
        for dr in dosage.get("doseAndRate") or []:
            q = dr.get("doseQuantity") or _NONE
            if q.get("value") is not None:
                unit = _DOSE_UNITS.get((q.get("code") or q.get("unit") or "").strip().lower())
                if unit:
                    return Dose(float(q["value"]), unit)
    return None


def _first_timing(mr: dict) -> dict | None:
    return next((d["timing"] for d in mr.get("dosageInstruction") or [] if d.get("timing")), None)


def _per_day(timing: dict | None) -> float | None:
    if timing is None:
        return None
    r = timing.get("repeat") or _NONE
    unit = r.get("periodUnit")
    if r.get("frequency") and r.get("period") and unit in ("d", "h", "wk"):
        per_unit = {"d": 1, "h": 24, "wk": 1 / 7}[unit]
        return float(r["frequency"]) / float(r["period"]) * per_unit
    concept = timing.get("code")
    code = _all_text(concept) + " " + " ".join(c.get("code") or "" for c in _codings(concept)).lower()
    if any(w in code for w in ("qd", "once daily", "daily")):
        return 1.0
    return None


def _planned_date(mr: dict) -> tuple[date | None, str]:
    timing = _first_timing(mr)
    if timing is not None:
        for event in timing.get("event") or []:
            if _to_date(event):
                return _to_date(event), "dosageInstruction.timing.event"
        bounds = (timing.get("repeat") or _NONE).get("boundsPeriod")
        if _to_date(_start(bounds)):
            return _to_date(_start(bounds)), "dosageInstruction.timing.repeat.boundsPeriod.start"
    validity = (mr.get("dispenseRequest") or _NONE).get("validityPeriod")
    if _to_date(_start(validity)):
        return _to_date(_start(validity)), "dispenseRequest.validityPeriod.start"
    return None, ""


def _titer_value(obs: dict) -> tuple[float, str, str]:
    text = obs.get("valueString")
    if text:
        reciprocal, comparator = parse_titer_string(text)
        return reciprocal, comparator, text.strip()
    text = _concept_text(obs.get("valueCodeableConcept"))
    if text:
        reciprocal, comparator = parse_titer_string(text)
        return reciprocal, comparator, text
    ratio = obs.get("valueRatio")
    if ratio is not None:
        num, den = ratio.get("numerator") or _NONE, ratio.get("denominator") or _NONE
        if not num.get("value") or den.get("value") is None:
            raise ValueError("ratio without numerator/denominator")
        reciprocal = float(den["value"]) / float(num["value"])
        comparator = num.get("comparator") or den.get("comparator") or "="
        return reciprocal, comparator, f"{comparator if comparator != '=' else ''}1:{reciprocal:g}"
    q = obs.get("valueQuantity") or _NONE
    if q.get("value") is not None:
        value = float(q["value"])
        unit = (q.get("code") or q.get("unit") or "").lower()
        if "titer" in unit or "titre" in unit or unit in ("{dilution}", "dilution"):
            comparator = q.get("comparator") or "="
            return value, comparator, f"{comparator if comparator != '=' else ''}1:{value:g}"
        raise ValueError(f"quantity {q['value']} {unit or '(no unit)'} is not a titer")
    raise ValueError("no value")


def _int_value(element: dict) -> int | None:
    if element.get("valueInteger") is not None:
        return element["valueInteger"]
    value = (element.get("valueQuantity") or _NONE).get("value")
    if value is not None and float(value).is_integer():
        return int(value)
    return None


def _mentions_smn1_component(resource: dict) -> bool:
    for comp in as_list(resource.get("component")):
        if not isinstance(comp, dict):
            continue
        value = comp.get("valueCodeableConcept") if isinstance(comp.get("valueCodeableConcept"), dict) else {}
        codes = {_s(c.get("code")) for c in as_list(value.get("coding")) if isinstance(c, dict)}
        if t.SMN1_GENE.code in codes:
            return True
    return False


_EXCLUDED_LINE = re.compile("|".join(rf"\b{re.escape(w)}\b" for w in t.EXCLUDED_LINE_TEXT))
_COVERED_LINE = re.compile("|".join(rf"\b{re.escape(w)}\b" for w in t.COVERED_LINE_TEXT))


def _product_line(text: str, codes: frozenset[tuple[str, str]]) -> str | None:
    if _EXCLUDED_LINE.search(text):
        return "aca-individual"
    covered = _COVERED_LINE.search(text)
    if covered:
        return t.COVERED_LINE_TEXT[covered.group(0)]
    for system, code in codes:
        if system == t.SOPT and code[:1] == "1":
            return "medicare"
        if system == t.SOPT and code[:1] == "2":
            return "medicaid"
    return None

