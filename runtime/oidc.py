"""OpenID Connect relying party (issue #13): configuration, discovery, the code flow, ID-token checks.

Patients log in with e-identification (BankID, Freja eID+) and staff with SITHS, through
the region's identity provider or a broker; both speak OpenID Connect. This module is
the protocol, with Authlib (its requests client for the code exchange and client
authentication, joserfc for the signature, its `CodeIDToken` for the claims):

- the authorization code flow with PKCE (S256), a fresh `state` and `nonce` per login;
- the token request authenticated by client_secret_basic, client_secret_post or
  private_key_jwt (RFC 7523);
- the ID token's signature verified against the provider's JWKS (fetched again once
  when a token names a key we do not have), only with asymmetric algorithms the
  discovery document lists; `iss` equal to the discovery document's issuer (which
  must itself be the discovery URL without `/.well-known/openid-configuration`),
  `aud` exactly our client id, `azp` ours when present, `exp`/`iat`/`nbf` with a
  bounded clock skew, `nonce` equal to the one sent, `at_hash` when present, and
  `acr` among the configured values when any are configured;
- the person's identifier read from the configured claim (personnummer or
  samordningsnummer for patients, HSA-id for staff);
- RP-initiated logout: the end_session_endpoint with `id_token_hint` and
  `post_logout_redirect_uri`.

Configuration is a TOML or JSON file (`--oidc-config PATH` or `STEGVIS_OIDC_CONFIG`) with
one `[[provider]]` table per provider; `load_oidc_config` validates it and
raises `OidcConfigError` with every problem listed.

Must not: import FastAPI or touch the database (runtime/oidc_login.py keeps the logins
under way and matches people); log tokens, claims or personnummer.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import secrets
import threading
import time
import tomllib
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any, Literal
from urllib.parse import urlencode, urlsplit

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from runtime.i18n import N_

log = logging.getLogger("stegvis.runtime.oidc")

WELL_KNOWN = "/.well-known/openid-configuration"
#: Signature algorithms an ID token may use: asymmetric only (never "none", never a shared secret).
ASYMMETRIC = ("RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "ES256", "ES384", "ES512", "EdDSA")
#: How long discovery documents and key sets are kept before they are fetched again.
METADATA_TTL = 3600.0
#: At most one fetch of the key set per this many seconds because of an unknown key id.
JWKS_REFETCH_SECONDS = 60.0

Kind = Literal["patient", "staff"]

#: The Swedish OpenID Connect profile's claims (oidc.se); samordningsnummer has its own claim there.
PATIENT_CLAIMS = ("https://id.oidc.se/claim/personalIdentityNumber", "https://id.oidc.se/claim/coordinationNumber")
DEFAULTS: dict[str, dict[str, Any]] = {
    "patient": {"label": "Logga in med e-legitimation",
                "scopes": ("openid", "https://id.oidc.se/scope/naturalPersonNumber"),
                "claims": PATIENT_CLAIMS},
    # Inera's identity provider names the person's HSA-id "employeeHsaId"; brokers differ, so say which.
    "staff": {"label": "Logga in med SITHS-kort", "scopes": ("openid", "profile"), "claims": ("employeeHsaId",)},
}


class OidcConfigError(ValueError):
    """The OpenID Connect configuration cannot be used; the message says what to change."""


class OidcProviderConfig(BaseModel):
    """One OpenID Connect provider the runtime logs people in through."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    name: str = Field(pattern=r"^[a-z0-9][a-z0-9-]{0,23}$", description="Short id in URLs and logs: "
                      "lower-case letters, digits and hyphens, e.g. \"e-legitimation\" or \"siths\".")
    kind: Kind = Field(description="\"patient\": matched by personnummer or samordningsnummer to a patient "
                       "a therapist started; \"staff\": matched by HSA-id to a member of staff.")
    discovery_url: str = Field(description="The provider's issuer URL or its discovery document "
                               "(…/.well-known/openid-configuration). https, or http on a loopback address.")
    client_id: str = Field(min_length=1, description="Our client id at the provider.")
    client_secret: str | None = Field(None, repr=False, description="Client secret (client_secret_basic/post); "
                                      "prefer client_secret_env.")
    client_secret_env: str | None = Field(None, description="Name of the environment variable that holds the "
                                          "client secret (read when the configuration is loaded).")
    auth_method: Literal["client_secret_basic", "client_secret_post", "private_key_jwt"] = Field(
        "client_secret_basic", description="How the runtime authenticates at the token endpoint.")
    private_key_file: Path | None = Field(None, description="PEM private key for private_key_jwt.")
    private_key_id: str | None = Field(None, description="The key's `kid`, when the provider needs it.")
    private_key_alg: Literal["RS256", "PS256", "ES256"] = Field("RS256", description="Signature of the "
                                                                "client assertion.")
    scopes: tuple[str, ...] = Field(default=(), description="Scopes asked for; `openid` is required. Default: "
                                    "patient: openid + the Swedish profile's naturalPersonNumber; staff: "
                                    "openid profile.")
    claims: tuple[str, ...] = Field(default=(), description="Claims that may carry the identifier, tried in "
                                    "order. Default: patient: the Swedish profile's personalIdentityNumber, "
                                    "then coordinationNumber; staff: employeeHsaId.")
    acr_values: tuple[str, ...] = Field((), description="Levels of assurance to ask for; when given, the ID "
                                        "token's `acr` must be one of them.")
    label: str | None = Field(None, description="The login button's text. Default: \"Logga in med "
                              "e-legitimation\" (patient), \"Logga in med SITHS-kort\" (staff).")
    clock_skew_seconds: int = Field(60, ge=0, le=300, description="Tolerated clock difference for exp, iat, nbf.")
    timeout_seconds: float = Field(10.0, gt=0, le=60, description="Seconds to wait for the provider.")
    login_minutes: int = Field(10, ge=1, le=60, description="How long a person may take at the provider.")

    @model_validator(mode="before")
    @classmethod
    def _defaults_by_kind(cls, data: Any) -> Any:
        if isinstance(data, Mapping) and data.get("kind") in DEFAULTS:
            data = dict(data)
            for key in ("scopes", "claims", "label"):
                if not data.get(key):
                    data[key] = DEFAULTS[data["kind"]][key]
        return data

    @field_validator("discovery_url")
    @classmethod
    def _discovery(cls, value: str) -> str:
        value = value.strip().rstrip("/")
        parts = urlsplit(value)
        loopback = parts.hostname in ("localhost", "127.0.0.1", "::1")
        if parts.scheme != "https" and not (parts.scheme == "http" and loopback):
            raise ValueError("must be an https:// address (http:// only on localhost, for tests)")
        if parts.query or parts.fragment:
            raise ValueError("must not have a query or fragment")
        return value if value.endswith(WELL_KNOWN) else value + WELL_KNOWN

    @model_validator(mode="after")
    def _consistent(self) -> OidcProviderConfig:
        if "openid" not in self.scopes:
            raise ValueError("scopes must include \"openid\"")
        if self.auth_method == "private_key_jwt":
            if self.private_key_file is None:
                raise ValueError("auth_method private_key_jwt needs private_key_file")
        elif not self.client_secret:
            raise ValueError(f"auth_method {self.auth_method} needs client_secret or client_secret_env "
                             "(with the variable set)")
        return self

    @property
    def issuer(self) -> str:
        """The issuer the discovery document must name (OpenID Connect Discovery 1.0, 4.3)."""
        return self.discovery_url[: -len(WELL_KNOWN)]

    @property
    def login_provider_name(self) -> str:
        """The name stored on sessions this provider started (fits sessions.provider)."""
        return f"oidc:{self.name}"


