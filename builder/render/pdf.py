"""Stage 7, pdf: printable PDFs of every step, every module, the whole program, the
therapist guide (metodstöd) and the patient brochure (issue #5).

Input: a checked `Program` and the `BuildConfig`. Output: `PdfResult`, package path ->
PDF bytes, with how many PDFs were rendered and how many came from the cache. Must not
write into the package (`builder.package` does); writes only to `config.cache / "pdf"`.

How it stays fast:

- **Lay out once.** The program book (`builder.render.pdf_html`: cover, contents, and per
  module a title page and its steps) is laid out by WeasyPrint once. Every fragment
  starts on a new page and carries its own running header, so a module PDF and a step
  PDF are runs of the book's pages, written with `Document.copy(pages)`. Layout is most
  of the cost; writing a page range is cheap.
- **Both cores.** While the parent lays out the book, a forked worker lays out and
  writes the guide and the brochure. After layout, `config.jobs` processes (the parent
  and forked children, which share the laid-out book copy-on-write) write the page
  ranges, balanced by page count. Without `fork` (or with `jobs=1`) the same work runs
  in one process.
- **Cache.** A PDF is stored under the hash of what it is made of: its fragments' print
  HTML (media appear under content-hashed names), the document head (metadata), the
  stylesheet, the page number it starts on, and the Stegvis, WeasyPrint and pydyf
  versions. A layout record under the hash of the whole book lists every book PDF's key,
  so an unchanged program is not laid out at all; a changed step re-renders its own PDF,
  its module's and the program's.

Reproducible: dates come from SOURCE_DATE_EPOCH, the /ID is fixed per program and file,
fonts are embedded as HarfBuzz subsets with stable names, and nothing depends on the
time, the host or the order in which processes finish.
"""

from __future__ import annotations

import copy
import hashlib
import logging
import mimetypes
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from urllib.parse import unquote

import pydyf
import weasyprint
from weasyprint import CSS, HTML
from weasyprint.document import Document, DocumentMetadata
from weasyprint.urls import URLFetcher, URLFetcherResponse

from builder import __version__
from builder.config import BuildConfig
from builder.model import Program
from builder.progress import NO_PROGRESS, Progress
from builder.render.parallel import Forked, can_fork
from builder.render.pdf_cache import PdfCache, content_key
from builder.render.pdf_guide import render_brochure, render_guide
from builder.render.pdf_html import BASE_URL, PdfSpec, PrintDocument, PrintRenderer, render_book

#: Bump when the PDFs change for the same inputs (a change of how they are written).
PRINT_FORMAT = 1
#: Tagged PDF with PDF/UA-1 identification, as far as WeasyPrint supports it.
PDF_VARIANT = "pdf/ua-1"
STYLESHEET = "print/print.css"
#: Estimated cost of writing one file, in pages, for balancing work between processes.
FILE_COST = 0.5
#: Writing a tagged PDF costs more per page the more pages it has (WeasyPrint looks up
#: page references per structure element); measured: 140 pages cost about 1.4 times
#: 140 separate pages.
PAGES_PER_EXTRA_COST = 300


@dataclass
class PdfResult:
    """The PDFs of one program, and where they came from."""

    files: dict[str, bytes] = field(default_factory=dict)
    rendered: list[str] = field(default_factory=list)  # package paths written by this run
    cached: list[str] = field(default_factory=list)  # package paths taken from the cache
    messages: list[str] = field(default_factory=list)  # WeasyPrint's warnings (bad CSS, unreadable images)

    def summary(self) -> str:
        """One line for the build output, in Swedish (WeasyPrint's warnings point at a bug in Stegvis)."""
        line = f"PDF: {len(self.rendered)} skapade, {len(self.cached)} från cachen."
        if self.messages:
            line += f" WeasyPrint varnade {len(self.messages)} gånger, först: {self.messages[0]}"
        return line


@dataclass(frozen=True)
class WriteTask:
    """One PDF to write from the laid-out book: pages `start`..`end` (exclusive)."""

    spec: PdfSpec
    start: int
    end: int
    key: str

    @property
    def cost(self) -> float:
        """Estimated writing time, in pages of a small PDF."""
        pages = self.end - self.start
        return pages * (1 + pages / PAGES_PER_EXTRA_COST) + FILE_COST


class MediaFetcher(URLFetcher):
    """Serves the program's media from memory; refuses everything else (no disk, no network)."""

    def __init__(self, files: dict[str, bytes]) -> None:
        super().__init__(allowed_protocols=())
        self.files = files

    def fetch(self, url: str, headers: dict | None = None) -> URLFetcherResponse:
        """A media file of the program; ValueError (logged by WeasyPrint) for anything else."""
        name = unquote(url)
        data = self.files.get(name)
        if data is None:
            raise ValueError(f"Stegvis serves only the program's own media files, not {url}")
        mime = mimetypes.guess_type(name.removeprefix(BASE_URL))[0] or "application/octet-stream"
        return URLFetcherResponse(url, data, {"Content-Type": mime})


