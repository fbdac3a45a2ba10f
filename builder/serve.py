"""`stegvis serve`: a live preview for content reviewers (issue #7).

Stage: none of its own; it drives load → validate → check → render on every change.
Input: one program folder and the build settings. Output: the program's pages over HTTP
on 127.0.0.1 only, from memory. It builds the HTML first (audio and PDFs follow in the
background, from their caches), watches the sources and templates, rebuilds only what
changed (parsed files and checked steps are kept in a `ParseMemo`, pages by
fingerprint, as in `builder.incremental`), and tells open pages to reload over
server-sent events.

What only `serve` adds to a page, and never the package: the reload script, a panel
for the reviewer (the step's LIX with its level in words, its review status, links that
open the source file) and, while the content has errors, an overlay listing every
diagnostic (file:line, message, hint). A content error never stops the server; fixing
it clears the overlay.

Must not write into `dist/` (nothing is written but the audio and PDF caches), nor
listen on anything but the loopback address.
"""

from __future__ import annotations

import gc
import html
import json
import mimetypes
import re
import sys
import threading
import time
import traceback
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from types import MappingProxyType
from urllib.parse import parse_qs, unquote, urlsplit

from watchfiles import Change

from builder.check import check_program
from builder.config import BuildConfig
from builder.diagnostics import Diagnostic, Diagnostics, Severity
from builder.incremental import PreviousPages, ValueCarry
from builder.lix import lix_level, step_lix
from builder.load import load_step
from builder.memo import ParseMemo
from builder.model import Program, Step
from builder.paths import form_page, module_page, plan_page, step_page
from builder.pipeline import BuildReport, check_dir, render_files, render_html
from builder.render.html import make_environment
from builder.render.readout import Readout, build_readout
from builder.review import review_status
from builder.speech.lexicon import Lexicon
from builder.state import source_roots
from builder.validate import validate_step

HOST = "127.0.0.1"
EVENTS = "/__stegvis/events"
STATUS = "/__stegvis/status"
#: Seconds between keep-alive comments on an idle event stream.
KEEPALIVE = 15.0
#: How long the watcher waits for more changes before it rebuilds (milliseconds): it yields once
#: a step passes with nothing new, so a save waits one to two steps (issue 16: 30 ms gave 30–60 ms).
WATCH_STEP_MS = 15
REVIEW_WORDS = {"ok": "granskad som den är nu", "changed": "ändrad sedan granskningen", "never": "aldrig granskad"}
KIND_WORDS = {"step": "Steg", "form": "Formulär", "plan": "Aktivitetsplan", "module": "Modul", "program": "Program"}


@dataclass(frozen=True)
class Source:
    """Where a page comes from: for the reviewer panel."""

    kind: str  # step, form, plan, module, program
    file: Path
    reviewed: object = None  # the `reviewed:` entry of a step, form or plan
    step: Step | None = None


@dataclass(frozen=True)
class Preview:
    """What the server shows now; replaced as a whole after each build (never changed in place)."""

    version: int = 0
    files: Mapping[str, bytes] = field(default_factory=dict)
    sources: Mapping[str, Source] = field(default_factory=dict)
    diagnostics: tuple[Diagnostic, ...] = ()
    failed: bool = False  # the last build had errors: pages show the overlay
    internal: str | None = None  # a bug in Stegvis during the last build
    seconds: float = 0.0  # how long the last HTML build took


def page_sources(program: Program) -> dict[str, Source]:
    """Every HTML page of a program and the source file it comes from."""
    out = {"index.html": Source("program", program.tree.root / "program.yaml")}
    for module in program.modules:
        meta = module.source.meta
        file = meta.file if meta is not None and meta.file is not None else module.source.steps[0].file.parent
        out[module_page(module)] = Source("module", file)
        for step in module.steps:
            out[step_page(step)] = Source("step", step.file, step.meta.reviewed, step)
    for form_id, fd in program.forms.items():
        out[form_page(form_id)] = Source("form", fd.doc.file, fd.form.reviewed)
    for plan_id, pd in program.plans.items():
        out[plan_page(plan_id)] = Source("plan", pd.doc.file, pd.plan.reviewed)
    return out


