"""Fast validation of just the FHIR R4 elements the rules read.

Full `fhir.resources` validation of every prefetched resource costs about ten times the JSON parse
(issue: performance). These pydantic TypedDicts declare only the elements translate.py reads, with the R4
datatype rules that matter for them: FHIR date/dateTime/instant formats, numbers that are JSON numbers,
codes without whitespace, arrays where R4 has arrays. Everything else in a resource is dropped, so a wrong
element the rules never read cannot knock out a good result.

Validation returns plain dicts (FHIR JSON with only these elements, every one of the declared type):
about half the cost of building model objects, and the translator reads FHIR JSON the same way in both
modes. CDS_STRICT_VALIDATION=true adds the full `fhir.resources` R4B models as a gate in front.
"""

from __future__ import annotations

from typing import Annotated, NotRequired, Required

from pydantic import AllowInfNan, Field, Strict, StrictBool, StrictInt, StringConstraints, TypeAdapter
from typing_extensions import TypedDict  # pydantic needs this one before Python 3.12

# R4 primitive regular expressions (FHIR R4 datatypes page).
_DATE = r"^([0-9]([0-9]([0-9][1-9]|[1-9]0)|[1-9]00)|[1-9]000)(-(0[1-9]|1[0-2])(-(0[1-9]|[1-2][0-9]|3[0-1]))?)?$"
_DATETIME = (r"^([0-9]([0-9]([0-9][1-9]|[1-9]0)|[1-9]00)|[1-9]000)(-(0[1-9]|1[0-2])(-(0[1-9]|[1-2][0-9]|3[0-1])"
             r"(T([01][0-9]|2[0-3]):[0-5][0-9]:([0-5][0-9]|60)(\.[0-9]{1,9})?)?)?(Z|(\+|-)((0[0-9]|1[0-3]):[0-5][0-9]"
             r"|14:00)?)?)?$")
_INSTANT = (r"^([0-9]([0-9]([0-9][1-9]|[1-9]0)|[1-9]00)|[1-9]000)-(0[1-9]|1[0-2])-(0[1-9]|[1-2][0-9]|3[0-1])"
            r"T([01][0-9]|2[0-3]):[0-5][0-9]:([0-5][0-9]|60)(\.[0-9]{1,9})?(Z|(\+|-)((0[0-9]|1[0-3]):[0-5][0-9]|14:00))$")

Date = Annotated[str, StringConstraints(pattern=_DATE)]
DateTime = Annotated[str, StringConstraints(pattern=_DATETIME)]
Instant = Annotated[str, StringConstraints(pattern=_INSTANT)]
Code = Annotated[str, StringConstraints(pattern=r"^[^\s]+( [^\s]+)*$")]
Str = Annotated[str, StringConstraints(min_length=1)]
Id = Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9\-\.]{1,64}$")]
# JSON numbers only, and finite: NaN/Infinity (which lenient JSON parsers let through) never reach a rule.
Decimal = StrictInt | Annotated[float, Strict(), AllowInfNan(False)]


class Coding(TypedDict, total=False):
    system: Str | None
    code: Code | None
    display: Str | None


class CodeableConcept(TypedDict, total=False):
    coding: list[Coding] | None
    text: Str | None


class Quantity(TypedDict, total=False):
    value: Decimal | None
    comparator: Code | None
    unit: Str | None
    system: Str | None
    code: Code | None


class Ratio(TypedDict, total=False):
    numerator: Quantity | None
    denominator: Quantity | None


class Period(TypedDict, total=False):
    start: DateTime | None
    end: DateTime | None


class Reference(TypedDict, total=False):
    reference: Str | None
    display: Str | None


class Annotation(TypedDict):
    text: Str


class Resource(TypedDict, total=False):
    resourceType: Required[Str]
    id: Id | None


class Patient(Resource, total=False):
    birthDate: Date | None


class Range(TypedDict, total=False):
    low: Quantity | None
    high: Quantity | None


