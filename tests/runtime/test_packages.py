"""Issue #8: the package store verifies every package before serving it.

A tampered, truncated, padded or unsigned-when-required package is refused with one
clear log line naming the package and the reason, while the others are served;
several versions live side by side; a rescan (SIGHUP or the admin call) picks up
new packages without a restart.
"""

from __future__ import annotations

import json
import logging
import shutil
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

from runtime.packages import PackageStore, load_public_key, sign_manifest, version_key

PACKAGE = ("testprogram", "0.1.0")


def second_version(packages: Path, version: str = "0.2.0") -> Path:
    """A copy of the test package under another version (manifest and program.json rewritten)."""
    import hashlib

    src = packages / "testprogram" / "0.1.0"
    dst = packages / "testprogram" / version
    shutil.copytree(src, dst)
    program = json.loads((dst / "program.json").read_text("utf-8"))
    program["program"]["version"] = version
    data = (json.dumps(program, ensure_ascii=False, indent=2) + "\n").encode()
    (dst / "program.json").write_bytes(data)
    manifest = json.loads((dst / "manifest.json").read_text("utf-8"))
    manifest["program"]["version"] = version
    manifest["files"]["program.json"] |= {"sha256": hashlib.sha256(data).hexdigest(), "size": len(data)}
    (dst / "manifest.json").write_text(json.dumps(manifest, indent=2), "utf-8")
    return dst


def test_valid_package__served(packages):
    store = PackageStore(packages)
    report = store.scan()
    assert report.loaded == [PACKAGE] and report.refused == {}
    package = store.get(*PACKAGE)
    assert package.title == "Testprogrammet" and package.step("start", "valkommen") is not None


@pytest.mark.parametrize(("damage", "reason"), [
    (lambda p: (p / "start" / "valkommen.html").write_text("<p>ändrad</p>", "utf-8"), "storleken"),
    (lambda p: (p / "start" / "valkommen.html").write_bytes(
        (p / "start" / "valkommen.html").read_bytes().replace(b"kort", b"KORT")), "sha256"),
    (lambda p: (p / "program.json").write_bytes((p / "program.json").read_bytes()[:100]), "stympad"),
    (lambda p: (p / "start" / "valkommen.html").unlink(), "saknas"),
    (lambda p: (p / "start" / "extra.html").write_text("<script>alert(1)</script>", "utf-8"), "inte i manifestet"),
    (lambda p: (p / "manifest.json").write_text("{", "utf-8"), "går inte att läsa"),
    (lambda p: (p / "manifest.json").unlink(), "manifest.json saknas"),
])
def test_damaged_package__refused_with_a_log_line_others_served(packages, caplog, damage, reason):
    second_version(packages)
    damage(packages / "testprogram" / "0.1.0")
    caplog.set_level(logging.INFO, logger="stegvis.runtime.packages")
    store = PackageStore(packages)
    report = store.scan()
    assert report.loaded == [("testprogram", "0.2.0")]
    assert store.get(*PACKAGE) is None
    lines = [r.getMessage() for r in caplog.records if r.levelno >= logging.ERROR]
    assert len(lines) == 1 and "testprogram/0.1.0" in lines[0] and reason in lines[0], lines


def test_signature_required__unsigned_and_forged_refused_signed_served(packages, tmp_path, caplog):
    key = Ed25519PrivateKey.generate()
    public = tmp_path / "publik.pem"
    public.write_bytes(key.public_key().public_bytes(Encoding.PEM, PublicFormat.SubjectPublicKeyInfo))
    folder = packages / "testprogram" / "0.1.0"
    other = second_version(packages)
    store = PackageStore(packages, load_public_key(public))
    assert store.scan().loaded == []
    assert "signatur krävs" in store.refused["testprogram/0.1.0"]
    sign_manifest(folder, key)
    sign_manifest(other, Ed25519PrivateKey.generate())  # the wrong key
    report = store.scan()
    assert report.loaded == [PACKAGE]
    assert "stämmer inte" in report.refused["testprogram/0.2.0"]
    # A manifest edited after signing (e.g. to hide a changed file) breaks the signature.
    manifest = json.loads((folder / "manifest.json").read_text("utf-8"))
    manifest["builder"]["version"] = "9.9.9"
    (folder / "manifest.json").write_text(json.dumps(manifest), "utf-8")
    assert store.scan().loaded == []


