"""`stegvis serve` (issue #7): preview from memory, reload on save, errors as an overlay.

Requirements: #7.1 (serve on 127.0.0.1, rebuild what changed, reload open pages over
server-sent events, a content error shows every diagnostic and never stops the server,
the reviewer's panel only in served pages, nothing written into dist/).
"""

from __future__ import annotations

import http.client
import json
import time
import urllib.request
from pathlib import Path

import pytest

from builder.serve import EVENTS, PreviewServer, ServeSession

STEP = "modules/01-start/01-valkommen.md"
TIMEOUT = 15.0  # generous: the watcher usually answers in well under a second


class Events:
    """A server-sent event stream read line by line."""

    def __init__(self, server: PreviewServer, version: int) -> None:
        host, port = server.httpd.server_address[:2]
        self.conn = http.client.HTTPConnection(host, port, timeout=TIMEOUT)
        self.conn.request("GET", f"{EVENTS}?v={version}")
        self.response = self.conn.getresponse()
        assert self.response.status == 200
        assert self.response.getheader("Content-Type") == "text/event-stream"

    def next(self) -> tuple[str, str]:
        """The next (event, data), skipping keep-alive comments."""
        event = data = None
        while True:
            line = self.response.fp.readline().decode().rstrip("\n")
            if line.startswith("event: "):
                event = line[7:]
            elif line.startswith("data: "):
                data = line[6:]
            elif line == "" and event is not None:
                return event, data

    def close(self) -> None:
        self.conn.close()


@pytest.fixture
def served(program, tmp_path, config):
    """A session on the minimal fixture, served on a free loopback port and watched."""
    root = program()
    session = ServeSession(root, config.model_copy(update={"cache": tmp_path / "cache"}), log=lambda _: None)
    session.rebuild()
    server = PreviewServer(session, port=0)
    server.start()
    time.sleep(0.3)  # let the watcher start before a test edits a file
    yield root, session, server
    server.stop()


def get(server: PreviewServer, path: str) -> tuple[int, str]:
    try:
        with urllib.request.urlopen(server.url.rstrip("/") + path, timeout=TIMEOUT) as response:
            return response.status, response.read().decode("utf-8")
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read().decode("utf-8")


def edit_and_wait(server: PreviewServer, session: ServeSession, path: Path, text: str) -> tuple[str, str]:
    events = Events(server, session.preview.version)
    try:
        assert events.next()[0] == "hello"
        path.write_text(text, "utf-8")
        return events.next()
    finally:
        events.close()


def test_overview__served_on_loopback_with_reload_script(served):
    _, session, server = served
    assert server.url.startswith("http://127.0.0.1:")
    status, page = get(server, "/")
    assert status == 200
    assert "Översikt för granskare" in page and "EventSource" in page and EVENTS in page


def test_step_page__has_reviewer_panel_with_lix_review_and_source_link(served):
    root, _, server = served
    status, page = get(server, "/start/valkommen.html")
    assert status == 200
    assert 'id="stegvis-granskning"' in page
    assert "Läsbarhet: LIX" in page and "mycket lättläst" in page
    assert "Granskning: aldrig granskad." in page
    source = (root / STEP).resolve()
    assert f'href="vscode://file{source}:5:1"' in page and str(source) in page
    _, reviewed = get(server, "/start/mitt-mal.html")
    assert "Granskning: ändrad sedan granskningen (Granskare, 2026-10-02)." in reviewed


def test_package_pages__never_carry_what_serve_adds(served):
    _, session, _ = served
    pages = {path: data for path, data in session.preview.files.items() if path.endswith(".html")}
    assert {"index.html", "start/valkommen.html"} <= set(pages)  # the pages served with the script and panel
    for path, data in pages.items():
        assert b"EventSource" not in data and b"stegvis-granskning" not in data, path


def test_edit__sends_reload_and_serves_the_new_text(served):
    root, session, server = served
    before = session.preview.version
    text = (root / STEP).read_text("utf-8").replace("Det här är ett kort steg.", "Det här är ett nytt steg.")
    event, data = edit_and_wait(server, session, root / STEP, text)
    assert event == "reload" and int(data) > before
    _, page = get(server, "/start/valkommen.html")
    assert "Det här är ett nytt steg." in page


def test_late_subscriber__is_told_to_reload_at_once(served):
    _, session, server = served
    events = Events(server, session.preview.version - 1)  # a page loaded before the last build
    try:
        assert events.next()[0] == "hello"
        assert events.next() == ("reload", str(session.preview.version))
    finally:
        events.close()


def test_content_error__overlay_with_every_diagnostic_then_cleared(served):
    root, session, server = served
    good = (root / STEP).read_text("utf-8")
    event, _ = edit_and_wait(server, session, root / STEP, good.replace("title: Välkommen", "titel: Välkommen"))
    assert event == "reload"
    status, page = get(server, "/")
    assert status == 200  # the server keeps running and shows the errors
    assert 'id="stegvis-fel"' in page and "SCHEMA-001" in page and "SCHEMA-002" in page
    assert "modules/01-start/01-valkommen.md:2:1" in page and "Menade du" in page and "Tips:" in page
    status, step = get(server, "/start/mitt-mal.html")
    assert status == 200 and "SCHEMA-001" in step  # every page shows the overlay
    event, _ = edit_and_wait(server, session, root / STEP, good)
    assert event == "reload"
    _, page = get(server, "/")
    assert 'id="stegvis-fel"' not in page and "Översikt för granskare" in page
    status, data = get(server, "/__stegvis/status")
    assert json.loads(data)["failed"] is False


def test_rebuild__renders_only_what_changed(served):
    root, session, _ = served
    path = root / "modules/02-fordjupning/01-mer.md"
    path.write_text(path.read_text("utf-8") + "\nEn ny mening.\n", "utf-8")
    session.memo.sweep()
    misses_before = session.memo.misses
    logged = []
    session.log = logged.append
    session.rebuild()
    assert session.memo.misses - misses_before <= 2  # its front matter and body, nothing else
    assert any("2 sidor byggda, 7 oförändrade" in line for line in logged), logged


def test_template_change__rebuilds_every_page(served, tmp_path, config, program):
    import shutil

    from builder.config import TEMPLATES

    templates = tmp_path / "templates"
    shutil.copytree(TEMPLATES, templates)
    session = ServeSession(program(), config.model_copy(update={"templates": templates, "cache": tmp_path / "c"}),
                           log=lambda _: None)
    session.rebuild()
    base = templates / "base.html"
    base.write_text(base.read_text("utf-8").replace("Hoppa till innehållet", "Hoppa till texten"), "utf-8")
    session.rebuild()
    assert "Hoppa till texten" in session.preview.files["index.html"].decode()
    assert templates.resolve() in session.watched()


def test_missing_page__404_and_nothing_written_to_dist(served, config):
    _, _, server = served
    status, page = get(server, "/finns/inte.html")
    assert status == 404 and "Sidan finns inte" in page
    assert not config.out.exists()


def test_pdfs__follow_in_the_background_without_touching_the_pages(program, tmp_path, config):
    session = ServeSession(program(), config.model_copy(update={"pdf": True, "cache": tmp_path / "cache"}),
                           log=lambda _: None)
    session.rebuild()
    first = session.preview
    assert 'href="../pdf/start/valkommen.pdf"' in first.files["start/valkommen.html"].decode()
    session.wait_background(120)
    later = session.preview
    assert later.version == first.version + 1
    assert later.files["pdf/start/valkommen.pdf"].startswith(b"%PDF")
    assert "program.json" in later.files
    assert all(later.files[p] == data for p, data in first.files.items() if p.endswith(".html"))
