"""JSON errors: every refusal is ``{"error": {"status", "message", "field"}}`` with the status
that says whose fault it is (4xx: the request's, naming the field), never an HTML page or a
bare 500."""

from __future__ import annotations

import logging
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException

from detect.errors import DetectError

log = logging.getLogger(__name__)


class ApiError(Exception):
    """A refused request: HTTP ``status``, a one-line ``message``, the ``field`` at fault."""

    def __init__(
        self,
        status: int,
        message: str,
        field: str | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(message)
        self.status, self.message, self.field, self.headers = status, message, field, headers


class BodyTooLarge(Exception):
    """Raised into the app's body reading once the body passes serve.max_upload_mb (the body
    limit's middleware answers 413 in place of whatever the app answers)."""


def error_body(status: int, message: str, field: str | None = None) -> dict[str, Any]:
    return {"error": {"status": status, "message": message, "field": field}}


def error_response(error: ApiError) -> JSONResponse:
    return JSONResponse(
        error_body(error.status, error.message, error.field), error.status, error.headers
    )


def install(app: FastAPI) -> None:
    """The app's error handlers: ours, FastAPI's validation, Starlette's HTTP errors, the
    library's input errors (422) and, last, anything else (500, logged with its traceback)."""

    @app.exception_handler(ApiError)
    async def api_error(request: Request, error: ApiError) -> JSONResponse:
        return error_response(error)

    @app.exception_handler(RequestValidationError)
    async def invalid(request: Request, error: RequestValidationError) -> JSONResponse:
        first = error.errors()[0] if error.errors() else {}
        where = [str(part) for part in first.get("loc", ()) if part not in ("body", "query")]
        field = ".".join(where) or None
        message = f"{field}: {first.get('msg', 'invalid')}" if field else str(first.get("msg"))
        return JSONResponse(error_body(422, message, field), 422)

    @app.exception_handler(HTTPException)
    async def http_error(request: Request, error: HTTPException) -> JSONResponse:
        return JSONResponse(
            error_body(error.status_code, str(error.detail)), error.status_code, error.headers
        )

    @app.exception_handler(DetectError)
    async def input_error(request: Request, error: DetectError) -> JSONResponse:
        return JSONResponse(error_body(422, str(error)), 422)

    @app.exception_handler(BodyTooLarge)
    async def too_large(request: Request, error: BodyTooLarge) -> JSONResponse:
        return JSONResponse(error_body(413, str(error), "body"), 413)

    @app.exception_handler(Exception)
    async def bug(request: Request, error: Exception) -> JSONResponse:
        log.exception("%s %s failed", request.method, request.url.path)
        return JSONResponse(error_body(500, f"internal error: {type(error).__name__}"), 500)
