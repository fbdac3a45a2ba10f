"""The `stegvis` command line: `build`, `check`, `drift`, `terms` and `diff`.

Exit codes: 0 success (warnings allowed unless --strict), 1 content errors,
2 usage or environment errors, 3 an internal error (a bug in Stegvis).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
import traceback
from pathlib import Path

from builder import __version__
from builder.diagnostics import Diagnostics, format_diagnostics

# The rest of the compiler (pydantic, markdown-it, Jinja2, numpy, WeasyPrint) is imported
# where it is used, so that a build in which nothing changed answers at once (issue #7);
# not to dodge a cycle: the builder has none (.importlinter's contracts keep it so).

EXIT_OK, EXIT_CONTENT, EXIT_USAGE, EXIT_INTERNAL = 0, 1, 2, 3


class UsageError(Exception):
    """A mistake in how the command was called, or in its environment."""


#: What each optional extra of the wheel provides, by import name (`a|b`: either will do).
EXTRAS = {
    "runtime": ("fastapi", "uvicorn", "sqlalchemy", "alembic", "argon2", "stdnum", "python_multipart|multipart"),
    "postgres": ("psycopg",),
}


def require_extra(extra: str, who: str) -> None:
    """Raise a UsageError naming the extra to install when a module it provides is missing."""
    import importlib.util

    missing = [names.split("|")[0] for names in EXTRAS[extra]
               if not any(importlib.util.find_spec(name) for name in names.split("|"))]
    if missing:
        raise UsageError(f"{who} behöver tillägget {extra} ({', '.join(missing)} saknas). "
                         f"Installera det med: pip install 'stegvis[{extra}]'")


def default_programs(cwd: Path) -> list[Path]:
    """content/, every regions/*/ and every translations/*/ that has a program.yaml."""
    programs = [cwd / "content"] if (cwd / "content").is_dir() else []
    for folder in ("regions", "translations"):
        if (cwd / folder).is_dir():
            programs += sorted(p for p in (cwd / folder).iterdir() if (p / "program.yaml").is_file())
    return programs


def default_translations(cwd: Path) -> list[Path]:
    """Every translations/*/ that has a program.yaml."""
    return [p for p in default_programs(cwd) if p.parent.name == "translations"]


def _programs(args: argparse.Namespace) -> list[Path]:
    programs = [Path(p) for p in args.programs] or default_programs(Path.cwd())
    if not programs:
        raise UsageError("Hittar inget program: ange en programmapp, eller kör i en mapp med content/.")
    for p in programs:
        if not p.is_dir():
            raise UsageError(f"Programmappen {p} finns inte.")
    return programs


def _add_common(p: argparse.ArgumentParser) -> None:
    p.add_argument("programs", nargs="*", metavar="PROGRAM_DIR",
                   help="program folders (default: content/, every regions/*/ and translations/*/)")
    p.add_argument("--strict", action="store_true", help="treat warnings as errors")
    p.add_argument("--format", choices=("text", "json", "github"), default="text", dest="fmt",
                   help="diagnostics format: text for people, json for tools, github for annotations")
    p.add_argument("--debug", action="store_true", help="show tracebacks of internal errors")


def make_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="stegvis", description="Build support-and-treatment programs.")
    parser.add_argument("--version", action="version", version=f"stegvis {__version__}")
    sub = parser.add_subparsers(dest="command", required=True)
    build = sub.add_parser("build", help="check and build program packages into dist/")
    _add_common(build)
    build.add_argument("--out", type=Path, default=Path("dist"), help="output folder (default: dist/)")
    build.add_argument("--no-audio", action="store_true", help="skip audio readouts")
    build.add_argument("--no-pdf", action="store_true", help="skip PDFs")
    build.add_argument("--tts", choices=("auto", "espeak", "gtts"), default="auto",
                       help="voice engine: gtts when reachable, else espeak-ng (auto); or force one")
    build.add_argument("--cache", type=Path, default=Path(".cache"),
                       help="cache folder for synthesised sentences and PDFs (default: .cache/)")
    build.add_argument("--release", action="store_true",
                       help="refuse to replace an existing package of the same version with other content")
    build.add_argument("--previous", type=Path, metavar="PATH",
                       help="the previous package (folder or zip) that the version must be large enough after "
                            "(default: the newest lower version in --out)")
    drift = sub.add_parser("drift", help="list base changes to files an overlay overrides (exit 1 when any)")
    drift.add_argument("overlays", nargs="*", metavar="OVERLAY", help="overlay folders (default: every regions/*/)")
    drift.add_argument("--accept", nargs="+", metavar="PATH",
                       help="record the base's current version of these files (and the occurrences of terms in them)")
    drift.add_argument("--accept-all", action="store_true",
                       help="record the base's current version of every overridden file and every occurrence of terms")
    drift.add_argument("--format", choices=("text", "json"), default="text", dest="fmt")
    drift.add_argument("--debug", action="store_true", help="show tracebacks of internal errors")
    terms = sub.add_parser("terms", help="list every word an overlay's terms: replaced in the text it inherits")
    terms.add_argument("overlays", nargs="*", metavar="OVERLAY", help="overlay folders (default: every regions/*/)")
    terms.add_argument("--format", choices=("text", "json"), default="text", dest="fmt")
    terms.add_argument("--debug", action="store_true", help="show tracebacks of internal errors")
    diff = sub.add_parser("diff", help="changelog and compatibility class between two packages")
    diff.add_argument("old", type=Path, metavar="OLD", help="the older package: dist/<id>/<version>/ or its zip")
    diff.add_argument("new", type=Path, metavar="NEW", help="the newer package: dist/<id>/<version>/ or its zip")
    diff.add_argument("--format", choices=("text", "json"), default="text", dest="fmt")
    diff.add_argument("--debug", action="store_true", help="show tracebacks of internal errors")
    review = sub.add_parser("review", help="list steps, forms and plans not reviewed as they are now; or sign them")
    review.add_argument("programs", nargs="*", metavar="PROGRAM_DIR", help="program folders (default: content/ and regions/*/)")
    review.add_argument("--sign", nargs="+", metavar="PATH", help="stamp these step, form or plan files as reviewed")
    review.add_argument("--by", metavar="NAME", help="who reviewed (with --sign)")
    review.add_argument("--check", action="store_true", help="exit 1 when anything needs review")
    review.add_argument("--format", choices=("text", "json"), default="text", dest="fmt")
    review.add_argument("--debug", action="store_true", help="show tracebacks of internal errors")
    schema = sub.add_parser("schema", help="write JSON Schemas (draft-07) of the authoring format for editors")
    schema.add_argument("--out", type=Path, default=Path("schemas"), help="folder to write (default: schemas/)")
    schema.add_argument("--debug", action="store_true", help="show tracebacks of internal errors")
    tr = sub.add_parser("translate", help="exchange translations with translators (XLIFF 2.0) and list outdated ones")
    tr_actions = tr.add_subparsers(dest="action", required=True)
    export = tr_actions.add_parser("export", help="write one XLIFF 2.0 file: every text of the base, translated or not")
    export.add_argument("program", nargs="?", type=Path, metavar="TRANSLATION",
                        help="translation folder (default: translations/<language>/)")
    export.add_argument("--language", help="the translation's language, e.g. fi (finds translations/<language>/)")
    export.add_argument("--out", type=Path, help="XLIFF file to write (default: <language>.xlf)")
    imp = tr_actions.add_parser("import", help="write an XLIFF file's translations into the translation folder")
    imp.add_argument("file", type=Path, metavar="FILE", help="the XLIFF 2.0 file")
    imp.add_argument("program", nargs="?", type=Path, metavar="TRANSLATION",
                     help="translation folder (default: translations/<the file's trgLang>/)")
    status = tr_actions.add_parser("status", help="list translated texts whose source changed (exit 1 when any)")
    status.add_argument("programs", nargs="*", type=Path, metavar="TRANSLATION",
                        help="translation folders (default: every translations/*/)")
    status.add_argument("--format", choices=("text", "json"), default="text", dest="fmt")
    for p in (export, imp, status):
        p.add_argument("--debug", action="store_true", help="show tracebacks of internal errors")
    check = sub.add_parser("check", help="load, validate and check only; writes nothing")
    _add_common(check)
    serve = sub.add_parser("serve", help="preview a program on 127.0.0.1, rebuilt and reloaded on every change")
    serve.add_argument("program", nargs="?", type=Path, metavar="PROGRAM_DIR", help="program folder (default: content/)")
    serve.add_argument("--port", type=int, default=8000, help="port on 127.0.0.1 (default: 8000)")
    serve.add_argument("--no-audio", action="store_true", help="no readouts (audio is otherwise built in the background)")
    serve.add_argument("--no-pdf", action="store_true", help="no PDFs (PDFs are otherwise built in the background)")
    serve.add_argument("--tts", choices=("auto", "espeak", "gtts"), default="auto", help="voice engine, as for build")
    serve.add_argument("--cache", type=Path, default=Path(".cache"), help="cache folder (default: .cache/)")
    serve.add_argument("--strict", action="store_true", help="treat warnings as errors")
    serve.add_argument("--debug", action="store_true", help="show tracebacks of internal errors")
    rt = sub.add_parser("runtime", help="deliver verified packages to patients and therapists (web app)")
    rt.add_argument("--packages", type=Path, default=Path("dist"), help="package folder (default: dist/)")
    rt.add_argument("--database", metavar="URL",
                    help="SQLAlchemy URL (default: $DATABASE_URL, else sqlite:///var/stegvis.sqlite3)")
    rt.add_argument("--host", default="127.0.0.1", help="address to listen on (default: 127.0.0.1)")
    rt.add_argument("--port", type=int, default=8000, help="port (default: 8000)")
    rt.add_argument("--public-key", type=Path, metavar="PEM",
                    help="Ed25519 public key; packages must then carry a valid manifest.json.sig")
    rt.add_argument("--require-signature", action="store_true",
                    help="refuse to start without --public-key, so no unsigned package is served (recommended)")
    rt.add_argument("--demo", action="store_true", help="seed a demo unit, therapist and two patients in FRAMÅT")
    rt.add_argument("--local-accounts", action="store_true",
                    help="allow logins with username and password (demo and development; --demo turns it on)")
    rt.add_argument("--workers", type=int, default=1, help="server processes sharing the database (default: 1)")
    rt.add_argument("--reload-templates", action="store_true",
                    help="compile a runtime template again when its file changes (development; --demo turns it on)")
    rt.add_argument("--insecure-cookies", action="store_true",
                    help="cookies without Secure, for plain HTTP on a host other than localhost (never in production)")
    rt.add_argument("--client-address-header", metavar="NAME",
                    help="header in which the reverse proxy puts the client's address, e.g. X-Real-IP, for "
                    "login throttling per address (default: $STEGVIS_CLIENT_ADDRESS_HEADER; none: the TCP peer)")
    rt.add_argument("--oidc-config", type=Path, metavar="PATH",
                    help="OpenID Connect providers (TOML or JSON) for e-identification and SITHS logins "
                    "(default: $STEGVIS_OIDC_CONFIG; none: local accounts only)")
    rt.add_argument("--debug", action="store_true", help="show tracebacks of internal errors")
    actions = rt.add_subparsers(dest="action", metavar="{backup,restore}")
    for name, text, path_help in (
            ("backup", "write a consistent copy of the SQLite database while the runtime runs", "file or folder"),
            ("restore", "replace the SQLite database with a checked backup (stop the runtime first)", "backup file")):
        action = actions.add_parser(name, help=text)
        action.add_argument("path", type=Path, help=path_help)
        action.add_argument("--database", metavar="URL", dest="action_database",
                            help="SQLAlchemy URL (default: $DATABASE_URL, else sqlite:///var/stegvis.sqlite3)")
    return parser


