"""GET/HEAD /media/<sha256>.wav as Asterisk's HTTP media cache uses it (transcript 16)."""

from __future__ import annotations

import warnings
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest
from fastapi import FastAPI

with warnings.catch_warnings():
    # starlette.testclient touches an alias newer anyio deprecates; not this project's code.
    warnings.filterwarnings("ignore", "The anyio.abc.BlockingPortal", DeprecationWarning)
    from fastapi.testclient import TestClient

from engine.config import Settings
from engine.tts import audio
from engine.tts.delivery import media_url
from engine.tts.http import router
from engine.tts.settings import TtsSettings

SHA = "ab" * 32


@pytest.fixture
def cache_dir(tmp_path: Path) -> Path:
    folder = tmp_path / "cache"
    folder.mkdir()
    audio.write_wav(folder / f"{SHA}.wav", np.full(800, 1000, dtype=np.int16))
    (tmp_path / "secret.wav").write_bytes(b"RIFF secret")
    return folder


@pytest.fixture
def client(cache_dir: Path) -> TestClient:
    app = FastAPI()
    app.include_router(router)
    settings = Settings(tts=TtsSettings(cache_dir=cache_dir, media_max_age_s=3600))
    app.state.deps = SimpleNamespace(settings=settings)  # what create_app provides
    return TestClient(app)


def test_get_serves_wav_with_strong_etag_and_max_age(client: TestClient, cache_dir: Path) -> None:
    response = client.get(f"/media/{SHA}.wav")
    assert response.status_code == 200
    assert response.headers["content-type"] == "audio/wav"
    assert response.headers["etag"] == f'"{SHA}"'
    assert response.headers["cache-control"] == "public, max-age=3600"
    assert response.content == (cache_dir / f"{SHA}.wav").read_bytes()


def test_head_answers_headers_only(client: TestClient) -> None:
    response = client.head(f"/media/{SHA}.wav")
    assert response.status_code == 200
    assert response.headers["etag"] == f'"{SHA}"'
    assert int(response.headers["content-length"]) == 44 + 1600
    assert response.content == b""


@pytest.mark.parametrize("tag", [f'"{SHA}"', f'W/"{SHA}"', f'"other", "{SHA}"', "*"])
def test_revalidation_with_matching_etag_is_304(client: TestClient, tag: str) -> None:
    for method in ("GET", "HEAD"):
        response = client.request(method, f"/media/{SHA}.wav", headers={"If-None-Match": tag})
        assert response.status_code == 304
        assert response.content == b""
        assert response.headers["etag"] == f'"{SHA}"'


def test_changed_etag_downloads_again(client: TestClient) -> None:
    response = client.get(f"/media/{SHA}.wav", headers={"If-None-Match": '"old"'})
    assert response.status_code == 200 and response.content[:4] == b"RIFF"


def test_unknown_hash_is_404(client: TestClient) -> None:
    response = client.get(f"/media/{'cd' * 32}.wav")
    assert response.status_code == 404
    assert response.headers["content-type"] == "application/problem+json"


@pytest.mark.parametrize("name", [
    "secret.wav", "..%2Fsecret.wav", "%2E%2E%2Fsecret.wav", f"{SHA.upper()}.wav", f"{SHA}.WAV",
    f"{SHA}.sln16", SHA, f"{SHA[:-1]}.wav", f"{SHA}0.wav", f"{SHA}.wav.wav", "..", f"{SHA}.",
])  # fmt: skip
def test_only_exact_hash_names_are_served(client: TestClient, name: str) -> None:
    response = client.get(f"/media/{name}")
    assert response.status_code == 404
    assert b"secret" not in response.content


def test_traversal_outside_the_route_never_reaches_the_file(client: TestClient) -> None:
    for path in ("/media/../secret.wav", "/media/%2e%2e/secret.wav", "/media/sub/secret.wav"):
        response = client.get(path)
        assert response.status_code == 404
        assert b"secret" not in response.content


def test_media_url_is_long_enough_for_asterisk_444() -> None:
    url = media_url("http://10.0.0.5:8080/", SHA)
    assert url == f"http://10.0.0.5:8080/media/{SHA}.wav"
    assert len(url) > 38  # shorter URLs fail to play with a long astcachedir (asterisk#444)