def memo_readouts(program: Program) -> dict[Step, Readout]:
    """The readout of every step read aloud, kept with each parsed body (the serve memo keeps bodies)."""
    lexicon = Lexicon.for_program(program.lexicon, program.meta.language)
    key_lexicon = json.dumps([program.meta.language, program.lexicon], sort_keys=True, ensure_ascii=False)
    out = {}
    for step in program.steps:
        if not step.meta.audio:
            continue
        key = (key_lexicon, step.meta.readout, step.meta.read_alt_text)
        readouts = step.body.derived.readouts
        if key not in readouts:
            readouts[key] = build_readout(step, lexicon)
        out[step] = readouts[key]
    return out


class ServeSession:
    """One program being previewed: builds, keeps the current `Preview`, wakes waiting clients."""

    def __init__(self, program_dir: Path, config: BuildConfig, log=None, freeze_gc: bool = False) -> None:
        self.program_dir = program_dir.resolve()
        #: freeze the objects alive after a whole reload (`gc.freeze`): the `serve` command's own process
        self.freeze_gc = freeze_gc
        # One process: WeasyPrint and the audio encoder would otherwise fork a threaded server.
        self.config = config.model_copy(update={"jobs": 1})
        self.log = log if log is not None else (lambda text: print(text, file=sys.stderr, flush=True))
        self.memo = ParseMemo()
        # Templates compiled once; Jinja2 checks their modification time and recompiles a changed one.
        self.env = make_environment(self.config)
        self.preview = Preview()
        self.changed = threading.Condition()
        self.stopping = threading.Event()
        self._build_lock = threading.Lock()
        self._outputs: dict[str, list[str]] = {}
        self._engine = None
        self._engine_checked = False
        self._background: threading.Thread | None = None
        self._generation = 0
        #: the last good program and what load and validate said of it, for the quick path
        self._last: tuple[Program, list[Diagnostic]] | None = None
        #: where each step file of `_last` is: (module index, step index) by resolved path
        self._where: dict[Path, tuple[int, int]] = {}
        #: the values of reads of the last build, reused by the next one (issue 16)
        self._carry = ValueCarry()
        self._whole_reloads = 0

    # -- building -------------------------------------------------------------------------
    def rebuild(self, changes: Iterable[tuple[Change, Path]] | None = None) -> Preview:
        """Check and render what changed; publish the result (errors included) and wake the clients.

        `changes`: what the watcher saw (watchfiles' change set). When only step files that the
        last good build had were modified, only they are read, validated and parsed again, and
        the rest of the program is kept (issue 16); any other change reloads the whole folder.
        """
        with self._build_lock:
            started = time.perf_counter()
            self._generation += 1
            generation = self._generation
            whole = self._whole_reloads
            try:
                preview, program = self._build(started, list(changes) if changes is not None else None)
            except Exception:  # a bug in Stegvis must not stop the preview; it is shown and logged
                text = traceback.format_exc()
                self.log(text)
                preview, program = self._publish(internal=text, started=started), None
            if self.freeze_gc and self._whole_reloads != whole:
                # After a whole reload (the page is out already): the program just loaded lives until
                # the next one, so the collector is told to leave it alone. Otherwise a full collection
                # walks its 400,000 objects every few saves: 0.3 s at 2,000 steps (issue 16).
                gc.collect()
                gc.freeze()
            if program is not None and (self.config.audio or self.config.pdf):
                self._start_background(generation)
            return preview

    def _reload(self) -> tuple[Program | None, Diagnostics]:
        """Load, validate and check the whole program folder (what is unchanged comes from the memo)."""
        self._whole_reloads += 1
        if self.freeze_gc:
            gc.unfreeze()  # the program loaded before may become garbage now
        diags = Diagnostics()
        program = check_dir(self.program_dir, diags, self.config.strict, memo=self.memo, cache=self.config.cache)
        self.memo.sweep()
        self._last = None
        if program is not None:
            # What load and validate said, without the checks: the quick path checks again.
            checked = Diagnostics(silenced=program.meta.silence)
            check_program(program, checked, per_step=True)
            found = set(checked.items)
            self._last = (program, [d for d in diags.items if d not in found])
            # Resolved once per whole reload: the quick path keeps every step where it is.
            self._where = {step.file.resolve(): (m, i) for m, module in enumerate(program.modules)
                           for i, step in enumerate(module.steps)}
        return program, diags

    def _quick_reload(self, changes: list[tuple[Change, Path]]) -> tuple[Program | None, Diagnostics] | None:
        """Read only the step files the change set modified; None when the change needs a whole reload
        (a file added or deleted, YAML, media, templates, a step the last good build did not have)."""
        if self._last is None or not changes:
            return None
        program, loaded = self._last
        where = self._where
        paths = {path.resolve() for _, path in changes}
        if any(kind != Change.modified for kind, _ in changes) or not all(p in where and p.is_file() for p in paths):
            return None
        tree = program.tree
        diags = Diagnostics()
        modules, sources, files = list(program.modules), dict(tree.modules), dict(tree.files)
        shown = set()
        for path in sorted(paths):
            m, i = where[path]
            module = modules[m]
            old = module.steps[i]
            source, data = load_step(tree.root, tree.display_root, path, diags, self.memo)
            if source is None or source.id != old.id:
                return None
            step = validate_step(source, module.id, diags, tree.hidden, self.memo.parse_body)
            if step is None:
                return None
            files[source.rel] = data
            shown.add(old.path)
            modules[m] = replace(module, steps=[*module.steps[:i], step, *module.steps[i + 1:]])
            folder = module.source
            folder = replace(folder, steps=[source if s.rel == source.rel else s for s in folder.steps])
            modules[m] = replace(modules[m], source=folder)
            sources[module.id] = [folder, *sources.get(module.id, [])[1:]]
        program = replace(program, tree=replace(tree, modules=sources, files=files), modules=modules)
        loaded = [d for d in loaded if d.path not in shown] + diags.items
        checked = Diagnostics(silenced=program.meta.silence)
        check_program(program, checked, per_step=True)
        diags = Diagnostics()
        diags.add_items(loaded)
        diags.extend(checked)
        if diags.has_errors(self.config.strict):
            return None  # the whole reload reports every error the way a build does
        self._last = (program, loaded)
        return program, diags

    def _build(self, started: float, changes: list[tuple[Change, Path]] | None = None) -> tuple[Preview, Program | None]:
        quick = self._quick_reload(changes) if changes is not None else None
        program, diags = quick if quick is not None else self._reload()
        if program is None:
            preview = self._publish(diagnostics=diags.items, failed=True, started=started)
            errors = sum(1 for d in diags.items if d.severity is Severity.ERROR)
            self.log(f"{errors} fel i innehållet; sidorna visar dem tills de är rättade.")
            return preview, None
        report = BuildReport()
        readouts = memo_readouts(program) if self.config.audio else {}
        old = self.preview.files
        previous = PreviousPages(self._outputs, old.get, trusted=True)  # the bytes recorded, in memory
        files = render_html(program, self.config, report, readouts, previous, env=self.env, carry=self._carry)
        self._outputs = report.outputs
        self._carry = report.carry
        # Audio, PDFs and program data from the last background pass stay until the next one replaces them.
        kept = {path: data for path, data in old.items() if path.startswith(("audio/", "pdf/", "fhir/"))
                or path == "program.json"}
        preview = self._publish(files=kept | files, sources=page_sources(program), diagnostics=diags.items,
                                started=started)
        self.log(f"Byggt på {preview.seconds * 1000:.0f} ms: {report.pages_built} sidor byggda, "
                 f"{report.pages_reused} oförändrade.")
        return preview, program

    def _publish(self, files: Mapping[str, bytes] | None = None, sources: Mapping[str, Source] | None = None,
                 diagnostics: Iterable[Diagnostic] = (), failed: bool = False, internal: str | None = None,
                 started: float | None = None) -> Preview:
        """Replace the preview (keeping the last good pages when this build failed) and wake every client."""
        with self.changed:
            current = self.preview
            self.preview = Preview(
                version=current.version + 1,
                files=MappingProxyType(dict(files)) if files is not None else current.files,
                sources=MappingProxyType(dict(sources)) if sources is not None else current.sources,
                diagnostics=tuple(diagnostics), failed=failed, internal=internal,
                seconds=time.perf_counter() - started if started is not None else 0.0)
            self.changed.notify_all()
            return self.preview

    def _start_background(self, generation: int) -> None:
        """Audio, PDFs and program data after the HTML, one pass at a time; a newer build supersedes it."""
        previous = self._background

        def run() -> None:
            if previous is not None:
                previous.join()
            if generation != self._generation or self.stopping.is_set():
                return
            try:
                self._background_pass(generation)
            except Exception:  # logged and shown like a failed build's bug, the pages stay
                self.log(traceback.format_exc())

        self._background = threading.Thread(target=run, name="stegvis-background", daemon=True)
        self._background.start()

    def _background_pass(self, generation: int) -> None:
        config = self.config
        # Its own parse, not the memo's: rendering rewrites link attributes of the tokens for
        # a moment, and the next quick build may read the memo's tokens at the same time.
        program = check_dir(self.program_dir, Diagnostics(), config.strict, cache=config.cache)
        if program is None or generation != self._generation:
            return
        if config.audio and not self._engine_checked:
            from builder.speech.engines import EngineUnavailable, choose_engine, engine_for_language  # numpy

            self._engine_checked = True
            try:
                self._engine, note = choose_engine(config.tts)
                # the voice of the program's language (issue 18)
                self._engine = engine_for_language(self._engine, program.meta.language)
            except EngineUnavailable as exc:
                note = f"{exc} Förhandsgranskningen fortsätter utan ljud."
            if note:
                self.log(note)
        engine = self._engine if config.audio else None
        if config.audio and engine is None:
            return  # no voice: the pages keep their players, whose files are missing
        report = BuildReport()
        started = time.perf_counter()
        files = render_files(program, config, report, engine, PreviousPages(self._outputs, self.preview.files.get))
        with self._build_lock:
            if generation != self._generation:
                return  # the sources changed meanwhile; the next pass makes these files again
            current = self.preview
            extra = {p: d for p, d in files.items() if p.startswith(("audio/", "pdf/", "fhir/")) or p == "program.json"}
            if all(current.files.get(p) == d for p, d in extra.items()):
                return
            self._publish(files=dict(current.files) | extra, sources=current.sources,
                          diagnostics=current.diagnostics, started=started)
        self.log(f"Ljud och PDF klara på {time.perf_counter() - started:.1f} s. " + " ".join(
            n for n in report.notes if not n.startswith("HTML:")))

    def wait_background(self, timeout: float | None = None) -> None:
        """Wait until the background pass (audio, PDFs) of the latest build is done."""
        thread = self._background
        if thread is not None:
            thread.join(timeout)

    # -- watching -------------------------------------------------------------------------
    def watched(self) -> list[Path]:
        """The folders whose changes trigger a rebuild: the program (and its bases) and the templates."""
        return [*source_roots(self.program_dir), self.config.templates.resolve()]

    def watch(self) -> None:
        """Rebuild on every change until `stop()`; runs in its own thread."""
        from watchfiles import watch

        cache, out = self.config.cache.resolve(), self.config.out.resolve()
        for changes in watch(*self.watched(), stop_event=self.stopping, step=WATCH_STEP_MS, debounce=400,
                             yield_on_timeout=False, raise_interrupt=False):
            seen = [(kind, Path(p)) for kind, p in changes]
            seen = [(kind, p) for kind, p in seen if not (p.is_relative_to(cache) or p.is_relative_to(out))]
            if seen:
                self.rebuild(seen)

    def stop(self) -> None:
        """Stop watching and wake every waiting client so their streams end."""
        self.stopping.set()
        with self.changed:
            self.changed.notify_all()

    def wait_for_change(self, version: int, timeout: float) -> Preview:
        """Block until the preview's version differs from `version` (or the timeout, or stop)."""
        with self.changed:
            self.changed.wait_for(lambda: self.preview.version != version or self.stopping.is_set(), timeout)
            return self.preview


