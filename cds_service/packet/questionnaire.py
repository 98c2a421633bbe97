"""The FHIR R4 Questionnaire for policy DR.005.D: one group per criterion the rules evaluate, then the
billing guide's documentation list. Wording is data (cards/packet.json, titles and sources from
cards/criteria.json); this module only gives it FHIR shape. Link ids are stable: the response, the
renderer and engines key on them."""

from __future__ import annotations

from ..rules.findings import STATUSES

# Our code system for the service's per-criterion assessment (the rules' statuses) and overall outcome.
STATUS_SYSTEM = "https://zolgensma-cds.example.org/fhir/CodeSystem/criterion-status"
OUTCOME_SYSTEM = "https://zolgensma-cds.example.org/fhir/CodeSystem/eligibility-outcome"
OUTCOMES = ("eligible", "incomplete", "needs-review", "not-eligible")
# Why an item is unanswered: the standard data-absent-reason code, plus our sentence.
DATA_ABSENT_REASON = "http://hl7.org/fhir/StructureDefinition/data-absent-reason"
UNANSWERED_REASON = "https://zolgensma-cds.example.org/fhir/StructureDefinition/unanswered-reason"
MONITORING_TESTS = ("hepatic-panel", "pt-inr", "platelets", "troponin-i")


def canonical(packet_text: dict) -> str:
    q = packet_text["questionnaire"]
    return f"{q['url']}|{q['version']}"


def build_questionnaire(packet_text: dict, criteria_text: dict, criteria: tuple[str, ...],
                        test_labels: dict[str, str]) -> dict:
    """`criteria`: the criterion ids in the rules' order; `test_labels`: monitoring test names."""
    q = packet_text["questionnaire"]
    groups, ctx, parts, docs = (packet_text["groups"], packet_text["context"], packet_text["criterionItems"],
                                packet_text["documentation"])
    status_options = [{"valueCoding": {"system": STATUS_SYSTEM, "code": s, "display": criteria_text["statusLabels"][s]}}
                      for s in STATUSES]
    context = _group("context", groups["context"], [
        _item("context.order", ctx["order"], "reference", read_only=True),
        _item("context.planned-date", ctx["planned-date"], "date", read_only=True),
        _item("context.as-of", ctx["as-of"], "date", read_only=True),
        _item("context.as-of-basis", ctx["as-of-basis"], "string", read_only=True),
        _item("context.overall", ctx["overall"], "choice", read_only=True, options=[
            {"valueCoding": {"system": OUTCOME_SYSTEM, "code": o}} for o in OUTCOMES]),
    ])
    criterion_groups = []
    for cid in criteria:
        wording, own = criteria_text["criteria"][cid], packet_text["criteria"][cid]
        group = _group(cid, f"{wording['title']} ({wording['source']})", [
            _item(f"{cid}.answer", own["question"], "boolean"),
            _item(f"{cid}.status", parts["status"], "choice", read_only=True, options=status_options),
            _item(f"{cid}.reason", parts["reason"], "string", read_only=True),
            _item(f"{cid}.evidence", parts["evidence"], "reference", read_only=True, repeats=True),
        ])
        group["prefix"] = own["prefix"]
        criterion_groups.append(group)
    documentation = _group("documentation", groups["documentation"], [
        _item("documentation.genetic-report", docs["genetic-report"], "reference", repeats=True),
        _group("documentation.titer", docs["titer"], [
            _item("documentation.titer.result", docs["titer.result"], "string"),
            _item("documentation.titer.date", docs["titer.date"], "date"),
            _item("documentation.titer.days-before", docs["titer.days-before"], "integer", read_only=True),
            _item("documentation.titer.evidence", docs["titer.evidence"], "reference"),
        ]),
        _group("documentation.age-weight", docs["age-weight"], [
            _item("documentation.age-weight.birth-date", docs["age-weight.birth-date"], "date"),
            _item("documentation.age-weight.age-months", docs["age-weight.age-months"], "integer", read_only=True),
            _item("documentation.age-weight.weight", docs["age-weight.weight"], "quantity"),
            _item("documentation.age-weight.weight-date", docs["age-weight.weight-date"], "date"),
            _item("documentation.age-weight.evidence", docs["age-weight.evidence"], "reference", repeats=True),
        ]),
        _group("documentation.steroid", docs["steroid"], [
            _item("documentation.steroid.order", docs["steroid.order"], "reference"),
            _item("documentation.steroid.start", docs["steroid.start"], "date"),
            _item("documentation.steroid.mg-per-kg-day", docs["steroid.mg-per-kg-day"], "decimal", read_only=True),
        ]),
        _group("documentation.monitoring", docs["monitoring"], [
            _item(f"documentation.monitoring.{t}", test_labels[t], "date", repeats=True) for t in MONITORING_TESTS]),
    ])
    issues = _group("data-issues", groups["data-issues"], [
        _item("data-issues.item", packet_text["dataIssues"], "string", read_only=True, repeats=True)])
    return {
        "resourceType": "Questionnaire",
        "id": q["id"],
        "url": q["url"],
        "version": q["version"],
        "name": q["name"],
        "title": q["title"],
        "status": "active",
        "subjectType": ["Patient"],
        "date": q["date"],
        "publisher": q["publisher"],
        "description": q["description"],
        "item": [context, _group("criteria", groups["criteria"], criterion_groups), documentation, issues],
    }


def _group(link_id: str, text: str, items: list[dict]) -> dict:
    return {"linkId": link_id, "text": text, "type": "group", "item": items}


def _item(link_id: str, text: str, kind: str, read_only: bool = False, repeats: bool = False,
          options: list[dict] | None = None) -> dict:
    item = {"linkId": link_id, "text": text, "type": kind}
    if repeats:
        item["repeats"] = True
    if read_only:
        item["readOnly"] = True
    if options:
        item["answerOption"] = options
    return item
