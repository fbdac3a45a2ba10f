"""The package store: loads and verifies program packages, and serves only verified ones.

Input: a folder laid out as `stegvis build` writes it, `<program-id>/<version>/`.
Output: `Package` objects, several versions of a program side by side, looked up by
(program id, version).

Verification is the package contract's (`stegvis_package.verify`), the same the builder
uses for `stegvis diff` and overlays on built bases: the manifest follows the model and
the package format this runtime reads, every listed file is there with its size and
sha256 and nothing else is, program.json follows the program model, and with a public key
configured `manifest.json.sig` holds a valid Ed25519 signature. The folder's name must
match the manifest's program and version.

A refused package gets one log line saying which package and why; the others are
served. `scan()` runs again on SIGHUP or an admin action and hashes every file again,
so a file changed after verification is caught even when its size and time were put
back. Between scans, a file whose size or modification time changed is not served.
Must not: change anything in the package folder; decide who may read a file (that is
`runtime.patient_files`).
"""

from __future__ import annotations

import hashlib
import logging
import re
import threading
from dataclasses import dataclass, field
from pathlib import Path

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from stegvis_package.model import FileEntry, Fragment, Manifest, ProgramData
from stegvis_package.paths import MANIFEST, fragment_path
from stegvis_package.reader import FolderReader
from stegvis_package.verify import (  # noqa: F401  (signing helpers re-exported for release tooling)
    PackageInvalid,
    load_public_key,
    read_fragment,
    sign_manifest,
    verify,
    verify_signature,
)
from stegvis_package.versions import version_key

log = logging.getLogger("stegvis.runtime.packages")


class PackageRefused(Exception):
    """Why a package is not served (Swedish, for the log)."""


@dataclass(frozen=True)
class FileStat:
    """What a verified file looked like, to notice a change before serving it."""

    sha256: str
    size: int
    mtime_ns: int


@dataclass
class Package:
    """A verified package: its manifest, its program.json and where its files are.

    `program` is program.json as JSON data (the runtime's views read it so), `data` the same
    through the typed program model; `manifest` is typed and says whom each file is for.
    """

    program_id: str
    version: str
    root: Path
    manifest_sha256: str
    manifest: Manifest
    program: dict
    data: ProgramData
    files: dict[str, FileStat]
    _steps: dict[tuple[str, str], tuple[dict, dict, dict]] = field(default_factory=dict, repr=False)
    _cache: dict[str, object] = field(default_factory=dict, repr=False)
    _cache_lock: threading.RLock = field(default_factory=threading.RLock, repr=False)

    def __post_init__(self) -> None:
        for module in self.program.get("modules", []):
            for section in module.get("sections", []):
                for step in section.get("steps", []):
                    self._steps[(module["id"], step["id"])] = (module, section, step)

    @property
    def key(self) -> tuple[str, str]:
        """(program id, version)."""
        return self.program_id, self.version

    @property
    def title(self) -> str:
        """The program's title."""
        return self.data.program.title

    def module(self, module_id: str) -> dict | None:
        """A module of program.json by id."""
        return next((m for m in self.program.get("modules", []) if m["id"] == module_id), None)

    def step(self, module_id: str, step_id: str) -> tuple[dict, dict, dict] | None:
        """(module, section, step) of program.json, or None."""
        return self._steps.get((module_id, step_id))

    def steps(self) -> list[tuple[dict, dict, dict]]:
        """Every (module, section, step) in program order."""
        return list(self._steps.values())

    def form(self, form_id: str) -> dict | None:
        """A form's definition from program.json."""
        return self.program.get("forms", {}).get(form_id)

    def plan(self, plan_id: str) -> dict | None:
        """An activity plan's definition from program.json."""
        return self.program.get("activity_plans", {}).get(plan_id)

    @property
    def translation(self) -> TranslationOf | None:
        """What this package translates (language, program id and version), or None for a program of its own."""
        return translation_of(self)

    @property
    def files_url(self) -> str:
        """Where the runtime serves this package's files, relative to /moment/<e>/ (a translation's by language)."""
        found = self.translation
        return "filer" if found is None else f"sprak/{found.language}"

    def entry(self, rel: str) -> FileEntry | None:
        """What the manifest says of a file: hash, size, audience, step or module."""
        return self.manifest.files.get(rel)

    def fragment(self, module_id: str, step_id: str) -> Fragment | None:
        """A step's body as HTML parts and form slots (cached), or None when it cannot be read."""

        def make() -> Fragment | tuple:
            rel = fragment_path(module_id, step_id)
            data = self.read_verified(rel)
            if data is None:
                return ()
            try:
                return read_fragment(data, rel)
            except PackageInvalid as exc:
                log.error("Paketet %s %s: %s.", self.program_id, self.version, exc.reason)
                return ()

        found = self.cached(f"fragment:{module_id}/{step_id}", make)
        return found if isinstance(found, Fragment) else None

    def file_path(self, rel: str) -> Path | None:
        """The on-disk path of a file the manifest lists, if it is unchanged since verification."""
        info = self.files.get(rel)
        if info is None:
            return None
        path = self.root / rel
        try:
            stat = path.lstat()
        except OSError:
            return None
        if stat.st_size != info.size or stat.st_mtime_ns != info.mtime_ns:
            log.error("Paketet %s %s: filen %s har ändrats efter kontrollen och lämnas inte ut. "
                      "Läs in paketen igen (SIGHUP).", self.program_id, self.version, rel)
            return None
        return path

    def read_verified(self, rel: str) -> bytes | None:
        """A file's bytes, checked against its sha256 again (for files the runtime parses)."""
        path = self.file_path(rel)
        if path is None:
            return None
        data = path.read_bytes()
        if hashlib.sha256(data).hexdigest() != self.files[rel].sha256:
            log.error("Paketet %s %s: filen %s stämmer inte med manifestet och lämnas inte ut.",
                      self.program_id, self.version, rel)
            return None
        return data

    def cached(self, key: str, make):
        """A value derived from this immutable package, computed once (thread-safe)."""
        value = self._cache.get(key)
        if value is None:
            with self._cache_lock:
                value = self._cache.get(key)
                if value is None:
                    value = make()
                    self._cache[key] = value
        return value


