"""CDS Hooks 2.0 client JWT verification (spec "Trusting CDS Clients"; best-practices page).

A client signs a JWT (ES384 or RS384; never `none` or HMAC) whose `iss` is on our allowlist, `aud` is the
exact URL it calls, `exp`/`iat`/`jti` present, `jti` never seen before. Keys come from a configured JWK Set
for that issuer or from its `jku`, which must itself be on the allowlist; fetched key sets are cached.
Any failure is a 401 with no detail (the reason is logged, the token never is).
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable

import jwt
import requests

from .errors import Unauthorized
from .fhir_client import canonical_base
from .store import Store, jwt_seen

log = logging.getLogger("cds_service.auth")

ALGORITHMS = ("ES384", "RS384")
KEY_TYPES = {"ES384": "EC", "RS384": "RSA"}  # a key is used only with the algorithm family it belongs to
MAX_JTI_LENGTH = jwt_seen.c.jti.type.length  # stored as is: longer ids are refused, never truncated
MAX_LIFETIME_SECONDS = 3600  # best practice: tokens live no more than an hour; jti kept that long
JWKS_CACHE_SECONDS = 3600
JWKS_REFETCH_MIN_SECONDS = 60  # an unknown kid refetches the key set at most once a minute

# The public CDS Hooks sandbox (sandbox src/retrieve-data-helpers/jwt-generator.js; key set copied from
# shared cds-hooks-test-data/cds-hooks-sandbox/jwks.json, cds-hooks/sandbox @3b7e2554). Opt-in only.
SANDBOX_ISSUER = "https://sandbox.cds-hooks.org"
SANDBOX_ENTRY = {
    "jku": "https://sandbox.cds-hooks.org/.well-known/jwks.json",
    "jwks": {"keys": [{
        "kty": "EC", "use": "sig", "crv": "P-384", "kid": "44823f3d-0b01-4a6c-a80e-b9d3e8a7226f",
        "x": "dw_JGR8nB2I6XveNxUOl2qk699ZPLM2nYI5STSdiEl9avAkrm3CkfYMbrrjr8laB",
        "y": "Sm3mLE-n1zYNla_aiE3cb3nZsL51RbC7ysw3q8aJLxGm-hx79RPMYpITDjp7kgzy", "alg": "ES384"}]},
}


class JwtVerifier:
    """`issuers`: {iss: {"jwks": {...}} and/or {"jku": url}, "fhirServers": [base URLs]}; jku URLs are the
    allowlist of key locations, fhirServers the FHIR servers a call from that issuer may name."""

    def __init__(self, issuers: dict, store: Store, fetch: Callable[[str], dict] | None = None,
                 timeout: float = 5.0, now: Callable[[], float] = time.time):
        self.issuers = issuers
        self.servers = {iss: allowed_servers(iss, entry) for iss, entry in issuers.items()}
        self.store = store
        self.fetch = fetch or (lambda url: requests.get(url, timeout=timeout, allow_redirects=False).json())
        self.now = now
        self._cache: dict[str, tuple[float, dict]] = {}
        self._lock = threading.Lock()

    def verify(self, authorization: str | None, audience: str) -> dict:
        try:
            return self._verify(authorization, audience)
        except Unauthorized as err:
            log.info("jwt rejected: %s", err.message)  # our own words: no value from the token
            raise Unauthorized("unauthorized") from None

    def _verify(self, authorization: str | None, audience: str) -> dict:
        scheme, _, token = (authorization or "").strip().partition(" ")
        if scheme.lower() != "bearer" or not token.strip():  # RFC 7235: the scheme is case-insensitive
            raise Unauthorized("no bearer token")
        token = token.strip()
        try:
            header = jwt.get_unverified_header(token)
            unverified = jwt.decode(token, options={"verify_signature": False})
        except jwt.PyJWTError:
            raise Unauthorized("malformed token") from None
        alg, kid = header.get("alg"), header.get("kid")
        if alg not in ALGORITHMS:
            raise Unauthorized("algorithm not allowed")
        if not kid or not isinstance(kid, str):
            raise Unauthorized("no kid")
        iss = unverified.get("iss")
        entry = self.issuers.get(iss) if isinstance(iss, str) else None
        if entry is None:
            raise Unauthorized("issuer not trusted")
        key = self._key(entry, header, kid, alg)
        try:
            claims = jwt.decode(token, key=key, algorithms=[alg], audience=audience, issuer=iss, leeway=30,
                                options={"require": ["iss", "aud", "exp", "iat", "jti"]})
        except jwt.PyJWTError as err:
            raise Unauthorized(f"invalid token: {type(err).__name__}") from None
        except (TypeError, ValueError):  # a key the algorithm cannot use, however it got past the checks
            raise Unauthorized("key does not fit the algorithm") from None
        if not all(_is_number(claims[c]) for c in ("exp", "iat")):
            raise Unauthorized("exp and iat must be NumericDate numbers")
        if claims["exp"] - claims["iat"] > MAX_LIFETIME_SECONDS:
            raise Unauthorized("token lifetime too long")
        jti = claims["jti"]
        if not isinstance(jti, str) or not jti or len(jti) > MAX_JTI_LENGTH or "\x00" in jti:
            raise Unauthorized(f"jti must be a string of at most {MAX_JTI_LENGTH} characters")
        if not self.store.first_use_of_jti(iss, jti, float(claims["exp"]) + 60):
            raise Unauthorized("replayed jti")
        return claims

    def fhir_servers(self, claims: dict | None) -> frozenset[str]:
        """The FHIR base URLs (canonical) the verified caller may name; none without verified claims."""
        return self.servers.get(claims.get("iss"), frozenset()) if claims else frozenset()

    def _key(self, entry: dict, header: dict, kid: str, alg: str):
        jku = header.get("jku")
        if jku is not None and jku != entry.get("jku"):
            raise Unauthorized("jku not on the allowlist for this issuer")
        for refresh in (False, True):
            jwks = self._jwks(entry, refresh)
            keys = jwks.get("keys")
            for jwk in keys if isinstance(keys, list) else []:
                if isinstance(jwk, dict) and jwk.get("kid") == kid:
                    if jwk.get("kty") != KEY_TYPES[alg] or jwk.get("alg", alg) != alg:
                        raise Unauthorized("key type does not fit the algorithm")
                    try:
                        return jwt.PyJWK(jwk).key
                    except (jwt.PyJWTError, KeyError, TypeError, ValueError):
                        raise Unauthorized("unusable key") from None
            if not entry.get("jku"):
                break
        raise Unauthorized("unknown kid")

    def _jwks(self, entry: dict, refresh: bool) -> dict:
        """Configured keys first; then the issuer's allowlisted jku (cached; refetched for an unknown kid)."""
        url = entry.get("jku")
        if not refresh and "jwks" in entry:
            return entry["jwks"]
        if not url:
            return entry.get("jwks", {})
        with self._lock:
            cached = self._cache.get(url)
        age = self.now() - cached[0] if cached else None
        if cached and (age < (JWKS_REFETCH_MIN_SECONDS if refresh else JWKS_CACHE_SECONDS)):
            return cached[1]
        try:
            jwks = self.fetch(url)
        except (requests.RequestException, ValueError):
            raise Unauthorized("key set unreachable") from None
        if not isinstance(jwks, dict):
            raise Unauthorized("key set invalid")
        with self._lock:
            self._cache[url] = (self.now(), jwks)
        return jwks


def allowed_servers(iss: str, entry: dict) -> frozenset[str]:
    """An issuer's `fhirServers`, canonical; a malformed entry stops the start (a configuration error)."""
    listed = entry.get("fhirServers", [])
    if not isinstance(listed, list):
        raise ValueError(f"CDS_TRUSTED_ISSUERS[{iss!r}].fhirServers must be a list of base URLs")
    servers = {url: canonical_base(url) if isinstance(url, str) else None for url in listed}
    bad = [url for url, canonical in servers.items() if canonical is None]
    if bad:
        raise ValueError(f"CDS_TRUSTED_ISSUERS[{iss!r}].fhirServers: not a plain http(s) base URL: {bad!r}")
    return frozenset(servers.values())


def _is_number(value) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)
