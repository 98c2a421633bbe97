"""Which product a medication resource names: the Medication it references (contained, sent with the request,
or read from the FHIR server), its codes and names, and what they identify (a Zolgensma kit or vial, a product of
Zolgensma's labeler, a corticosteroid, an antimicrobial). Split from medications.py, which reads the orders and
administrations themselves (doses, courses, prior doses)."""

from __future__ import annotations

import re

from .. import terminology as t
from ..fhir_client import as_list
from .common import _codings, _norm, _s


# --- Medication by reference: contained, in a Bundle the EHR sent, or read from its FHIR server ---------------
def medication_index(resources) -> dict[str, dict]:
    """Medication resources by the references that name them ('Medication/{id}')."""
    return {f"Medication/{r['id']}": r for r in resources or () if isinstance(r, dict)
            and r.get("resourceType") == "Medication" and isinstance(r.get("id"), str)}


_MEDICATION_REF = re.compile(r"(?:^|/)Medication/([A-Za-z0-9\-.]{1,64})(?:/_history/[^/]+)?$")


def _reference(resource: dict) -> str | None:
    ref = resource.get("medicationReference")
    ref = ref.get("reference") if isinstance(ref, dict) else None
    return ref if isinstance(ref, str) and ref else None


def _resolve(resource: dict, medications: dict | None) -> dict | None:
    """The Medication a resource's medicationReference names: contained ('#id'), else by 'Medication/{id}'
    (relative, or absolute ending so) among the Medications of this request."""
    ref = _reference(resource)
    if ref is None:
        return None
    if ref.startswith("#"):
        return next((c for c in as_list(resource.get("contained")) if isinstance(c, dict)
                     and c.get("resourceType", "Medication") == "Medication" and f"#{c.get('id')}" == ref), None)
    match = _MEDICATION_REF.search(ref)
    return (medications or {}).get(f"Medication/{match.group(1)}") if match else None


def _unresolved_reference(resource: dict, medications: dict | None) -> bool:
    return not isinstance(resource.get("medicationCodeableConcept"), dict) and _reference(resource) is not None \
        and _resolve(resource, medications) is None


def unresolved_medication_ids(resources, medications: dict | None) -> list[str]:
    """Ids of Medications named by reference that are neither contained nor among `medications`: to be read
    from the FHIR server (only relative or same-server references: 'Medication/{id}')."""
    ids = set()
    for r in resources or ():
        if isinstance(r, dict) and r.get("resourceType") in t.MEDICATION_RESOURCES \
                and _unresolved_reference(r, medications):
            match = _MEDICATION_REF.search(_reference(r))
            if match:
                ids.add(match.group(1))
    return sorted(ids)


def _medication_concept(resource: dict, medications: dict | None = None) -> dict:
    concept = resource.get("medicationCodeableConcept")
    if isinstance(concept, dict):
        return concept
    medication = _resolve(resource, medications)
    if medication is not None:
        code = medication.get("code") if isinstance(medication.get("code"), dict) else {}
        # A Medication's ingredients name the product too ("onasemnogene abeparvovec"): fold them in.
        ingredients = [i.get("itemCodeableConcept") for i in as_list(medication.get("ingredient"))
                       if isinstance(i, dict) and isinstance(i.get("itemCodeableConcept"), dict)]
        codings = [c for x in [code, *ingredients] for c in as_list(x.get("coding")) if isinstance(c, dict)]
        text = " ".join(_s(x.get("text")) for x in [code, *ingredients] if _s(x.get("text")))
        return {"coding": codings, "text": text} if codings or text else {}
    ref = resource.get("medicationReference")
    display = ref.get("display") if isinstance(ref, dict) else None
    return {"text": display} if isinstance(display, str) and display else {}


def as_medication(immunization: dict) -> dict:
    """An Immunization read as a medication record: its vaccineCode as medicationCodeableConcept (review
    2026-11-24e T5: some EHRs file a biologic given, Zolgensma included, as an immunization)."""
    view = {k: v for k, v in immunization.items() if k not in ("medicationCodeableConcept", "medicationReference")}
    code = immunization.get("vaccineCode")
    return {**view, "medicationCodeableConcept": code} if code is not None else view


