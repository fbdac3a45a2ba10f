"""One verification of a package, for every reader: the runtime, `stegvis diff`, overlays.

A package passes when:
- manifest.json is there, parses, has a package format this reader knows and follows
  the manifest model (`stegvis_package.model.Manifest`);
- with a public key, `manifest.json.sig` holds a valid Ed25519 signature over the exact
  bytes of manifest.json (and since the manifest lists the sha256 of every file, the
  signature covers the whole package);
- every path the manifest lists is safe, exists as a regular file with the listed size
  and sha256, and no other file is there (an added file is tampering);
- program.json follows the program model and names the manifest's program and version.

Signature format: `manifest.json.sig` is one line, the standard base64 (RFC 4648) of the
64-byte Ed25519 signature. Keys are PEM files (SubjectPublicKeyInfo / PKCS#8).

A refusal is a `PackageInvalid` with a `Refusal` kind (so the builder can map it to its
diagnostic codes) and a Swedish reason naming the files at fault.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
from dataclasses import dataclass, field
from enum import StrEnum
from pathlib import Path

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from cryptography.hazmat.primitives.serialization import load_pem_private_key, load_pem_public_key
from pydantic import ValidationError

from stegvis_package import PACKAGE_FORMAT
from stegvis_package.model import Fragment, Manifest, ProgramData
from stegvis_package.paths import MANIFEST, PROGRAM, SIGNATURE, UNLISTED, is_safe_path
from stegvis_package.reader import FileFacts, PackageReader

#: How many problems a refusal names before it says "och N till".
SHOWN = 3


class Refusal(StrEnum):
    """Why a package was refused."""

    UNREADABLE = "unreadable"  # no manifest, or one that cannot be read
    FORMAT = "format"  # a package format this reader does not know
    SIGNATURE = "signature"  # signature missing or wrong
    CHANGED = "changed"  # files missing, changed, added, or at unsafe paths
    IDENTITY = "identity"  # program.json, manifest and folder disagree on the program


class PackageInvalid(Exception):
    """A package that must not be used; `reason` is Swedish, for logs and diagnostics."""

    def __init__(self, kind: Refusal, reason: str) -> None:
        super().__init__(reason)
        self.kind = kind
        self.reason = reason


@dataclass
class VerifiedPackage:
    """A package whose every file is as its manifest says."""

    name: str
    manifest: Manifest
    manifest_bytes: bytes
    manifest_sha256: str
    #: Every listed file as it was hashed.
    facts: dict[str, FileFacts]
    #: program.json, typed (None when verified with `program=False`).
    program: ProgramData | None = None
    #: program.json as JSON data.
    program_json: dict | None = None
    #: The bytes of the files `keep` asked for, as verified.
    kept: dict[str, bytes] = field(default_factory=dict)


def _problems(problems: list[str]) -> str:
    shown = "; ".join(problems[:SHOWN])
    return shown + (f" och {len(problems) - SHOWN} till" if len(problems) > SHOWN else "")


def _model_error(name: str, exc: ValidationError) -> str:
    first = exc.errors()[0]
    where = ".".join(str(p) for p in first["loc"]) or "roten"
    return f"{name} följer inte paketformatet ({where}: {first['msg']})"


def read_manifest(reader: PackageReader) -> tuple[Manifest, bytes]:
    """The manifest of a package and its exact bytes, checked against the format and model."""
    data = reader.read(MANIFEST)
    if data is None:
        raise PackageInvalid(Refusal.UNREADABLE, f"{MANIFEST} saknas")
    try:
        raw = json.loads(data)
    except (UnicodeDecodeError, ValueError) as exc:
        raise PackageInvalid(Refusal.UNREADABLE, f"{MANIFEST} går inte att läsa ({exc})") from exc
    if not isinstance(raw, dict):
        raise PackageInvalid(Refusal.UNREADABLE, f"{MANIFEST} går inte att läsa (inget JSON-objekt)")
    if raw.get("format") != PACKAGE_FORMAT:
        raise PackageInvalid(Refusal.FORMAT, f"paketformat {raw.get('format')!r}, den här versionen av Stegvis "
                                             f"läser format {PACKAGE_FORMAT}: bygg paketet igen")
    try:
        return Manifest.model_validate(raw), data
    except ValidationError as exc:
        raise PackageInvalid(Refusal.UNREADABLE, f"{MANIFEST} går inte att läsa: "
                                                 + _model_error(MANIFEST, exc)) from exc


def verify(reader: PackageReader, *, public_key: Ed25519PublicKey | None = None, program: bool = True,
           keep=None, expect: tuple[str, str] | None = None) -> VerifiedPackage:
    """Verify a package; raise PackageInvalid when it must not be used.

    `public_key`: a signature is then required. `program`: also read program.json into the
    program model. `keep(rel) -> bool`: return the verified bytes of those files.
    `expect`: the (program id, version) the package must be (e.g. from its folder's name).
    """
    manifest_bytes = reader.read(MANIFEST)
    if public_key is not None:
        if manifest_bytes is None:
            raise PackageInvalid(Refusal.UNREADABLE, f"{MANIFEST} saknas")
        signature = reader.read(SIGNATURE)
        if signature is None:
            raise PackageInvalid(Refusal.SIGNATURE, f"signatur krävs men {SIGNATURE} saknas")
        if not verify_signature(manifest_bytes, signature, public_key):
            raise PackageInvalid(Refusal.SIGNATURE, f"signaturen i {SIGNATURE} stämmer inte med {MANIFEST}")
    manifest, manifest_bytes = read_manifest(reader)
    ident = (manifest.program.id, manifest.program.version)
    if expect is not None and ident != expect:
        raise PackageInvalid(Refusal.IDENTITY, f"manifestet säger {ident[0]} {ident[1]} men mappen heter "
                                               f"{expect[0]}/{expect[1]}")
    if PROGRAM not in manifest.files:
        raise PackageInvalid(Refusal.UNREADABLE, f"manifestet förtecknar ingen {PROGRAM}")

    problems: list[str] = []
    facts: dict[str, FileFacts] = {}
    kept: dict[str, bytes] = {}
    present = set(reader.names())
    for rel, entry in sorted(manifest.files.items()):
        if not is_safe_path(rel) or rel in UNLISTED:
            problems.append(f"otillåten sökväg i manifestet: {rel!r}")
            continue
        if rel not in present:
            problems.append(f"filen {rel} saknas (stympat paket?)")
            continue
        wanted = keep is not None and keep(rel)
        data = reader.read(rel) if wanted else None
        found = (FileFacts(len(data), hashlib.sha256(data).hexdigest()) if data is not None
                 else None if wanted else reader.facts(rel))
        if found is None:
            problems.append(f"{rel} är ingen vanlig fil eller går inte att läsa")
        elif found.size != entry.size:
            problems.append(f"filen {rel} har storleken {found.size}, manifestet säger {entry.size} "
                            "(stympad eller ändrad?)")
        elif found.sha256 != entry.sha256:
            problems.append(f"filen {rel} stämmer inte med sin sha256 i manifestet (ändrad efter bygget?)")
        else:
            facts[rel] = found
            if data is not None:
                kept[rel] = data
    problems += [f"filen {rel} finns i paketet men inte i manifestet"
                 for rel in sorted(present - set(manifest.files) - UNLISTED)]
    if problems:
        raise PackageInvalid(Refusal.CHANGED, _problems(problems))

    verified = VerifiedPackage(reader.name, manifest, manifest_bytes, hashlib.sha256(manifest_bytes).hexdigest(),
                               facts, kept=kept)
    if program:
        data = reader.read(PROGRAM)
        if data is None or hashlib.sha256(data).hexdigest() != manifest.files[PROGRAM].sha256:
            raise PackageInvalid(Refusal.CHANGED, f"{PROGRAM} ändrades under kontrollen")
        try:
            verified.program_json = json.loads(data)
            verified.program = ProgramData.model_validate_json(data)
        except ValueError as exc:  # ValidationError is a ValueError
            reason = _model_error(PROGRAM, exc) if isinstance(exc, ValidationError) else f"{PROGRAM} går inte att läsa ({exc})"
            raise PackageInvalid(Refusal.UNREADABLE, reason) from exc
        if (verified.program.program.id, verified.program.program.version) != ident:
            raise PackageInvalid(Refusal.IDENTITY, f"{PROGRAM} och {MANIFEST} anger olika program eller versioner")
    return verified


def read_fragment(data: bytes, rel: str) -> Fragment:
    """A step fragment from its verified bytes (raises PackageInvalid when it does not follow the model)."""
    try:
        return Fragment.model_validate_json(data)
    except ValidationError as exc:
        raise PackageInvalid(Refusal.UNREADABLE, _model_error(rel, exc)) from exc


# --- signatures -------------------------------------------------------------------------------


def load_public_key(path: Path) -> Ed25519PublicKey:
    """An Ed25519 public key from a PEM file (raises ValueError with a Swedish message)."""
    try:
        key = load_pem_public_key(Path(path).read_bytes())
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
    signature = private_key.sign((Path(package_dir) / MANIFEST).read_bytes())
    target = Path(package_dir) / SIGNATURE
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