class ReferenceRange(TypedDict, total=False):
    low: Quantity | None
    high: Quantity | None
    # Which patients the range is for: a range of another age is not this patient's ULN (clinical-facts.md 3).
    age: Range | None
    appliesTo: list[CodeableConcept] | None


class ObservationComponent(TypedDict, total=False):
    code: Required[CodeableConcept]
    valueQuantity: Quantity | None
    valueCodeableConcept: CodeableConcept | None
    valueInteger: StrictInt | None
    valueString: Str | None


class Observation(Resource, total=False):
    status: Required[Code]
    code: Required[CodeableConcept]
    effectiveDateTime: DateTime | None
    effectivePeriod: Period | None
    issued: Instant | None
    valueQuantity: Quantity | None
    valueString: Str | None
    valueRatio: Ratio | None
    valueCodeableConcept: CodeableConcept | None
    valueInteger: StrictInt | None
    referenceRange: list[ReferenceRange] | None
    method: CodeableConcept | None
    interpretation: list[CodeableConcept] | None
    note: list[Annotation] | None
    component: list[ObservationComponent] | None
    derivedFrom: list[Reference] | None


class Condition(Resource, total=False):
    clinicalStatus: CodeableConcept | None
    verificationStatus: CodeableConcept | None
    code: CodeableConcept | None
    onsetDateTime: DateTime | None
    onsetPeriod: Period | None
    abatementDateTime: DateTime | None
    abatementPeriod: Period | None
    abatementString: Str | None
    recordedDate: DateTime | None
    note: list[Annotation] | None  # read for advanced SMA (review 2026-11-24g G4)


class TimingRepeat(TypedDict, total=False):
    boundsPeriod: Period | None
    boundsDuration: Quantity | None
    count: Annotated[StrictInt, Field(ge=0)] | None
    countMax: Annotated[StrictInt, Field(ge=0)] | None
    frequency: Annotated[StrictInt, Field(ge=0)] | None
    frequencyMax: Annotated[StrictInt, Field(ge=0)] | None
    period: Decimal | None
    periodUnit: Code | None
    # several times a day or days a week: several administrations (a single-dose order, translate/dosage.py)
    dayOfWeek: list[Code] | None
    timeOfDay: list[Str] | None
    when: list[Code] | None


class Timing(TypedDict, total=False):
    event: list[DateTime] | None
    repeat: TimingRepeat | None
    code: CodeableConcept | None


class DoseAndRate(TypedDict, total=False):
    doseQuantity: Quantity | None
    doseRange: Range | None


class Dosage(TypedDict, total=False):
    timing: Timing | None
    doseAndRate: list[DoseAndRate] | None
    asNeededBoolean: StrictBool | None
    asNeededCodeableConcept: CodeableConcept | None
    route: CodeableConcept | None


class DispenseRequest(TypedDict, total=False):
    validityPeriod: Period | None
    quantity: Quantity | None
    numberOfRepeatsAllowed: Annotated[StrictInt, Field(ge=0)] | None


class MedicationRequest(Resource, total=False):
    status: Required[Code]
    intent: Required[Code]
    medicationCodeableConcept: CodeableConcept | None
    authoredOn: DateTime | None
    dosageInstruction: list[Dosage] | None
    dispenseRequest: DispenseRequest | None


class MedicationAdministration(Resource, total=False):
    status: Required[Code]
    effectiveDateTime: DateTime | None
    effectivePeriod: Period | None


class MedicationStatement(MedicationAdministration, total=False):  # the same elements, plus dateAsserted
    dateAsserted: DateTime | None


class MedicationDispense(Resource, total=False):
    status: Required[Code]
    whenHandedOver: DateTime | None
    whenPrepared: DateTime | None
    authorizingPrescription: list[Reference] | None


class Immunization(Resource, total=False):  # a dose recorded as an immunization (review 2026-11-24e T5)
    status: Required[Code]
    occurrenceDateTime: DateTime | None
    recorded: DateTime | None


