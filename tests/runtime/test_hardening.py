"""Issue 14: what an outside security test (OWASP ASVS level 2) found, each with a test.

Every test here failed on the code before its fix. Runs on SQLite and PostgreSQL where
it touches the database.
"""

from __future__ import annotations

import asyncio
import time

import pytest
from fastapi.testclient import TestClient

from conftest import PASSWORD, Browser

HEADERS = ("content-security-policy", "x-content-type-options", "x-frame-options")


# --- bodies, fields and echoed errors -------------------------------------------------------------


def test_body_limits__huge_json_refused_quickly_and_small(app, people):
    client = Browser(app).client
    many = "{" + ",".join(f'"k{i}":1' for i in range(500_000)) + "}"
    assert len(many) > 5_000_000
    started = time.perf_counter()
    answer = client.post("/api/v1/session", content=many, headers={"content-type": "application/json"})
    assert answer.status_code == 413 and len(answer.content) < 1000
    assert time.perf_counter() - started < 1.0
    assert answer.headers["x-content-type-options"] == "nosniff"


def test_body_limits__body_without_length_stops_being_read_at_the_limit(app, people):
    # Straight through ASGI: the test client would read the whole body before sending it.
    read, sent = 0, []

    async def receive():
        nonlocal read
        read += 1
        return {"type": "http.request", "body": b"x" * 1_000_000, "more_body": read < 50}  # 50 MB in all

    async def send(message):
        sent.append(message)

    scope = {"type": "http", "method": "POST", "path": "/logga-in", "raw_path": b"/logga-in", "query_string": b"",
             "headers": [(b"content-type", b"application/x-www-form-urlencoded"), (b"host", b"testserver")],
             "scheme": "https", "server": ("testserver", 443), "client": ("127.0.0.1", 1), "root_path": "",
             "http_version": "1.1", "asgi": {"version": "3.0"}}
    asyncio.run(app(scope, receive, send))
    assert sent[0]["status"] == 413 and read < 5
    assert "för stort" in b"".join(m.get("body", b"") for m in sent[1:]).decode()


def test_body_limits__many_keys_under_the_size_limit_refused_before_validation(app, people):
    client = Browser(app).client
    many = "{" + ",".join(f'"{i}":1' for i in range(5000)) + "}"
    assert len(many) < app.state.stegvis.settings.max_body_bytes
    answer = client.post("/api/v1/session", content=many, headers={"content-type": "application/json"})
    assert answer.status_code == 413 and len(answer.content) < 1000


def test_body_limits__echoed_validation_errors_capped(app, people):
    client = Browser(app).client
    some = {f"k{i}": "x" * 5000 for i in range(150)}
    answer = client.post("/api/v1/session", json=some)
    assert answer.status_code == 422
    assert len(answer.json()["errors"]) <= 21 and len(answer.content) < 20_000


def test_body_limits__ordinary_answers_still_accepted(app, people, anna):
    answer = anna.api("PUT", f"/api/v1/enrolments/{people.enrolment_a}/forms/mal/draft",
                      json={"answers": {"mal": "x" * 9000}})
    assert answer.status_code == 200, answer.text


# --- refusals instead of 500s, with the headers -----------------------------------------------------


def test_csrf__non_ascii_token_refused_not_500(app, people, anna):
    assert anna.client.post(f"/moment/{people.enrolment_a}/meddelanden",
                            data={"_csrf": "åäö", "amne": "x", "text": "y"}).status_code == 403
    assert anna.client.post(f"/api/v1/enrolments/{people.enrolment_a}/threads", json={"subject": "x", "body": "y"},
                            headers={"X-CSRF-Token": "tökén".encode("latin-1")}).status_code == 403


def test_login_csrf__non_ascii_token_refused_not_500(app, people):
    client = Browser(app).client
    client.get("/logga-in")
    answer = client.post("/logga-in", data={"_csrf": "ö" * 20, "username": "anna", "password": PASSWORD})
    assert answer.status_code == 403


@pytest.mark.parametrize("big", [2**63, 2**64, 10**30])
def test_ids__beyond_64_bits_in_urls_are_404(app, people, anna, tove, big):
    for browser, url in ((anna, f"/moment/{big}"), (anna, f"/api/v1/enrolments/{big}"),
                         (anna, f"/moment/{people.enrolment_a}/aktivitetsplaner/{big}"),
                         (tove, f"/personal/moment/{big}"), (tove, f"/api/v1/staff/enrolments/{big}")):
        assert browser.get(url).status_code == 404, url


def test_security_headers__on_a_500_too(app, people):
    def boom():
        raise RuntimeError("a bug")

    app.add_api_route("/api/v1/boom", boom)
    app.add_api_route("/boom", boom)
    with TestClient(app, raise_server_exceptions=False) as client:
        for url in ("/boom", "/api/v1/boom"):
            answer = client.get(url)
            assert answer.status_code == 500
            for name in HEADERS:
                assert name in answer.headers, (url, name)
            assert answer.headers["cache-control"] == "no-store"
