"""Zolgensma CDS Hooks 2.0 service."""

from __future__ import annotations

import logging
import sys
import time
import uuid
from datetime import date

from flask import Flask, request
from flask_cors import CORS

from . import config as config_module
from .jsonio import OrjsonProvider


def create_app(config: dict | None = None) -> Flask:
    """Flask factory. `config` overrides CDS_* environment variables; `TODAY` and `ID_FACTORY`
    (callables), `NOW` (an aware datetime callable) and `JWKS_FETCH` may be injected so that tests are
    deterministic and offline."""
    from .api import bp, register_error_handlers
    from .auth import SANDBOX_ENTRY, SANDBOX_ISSUER, JwtVerifier
    from .fhir_batch import ServerMemory, batch_mode
    from .hooks import Services
    from .store import Store

    settings = config_module.load(config)
    batch_mode(settings["FHIR_BATCH"])  # a misspelt CDS_FHIR_BATCH stops the start, not a call
    settings["FHIR_SERVER_MEMORY"] = ServerMemory()  # what one call learns of a FHIR server, for the next (per app)
    app = CdsFlask(__name__)
    app.config.update(settings)
    # Werkzeug answers a larger body with 413 (an OperationOutcome from api.py) before it is read.
    app.config["MAX_CONTENT_LENGTH"] = settings["MAX_REQUEST_BYTES"]
    _configure_logging()

    today = settings.get("TODAY") or date.today
    new_id = settings.get("ID_FACTORY") or (lambda: str(uuid.uuid4()))
    store = Store(settings["DATABASE_URL"])
    app.extensions["cds.store"] = store
    app.extensions["cds.handler"] = Services(settings, today, new_id, store)
    if settings["AUTH_REQUIRED"]:
        if not settings["PUBLIC_BASE_URL"].strip():
            # Without it the token audience would follow the Host header, which the caller chooses.
            raise RuntimeError("CDS_AUTH_REQUIRED=true needs CDS_PUBLIC_BASE_URL, the https:// URL clients call "
                               "(each token's `aud` is checked against it)")
        issuers = dict(settings["TRUSTED_ISSUERS"])
        if settings["TRUST_SANDBOX"]:  # its pinned key set, plus any fhirServers configured for it
            issuers[SANDBOX_ISSUER] = {**SANDBOX_ENTRY, **issuers.get(SANDBOX_ISSUER, {})}
        verifier = JwtVerifier(issuers, store, fetch=settings.get("JWKS_FETCH"),
                               timeout=settings["FHIR_TIMEOUT_SECONDS"])
        app.extensions["cds.verifier"] = verifier
        log.info("production mode: client JWTs required (audience %s); FHIR servers each issuer may name: %s",
                 settings["PUBLIC_BASE_URL"], {iss: sorted(s) for iss, s in verifier.servers.items()})
    else:
        log.warning("open mode (CDS_AUTH_REQUIRED is off): no client authentication, and any fhirServer a "
                    "request names is queried with its token; for the local quickstart only (see README, Trust)")
    origins = [o.strip() for o in settings["CORS_ORIGINS"].split(",") if o.strip()] or "*"
    CORS(app, resources={r"/cds-services*": {"origins": origins}, r"/packets*": {"origins": origins}},
         methods=["GET", "POST", "OPTIONS"],
         allow_headers=["Authorization", "Content-Type"], max_age=600, always_send=False)
    _cors_only_with_origin(app)
    app.register_blueprint(bp)
    register_error_handlers(app)
    return app


log = logging.getLogger("cds_service")


class CdsFlask(Flask):
    """Flask with the orjson provider, and `ensure_sync` answered once per function: Flask asks it of every
    hook and view on every call (is it a coroutine function? inspect: about a microsecond each, four times in a
    call here), and a function's answer never changes. (The benchmarks' JSON-only ceiling stays plain Flask: on
    this class it counted no fewer instructions, README Performance.)"""

    json_provider_class = OrjsonProvider

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self._sync: dict = {}

    def ensure_sync(self, func):
        try:
            return self._sync[func]
        except KeyError:
            sync = self._sync[func] = super().ensure_sync(func)
            return sync
        except TypeError:  # not hashable: asked each time
            return super().ensure_sync(func)


