"""Fast validation of just the FHIR R4 elements the rules read.

Full `fhir.resources` validation of every prefetched resource costs about ten times the JSON parse
(issue: performance). These pydantic models declare only the elements translate.py reads, with the R4
datatype rules that matter for them: FHIR date/dateTime/instant formats, numbers that are JSON numbers,
codes without whitespace, arrays where R4 has arrays. Everything else in a resource is ignored, so a
wrong element the rules never read cannot knock out a good result. Attribute names match the
`fhir.resources` R4B models, so the translator reads either (CDS_STRICT_VALIDATION=true uses those).
"""

from __future__ import annotations

from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, StrictBool, StrictFloat, StrictInt, StringConstraints

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
Decimal = StrictInt | StrictFloat


class _Element(BaseModel):
    model_config = ConfigDict(extra="ignore", populate_by_name=True)


class Coding(_Element):
    system: Str | None = None
    code: Code | None = None
    display: Str | None = None


class CodeableConcept(_Element):
    coding: list[Coding] | None = None
    text: Str | None = None


class Quantity(_Element):
    value: Decimal | None = None
    comparator: Code | None = None
    unit: Str | None = None
    system: Str | None = None
    code: Code | None = None


class Ratio(_Element):
    numerator: Quantity | None = None
    denominator: Quantity | None = None


class Period(_Element):
    start: DateTime | None = None
    end: DateTime | None = None


class Reference(_Element):
    reference: Str | None = None
    display: Str | None = None


class Annotation(_Element):
    text: Str


class Resource(_Element):
    resourceType: Str
    id: Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9\-\.]{1,64}$")] | None = None

    def get_resource_type(self) -> str:
        return self.resourceType


class Patient(Resource):
    birthDate: Date | None = None


class ReferenceRange(_Element):
    low: Quantity | None = None
    high: Quantity | None = None


class ObservationComponent(_Element):
    code: CodeableConcept
    valueQuantity: Quantity | None = None
    valueCodeableConcept: CodeableConcept | None = None
    valueInteger: StrictInt | None = None
    valueString: Str | None = None


class Observation(Resource):
    status: Code
    code: CodeableConcept
    effectiveDateTime: DateTime | None = None
    effectivePeriod: Period | None = None
    issued: Instant | None = None
    valueQuantity: Quantity | None = None
    valueString: Str | None = None
    valueRatio: Ratio | None = None
    valueCodeableConcept: CodeableConcept | None = None
    valueInteger: StrictInt | None = None
    referenceRange: list[ReferenceRange] | None = None
    method: CodeableConcept | None = None
    note: list[Annotation] | None = None
    component: list[ObservationComponent] | None = None


class Condition(Resource):
    clinicalStatus: CodeableConcept | None = None
    verificationStatus: CodeableConcept | None = None
    code: CodeableConcept | None = None
    onsetDateTime: DateTime | None = None
    onsetPeriod: Period | None = None
    abatementDateTime: DateTime | None = None
    recordedDate: DateTime | None = None


class TimingRepeat(_Element):
    boundsPeriod: Period | None = None
    frequency: StrictInt | None = Field(default=None, ge=0)
    period: Decimal | None = None
    periodUnit: Code | None = None


class Timing(_Element):
    event: list[DateTime] | None = None
    repeat: TimingRepeat | None = None
    code: CodeableConcept | None = None


class DoseAndRate(_Element):
    doseQuantity: Quantity | None = None


class Dosage(_Element):
    timing: Timing | None = None
    doseAndRate: list[DoseAndRate] | None = None


class DispenseRequest(_Element):
    validityPeriod: Period | None = None


class MedicationRequest(Resource):
    status: Code
    intent: Code
    medicationCodeableConcept: CodeableConcept | None = None
    authoredOn: DateTime | None = None
    dosageInstruction: list[Dosage] | None = None
    dispenseRequest: DispenseRequest | None = None


class MedicationAdministration(Resource):
    status: Code
    effectiveDateTime: DateTime | None = None
    effectivePeriod: Period | None = None


class Procedure(Resource):
    status: Code
    code: CodeableConcept | None = None
    performedDateTime: DateTime | None = None
    performedPeriod: Period | None = None


class CoverageClass(_Element):
    type: CodeableConcept
    value: Str
    name: Str | None = None


class Coverage(Resource):
    status: Code
    type: CodeableConcept | None = None
    class_fhir: list[CoverageClass] | None = Field(default=None, alias="class")
    payor: list[Reference]


class PractitionerRole(Resource):
    active: StrictBool | None = None
    practitioner: Reference | None = None
    specialty: list[CodeableConcept] | None = None


class CareTeamParticipant(_Element):
    role: list[CodeableConcept] | None = None
    member: Reference | None = None


class CareTeam(Resource):
    status: Code | None = None
    participant: list[CareTeamParticipant] | None = None


class EncounterLocation(_Element):
    location: Reference


class Encounter(Resource):
    status: Code
    serviceType: CodeableConcept | None = None
    type: list[CodeableConcept] | None = None
    location: list[EncounterLocation] | None = None


class Location(Resource):
    name: Str | None = None
    type: list[CodeableConcept] | None = None


MODELS = {m.__name__: m for m in (Patient, Observation, Condition, MedicationRequest, MedicationAdministration,
                                  Procedure, Coverage, PractitionerRole, CareTeam, Encounter, Location)}