#: A language code the runtime accepts (BCP 47 as the builder writes it: `fi`, `smj`, `sv-FI`).
LANGUAGE_CODE = re.compile(r"^[a-z]{2,3}(-[A-Za-z0-9]{2,8})*$")
#: The language of a base program: Swedish (a translation into Swedish is not a translation).
BASE_LANGUAGE = "sv"


@dataclass(frozen=True)
class TranslationOf:
    """A translation package's claim (manifest.translation): its language, and the program and version it translates."""

    language: str
    program_id: str
    version: str
    #: The base's content hash the translation was built against (manifest.base), if recorded.
    base_content_hash: str | None
    #: Source paths whose Swedish text changed after they were translated (the builder notes them on the page).
    outdated: frozenset[str]


def translation_of(package: Package) -> TranslationOf | None:
    """A package's translation claim, or None when it is not a usable translation (no claim, bad language code)."""
    claim = package.manifest.translation
    if not isinstance(claim, dict):
        return None
    language, program_id, version = claim.get("language"), claim.get("of"), claim.get("version")
    if not (isinstance(language, str) and LANGUAGE_CODE.match(language) and language != BASE_LANGUAGE
            and isinstance(program_id, str) and isinstance(version, str)):
        return None
    base = package.manifest.base or {}
    if base and (base.get("id"), base.get("version")) != (program_id, version):
        return None  # the manifest contradicts itself: never pair it
    content_hash = base.get("content_hash")
    outdated = claim.get("outdated") or []
    return TranslationOf(language, program_id, version, content_hash if isinstance(content_hash, str) else None,
                         frozenset(p for p in outdated if isinstance(p, str)))


def verify_package(folder: Path, public_key: Ed25519PublicKey | None) -> Package:
    """Verify one package folder; raise PackageRefused (Swedish reason) when it must not be served."""
    if not (folder / MANIFEST).is_file() or (folder / MANIFEST).is_symlink():
        raise PackageRefused(f"{MANIFEST} saknas")
    try:
        verified = verify(FolderReader(folder), public_key=public_key, expect=(folder.parent.name, folder.name))
    except PackageInvalid as exc:
        raise PackageRefused(exc.reason) from exc
    stats = {rel: FileStat(f.sha256, f.size, f.mtime_ns) for rel, f in verified.facts.items()}
    manifest = verified.manifest
    return Package(manifest.program.id, manifest.program.version, folder, verified.manifest_sha256, manifest,
                   verified.program_json, verified.program, stats)


