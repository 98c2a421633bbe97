"""The card link to a pre-filled packet, where documentation is needed.

A card link is opened by the clinician's browser, which cannot present the EHR's client JWT, so the link
itself is the credential: an unguessable id (256 random bits) for a packet kept in the database for
CDS_PACKET_TTL_MINUTES (default 120), then deleted. CRD allows a service to retain data for DTR context;
nothing else is kept. The packet holds PHI: the page is served with no-store and no-referrer.

What is stored when the card is made is the packet's draft (PacketMaker.draft: the answers, fixed then, and
the resources they cite); the Bundle is assembled when the link is opened (each cited resource checked as
R4, the Questionnaire copied in), which was two thirds of the cost of an order-sign needing documentation.
"""

from __future__ import annotations

import logging
import secrets
import time

import orjson

from ..facts import PatientFacts
from ..jsonio import dumps_bytes
from ..rules.findings import Evaluation

log = logging.getLogger("cds_service.packet")


class PacketLinks:
    def __init__(self, maker, store, ttl_minutes: float):
        self.maker, self.store, self.ttl_seconds = maker, store, ttl_minutes * 60

    def link(self, facts: PatientFacts, evaluation: Evaluation, resources: list[dict], fhir_base: str | None,
             base_url: str) -> dict | None:
        """A CDS Hooks link to the stored packet, or None when there is no store or no base URL to link to."""
        if self.store is None or not base_url:
            return None
        try:
            draft = self.maker.draft(facts, evaluation, resources, fhir_base)
            key = secrets.token_urlsafe(32)
            self.store.add_packet(key, dumps_bytes({"draft": draft}).decode(), time.time() + self.ttl_seconds)
        except Exception:  # noqa: BLE001 - the cards matter more than the link: never a 500 because of it
            log.exception("prior-authorization packet not linked")
            return None
        return {"label": self.maker.text["render"]["cardLink"], "url": f"{base_url.rstrip('/')}/packets/{key}",
                "type": "absolute"}

    def bundle(self, key: str) -> dict | None:
        """The Bundle behind a link, or None when there is no such packet (unknown or expired)."""
        # Our keys are 43 characters; anything longer is not one and never reaches the database.
        stored = self.store.packet(key) if self.store is not None and len(key) <= 100 else None
        if stored is None:
            return None
        stored = orjson.loads(stored)
        if "bundle" in stored:  # stored before drafts were (a link made by the previous version)
            return stored["bundle"]
        return self.maker.finish(stored["draft"])[0]