def load_oidc_config(path: Path, environ: Mapping[str, str] | None = None) -> tuple[OidcProviderConfig, ...]:
    """The providers in a TOML or JSON file; raises OidcConfigError listing every problem.

    The file holds `provider`, a list of tables (TOML: `[[provider]]`). A provider's
    `client_secret_env` names an environment variable, read here.
    """
    environ = os.environ if environ is None else environ
    where = f"OpenID Connect-konfigurationen {path}"
    try:
        text = path.read_text("utf-8")
    except OSError as exc:
        raise OidcConfigError(f"{where} går inte att läsa: {exc.strerror or exc}.") from None
    try:
        data = json.loads(text) if path.suffix.lower() == ".json" else tomllib.loads(text)
    except (json.JSONDecodeError, tomllib.TOMLDecodeError) as exc:
        raise OidcConfigError(f"{where} är inte giltig {'JSON' if path.suffix.lower() == '.json' else 'TOML'}: "
                              f"{exc}.") from None
    if not isinstance(data, dict) or set(data) - {"provider"}:
        raise OidcConfigError(f"{where}: bara nyckeln \"provider\" (en lista av leverantörer) är tillåten, "
                              f"inte {sorted(set(data) - {'provider'}) if isinstance(data, dict) else data!r}.")
    raw = data.get("provider") or []
    if not isinstance(raw, list):
        raise OidcConfigError(f"{where}: \"provider\" ska vara en lista ([[provider]] i TOML).")
    problems: list[str] = []
    providers: list[OidcProviderConfig] = []
    for i, entry in enumerate(raw):
        if isinstance(entry, dict) and entry.get("client_secret_env") and not entry.get("client_secret"):
            entry = {**entry, "client_secret": environ.get(str(entry["client_secret_env"]), "").strip() or None}
        if isinstance(entry, dict) and entry.get("private_key_file"):
            key = Path(str(entry["private_key_file"]))
            entry = {**entry, "private_key_file": key if key.is_absolute() else path.parent / key}
        try:
            providers.append(OidcProviderConfig.model_validate(entry))
        except ValidationError as exc:
            for error in exc.errors():
                loc = ".".join(str(p) for p in error["loc"])
                problems.append(f"provider[{i}]{'.' + loc if loc else ''}: {error['msg']}")
    names = [str(entry.get("name")) for entry in raw if isinstance(entry, dict) and entry.get("name")]
    problems += [f"provider name \"{n}\" is used twice" for n in sorted({n for n in names if names.count(n) > 1})]
    if problems:
        raise OidcConfigError(f"{where} går inte att använda:\n" + "\n".join(f"  - {p}" for p in problems))
    for provider in providers:
        check_private_key(provider)
    return tuple(providers)