@dataclass
class ScanReport:
    """What one scan found: packages served, and folders refused with their reason."""

    loaded: list[tuple[str, str]] = field(default_factory=list)
    refused: dict[str, str] = field(default_factory=dict)


class PackageStore:
    """Every verified package of one folder; thread-safe, rescanned on demand."""

    def __init__(self, root: Path, public_key: Ed25519PublicKey | None = None) -> None:
        self.root = Path(root)
        self.public_key = public_key
        self._packages: dict[tuple[str, str], Package] = {}
        self._refused: dict[str, str] = {}
        self._scan_lock = threading.Lock()

    def scan(self) -> ScanReport:
        """Verify every package folder; swap in the new set at once. Logs each refusal."""
        with self._scan_lock:
            report = ScanReport()
            found: dict[tuple[str, str], Package] = {}
            if not self.root.is_dir():
                log.warning("Paketmappen %s finns inte; inga program lämnas ut.", self.root)
            folders = sorted(p for p in self.root.glob("*/*") if p.is_dir() and not p.name.startswith(".")) \
                if self.root.is_dir() else []
            for folder in folders:
                if not (folder / MANIFEST).exists() and not any(folder.iterdir()):
                    continue
                display = f"{folder.parent.name}/{folder.name}"
                try:
                    package = verify_package(folder, self.public_key)
                except PackageRefused as exc:
                    report.refused[display] = str(exc)
                    if self._refused.get(display) != str(exc):
                        log.error("Paketet %s (%s) lämnas inte ut: %s.", display, folder, exc)
                    continue
                except OSError as exc:
                    report.refused[display] = f"kan inte läsas: {exc.strerror or exc}"
                    log.error("Paketet %s (%s) lämnas inte ut: kan inte läsas (%s).", display, folder, exc)
                    continue
                found[package.key] = package
                report.loaded.append(package.key)
                before = self._packages.get(package.key)
                if before is None or before.manifest_sha256 != package.manifest_sha256:
                    log.info("Paketet %s %s är kontrollerat och lämnas ut (%d filer%s).", package.program_id,
                             package.version, len(package.files), ", signerat" if self.public_key is not None else "")
            for key in self._packages.keys() - found.keys():
                log.warning("Paketet %s %s lämnas inte längre ut.", *key)
            # Keep the earlier object (and its page cache) when nothing changed.
            for key, package in found.items():
                old = self._packages.get(key)
                if old is not None and old.manifest_sha256 == package.manifest_sha256 and old.files == package.files:
                    found[key] = old
            self._packages = found
            self._refused = dict(report.refused)
            return report

    def get(self, program_id: str, version: str) -> Package | None:
        """The package of one program version, if it is served."""
        return self._packages.get((program_id, version))

    def latest(self, program_id: str) -> Package | None:
        """The newest served version of a program."""
        versions = [p for p in self._packages.values() if p.program_id == program_id]
        return max(versions, key=lambda p: version_key(p.version), default=None)

    def translations(self, program_id: str, version: str) -> dict[str, Package]:
        """language -> the served translation package of exactly this program version (issue 18).

        A translation pairs with a base when its manifest names the base's id and version and,
        when it records one, the content hash of the base it was built against is the served
        base's. Several translation packages of one language: the newest version wins.
        Only verified packages are in the store, so a tampered translation never pairs.
        """
        base = self.get(program_id, version)
        if base is None or base.translation is not None:
            return {}
        found: dict[str, Package] = {}
        for package in self._packages.values():
            claim = package.translation
            if claim is None or (claim.program_id, claim.version) != (program_id, version):
                continue
            if claim.base_content_hash is not None and claim.base_content_hash != base.manifest.content_hash:
                continue
            other = found.get(claim.language)
            if other is None or version_key(package.version) > version_key(other.version):
                found[claim.language] = package
        return dict(sorted(found.items()))

    def translation(self, program_id: str, version: str, language: str) -> Package | None:
        """The translation package of a program version into a language, if one is served."""
        return self.translations(program_id, version).get(language)

    def all(self) -> list[Package]:
        """Every served package, by program id and version."""
        return sorted(self._packages.values(), key=lambda p: (p.program_id, version_key(p.version)))

    @property
    def refused(self) -> dict[str, str]:
        """Folders refused at the last scan, with the reason."""
        return dict(self._refused)
