"""Security headers: what every page, answer and error tells the browser (and proxies)."""

from __future__ import annotations

from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from flask.testing import FlaskClient

from app import create_app
from app.config import Config

PAGE_DIRECTIVES = ("default-src 'self'", "frame-ancestors 'none'", "form-action 'self'",
                   "base-uri 'none'", "object-src 'none'", "img-src 'self'")


def _path(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.path}?{parts.query}" if parts.query else parts.path


def test_the_join_and_card_pages_forbid_inline_code_framing_and_foreign_forms(
    client: FlaskClient, program: dict[str, Any], card: dict[str, Any]
) -> None:
    for path in (f"/join/{program['slug']}", _path(card["card_url"])):
        page = client.get(path)
        assert page.status_code == 200
        policy = page.headers["Content-Security-Policy"]
        assert all(directive in policy for directive in PAGE_DIRECTIVES), policy
        assert "unsafe-inline" not in policy
        assert page.headers["X-Frame-Options"] == "DENY"
        assert page.headers["X-Content-Type-Options"] == "nosniff"
        assert page.headers["Referrer-Policy"] == "same-origin"
        assert "<style" not in page.text and "<script" not in page.text
        assert " style=" not in page.text


def test_the_pages_stylesheets_load_from_the_service_with_the_programs_colours(
    client: FlaskClient, api: Any, program: dict[str, Any]
) -> None:
    api.patch(f"/api/v1/programs/{program['id']}",
              {"colors": {"background": "#2E4A3F", "foreground": "#FFFFFF",
                          "label": "#CFE3D8"}})
    page = client.get(f"/join/{program['slug']}").text
    assert '/static/loyalpass.css"' in page
    theme = client.get(f"/p/{program['slug']}/theme.css")
    assert theme.status_code == 200 and theme.mimetype == "text/css"
    assert "--bg: #2E4A3F" in theme.text and "--label: #CFE3D8" in theme.text
    assert theme.headers["X-Content-Type-Options"] == "nosniff"
    static = client.get("/static/loyalpass.css")
    assert static.status_code == 200 and "var(--bg)" in static.text
    static.close()


def test_api_answers_and_errors_say_nosniff_and_keep_the_referrer_home(
    client: FlaskClient, api: Any
) -> None:
    answers = [api.get("/api/v1/programs"), client.get("/api/v1/programs"),
               client.get("/healthz"), client.get("/no/such/thing"),
               client.get("/api/openapi.json")]
    assert [answer.status_code for answer in answers] == [200, 401, 200, 404, 200]
    for answer in answers:
        assert answer.headers["X-Content-Type-Options"] == "nosniff"
        assert answer.headers["Referrer-Policy"] == "same-origin"
        assert "Cache-Control" not in answer.headers


def test_the_card_page_and_its_pass_are_never_stored_not_even_a_wrong_token(
    client: FlaskClient, program: dict[str, Any], card: dict[str, Any]
) -> None:
    page = _path(card["card_url"])
    for path in (page, f"{page}/pass.pkpass", "/c/forged-token", "/c/forged-token/pass.pkpass"):
        assert client.get(path).headers["Cache-Control"] == "no-store", path
    assert "no-store" not in client.get(f"/join/{program['slug']}").headers.get(
        "Cache-Control", "")


def test_an_https_service_sends_strict_transport_security_and_a_plain_http_one_does_not(
    config: Config, client: FlaskClient, tmp_path: Path
) -> None:
    assert config.base_url.startswith("https://")
    assert client.get("/healthz").headers["Strict-Transport-Security"] == "max-age=31536000"
    plain = create_app(config.with_changes(base_url="http://127.0.0.1:5000"))
    try:
        assert "Strict-Transport-Security" not in plain.test_client().get("/healthz").headers
    finally:
        plain.extensions["loyalpass"].engine.dispose()