def check_private_key(config: OidcProviderConfig) -> None:
    """Load the private_key_jwt key once, so a bad key stops the start, not the first login."""
    if config.auth_method == "private_key_jwt":
        _load_private_key(config)


def _load_private_key(config: OidcProviderConfig):
    from joserfc.jwk import ECKey, RSAKey

    assert config.private_key_file is not None
    try:
        pem = config.private_key_file.read_bytes()
    except OSError as exc:
        raise OidcConfigError(f"Leverantören \"{config.name}\": private_key_file {config.private_key_file} går "
                              f"inte att läsa: {exc.strerror or exc}.") from None
    cls = ECKey if config.private_key_alg == "ES256" else RSAKey
    try:
        key = cls.import_key(pem, {"kid": config.private_key_id} if config.private_key_id else None)
    except Exception as exc:  # joserfc and cryptography raise many kinds for a bad PEM
        raise OidcConfigError(f"Leverantören \"{config.name}\": private_key_file {config.private_key_file} är "
                              f"inte en privat {cls.key_type}-nyckel i PEM ({type(exc).__name__}).") from None
    if not key.is_private:
        raise OidcConfigError(f"Leverantören \"{config.name}\": private_key_file {config.private_key_file} "
                              "innehåller en publik nyckel; den privata behövs.")
    return key