def _emit(diags: Diagnostics, fmt: str, strict: bool) -> None:
    text = format_diagnostics(diags.items, fmt, strict)
    if fmt == "json":
        print(text)
    elif text:
        print(text, file=sys.stderr if fmt == "text" else sys.stdout)


def _overlays(args: argparse.Namespace) -> list[Path]:
    overlays = [Path(p) for p in args.overlays] or [
        p for p in default_programs(Path.cwd()) if p.parent.name == "regions"]
    if not overlays:
        raise UsageError("Hittar ingen överlagring: ange en mapp, t.ex. regions/norrbotten.")
    for overlay in overlays:
        if not (overlay / "program.yaml").is_file():
            raise UsageError(f"{overlay} har ingen program.yaml.")
    return overlays


def run_drift(args: argparse.Namespace) -> int:
    """`stegvis drift`: report (exit 1 on drift) or accept base changes."""
    from builder.drift import accept, drift_report

    drifted = False
    out = []
    for overlay in _overlays(args):
        try:
            if args.accept or args.accept_all:
                done = accept(overlay, None if args.accept_all else list(args.accept))
                print(f"{overlay}: godkände basens version av {len(done)} fil(er).", file=sys.stderr)
                continue
            report = drift_report(overlay)
        except ValueError as exc:
            raise UsageError(f"{overlay}: {exc}") from exc
        drifted |= report.drifted
        out.append(report)
    if args.fmt == "json":
        print(json.dumps([{"overlay": str(r.overlay), "base": str(r.base),
                           "files": [{"path": f.path, "status": f.status, "diff": f.diff} for f in r.files],
                           "terms": [{"path": t.path, "line": t.line, "col": t.col, "term": t.term,
                                      "found": t.found, "sentence": t.sentence} for t in r.terms]}
                          for r in out], ensure_ascii=False, indent=2))
    else:
        words = {"changed": "basen har ändrats", "unaccepted": "ersatt men inte godkänd",
                 "removed": "finns inte längre i basen"}
        for r in out:
            if not r.drifted:
                print(f"{r.overlay}: ingen drift mot {r.base}.")
            for f in r.files:
                print(f"{r.overlay}: {f.path}: {words[f.status]}")
                if f.diff:
                    print(f.diff)
            for t in r.terms:
                print(f"{r.overlay}: {t.path}:{t.line}: ny förekomst av ”{t.found}” (terms: {t.term}): {t.sentence}")
            if r.drifted:
                print(f"Godkänn med: stegvis drift {r.overlay} --accept PATH (eller --accept-all).")
    return EXIT_CONTENT if drifted else EXIT_OK