# --- what serve adds to a page -----------------------------------------------------------

PANEL_STYLE = """
#stegvis-granskning{position:static;margin:0;background:#eef3fa;color:#1a1a1a;
 border-bottom:2px solid #1d4f91;padding:.4rem 1rem;font:14px/1.4 system-ui,sans-serif}
#stegvis-granskning h2{font-size:14px;margin:0 0 .3rem}
#stegvis-granskning p,#stegvis-granskning ul{margin:.2rem 0}
#stegvis-granskning a{color:#1d4f91}
#stegvis-fel{position:fixed;inset:0;z-index:2147483647;overflow:auto;background:rgba(20,20,20,.92);
 color:#fff;font:15px/1.5 system-ui,sans-serif;padding:2rem}
#stegvis-fel h2{color:#ffb3b3;margin-top:0}
#stegvis-fel li{margin:0 0 1rem}
#stegvis-fel code{color:#ffe08a}
#stegvis-fel a{color:#9cc8ff}
"""

BODY_TAG = re.compile(r"<body\b[^>]*>", re.IGNORECASE)

RELOAD_SCRIPT = """<script>
(function () {
  var version = "%s";
  function connect() {
    var events = new EventSource("%s?v=" + version);
    events.addEventListener("reload", function (e) { if (e.data !== version) { location.reload(); } });
    events.onerror = function () { events.close(); setTimeout(connect, 1000); };
  }
  connect();
})();
</script>
"""


