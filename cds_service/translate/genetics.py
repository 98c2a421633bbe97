"""SMN1 genetic results (HL7 Genomics Reporting shapes, LOINC codes) -> GeneticResult facts.

Structured elements decide: copy number (82155-3) and pathogenic / likely pathogenic sequence variants named
by HGVS or a variation code (48004-6, 81290-9, 48005-3, 81252-9) with their significance (53037-8, on the
variant or on a diagnostic-implication Observation `derivedFrom` it) and allelic state (53034-5). The
significance on a copy-number result is the deletion's own: it is never a second allele. Free text (a
`valueString`, notes) is kept to be quoted, with what it claims after negation and carrier phrases.
"""

from __future__ import annotations

import re

from .. import terminology as t
from ..facts import GeneticResult, SequenceVariant
from .common import _NONE, _all_text, _code_keys, _codings, _concept_text, _norm, _s

_QUOTE_LIMIT = 400  # characters of report text quoted on a card


def read_genetics(obs: dict, when) -> tuple[GeneticResult | None, dict[str, str]]:
    """(the SMN1 result or None when the Observation is about another gene, {variant reference: significance}
    for a diagnostic-implication Observation that classifies variants it was derived from)."""
    genes: set[str] = set()
    copies, significance, zygosity, absent = None, None, None, False
    identifiers: dict[str, str] = {}
    texts = [_s(obs.get("valueString"))] + [n["text"] for n in obs.get("note") or []]
    if t.COPY_NUMBER.key in _code_keys(obs["code"]):
        copies = _int_value(obs)
    value = obs.get("valueCodeableConcept")
    if t.VARIANT_ABSENT.code in {c.get("code") for c in _codings(value)}:
        absent = True
    elif value and not _codings(value):
        texts.append(_s(value.get("text")))
    for comp in obs.get("component") or []:
        keys = _code_keys(comp["code"])
        cvalue = comp.get("valueCodeableConcept")
        if t.GENE_STUDIED.key in keys or "gene studied" in _all_text(comp["code"]):
            genes |= {_s(c.get("code")).upper() for c in _codings(cvalue)} | {_concept_text(cvalue).upper()}
        elif t.COPY_NUMBER.key in keys:
            copies = _int_value(comp)
        elif t.CLINICAL_SIGNIFICANCE.key in keys:
            significance = _answer(cvalue, t.PATHOGENIC_ANSWERS)
        elif t.ALLELIC_STATE.key in keys:
            zygosity = _answer(cvalue, t.ZYGOSITY_ANSWERS)
        else:
            for code in t.VARIANT_IDENTIFIERS:
                if code.key in keys:
                    shown = _s(comp.get("valueString")) or next(
                        (_s(c.get("code")) or _s(c.get("display")) for c in _codings(cvalue)), "") \
                        or _concept_text(cvalue)
                    if shown:
                        identifiers[code.code] = shown
    implications = {}
    if significance and not genes and not identifiers and copies is None:
        # A diagnostic-implication Observation: its significance belongs to the variants it is derived from.
        for ref in obs.get("derivedFrom") or []:
            if ref.get("reference"):
                implications[ref["reference"]] = significance
    names_smn1 = "smn1" in _norm(_concept_text(obs["code"])).split() or t.SMN1_TEST.key in _code_keys(obs["code"])
    if genes and not ({t.SMN1_GENE.code, t.SMN1_GENE.display} & genes):
        return None, implications  # e.g. an SMN2 copy-number result: informational, not SMN1 evidence
    if not genes and not names_smn1:
        return None, implications
    variants = []
    identifier = next((identifiers[c.code] for c in t.VARIANT_IDENTIFIERS if c.code in identifiers), None)
    # A variant is a second allele only as a sequence change: not on a copy-number result (that significance
    # is the deletion's), not an exon/gene deletion written with uncertain breakpoints ("?"), not "Absent".
    if identifier and copies is None and not absent and "?" not in identifier:
        variants.append(SequenceVariant(_normalise_hgvs(identifier), identifier, significance or "", zygosity))
    text = " ".join(x.strip() for x in texts if x and x.strip())
    result = GeneticResult(obs.get("id") and f"Observation/{obs['id']}" or "Observation", when, copies, variants,
                           text[:_QUOTE_LIMIT], text_claim(text) if text else None)
    return result, implications


def finish(results: list[GeneticResult], implications: dict[str, str]) -> list[GeneticResult]:
    """Apply significances from implication Observations; keep only P/LP variants; drop empty results."""
    kept = []
    for g in results:
        for v in g.variants:
            v.significance = v.significance or implications.get(g.reference, "")
        g.variants = [v for v in g.variants if v.significance in t.PATHOGENIC_ANSWERS.values()]
        if g.smn1_copies is not None or g.variants or g.text:
            kept.append(g)
    return kept


def text_claim(text: str) -> str | None:
    """'biallelic' when a clause affirms bi-allelic loss and nothing negates it or reports a carrier or normal
    result; 'not-biallelic' when the report negates it or reports a carrier / normal copy number; else None."""
    affirmed, against = False, False
    for clause in re.split(r"[.;\n]+", text.lower()):
        words = f" {_norm(clause)} "
        found = [p for p in _BIALLELIC if f" {p} " in words]
        rest = words
        for p in found:
            rest = rest.replace(f" {p} ", " ")
        negated = any(f" {n} " in f"{rest} " for n in _NEGATION)
        if found and not negated:
            affirmed = True
        about_smn2_only = " smn2 " in words and " smn1 " not in words
        if (found and negated) or (not about_smn2_only and any(f" {c} " in rest for c in _CARRIER)):
            against = True
    if against:
        return "not-biallelic"
    return "biallelic" if affirmed else None


_BIALLELIC = tuple(_norm(p) for p in t.BIALLELIC_TEXT)
_NEGATION = tuple(_norm(p) for p in t.NEGATION_TEXT)
_CARRIER = tuple(_norm(p) for p in t.CARRIER_TEXT)


def _answer(concept: dict | None, answers: dict[str, str]) -> str | None:
    """A LOINC answer (LA code, or its exact name) from a fixed answer list, as the list's name."""
    for c in _codings(concept):
        if c.get("code") in answers:
            return answers[c["code"]]
    text = _norm(_concept_text(concept))
    return text if text in answers.values() else None


def _normalise_hgvs(identifier: str) -> str:
    """'NM_000344.3(SMN1):c.815A>G' and 'c.815A>G' are the same variant: compare what follows the last ':'."""
    return identifier.rsplit(":", 1)[-1].replace(" ", "").lower()


def _int_value(element: dict) -> int | None:
    if element.get("valueInteger") is not None:
        return element["valueInteger"]
    value = (element.get("valueQuantity") or _NONE).get("value")
    if value is not None and float(value).is_integer():
        return int(value)
    return None
