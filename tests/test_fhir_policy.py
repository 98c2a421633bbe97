"""Which FHIR servers a call may make the service query (issue 16, SSRF through fhirServer).

Production (CDS_AUTH_REQUIRED): each trusted issuer lists its FHIR base URLs (`fhirServers`); a call naming
any other server is treated as having no server: never queried, its token never sent; the data must come from
prefetch (412 when it lacks a key). The open quickstart mode queries any fhirServer and says so in the log.
"""

from __future__ import annotations

import logging
import os
import re
import subprocess
from pathlib import Path

import pytest
import responses
from conftest import make_app
from fhir_fake import FHIR_BASE, TOKEN, FakeFhir, hook_request, load
from test_data_access import _issues, _statuses
from test_trust import ISS, JWKS, token

from cds_service.auth import SANDBOX_ISSUER

URL = "/cds-services/zolgensma-order-sign"
INTERNAL = "http://10.0.0.7:8080/fhir"


def _secured(servers=(FHIR_BASE,)):
    app = make_app(AUTH_REQUIRED=True, PUBLIC_BASE_URL="http://localhost",
                   TRUSTED_ISSUERS={ISS: {"jwks": JWKS, "fhirServers": list(servers)}})
    return app.test_client()


def _call(client, body):
    return client.post(URL, json=body, headers={"Authorization": f"Bearer {token()}"})


def _without_labs(server: str) -> dict:
    body = hook_request("eligible-infant")
    body["fhirServer"] = server
    del body["prefetch"]["labs"]
    return body


@pytest.mark.parametrize("spelling", [FHIR_BASE, FHIR_BASE + "/", "HTTPS://EHR.example.org:443/fhir"])
def test_a_listed_fhir_server_is_queried_with_the_token(rsps, spelling):
    fake = FakeFhir(load("eligible-infant"))
    fake.register(rsps)
    response = _call(_secured(), _without_labs(spelling))
    assert set(_statuses(response).values()) == {"met"}
    assert [c for c in fake.calls if c.startswith("Observation?")]
    assert all(c.request.headers["Authorization"] == f"Bearer {TOKEN}" for c in rsps.calls)


@pytest.mark.parametrize("server", [
    INTERNAL,
    "https://ehr.example.org/fhir-admin",
    "https://ehr.example.org/fhir/../admin",
    "https://ehr.example.org:8443/fhir",
    "http://ehr.example.org/fhir",
    "https://ehr.example.org@10.0.0.7/fhir",
    "not a url",
])
def test_another_fhir_server_is_never_queried_and_missing_prefetch_is_412(rsps, server):
    response = _call(_secured(), _without_labs(server))
    assert response.status_code == 412
    assert "not one this client may name" in response.json["issue"][0]["diagnostics"]
    assert not rsps.calls


def test_another_fhir_server_with_complete_prefetch_answers_from_prefetch(rsps):
    body = hook_request("eligible-infant")
    body["fhirServer"] = INTERNAL
    assert set(_statuses(_call(_secured(), body)).values()) == {"met"}
    assert not rsps.calls


def test_a_failed_prefetch_with_a_refused_server_stays_unknown_and_says_why(rsps):
    body = hook_request("eligible-infant")
    body["fhirServer"] = INTERNAL
    body["prefetch"]["labs"] = {"resourceType": "OperationOutcome", "issue": [{"severity": "error", "code": "timeout"}]}
    response = _call(_secured(), body)
    assert _statuses(response)["aav9-titer"] == "unknown"
    assert any(i["source"] == "fhirServer" and "not one this client may name" in i["problem"]
               for i in _issues(response))
    assert not rsps.calls


def test_an_issuer_without_fhir_servers_may_name_none(rsps):
    response = _call(_secured(servers=()), _without_labs(FHIR_BASE))
    assert response.status_code == 412 and not rsps.calls


def test_the_open_mode_queries_any_server_and_says_so(rsps, caplog):
    caplog.set_level(logging.INFO, logger="cds_service")
    client = make_app().test_client()
    assert "open mode" in caplog.text and "any fhirServer" in caplog.text
    rsps.add(responses.GET, re.compile(re.escape(INTERNAL) + r"/.*"),
             json={"resourceType": "Bundle", "type": "searchset", "entry": []})
    client.post(URL, json=_without_labs(INTERNAL))
    assert rsps.calls and rsps.calls[0].request.url.startswith(INTERNAL)


def test_production_start_logs_each_issuers_servers(caplog):
    caplog.set_level(logging.INFO, logger="cds_service")
    _secured()
    assert "production mode" in caplog.text and FHIR_BASE in caplog.text


def test_production_needs_a_public_base_url():
    with pytest.raises(RuntimeError, match="CDS_PUBLIC_BASE_URL"):
        make_app(AUTH_REQUIRED=True, TRUSTED_ISSUERS={ISS: {"jwks": JWKS}})


@pytest.mark.parametrize("servers", ["https://ehr.example.org/fhir", ["ftp://ehr.example.org/fhir"],
                                     ["https://ehr.example.org/fhir?tenant=1"], [42]])
def test_malformed_fhir_server_lists_stop_the_start(servers):
    with pytest.raises(ValueError, match="fhirServers"):
        make_app(AUTH_REQUIRED=True, PUBLIC_BASE_URL="http://localhost",
                 TRUSTED_ISSUERS={ISS: {"jwks": JWKS, "fhirServers": servers}})


def test_the_sandbox_keeps_its_pinned_key_and_takes_configured_fhir_servers():
    app = make_app(AUTH_REQUIRED=True, PUBLIC_BASE_URL="http://localhost", TRUST_SANDBOX=True,
                   TRUSTED_ISSUERS={SANDBOX_ISSUER: {"fhirServers": ["https://launch.smarthealthit.org/v/r4/fhir"]}})
    verifier = app.extensions["cds.verifier"]
    assert verifier.issuers[SANDBOX_ISSUER]["jwks"]["keys"]
    assert verifier.fhir_servers({"iss": SANDBOX_ISSUER}) == {"https://launch.smarthealthit.org/v/r4/fhir"}


def test_make_serve_prod_refuses_to_start_without_a_public_base_url():
    env = {k: v for k, v in os.environ.items() if k != "CDS_PUBLIC_BASE_URL"}
    done = subprocess.run(["make", "-s", "serve-prod"], cwd=Path(__file__).resolve().parent.parent, env=env,
                          capture_output=True, text=True, timeout=120)
    assert done.returncode != 0
    assert "set CDS_PUBLIC_BASE_URL" in done.stderr
