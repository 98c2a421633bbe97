"""Client JWTs, CORS, structured logs without tokens."""

from __future__ import annotations

import json
import logging
import time
import uuid

import jwt
import pytest
from conftest import make_app
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from fhir_fake import TOKEN, hook_request

from cds_service.auth import SANDBOX_ISSUER

ISS = "https://ehr.example.org"
JKU = "https://ehr.example.org/.well-known/jwks.json"
SIGN_URL = "http://localhost/cds-services/zolgensma-order-sign"

EC_KEY = ec.generate_private_key(ec.SECP384R1())
RSA_KEY = rsa.generate_private_key(public_exponent=65537, key_size=2048)
OTHER_EC_KEY = ec.generate_private_key(ec.SECP384R1())


def _jwk(key, kid, alg):
    algorithm = jwt.algorithms.ECAlgorithm if alg == "ES384" else jwt.algorithms.RSAAlgorithm
    jwk = json.loads(algorithm.to_jwk(key.public_key()))
    return {**jwk, "kid": kid, "alg": alg, "use": "sig"}


JWKS = {"keys": [_jwk(EC_KEY, "ec-1", "ES384"), _jwk(RSA_KEY, "rsa-1", "RS384")]}


def token(key=EC_KEY, alg="ES384", kid="ec-1", headers=None, **claims):
    now = int(time.time())
    payload = {"iss": ISS, "aud": SIGN_URL, "iat": now, "exp": now + 300, "jti": str(uuid.uuid4())}
    payload.update(claims)
    payload = {k: v for k, v in payload.items() if v is not None}
    return jwt.encode(payload, key, algorithm=alg, headers={"kid": kid, "typ": "JWT", **(headers or {})})


@pytest.fixture
def secured():
    fetches = []

    def fetch(url):
        fetches.append(url)
        return JWKS

    app = make_app(AUTH_REQUIRED=True, TRUSTED_ISSUERS={ISS: {"jwks": JWKS}, "https://rotating.example.org": {
        "jku": JKU}}, JWKS_FETCH=fetch, PUBLIC_BASE_URL="http://localhost")
    client = app.test_client()
    client.fetches = fetches
    return client


def _call(client, bearer, url="/cds-services/zolgensma-order-sign"):
    headers = {"Authorization": f"Bearer {bearer}"} if bearer is not None else {}
    return client.post(url, json=hook_request("eligible-infant"), headers=headers)


@pytest.mark.parametrize("key, alg, kid", [(EC_KEY, "ES384", "ec-1"), (RSA_KEY, "RS384", "rsa-1")])
def test_valid_tokens_are_accepted(secured, key, alg, kid):
    assert _call(secured, token(key, alg, kid)).status_code == 200


def _unsigned(**claims):
    header = {"alg": "none", "typ": "JWT", "kid": "ec-1"}
    now = int(time.time())
    body = {"iss": ISS, "aud": SIGN_URL, "iat": now, "exp": now + 300, "jti": "x", **claims}
    enc = [jwt.utils.base64url_encode(json.dumps(p).encode()).decode() for p in (header, body)]
    return ".".join(enc) + "."


BAD = {
    "no header": None,
    "garbage": "not-a-jwt",
    "alg none": _unsigned(),
    "hmac": jwt.encode({"iss": ISS, "aud": SIGN_URL, "exp": int(time.time()) + 60, "iat": int(time.time()),
                        "jti": "h"}, "s" * 64, algorithm="HS384", headers={"kid": "ec-1"}),
    "untrusted issuer": token(iss="https://evil.example.org"),
    "wrong audience": token(aud="http://localhost/cds-services/zolgensma-order-select"),
    "expired": token(iat=int(time.time()) - 900, exp=int(time.time()) - 600),
    "no jti": token(jti=None),
    "signed by another key": token(key=OTHER_EC_KEY),
    "unknown kid": token(kid="nope"),
    "jku off the allowlist": token(headers={"jku": "https://evil.example.org/jwks.json"}),
    "lifetime over an hour": token(exp=int(time.time()) + 7200),
}


@pytest.mark.parametrize("case", sorted(BAD))
def test_bad_tokens_are_401_without_detail(secured, case):
    response = _call(secured, BAD[case])
    assert response.status_code == 401
    assert response.json["issue"][0]["diagnostics"] == "unauthorized"


def test_replayed_jti_is_rejected(secured):
    bearer = token()
    assert _call(secured, bearer).status_code == 200
    assert _call(secured, bearer).status_code == 401


def test_discovery_and_feedback_need_a_token_for_their_own_url(secured):
    assert secured.get("/cds-services").status_code == 401
    ok = secured.get("/cds-services", headers={
        "Authorization": f"Bearer {token(aud='http://localhost/cds-services')}"})
    assert ok.status_code == 200
    body = {"feedback": [{"card": "c", "outcome": "overridden", "outcomeTimestamp": "2026-11-23T10:00:00Z"}]}
    url = "/cds-services/zolgensma-order-sign/feedback"
    assert secured.post(url, json=body, headers={"Authorization": f"Bearer {token()}"}).status_code == 401
    assert secured.post(url, json=body, headers={
        "Authorization": f"Bearer {token(aud='http://localhost' + url)}"}).status_code == 200


