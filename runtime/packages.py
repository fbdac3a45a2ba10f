"""The package store: loads and verifies program packages, and serves only verified ones.

Input: a folder laid out as `stegvis build` writes it, `<program-id>/<version>/`
with `manifest.json` and `program.json`. Output: `Package` objects, several versions
of a program side by side, looked up by (program id, version).

A package is served only when:
- its manifest parses, has the package format this runtime reads, and names the
  program id and version of its folder;
- every file the manifest lists exists as a regular file inside the folder with the
  listed size and sha256, and no other file is there (an added file is tampering);
- with a public key configured, `manifest.json.sig` holds a valid signature.

Signature format: `manifest.json.sig` is one line, the standard base64 (RFC 4648) of
the 64-byte Ed25519 signature over the exact bytes of `manifest.json`. The public
key is a PEM file (SubjectPublicKeyInfo), as `cryptography` writes it. Since the
manifest lists the sha256 of every file, the signature covers the whole package.

A refused package gets one log line saying which package and why; the others are
served. `scan()` runs again on SIGHUP or an admin action: new packages appear,
verified ones whose manifest and file sizes and times are unchanged are kept
without hashing again. Must not: change anything in the package folder.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
import logging
import re
import threading
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from cryptography.hazmat.primitives.serialization import load_pem_private_key, load_pem_public_key

from builder import PACKAGE_FORMAT

log = logging.getLogger("stegvis.runtime.packages")

MANIFEST = "manifest.json"
SIGNATURE = "manifest.json.sig"
_SEGMENT = re.compile(r"^[A-Za-z0-9._-]+$")


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
    """A verified package: its manifest, its program.json and where its files are."""

    program_id: str
    version: str
    root: Path
    manifest_sha256: str
    manifest: dict
    program: dict
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
        return self.program["program"]["title"]

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


def version_key(version: str) -> tuple:
    """Semantic-version order: 1.2.0-rc.1 < 1.2.0 < 1.10.0."""
    core, _, pre = version.partition("+")[0].partition("-")
    numbers = tuple(int(p) if p.isdigit() else 0 for p in core.split("."))
    if not pre:
        return numbers, (1,)
    parts = tuple((0, int(p), "") if p.isdigit() else (1, 0, p) for p in pre.split("."))
    return numbers, (0, parts)


def load_public_key(path: Path) -> Ed25519PublicKey:
    """An Ed25519 public key from a PEM file (raises ValueError with a Swedish message)."""
    try:
        key = load_pem_public_key(path.read_bytes())
    except (OSError, ValueError) as exc:
        raise ValueError(f"Kan inte läsa den publika nyckeln {path}: {exc}") from exc
    if not isinstance(key, Ed25519PublicKey):
        raise ValueError(f"{path} är ingen Ed25519-nyckel.")
    return key


def sign_manifest(package_dir: Path, private_key: Ed25519PrivateKey | Path) -> Path:
    """Write `manifest.json.sig` for a package folder (release tooling and tests)."""
    if isinstance(private_key, Path):
        loaded = load_pem_private_key(private_key.read_bytes(), password=None)
        if not isinstance(loaded, Ed25519PrivateKey):
            raise ValueError(f"{private_key} är ingen Ed25519-nyckel.")
        private_key = loaded
    signature = private_key.sign((package_dir / MANIFEST).read_bytes())
    target = package_dir / SIGNATURE
    target.write_text(base64.b64encode(signature).decode("ascii") + "\n", "ascii")
    return target


def verify_signature(manifest_bytes: bytes, signature_text: bytes, key: Ed25519PublicKey) -> bool:
    """True when the signature file holds a valid signature of these manifest bytes."""
    try:
        signature = base64.b64decode(signature_text.strip(), validate=True)
        key.verify(signature, manifest_bytes)
    except (binascii.Error, InvalidSignature, ValueError):
        return False
    return True


def _safe_rel(rel: str) -> bool:
    parts = PurePosixPath(rel).parts
    return bool(parts) and not rel.startswith("/") and all(_SEGMENT.match(p) and p not in (".", "..") for p in parts)


def _sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def verify_package(folder: Path, public_key: Ed25519PublicKey | None, previous: Package | None = None) -> Package:
    """Verify one package folder; raise PackageRefused (Swedish reason) when it must not be served.

    `previous`, a package verified earlier from the same folder, lets unchanged files
    skip hashing when the manifest bytes and every file's size and time are the same.
    """
    manifest_path = folder / MANIFEST
    if not manifest_path.is_file() or manifest_path.is_symlink():
        raise PackageRefused("manifest.json saknas")
    manifest_bytes = manifest_path.read_bytes()
    manifest_sha = hashlib.sha256(manifest_bytes).hexdigest()
    if public_key is not None:
        sig_path = folder / SIGNATURE
        if not sig_path.is_file():
            raise PackageRefused("signatur krävs men manifest.json.sig saknas")
        if not verify_signature(manifest_bytes, sig_path.read_bytes(), public_key):
            raise PackageRefused("signaturen i manifest.json.sig stämmer inte med manifest.json")
    try:
        manifest = json.loads(manifest_bytes)
        files = manifest["files"]
        ident = manifest["program"]
        program_id, version = ident["id"], ident["version"]
    except (ValueError, KeyError, TypeError) as exc:
        raise PackageRefused(f"manifest.json går inte att läsa ({exc})") from exc
    if manifest.get("format") != PACKAGE_FORMAT:
        raise PackageRefused(f"paketformat {manifest.get('format')!r}, körmiljön läser format {PACKAGE_FORMAT}")
    if (folder.parent.name, folder.name) != (program_id, version):
        raise PackageRefused(f"manifestet säger {program_id} {version} men mappen heter "
                             f"{folder.parent.name}/{folder.name}")
    if not isinstance(files, dict) or "program.json" not in files:
        raise PackageRefused("manifestet förtecknar ingen program.json")

    reuse = previous is not None and previous.manifest_sha256 == manifest_sha
    stats: dict[str, FileStat] = {}
    for rel, info in sorted(files.items()):
        if not _safe_rel(rel) or rel in (MANIFEST, SIGNATURE):
            raise PackageRefused(f"otillåten sökväg i manifestet: {rel!r}")
        path = folder / rel
        try:
            stat = path.lstat()
        except OSError:
            raise PackageRefused(f"filen {rel} saknas (stympat paket?)") from None
        if not path.is_file() or path.is_symlink():
            raise PackageRefused(f"{rel} är ingen vanlig fil")
        if stat.st_size != info.get("size"):
            raise PackageRefused(f"filen {rel} har storleken {stat.st_size}, manifestet säger {info.get('size')} "
                                 "(stympad eller ändrad?)")
        old = previous.files.get(rel) if reuse else None
        if old is not None and old.size == stat.st_size and old.mtime_ns == stat.st_mtime_ns:
            digest = old.sha256
        else:
            digest = _sha256_file(path)
        if digest != info.get("sha256"):
            raise PackageRefused(f"filen {rel} stämmer inte med sin sha256 i manifestet (ändrad efter bygget?)")
        stats[rel] = FileStat(digest, stat.st_size, stat.st_mtime_ns)
    allowed = set(files) | {MANIFEST, SIGNATURE}
    for path in sorted(folder.rglob("*")):
        rel = path.relative_to(folder).as_posix()
        if path.is_dir() and not path.is_symlink():
            continue
        if rel not in allowed:
            raise PackageRefused(f"filen {rel} finns i mappen men inte i manifestet")
    program_bytes = (folder / "program.json").read_bytes()
    if hashlib.sha256(program_bytes).hexdigest() != stats["program.json"].sha256:
        raise PackageRefused("program.json ändrades under kontrollen")
    try:
        program = json.loads(program_bytes)
        if (program["program"]["id"], program["program"]["version"]) != (program_id, version):
            raise PackageRefused("program.json och manifest.json anger olika program eller versioner")
    except (ValueError, KeyError, TypeError) as exc:
        raise PackageRefused(f"program.json går inte att läsa ({exc})") from exc
    return Package(program_id, version, folder, manifest_sha, manifest, program, stats)


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
            old_by_root = {p.root: p for p in self._packages.values()}
            for folder in folders:
                if not (folder / MANIFEST).exists() and not any(folder.iterdir()):
                    continue
                display = f"{folder.parent.name}/{folder.name}"
                try:
                    package = verify_package(folder, self.public_key, old_by_root.get(folder))
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

    def all(self) -> list[Package]:
        """Every served package, by program id and version."""
        return sorted(self._packages.values(), key=lambda p: (p.program_id, version_key(p.version)))

    @property
    def refused(self) -> dict[str, str]:
        """Folders refused at the last scan, with the reason."""
        return dict(self._refused)
