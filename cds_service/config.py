"""Configuration: defaults, overridden by CDS_* environment variables, overridden by create_app(config)."""

from __future__ import annotations

import json
import os
from pathlib import Path

DEFAULTS = {
    # FHIR server fallback
    "FHIR_TIMEOUT_SECONDS": 5.0,
    "FHIR_MAX_PAGES": 20,
    "FHIR_MAX_ENTRIES": 2000,  # per search; beyond this what was read counts, but the source is incomplete
    "FHIR_MAX_REQUESTS": 50,  # GETs to the FHIR server per hook call (all sources and pages); beyond: unread
    "FHIR_MAX_RESPONSE_BYTES": 32 << 20,  # per FHIR answer, after decompression; beyond: that source unread
    "FHIR_MAX_PARALLEL": 24,  # searches in flight at once per hook call (a call starts 17 at once)
    # Send the searches that start together as ONE FHIR batch (POST [base], Bundle type batch of GETs): one
    # round trip instead of ~15 for a Zolgensma order. "auto": try it; a server that refuses it gets the searches
    # one by one, and is remembered for 10 minutes (its next calls go straight to GETs). "true": always try it,
    # "false": never (fhir_batch.py).
    "FHIR_BATCH": "auto",
    # Overall deadline for gathering data from the FHIR server in one hook call: sources not read by then
    # are unread (their criteria `unknown`) and the call answers. Gunicorn's timeout (gunicorn.conf.py) is
    # derived from it and stays above it.
    "GATHER_DEADLINE_SECONDS": 3.0,
    # Discovery prefetch: "lean" (nothing at order time; queried only for a Zolgensma order) or "full"
    # (every source, for EHRs that give services no FHIR access).
    "PREFETCH": "lean",
    # Largest request body accepted (413 beyond); the default admits a 10,000-Observation prefetch.
    "MAX_REQUEST_BYTES": 24 << 20,
    # Site-configured local lab codes: {"system|code": "alt" | "aav9-titer" | ...}, or a path to such JSON.
    "LOCAL_CODES": {},
    # Names by which a Coverage's payor identifies the plan whose policy (DR.005.D) the service applies,
    # comma-separated, beside terminology.POLICY_PAYER ("Jefferson Health Plans"): matched in the payor's
    # display, ignoring case, punctuation and spacing. A Coverage naming another payer is `review`.
    "POLICY_PAYER_NAMES": "",
    # Validate the resources the rules read with the full fhir.resources R4B models (slower) instead of
    # the subset models of fhir_subset.py.
    "STRICT_VALIDATION": False,
    # Where card wording and order templates live.
    "CARDS_DIR": str(Path(__file__).resolve().parent.parent / "cards"),
    # Storage for feedback and seen JWT ids: a SQLite file by default, or postgresql+psycopg://...
    "DATABASE_URL": "sqlite:///" + str(Path("instance").resolve() / "cds.sqlite3"),
    # Client JWTs (CDS Hooks 2.0 security). Off for the local quickstart, on in `make serve-prod`.
    "AUTH_REQUIRED": False,
    "TRUSTED_ISSUERS": {},  # {"https://ehr.example.org": {"jku": "https://ehr.example.org/jwks.json"}}
    "TRUST_SANDBOX": False,  # opt in to the public CDS Hooks sandbox's issuer and key set
    "PUBLIC_BASE_URL": "",  # the base URL clients call (for `aud`), when behind a proxy
    "CORS_ORIGINS": "*",  # comma-separated origins allowed to call from a browser
    # Also publish the machine-readable outcome under its old, DEPRECATED name `zolgensma-eligibility` (beside
    # `org.example.zolgensma-cds.eligibility`) for integrators built against it; false to stop.
    "LEGACY_OUTCOME_ALIAS": True,
    # How long a pre-filled prior-authorization packet behind a card link is kept (packet/links.py).
    "PACKET_TTL_MINUTES": 120.0,
}


def _coerce(default, raw: str):
    if isinstance(default, bool):
        return raw.strip().lower() in ("1", "true", "yes", "on")
    if isinstance(default, int):
        return int(raw)
    if isinstance(default, float):
        return float(raw)
    if isinstance(default, dict):
        text = Path(raw).read_text() if not raw.lstrip().startswith("{") else raw
        return json.loads(text)
    return raw


def load(overrides: dict | None = None, environ: dict | None = None) -> dict:
    env = os.environ if environ is None else environ
    config = dict(DEFAULTS)
    for key, default in DEFAULTS.items():
        if f"CDS_{key}" in env:
            config[key] = _coerce(default, env[f"CDS_{key}"])
    config.update(overrides or {})
    return config
