"""The thin HTTP layer: routes, auth, CORS, call logs, and the one place errors become status codes."""

from __future__ import annotations

import gc
import logging
import time
from importlib import resources

from flask import Blueprint, current_app, g, jsonify, request
from werkzeug.exceptions import HTTPException, MethodNotAllowed

from . import extensions, write_info
from .data_access import SOURCES
from .errors import BadRequest, CdsError, NotFound, where_it_failed
from .feedback import parse_feedback
from .jsonio import dumps_bytes
from .packet.render import render_html
from .services import SERVICES, discovery

bp = Blueprint("cds", __name__)
log = logging.getLogger("cds_service")
calls = logging.getLogger("cds_service.calls")


@bp.before_request
def authenticate():
    call = g._get_current_object()  # one lookup through Flask's context proxy, not one per attribute
    vars(call).update(started=time.perf_counter(), claims=None)  # as `call.x = ...`, without a Python call each
    verifier = current_app.extensions.get("cds.verifier")
    # A stored packet is opened from a card link by the clinician's browser: its unguessable, expiring id is
    # the credential (packet/links.py).
    if verifier is None or request.method == "OPTIONS" or request.endpoint in ("cds.openapi", "cds.stored_packet"):
        return
    call.claims = verifier.verify(request.headers.get("Authorization"), _base_url() + request.path)


def _fhir_servers() -> frozenset[str] | None:
    """The FHIR servers the calling client may name (production), None in open mode."""
    verifier = current_app.extensions.get("cds.verifier")
    return verifier.fhir_servers(g.claims) if verifier is not None else None


def _base_url() -> str:
    return current_app.config["PUBLIC_BASE_URL"].rstrip("/") or request.url_root.rstrip("/")


@bp.get("/cds-services")
def list_services():
    return jsonify(discovery(current_app.config["PREFETCH"]))


@bp.post("/cds-services/<service_id>")
def call_service(service_id: str):
    # No cyclic garbage collection during one call: parsing a large prefetch creates hundreds of thousands of
    # objects, and each full collection the allocations trigger walks all of them (a 10,000-resource prefetch
    # cost 3x more per resource). The call's cycles are collected after it, by the next collection.
    app, call = current_app._get_current_object(), vars(g._get_current_object())  # each proxy looked up once
    collecting = gc.isenabled()
    gc.disable()
    try:
        call["body"] = body = _json_body()  # on `g` for the call log
        verifier = app.extensions.get("cds.verifier")  # as _fhir_servers(), without its proxy lookups
        servers = verifier.fhir_servers(call["claims"]) if verifier is not None else None
        call["result"] = result = app.extensions["cds.handler"](service_id, body, servers, base_url=_base_url)
    finally:
        if collecting:
            gc.enable()
    return app.json.response(result)


@bp.post("/packets")
def make_packet():
    """The prior-authorization packet for an order-sign or order-select request body (README)."""
    body = _json_body()
    g.body = body
    packet = current_app.extensions["cds.handler"].packet(body, _fhir_servers())
    g.overall = packet.outcome["overall"]
    return _packet_response(packet.bundle)


@bp.get("/packets/Questionnaire")
def packet_questionnaire():
    return _fhir_json(current_app.extensions["cds.handler"].packets.questionnaire)


@bp.get("/packets/<key>")
def stored_packet(key: str):
    bundle = current_app.extensions["cds.handler"].eligibility.packet_links.bundle(key)
    if bundle is None:
        raise NotFound("no such packet, or it has expired")
    return _packet_response(bundle, default="html")


def _packet_response(bundle: dict, default: str = "json"):
    wanted = request.args.get("format") or ("html" if request.accept_mimetypes.best_match(
        ["application/fhir+json", "application/json", "text/html"]) == "text/html" else default)
    if wanted not in ("html", "json"):
        raise BadRequest("format must be html or json")
    if wanted == "html":
        text = render_html(bundle, current_app.extensions["cds.handler"].packets.text)
        response = current_app.response_class(text, mimetype="text/html")
        response.headers["Content-Security-Policy"] = "default-src 'none'; style-src 'unsafe-inline'"
    else:
        response = _fhir_json(bundle)
    # PHI: never cached, never leaked through a Referer.
    response.headers.update({"Cache-Control": "no-store", "Referrer-Policy": "no-referrer",
                             "X-Content-Type-Options": "nosniff"})
    return response


def _fhir_json(resource: dict):
    return current_app.response_class(dumps_bytes(resource), mimetype="application/fhir+json")