# --- the protocol --------------------------------------------------------------------------------


class OidcError(Exception):
    """A login through the provider that cannot go on.

    `reason` is a short English code for the access log and the application log
    (never a claim's value); `message` is Swedish, for the person.
    """

    def __init__(self, reason: str, message: str | None = None) -> None:
        super().__init__(reason)
        self.reason = reason
        self.message = message or REFUSED


REFUSED = N_("Inloggningen kunde inte slutföras. Försök igen, och kontakta din vårdenhet om det inte går.")
UNAVAILABLE = N_("Inloggningstjänsten svarar inte just nu. Försök igen om en stund.")


@dataclass(frozen=True)
class ProviderMetadata:
    """What the runtime uses of a provider's discovery document."""

    issuer: str
    authorization_endpoint: str
    token_endpoint: str
    jwks_uri: str
    end_session_endpoint: str | None
    algorithms: tuple[str, ...]


@dataclass(frozen=True)
class AuthorizationRequest:
    """A login about to be sent to the provider: the URL, and what must be kept until it comes back."""

    url: str
    state: str
    nonce: str
    code_verifier: str


@dataclass(frozen=True)
class VerifiedLogin:
    """A login the provider vouched for: the checked ID token's claims, and the token itself (for logout)."""

    claims: dict[str, Any]
    id_token: str


def _get_json(url: str, timeout: float) -> dict[str, Any]:
    import requests

    try:
        response = requests.get(url, timeout=timeout, allow_redirects=False, headers={"Accept": "application/json"})
        response.raise_for_status()
        data = response.json()
    except (requests.RequestException, ValueError) as exc:
        raise OidcError("provider_unavailable", UNAVAILABLE) from exc
    if not isinstance(data, dict):
        raise OidcError("provider_unavailable", UNAVAILABLE)
    return data


