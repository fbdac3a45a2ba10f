"""The runtime's floor: a bare FastAPI + Jinja2 page with two fsynced SQLite inserts per request.

Not part of Stegvis; `bench/runtime_bench.py` runs it beside the runtime and compares.
It does what a step page cannot do without: parse the request, render a page of the
same size through Jinja2 (autoescape on), and commit two inserts (the step's opened
mark and the access-log row) in one fsynced transaction. The database is set up as the
runtime sets up its SQLite (WAL, synchronous=FULL, BEGIN IMMEDIATE, writers queued on
a thread lock and an flock instead of SQLite's busy handler), and it is served as
`stegvis runtime --workers N` serves (uvicorn, the same loop, HTTP implementation and
options, one shared socket with TCP_NODELAY). No session, no CSRF check, no ORM.

    python bench/floor_app.py --port 8001 --workers 2 --database /tmp/floor.sqlite3 --page-bytes 20000
"""

from __future__ import annotations

import argparse
import fcntl
import json
import os
import socket
import sqlite3
import threading
from datetime import UTC, datetime
from pathlib import Path

import jinja2
from fastapi import FastAPI, Request
from fastapi.responses import HTMLResponse

SETTINGS_ENV = "STEGVIS_FLOOR_SETTINGS"

TEMPLATE = """<!doctype html>
<html lang="sv">
<head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>{{ title }} – Stegvis</title><link rel="stylesheet" href="/static/runtime.css"></head>
<body>
<header class="site"><nav aria-label="Programmet"><ul>
{% for link in links %}<li><a href="{{ link.href }}">{{ link.text }}</a></li>{% endfor %}
</ul></nav></header>
<main id="innehall"><article class="step"><h1>{{ title }}</h1>
{% for paragraph in paragraphs %}<p>{{ paragraph }}</p>
{% endfor %}
<form method="post" action="{{ path }}"><input type="hidden" name="_csrf" value="{{ csrf }}">
<button type="submit">Skicka in</button></form>
</article></main></body></html>
"""
SENTENCE = "Det här är en mening i ett steg, lika lång som de som FRAMÅT:s steg har i sina stycken. "


class Store:
    """One SQLite connection per thread; writers take turns on a thread lock and an flock."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.local = threading.local()
        self.lock = threading.Lock()
        self.lock_fd = os.open(str(path) + ".lock", os.O_RDWR | os.O_CREAT, 0o600)

    def connection(self) -> sqlite3.Connection:
        con = getattr(self.local, "con", None)
        if con is None:
            con = sqlite3.connect(self.path, isolation_level=None, check_same_thread=False, timeout=30)
            con.execute("PRAGMA journal_mode=WAL")
            con.execute("PRAGMA synchronous=FULL")
            con.execute("PRAGMA busy_timeout=30000")
            self.local.con = con
        return con

    def create(self) -> None:
        con = self.connection()
        con.execute("CREATE TABLE IF NOT EXISTS openings (id INTEGER PRIMARY KEY, who TEXT, path TEXT, at TEXT)")
        con.execute("CREATE TABLE IF NOT EXISTS access_log (id INTEGER PRIMARY KEY, who TEXT, action TEXT, "
                    "target TEXT, at TEXT)")

    def write_two(self, who: str, path: str, commits: int) -> None:
        """The two inserts: in one transaction (`commits` 1), or each in its own (2); every commit fsyncs."""
        con = self.connection()
        now = datetime.now(UTC).isoformat()
        statements = [("INSERT INTO openings (who, path, at) VALUES (?, ?, ?)", (who, path, now)),
                      ("INSERT INTO access_log (who, action, target, at) VALUES (?, ?, ?, ?)",
                       (who, "step.open", path, now))]
        for group in ([statements] if commits == 1 else [[one] for one in statements]):
            with self.lock:
                fcntl.flock(self.lock_fd, fcntl.LOCK_EX)
                try:
                    con.execute("BEGIN IMMEDIATE")
                    for sql, values in group:
                        con.execute(sql, values)
                    con.execute("COMMIT")
                finally:
                    fcntl.flock(self.lock_fd, fcntl.LOCK_UN)


def create_app() -> FastAPI:
    """The floor app of one worker; settings come from the environment, as JSON."""
    settings = json.loads(os.environ[SETTINGS_ENV])
    store = Store(Path(settings["database"]))
    store.create()
    env = jinja2.Environment(loader=jinja2.DictLoader({"page.html": TEMPLATE}), autoescape=True)
    template = env.get_template("page.html")
    # Paragraphs of about 300 bytes until the page has the runtime step page's size.
    frame = len(template.render(title="Steg", links=[], paragraphs=[], path="/", csrf="x" * 43))
    count = max(0, (settings["page_bytes"] - frame) // (len(SENTENCE) * 3 + 8))
    paragraphs = [f"{SENTENCE * 3}"[:-1] + f" ({i})" for i in range(count)]
    links = [{"href": f"/moment/1/steg/modul-{i}", "text": f"Modul {i}"} for i in range(8)]
    app = FastAPI(docs_url=None, redoc_url=None, openapi_url=None)

    @app.get("/moment/{eid}/steg/{module_id}/{step_id}")
    def page(eid: int, module_id: str, step_id: str, request: Request) -> HTMLResponse:
        html = template.render(title=f"{step_id} – {module_id}", links=links, paragraphs=paragraphs,
                               path=request.url.path, csrf=request.cookies.get("stegvis", "")[:43])
        store.write_two(str(eid), request.url.path, settings["commits"])
        return HTMLResponse(html)

    return app


def main() -> int:
    import uvicorn
    from uvicorn.supervisors import Multiprocess

    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--database", type=Path, required=True)
    parser.add_argument("--page-bytes", type=int, default=20000)
    parser.add_argument("--commits", type=int, choices=(1, 2), default=1,
                        help="transactions per request for the two inserts (each commit fsyncs)")
    args = parser.parse_args()
    os.environ[SETTINGS_ENV] = json.dumps({"database": str(args.database), "page_bytes": args.page_bytes,
                                           "commits": args.commits})
    Store(args.database).create()
    # As runtime.server.serve configures uvicorn for --workers.
    config = uvicorn.Config("floor_app:create_app", factory=True, host=args.host, port=args.port,
                            workers=args.workers, log_config=None, access_log=False, proxy_headers=False,
                            server_header=False)
    sock = config.bind_socket()
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    Multiprocess(config, sockets=[sock]).run()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
