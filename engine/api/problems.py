"""Every error leaves the API as ``application/problem+json`` (RFC 9457) with a stable ``code``.

Service errors (:class:`engine.errors.EngineError`) are translated here, once; routes never
build error responses themselves.
"""

from __future__ import annotations

import logging
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from sqlalchemy.exc import IntegrityError, OperationalError
from starlette.exceptions import HTTPException as StarletteHTTPException

from engine.errors import EngineError

PROBLEM_JSON = "application/problem+json"
log = logging.getLogger(__name__)

_HTTP_CODES = {
    400: "bad_request",
    401: "unauthenticated",
    403: "forbidden",
    404: "not_found",
    405: "method_not_allowed",
    406: "not_acceptable",
    409: "conflict",
    413: "too_large",
    415: "unsupported_media_type",
    422: "validation_error",
    429: "too_many_requests",
}


def problem(status: int, code: str, detail: str, **extra: Any) -> JSONResponse:
    body = {"type": f"urn:bnet:problem:{code}", "title": code.replace("_", " "),
            "status": status, "code": code, "detail": detail, **extra}
    headers = {"WWW-Authenticate": "Bearer"} if status == 401 else None
    return JSONResponse(body, status_code=status, media_type=PROBLEM_JSON, headers=headers)


async def _engine_error(_request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, EngineError)
    return problem(exc.status, exc.code, exc.message)


async def _validation_error(_request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RequestValidationError)
    errors = [
        {"loc": [str(p) for p in err.get("loc", ())], "msg": str(err.get("msg", "")),
         "type": str(err.get("type", ""))}
        for err in exc.errors()
    ]
    first = errors[0] if errors else {"loc": [], "msg": "invalid request"}
    detail = f"{'.'.join(first['loc'])}: {first['msg']}"
    return problem(422, "validation_error", detail, errors=errors)


async def _http_error(_request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, StarletteHTTPException)
    code = _HTTP_CODES.get(exc.status_code, "http_error")
    return problem(exc.status_code, code, str(exc.detail))


async def _store_busy(_request: Request, exc: Exception) -> JSONResponse:
    # SQLite answers a write that raced another writer with "database is locked": the
    # transaction was rolled back whole, so the client can simply retry.
    locked = "locked" in str(exc) or "busy" in str(exc)
    log.warning("store %s: %s", "busy" if locked else "unavailable", type(exc).__name__)
    response = (problem(503, "store_busy", "the store is busy; retry the request") if locked
                else problem(503, "store_unavailable", "the store cannot be reached"))
    response.headers["Retry-After"] = "1"
    return response


async def _concurrent_change(_request: Request, exc: Exception) -> JSONResponse:
    log.warning("integrity conflict: %s", type(exc).__name__)
    return problem(409, "concurrent_change",
                   "another request changed the same data at the same time; retry")


async def _unexpected(_request: Request, exc: Exception) -> JSONResponse:
    log.exception("unhandled error", exc_info=exc)
    return problem(500, "internal_error", "internal error; see the server log")


def install(app: FastAPI) -> None:
    app.add_exception_handler(EngineError, _engine_error)
    app.add_exception_handler(RequestValidationError, _validation_error)
    app.add_exception_handler(StarletteHTTPException, _http_error)
    app.add_exception_handler(OperationalError, _store_busy)
    app.add_exception_handler(IntegrityError, _concurrent_change)
    app.add_exception_handler(Exception, _unexpected)
