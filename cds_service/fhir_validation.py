"""Validation of single FHIR R4 resources before the rules see them.

Only the resources the rules will read are validated (a lab is validated once it has been recognised
as one of the analytes we use). Two modes:
- fast (default): `fhir_subset` checks just the elements the rules read (about 20x cheaper);
- strict (CDS_STRICT_VALIDATION=true): the full `fhir.resources` R4B models first, as a gate. Leniency
  there: elements the R4B model does not know (vendor junk, later-version elements) are dropped and
  reported, then the resource is validated again.
Either way the translator gets the `fhir_subset` view: plain FHIR JSON holding only the elements it reads,
each of its declared type. Anything invalid is skipped and reported.
"""

from __future__ import annotations

import copy
from functools import cache
from importlib import import_module

from pydantic import ValidationError

from . import fhir_subset

SUPPORTED = {
    "Patient", "Observation", "Condition", "MedicationRequest", "MedicationAdministration", "Procedure",
    "Coverage", "PractitionerRole", "CareTeam", "Encounter", "Location", "Medication", "ServiceRequest",
    "CarePlan", "OperationOutcome", "MedicationStatement", "Device", "DeviceUseStatement", "Appointment",
    "MedicationDispense", "DeviceRequest", "Immunization",
}


@cache
def model_for(resource_type: str):
    if resource_type not in SUPPORTED:
        raise KeyError(resource_type)
    module = import_module(f"fhir.resources.R4B.{resource_type.lower()}")
    return getattr(module, resource_type)


class InvalidResource(ValueError):
    pass


# Elements each resource type may lose when invalid, because no decision needs them: the rest of the
# resource is still read (a ventilator-dependence Condition with an invalid onset is still evidence of
# advanced SMA). Everything else the rules read decides something: when invalid, the resource is skipped.
# A reader may add elements for one use (a prior Zolgensma order's dosage does not decide renewal).
DROPPABLE = {
    "Condition": frozenset({"id", "onsetDateTime", "onsetPeriod", "recordedDate"}),
    "MedicationAdministration": frozenset({"id", "effectiveDateTime", "effectivePeriod"}),
    "Procedure": frozenset({"id", "performedDateTime", "performedPeriod"}),
    "MedicationRequest": frozenset({"id", "authoredOn"}),
    # a home-ventilator request with an unreadable date is still evidence of advanced SMA (review 2026-11-24f F1)
    "DeviceRequest": frozenset({"id", "occurrenceDateTime", "occurrencePeriod", "authoredOn"}),
    **{rtype: frozenset({"id"}) for rtype in ("Observation", "Coverage", "PractitionerRole", "CareTeam",
                                               "Encounter", "Location", "Appointment")},
    # Patient: none; its id must be the context's patient and its birth date decides criteria 4 and 5.
}


def validate(resource: dict, strict: bool = False, droppable: frozenset[str] = frozenset()) -> tuple[dict, list[str]]:
    """Return (subset_json, dropped) or raise InvalidResource with a short, path-level explanation.
    `dropped` names what was left out: unknown elements (strict mode) and invalid droppable elements."""
    rtype = resource.get("resourceType") if type(resource) is dict else None
    if type(rtype) is not str:
        raise InvalidResource("not a FHIR resource (no resourceType)")
    subset = fhir_subset.VALIDATORS.get(rtype)
    if subset is None:
        raise InvalidResource(f"resource type {rtype} is not used")
    _one_of_each_choice(resource, rtype)
    droppable = droppable | DROPPABLE.get(rtype, frozenset())
    dropped: list[str] = []
    if strict:
        resource, dropped = _full_model_gate(resource, droppable)
    try:
        return subset.validate_python(resource), dropped
    except ValidationError as err:
        for cleaned, invalid in _without_invalid(resource, err, droppable):
            try:
                return subset.validate_python(cleaned), dropped + invalid
            except ValidationError:
                continue
        raise InvalidResource(_explain(err)) from None


# Choice elements ([x]) the rules read, per resource type: FHIR R4 allows at most one of each ("value[x] 0..1").
# Two ("<1:25" as valueString beside valueQuantity 200) say two things: which one the sender meant cannot be told,
# so the resource is invalid, skipped and reported, never read by whichever the reader tries first (review
# 2026-11-24f F2).
_CHOICES = {"Observation": ("value", "effective")}