def run_terms(args: argparse.Namespace) -> int:
    """`stegvis terms`: every word an overlay's `terms:` replaced, with the sentence before and after
    (exit 0; 1 when an overlay cannot be resolved)."""
    from builder.resolve import is_overlay, resolve_program

    diags, report = Diagnostics(), []
    for overlay in _overlays(args):
        tree = resolve_program(overlay, diags)
        if tree is None or diags.has_errors():
            _emit(diags, "text", False)
            return EXIT_CONTENT
        if tree.base is None and not is_overlay(tree):
            raise UsageError(f"{overlay} är ingen överlagring (program.yaml har ingen extends:).")
        report.append((overlay, (tree.base or {}).get("terms", {}).get("map", {}), tree.terms))
    if args.fmt == "json":
        print(json.dumps([{"overlay": str(o), "terms": terms, "replacements": [r.as_dict() | {"path": r.path} for r in found]}
                          for o, terms, found in report], ensure_ascii=False, indent=2))
        return EXIT_OK
    for overlay, terms, found in report:
        if not terms:
            print(f"{overlay}: inga terms: i program.yaml.")
            continue
        pairs = ", ".join(f"{s} → {t}" for s, t in terms.items())
        print(f"{overlay}: {pairs}: {len(found)} ersättningar i {len({r.file for r in found})} ärvda filer.")
        for r in found:
            print(f"{r.path}:{r.line}:{r.col}: {r.found} → {r.replaced}")
            print(f"    före:  {r.before}")
            print(f"    efter: {r.after}")
    return EXIT_OK