class DeviceName(TypedDict, total=False):
    name: Required[Str]
    type: Required[Code]


class Device(Resource, total=False):
    status: Code | None
    type: CodeableConcept | None
    deviceName: list[DeviceName] | None


class DeviceUseStatement(Resource, total=False):
    status: Required[Code]
    device: Required[Reference]
    timingDateTime: DateTime | None
    timingPeriod: Period | None
    recordedOn: DateTime | None


class DeviceRequest(Resource, total=False):
    status: Required[Code]
    codeCodeableConcept: CodeableConcept | None
    codeReference: Reference | None
    occurrenceDateTime: DateTime | None
    occurrencePeriod: Period | None
    authoredOn: DateTime | None


class Procedure(Resource, total=False):
    status: Required[Code]
    code: CodeableConcept | None
    performedDateTime: DateTime | None
    performedPeriod: Period | None


class CoverageClass(TypedDict, total=False):
    type: Required[CodeableConcept]
    value: Required[Str]
    name: Str | None


# `class` is a Python keyword, hence the functional form.
Coverage = TypedDict("Coverage", {
    "resourceType": Required[Str], "id": NotRequired[Id | None], "status": Required[Code],
    "type": NotRequired[CodeableConcept | None], "class": NotRequired[list[CoverageClass] | None],
    "payor": Required[list[Reference]], "period": NotRequired[Period | None],
    "order": NotRequired[Annotated[StrictInt, Field(ge=1)] | None]}, total=False)  # positiveInt


class PractitionerRole(Resource, total=False):
    active: StrictBool | None
    period: Period | None
    practitioner: Reference | None
    specialty: list[CodeableConcept] | None


class CareTeamParticipant(TypedDict, total=False):
    role: list[CodeableConcept] | None
    member: Reference | None


class CareTeam(Resource, total=False):
    status: Code | None
    participant: list[CareTeamParticipant] | None


class EncounterLocation(TypedDict):
    location: Reference


class Encounter(Resource, total=False):
    status: Required[Code]
    serviceType: CodeableConcept | None
    type: list[CodeableConcept] | None
    location: list[EncounterLocation] | None


class Location(Resource, total=False):
    name: Str | None
    type: list[CodeableConcept] | None


class ServiceRequest(Resource, total=False):
    status: Required[Code]
    intent: Code | None
    doNotPerform: StrictBool | None
    code: CodeableConcept | None
    subject: Reference | None
    authoredOn: DateTime | None
    # A Zolgensma infusion requested as a service: its planned day (readiness target date).
    category: list[CodeableConcept] | None
    occurrenceDateTime: DateTime | None
    occurrencePeriod: Period | None


class AppointmentParticipant(TypedDict, total=False):
    actor: Reference | None
    status: Code | None


class Appointment(Resource, total=False):
    """Read only to recognise a scheduled Zolgensma infusion (readiness target date)."""
    status: Required[Code]
    serviceCategory: list[CodeableConcept] | None
    serviceType: list[CodeableConcept] | None
    specialty: list[CodeableConcept] | None
    appointmentType: CodeableConcept | None
    reasonCode: list[CodeableConcept] | None
    reasonReference: list[Reference] | None
    description: Str | None
    comment: Str | None
    patientInstruction: Str | None
    start: DateTime | None  # an instant in R4; a bare date is read leniently (its day is all we use)
    basedOn: list[Reference] | None
    supportingInformation: list[Reference] | None
    participant: Required[list[AppointmentParticipant]]


# One compiled (pydantic-core) validator per resource type the translator reads.
VALIDATORS = {m.__name__: TypeAdapter(m).validator for m in (
    Patient, Observation, Condition, MedicationRequest, MedicationAdministration, MedicationStatement,
    MedicationDispense, Immunization, Device, DeviceUseStatement, DeviceRequest, Procedure, Coverage,
    PractitionerRole, CareTeam, Encounter, Location, ServiceRequest, Appointment)}
