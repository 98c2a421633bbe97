"""Typed facts: what the rules know about a patient, free of FHIR paths.

The translation layer (`translate.py`) builds these from FHIR resources; the rules read only these.
They are plain dataclasses, not frozen ones: a frozen dataclass costs about four times as much to build
(measured: 1.0 vs 0.25 us), and a request builds dozens. The rules never change them; tests/test_rules.py
checks that on every fixture.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date

from .quantities import scientific, with_unit


def _date_text(when: date | None) -> str:
    """An evidence date as shown on cards: ISO, or 'unknown date'."""
    return when.isoformat() if when else "unknown date"


@dataclass
class Evidence:
    """One piece of evidence: a resource reference plus a human-readable value/date, and the record's own
    free text when the card must quote it (escaped where it is rendered)."""

    reference: str
    text: str
    quote: str = ""


# Analytes judged against the lower limit of their reference range (thrombocytopenia, anemia).
LOW_LIMIT_ANALYTES = frozenset({"platelets", "hemoglobin"})


@dataclass
class Measurement:
    """A numeric result in the analyte's canonical unit (see quantities.CANONICAL_UNITS)."""

    analyte: str
    value: float
    unit: str
    when: date | None
    reference: str
    comparator: str = "="
    ref_low: float | None = None
    ref_high: float | None = None
    original: str = ""  # value and unit as reported, when converted
    # Why the lab's reference ranges gave no limit for this patient (translate/ranges.py), shown with the result.
    range_note: str = ""

    @property
    def evidence(self) -> Evidence:
        shown = with_unit(_fmt(self.value), self.unit)
        if self.comparator != "=":
            shown = f"{self.comparator}{shown}"
        if self.original and self.original != shown:
            shown += f" (reported {self.original})"
        if self.analyte in LOW_LIMIT_ANALYTES:  # a low count is the finding: show the lower limit, not the ULN
            if self.ref_low is not None:
                shown += f", lower limit {with_unit(_fmt(self.ref_low), self.unit)}"
            elif self.range_note:
                shown += f", lower limit unknown: {self.range_note}"
        elif self.ref_high is not None:
            shown += f", ULN {with_unit(_fmt(self.ref_high), self.unit)}"
        elif self.range_note:
            shown += f", ULN unknown: {self.range_note}"
        return Evidence(self.reference, f"{shown} on {_date_text(self.when)}")


@dataclass
class Titer:
    """An anti-AAV9 antibody titer as its reciprocal dilution (1:50 -> 50), with comparator."""

    reciprocal: float
    comparator: str  # "=", "<", "<=", ">", ">="
    when: date | None
    reference: str
    method: str | None
    reported: str
    # "elisa", "other" (a named assay that is not ELISA, or both named) or None (no method stated);
    # method_from says where the method was read ("Observation.method" or "test name").
    method_kind: str | None = None
    method_from: str = ""
    # What the lab wrote beside the value that may change what it means (review 2026-11-24f F2): a parenthesis
    # after the dilution or a note, quoted; remark_kind "specimen" (the specimen was unfit), "comment" (any
    # other parenthesis) or "note" (a note naming a repeat, an addendum or another dilution); "" for none.
    remark: str = ""
    remark_kind: str = ""
    # The lab's own reading of the value: (as shown, meaning) with meaning "negative", "positive", "high",
    # "equivocal" (a qualifier in the parenthesis, Observation.interpretation); rules/eligibility compares them.
    flags: tuple[tuple[str, str], ...] = ()
    issued: str = ""  # with no draw date, the day it was reported (Observation.issued): shown, never used as one

    @property
    def evidence(self) -> Evidence:
        method = f", method {self.method} (from {self.method_from})" if self.method else ", method not recorded"
        when = _date_text(self.when) if self.when or not self.issued else \
            f"no draw date (reported {self.issued}, not the draw date)"
        return Evidence(self.reference, f"titer {self.reported}{method}, on {when}",
                        self.remark if self.remark_kind == "note" else "")


@dataclass
class OtherPersonResult:
    """A result filed on this patient's record but labelled as another person's ("Maternal AAV9 total antibody
    (mother's serum)"): never evidence; named on the card of the criterion it would have served (review
    2026-11-24f F3) and reported as a data issue."""

    analyte: str
    reference: str
    whose: str  # "the mother's"
    label: str  # the name that says so, as written
    shown: str  # its value and date as written

    @property
    def evidence(self) -> Evidence:
        return Evidence(self.reference, f"{self.label}: {self.shown}; labelled as {self.whose}")


