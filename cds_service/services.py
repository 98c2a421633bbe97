"""The services this CDS service offers (ids, hooks, titles, the data each reads) and the discovery document."""

from __future__ import annotations

from dataclasses import dataclass

from .crd import CRD_VERSIONS, configuration_options
from .data_access import SOURCES, prefetch_templates


@dataclass(frozen=True)
class ServiceDefinition:
    id: str
    hooks: tuple[str, ...]  # one hook per service: clients key services by id (the sandbox keeps one per id)
    title: str
    description: str
    sources: tuple[str, ...] = ()  # data sources (data_access.SOURCES names); empty: all
    crd: bool = True  # offers Da Vinci CRD configuration options
    # Hooks answered but no longer advertised: clients that registered an earlier discovery document
    # (zolgensma-monitoring used to list order-select too) keep working instead of getting 400s.
    also_answers: tuple[str, ...] = ()
    # With CDS_PREFETCH=lean, advertised prefetch: only these (what every call reads first; empty: nothing, all
    # is queried); with CDS_PREFETCH=full, every source.
    lean_sources: tuple[str, ...] = ()


ORDER_SELECT, ORDER_SIGN, MONITORING = "zolgensma-order-select", "zolgensma-order-sign", "zolgensma-monitoring"
# One id per hook: clients such as the CDS Hooks sandbox keep one discovery entry per id (issue 13).
MONITORING_LAB_ORDERS = "zolgensma-monitoring-lab-orders"
_MONITORING_SOURCES = ("patient", "labs", "medication-requests", "medication-administrations", "procedures",
                       "medication-dispenses", "service-requests", "conditions", "assessments")
READINESS = "zolgensma-readiness"
SERVICES = {
    s.id: s for s in (
        ServiceDefinition(
            ORDER_SELECT, ("order-select",), "Zolgensma eligibility (order-select)",
            "When a Zolgensma (onasemnogene abeparvovec-xioi) order is selected, checks policy DR.005.D "
            "criteria 1-11, renewal and product line against the FDA label, and suggests the missing "
            "orders (prednisolone, baseline labs, AAV9 titer)."),
        ServiceDefinition(
            ORDER_SIGN, ("order-sign",), "Zolgensma eligibility (order-sign)",
            "When a Zolgensma order is signed, checks policy DR.005.D criteria 1-11, renewal and product line "
            "against the FDA label, including the ordered dose against the label's weight-band kit."),
        ServiceDefinition(
            MONITORING, ("patient-view",), "Zolgensma post-infusion monitoring",
            "After a Zolgensma infusion: which boxed-warning monitoring labs are due or overdue, the "
            "corticosteroid course and taper, and platelet, creatinine and troponin-I changes against baseline; "
            "from month 5, the outcomes milestone assessments at 6, 12, 24, 36 and 60 months.",
            # Lean: only the Patient is prefetched; the rest is queried for a child with a dose on record.
            sources=_MONITORING_SOURCES, crd=False, lean_sources=("patient",),
            also_answers=("order-select",)),
        ServiceDefinition(
            MONITORING_LAB_ORDERS, ("order-select",), "Zolgensma post-infusion monitoring (lab orders)",
            "The same monitoring cards when a laboratory order (ServiceRequest with a laboratory category, a LOINC "
            "code or a CPT laboratory code) is selected for a patient who received Zolgensma; silent otherwise.",
            sources=_MONITORING_SOURCES, crd=False),
        ServiceDefinition(
            READINESS, ("patient-view",), "Zolgensma readiness plan",
            "Before any Zolgensma order, for a child under 2 with an SMA diagnosis or an SMN1 result and no prior "
            "dose: the billing guide's pre-treatment gates (SMN1, AAV9 titer, baseline labs, age and weight, "
            "prednisolone) with their status and the date each must be done by for a target infusion date, the "
            "last possible infusion date, and orders for what is missing.",
            # What the order-time services read, but the encounter (there is no order yet), and the appointments.
            # Lean: only the Patient is prefetched; the rest is queried for a child the plan concerns.
            sources=tuple(s.name for s in SOURCES if s.default and s.name != "encounter") + ("appointments",),
            crd=False, lean_sources=("patient",)),
    )
}
USAGE = ("Decision support for Zolgensma prior authorization and monitoring; not for clinical use without local "
         "validation. Needs fhirServer and fhirAuthorization for a Zolgensma order: the data is queried then, "
         "never prefetched for other orders. Prefetch keys are all optional: missing ones are queried.")


def discovery(prefetch: str = "lean") -> dict:
    """`prefetch`: "lean" (order hooks prefetch nothing) or "full" (every source, for EHRs that give services
    no FHIR access)."""
    entries = []
    for s in SERVICES.values():
        for hook in s.hooks:
            entry = {"hook": hook, "id": s.id, "title": s.title, "description": s.description,
                     "usageRequirements": USAGE}
            if prefetch == "full":
                entry["prefetch"] = prefetch_templates(s.sources)
            elif s.lean_sources:
                entry["prefetch"] = prefetch_templates(s.lean_sources)
            if s.crd:
                entry["extension"] = {"davinci-crd.version": list(CRD_VERSIONS),
                                      "davinci-crd.configuration-options": configuration_options()}
            entries.append(entry)
    return {"services": entries}
