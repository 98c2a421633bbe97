"""SMN1 genetic results (HL7 Genomics Reporting shapes, LOINC codes) -> GeneticResult facts.

Structured elements decide: copy number (82155-3) and pathogenic / likely pathogenic sequence variants named
by HGVS or a variation code (48004-6, 81290-9, 48005-3, 81252-9) with their significance (53037-8, on the
variant or on a diagnostic-implication Observation `derivedFrom` it) and allelic state (53034-5). The
significance on a copy-number result is the deletion's own: it is never a second allele. Free text (a
`valueString`, notes) is kept to be quoted, with what it claims after negation and carrier phrases.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from .. import terminology as t
from ..facts import GeneticResult, SequenceVariant
from .common import _NONE, _all_text, _code_keys, _codings, _concept_text, _norm, _s
from .flags import lab_flags

_QUOTE_LIMIT = 400  # characters of report text quoted on a card


class UnreadableGenetics(ValueError):
    """An SMN1 result whose copy number cannot be tied to SMN1 (a combined SMN1/SMN2 result that does not say
    which copy number counts which gene; two SMN1 copy numbers that differ): skipped and reported."""


@dataclass
class _CopyNumber:
    value: int | None
    label: frozenset[str]  # the genes the component's own code names ("SMN1 copy number")
    after: frozenset[str]  # the genes of a gene-studied component right before it (a cross-check only)


def read_genetics(obs: dict, when) -> tuple[GeneticResult | None, dict[str, str]]:
    """(the SMN1 result or None when the Observation is about another gene, {variant reference: significance}
    for a diagnostic-implication Observation that classifies variants it was derived from). Raises
    UnreadableGenetics for a result naming SMN1 whose SMN1 copy number cannot be read unambiguously.

    The HL7 Genomics Reporting IG reports one Observation per gene. An Observation naming SMN1 and another
    gene (a flattened "SMA panel") is read per gene only when each copy-number component names its one gene in
    its own code ("SMN1 copy number"), no gene-studied component right before it names another gene, and SMN1
    has one value.
    Component order alone decides nothing (FHIR gives Observation.component order no meaning)."""
    genes: set[str] = set()
    copy_numbers: list[_CopyNumber] = []
    significance, zygosity, absent = None, None, False
    identifiers: dict[str, str] = {}
    texts = [_s(obs.get("valueString"))] + [n["text"] for n in obs.get("note") or []]
    if t.COPY_NUMBER.key in _code_keys(obs["code"]):
        copy_numbers.append(_CopyNumber(_int_value(obs), _genes_named(obs["code"]), frozenset()))
    value = obs.get("valueCodeableConcept")
    if t.VARIANT_ABSENT.code in {c.get("code") for c in _codings(value)}:
        absent = True
    elif value and not _codings(value):
        texts.append(_s(value.get("text")))
    just_before: frozenset[str] = frozenset()  # the genes of a gene-studied component right before this one
    for comp in obs.get("component") or []:
        keys = _code_keys(comp["code"])
        cvalue = comp.get("valueCodeableConcept")
        if t.GENE_STUDIED.key in keys or "gene studied" in _all_text(comp["code"]):
            just_before = _gene_studied(cvalue)
            genes |= just_before
            continue
        if t.COPY_NUMBER.key in keys:
            copy_numbers.append(_CopyNumber(_int_value(comp), _genes_named(comp["code"]), just_before))
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
        just_before = frozenset()
    implications = {}
    if significance and not genes and not identifiers and not copy_numbers:
        # A diagnostic-implication Observation: its significance belongs to the variants it is derived from.
        for ref in obs.get("derivedFrom") or []:
            if ref.get("reference"):
                implications[ref["reference"]] = significance
    names_smn1 = "smn1" in _norm(_concept_text(obs["code"])).split() or t.SMN1_TEST.key in _code_keys(obs["code"])
    if genes and SMN1 not in genes:
        return None, implications  # e.g. an SMN2 copy-number result: informational, not SMN1 evidence
    if not genes and not names_smn1:
        return None, implications
    # The genes the result is about: its gene-studied components, else the genes its own code names.
    scope = genes or set(_genes_named(obs["code"])) | {SMN1}
    copies = _smn1_copies(copy_numbers, scope)
    variants = []
    identifier = next((identifiers[c.code] for c in t.VARIANT_IDENTIFIERS if c.code in identifiers), None)
    # A variant is a second allele only as a sequence change: not on a copy-number result (that significance
    # is the deletion's), not an exon/gene deletion written with uncertain breakpoints ("?"), not "Absent".
    if identifier and not copy_numbers and not absent and "?" not in identifier:
        if len(scope) > 1:
            raise UnreadableGenetics(f"a sequence variant on a result naming {_listed(scope)}: which gene it is "
                                     "in is not stated (one Observation per gene expected)")
        variants.append(SequenceVariant(_normalise_hgvs(identifier), identifier, significance or "", zygosity))
    text = " ".join(x.strip() for x in texts if x and x.strip())
    result = GeneticResult(obs.get("id") and f"Observation/{obs['id']}" or "Observation", when, copies, variants,
                           text[:_QUOTE_LIMIT], text_claim(text) if text else None, _paired_note(copy_numbers, scope),
                           lab_flags(obs))
    return result, implications


SMN1, SMN2 = t.SMN1_GENE.display, t.SMN2_GENE.display


def _smn1_copies(copy_numbers: list[_CopyNumber], genes: set[str]) -> int | None:
    """The one SMN1 copy number, or None when none is stated (or readable); UnreadableGenetics when a copy
    number cannot be tied to one gene, or SMN1 has two different ones."""
    combined = len(genes) > 1
    values = set()
    for cn in copy_numbers:
        shown = "unreadable" if cn.value is None else cn.value
        if len(cn.label) > 1:
            raise UnreadableGenetics(f"copy number {shown} is labelled with {_listed(cn.label)}: which gene it "
                                     "counts is not stated")
        if cn.label and not cn.label <= genes:
            raise UnreadableGenetics(f"copy number {shown} is labelled {_listed(cn.label)} on a result naming "
                                     f"{_listed(genes)}")
        if cn.label and cn.after and cn.label != cn.after:
            raise UnreadableGenetics(f"copy number {shown} is labelled {_listed(cn.label)} but follows the gene "
                                     f"{_listed(cn.after)}")
        if combined and not cn.label:
            raise UnreadableGenetics(f"copy number {shown} on a result naming {_listed(genes)}: which gene it "
                                     "counts is not stated (one Observation per gene expected)")
        gene = next(iter(cn.label), SMN1)  # on a result about SMN1 alone, an unlabelled copy number is SMN1's
        if gene == SMN1 and cn.value is not None:
            values.add(cn.value)
    if len(values) > 1:
        raise UnreadableGenetics(f"SMN1 copy numbers {' and '.join(map(str, sorted(values)))} on one result")
    return values.pop() if values else None


def _paired_note(copy_numbers: list[_CopyNumber], genes: set[str]) -> str:
    """On a result naming several genes, what the card says about how SMN1's copy number was told apart."""
    if len(genes) < 2 or not copy_numbers:
        return ""
    others = [f"{next(iter(cn.label))} copy number {cn.value}" for cn in copy_numbers
              if cn.label != {SMN1} and cn.value is not None]
    return f"the copy number labelled SMN1 on a result naming {_listed(genes)}" + \
        (f" (also {', '.join(others)})" if others else "")