def editor_links(file: Path, line: int = 1, col: int = 1) -> str:
    """Links that open a source file: in VS Code, and as a plain path."""
    path = str(file.resolve())
    return (f'<a href="vscode://file{html.escape(path)}:{line}:{col}">Öppna i VS Code</a> · '
            f'<a href="file://{html.escape(path)}">{html.escape(path)}</a>')


def review_panel(source: Source, diagnostics: Iterable[Diagnostic]) -> str:
    """The reviewer's panel of one page: LIX (steps), review status, the source file, its warnings."""
    parts = [f"<h2>{KIND_WORDS[source.kind]} – för granskare</h2>"]
    if source.step is not None:
        value, words = step_lix(source.step)
        parts.append(f"<p>Läsbarhet: LIX {value:.0f} ({lix_level(value)}), {words} ord.</p>")
    if source.kind in ("step", "form", "plan") and source.file is not None:
        try:
            status, _ = review_status(source.kind, source.file, source.reviewed)
            reviewed = source.reviewed
            who = f" ({reviewed.by}, {reviewed.on})" if reviewed is not None else ""
            parts.append(f"<p>Granskning: {REVIEW_WORDS[status]}{html.escape(who)}.</p>")
        except OSError:
            parts.append("<p>Granskning: källfilen går inte att läsa.</p>")
    if source.file is not None:
        line = source.step.body.line if source.step is not None else 1
        parts.append(f"<p>Källa: {editor_links(source.file, line)}</p>")
    own = [d for d in diagnostics if source.file is not None and Path(d.path).resolve() == source.file.resolve()]
    if own:
        items = "".join(f"<li>rad {d.line}: {html.escape(d.message)} <code>{d.code}</code></li>" for d in own)
        parts.append(f"<p>{len(own)} varningar i filen:</p><ul>{items}</ul>")
    return f'<aside id="stegvis-granskning" aria-label="Granskning">{"".join(parts)}</aside>'


