"""Da Vinci CRD outputs: configuration options and the coverage-information system action.

References (reference/cds-hooks-and-crd.md 2.2-2.4; CRD STU 2.0.1 CoverageInformation.fsh):
- coverage information is an `update` systemAction of the order carrying ext-coverage-information,
  changing nothing else in the order;
- invariants: q2 pa-needed present unless not-covered (and absent when not-covered); q3 info-needed only
  when covered, pa-needed or doc-needed is `conditional`; q5 satisfied-pa-id iff pa-needed = satisfied;
- on order-select (a supporting hook) it SHALL NOT ask for clinical or administrative information;
- discovery offers one boolean configuration option per card type returned; requests may send
  `extension["davinci-crd.configuration"]`: supported settings are honoured, others ignored.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import date

from .errors import Unprocessable
from .facts import CoverageFact, PatientFacts
from .fhir_client import as_list
from .markdown import plain
from .rules.findings import ELIGIBLE, MET, NOT_MET, UNKNOWN, Evaluation
from .terminology import J3399, POS_ACCEPTED, POS_NAMES

COVERAGE_INFORMATION_URL = "http://hl7.org/fhir/us/davinci-crd/StructureDefinition/ext-coverage-information"

# One option per card type this service returns (CRD card-type codes), plus the systemAction.
CONFIG_OPTIONS = (
    ("coverage-info", "Coverage Information",
     "The eligibility summary, coverage/product-line and specialist cards, site of care, and the "
     "coverage-information system action on the order"),
    ("claim", "Claim", "Billing guidance: J3399 units, administration CPT, diagnosis codes, denials to avoid"),
    ("clinical-reminder", "Clinical Reminder", "Missing baseline labs, corticosteroid plan, monitoring schedule"),
    # Not "contraindication": in CRD that is information the payer has and the provider lacks, and the label
    # lists no contraindications; the label/DR.005.D gates are guideline cards.
    ("guideline", "Guideline", "Label and DR.005.D gates (SMN1, age, gestational age, titer, infection, dose, "
     "weight) and the advanced SMA referral to the Medical Director"),
    ("duplicate-therapy", "Duplicate Therapy", "A prior Zolgensma dose (one-time therapy)"),
    ("therapy-alternatives-opt", "Optional Therapy Alternatives", "SMA alternatives when Zolgensma is excluded"),
)


# The CRD version claimed (README, Da Vinci CRD). Versions are major.minor (CRD 2.2.1 deviations.md
# "CRD Version declaration"); 2.0 is STU 2.0.1. Discovery advertises them in `davinci-crd.version` as 2.2 does.
CRD_VERSIONS = ("2.0",)
REQUESTED_VERSION = "davinci-crd.requestedVersion"


def requested_version(body) -> str:
    """The CRD version this answer must follow: the request's davinci-crd.requestedVersion, else the one claimed.

    2.2.1: "If this is not a version supported by the service, it SHALL return an error": a 422 naming ours."""
    extension = body.get("extension") if isinstance(body, dict) and isinstance(body.get("extension"), dict) else {}
    if REQUESTED_VERSION not in extension:
        return CRD_VERSIONS[0]
    version = extension[REQUESTED_VERSION]
    if version not in CRD_VERSIONS:
        raise Unprocessable(f"{REQUESTED_VERSION} {str(version)[:20]!r} is not supported; this service follows "
                            "Da Vinci CRD " + ", ".join(CRD_VERSIONS))
    return version


def configuration_options() -> list[dict]:
    return [{"code": code, "type": "boolean", "name": name, "description": description, "default": True}
            for code, name, description in CONFIG_OPTIONS]


def read_configuration(body: dict) -> dict[str, bool]:
    """The request's davinci-crd.configuration, keeping only known boolean options."""
    settings = {code: True for code, _, _ in CONFIG_OPTIONS}
    extension = body.get("extension") if isinstance(body.get("extension"), dict) else {}
    requested = extension.get("davinci-crd.configuration")
    if isinstance(requested, dict):
        for code, value in requested.items():
            if code in settings and isinstance(value, bool):
                settings[code] = value
    return settings


def card_topic(card: dict) -> str | None:
    return ((card.get("source") or {}).get("topic") or {}).get("code")


# Criteria whose missing data is administrative rather than clinical documentation.
_ADMIN_CRITERIA = {"benefit-covered", "specialist-prescriber"}