def _translation(folder: Path | None, language: str | None) -> Path:
    if folder is None:
        if not language:
            raise UsageError("Ange översättningens mapp (t.ex. translations/fi) eller --language.")
        folder = Path("translations") / language
    if not (folder / "program.yaml").is_file():
        raise UsageError(f"{folder} har ingen program.yaml. En översättning är en mapp med program.yaml som "
                         f"har translates: (basens mapp, t.ex. ../../content) och language: (t.ex. fi).")
    return folder


def run_translate(args: argparse.Namespace) -> int:
    """`stegvis translate export|import|status` (issue 18)."""
    from builder.xliff import (
        TranslationError,
        export_xliff,
        import_xliff,
        open_translation,
        read_xliff,
        translation_status,
    )

    try:
        if args.action == "export":
            tr = open_translation(_translation(args.program, args.language))
            if args.language and args.language != tr.language:
                raise UsageError(f"{tr.display} är på {tr.language}, inte {args.language}.")
            out = args.out or Path(f"{tr.language}.xlf")
            data = export_xliff(tr)
            out.write_bytes(data)
            print(f"{tr.display}: skrev {out} ({data.count(b'<unit ')} enheter).", file=sys.stderr)
            return EXIT_OK
        if args.action == "import":
            if not args.file.is_file():
                raise UsageError(f"XLIFF-filen {args.file} finns inte.")
            data = args.file.read_bytes()
            folder = args.program
            if folder is None:
                language, _ = read_xliff(data)
                folder = _translation(None, language)
            tr = open_translation(_translation(folder, None))
            result = import_xliff(tr, data)
            for rel in result.written:
                print(f"{tr.display}/{rel}: skriven", file=sys.stderr)
            for rel, done, total in result.incomplete:
                print(f"{tr.display}/{rel}: inte skriven, {done} av {total} texter översatta", file=sys.stderr)
            for rel in result.unknown:
                print(f"{rel}: finns inte i basen; hoppades över", file=sys.stderr)
            print(f"{tr.display}: {len(result.written)} filer skrivna, {len(result.unchanged)} oförändrade"
                  f"{', translation.lock uppdaterad' if result.lock_written else ''}.", file=sys.stderr)
            return EXIT_OK
        folders = [_translation(p, None) for p in args.programs] or default_translations(Path.cwd())
        if not folders:
            raise UsageError("Hittar ingen översättning: ange en mapp, t.ex. translations/fi.")
        report = []
        for folder in folders:
            tr = open_translation(folder)
            report.append((tr, translation_status(tr)))
    except TranslationError as exc:
        raise UsageError(str(exc)) from exc
    stale = any(files for _, files in report)
    if args.fmt == "json":
        print(json.dumps([{"translation": tr.display, "language": tr.language, "files": [
            {"path": f"{tr.display}/{f.rel}", "source": tr.base.display(f.rel), "units": [
                {"key": u.key, "line": u.line, "status": u.status, "diff": u.diff} for u in f.stale]}
            for f in files]} for tr, files in report], ensure_ascii=False, indent=2))
        return EXIT_CONTENT if stale else EXIT_OK
    words = {"changed": "ändrad sedan översättningen", "new": "ny text, inte översatt",
             "removed": "finns inte längre i källan"}
    for tr, files in report:
        if not files:
            print(f"{tr.display}: alla översatta texter är översatta från källan som den är nu.")
        for f in files:
            print(f"{tr.display}/{f.rel}: {len(f.stale)} texter att se över ({tr.base.display(f.rel)})")
            for u in f.stale:
                print(f"  {tr.base.display(f.rel)}:{u.line}: {u.key}: {words[u.status]}")
                for line in u.diff:
                    print(f"      {line}")
    if stale:
        print("Uppdatera med: stegvis translate export, översätt, stegvis translate import FIL.")
    return EXIT_CONTENT if stale else EXIT_OK


