"""The prior-authorization packet: policy DR.005.D answered with its evidence.

For engines, a FHIR R4 Bundle (QuestionnaireResponse + Questionnaire + the cited resources); for reviewers,
an HTML rendering of it (render.py); and the machine-readable outcome the summary card carries. Built from
the handler's own gather and evaluate steps (hooks.EligibilityHandler.assess): the packet never re-decides.

Reached three ways: POST /packets (api.py), a card link and the CRD coverage-information `questionnaire`
where documentation is needed (hooks.py, crd.py), and the `zolgensma-packet` command (cli.py).
"""

from __future__ import annotations

import copy
import json
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, datetime
from functools import partial
from pathlib import Path

from .. import extensions
from ..cards import CardBuilder
from ..facts import PatientFacts
from ..orders import OrderSuggester
from ..rules.eligibility import CRITERIA
from ..rules.findings import Evaluation
from ..wording import Wording
from .bundle import assemble, cited_references, resource_index
from .questionnaire import MONITORING_TESTS, build_questionnaire, canonical
from .response import ResponseBuilder

__all__ = ["Packet", "PacketMaker", "canonical"]


@dataclass
class Packet:
    bundle: dict
    outcome: dict  # the machine-readable outcome, exactly as on the summary card (extensions.ELIGIBILITY)
    left_out: list[str] = field(default_factory=list)  # cited resources not included, and why

    @property
    def response(self) -> dict:
        return self.bundle["entry"][0]["resource"]


class PacketMaker:
    def __init__(self, wording: Wording, cards_dir: str | Path, new_id: Callable[[], str],
                 today: Callable[[], date], now: Callable[[], datetime]):
        self.wording, self.new_id, self.today, self.now = wording, new_id, today, now
        self.text = json.loads((Path(cards_dir) / "packet.json").read_text())
        labels = {t: wording.orders["tests"][t]["label"] for t in MONITORING_TESTS}
        self.questionnaire = build_questionnaire(self.text, wording.data, CRITERIA, labels)
        self.canonical = canonical(self.text)

    def make(self, facts: PatientFacts, evaluation: Evaluation, resources: list[dict],
             base: str | None = None) -> Packet:
        """`resources`: everything the assessment read (the cited ones go into the Bundle)."""
        builder = CardBuilder(self.wording, self.new_id)
        suggester = OrderSuggester(self.wording.orders, evaluation, facts, self.new_id)
        outcome = builder.summary_card(evaluation, facts, suggester.extension())["extension"][extensions.ELIGIBILITY]
        bundle, left_out = self.finish(self.draft(facts, evaluation, resources, base, suggester))
        return Packet(bundle, outcome, left_out)

    def draft(self, facts: PatientFacts, evaluation: Evaluation, resources: list[dict], base: str | None = None,
              suggester: OrderSuggester | None = None) -> dict:
        """What the packet says, fixed when the assessment is made: the QuestionnaireResponse (answered from
        `facts` and `evaluation`), the resources it cites (as received), the Bundle's id and timestamp. Plain
        JSON: a card link stores it, and the Bundle is assembled (finish) only when the link is opened."""
        suggester = suggester or OrderSuggester(self.wording.orders, evaluation, facts, self.new_id)
        # Plain text (FHIR strings, escaped only when rendered), as in the machine-readable outcome.
        plain_reason = partial(self.wording.reason_text, markdown=False)
        responder = ResponseBuilder(self.text, self.wording.data, plain_reason, self.questionnaire)
        response = responder.build(self.new_id(), facts, evaluation, self.today().isoformat(), suggester.schedule())
        index = resource_index(resources)
        cited = {ref: index[ref] for ref in cited_references(response) if ref in index}
        return {"id": self.new_id(), "timestamp": self.now().isoformat(timespec="seconds"), "response": response,
                "cited": cited, "base": base}

    def finish(self, draft: dict) -> tuple[dict, list[str]]:
        """The Bundle of a draft, and what was left out of it and why (each cited resource checked as R4)."""
        return assemble(draft["id"], draft["timestamp"], draft["response"], copy.deepcopy(self.questionnaire),
                        draft["cited"], draft["base"])
