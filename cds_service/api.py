"""The thin HTTP layer: routes, JSON in/out, and the one place errors become status codes."""

from __future__ import annotations

import logging

from flask import Blueprint, current_app, jsonify, request
from werkzeug.exceptions import HTTPException

from .errors import BadRequest, CdsError
from .hooks import discovery

bp = Blueprint("cds", __name__)
log = logging.getLogger("cds_service")


@bp.get("/cds-services")
def list_services():
    return jsonify(discovery())


@bp.post("/cds-services/<service_id>")
def call_service(service_id: str):
    body = _json_body()
    return jsonify(current_app.extensions["cds.handler"](service_id, body))


def _json_body():
    body = request.get_json(silent=True, force=True)
    if body is None:
        raise BadRequest("request body is not valid JSON")
    return body


def operation_outcome(status: int, code: str, message: str):
    body = {"resourceType": "OperationOutcome",
            "issue": [{"severity": "error", "code": code, "diagnostics": message}]}
    return jsonify(body), status


def register_error_handlers(app) -> None:
    @app.errorhandler(CdsError)
    def cds_error(err: CdsError):
        if err.status == 401:
            return operation_outcome(401, err.code, "unauthorized")  # no detail, per CDS Hooks best practice
        return operation_outcome(err.status, err.code, err.message)

    @app.errorhandler(HTTPException)
    def http_error(err: HTTPException):
        return operation_outcome(err.code or 500, "processing", err.description or err.name)

    @app.errorhandler(Exception)
    def unexpected(err: Exception):
        log.exception("unhandled error")
        return operation_outcome(500, "exception", "internal error; see the service log")