@dataclass
class SequenceVariant:
    """A pathogenic or likely pathogenic SMN1 sequence variant reported in structured form."""

    identifier: str  # normalised HGVS (c., g. or p.) or variation code: what makes two variants distinct
    shown: str  # as reported
    significance: str  # "pathogenic" | "likely pathogenic"
    zygosity: str | None = None  # "homozygous" | "heterozygous" | "hemizygous" | None (not reported)


@dataclass
class GeneticResult:
    """One SMN1 result. Structured findings (copy number, P/LP sequence variants) can decide the criterion;
    the report's free text (`text`, with `text_claim` after negation handling) can at most send it to review."""

    reference: str
    when: date | None
    smn1_copies: int | None = None  # LOINC 82155-3 on an SMN1 result; None when not reported
    variants: list[SequenceVariant] = field(default_factory=list)
    text: str = ""
    text_claim: str | None = None  # "biallelic" | "not-biallelic" (negated, carrier, normal) | None
    paired: str = ""  # how SMN1's copy number was told apart on a result naming several genes (genetics.py)
    flags: tuple[tuple[str, str], ...] = ()  # the lab's Observation.interpretation: (as shown, what it says)

    @property
    def evidence(self) -> Evidence:
        parts = []
        if self.smn1_copies is not None:
            parts.append(f"SMN1 copy number {self.smn1_copies}")
        for v in self.variants:
            parts.append(f"{v.significance} SMN1 variant {v.shown}" + (f", {v.zygosity}" if v.zygosity else ""))
        if self.text and not parts:
            parts.append("free-text report only")
        if self.paired:
            parts.append(self.paired)
        when = _date_text(self.when)
        return Evidence(self.reference, f"{'; '.join(parts) or 'SMN1 result'} ({when})", self.text)


@dataclass
class ConditionFact:
    reference: str
    codes: frozenset[tuple[str, str]]
    text: str
    active: bool
    onset: date | None
    recorded: date | None = None
    # Condition.verificationStatus as recorded ("confirmed", "unconfirmed", "provisional", "differential", "refuted";
    # "" when not stated). Entered-in-error Conditions are never read.
    verification: str = ""
    # Condition.note texts, joined: read for advanced SMA ("Trach/vent dependent since 09/2026"; review 2026-11-24g G4).
    note: str = ""

    @property
    def evidence(self) -> Evidence:
        """The condition as a reviewer weighs it: its name and codes, and when (onset, else recorded): a ventilator
        dependence of last month and one from the NICU stay are different questions (review 2026-11-24b M1)."""
        text = self.text or "condition"
        if text.startswith("["):  # codes only: say so rather than show a bare code as if it were a name
            text = f"condition coded {text} (no name in the record)"
        if self.onset:
            return Evidence(self.reference, f"{text}, onset {self.onset.isoformat()}")
        if self.recorded:
            return Evidence(self.reference, f"{text}, recorded {self.recorded.isoformat()}")
        return Evidence(self.reference, f"{text}, no onset or recorded date")


@dataclass
class ClinicalEvidence:
    """A procedure or device the rules weigh (tracheostomy, invasive ventilation, a home ventilator)."""

    reference: str
    text: str
    when: date | None

    @property
    def evidence(self) -> Evidence:
        return Evidence(self.reference, self.text + (f" on {self.when.isoformat()}" if self.when else ""))


@dataclass
class Dose:
    """A dose as ordered. Exactly one of the amounts is typically set."""

    value: float
    unit: str  # canonical: "mL", "vg", "vg/kg", "mg", "mg/kg" (per administration); "mg/d", "mg/kg/d" (per day)
    stated: str = ""  # where the order states it, when not a plain doseQuantity ("low end of doseRange")
    # Why the stated amount is not an exact dose in a known unit (a comparator: "<41.3 mL"; unit and code that
    # disagree: "vg" shown, "mL" coded): such a dose decides nothing (review 2026-11-24c R7). Empty when usable.
    problem: str = ""

    @property
    def shown(self) -> str:
        return f"{scientific(self.value, 4)} {self.unit}" + (f" ({self.stated})" if self.stated else "")