def run_diff(args: argparse.Namespace) -> int:
    """`stegvis diff OLD NEW`: print the changelog; exit 0 (2 when a path is not a package)."""
    from builder.diff import PackageError, changelog

    try:
        print(changelog(args.old, args.new, args.fmt))
    except PackageError as exc:
        raise UsageError(str(exc)) from exc
    return EXIT_OK


def run_review(args: argparse.Namespace) -> int:
    """`stegvis review`: what needs review (with word diffs), or `--sign` files."""
    import datetime as dt

    from builder.pipeline import check_dir
    from builder.review import review_items, sign, with_diffs

    if args.sign:
        if not args.by:
            raise UsageError("Ange vem som granskat med --by NAMN.")
        for raw in args.sign:
            path = Path(raw)
            if not path.is_file() or path.suffix not in (".md", ".yaml", ".yml"):
                raise UsageError(f"{raw} är inget steg (.md) eller formulär/plan (.yaml).")
            try:
                digest = sign(path, args.by, dt.date.today())
            except ValueError as exc:
                raise UsageError(str(exc)) from exc
            print(f"{raw}: granskad av {args.by} ({digest}).", file=sys.stderr)
        return EXIT_OK
    diags = Diagnostics()
    pending, report = 0, []
    for program_dir in _programs(args):
        program = check_dir(program_dir, diags)
        if program is None:
            _emit(diags, "text", False)
            return EXIT_CONTENT
        items = with_diffs(review_items(program))
        pending += sum(1 for i in items if i.status != "ok")
        report.append((program, items))
    if args.fmt == "json":
        print(json.dumps([{"program": p.meta.id, "items": [
            {"kind": i.kind, "name": i.name, "path": i.path, "status": i.status, "by": i.by,
             "on": i.on.isoformat() if i.on else None, "reviewed_hash": i.reviewed_hash,
             "current_hash": i.current_hash, "diff": i.diff} for i in items]} for p, items in report],
            ensure_ascii=False, indent=2))
    else:
        kinds = {"step": "steg", "form": "formulär", "plan": "aktivitetsplan"}
        for program, items in report:
            todo = [i for i in items if i.status != "ok"]
            print(f"{program.meta.id}: {len(items) - len(todo)} av {len(items)} granskade som de är nu.")
            for i in todo:
                if i.status == "never":
                    print(f"  {i.path}: {kinds[i.kind]} aldrig granskat")
                else:
                    print(f"  {i.path}: {kinds[i.kind]} ändrat sedan {i.by} granskade det {i.on}")
                    for line in i.diff or ["(den granskade texten finns inte i git; jämför själv)"]:
                        print(f"      {line}")
    return EXIT_CONTENT if args.check and pending else EXIT_OK