def test_signature_format__base64_of_ed25519_over_manifest_bytes(packages):
    import base64

    key = Ed25519PrivateKey.generate()
    folder = packages / "testprogram" / "0.1.0"
    sig = sign_manifest(folder, key)
    raw = base64.b64decode(sig.read_text("ascii").strip(), validate=True)
    assert len(raw) == 64
    key.public_key().verify(raw, (folder / "manifest.json").read_bytes())


def test_versions_side_by_side__newest_is_latest(packages):
    second_version(packages, "0.10.0")
    second_version(packages, "0.2.0-rc.1")
    store = PackageStore(packages)
    store.scan()
    assert [p.version for p in store.all()] == ["0.1.0", "0.2.0-rc.1", "0.10.0"]
    assert store.latest("testprogram").version == "0.10.0"
    assert version_key("1.0.0-rc.1") < version_key("1.0.0") < version_key("1.0.1")


def test_rescan__new_package_appears_removed_disappears_unchanged_kept(packages):
    store = PackageStore(packages)
    store.scan()
    first = store.get(*PACKAGE)
    second_version(packages)
    store.scan()
    assert store.get("testprogram", "0.2.0") is not None
    assert store.get(*PACKAGE) is first  # not verified and loaded again
    shutil.rmtree(packages / "testprogram" / "0.2.0")
    store.scan()
    assert store.get("testprogram", "0.2.0") is None


def test_changed_file_after_verification__not_served(packages):
    store = PackageStore(packages)
    store.scan()
    path = packages / "testprogram" / "0.1.0" / "assets" / "stegvis.css"
    assert store.get(*PACKAGE).file_path("assets/stegvis.css") == path
    path.write_text("body { color: red }", "utf-8")
    assert store.get(*PACKAGE).file_path("assets/stegvis.css") is None
    assert store.get(*PACKAGE).file_path("../../../etc/passwd") is None


def test_admin_rescan__over_the_api(app, people, tove, packages):
    second_version(packages)
    assert app.state.stegvis.store.get("testprogram", "0.2.0") is None
    response = tove.api("POST", "/api/v1/admin/packages/rescan")
    assert response.status_code == 200
    assert {"program_id": "testprogram", "version": "0.2.0", "title": "Testprogrammet"} in response.json()["loaded"]


def test_sighup__rescans_the_store(packages, sqlite_url, tmp_path):
    """`stegvis runtime` as a process: a package added while it runs is served after SIGHUP."""
    import os
    import signal
    import time

    import httpx2 as httpx
    from test_restart import free_port, start

    port = free_port()
    server = start(packages, sqlite_url, port, tmp_path / "server.log")
    try:
        def served() -> int:
            return httpx.get(f"http://127.0.0.1:{port}/halsa", timeout=5).json()["packages"]

        assert served() == 1
        second_version(packages)
        assert served() == 1  # not before the signal
        os.kill(server.pid, signal.SIGHUP)
        deadline = time.monotonic() + 10
        while served() != 2 and time.monotonic() < deadline:
            time.sleep(0.05)
        assert served() == 2, (tmp_path / "server.log").read_text()[-2000:]
        assert server.poll() is None  # the signal rescans; it does not stop the server
    finally:
        server.kill()
        server.wait()


def test_enrolment_pinned__its_version_missing_gives_a_clear_page(app, people, anna, packages):
    shutil.rmtree(packages / "testprogram" / "0.1.0")
    app.state.stegvis.store.scan()
    response = anna.get(f"/moment/{people.enrolment_a}")
    assert response.status_code == 503 and "går inte att visa just nu" in response.text
