"""The test OpenID Connect provider (provider.mjs, node's oidc-provider) seen from the tests (issue #13).

`start_provider` runs it on a free 127.0.0.1 port with two clients for the given runtime
addresses: "stegvis-e-legitimation" for patients (client_secret_basic) and "stegvis-siths"
for staff (private_key_jwt, with a key made here). `provider_configs` gives the runtime's
matching settings, and `log_in_at_provider` walks its login page with requests, the way
a person would with a browser, up to the redirect back to the runtime.
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import threading
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urljoin

HERE = Path(__file__).resolve().parent
SCRIPT = HERE / "provider.mjs"
MODULE = HERE.parent / "node_modules" / "oidc-provider" / "package.json"
PATIENT_SECRET = "test-hemlighet-patient"

PNR = "https://id.oidc.se/claim/personalIdentityNumber"
PEOPLE = {
    "anna": {"name": "Anna Test", PNR: "191212121212"},
    "bertil": {"name": "Bertil Test", PNR: "197010632391"},
    "greta": {"name": "Greta Gren", PNR: "195502114936"},
    "okand_patient": {"name": "Olle Okänd", PNR: "198112189876"},
    "utan_nummer": {"name": "Utan Nummer"},
    "fel_nummer": {"name": "Fel Nummer", PNR: "191212121213"},
    "tove": {"name": "Tove Test", "employeeHsaId": "SE0000000000-TOVE"},
    "okand": {"name": "Okänd Personal", "employeeHsaId": "SE0000000000-OKAND"},
}


def missing() -> str | None:
    """Why the provider cannot run here, or None."""
    if shutil.which("node") is None:
        return "node missing (Debian package nodejs)"
    if not MODULE.exists():
        return "oidc-provider missing (`make test` runs npm ci in tests/runtime)"
    return None


@dataclass
class TestProvider:
    """A running provider: its issuer, and the staff client's private key (PEM file)."""

    __test__ = False  # not a test class, whatever pytest thinks of the name
    issuer: str
    process: subprocess.Popen
    staff_key: Path

    def stop(self) -> None:
        """Stop the node process."""
        self.process.terminate()
        try:
            self.process.wait(10)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait(5)
        if self.process.stdout is not None:
            self.process.stdout.close()


def make_staff_key(folder: Path) -> tuple[Path, dict]:
    """An RSA key for the staff client's private_key_jwt: the PEM file, and the public JWK for the provider."""
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import rsa
    from joserfc.jwk import RSAKey

    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                            serialization.NoEncryption())
    path = folder / "siths-client-key.pem"
    path.write_bytes(pem)
    public = RSAKey.import_key(pem).as_dict(private=False)
    return path, {**public, "kid": "stegvis-siths-1", "use": "sig", "alg": "RS256"}


def start_provider(folder: Path, runtime_bases: list[str], people: dict | None = None) -> TestProvider:
    """Start provider.mjs on a free loopback port, with clients whose redirect URIs point at `runtime_bases`."""
    key_path, public_jwk = make_staff_key(folder)
    config = {
        "port": 0,
        "people": people or PEOPLE,
        "clients": [
            {"client_id": "stegvis-e-legitimation", "client_secret": PATIENT_SECRET,
             "redirect_uris": [f"{b}/logga-in/oidc/e-legitimation/tillbaka" for b in runtime_bases],
             "post_logout_redirect_uris": [f"{b}/utloggad" for b in runtime_bases]},
            {"client_id": "stegvis-siths", "token_endpoint_auth_method": "private_key_jwt",
             "jwks": {"keys": [public_jwk]},
             "redirect_uris": [f"{b}/logga-in/oidc/siths/tillbaka" for b in runtime_bases],
             "post_logout_redirect_uris": [f"{b}/utloggad" for b in runtime_bases]},
        ],
    }
    config_path = folder / "provider.json"
    config_path.write_text(json.dumps(config), "utf-8")
    process = subprocess.Popen(["node", str(SCRIPT), str(config_path)], stdout=subprocess.PIPE,
                               stderr=subprocess.DEVNULL, text=True)
    line: list[str] = []
    reader = threading.Thread(target=lambda: line.append(process.stdout.readline()), daemon=True)
    reader.start()
    reader.join(20)
    if not line or not line[0].strip():
        process.kill()
        raise RuntimeError("the test OpenID Connect provider did not start")
    return TestProvider(json.loads(line[0])["issuer"], process, key_path)


def provider_configs(provider: TestProvider, **patient_extra) -> tuple:
    """The runtime's settings for the two test clients."""
    from runtime.oidc import OidcProviderConfig

    patient = OidcProviderConfig(name="e-legitimation", kind="patient", discovery_url=provider.issuer,
                                 client_id="stegvis-e-legitimation", client_secret=PATIENT_SECRET, **patient_extra)
    staff = OidcProviderConfig(name="siths", kind="staff", discovery_url=provider.issuer, client_id="stegvis-siths",
                               auth_method="private_key_jwt", private_key_file=provider.staff_key,
                               private_key_id="stegvis-siths-1")
    return patient, staff


FORM = re.compile(r'<form method="post" action="([^"]+)"')


def log_in_at_provider(authorization_url: str, person: str, runtime_base: str, action: str = "login") -> str:
    """Follow the provider's pages as a browser would, pick `person`, and return the URL back to the runtime."""
    import requests

    with requests.Session() as session:
        url, method, data = authorization_url, "GET", None
        for _ in range(10):
            response = session.request(method, url, data=data, allow_redirects=False, timeout=10)
            if response.is_redirect:
                url, method, data = urljoin(url, response.headers["location"]), "GET", None
                if url.startswith(runtime_base):
                    return url
                continue
            form = FORM.search(response.text)
            assert form is not None, (response.status_code, response.text[:500])
            url, method, data = urljoin(url, form.group(1)), "POST", {"person": person, "action": action}
    raise AssertionError("the provider never sent the browser back")