@dataclass
class Order:
    """A medication order (draft or on record) reduced to what the rules need."""

    reference: str
    kind: str  # "zolgensma" | "corticosteroid" | "antimicrobial"
    status: str
    text: str
    kit_ndc: str | None = None
    dose: Dose | None = None
    per_day: float | None = None  # administrations per day, when stated
    start: date | None = None
    end: date | None = None  # last day the order covers (inclusive): boundsPeriod.end, or start + duration/count
    planned_date: date | None = None  # for Zolgensma: the planned infusion date, when stated
    planned_date_source: str = ""  # the order element the planned date was read from
    # For Zolgensma (a single dose, FDA label 2): every dose the order states (`dose` is the first), why it gives
    # more than one administration or kit, and why its timing or dispense cannot be read (plain text).
    doses: tuple[Dose, ...] = ()
    # For a corticosteroid order: why it is not the label's scheduled, active, systemic course ("as needed
    # (dosageInstruction.asNeeded)", "on hold (status on-hold)", ...); empty when it is one.
    not_a_course: tuple[str, ...] = ()
    several: tuple[str, ...] = ()
    unclear: tuple[str, ...] = ()
    # For Zolgensma: every distinct kit NDC the order names under the NDC system (`kit_ndc` is set only when there
    # is exactly one: two kits on one order are a finding, never the first taken, review 2026-11-24c R4); kit NDCs
    # written under another system, as (NDC, system) (R8); the volumes (mL) its dosage text names, with the text
    # (R5); and, when part of the order could not be read, what in plain words (R6: no criterion that reads that
    # part is decided from the rest).
    kit_ndcs: tuple[str, ...] = ()
    kit_codes_elsewhere: tuple[tuple[str, str], ...] = ()
    text_volumes: tuple[tuple[float, str], ...] = ()
    unreadable: str = ""

    @property
    def evidence(self) -> Evidence:
        bits = [self.text or self.kind, f"status {self.status}"]
        if len(self.kit_ndcs) > 1:
            bits.append("kit NDCs " + ", ".join(self.kit_ndcs))
        elif self.kit_ndc:
            bits.append(f"kit NDC {self.kit_ndc}")
        bits += [f"kit code {code} under {system}" for code, system in self.kit_codes_elsewhere]
        if len(self.doses) > 1:
            bits.append("doses " + "; ".join(d.shown for d in self.doses))
        elif self.dose:
            bits.append(f"dose {_fmt(self.dose.value)} {self.dose.unit}"
                        + (f" ({self.dose.problem})" if self.dose.problem else ""))
        if self.start:
            bits.append(f"start {self.start.isoformat()}")
        if self.end:
            bits.append(f"through {self.end.isoformat()}")
        return Evidence(self.reference, ", ".join(bits))


@dataclass
class Assessment:
    """A documented functional assessment after the infusion: a motor scale (CHOP-INTEND, HFMSE, RHS) or a
    developmental-milestone assessment. `shown` is the result as recorded (score or text)."""

    kind: str  # "chop-intend" | "hfmse" | "rhs" | "developmental-milestones"
    reference: str
    when: date | None
    shown: str

    @property
    def evidence(self) -> Evidence:
        return Evidence(self.reference, f"{self.shown} on {_date_text(self.when)}")


@dataclass
class PriorDose:
    reference: str
    when: date | None
    text: str
    # A possible prior dose read only from a gene-therapy infusion's free text (a Procedure that does not identify
    # the product by code: review 2026-11-24e T3): its card asks to confirm the infusion was not Zolgensma.
    gene_therapy_text: bool = False
    # An infusion request still open (active, on hold) whose date has passed (review 2026-11-24g G7): its card asks to
    # confirm it was not given.
    open_request: bool = False

    @property
    def evidence(self) -> Evidence:
        return Evidence(self.reference, f"{self.text} on {_date_text(self.when)}")


