"""The CDS Hooks request envelope and the order a call is about: checks every call makes before any data is
read, and the few steps that tell a Zolgensma order from any other (most calls are for other orders: these stay
cheap)."""

from __future__ import annotations

from .data_access import read_by_id
from .errors import BadRequest
from .facts import DataIssue
from .fhir_client import as_list
from .jsonio import nested_deeper
from .services import ServiceDefinition
from .translate import is_zolgensma, medication_index, unresolved_medication_ids

# The context (draft orders) is echoed in the coverage-information system action; FHIR resources nest about
# 10 levels, and the JSON writer's own limit is 255.
MAX_CONTEXT_DEPTH = 64


def parse_request(service: ServiceDefinition, body) -> dict:
    """Check the CDS Hooks request envelope; return the context. Raises BadRequest with a clear message."""
    if not isinstance(body, dict):
        raise BadRequest("request body must be a JSON object")
    for field in ("hook", "hookInstance", "context"):
        if field not in body:
            raise BadRequest(f"missing required field '{field}'")
    if body["hook"] not in service.hooks + service.also_answers:
        answered = " or ".join(f"'{h}'" for h in service.hooks)
        raise BadRequest(f"service {service.id} answers hook {answered}, not this request's hook")
    if not isinstance(body["hookInstance"], str) or not body["hookInstance"]:
        raise BadRequest("hookInstance must be a non-empty string")
    context = body["context"]
    if not isinstance(context, dict):
        raise BadRequest("context must be an object")
    if nested_deeper(context, MAX_CONTEXT_DEPTH):
        raise BadRequest(f"context is nested more than {MAX_CONTEXT_DEPTH} levels deep")
    if not isinstance(context.get("patientId"), str) or not context["patientId"]:
        raise BadRequest("context.patientId must be a non-empty string")
    draft = context.get("draftOrders")
    # A Bundle: leniently without its resourceType, never another resource type (review 2026-11-24f F9).
    if body["hook"] in ("order-select", "order-sign") and not (
            isinstance(draft, dict) and draft.get("resourceType", "Bundle") == "Bundle"):
        raise BadRequest("context.draftOrders must be a Bundle")
    if body["hook"] == "order-select" and not (
            isinstance(context.get("selections"), list) and all(isinstance(s, str) for s in context["selections"])):
        raise BadRequest("context.selections must be an array of references")
    for field in ("prefetch", "fhirAuthorization"):
        if field in body and body[field] is not None and not isinstance(body[field], dict):
            raise BadRequest(f"{field} must be an object")
    if "fhirServer" in body and not isinstance(body["fhirServer"], str):
        raise BadRequest("fhirServer must be a URL string")
    # CDS Hooks 2.0.1: "If fhirAuthorization is provided, this field [fhirServer] is REQUIRED": a token for no
    # server is refused rather than ignored, so an EHR misconfiguration shows at once instead of as 412s later.
    if body.get("fhirAuthorization") is not None and "fhirServer" not in body:
        raise BadRequest("fhirServer is required when fhirAuthorization is given")
    # Every hook we answer (order-select, order-sign, patient-view) defines context.userId as REQUIRED; it is also
    # the requester of every suggested order (CRD request profiles, requester 1..1).
    if not isinstance(context.get("userId"), str) or "/" not in context["userId"].strip("/"):
        raise BadRequest("context.userId must be a reference such as Practitioner/123 or PractitionerRole/123")
    return context


def stamped_with_another_hook(service: ServiceDefinition, body) -> bool:
    """A patient-view call that names another hook. The CDS Hooks sandbox puts its current hook on every call:
    opened on Patient View with `?hook=order-select` (or order-sign) in its URL, it calls the patient-view
    services with that hook and a patient-view context (no draft orders). Such a call gets no cards (nothing is
    read, nothing is said) instead of a 400; an order hook with draft orders sent to a patient-view service,
    a real misregistration, is still refused."""
    return ("patient-view" in service.hooks and isinstance(body, dict)
            and body.get("hook") in ("order-select", "order-sign") and isinstance(body.get("context"), dict)
            and "draftOrders" not in body["context"])


def draft_resources(context: dict) -> list[dict]:
    draft = context.get("draftOrders")
    entries = as_list(draft.get("entry")) if isinstance(draft, dict) else []
    return [e["resource"] for e in entries if isinstance(e, dict) and isinstance(e.get("resource"), dict)]


def zolgensma_order(context: dict, hook: str, drafts: list[dict], medications: dict | None = None) -> dict | None:
    """The Zolgensma MedicationRequest this hook is about (order-select: only among the selections). The
    product may be named by reference: `medications` are the Medications known to this request."""
    return first_zolgensma(candidate_orders(context, hook, drafts), context, medications)


def first_zolgensma(candidates: list[dict], context: dict, medications: dict | None = None) -> dict | None:
    """The first of `candidates` (candidate_orders) that orders Zolgensma, its subject checked; else None."""
    for resource in candidates:
        if is_zolgensma(resource, medications):
            check_subject(resource, context)
            return resource
    return None


def check_subject(order: dict, context: dict) -> None:
    """A Zolgensma order naming another patient as its subject is never evaluated against this patient's
    record: the request contradicts itself and is refused. An order without a subject is this patient's."""
    subject = order.get("subject")
    ref = subject.get("reference") if isinstance(subject, dict) else None
    own = f"Patient/{context['patientId']}"
    if isinstance(ref, str) and ref.strip() != own and not ref.strip().endswith("/" + own):
        raise BadRequest("the Zolgensma draft order names a subject other than context.patientId")


def candidate_orders(context: dict, hook: str, drafts: list[dict]) -> list[dict]:
    selected = set(context.get("selections") or []) if hook == "order-select" else None
    return [r for r in drafts if r.get("resourceType") == "MedicationRequest"
            and (selected is None or f"MedicationRequest/{r.get('id')}" in selected)]


def medications_by_reference(body: dict, config: dict, resources: list[dict], known: dict) -> list[DataIssue]:
    """Read from the FHIR server the Medications that `resources` name by reference and that are neither
    contained nor already `known` (updated in place). Returns what could not be read."""
    ids = unresolved_medication_ids(resources, known)
    if not ids:
        return []
    got, problem = read_by_id(body, config, "Medication", ids)
    known.update(medication_index(got))
    return [DataIssue("medications", problem)] if problem else []