def test_jku_key_set_is_fetched_once_and_cached(secured):
    for _ in range(3):
        bearer = token(iss="https://rotating.example.org", headers={"jku": JKU})
        assert _call(secured, bearer).status_code == 200
    assert secured.fetches == [JKU]
    # An unknown kid refetches at most once a minute: no fetch storm.
    for _ in range(3):
        assert _call(secured, token(iss="https://rotating.example.org", kid="new")).status_code == 401
    assert secured.fetches == [JKU]


def test_public_base_url_sets_the_audience():
    app = make_app(AUTH_REQUIRED=True, TRUSTED_ISSUERS={ISS: {"jwks": JWKS}},
                   PUBLIC_BASE_URL="https://cds.example.org/")
    client = app.test_client()
    assert _call(client, token()).status_code == 401
    good = token(aud="https://cds.example.org/cds-services/zolgensma-order-sign")
    assert _call(client, good).status_code == 200


def test_sandbox_is_opt_in_and_pins_its_key():
    plain = make_app(AUTH_REQUIRED=True, PUBLIC_BASE_URL="http://localhost").test_client()
    forged = token(iss=SANDBOX_ISSUER, kid="44823f3d-0b01-4a6c-a80e-b9d3e8a7226f")
    assert _call(plain, forged).status_code == 401
    sandbox = make_app(AUTH_REQUIRED=True, TRUST_SANDBOX=True, JWKS_FETCH=lambda url: {"keys": []},
                       PUBLIC_BASE_URL="http://localhost").test_client()
    assert _call(sandbox, forged).status_code == 401  # signed with our key, not the sandbox's


def test_auth_off_by_default_for_the_local_quickstart(client):
    assert client.post("/cds-services/zolgensma-order-sign", json=hook_request("eligible-infant")).status_code == 200


def test_cors_preflight_allows_the_sandbox(client):
    response = client.options("/cds-services/zolgensma-order-sign", headers={
        "Origin": "https://sandbox.cds-hooks.org", "Access-Control-Request-Method": "POST",
        "Access-Control-Request-Headers": "authorization, content-type"})
    assert response.status_code == 200
    assert response.headers["Access-Control-Allow-Origin"] in ("*", "https://sandbox.cds-hooks.org")
    allowed = response.headers["Access-Control-Allow-Headers"].lower()
    assert "authorization" in allowed and "content-type" in allowed
    assert {"GET", "POST", "OPTIONS"} <= set(response.headers["Access-Control-Allow-Methods"].replace(" ", "")
                                               .split(","))
    get = client.get("/cds-services", headers={"Origin": "https://sandbox.cds-hooks.org"})
    assert get.headers["Access-Control-Allow-Origin"] in ("*", "https://sandbox.cds-hooks.org")


def test_preflight_needs_no_token(secured):
    response = secured.options("/cds-services/zolgensma-order-sign", headers={
        "Origin": "https://sandbox.cds-hooks.org", "Access-Control-Request-Method": "POST"})
    assert response.status_code == 200


def test_cors_headers_only_for_requests_with_an_origin(client):
    assert "Access-Control-Allow-Origin" not in client.get("/cds-services").headers
    with_origin = client.get("/cds-services", headers={"Origin": "https://sandbox.cds-hooks.org"})
    assert with_origin.headers["Access-Control-Allow-Origin"] in ("*", "https://sandbox.cds-hooks.org")


def test_cors_origins_can_be_restricted():
    client = make_app(CORS_ORIGINS="https://ehr.example.org").test_client()
    response = client.get("/cds-services", headers={"Origin": "https://evil.example.org"})
    assert "Access-Control-Allow-Origin" not in response.headers


def test_every_call_is_logged_without_tokens(client, caplog):
    caplog.set_level(logging.INFO, logger="cds_service.calls")
    body = hook_request("missing-labs")
    client.post("/cds-services/zolgensma-order-sign", json=body, headers={"Authorization": "Bearer secret-jwt"})
    client.post("/cds-services/zolgensma-order-sign", data="{bad", content_type="application/json")
    records = [json.loads(r.getMessage()) for r in caplog.records if r.name == "cds_service.calls"]
    assert len(records) == 2
    ok, bad = records
    assert ok["status"] == 200 and ok["hookInstance"] == body["hookInstance"]
    assert ok["overall"] == "incomplete" and ok["criteria"]["baseline-liver-function"] == "unknown"
    assert ok["systemActions"] == 1 and len(ok["cards"]) >= 3
    assert bad["status"] == 400 and "not valid JSON" in bad["error"]
    text = caplog.text
    assert TOKEN not in text and "secret-jwt" not in text


def test_log_lines_keep_the_standard_time_format():
    """The service's formatter makes the date text once per second; every line still reads as logging's own."""
    from cds_service import _Formatter
    fmt = "%(asctime)s %(name)s %(levelname)s %(message)s"
    ours, standard = _Formatter(fmt), logging.Formatter(fmt)
    for created in (1_795_000_000.0, 1_795_000_000.999, 1_795_000_001.5, 1_795_000_000.25, 1_795_086_400.0):
        record = logging.LogRecord("cds_service.calls", logging.INFO, __file__, 0, "{}", None, None)
        record.created, record.msecs = created, (created - int(created)) * 1000
        assert ours.format(record) == standard.format(record)
