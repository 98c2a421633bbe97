"""SMN1 copy numbers read per gene (review 2026-11-24b item C1). The HL7 Genomics Reporting IG reports one
Observation per gene; an interface may flatten an "SMA panel" into one Observation holding SMN1 and SMN2 copy
numbers. Such a result is read per gene only when each copy number names its gene in its own code ("SMN1 copy
number") and no gene-studied component before it says otherwise; component order alone decides nothing.
Otherwise the result is not readable: criterion 2 is `unknown`, never `met`. Each case through prefetch and
through the FHIR server, with identical answers."""

from __future__ import annotations

import copy

import pytest
from fhir_fake import answer_both_routes, criterion_card, criterion_outcome, load

LOINC = "http://loinc.org"
HGNC = "http://www.genenames.org/geneId"


def gene(symbol: str, hgnc: str) -> dict:
    return {"code": {"coding": [{"system": LOINC, "code": "48018-6", "display": "Gene studied [ID]"}]},
            "valueCodeableConcept": {"coding": [{"system": HGNC, "code": hgnc, "display": symbol}]}}


SMN1, SMN2 = gene("SMN1", "HGNC:11117"), gene("SMN2", "HGNC:11118")


def copy_number(n, label: str | None = None, **quantity) -> dict:
    code = {"coding": [{"system": LOINC, "code": "82155-3", "display": "Genomic structural variant copy number"}]}
    if label:
        code["text"] = label
    return {"code": code, "valueQuantity": {"value": n, "unit": "1", "system": "http://unitsofmeasure.org",
                                            "code": "1", **quantity}}


def _with_components(*components) -> list[dict]:
    resources = copy.deepcopy(load("eligible-infant"))
    next(r for r in resources if r.get("id") == "smn1-variant")["component"] = list(components)
    return resources


def _criterion(answer: dict) -> dict:
    return criterion_outcome(answer, "smn1-biallelic")


def _card(answer: dict) -> dict:
    return criterion_card(answer, "smn1-biallelic")


def test_the_reviewers_combined_result_is_read_per_gene_smn1_present(client):
    """SMN1 copy number 2 and SMN2 copy number 0 in one Observation: SMN1 is present, not bi-allelic loss."""
    answer = answer_both_routes(client, _with_components(
        SMN1, copy_number(2, "SMN1 copy number"), SMN2, copy_number(0, "SMN2 copy number")))
    got = _criterion(answer)
    assert (got["status"], got["reasonCode"], got["overall"]) == ("not-met", "smn1-present", "not-eligible")
    card = _card(answer)
    assert card["indicator"] == "critical"
    assert "SMN1 copy number 2" in card["detail"] and "Observation/smn1-variant" in card["detail"]
    assert "also SMN2 copy number 0" in card["detail"]  # the reviewer sees how SMN1's value was told apart


def test_labels_pair_the_copy_numbers_whatever_the_component_order(client):
    got = _criterion(answer_both_routes(client, _with_components(
        SMN1, SMN2, copy_number(0, "SMN2 copy number"), copy_number(2, "SMN1 copy number"))))
    assert (got["status"], got["reasonCode"]) == ("not-met", "smn1-present")


def test_a_labelled_combined_result_with_smn1_absent_is_met(client):
    """The clean case of a flattened panel: SMN1 0 copies, SMN2 3 copies, each labelled: bi-allelic loss."""
    got = _criterion(answer_both_routes(client, _with_components(
        SMN1, copy_number(0, "SMN1 copy number"), SMN2, copy_number(3, "SMN2 copy number"))))
    assert (got["status"], got["reasonCode"], got["overall"]) == ("met", "biallelic-confirmed", "eligible")


@pytest.mark.parametrize("components, why", [
    # The reviewer's second case: two genes and one unlabelled copy number: whose is the 0?
    ((SMN2, SMN1, copy_number(0)),
     "copy number 0 on a result naming SMN1 and SMN2: which gene it counts is not stated"),
    ((SMN1, copy_number(0), SMN2, copy_number(3)), "which gene it counts is not stated"),
    # A label that the gene-studied component right before it contradicts.
    ((SMN2, copy_number(0, "SMN1 copy number"), SMN1, copy_number(2, "SMN2 copy number")),
     "copy number 0 is labelled SMN1 but follows the gene SMN2"),
    # One label naming both genes.
    ((SMN1, SMN2, copy_number(0, "SMN1/SMN2 copy number")), "copy number 0 is labelled with SMN1 and SMN2"),
    # Two SMN1 copy numbers that differ, on a result about SMN1 alone.
    ((SMN1, copy_number(0), copy_number(2)), "SMN1 copy numbers 0 and 2 on one result"),
    # A label naming another gene than the result's one gene.
    ((SMN1, copy_number(0, "SMN2 copy number")), "copy number 0 is labelled SMN2 on a result naming SMN1"),
])
def test_an_ambiguous_result_is_unknown_and_reported_never_met(client, components, why):
    answer = answer_both_routes(client, _with_components(*components))
    got = _criterion(answer)
    assert (got["status"], got["reasonCode"]) == ("unknown", "genetics-unreadable")
    assert got["overall"] != "eligible"
    card = _card(answer)
    assert card["summary"].startswith("SMN1 genetic result on record could not be read")
    assert "DR.005.D criterion 2" in card["summary"]
    assert why in card["detail"] and "(Observation/smn1-variant)" in card["detail"]
    assert "one Observation per gene" in card["detail"]
    issues = next(c for c in answer["cards"] if "could not be used by the Zolgensma PA check" in c["summary"])
    assert "Observation/smn1-variant" in issues["detail"]