def run_serve(args: argparse.Namespace) -> int:
    """`stegvis serve`: preview one program until Ctrl+C (exit 0; 2 when the port is taken)."""
    from builder.config import BuildConfig
    from builder.serve import serve

    program = args.program or Path("content")
    if not program.is_dir():
        raise UsageError(f"Programmappen {program} finns inte." if args.program else
                         "Hittar inget program: ange en programmapp, eller kör i en mapp med content/.")
    config = BuildConfig(audio=not args.no_audio, pdf=not args.no_pdf, strict=args.strict, tts=args.tts,
                         cache=args.cache)
    try:
        serve(program, config, args.port)
    except OSError as exc:
        raise UsageError(f"Kan inte lyssna på 127.0.0.1:{args.port} ({exc.strerror or exc}). "
                         "Välj en annan port med --port.") from exc
    return EXIT_OK


def run_unchanged(args: argparse.Namespace, programs: list[Path], taken: dict | None = None) -> int | None:
    """`stegvis build --no-audio` when no program changed since its last build; None otherwise.

    Answered from the build states alone, without importing the compiler (issue #7). `taken`
    receives the snapshots taken, for the build that follows (issue 16).
    """
    from builder.state import unchanged_build

    started = time.perf_counter()
    found = []
    for program_dir in programs:
        unchanged = unchanged_build(program_dir, args.out, args.cache, pdf=not args.no_pdf, strict=args.strict,
                                    release=args.release, tts=args.tts, previous=args.previous, taken=taken)
        if unchanged is None:
            return None
        found.append(unchanged)
    diags = Diagnostics()
    for unchanged in found:
        diags.add_items(unchanged.diagnostics())
    _emit(diags, args.fmt, args.strict)
    if args.fmt == "text":
        for unchanged in found:
            program_id, version = unchanged.state.package["id"], unchanged.state.package["version"]
            for note in unchanged.state.notes:
                print(f"{program_id}: {note}", file=sys.stderr)
            print(f"{program_id} {version}: oförändrat → {unchanged.folder}", file=sys.stderr)
        print(f"Klart på {time.perf_counter() - started:.1f} s.", file=sys.stderr)
    return EXIT_CONTENT if diags.has_errors(args.strict) else EXIT_OK