def coded_zolgensma(resource: dict, medications: dict | None = None, codes: dict | None = None) -> bool:
    """Its medication is identified as Zolgensma by a code (kit or vial NDC, HCPCS J3399, a site code), not only
    by name."""
    concept = _medication_concept(resource, medications)
    return _kind_by_code([c for c in as_list(concept.get("coding")) if isinstance(c, dict)], codes)[0] == "zolgensma"


def _medication_text(resource: dict, medications: dict | None = None) -> str:
    concept = _medication_concept(resource, medications)
    codings = [c for c in as_list(concept.get("coding")) if isinstance(c, dict)]
    named = _s(concept.get("text")) or next((_s(c.get("display")) for c in codings if _s(c.get("display"))), "")
    if named:
        return named
    # Identified by code only (an NDC): the code is what identified the product, so it is what the card shows.
    coded = [c for c in codings if _s(c.get("code"))]
    return ", ".join(f"{_system_label(_s(c.get('system')))} {_s(c.get('code'))}" for c in coded) or "not named"


def _system_label(system: str) -> str:
    return "NDC" if system.endswith("/ndc") else "RxNorm" if system.endswith("/rxnorm") else system or "code"


def _names_zolgensma(text: str) -> bool:
    low = " ".join(text.lower().replace("-", " ").split())
    return any(m in low for m in _ZOLGENSMA_TEXT) and not _names_other_product(text)


def _names_other_product(text: str) -> bool:
    """Names a product that is not Zolgensma although it shares its maker or ingredient (Itvisma, intrathecal)."""
    low = " ".join(text.lower().replace("-", " ").split())
    return any(m in low for m in _NOT_ZOLGENSMA_TEXT)


_ZOLGENSMA_TEXT = tuple(m.replace("-", " ") for m in t.ZOLGENSMA_TEXT)
_NOT_ZOLGENSMA_TEXT = tuple(m.replace("-", " ") for m in t.NOT_ZOLGENSMA_TEXT)


# medication_kind of a product of Zolgensma's labeler (NDC 71894) that is neither a known Zolgensma kit or vial nor
# named as another product: it may be a Zolgensma dose (terminology.ZOLGENSMA_VIAL_PRODUCT_CODES).
LABELER_PRODUCT = "zolgensma-labeler-product"


def medication_kind(resource: dict, medications: dict | None = None, codes: dict | None = None) -> str | None:
    """'zolgensma', 'corticosteroid', LABELER_PRODUCT or None: from codes first (Zolgensma kit or vial NDC, package
    or product code, in any form; HCPCS J3399; a site code configured as 'zolgensma'), then brand or generic
    names; the medication may be named by reference (`medications`: this request's Medications by reference)."""
    if not isinstance(resource, dict):
        return None
    concept = _medication_concept(resource, medications)
    codings = [c for c in as_list(concept.get("coding")) if isinstance(c, dict)]
    kind, labeler = _kind_by_code(codings, codes)
    if kind is not None:
        return kind
    text = " ".join([_s(concept.get("text"))] + [_s(c.get("display")) for c in codings])
    if _names_zolgensma(text):
        return "zolgensma"
    if labeler and not _names_other_product(text):
        return LABELER_PRODUCT
    if any(s in text.lower() for s in t.CORTICOSTEROID_TEXT):
        return "corticosteroid"
    if _is_antimicrobial(codings, text):
        return "antimicrobial"
    return None


def is_zolgensma(resource: dict, medications: dict | None = None) -> bool:
    """`medication_kind(resource, medications) == "zolgensma"`, without the steps that tell the other kinds apart:
    most orders an EHR sends are not Zolgensma, and finding out costs only this."""
    if not isinstance(resource, dict):
        return False
    concept = _medication_concept(resource, medications)
    codings = [c for c in as_list(concept.get("coding")) if isinstance(c, dict)]
    kind = _kind_by_code(codings, None)[0]
    if kind is not None:
        return kind == "zolgensma"
    return _names_zolgensma(" ".join([_s(concept.get("text"))] + [_s(c.get("display")) for c in codings]))


