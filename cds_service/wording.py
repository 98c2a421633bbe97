"""The card wording and order templates of cards/ (clinician-reviewable data), read once at start-up, and how a
finding's parameters fill them: escaped for markdown, or as plain text for summaries and the outcome."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

from .markdown import md_params, plain
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
        params = md_params(finding.params) if markdown else {
            k: plain(v) if isinstance(v, str) else v for k, v in finding.params.items()}
        params["title"] = (criterion or self.criterion(finding.criterion))["title"]
        params["short"] = (criterion or self.criterion(finding.criterion))["short"]
        for key in ("months", "count"):  # "1 month", "1 condition"
            params[f"{key}_s"] = "" if str(finding.params.get(key)) == "1" else "s"
        if params.get("ndc_verified") is False:  # a kit NDC derived from the label's pattern
            params["ndc"] += self.data["kit"]["derivedShort"]
        return template.format_map(params)

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