@dataclass(frozen=True)
class Period:
    """A FHIR Period as calendar days. Each bound is the (first, last) day it can mean: "2026-10-31" is one
    day, "2026-10" the whole month, "2026" the year; None: open. `unreadable`: a bound that is no date."""

    start: tuple[date, date] | None = None
    end: tuple[date, date] | None = None
    unreadable: bool = False
    stated_start: str = ""  # as recorded, for the card
    stated_end: str = ""

    def holds_on(self, day: date) -> bool | None:
        """True: in effect on `day`; False: certainly not (ended before it, or starts after it); None: the
        recorded bounds cannot tell (a partial or unreadable date around `day`)."""
        if self.start and self.start[0] > day or self.end and self.end[1] < day:
            return False
        if self.unreadable or self.start and self.start[1] > day or self.end and self.end[0] < day:
            return None
        return True

    def why_not(self, day: date) -> str:
        """Why it does not hold on `day`, in words ("ended 2026-10-31", "starts 2027-01-01")."""
        if self.end and self.end[1] < day:
            return f"ended {self.stated_end}"
        if self.start and self.start[0] > day:
            return f"starts {self.stated_start}"
        return f"period {self.stated} not known to include {day.isoformat()}"

    @property
    def stated(self) -> str:
        """"2026-01-01 to 2026-10-31", "from 2026-01-01", "to 2026-10-31", or "" without a period."""
        if self.stated_start and self.stated_end:
            return f"{self.stated_start} to {self.stated_end}"
        return f"from {self.stated_start}" if self.stated_start else f"to {self.stated_end}" if self.stated_end else ""


ALWAYS = Period()  # no period recorded: in effect whenever its status says


@dataclass
class CoverageFact:
    reference: str
    product_line: str | None  # "medicaid" | "chip" | "medicare" | "aca-individual" | None (unknown)
    description: str
    active: bool
    insurer: str | None = None  # Coverage.payor display: the name on the patient's insurance card
    # Is the payor the plan whose policy is applied (terminology.POLICY_PAYER and configured names)? True, False
    # (another payer named, or the patient/a related person paying), None (no payor named).
    policy_payer: bool | None = None
    period: Period = ALWAYS  # Coverage.period: the dates the coverage is in force
    order: int | None = None  # Coverage.order: 1 primary, 2 secondary...; None: not stated
    # Why the payor's display cannot be taken as the policy's plan (policy_payer is then None): it names the plan
    # but refers to an Organization that is not read as it, or is read as another (review 2026-11-24e T7).
    payer_conflict: str = ""
    self_pay: bool = False  # the patient or a related person pays (no insurer)

    @property
    def evidence(self) -> Evidence:
        named = self.insurer and self.insurer.lower() not in self.description.lower()
        text = f"{self.description}; payer {self.insurer}" if named else self.description
        text = f"{text}; order {self.order}" if self.order is not None else text
        return Evidence(self.reference, f"{text}; period {self.period.stated}" if self.period.stated else text)


@dataclass
class SpecialistFact:
    reference: str
    description: str
    coded: bool = True  # False: the specialty is named only in text (at most `review`)
    period: Period = ALWAYS  # PractitionerRole.period: when the role is held

    @property
    def evidence(self) -> Evidence:
        shown = f"{self.description}; role period {self.period.stated}" if self.period.stated else self.description
        return Evidence(self.reference, shown)


@dataclass
class SiteOfCare:
    reference: str
    pos_code: str | None
    description: str
    why: str | None = None  # plain text: why no place of service could be determined (pos_code None)


@dataclass
class DataIssue:
    """Something that could not be used: a skipped resource or a failed fetch."""

    source: str  # prefetch key or resource reference
    problem: str


@dataclass
class PendingOrder:
    """A ServiceRequest already drafted or active for this patient: a test not to be suggested again."""

    reference: str
    codes: frozenset[tuple[str, str]]
    status: str
    authored: str | None  # authoredOn as written, when given


# The reason an AAV9 titer's value could not be read (translate/observations.py); the rule quotes such entries.
TITER_NOT_READABLE = "AAV9 titer not readable"


@dataclass
class Unread:
    """An entry of a source that was received but could not be used as evidence: unreadable, invalid,
    another patient's, dated in the future. `kind` is what it was recognised as (an analyte, "condition",
    "zolgensma", ...; None: unknown, so it may have been anything); `when` its date when readable. A
    "none on record" or "latest result" conclusion cannot rest on a source with such an entry of its kind."""

    source: str  # data_access source name
    reference: str
    reason: str
    kind: str | None = None
    # Its date when readable; for a partial date ("2026-11") the last day it may stand for (it may be newer than
    # any result before that day); None when it has no date (it may be the newest of all).
    when: date | None = None
    # A result that is not final yet (R4 status registered, preliminary or unknown): not evidence
    # (clinical-facts 5), but a newer one shows that a newer answer is on its way. "" for anything else.
    not_final: str = ""