@bp.post("/cds-services/<service_id>/feedback")
def feedback(service_id: str):
    if service_id not in SERVICES:
        raise NotFound("no CDS service with this id")
    items = parse_feedback(_json_body())
    stored = current_app.extensions["cds.store"].add_feedback(service_id, items)
    return jsonify({"stored": stored})


@bp.get("/openapi.json")
def openapi():
    text = resources.files("cds_service").joinpath("openapi.json").read_text()
    return current_app.response_class(text, mimetype="application/json")


@bp.after_request
def log_call(response):
    """One structured line per call (CRD: keep logs of invocations and responses). Never tokens, never free
    text from the request: identifiers are cut to a bounded length, unknown hooks and prefetch keys are only
    counted. This runs on every call, most of them for orders that are not Zolgensma, where it was the largest
    part of the service's own work: the request and `g` are looked up once (each lookup through Flask's context
    proxies costs about a microsecond), the common fields are read inline, and the line is written without
    logging's record machinery when only the service's own handler would write it (cds_service.write_info)."""
    req = request._get_current_object()
    if req.method == "OPTIONS" or not calls.isEnabledFor(logging.INFO):
        return response
    ctx = vars(g._get_current_object())  # what this call set on `g`
    started, status = ctx.get("started"), response.status_code
    rule = req.url_rule
    event = {"method": req.method,
             # A stored packet's id is its credential (packet/links.py): never logged, like tokens.
             "path": "/packets/<key>" if rule is not None and rule.endpoint == "cds.stored_packet"
             else req.path[:MAX_LOGGED_ID],
             "status": status,
             # Milliseconds to one decimal; round(x, 1) would go through decimal text, several times the cost.
             "ms": 0.0 if started is None else int((time.perf_counter() - started) * 10000 + 0.5) / 10}
    claims = ctx.get("claims")
    if claims:
        event["client"] = {"iss": claims.get("iss"), "jti": _ident(claims.get("jti"))}
    body = ctx.get("body")
    if isinstance(body, dict):
        context, keys, hook = body.get("context"), body.get("prefetch"), body.get("hook")
        context = context if isinstance(context, dict) else _EMPTY
        keys = keys if isinstance(keys, dict) else _EMPTY
        known = sorted(keys.keys() & KNOWN_KEYS) if keys else []
        event["hook"] = hook if isinstance(hook, str) and hook in KNOWN_HOOKS else "other"
        event["hookInstance"] = _ident(body.get("hookInstance"))
        event["patientId"] = _ident(context.get("patientId"))
        event["userId"] = _ident(context.get("userId"))
        event["prefetchKeys"] = known
        if len(known) < len(keys):
            event["otherPrefetchKeys"] = len(keys) - len(known)
    payload = ctx.get("result")
    if payload is None and status >= 400 and response.is_json:
        payload = response.get_json(silent=True) or {}  # small error bodies only
    if isinstance(payload, dict):
        cards = payload.get("cards")
        if isinstance(cards, list):
            event["cards"] = [{"summary": c.get("summary"), "indicator": c.get("indicator")} for c in cards] \
                if cards else []
            outcome = (cards[0].get("extension") or {}).get(extensions.ELIGIBILITY) if cards else None
            if outcome:
                event["overall"] = outcome["overall"]
                event["criteria"] = {c["id"]: c["status"] for c in outcome["criteria"]}
            actions = payload.get("systemActions")
            event["systemActions"] = len(actions) if actions else 0
        elif payload.get("resourceType") == "OperationOutcome":
            event["error"] = payload["issue"][0].get("diagnostics")
    overall = ctx.get("overall")
    if overall:
        event["overall"] = overall
    write_info(calls, dumps_bytes(event).decode())
    return response


_EMPTY: dict = {}
KNOWN_HOOKS = {hook for service in SERVICES.values() for hook in service.hooks}
KNOWN_KEYS = {source.key for source in SOURCES}
MAX_LOGGED_ID = 128


def _ident(value) -> str | None:
    """An identifier for the log: a string cut to MAX_LOGGED_ID characters, anything else left out."""
    return value[:MAX_LOGGED_ID] if isinstance(value, str) else None


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
        response, status = operation_outcome(err.code or 500, "processing", err.description or err.name)
        if isinstance(err, MethodNotAllowed) and err.valid_methods:
            response.headers["Allow"] = ", ".join(sorted(err.valid_methods))  # RFC 9110 15.5.6: required
        return response, status

    @app.errorhandler(Exception)
    def unexpected(err: Exception):
        log.error("unhandled error %s", where_it_failed(err))
        return operation_outcome(500, "exception", "internal error; see the service log")
