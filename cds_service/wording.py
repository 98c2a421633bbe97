"""The card wording and order templates of cards/ (clinician-reviewable data), read once at start-up, and how a
finding's parameters fill them: escaped for markdown, or as plain text for summaries and the outcome."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

from .markdown import md, plain
from .rules.findings import Finding


@dataclass(frozen=True)
class Wording:
    """The clinician-reviewable data of cards/, read once at start-up."""

    data: dict  # criteria.json: card wording per criterion and reason
    orders: dict  # orders.json: order templates
    billing: dict  # billing.json: billing, site-of-care and alternatives wording
    monitoring: dict  # monitoring.json: post-infusion monitoring wording
    readiness: dict  # readiness.json: the readiness plan before any order

    @classmethod
    def load(cls, cards_dir: str | Path) -> Wording:
        def read(name: str) -> dict:
            return json.loads((Path(cards_dir) / name).read_text())
        return cls(read("criteria.json"), read("orders.json"), read("billing.json"), read("monitoring.json"),
                   read("readiness.json"))

    def criterion(self, criterion_id: str) -> dict:
        return self.data["criteria"][criterion_id]

    def reason(self, finding: Finding, criterion: dict | None = None) -> dict:
        own = (criterion or self.criterion(finding.criterion))["reasons"]
        return own.get(finding.reason) or self.data["commonReasons"][finding.reason]

    def render(self, template: str, finding: Finding, criterion: dict | None = None, markdown: bool = True) -> str:
        """The template filled with the finding's parameters: escaped for markdown, or as one line of plain
        text (summaries, the machine-readable outcome). Parameters may carry text from the patient's data."""
        return template.format_map(_Fill(finding.params, criterion or self.criterion(finding.criterion),
                                         md if markdown else plain, self.data["kit"]["derivedShort"]))

    def reason_text(self, finding: Finding, markdown: bool = True) -> str:
        criterion = self.criterion(finding.criterion)
        return self.render(self.reason(finding, criterion)["text"], finding, criterion, markdown)

    def problem(self, finding: Finding) -> str:
        """The problem as the first card's summary names it, plain text: the reason's own phrase with its value
        and date ("AAV9 titer 1:100 (2026-11-20) above 1:50 (DR.005.D 6)"), else the criterion's short name
        with its status. A phrase whose value the finding lacks falls back too, never a broken summary."""
        criterion = self.criterion(finding.criterion)
        phrase = self.reason(finding, criterion).get("problem")
        if phrase:
            try:
                return self.render(phrase, finding, criterion, markdown=False)
            except (KeyError, IndexError):
                pass
        return self.data["summaryProblem"][finding.status].format(short=criterion["short"])

    def status_label(self, finding: Finding) -> str:
        """The criterion card's status, worded by reason where the data exist but cannot confirm it
        ("unknown (titer too old)"), not a bare "data missing"."""
        return self.reason(finding).get("statusLabel") or self.data["statusLabels"][finding.status]


class _Fill(dict):
    """A finding's parameters as one template uses them, each made when the template names it (a template
    uses a few of them): strings escaped (`text`: md or plain); the criterion's title and short name; the
    plural ending of a numeric parameter, months_s, count_s, days_left_s ("1 month", "1 condition", "1 day"); a
    kit NDC derived from the label's pattern marked so."""

    __slots__ = ("params", "criterion", "text", "derived")

    def __init__(self, params: dict, criterion: dict, text, derived: str):
        super().__init__()
        self.params, self.criterion, self.text, self.derived = params, criterion, text, derived

    def __missing__(self, key: str):
        if key in ("title", "short"):
            return self.criterion[key]
        if key.endswith("_s") and key[:-2] in self.params:  # months_s, count_s, days_left_s
            return "" if str(self.params.get(key[:-2])) == "1" else "s"
        value = self.params[key]
        if isinstance(value, str):
            value = self.text(value)
        if key == "ndc" and self.params.get("ndc_verified") is False:
            value += self.derived
        return value