def _cors_only_with_origin(app: Flask) -> None:
    """Run flask_cors's response hook only for requests that carry an Origin header. Without one (an EHR's
    server-to-server call) it adds nothing, as configured (always_send=False), but still cost about a quarter
    of a non-Zolgensma call (it formats its debug message eagerly). Browsers send Origin on every
    cross-origin call and preflight, so what they receive is unchanged."""
    hooks = app.after_request_funcs.setdefault(None, [])
    index = next(i for i, f in enumerate(hooks) if f.__name__ == "cors_after_request")  # the one CORS() added
    cors = hooks[index]

    def cors_after_request_with_origin(response):
        return cors(response) if "HTTP_ORIGIN" in request.environ else response  # the Origin header (WSGI)

    hooks[index] = cors_after_request_with_origin


LOG_FORMAT = "%(asctime)s %(name)s %(levelname)s %(message)s"


def _configure_logging() -> None:
    logger = logging.getLogger("cds_service")
    if not logger.handlers:
        handler = logging.StreamHandler(sys.stderr)
        handler.setFormatter(_Formatter(LOG_FORMAT))
        logger.addHandler(handler)
        logger.setLevel(logging.INFO)


class _Formatter(logging.Formatter):
    """The standard format; the date and time text is made once per second, not for every line (a line is
    written for every call, most of them answered in well under a millisecond)."""

    _second: tuple[int, str] = (-1, "")

    def formatTime(self, record: logging.LogRecord, datefmt: str | None = None) -> str:  # noqa: N802 - logging API
        if datefmt:
            return super().formatTime(record, datefmt)
        return self.asctime(record.created, record.msecs)

    def asctime(self, created: float, msecs: float | None = None) -> str:
        """logging's default time text for `created` (time.time()), milliseconds as a LogRecord computes them."""
        second = int(created)
        cached = self._second  # one tuple, replaced whole: safe with threads
        if cached[0] != second:
            cached = (second, time.strftime(self.default_time_format, self.converter(created)))
            self._second = cached
        if msecs is None:
            msecs = int((created - second) * 1000) + 0.0  # as LogRecord.__init__ (Python 3.11)
        return self.default_msec_format % (cached[1], msecs)


def write_info(logger: logging.Logger, message: str) -> None:
    """`logger.info(message)` as one line, written directly when the line would reach only the service's own
    stderr handler (set up above, nothing filtering), as in production: the same text, without logging's
    LogRecord and handler chain, which cost about half of the call log line, written for every call. Any other
    set-up (another handler, a filter, a test capturing logs) goes through logging as usual."""
    handler = _sole_handler(logger)
    if handler is None:
        logger.handle(logger.makeRecord(logger.name, logging.INFO, __file__, 0, message, None, None))
        return
    line = f"{handler.formatter.asctime(time.time())} {logger.name} INFO {message}\n"
    with handler.lock:  # as Handler.handle
        try:
            handler.stream.write(line)
            handler.stream.flush()
        except Exception:  # as StreamHandler.emit: a failed write is reported on stderr, never raised to the call
            handler.handleError(logger.makeRecord(logger.name, logging.INFO, __file__, 0, message, None, None))


def _sole_handler(logger: logging.Logger) -> logging.StreamHandler | None:
    """The service's stderr handler when a record of `logger` (a child of `cds_service`) would reach it and
    nothing else: no handler or filter of its own, none on the way, the root logger without handlers."""
    parent = logger.parent
    if (logger.disabled or logger.handlers or logger.filters or not logger.propagate or parent.filters
            or len(parent.handlers) != 1):
        return None
    handler = parent.handlers[0]
    formatter = handler.formatter
    if (type(handler) is not logging.StreamHandler or handler.terminator != "\n" or handler.filters
            or handler.level > logging.INFO or type(formatter) is not _Formatter or formatter._fmt != LOG_FORMAT
            or formatter.datefmt or parent.name != "cds_service" or (parent.propagate and logging.root.handlers)):
        return None
    return handler
