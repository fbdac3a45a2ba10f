"""Issue 12: the package contract (stegvis_package) — one reader, one verification, one version parser.

Every reader (runtime, `stegvis diff`, overlays on built bases) goes through these, so
their refusals are tested here once, for a folder and for a zip alike.
"""

from __future__ import annotations

import hashlib
import json
import zipfile
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from builder.config import BuildConfig
from builder.diagnostics import Diagnostics
from builder.pipeline import build_dir
from stegvis_package import PACKAGE_FORMAT
from stegvis_package.model import Fragment, FragmentPart, Manifest, patient_form
from stegvis_package.paths import fragment_path, is_safe_path
from stegvis_package.reader import NotAPackage, open_package
from stegvis_package.verify import PackageInvalid, Refusal, sign_manifest, verify
from stegvis_package.versions import core, is_version, next_patch, version_key
from tests.conftest import FIXTURES


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("dist")
    outcome = build_dir(FIXTURES / "minimal", BuildConfig(out=out, audio=False, pdf=False,
                                                          source_date_epoch=1700000000), Diagnostics())
    assert outcome.package is not None
    return out


@pytest.fixture
def folder(built: Path, tmp_path: Path) -> Path:
    import shutil

    target = tmp_path / "testprogram" / "0.1.0"
    shutil.copytree(built / "testprogram" / "0.1.0", target)
    return target


def refusal(path: Path, **kw) -> PackageInvalid:
    with open_package(path) as reader, pytest.raises(PackageInvalid) as caught:
        verify(reader, **kw)
    return caught.value


def test_folder_and_zip__verify_to_the_same_manifest_and_program__ok(built):
    with open_package(built / "testprogram" / "0.1.0") as a, open_package(built / "testprogram-0.1.0.zip") as b:
        va, vb = verify(a), verify(b)
    assert va.manifest == vb.manifest and va.program == vb.program and va.manifest_sha256 == vb.manifest_sha256
    assert va.program.program.id == "testprogram" and va.manifest.format == PACKAGE_FORMAT
    assert set(va.facts) == set(va.manifest.files)


@pytest.mark.parametrize(("damage", "kind", "words"), [
    (lambda p: (p / "start/valkommen.html").write_text("x"), Refusal.CHANGED, "storleken"),
    (lambda p: (p / "start/extra.html").write_text("x"), Refusal.CHANGED, "inte i manifestet"),
    (lambda p: (p / "program.json").unlink(), Refusal.CHANGED, "saknas"),
    (lambda p: (p / "manifest.json").write_text("[]"), Refusal.UNREADABLE, "går inte att läsa"),
    (lambda p: (p / "manifest.json").write_text(json.dumps({"format": 1})), Refusal.FORMAT, "paketformat 1"),
])
def test_damaged_folder__refused_with_its_kind__error(folder, damage, kind, words):
    damage(folder)
    found = refusal(folder)
    assert found.kind is kind and words in found.reason


def test_manifest_path_outside_the_package__refused__error(folder):
    manifest = json.loads((folder / "manifest.json").read_text())
    manifest["files"]["../../etc/passwd"] = manifest["files"]["program.json"]
    (folder / "manifest.json").write_text(json.dumps(manifest))
    found = refusal(folder)
    assert found.kind is Refusal.CHANGED and "otillåten sökväg" in found.reason


def test_symlink_in_folder__refused__error(folder, tmp_path):
    target = folder / "assets/stegvis.css"
    outside = tmp_path / "outside.css"
    outside.write_bytes(target.read_bytes())
    target.unlink()
    target.symlink_to(outside)
    assert refusal(folder).kind is Refusal.CHANGED


def test_changed_zip_entry__refused__error(built, tmp_path):
    src = built / "testprogram-0.1.0.zip"
    out = tmp_path / "t.zip"
    with zipfile.ZipFile(src) as zin, zipfile.ZipFile(out, "w") as zout:
        for info in zin.infolist():
            data = zin.read(info)
            zout.writestr(info, data.replace(b"kort", b"KORT") if info.filename.endswith("valkommen.html") else data)
    found = refusal(out)
    assert found.kind is Refusal.CHANGED and "start/valkommen.html" in found.reason


