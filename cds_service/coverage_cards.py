"""Billing guidance, site-of-care and alternatives cards (wording in cards/billing.json)."""

from __future__ import annotations

from .cards import CardBuilder, summary_text
from .markdown import md, md_params, plain
from .rules.billing import BillingGuidance
from .terminology import POS_NAMES


class CoverageCards:
    """Every member of these cards is always set (wording comes from cards/billing.json), so no pruning."""

    def __init__(self, wording: dict, builder: CardBuilder):
        self.t = wording
        self.builder = builder

    @property
    def coverage_reasons(self) -> dict:
        return self.t["coverageReason"]

    def all(self, guidance: BillingGuidance, excluded: bool = False) -> list[dict]:
        """Billing (not when excluded on clinical grounds or not covered by the plan: nothing to bill), site of
        care, alternatives."""
        billing = None if excluded else self.billing(guidance)
        cards = [billing, self.site(guidance), self.alternatives(guidance)]
        return [c for c in cards if c]

    def billing(self, g: BillingGuidance) -> dict:
        b = self.t["billing"]
        if g.order_unreadable:  # units and codes for an order that was not read would be a guess (fix-cov item 3)
            unread = b["orderUnreadable"]
            return {"uuid": self.builder.new_id(), "summary": summary_text(unread["summary"]), "indicator": "info",
                    "detail": unread["detail"], "source": self.builder.source("claim")}
        codes = sorted({code for code, _, _ in g.diagnoses})
        summary = b["summary"].format(dx=", ".join(codes)) if codes else b["summaryNoDx"]
        lines = list(b["lines"])
        if g.primary_first:  # never billed to the plan as if it were primary (review 2026-11-24e T6)
            lines.append(b["primaryFirst"].format(**md_params(dict(primary=g.primary_first[0],
                                                                  payer=g.primary_first[1]))))
        lines += ["", b["diagnosisHeader"]]
        if g.diagnoses:
            lines += [f"- {md(code)} {md(text)} ({md(ref)})" for code, text, ref in g.diagnoses]
        else:
            lines.append(b["noConfirmedDiagnosis" if g.uncertain else "noDiagnosis"])
        if g.uncertain:  # shown with its status, never as the code to bill
            lines += ["", b["uncertainHeader"]]
            lines += [b["uncertainLine"].format(**md_params(dict(code=code, text=text, reference=ref, status=status)))
                      for code, text, ref, status in g.uncertain]
        if g.misleading:
            lines += ["", b["misleadingHeader"]]
            lines += [f"- {md(code)}: {md(title)} ({md(ref)})" for code, title, ref in g.misleading]
        lines += ["", b["checklistHeader"], "", b["denialsHeader"]]
        lines += [f"- {b['denials'][d]}" for d in g.denials] or [b["noDenials"]]
        lines += ["", b["siteHeader"], self._site_line(g)]
        return {"uuid": self.builder.new_id(), "summary": summary_text(summary), "indicator": "info",
                "detail": "\n".join(lines), "source": self.builder.source("claim")}

    def _site_line(self, g: BillingGuidance) -> str:
        s = self.t["site"]
        if g.site_status == "unknown":
            why = g.site.why if g.site and g.site.why else s["noEncounter"]
            return s["unknown"].format(why=md(why))
        # Not accepted: the site-of-care card says it; the billing card points there (no card repeats another).
        key = "notAcceptedPointer" if g.site_status == "not-accepted" else g.site_status
        return s[key].format(**md_params(self._site_params(g)))

    def _site_params(self, g: BillingGuidance) -> dict:
        """Plain values from the data; md_params() escapes them for markdown, plain() for summaries."""
        return dict(pos=g.site.pos_code, name=POS_NAMES.get(g.site.pos_code, "place of service"),
                    reference=g.site.reference, description=g.site.description)

    def site_problems(self, g: BillingGuidance) -> list[str]:
        """The site-of-care warning as the first card names it (plain text), when the site is not accepted."""
        if g.site_status != "not-accepted":
            return []
        return [self.t["site"]["notAcceptedProblem"].format(
            **{k: plain(v) for k, v in self._site_params(g).items()})]

    def site(self, g: BillingGuidance) -> dict | None:
        if g.site_status != "not-accepted":
            return None
        s = self.t["site"]
        params = self._site_params(g)
        summary = s["notAcceptedSummary"].format(**{k: plain(v) for k, v in params.items()})
        return {"uuid": self.builder.new_id(), "summary": summary_text(summary),
                "indicator": "warning", "detail": s["notAcceptedDetail"].format(**md_params(params)),
                "source": self.builder.source("coverage-info"), "overrideReasons": self.builder.override_reasons()}

    def alternatives(self, g: BillingGuidance) -> dict | None:
        if g.alternatives_reason is None:
            return None
        a = self.t["alternatives"]
        return {"uuid": self.builder.new_id(),
                "summary": summary_text(a["summary"].format(why=a["why"][g.alternatives_reason])),
                "indicator": "info", "detail": a["detail"], "source": self.builder.source("therapy-alternatives-opt")}
