"""External references on cards: CDS Hooks `links` (type `absolute`; Da Vinci CRD "External Reference") to the
sources a card cites, from cards/references.json.

A card whose summary or detail cites a source by one of its `citedAs` phrases carries that source's link once,
after any link the card already has (the prior-authorization packet). A source without a `url` (one known only
by name: policy DR.005.D and the billing guide state none) stays text.
"""

from __future__ import annotations

import json
from pathlib import Path


class References:
    def __init__(self, data: dict):
        # Only sources with a URL become links; the rest are listed in the data for the record.
        self.linked = [(tuple(s["citedAs"]), {"label": s["label"], "url": s["url"], "type": "absolute"})
                       for s in data["sources"] if s.get("url")]

    @classmethod
    def load(cls, cards_dir: str | Path) -> References:
        return cls(json.loads((Path(cards_dir) / "references.json").read_text()))

    def links_for(self, card: dict) -> list[dict]:
        """The links of the sources this card cites, in the data's order."""
        text = card.get("summary", "") + "\n" + card.get("detail", "")
        return [dict(link) for phrases, link in self.linked if any(p in text for p in phrases)]

    def add_links(self, response: dict) -> dict:
        """Each card with the links of the sources it cites, none twice (by URL)."""
        for card in response.get("cards", ()):
            links = list(card.get("links", ()))
            known = {link["url"] for link in links}
            links += [link for link in self.links_for(card) if link["url"] not in known]
            if links:  # CDS Hooks: no empty array
                card["links"] = links
        return response