def error_overlay(preview: Preview) -> str:
    """Every diagnostic of a failed build, with file:line, message and hint; or a bug's traceback."""
    if preview.internal is not None:
        return ('<div id="stegvis-fel" role="alert"><h2>Internt fel i Stegvis</h2>'
                '<p>Det här är ett fel i Stegvis, inte i innehållet. Rapportera det med texten nedan.</p>'
                f"<pre>{html.escape(preview.internal)}</pre></div>")
    items = []
    for d in preview.diagnostics:
        word = "fel" if d.severity is Severity.ERROR else "varning"
        where = f"{d.path}:{d.line}:{d.col}"
        items.append(f"<li><code>{html.escape(where)}</code>: {word} <code>{d.code}</code>: {html.escape(d.message)}"
                     f"<br>Tips: {html.escape(d.hint)}<br>{editor_links(Path(d.path), d.line, d.col)}</li>")
    errors = sum(1 for d in preview.diagnostics if d.severity is Severity.ERROR)
    return (f'<div id="stegvis-fel" role="alert"><h2>{errors} fel i innehållet</h2>'
            "<p>Sidan visas igen när felen är rättade och filen sparad.</p>"
            f"<ol>{''.join(items)}</ol></div>")


def decorate(page: str, body: bytes | None, preview: Preview) -> bytes:
    """A page as `serve` shows it: the reviewer's panel, the overlay when the build failed, the reload script.

    The panel is the first thing in the body, in the flow of the page: it never covers the
    text the reviewer reads (issue #15, point 10; it used to float over the bottom right).
    """
    extra = [f"<style>{PANEL_STYLE}</style>"]
    source = preview.sources.get(page)
    panel = review_panel(source, preview.diagnostics) if source is not None and not preview.failed else ""
    if preview.failed or preview.internal is not None:
        extra.append(error_overlay(preview))
    extra.append(RELOAD_SCRIPT % (preview.version, EVENTS))
    addition = "\n".join(extra)
    if body is None:
        return ('<!DOCTYPE html>\n<html lang="sv"><head><meta charset="utf-8"><title>Stegvis förhandsgranskning'
                f"</title></head><body>\n{panel}{addition}\n</body></html>\n").encode()
    text = body.decode("utf-8")
    at = text.rfind("</body>")
    at = at if at >= 0 else len(text)
    text = text[:at] + addition + "\n" + text[at:]
    if panel:
        opening = BODY_TAG.search(text)
        start = opening.end() if opening else 0
        text = text[:start] + "\n" + panel + text[start:]
    return text.encode("utf-8")


