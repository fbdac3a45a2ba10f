"""Issue 16: the example proxy configurations under deploy/ are valid for the proxies Debian ships.

`haproxy -c` checks deploy/haproxy.cfg and `nginx -t` a main configuration that includes
deploy/nginx-stegvis.conf, each with a throwaway self-signed certificate in place of the
region's. Each test is skipped when its proxy is not installed.
"""

from __future__ import annotations

import datetime
import shutil
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
DEPLOY = ROOT / "deploy"


def self_signed(folder: Path) -> tuple[Path, Path]:
    """A certificate and its key for stegvis.region.se (PEM files)."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "stegvis.region.se")])
    now = datetime.datetime.now(datetime.UTC)
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
            .serial_number(x509.random_serial_number()).not_valid_before(now)
            .not_valid_after(now + datetime.timedelta(days=1)).sign(key, hashes.SHA256()))
    cert_file, key_file = folder / "cert.pem", folder / "key.pem"
    cert_file.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_file.write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                           serialization.NoEncryption()))
    return cert_file, key_file


@pytest.mark.skipif(shutil.which("haproxy") is None, reason="haproxy is not installed")
def test_haproxy_example__valid(tmp_path):
    cert, key = self_signed(tmp_path)
    bundle = tmp_path / "bundle.pem"
    bundle.write_bytes(cert.read_bytes() + key.read_bytes())
    text = (DEPLOY / "haproxy.cfg").read_text("utf-8")
    assert "/etc/haproxy/certs/stegvis.region.se.pem" in text
    directives = [line.split()[0] for line in text.splitlines() if line.strip() and not line.lstrip().startswith("#")]
    assert "balance" in directives and not {"cookie", "stick-table", "stick"} & set(directives)  # no stickiness
    config = tmp_path / "haproxy.cfg"
    config.write_text(text.replace("/etc/haproxy/certs/stegvis.region.se.pem", str(bundle)), "utf-8")
    result = subprocess.run(["haproxy", "-c", "-f", str(config)], capture_output=True, text=True, timeout=30)
    assert result.returncode == 0, result.stdout + result.stderr


@pytest.mark.skipif(shutil.which("nginx") is None, reason="nginx is not installed")
def test_nginx_example__valid(tmp_path):
    cert, key = self_signed(tmp_path)
    text = (DEPLOY / "nginx-stegvis.conf").read_text("utf-8")
    server = tmp_path / "stegvis.conf"
    server.write_text(text.replace("/etc/ssl/certs/stegvis.region.se.crt", str(cert))
                      .replace("/etc/ssl/private/stegvis.region.se.key", str(key)), "utf-8")
    main = tmp_path / "nginx.conf"
    main.write_text(f"pid {tmp_path}/nginx.pid;\nerror_log stderr;\nevents {{}}\n"
                    f"http {{\n  access_log off;\n  include {server};\n}}\n", "utf-8")
    result = subprocess.run(["nginx", "-t", "-c", str(main), "-p", str(tmp_path)], capture_output=True, text=True,
                            timeout=30)
    assert result.returncode == 0, result.stdout + result.stderr
