"""Errors the HTTP layer maps to status codes (in api.py, in one place)."""

from __future__ import annotations

import traceback


class CdsError(Exception):
    status = 500
    code = "exception"

    def __init__(self, message: str):
        super().__init__(message)
        self.message = message


class BadRequest(CdsError):
    status = 400
    code = "invalid"


class Unprocessable(CdsError):
    """Valid JSON that breaks CDS Hooks or Da Vinci CRD rules (CRD STU 2.0.1 hooks.md: 422, as FHIR create)."""

    status = 422
    code = "processing"


class Unauthorized(CdsError):
    status = 401
    code = "security"


class NotFound(CdsError):
    status = 404
    code = "not-found"


class PreconditionFailed(CdsError):
    """CDS Hooks 2.0: required data could be had neither from prefetch nor from the FHIR server."""

    status = 412
    code = "incomplete"


def where_it_failed(err: BaseException) -> str:
    """The exception's type and traceback, never its message: messages quote the values they were given
    (a feedback comment in a database error, a resource's text in a parsing error), and those stay out of logs."""
    return type(err).__name__ + "\n" + "".join(traceback.format_tb(err.__traceback__))