def _one_of_each_choice(resource: dict, rtype: str) -> None:
    for stem in _CHOICES.get(rtype, ()):
        given = sorted(k for k in resource if type(k) is str and k.startswith(stem) and k[len(stem):len(stem) + 1]
                       .isupper() and resource[k] is not None)
        if len(given) > 1:
            raise InvalidResource(f"{stem}[x] given {len(given)} times ({', '.join(given)}): FHIR R4 allows one")


def _without_invalid(resource: dict, err: ValidationError, droppable: frozenset[str]):
    """Copies of the resource without its invalid elements, when every one lies in a droppable element:
    first without just the invalid parts (an effectivePeriod keeps a valid start when its end is invalid),
    then without the whole droppable elements."""
    errors = err.errors()
    bad = {e["loc"][0] for e in errors if e["loc"]}
    if any(not e["loc"] for e in errors) or not bad <= droppable:
        return
    finer = {k: (copy.deepcopy(v) if k in bad else v) for k, v in resource.items()}
    paths = sorted({_existing(finer, e["loc"]) for e in errors}, key=len, reverse=True)
    for path in paths:
        _drop(finer, path)
    yield finer, [".".join(str(p) for p in path) + " (invalid)" for path in sorted(paths, key=str)]
    yield {k: v for k, v in resource.items() if k not in bad}, [f"{k} (invalid)" for k in sorted(bad)]


def _existing(obj, loc) -> tuple:
    """The longest start of `loc` that names something in `obj` (pydantic adds type tags to union paths)."""
    path = []
    for part in loc:
        try:
            obj = obj[part]
        except (KeyError, IndexError, TypeError):
            break
        path.append(part)
    return tuple(path)


def _full_model_gate(resource: dict, droppable: frozenset[str]) -> tuple[dict, list[str]]:
    """Validate against the full R4B model; drop and report elements it does not know, and invalid droppable
    elements."""
    model = model_for(resource["resourceType"])
    try:
        model.model_validate(resource)
        return resource, []
    except ValidationError as err:
        errors = err.errors()
        extra = [e["loc"] for e in errors if e["type"] == "extra_forbidden"]
        invalid = {e["loc"][0] for e in errors if e["type"] != "extra_forbidden" and e["loc"]}
        if len(extra) + sum(1 for e in errors if e["type"] != "extra_forbidden" and e["loc"]) != len(errors) \
                or not invalid <= droppable:
            raise InvalidResource(_explain(err)) from None
    cleaned = copy.deepcopy(resource)
    for loc in extra:
        _drop(cleaned, loc)
    for key in invalid:
        cleaned.pop(key, None)
    try:
        model.model_validate(cleaned)
    except ValidationError as err:
        raise InvalidResource(_explain(err)) from None
    return cleaned, [".".join(str(p) for p in loc) for loc in extra] + [f"{k} (invalid)" for k in sorted(invalid)]


def _drop(obj, loc) -> None:
    for part in loc[:-1]:
        try:
            obj = obj[part]
        except (KeyError, IndexError, TypeError):
            return
    if isinstance(obj, dict):
        obj.pop(loc[-1], None)


def _explain(err: ValidationError) -> str:
    parts = []
    for e in err.errors()[:3]:
        parts.append(f"{_plain_path(e['loc'])}: {_plain_message(e)}")
    more = len(err.errors()) - 3
    return "; ".join(parts) + (f" (+{more} more)" if more > 0 else "")


def _plain_path(loc) -> str:
    """An error's place as a reader finds it, items counted from 1: ('dosageInstruction', 0, 'timing', 'event', 1)
    -> "timing.event 2 in dosageInstruction 1"."""
    segments, names = [], []
    for part in loc:
        if isinstance(part, int):
            segments.append(f"{'.'.join(names) or 'item'} {part + 1}")
            names = []
        else:
            names.append(str(part))
    if names:
        segments.append(".".join(names))
    return " in ".join(reversed(segments)) or "(resource)"


# A value failing the FHIR date/dateTime/instant pattern (its regex names months 01-12): said so, not as the regex
# (review 2026-11-24c R6: a clinician read "String should match pattern '^([0-9]([0-9]...").
_DATE_PATTERN_MARK = "(0[1-9]|1[0-2])"


def _plain_message(e: dict) -> str:
    if e.get("type") == "string_pattern_mismatch":
        value = e.get("input")
        shown = repr(value[:40]) if isinstance(value, str) else "the value"
        pattern = str((e.get("ctx") or {}).get("pattern", ""))
        if _DATE_PATTERN_MARK in pattern:
            return f"{shown} is not a valid date or date-time"
        return f"{shown} is not in the form FHIR requires for this element"
    return str(e.get("msg", "not valid"))