class OidcClient:
    """The runtime as a relying party of one provider: discovery and keys (cached), the flow, the checks.

    Safe to share between threads: the caches are replaced whole under a lock.
    """

    def __init__(self, config: OidcProviderConfig, fetch_json: Callable[[str, float], dict] = _get_json,
                 monotonic: Callable[[], float] = time.monotonic) -> None:
        self.config = config
        self._fetch = fetch_json
        self._monotonic = monotonic
        self._lock = threading.Lock()
        self._metadata: tuple[ProviderMetadata, float] | None = None
        self._jwks: tuple[dict, float] | None = None
        self._last_jwks_refetch = -JWKS_REFETCH_SECONDS
        self._private_key = _load_private_key(config) if config.auth_method == "private_key_jwt" else None

    # discovery and keys

    def metadata(self) -> ProviderMetadata:
        """The provider's discovery document (fetched at first use and hourly), checked."""
        with self._lock:
            cached = self._metadata
        if cached is not None and self._monotonic() - cached[1] < METADATA_TTL:
            return cached[0]
        doc = self._fetch(self.config.discovery_url, self.config.timeout_seconds)
        metadata = self._check_metadata(doc)
        with self._lock:
            self._metadata = (metadata, self._monotonic())
        return metadata

    def _check_metadata(self, doc: dict[str, Any]) -> ProviderMetadata:
        name = self.config.name
        if doc.get("issuer") != self.config.issuer:
            log.error("Leverantören %s: discovery-dokumentets issuer %r är inte %r.", name, doc.get("issuer"),
                      self.config.issuer)
            raise OidcError("issuer_mismatch", UNAVAILABLE)
        missing = [k for k in ("authorization_endpoint", "token_endpoint", "jwks_uri") if not doc.get(k)]
        if missing:
            log.error("Leverantören %s: discovery-dokumentet saknar %s.", name, ", ".join(missing))
            raise OidcError("metadata_incomplete", UNAVAILABLE)
        methods = doc.get("code_challenge_methods_supported")
        if methods is not None and "S256" not in methods:
            log.error("Leverantören %s stöder inte PKCE med S256.", name)
            raise OidcError("no_pkce_s256", UNAVAILABLE)
        offered = doc.get("id_token_signing_alg_values_supported") or ["RS256"]
        algorithms = tuple(a for a in offered if a in ASYMMETRIC)
        if not algorithms:
            log.error("Leverantören %s signerar ID-token bara med %s.", name, offered)
            raise OidcError("no_usable_algorithm", UNAVAILABLE)
        return ProviderMetadata(doc["issuer"], doc["authorization_endpoint"], doc["token_endpoint"],
                                doc["jwks_uri"], doc.get("end_session_endpoint"), algorithms)

    def _key_set(self, refetch: bool = False):
        from joserfc.jwk import KeySet

        with self._lock:
            cached = self._jwks
            if refetch:
                if self._monotonic() - self._last_jwks_refetch < JWKS_REFETCH_SECONDS:
                    refetch = False
                else:
                    self._last_jwks_refetch = self._monotonic()
        if cached is None or refetch or self._monotonic() - cached[1] >= METADATA_TTL:
            jwks = self._fetch(self.metadata().jwks_uri, self.config.timeout_seconds)
            with self._lock:
                self._jwks = cached = (jwks, self._monotonic())
        try:
            return KeySet.import_key_set(cached[0])
        except Exception as exc:  # a malformed key set: no login until the provider fixes it
            raise OidcError("bad_jwks", UNAVAILABLE) from exc

    # the flow

    def authorization_request(self, redirect_uri: str) -> AuthorizationRequest:
        """A fresh state, nonce and PKCE verifier, and the URL that sends the person to the provider."""
        metadata = self.metadata()
        state, nonce, verifier = secrets.token_urlsafe(32), secrets.token_urlsafe(32), secrets.token_urlsafe(48)
        extra = {"acr_values": " ".join(self.config.acr_values)} if self.config.acr_values else {}
        with self._session() as session:
            url, _ = session.create_authorization_url(metadata.authorization_endpoint, state=state,
                                                      code_verifier=verifier, nonce=nonce,
                                                      redirect_uri=redirect_uri, **extra)
        return AuthorizationRequest(url, state, nonce, verifier)

    def _session(self):
        from authlib.integrations.requests_client import OAuth2Session
        from authlib.oauth2.rfc7523 import PrivateKeyJWT

        c = self.config
        secret = self._private_key if c.auth_method == "private_key_jwt" else c.client_secret
        session = OAuth2Session(c.client_id, secret, token_endpoint_auth_method=c.auth_method,
                                scope=" ".join(c.scopes), code_challenge_method="S256")
        if c.auth_method == "private_key_jwt":
            headers = {"kid": c.private_key_id} if c.private_key_id else None
            session.register_client_auth_method(PrivateKeyJWT(self.metadata().token_endpoint, headers=headers,
                                                              alg=c.private_key_alg))
        return session

    def finish(self, code: str, code_verifier: str, redirect_uri: str, nonce: str, now: datetime) -> VerifiedLogin:
        """Exchange the code (with the PKCE verifier) for tokens and verify the ID token."""
        import requests
        from authlib.integrations.base_client import OAuthError

        if not code or len(code) > 2000:
            raise OidcError("no_code")
        metadata = self.metadata()
        try:
            with self._session() as session:
                token = session.fetch_token(metadata.token_endpoint, grant_type="authorization_code", code=code,
                                            code_verifier=code_verifier, redirect_uri=redirect_uri,
                                            timeout=self.config.timeout_seconds)
        except OAuthError as exc:
            log.warning("Leverantören %s vägrade koden: %s.", self.config.name, exc.error)
            raise OidcError("token_refused") from None
        except (requests.RequestException, ValueError) as exc:
            raise OidcError("provider_unavailable", UNAVAILABLE) from exc
        id_token = token.get("id_token")
        if not isinstance(id_token, str):
            raise OidcError("no_id_token")
        claims = self.verify_id_token(id_token, nonce, now, access_token=token.get("access_token"))
        return VerifiedLogin(claims, id_token)

    def verify_id_token(self, id_token: str, nonce: str, now: datetime, access_token: str | None = None
                        ) -> dict[str, Any]:
        """The claims of an ID token this provider signed for us, for this login; else OidcError."""
        from authlib.oidc.core import CodeIDToken
        from joserfc import jwt
        from joserfc.errors import (
            BadSignatureError,
            ClaimError,
            ExpiredTokenError,
            InvalidKeyIdError,
            JoseError,
            MissingClaimError,
        )

        metadata = self.metadata()
        try:
            try:
                token = jwt.decode(id_token, self._key_set(), algorithms=list(metadata.algorithms))
            except (InvalidKeyIdError, ValueError) as first:
                # A key id we have not seen: the provider may have rolled its keys. Fetch them once more.
                if not isinstance(first, InvalidKeyIdError) and "kid" not in str(first):
                    raise
                token = jwt.decode(id_token, self._key_set(refetch=True), algorithms=list(metadata.algorithms))
        except BadSignatureError:
            raise OidcError("bad_signature") from None
        except (JoseError, ValueError) as exc:
            raise OidcError(f"undecodable_token:{type(exc).__name__}") from None
        client_id = self.config.client_id
        options = {"iss": {"essential": True, "value": metadata.issuer},
                   "aud": {"essential": True, "value": client_id}}
        params = {"nonce": nonce, "client_id": client_id}
        if access_token:
            params["access_token"] = access_token
        claims = CodeIDToken(token.claims, token.header, options, params)
        try:
            # Authlib checks iss, aud (contains us), exp/iat/nbf with the skew, nonce, azp and at_hash.
            claims.validate(now=int(now.timestamp()), leeway=self.config.clock_skew_seconds)
        except ExpiredTokenError:
            raise OidcError("expired") from None
        except MissingClaimError as exc:
            raise OidcError(f"missing_{exc.claim}") from None
        except ClaimError as exc:
            raise OidcError(f"invalid_{exc.claim}") from None
        if "nonce" not in claims:
            raise OidcError("missing_nonce")
        audience = claims["aud"]
        if (audience if isinstance(audience, list) else [audience]) != [client_id]:
            raise OidcError("invalid_aud")  # an audience besides us is not one we trust (Core 3.1.3.7)
        if self.config.acr_values and claims.get("acr") not in self.config.acr_values:
            raise OidcError("invalid_acr")
        return dict(claims)

    def identity(self, claims: Mapping[str, Any]) -> str:
        """The person's identifier: the first configured claim that holds a non-empty string."""
        for name in self.config.claims:
            value = claims.get(name)
            if isinstance(value, str) and value.strip():
                return value.strip()
        raise OidcError("missing_identity_claim")

    def logout_url(self, id_token: str | None, post_logout_redirect_uri: str) -> str | None:
        """Where to send the browser to log out at the provider too (None when it has no end_session_endpoint)."""
        try:
            endpoint = self.metadata().end_session_endpoint
        except OidcError:
            return None
        if not endpoint:
            return None
        params = {"client_id": self.config.client_id, "post_logout_redirect_uri": post_logout_redirect_uri}
        if id_token:
            params["id_token_hint"] = id_token
        return endpoint + ("&" if "?" in endpoint else "?") + urlencode(params)


def origin(url: str) -> str:
    """scheme://host[:port] of a URL."""
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}"


def secret_hash(value: str) -> str:
    """The stored form of a state or browser-binding value."""
    return hashlib.sha256(value.encode("utf-8", "replace")).hexdigest()