def run_backup(args: argparse.Namespace) -> int:
    """`stegvis runtime backup|restore PATH`: the SQLite database, copied online or put back."""
    from runtime.backup import BackupError, backup, restore  # lazily, like the runtime itself
    from runtime.settings import default_database_url

    url = args.action_database or args.database or default_database_url()
    try:
        if args.action == "backup":
            done = backup(url, args.path)
            print(f"Säkerhetskopian är skriven och kontrollerad: {done}", file=sys.stderr)
        else:
            done = restore(url, args.path)
            print(f"Databasen {done} är återläst från {args.path}.", file=sys.stderr)
    except BackupError as exc:
        print(f"stegvis: {exc}", file=sys.stderr)
        return EXIT_USAGE
    return EXIT_OK


def run(args: argparse.Namespace) -> int:
    if args.command == "runtime":
        require_extra("runtime", "stegvis runtime")  # backup and restore too: they go through SQLAlchemy
    if args.command == "runtime" and args.action:
        return run_backup(args)
    if args.command == "runtime":
        database = (args.database or os.environ.get("DATABASE_URL", "")).strip()
        if database.split(":")[0] in ("postgresql", "postgresql+psycopg", "postgres"):
            require_extra("postgres", "En PostgreSQL-databas")
        from runtime.oidc import OidcConfigError
        from runtime.server import serve, settings_from_args  # lazily: the builder never needs the web stack
        from runtime.settings import ConfigurationError

        try:
            # The demo's accounts are local accounts, and the demo is for development: --demo turns both on.
            settings = settings_from_args(args.packages, args.database, args.public_key, args.insecure_cookies,
                                          require_signature=args.require_signature, oidc_config=args.oidc_config,
                                          local_accounts=args.local_accounts or args.demo,
                                          client_address_header=args.client_address_header,
                                          reload_templates=args.reload_templates or args.demo)
        except (ConfigurationError, OidcConfigError) as exc:
            raise UsageError(str(exc)) from exc
        return serve(settings, args.host, args.port, demo=args.demo, workers=args.workers)
    if args.command == "drift":
        return run_drift(args)
    if args.command == "terms":
        return run_terms(args)
    if args.command == "review":
        return run_review(args)
    if args.command == "translate":
        return run_translate(args)
    if args.command == "schema":
        from builder.jsonschema import dump, schemas

        args.out.mkdir(parents=True, exist_ok=True)
        for name, content in schemas().items():
            (args.out / name).write_text(dump(content), "utf-8")
        print(f"Skrev {len(schemas())} scheman till {args.out}/.", file=sys.stderr)
        return EXIT_OK
    if args.command == "diff":
        return run_diff(args)
    if args.command == "serve":
        return run_serve(args)
    programs = _programs(args)
    snapshots: dict = {}  # taken by the no-change check, which found them changed
    if args.command == "build" and args.no_audio:
        code = run_unchanged(args, programs, snapshots)
        if code is not None:
            return code
    from builder.config import BuildConfig
    from builder.pipeline import build_dir, check_dir
    from builder.progress import progress_for
    from builder.render.storyboard import FilmError

    diags = Diagnostics()
    started = time.perf_counter()
    if args.command == "check":
        from builder.terms import terms_note

        notes = []
        for program_dir in programs:
            program = check_dir(program_dir, diags, args.strict)
            note = terms_note(program.tree, str(program_dir)) if program is not None else None
            if note:
                notes.append(f"{program.meta.id}: {note}")
        _emit(diags, args.fmt, args.strict)
        if args.fmt == "text":
            for note in notes:
                print(note, file=sys.stderr)
        return EXIT_CONTENT if diags.has_errors(args.strict) else EXIT_OK
    config = BuildConfig(out=args.out, audio=not args.no_audio, pdf=not args.no_pdf, strict=args.strict,
                         release=args.release, fmt=args.fmt, tts=args.tts, cache=args.cache)
    engine = None
    engine_errors: tuple[type[Exception], ...] = ()
    if config.audio:  # numpy and the voices: imported only when there is audio
        from builder.speech.engines import EngineError, EngineUnavailable, choose_engine

        engine_errors = (EngineError,)
        try:
            engine, note = choose_engine(config.tts)
        except EngineUnavailable as exc:
            raise UsageError(f"{exc} Bygg utan ljud med --no-audio, eller välj --tts espeak.") from exc
        if note and args.fmt == "text":
            print(note, file=sys.stderr)
    from builder.diff import PackageError

    if args.previous is not None and not args.previous.exists():
        raise UsageError(f"Det tidigare paketet {args.previous} finns inte.")
    built = []
    for program_dir in programs:
        try:
            outcome = build_dir(program_dir, config, diags, engine, previous=args.previous,
                                progress=progress_for(sys.stderr, quiet=args.fmt != "text"),
                                snapshot=snapshots.get(program_dir))
        except PackageError as exc:
            raise UsageError(str(exc)) from exc
        except OSError as exc:
            raise UsageError(f"Kan inte skriva till {config.out}: {exc.strerror or exc}") from exc
        except (FilmError, *engine_errors) as exc:
            raise UsageError(str(exc)) from exc
        if outcome.package is not None:
            built.append(outcome)
    _emit(diags, args.fmt, args.strict)
    if args.fmt == "text":
        for o in built:
            for note in o.report.notes:
                print(f"{o.label.split()[0]}: {note}", file=sys.stderr)
            state = "oförändrat" if o.package.unchanged else "byggt"
            print(f"{o.label}: {state} → {o.package.folder}", file=sys.stderr)
        print(f"Klart på {time.perf_counter() - started:.1f} s.", file=sys.stderr)
    failed = diags.has_errors(args.strict) or len(built) < len(programs)
    return EXIT_CONTENT if failed else EXIT_OK


def main(argv: list[str] | None = None) -> int:
    parser = make_parser()
    args = parser.parse_args(argv)
    try:
        return run(args)
    except UsageError as exc:
        print(f"stegvis: {exc}", file=sys.stderr)
        return EXIT_USAGE
    except KeyboardInterrupt:
        return EXIT_USAGE
    except Exception as exc:  # a bug in Stegvis, never a content mistake
        if getattr(args, "debug", False):
            traceback.print_exc()
        else:
            print(f"stegvis: internt fel ({type(exc).__name__}: {exc}). Kör igen med --debug och rapportera felet.",
                  file=sys.stderr)
        return EXIT_INTERNAL


if __name__ == "__main__":
    sys.exit(main())
