"""The card link to a pre-filled packet, where documentation is needed.

A card link is opened by the clinician's browser, which cannot present the EHR's client JWT, so the link
itself is the credential: an unguessable id (256 random bits) for a packet kept in the database for
CDS_PACKET_TTL_MINUTES (default 120), then deleted. CRD allows a service to retain data for DTR context;
nothing else is kept. The packet holds PHI: the page is served with no-store and no-referrer.
"""

from __future__ import annotations

import logging
import secrets
import time

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
            packet = self.maker.make(facts, evaluation, resources, fhir_base)
            key = secrets.token_urlsafe(32)
            self.store.add_packet(key, dumps_bytes({"bundle": packet.bundle, "outcome": packet.outcome}).decode(),
                                  time.time() + self.ttl_seconds)
        except Exception:  # noqa: BLE001 - the cards matter more than the link: never a 500 because of it
            log.exception("prior-authorization packet not linked")
            return None
        return {"label": self.maker.text["render"]["cardLink"], "url": f"{base_url.rstrip('/')}/packets/{key}",
                "type": "absolute"}