@dataclass
class PlannedInfusion:
    """A scheduled Zolgensma infusion that is not an order of the product itself: a ServiceRequest for the
    infusion, or an Appointment recognised as the infusion visit. Only ever a date for the readiness plan."""

    reference: str
    kind: str  # "service-request" | "appointment"
    when: date  # the planned day (the appointment's start, the request's occurrence), as written
    recognised_by: str  # "code" | "reference" (based on / supporting a Zolgensma order) | "text"
    status: str
    shown: str  # what identified it: the code, the order referred to, or the record's own words (quoted)


@dataclass
class PatientFacts:
    """Everything the rules need, plus which sources could be read at all."""

    patient_reference: str
    birth_date: date | None = None  # a full birth date only
    # Patient.birthDate as the first and last day it can mean ("2025-03": 2025-03-01 to 2025-03-31, the last day no
    # later than today); for a full date, that day twice. `birth_stated`: as recorded (fix-cov item 5, R11).
    birth_span: tuple[date, date] | None = None
    birth_stated: str = ""
    order: Order | None = None  # the Zolgensma order under consideration
    measurements: list[Measurement] = field(default_factory=list)
    titers: list[Titer] = field(default_factory=list)
    genetics: list[GeneticResult] = field(default_factory=list)
    conditions: list[ConditionFact] = field(default_factory=list)
    # Conditions a clinician marked refuted: never evidence of what they name, but a refuted SMA diagnosis
    # contradicts a bi-allelic genetic result (criterion 2 review; review 2026-11-24b Q1).
    refuted_conditions: list[ConditionFact] = field(default_factory=list)
    steroid_orders: list[Order] = field(default_factory=list)
    # Open antibacterial / antifungal / antiviral orders (criterion 10: an infection may be under treatment).
    antimicrobial_orders: list[Order] = field(default_factory=list)
    prior_doses: list[PriorDose] = field(default_factory=list)
    # Records that may be a prior dose but cannot be read as one for certain (one-time-dose `review`): a completed
    # infusion ServiceRequest named only in text (review 2026-11-24e T2), a prior Itvisma / AVXS-101 dose (T4), a
    # gene-therapy infusion Procedure that does not name the product in its code (T3).
    possible_prior_doses: list[PriorDose] = field(default_factory=list)
    # Corticosteroid administrations (given, in progress or on hold): the monitoring service's evidence that the
    # label's prednisolone course is being given (review 2026-11-24d S5).
    steroid_administrations: list[ClinicalEvidence] = field(default_factory=list)
    # Open Zolgensma orders (draft, active, on hold) other than `order`: in this ordering session or on record.
    other_zolgensma_orders: list[Evidence] = field(default_factory=list)
    assessments: list[Assessment] = field(default_factory=list)  # motor scales, developmental milestones
    other_persons: list[OtherPersonResult] = field(default_factory=list)  # another person's results (never evidence)
    coverages: list[CoverageFact] = field(default_factory=list)
    specialists: list[SpecialistFact] = field(default_factory=list)
    other_specialties: list[Evidence] = field(default_factory=list)  # roles whose specialty is not an SMA one
    pending_orders: list[PendingOrder] = field(default_factory=list)
    site_of_care: SiteOfCare | None = None
    # Zolgensma infusions scheduled other than by a Zolgensma MedicationRequest (readiness target date).
    planned_infusions: list[PlannedInfusion] = field(default_factory=list)
    # Advanced-SMA evidence beyond Conditions (criterion 3): procedures and devices.
    advanced_sma: list[ClinicalEvidence] = field(default_factory=list)
    # Sources that were read (a successful, possibly empty, answer): names from data_access.SOURCES.
    sources_read: set[str] = field(default_factory=set)
    # Why a source's answer may be incomplete (truncated, limit reached): source name -> reasons.
    source_gaps: dict[str, list[str]] = field(default_factory=dict)
    unread: list[Unread] = field(default_factory=list)
    issues: list[DataIssue] = field(default_factory=list)

    @property
    def earliest_birth(self) -> date | None:
        """The birth date, or the earliest day a partial one can mean (the oldest the patient can be)."""
        return self.birth_date or (self.birth_span[0] if self.birth_span else None)

    def latest(self, analyte: str, on_or_before: date | None = None, after: date | None = None) -> Measurement | None:
        """The newest dated result of an analyte, optionally within (after, on_or_before]."""
        best = None
        for m in self.measurements:
            if m.analyte == analyte and m.when is not None and (on_or_before is None or m.when <= on_or_before) \
                    and (after is None or m.when > after) and (best is None or m.when > best.when):
                best = m
        return best


def _fmt(value: float) -> str:
    return scientific(value)