def _gene_studied(concept: dict | None) -> frozenset[str]:
    """The genes a gene-studied value names: SMN1 / SMN2 by HGNC id or symbol, another gene by its code."""
    found = set(_genes_named(concept))
    codes = {_s(c.get("code")).upper() for c in _codings(concept)}
    found |= {g.display for g in (t.SMN1_GENE, t.SMN2_GENE) if g.code in codes}
    if not found:
        other = next((c for c in sorted(codes) if c), "") or _concept_text(concept).upper()
        found = {other[:40] or "an unnamed gene"}
    return frozenset(found)


def _genes_named(concept: dict | None) -> frozenset[str]:
    """SMN1 / SMN2 named as words in a concept's text or displays ("SMN1 copy number", "SMN1/SMN2")."""
    words = set(_norm(_all_text(concept)).split())
    return frozenset(g for g in (SMN1, SMN2) if g.lower() in words)


def _listed(genes) -> str:
    return " and ".join(sorted(genes))


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
    """A copy number: a whole number of copies, 0 or more, stated exactly (no comparator)."""
    value = element.get("valueInteger")
    if value is None:
        quantity = element.get("valueQuantity") or _NONE
        value = quantity.get("value") if quantity.get("comparator") in (None, "=") else None
    if value is not None and float(value).is_integer() and value >= 0:
        return int(value)
    return None
