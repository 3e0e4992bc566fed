"""``GET|HEAD /media/<sha256>.wav``: rendered audio for Asterisk's HTTP media cache.

No authentication: the URL names a 64-hex content hash, not an action. Asterisk revalidates
with HEAD + If-None-Match when given an ETag and skips the request for ``max-age`` seconds
(transcript 16, fact 15). The file never changes under its hash, so the ETag is the hash.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Request, Response
from fastapi.responses import FileResponse, JSONResponse

from engine.tts.cache import cache_path, is_sha256
from engine.tts.delivery import MEDIA_PREFIX
from engine.tts.settings import TtsSettings

router = APIRouter(tags=["media"])


def media_settings(request: Request) -> TtsSettings:
    """Speech settings of the running app (``create_app`` stores them in ``app.state.deps``)."""
    settings: TtsSettings = request.app.state.deps.settings.tts
    return settings


def _problem(status: int, title: str, detail: str) -> JSONResponse:
    return JSONResponse(
        {"type": "about:blank", "title": title, "status": status, "detail": detail},
        status_code=status,
        media_type="application/problem+json",
    )


@router.api_route(f"{MEDIA_PREFIX}/{{name}}", methods=["GET", "HEAD"], response_model=None)
def get_media(
    name: str,
    request: Request,
    settings: Annotated[TtsSettings, Depends(media_settings)],
) -> Response:
    sha256, dot, ext = name.partition(".")
    if not (is_sha256(sha256) and dot and ext == "wav"):
        return _problem(404, "Not Found", "media names are <64 lowercase hex>.wav")
    path = cache_path(settings.cache_dir, sha256)
    if not path.is_file():
        return _problem(404, "Not Found", "no rendered audio with this hash")
    etag = f'"{sha256}"'
    headers = {"ETag": etag, "Cache-Control": f"public, max-age={settings.media_max_age_s}"}
    sent = _etags(request.headers.get("if-none-match", ""))
    if etag in sent or "*" in sent:
        return Response(status_code=304, headers=headers)
    return FileResponse(path, media_type="audio/wav", headers=headers)


def _etags(header: str) -> set[str]:
    tags = {t.strip() for t in header.split(",") if t.strip()}
    # A weak comparison is what If-None-Match asks for (RFC 9110 13.1.2).
    return {t[2:] if t.startswith("W/") else t for t in tags}