# --- http ----------------------------------------------------------------------------------


def make_handler(session: ServeSession) -> type[BaseHTTPRequestHandler]:
    """A request handler bound to one session (no module-level state)."""

    class Handler(BaseHTTPRequestHandler):
        server_version = "stegvis-serve"

        def log_message(self, format: str, *args) -> None:  # quiet: the build log is what matters
            return

        def do_GET(self) -> None:  # noqa: N802 (the http.server API)
            """The event stream, the status (JSON), or a file of the program."""
            url = urlsplit(self.path)
            if url.path == EVENTS:
                self.events(parse_qs(url.query).get("v", [""])[0])
            elif url.path == STATUS:
                self.status()
            else:
                self.page(unquote(url.path))

        def send(self, code: int, body: bytes, content_type: str) -> None:
            """One whole response, never cached by the browser."""
            self.send_response(code)
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(body)))
            self.send_header("Cache-Control", "no-store")
            self.end_headers()
            self.wfile.write(body)

        def page(self, path: str) -> None:
            """A file of the program; HTML pages with what serve adds (200 with the overlay on errors)."""
            preview = session.preview
            rel = path.lstrip("/")
            if rel == "" or rel.endswith("/"):
                rel += "index.html"
            body = preview.files.get(rel)
            is_page = rel.endswith(".html")
            if body is None and not (preview.failed and is_page) and not (rel == "index.html"):
                message = "Sidan finns inte" if not rel.startswith(("audio/", "pdf/")) else "Filen byggs fortfarande"
                self.send(404, decorate(rel, f"<!DOCTYPE html><html lang=\"sv\"><head><meta charset=\"utf-8\">"
                                             f"<title>{message}</title></head><body><p>{message}: "
                                             f"{html.escape(rel)}</p></body></html>".encode(), preview),
                          "text/html; charset=utf-8")
                return
            if is_page:
                self.send(200, decorate(rel, body, preview), "text/html; charset=utf-8")
                return
            kind = mimetypes.guess_type(rel)[0] or "application/octet-stream"
            if kind.startswith("text/") or kind in ("application/javascript", "application/json"):
                kind += "; charset=utf-8"
            self.send(200, body, kind)

        def status(self) -> None:
            """Version, whether the last build failed, and its diagnostics, as JSON (for tools and tests)."""
            p = session.preview
            data = {"version": p.version, "failed": p.failed, "internal": p.internal is not None,
                    "seconds": round(p.seconds, 4), "files": len(p.files),
                    "diagnostics": [d.as_dict() for d in p.diagnostics]}
            self.send(200, json.dumps(data, ensure_ascii=False).encode("utf-8"), "application/json; charset=utf-8")

        def events(self, seen: str) -> None:
            """Server-sent events: `reload` with the new version after every build, until the server stops."""
            self.send_response(200)
            self.send_header("Content-Type", "text/event-stream")
            self.send_header("Cache-Control", "no-store")
            self.end_headers()
            version = session.preview.version
            try:
                self.wfile.write(f"event: hello\ndata: {version}\n\n".encode())
                if seen and seen != str(version):  # changed between the page load and this connection
                    self.wfile.write(f"event: reload\ndata: {version}\n\n".encode())
                self.wfile.flush()
                while not session.stopping.is_set():
                    preview = session.wait_for_change(version, KEEPALIVE)
                    if session.stopping.is_set():
                        break
                    if preview.version == version:
                        self.wfile.write(b": keep-alive\n\n")
                    else:
                        version = preview.version
                        self.wfile.write(f"event: reload\ndata: {version}\n\n".encode())
                    self.wfile.flush()
            except (BrokenPipeError, ConnectionResetError):
                return

    return Handler