def _kind_by_code(codings: list[dict], codes: dict | None) -> tuple[str | None, bool]:
    """(the kind the first deciding code gives, or None; whether a code is another product of Zolgensma's
    labeler): a Zolgensma kit or vial NDC, HCPCS J3399, a corticosteroid code, a site code (`codes`)."""
    labeler = False
    for c in codings:
        system, code = _s(c.get("system")), _s(c.get("code"))
        if system == t.NDC:
            found = zolgensma_ndc(code)
            if found in ("kit", "vial"):
                return "zolgensma", labeler
            labeler = labeler or found == "labeler"
        if system in t.HCPCS_SYSTEMS and code == t.J3399.code:
            return "zolgensma", labeler
        if (system, code) in t.CORTICOSTEROID_CODES:
            return "corticosteroid", labeler
        if codes and codes.get((system, code)) in ("zolgensma", "corticosteroid"):
            return codes[(system, code)], labeler
    return None, labeler


def _is_antimicrobial(codings: list[dict], text: str) -> bool:
    """An antibacterial, antifungal or antiviral (terminology.ANTIMICROBIAL_*): by RxNorm ingredient, WHO ATC class
    or name."""
    for c in codings:
        system, code = _s(c.get("system")), _s(c.get("code")).strip()
        if (system, code) in t.ANTIMICROBIAL_RXNORM or system == t.ATC and code.upper().startswith(
                t.ANTIMICROBIAL_ATC_PREFIXES):
            return True
    low = f" {_norm(text)} "
    return any(f" {name}" in low for name in t.ANTIMICROBIAL_TEXT)


def _ndc_parts(code: str | None) -> tuple[str, int, int | None] | None:
    """(labeler, product code, package code or None) of an NDC written 5-3-2 or 5-4-2 with hyphens, as a product
    code alone ('71894-120', '71894-0120'), or as 11 (5-4-2), 10 (5-3-2) or 9 (product code) digits."""
    if not isinstance(code, str) or not code.strip():
        return None
    parts = code.strip().split("-")
    if len(parts) == 3:
        labeler, product, package = parts
    elif len(parts) == 2:
        (labeler, product), package = parts, None
    else:
        digits = re.sub(r"\D", "", code)
        split = {11: (5, 9), 10: (5, 8), 9: (5, 9)}.get(len(digits))
        if split is None:
            return None
        labeler, product, package = digits[:split[0]], digits[split[0]:split[1]], digits[split[1]:] or None
    if not product.isdigit() or not (package is None or package.isdigit()):
        return None
    return labeler, int(product), int(package) if package is not None else None


def zolgensma_ndc(code: str | None) -> str | None:
    """What an NDC (any form _ndc_parts reads) is: 'kit' (a Zolgensma kit), 'vial' (a Zolgensma vial),
    'labeler' (another product of Zolgensma's labeler 71894, not identified) or None (another labeler's)."""
    parts = _ndc_parts(code)
    if parts is None or parts[0] != t.ZOLGENSMA_LABELER:
        return None
    if parts[1] in t.ZOLGENSMA_PRODUCT_CODES:
        return "kit"
    return "vial" if parts[1] in t.ZOLGENSMA_VIAL_PRODUCT_CODES else "labeler"


def _kit_codes(concept: dict) -> tuple[tuple[str, ...], tuple[tuple[str, str], ...]]:
    """(every distinct Zolgensma kit NDC coded under the NDC system, in 5-3-2 form; the kit NDCs written under
    another system or none, with that system). Every one counts: an order naming two kits is not read as its first
    (review 2026-11-24c R4), and an NDC under RxNorm is not passed over (R8): an RxNorm or local code is never in
    the 5-3-2 / 5-4-2 / 10-11-digit shape of labeler 71894 by accident."""
    kits, elsewhere = {}, {}
    for c in _codings(concept):
        ndc = _normalise_ndc(c.get("code"))
        if ndc is None:
            continue
        system = _s(c.get("system"))
        if system == t.NDC:
            kits[ndc] = None
        else:
            elsewhere[(ndc, _system_label(system) if system else "no system")] = None
    return tuple(kits), tuple(elsewhere)


def _normalise_ndc(code: str | None) -> str | None:
    """A Zolgensma kit NDC in 5-3-2 form ('71894-120-02'), from 5-3-2, 5-4-2 or 10/11-digit forms."""
    parts = _ndc_parts(code)
    if parts is None or parts[2] is None or zolgensma_ndc(code) != "kit":
        return None
    return f"{parts[0]}-{parts[1]}-{parts[2]:02d}"