@contextmanager
def weasyprint_messages() -> Iterator[list[str]]:
    """Collect WeasyPrint's warnings and errors (bad CSS, unreadable images) while rendering."""
    messages: list[str] = []

    class Collect(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            messages.append(record.getMessage())

    handler = Collect(logging.WARNING)
    logger = logging.getLogger("weasyprint")
    logger.addHandler(handler)
    try:
        yield messages
    finally:
        logger.removeHandler(handler)


class Printer:
    """Lays out print documents and writes PDFs; the same in the parent and in workers."""

    def __init__(self, css: str, media: dict[str, bytes], program_id: str) -> None:
        self.css = css
        self.media = media
        self.program_id = program_id

    def layout(self, doc: PrintDocument) -> Document:
        """Lay out and paginate a whole print document."""
        fetcher = MediaFetcher(self.media)
        stylesheet = CSS(string=self.css, url_fetcher=fetcher)
        html = HTML(string=doc.html, base_url=BASE_URL, url_fetcher=fetcher)
        return html.render(stylesheets=[stylesheet], pdf_variant=PDF_VARIANT)

    def write(self, document: Document, doc: PrintDocument, spec: PdfSpec, start: int, end: int) -> bytes:
        """Write pages `start`..`end` of a laid-out document as one PDF with its own metadata."""
        pages = document.pages[start:end]
        for page in pages:
            for *_, box in page.links:
                # WeasyPrint keeps a link's annotation on its box after a write, and the
                # tagged structure of the next write would point at it: start clean.
                box.link_annotation = None
        anchors = {name for page in pages for name in page.anchors}
        part = document.copy([_keep_links(page, anchors) for page in pages])
        part.metadata = DocumentMetadata(
            title=spec.title, authors=[doc.author], description=spec.subject, keywords=list(doc.keywords),
            generator=f"Stegvis {__version__}", created=doc.date, modified=doc.date, lang=doc.lang)
        identifier = hashlib.sha256(f"{self.program_id}/{spec.path}".encode()).hexdigest()[:32]
        return part.write_pdf(pdf_variant=PDF_VARIANT, pdf_identifier=identifier.encode("ascii"))

    def write_tasks(self, document: Document, doc: PrintDocument, tasks: list[WriteTask]) -> tuple[dict, list[str]]:
        """Write several page ranges of one laid-out document: (path -> bytes, messages)."""
        with weasyprint_messages() as messages:
            out = {t.spec.path: self.write(document, doc, t.spec, t.start, t.end) for t in tasks}
        return out, messages

    def render_whole(self, docs: list[PrintDocument]) -> tuple[dict, list[str]]:
        """Lay out and write documents that are one PDF each (the guide, the brochure)."""
        out = {}
        with weasyprint_messages() as messages:
            for doc in docs:
                document = self.layout(doc)
                (spec,) = doc.outputs
                out[spec.path] = self.write(document, doc, spec, 0, len(document.pages))
        return out, messages


def _keep_links(page, anchors: set[str]):
    """The page, without links to anchors that are not among the pages written (a step's
    link to another step, in the step's own PDF); WeasyPrint would log each one."""
    if all(kind != "internal" or target in anchors for kind, target, *_ in page.links):
        return page
    kept = copy.copy(page)
    kept.links = [link for link in page.links if link[0] != "internal" or link[1] in anchors]
    return kept


# --- processes -------------------------------------------------------------------------


def balance(tasks: list[WriteTask], bins: int) -> list[list[WriteTask]]:
    """Split tasks into `bins` lists of about equal cost (longest first, to the lightest bin)."""
    out: list[list[WriteTask]] = [[] for _ in range(max(1, bins))]
    loads = [0.0] * len(out)
    for task in sorted(tasks, key=lambda t: (-t.cost, t.spec.path)):
        i = loads.index(min(loads))
        out[i].append(task)
        loads[i] += task.cost
    return out


# --- the stage -------------------------------------------------------------------------


def fragment_pages(document: Document, doc: PrintDocument) -> list[int]:
    """Index of the first page of every fragment, plus the page count at the end."""
    first: dict[str, int] = {}
    for index, page in enumerate(document.pages):
        for name in page.anchors:
            first.setdefault(name, index)
    missing = [f.anchor for f in doc.fragments if f.anchor not in first]
    if missing:
        raise RuntimeError(f"print fragments without a page: {missing[:5]}")
    starts = [first[f.anchor] for f in doc.fragments] + [len(document.pages)]
    if starts != sorted(starts):
        raise RuntimeError("print fragments are not in page order")
    return starts


class PdfStage:
    """One run of the pdf stage for one program."""

    def __init__(self, program: Program, config: BuildConfig, progress: Progress = NO_PROGRESS) -> None:
        self.config = config
        self.progress = progress
        renderer = PrintRenderer(program, config)
        self.book = render_book(program, config, renderer)
        self.singles = [render_guide(program, renderer), render_brochure(program, renderer)]
        css = (config.templates / STYLESHEET).read_text("utf-8")
        self.base = content_key("stegvis-pdf", str(PRINT_FORMAT), __version__, weasyprint.__version__,
                                pydyf.__version__, PDF_VARIANT, css)
        self.printer = Printer(css, renderer.media_files(), program.meta.id)
        self.cache = PdfCache(config.cache / "pdf")
        self.parallel = config.jobs > 1 and can_fork()
        self.result = PdfResult()

    # -- keys -----------------------------------------------------------------------------
    def whole_key(self, doc: PrintDocument) -> str:
        return content_key(self.base, doc.html, *(repr(s) for s in doc.outputs))

    def range_key(self, spec: PdfSpec, first_page: int) -> str:
        book = self.book
        htmls = (f.html for f in book.fragments[spec.first:spec.last + 1])
        return content_key(self.base, book.head, book.tail, spec.path, spec.title, spec.subject,
                           str(first_page), *htmls)

    # -- run ------------------------------------------------------------------------------
    def run(self) -> PdfResult:
        self.progress.start("PDF", len(self.book.outputs) + len(self.singles))
        singles = []
        for doc in self.singles:
            key = self.whole_key(doc)
            if not self.take(doc.outputs[0].path, key):
                singles.append((doc, key))
        book_key = self.whole_key(self.book)
        cached_book = self.cached_record(book_key)
        if cached_book is not None:  # nothing in the book changed: no layout at all
            self.result.files.update(cached_book)
            self.result.cached.extend(cached_book)
            self.progress.advance(len(cached_book))
            self.render_singles(singles)
            return self.finish()
        side = Forked(self.printer.render_whole, [d for d, _ in singles]) if singles and self.parallel else None
        if singles and side is None:
            self.render_singles(singles)
        self.render_book(book_key)
        if side is not None:
            self.store(side.result(), {doc.outputs[0].path: key for doc, key in singles})
        return self.finish()

    def cached_record(self, book_key: str) -> dict[str, bytes] | None:
        """Every PDF of the book from the cache, when its layout record and all its PDFs are there."""
        record = self.cache.get_record(book_key)
        if record is None or set(record) != {s.path for s in self.book.outputs}:
            return None
        files = {}
        for path, key in sorted(record.items()):
            data = self.cache.get(key)
            if data is None:
                return None
            files[path] = data
        return files

    def take(self, path: str, key: str) -> bool:
        """Use a cached PDF when there is one."""
        data = self.cache.get(key)
        if data is None:
            return False
        self.result.files[path] = data
        self.result.cached.append(path)
        self.progress.advance()
        return True

    def store(self, written: tuple[dict, list[str]], keys: dict[str, str]) -> None:
        files, messages = written
        for path, data in files.items():
            self.cache.put(keys[path], data)
            self.result.files[path] = data
            self.result.rendered.append(path)
            self.progress.advance()
        self.result.messages.extend(messages)

    def render_singles(self, singles: list[tuple[PrintDocument, str]]) -> None:
        if not singles:
            return
        keys = {doc.outputs[0].path: key for doc, key in singles}
        docs = [doc for doc, _ in singles]
        if self.parallel and len(docs) > 1:
            side = Forked(self.printer.render_whole, docs[1:])
            self.store(self.printer.render_whole(docs[:1]), keys)
            self.store(side.result(), keys)
        else:
            self.store(self.printer.render_whole(docs), keys)

    def render_book(self, book_key: str) -> None:
        book = self.book
        with weasyprint_messages() as messages:
            document = self.printer.layout(book)
        self.result.messages.extend(messages)
        starts = fragment_pages(document, book)
        record, tasks = {}, []
        for spec in book.outputs:
            start, end = starts[spec.first], starts[spec.last + 1]
            key = self.range_key(spec, start + 1)
            record[spec.path] = key
            if not self.take(spec.path, key):
                tasks.append(WriteTask(spec, start, end, key))
        keys = {t.spec.path: t.key for t in tasks}
        bins = balance(tasks, self.config.jobs if self.parallel else 1)
        workers = [Forked(self.printer.write_tasks, document, book, b) for b in bins[1:] if b]
        self.store(self.printer.write_tasks(document, book, bins[0]), keys)
        for worker in workers:
            self.store(worker.result(), keys)
        self.cache.put_record(book_key, record)

    def finish(self) -> PdfResult:
        r = self.result
        r.files, r.rendered, r.cached = dict(sorted(r.files.items())), sorted(r.rendered), sorted(r.cached)
        self.progress.done()
        return r


def render_pdfs(program: Program, config: BuildConfig, progress: Progress = NO_PROGRESS) -> PdfResult:
    """Every PDF of a program: steps, modules, the program, the guide and the brochure.

    `progress` hears how many PDFs are done (from the cache or written)."""
    return PdfStage(program, config, progress).run()