def coverage_information(evaluation: Evaluation, facts: PatientFacts, order: dict, hook: str, today: date,
                         new_id: Callable[[], str], reasons: dict) -> dict | None:
    """The `update` systemAction adding coverage information to the Zolgensma order, or None without Coverage."""
    primary = primary_coverage(facts, evaluation.as_of)
    coverage = primary.reference if primary else None
    if coverage is None or not order.get("id"):
        return None
    benefit = evaluation.finding("benefit-covered")
    unknown = [f for f in evaluation.findings if f.status == UNKNOWN]
    problems = [f.criterion for f in evaluation.findings if f.status != MET]

    parts: list[dict] = [{"url": "coverage", "valueReference": {"reference": coverage}}]
    if benefit.status == NOT_MET:
        parts.append({"url": "covered", "valueCode": "not-covered"})  # q2: no pa-needed
        reason = reasons["excluded"]
    else:
        # The billing guide accepts only POS 21, 22 or 19 ("SITE OF CARE": POS 11 / 49 / 12 "NOT eligible",
        # certified specialty center only). With no place of service known, or one the guide does not accept,
        # coverage depends on where the infusion happens: 'conditional' with info-needed `location` (CRD
        # coverageInfo: "cannot be made without more information (... service rendering information)"), never
        # `covered` (review 2026-11-24d S2). Not `not-covered` ("no possibility of coverage"): the same order
        # is covered at a certified center, and the order's encounter need not be where the infusion happens.
        pos = facts.site_of_care.pos_code if facts.site_of_care is not None else None
        site_accepted = pos in POS_ACCEPTED
        covered = "covered" if evaluation.overall == ELIGIBLE and site_accepted else "conditional"
        parts.append({"url": "covered", "valueCode": covered})
        parts.append({"url": "pa-needed", "valueCode": "auth-needed"})  # DR.005.D: prior authorization
        if hook == "order-sign" and unknown:
            kinds = {"admin" if f.criterion in _ADMIN_CRITERIA else "clinical" for f in unknown}
            parts.append({"url": "doc-needed", "valueCode": "both" if len(kinds) == 2 else kinds.pop()})
            parts.append({"url": "doc-purpose", "valueCode": "withpa"})
        if hook == "order-sign" and covered == "conditional":
            # Whenever conditional (CRD 2.2.1 crd-ci-q3, also valid under 2.0.1's q3); OTH points to `reason` (q6).
            for code in _info_needed(evaluation, facts) or ["OTH"]:
                parts.append({"url": "info-needed", "valueCode": code})
        key = evaluation.overall
        if evaluation.overall == ELIGIBLE and not site_accepted:
            key = "siteUnknown" if pos is None else "siteNotAccepted"
        if benefit.reason in ("not-in-force", "period-unclear"):  # never `covered`: the plan itself is in doubt
            key = "notInForce"
        reason = reasons[key].format(as_of=evaluation.as_of.isoformat(), ids=", ".join(problems),
                                     coverage=coverage, why=benefit.params.get("why", ""), pos=plain(str(pos)),
                                     name=plain(POS_NAMES.get(pos, "place of service")),
                                     reference=plain(facts.site_of_care.reference if facts.site_of_care else ""))
    # Code only: the J3399 descriptor is the billing guide publisher's, not confirmed against the CMS HCPCS
    # file (clinical-facts.md 2.5), so it is not sent as if authoritative.
    parts.append({"url": "billingCode", "valueCoding": {"system": J3399.system, "code": J3399.code}})
    parts.append({"url": "reason", "valueCodeableConcept": {"text": reason}})
    parts.append({"url": "date", "valueDate": today.isoformat()})
    parts.append({"url": "coverage-assertion-id", "valueString": new_id()})

    updated = dict(order)  # a shallow copy: only `extension` is replaced, nothing else is touched
    kept = [e for e in as_list(order.get("extension"))
            if not (isinstance(e, dict) and e.get("url") == COVERAGE_INFORMATION_URL)]
    updated["extension"] = kept + [{"url": COVERAGE_INFORMATION_URL, "extension": parts}]
    return {"type": "update", "description": "Add Zolgensma coverage information (DR.005.D) to the order",
            "resource": updated}


def documentation_needed(evaluation: Evaluation, hook: str) -> bool:
    """When the coverage information says `doc-needed` (order-sign, covered or conditional, data missing)."""
    return hook == "order-sign" and evaluation.finding("benefit-covered").status != NOT_MET and any(
        f.status == UNKNOWN for f in evaluation.findings)


def add_questionnaire(action: dict, questionnaire: str) -> None:
    """Name the DR.005.D Questionnaire (canonical) in the coverage information, where documentation is needed:
    CRD 2.0.1 and 2.2.1 `questionnaire` (only with `doc-needed`, invariant crd-ci-q1). Not `response`: CRD 2.1
    removed it."""
    for ext in action["resource"]["extension"]:
        if ext.get("url") == COVERAGE_INFORMATION_URL and any(p["url"] == "doc-needed" for p in ext["extension"]):
            ext["extension"].append({"url": "questionnaire", "valueCanonical": questionnaire})


def primary_coverage(facts: PatientFacts, day: date | None = None) -> CoverageFact | None:
    """The active Coverage the answer is about: the policy's plan first, then one in force on `day` (the
    evaluation date), then one whose product line we recognise."""
    active = [c for c in facts.coverages if c.active]
    ranked = sorted(active, key=lambda c: (not c.policy_payer, day is not None and c.period.holds_on(day) is not True,
                                           c.product_line is None))
    return ranked[0] if ranked else None


def card_label(facts: PatientFacts, default: str) -> str:
    """Card.source.label: the insurer on the patient's card (CRD 2.0.1 cards.md SHOULD, 2.2.1 resp-4 SHALL),
    i.e. the primary Coverage's payor display when it is the plan whose policy is applied; otherwise (another
    payer, none named) the service's own label: the cards do not speak for another payer."""
    coverage = primary_coverage(facts)
    ours = coverage and coverage.insurer and coverage.policy_payer
    return plain(coverage.insurer) if ours else default  # plain text, one line


def _info_needed(evaluation: Evaluation, facts: PatientFacts) -> list[str]:
    codes = []
    if evaluation.finding("specialist-prescriber").status == UNKNOWN:
        codes.append("performer")
    if facts.site_of_care is None or facts.site_of_care.pos_code not in POS_ACCEPTED:
        codes.append("location")  # unknown, or not a site the billing guide accepts
    if evaluation.as_of_basis == "today":
        codes.append("timeframe")
    return codes
