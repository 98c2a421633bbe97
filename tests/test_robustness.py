"""Bad input never gives a 5xx: property-based tests (hypothesis) and schemathesis on our OpenAPI."""

from __future__ import annotations

import copy
import json

import pytest
import responses
import schemathesis
from conftest import make_app
from fhir_fake import hook_request
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from cds_service.quantities import parse_titer_string

APP = make_app()
SIGN = "/cds-services/zolgensma-order-sign"
OK_STATUSES = {200, 400, 404, 412, 422}

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False, allow_infinity=False) | st.text(max_size=20),
    lambda children: st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=12), children, max_size=4),
    max_leaves=20,
)


def _post(body_bytes: bytes):
    with responses.RequestsMock(assert_all_requests_are_fired=False):  # no network, ever
        response = APP.test_client().post(SIGN, data=body_bytes, content_type="application/json")
    assert response.status_code in OK_STATUSES, response.get_data(as_text=True)
    assert response.is_json
    assert "Traceback" not in response.get_data(as_text=True)
    return response


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(json_values)
def test_any_json_body_is_answered_without_5xx(value):
    _post(json.dumps(value).encode())


@settings(max_examples=100, deadline=None)
@given(st.binary(max_size=200))
def test_any_bytes_are_answered_without_5xx(raw):
    _post(raw)


def _paths(value, prefix=()):
    if isinstance(value, dict):
        for k, v in value.items():
            yield prefix + (k,)
            yield from _paths(v, prefix + (k,))
    elif isinstance(value, list):
        for i, v in enumerate(value):
            yield prefix + (i,)
            yield from _paths(v, prefix + (i,))


def _mutated(base: dict, mutations) -> dict:
    """A copy of `base` with each (path, value) set where the path still exists."""
    body = copy.deepcopy(base)
    for path, value in mutations:
        target = body
        try:
            for part in path[:-1]:
                target = target[part]
            target[path[-1]] = value
        except (KeyError, IndexError, TypeError):
            continue
    return body


BASE = hook_request("eligible-infant")
BASE_PATHS = sorted(_paths(BASE), key=str)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(st.tuples(st.sampled_from(BASE_PATHS), json_values), min_size=1, max_size=4))
def test_corrupted_real_requests_never_5xx_and_never_met_without_data(mutations):
    body = _mutated(BASE, mutations)
    response = _post(json.dumps(body).encode())
    if response.status_code == 200 and response.json["cards"]:
        outcome = response.json["cards"][0]["extension"]["org.example.zolgensma-cds.eligibility"]
        for criterion in outcome["criteria"]:
            if criterion["status"] == "met" and criterion["id"] not in (
                    "no-advanced-sma", "no-active-infection", "one-time-dose"):
                assert criterion.get("evidence"), criterion  # a positive finding always cites evidence


@settings(max_examples=300, deadline=None)
@given(st.text(max_size=30))
def test_titer_parser_only_raises_value_error(text):
    try:
        reciprocal, comparator = parse_titer_string(text)
    except ValueError:
        return
    assert reciprocal >= 0 and comparator in ("=", "<", "<=", ">", ">=")


schema = schemathesis.openapi.from_wsgi("/openapi.json", APP)


@schema.parametrize()
@settings(max_examples=40, deadline=None, suppress_health_check=list(HealthCheck))
def test_openapi_contract(case):
    with responses.RequestsMock(assert_all_requests_are_fired=False):
        response = case.call()
    assert response.status_code < 500, response.text
    case.validate_response(response, checks=[schemathesis.checks.not_a_server_error,
                                             schemathesis.checks.status_code_conformance,
                                             schemathesis.checks.content_type_conformance,
                                             schemathesis.checks.response_schema_conformance])


@pytest.mark.parametrize("path", ["/cds-services", "/openapi.json"])
def test_documents_are_served(path):
    assert APP.test_client().get(path).status_code == 200


MONITORING_BASE = hook_request("monitoring-day-45-overdue", "patient-view",
                               sources=("patient", "labs", "medication-requests", "medication-administrations",
                                        "procedures"))
MONITORING_PATHS = sorted(_paths(MONITORING_BASE), key=str)


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(st.tuples(st.sampled_from(MONITORING_PATHS), json_values), min_size=1, max_size=4))
def test_corrupted_monitoring_requests_never_5xx(mutations):
    body = _mutated(MONITORING_BASE, mutations)
    with responses.RequestsMock(assert_all_requests_are_fired=False):
        response = APP.test_client().post("/cds-services/zolgensma-monitoring", json=body)
    assert response.status_code in OK_STATUSES, response.get_data(as_text=True)