@pytest.mark.parametrize("value", [
    {"comparator": "<"},  # "< 0 copies" is no count
    {"value": -1},
    {"value": 0.4},
])
def test_a_copy_number_that_is_no_exact_count_is_not_read(client, value):
    cn = copy_number(0)
    cn["valueQuantity"].update(value)
    got = _criterion(answer_both_routes(client, _with_components(SMN1, cn)))
    assert (got["status"], got["reasonCode"]) == ("unknown", "genetics-unreadable")


def test_a_variant_on_a_result_naming_two_genes_is_not_attributed_to_smn1(client):
    resources = _with_components(
        SMN1, SMN2, {"code": {"coding": [{"system": LOINC, "code": "48004-6"}]}, "valueString": "c.815A>G"},
        {"code": {"coding": [{"system": LOINC, "code": "53034-5"}]},
         "valueCodeableConcept": {"coding": [{"system": LOINC, "code": "LA6705-3"}]}})  # homozygous
    got = _criterion(answer_both_routes(client, resources))
    assert (got["status"], got["reasonCode"]) == ("unknown", "genetics-unreadable")


def test_an_unreadable_result_beside_a_readable_one_stops_a_met(client):
    """SMN1 0 copies on the usual result, plus an unpaired combined result: the `met` cannot rest on it."""
    resources = copy.deepcopy(load("eligible-infant"))
    extra = copy.deepcopy(next(r for r in resources if r.get("id") == "smn1-variant"))
    extra.update(id="panel", component=[SMN2, SMN1, copy_number(2)])
    got = _criterion(answer_both_routes(client, resources + [extra]))
    assert got["status"] == "unknown" and got["overall"] != "eligible"


def test_a_separate_smn2_result_stays_informational(client):
    resources = copy.deepcopy(load("eligible-infant"))
    smn2 = copy.deepcopy(next(r for r in resources if r.get("id") == "smn1-variant"))
    smn2.update(id="smn2", component=[SMN2, copy_number(4)])
    got = _criterion(answer_both_routes(client, resources + [smn2]))
    assert (got["status"], got["overall"]) == ("met", "eligible")


# --- review 2026-11-24b item C2: a report that contradicts the structured result ---------------------------------
def _with_report(text: str) -> list[dict]:
    resources = copy.deepcopy(load("eligible-infant"))
    resources.append({"resourceType": "Observation", "id": "smn1-text", "status": "final",
                      "category": [{"coding": [{"system": "http://terminology.hl7.org/CodeSystem/observation-category",
                                                "code": "laboratory"}]}],
                      "code": {"text": "SMN1 deletion analysis"}, "subject": {"reference": "Patient/eligible-infant"},
                      "effectiveDateTime": "2026-03-20", "valueString": text})
    return resources


@pytest.mark.parametrize("text", [
    "One copy of SMN1 detected: carrier.",  # the reviewer's case
    "Homozygous deletion of SMN1 exon 7 was not detected.",
    "SMN1: 2 copies (normal).",
])
def test_a_report_contradicting_the_structured_result_is_review(client, text):
    answer = answer_both_routes(client, _with_report(text))
    got = _criterion(answer)
    assert (got["status"], got["reasonCode"], got["overall"]) == ("review", "genetics-conflict", "needs-review")
    card = _card(answer)
    assert card["summary"] == "SMN1 genetic results conflict: refer to Medical Director"
    assert "SMN1 copy number 0 (2026-03-20) (Observation/smn1-variant)" in card["detail"]
    assert "(Observation/smn1-text)" in card["detail"]
    assert f'report text: "{text}"' in card["detail"].replace("\\", "")  # quoted (escaped markdown)
    assert answer["cards"][0]["summary"].startswith("Zolgensma needs Medical Director review")


@pytest.mark.parametrize("text", [
    "Homozygous deletion of SMN1 exon 7 detected (0 copies). Consistent with SMA.",
    "SMN2: 3 copies.",  # about SMN2 only
])
def test_a_report_that_agrees_keeps_the_structured_met(client, text):
    got = _criterion(answer_both_routes(client, _with_report(text)))
    assert (got["status"], got["overall"]) == ("met", "eligible")


def test_the_contradicting_report_is_escaped(client):
    card = _card(answer_both_routes(client, _with_report("**Carrier**: one copy of SMN1 [see](http://x.example)")))
    assert r"\*\*Carrier\*\*" in card["detail"] and "[see](http" not in card["detail"]