def test_signature__required_with_a_key_and_checked__error_then_ok(folder):
    key = Ed25519PrivateKey.generate()
    assert refusal(folder, public_key=key.public_key()).kind is Refusal.SIGNATURE
    sign_manifest(folder, Ed25519PrivateKey.generate())
    assert refusal(folder, public_key=key.public_key()).kind is Refusal.SIGNATURE
    sign_manifest(folder, key)
    with open_package(folder) as reader:
        assert verify(reader, public_key=key.public_key()).manifest.program.id == "testprogram"


def test_identity__program_json_must_match_manifest_and_folder__error(folder):
    with open_package(folder) as reader, pytest.raises(PackageInvalid) as caught:
        verify(reader, expect=("testprogram", "9.9.9"))
    assert caught.value.kind is Refusal.IDENTITY
    program = json.loads((folder / "program.json").read_text())
    program["program"]["version"] = "0.2.0"
    data = json.dumps(program).encode()
    (folder / "program.json").write_bytes(data)
    manifest = json.loads((folder / "manifest.json").read_text())
    manifest["files"]["program.json"] |= {"sha256": hashlib.sha256(data).hexdigest(), "size": len(data)}
    (folder / "manifest.json").write_text(json.dumps(manifest))
    assert refusal(folder).kind is Refusal.IDENTITY


def test_not_a_package__named__error(tmp_path):
    (tmp_path / "x.txt").write_text("x")
    for path, words in ((tmp_path, "manifest.json saknas"), (tmp_path / "x.txt", "varken"),
                        (tmp_path / "nej", "finns inte")):
        with pytest.raises(NotAPackage, match=words):
            open_package(path)


def test_manifest_model__audience_scopes_are_exclusive__error():
    entry = {"sha256": "0" * 64, "size": 1}
    base = {"format": PACKAGE_FORMAT, "program": {"id": "p", "version": "1.0.0", "title": "P"},
            "builder": {"name": "stegvis", "version": "0"}, "content_hash": "x"}
    Manifest.model_validate(base | {"files": {"a": entry | {"audience": "patient", "step": "m/s"}}})
    for bad in ({"audience": "staff", "step": "m/s"}, {"audience": "patient", "step": "m/s", "module": "m"},
                {"audience": "reviewer"}, {}):
        with pytest.raises(ValueError):
            Manifest.model_validate(base | {"files": {"a": entry | bad}})


def test_fragment_model__a_part_is_html_or_a_form__error():
    Fragment(format=2, module="m", step="s", page="m/s.html", title="T", add_heading=True,
             parts=[FragmentPart(html="<p>x</p>"), FragmentPart(form="f")])
    for bad in ({}, {"html": "<p>", "form": "f"}):
        with pytest.raises(ValueError):
            FragmentPart(**bad)
    assert fragment_path("m", "s") == "fragments/m/s.json"


def test_patient_form__drops_scoring_points_and_flags__ok(built):
    program = json.loads((built / "testprogram/0.1.0/program.json").read_text())
    form = program["forms"]["mal"]
    assert "scoring" in form and any("points" in o for q in form["questions"] for o in q.get("options", []))
    seen = patient_form(form)
    assert "scoring" not in seen and "flag_on_submit" not in seen
    assert all("points" not in o for q in seen["questions"] for o in q.get("options", []))
    assert [q["id"] for q in seen["questions"]] == [q["id"] for q in form["questions"]]
    assert form["scoring"]  # the package's own data is not changed


@pytest.mark.parametrize(("rel", "safe"), [
    ("start/valkommen.html", True), ("media/bilder/sol.8e49a95656.svg", True), ("", False), ("/etc/passwd", False),
    ("a/../b", False), ("./a", False), ("a\\b", False), ("a b", False), ("å.svg", False),
])
def test_safe_path__plain_relative_segments_only(rel, safe):
    assert is_safe_path(rel) is safe


def test_versions__semver_order_and_bumps():
    assert version_key("1.0.0-rc.1") < version_key("1.0.0") < version_key("1.0.1") < version_key("1.10.0")
    assert version_key("1.0.0+build.7") == version_key("1.0.0")
    assert not is_version("1.0") and not is_version("v1.0.0") and is_version("2.0.0-beta.2+x")
    assert core("2.3.4-rc.1") == (2, 3, 4)
    assert next_patch("1.2.3") == "1.2.4" and next_patch("1.2.3-rc.1") == "1.2.3"
    with pytest.raises(ValueError):
        version_key("ett")