class PreviewServer:
    """The HTTP server and the watcher of one session, each in its own thread."""

    def __init__(self, session: ServeSession, port: int = 8000) -> None:
        self.session = session
        self.httpd = ThreadingHTTPServer((HOST, port), make_handler(session))
        self.httpd.daemon_threads = True
        self.threads: list[threading.Thread] = []

    @property
    def url(self) -> str:
        """The address of the overview page."""
        return f"http://{HOST}:{self.httpd.server_address[1]}/"

    def start_watching(self) -> None:
        """Watch the sources in a background thread (before the first build, so no edit is missed)."""
        self._start(threading.Thread(target=self.session.watch, name="stegvis-watch", daemon=True))

    def start_serving(self) -> None:
        """Answer requests in a background thread (after the first build)."""
        self._start(threading.Thread(target=self.httpd.serve_forever, name="stegvis-http", daemon=True))

    def start(self, watch: bool = True) -> None:
        """Watch (unless told not to) and serve; the first build must have run."""
        if watch:
            self.start_watching()
        self.start_serving()

    def _start(self, thread: threading.Thread) -> None:
        self.threads.append(thread)
        thread.start()

    def stop(self) -> None:
        """Stop watching and serving; close the socket."""
        self.session.stop()
        self.httpd.shutdown()
        self.httpd.server_close()
        for thread in self.threads:
            thread.join(timeout=5)


def serve(program_dir: Path, config: BuildConfig, port: int = 8000) -> None:
    """`stegvis serve`: build, serve on 127.0.0.1 and rebuild on every change until Ctrl+C."""
    session = ServeSession(program_dir, config, freeze_gc=True)
    server = PreviewServer(session, port)  # bind first: a taken port fails before a long build
    server.start_watching()  # an edit saved during the first build starts another one
    session.rebuild()
    server.start_serving()
    session.log(f"Förhandsgranskning på {server.url} (avsluta med Ctrl+C). Bevakar {program_dir} och mallarna.")
    try:
        while True:
            time.sleep(3600)
    except KeyboardInterrupt:
        session.log("Avslutar.")
    finally:
        server.stop()
