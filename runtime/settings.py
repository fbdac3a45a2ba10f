"""Runtime settings: one frozen model, built once and passed to the app factory.

Never read from module globals; `create_app(settings)` is the only consumer.
"""

from __future__ import annotations

import os
import secrets
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, SecretStr

from runtime.oidc import OidcProviderConfig

#: Default SQLite file, relative to the working directory.
DEFAULT_DATABASE = "sqlite:///var/stegvis.sqlite3"


def _templates() -> Path:
    """templates/runtime/ of the checkout Stegvis runs from (editable install, a worktree), else of the
    installed wheel, which holds templates/ as the package stegvis_templates (as builder.defaults does)."""
    root = Path(__file__).resolve().parent.parent
    if (root / "pyproject.toml").is_file() and (root / "templates").is_dir():
        return root / "templates" / "runtime"
    from importlib.resources import files

    return Path(str(files("stegvis_templates"))) / "runtime"


#: Where the runtime's templates and static files live.
TEMPLATES = _templates()


class ConfigurationError(ValueError):
    """Settings the runtime cannot start with; the message says what to change (for the command line)."""


def default_database_url() -> str:
    """DATABASE_URL from the environment (PostgreSQL in production), else the SQLite file under var/."""
    return os.environ.get("DATABASE_URL", "").strip() or DEFAULT_DATABASE


def _env(name: str) -> str | None:
    """An environment variable's value, None when unset or blank."""
    return os.environ.get(name, "").strip() or None


class Argon2Params(BaseModel):
    """Cost of the argon2id password hash (RFC 9106 second recommended set by default)."""

    model_config = ConfigDict(frozen=True)

    time_cost: int = Field(3, description="Iterations.")
    memory_cost: int = Field(65536, description="Memory in KiB.")
    parallelism: int = Field(4, description="Lanes.")


class LoginThrottleParams(BaseModel):
    """How failed password logins slow further tries (runtime.throttle); the numbers are in README.md.

    After `free` failures, the next try must wait `first_delay_seconds`, doubling with each
    further failure up to the cap. The account's delay binds only clients (addresses) that
    have failed themselves lately, so nobody can keep a person out by failing on purpose;
    a counter forgets its failures `forget_after_minutes` after the last one.
    """

    model_config = ConfigDict(frozen=True)

    account_free: int = Field(5, ge=0, description="Failures of one account name before it slows down.")
    account_max_delay_seconds: float = Field(60, ge=0, description="Longest wait between tries of one account "
                                             "(for clients that have been failing).")
    address_free: int = Field(10, ge=0, description="Failures from one client address before it slows down.")
    address_max_delay_seconds: float = Field(300, ge=0, description="Longest wait between tries from one address.")
    first_delay_seconds: float = Field(1, ge=0, description="The first wait; each further failure doubles it.")
    forget_after_minutes: float = Field(15, gt=0, description="A counter is back at 0 this long after its "
                                        "last failure.")


class RuntimeSettings(BaseModel):
    """How one runtime process runs; the content comes from the packages themselves."""

    model_config = ConfigDict(frozen=True)

    packages: Path = Field(Path("dist"), description="Folder with <program-id>/<version>/ packages.")
    database_url: str = Field(default_factory=default_database_url,
                              description="SQLAlchemy URL: sqlite:///file or postgresql+psycopg://…")
    public_key: Path | None = Field(None, description="Ed25519 public key (PEM); when set, every package "
                                    "must carry a valid manifest.json.sig.")
    require_signature: bool = Field(False, description="Refuse to start without a public key, so that no "
                                    "unsigned package is ever served (recommended in production).")
    cookie_secure: bool = Field(True, description="Mark cookies Secure (and use the __Host- prefix). "
                                "Browsers accept Secure cookies from http://localhost.")
    session_idle_minutes: int = Field(30, description="A session ends after this long without a request.")
    session_max_hours: int = Field(12, description="A session ends this long after login, whatever happens.")
    local_accounts: bool = Field(False, description="Allow logins with a local username and password "
                                 "(demo, development, tests). Off: the password form and POST /api/v1/session "
                                 "are not served; people log in with e-identification.")
    login_throttle: LoginThrottleParams = Field(default_factory=lambda: LoginThrottleParams(),
                                                description="How failed password logins slow further tries.")
    client_address_header: str | None = Field(default_factory=lambda: _env("STEGVIS_CLIENT_ADDRESS_HEADER"),
                                              description="Header in which the reverse proxy in front "
                                              "of the runtime puts the client's address (e.g. X-Real-IP), for "
                                              "login throttling per address (STEGVIS_CLIENT_ADDRESS_HEADER, "
                                              "`stegvis runtime --client-address-header`); None: the TCP peer's "
                                              "address, which behind a proxy is the proxy's, so that every client "
                                              "shares one address counter. Set it only when a proxy always sets "
                                              "(or overwrites) the header.")
    argon2: Argon2Params = Field(default_factory=Argon2Params, description="Password hash cost.")
    timezone: str = Field("Europe/Stockholm", description="Time zone of schedules and of dates shown.")
    force_language: str | None = Field(default_factory=lambda: _env("STEGVIS_FORCE_LANGUAGE"), description=""
                                       "Show every patient page in this language (\"fi\", \"en\"; env "
                                       "STEGVIS_FORCE_LANGUAGE) whatever the enrolment says: for tests, demonstrations "
                                       "and translators. A language without a catalogue gives Swedish; staff pages "
                                       "stay Swedish. None: each page in its patient's language (runtime.i18n).")
    reload_templates: bool = Field(False, description="Compile a runtime template again when its file changes "
                                   "(development: `stegvis runtime --reload-templates`, or --demo). Off, a page "
                                   "costs no file check per template it uses.")
    max_text_length: int = Field(10000, description="Longest free-text answer, comment or message, in characters.")
    max_body_bytes: int = Field(1_048_576, ge=1024, description="Largest request body, in bytes; a bigger one "
                                "is refused with 413 before it is read (issue 14).")
    max_json_keys: int = Field(1000, ge=10, description="Most keys (all objects together) in a JSON body; "
                               "more are refused with 413 before validation (issue 14).")
    missed_registration_check_minutes: float = Field(
        default_factory=lambda: _env("STEGVIS_MISSED_CHECK_MINUTES") or 10, ge=0, validate_default=True,
        description="How often `stegvis runtime` checks activity plans for missed registrations "
        "(STEGVIS_MISSED_CHECK_MINUTES; 0: never, only when staff pages are shown). Safe on every "
        "instance at once (row locks); 0 on all but one instance saves the others the work.")
    allowed_hosts: tuple[str, ...] = Field(default_factory=lambda: _hosts_from_env(), description="Host names "
                                           "(host or host:port) the runtime answers to (STEGVIS_ALLOWED_HOSTS, "
                                           "comma-separated); a request for any other Host gets 400. Empty: any "
                                           "host (development). Set it in production (issue 14).")
    trusted_origins: tuple[str, ...] = Field((), description="Extra origins (scheme://host[:port]) allowed "
                                             "to post, besides the request's own host.")
    oidc_providers: tuple[OidcProviderConfig, ...] = Field((), description="OpenID Connect providers people "
                                                          "log in through (issue #13): e-identification for "
                                                          "patients, SITHS for staff. `stegvis runtime` reads them "
                                                          "from --oidc-config or STEGVIS_OIDC_CONFIG "
                                                          "(runtime/oidc.py).")
    # Notices (runtime/services/notify.py): e-mail by SMTP, SMS through a pluggable gateway. Texts carry no patient data.
    # The deployment sets them by environment (STEGVIS_PUBLIC_URL, STEGVIS_SMTP_HOST, STEGVIS_SMTP_PORT,
    # STEGVIS_MAIL_FROM, STEGVIS_SMTP_USERNAME, STEGVIS_SMTP_PASSWORD), or by passing them here.
    public_url: str | None = Field(default_factory=lambda: _env("STEGVIS_PUBLIC_URL"),
                                   description="Address people log in at (https://…), named in notices.")
    smtp_host: str | None = Field(default_factory=lambda: _env("STEGVIS_SMTP_HOST"),
                                  description="SMTP server for e-mail notices; None turns e-mail off "
                                  "(notices are then only logged).")
    smtp_port: int = Field(default_factory=lambda: _env("STEGVIS_SMTP_PORT") or 587, validate_default=True,
                           description="SMTP port: 587 for STARTTLS, 465 for SSL, 25 inside a trusted net.")
    smtp_starttls: bool = Field(True, description="Upgrade the connection with STARTTLS before sending "
                                "(refuse to send when the server does not offer it).")
    smtp_ssl: bool = Field(False, description="Connect with TLS from the start (SMTPS, port 465).")
    smtp_username: str | None = Field(default_factory=lambda: _env("STEGVIS_SMTP_USERNAME"),
                                      description="SMTP login name (env STEGVIS_SMTP_USERNAME); None: no login.")
    smtp_password: str | None = Field(default_factory=lambda: _env("STEGVIS_SMTP_PASSWORD"),
                                      repr=False, description="SMTP password (env STEGVIS_SMTP_PASSWORD).")
    smtp_timeout: float = Field(10.0, description="Seconds to wait for the SMTP server at each step.")
    mail_from: str = Field(default_factory=lambda: _env("STEGVIS_MAIL_FROM") or "Stegvis <no-reply@localhost>",
                           description="From address of e-mail notices.")
    sms_backend: Literal["log"] = Field("log", description="SMS gateway; \"log\" writes the (masked) SMS to "
                                        "the log until a real gateway is plugged in.")
    notify_worker: bool = Field(True, description="Send notices from a background thread after each commit "
                                "(tests may turn it off and drain the outbox by hand).")
    staff_notice_minutes: int = Field(15, description="At most one event notification per member of staff "
                                      "this often; a burst of events gives one e-mail.")
    deviation_report_url: str | None = Field(
        default_factory=lambda: _env("STEGVIS_DEVIATION_URL"), pattern=r"^https?://\S+$",
        description="The region's deviation reporting (avvikelserapportering, e.g. its Synergi form or "
        "routine), linked from every staff page and the Support page (env STEGVIS_DEVIATION_URL); None: no link.")
    secret_key_file: Path = Field(Path("var/secret.key"), description="The runtime's secret (32 random bytes, "
                                  "mode 0600, made at first use): keys the HMAC that finds a purged person's "
                                  "access log by personnummer. Keep it with the database's backups.")
    secret_key: SecretStr | None = Field(default_factory=lambda: _secret_from_env(), description="The secret "
                                         "itself (STEGVIS_SECRET_KEY, at least 32 characters); wins over the file.")

    def secret(self) -> bytes:
        """The runtime's secret: STEGVIS_SECRET_KEY, else the key file (created at first use)."""
        if self.secret_key is not None:
            value = self.secret_key.get_secret_value().encode()
            if len(value) < SECRET_MIN_BYTES:
                raise ValueError(f"STEGVIS_SECRET_KEY must be at least {SECRET_MIN_BYTES} characters.")
            return value
        return read_or_create_secret(self.secret_key_file)


SECRET_MIN_BYTES = 32


def _hosts_from_env() -> tuple[str, ...]:
    return tuple(h.strip().lower() for h in (_env("STEGVIS_ALLOWED_HOSTS") or "").split(",") if h.strip())


def _secret_from_env() -> SecretStr | None:
    value = _env("STEGVIS_SECRET_KEY")
    return SecretStr(value) if value else None


def read_or_create_secret(path: Path) -> bytes:
    """The secret in `path`; made (32 random bytes, mode 0600) when the file does not exist.

    Made in a temporary file and linked into place, so two processes starting at once
    agree on one secret, and no process ever reads a half-written file.
    """
    try:
        value = path.read_bytes()
    except FileNotFoundError:
        path.parent.mkdir(parents=True, exist_ok=True)
        temp = path.with_name(f".{path.name}.{secrets.token_hex(8)}")
        fd = os.open(temp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        try:
            with os.fdopen(fd, "wb") as out:
                out.write(secrets.token_bytes(SECRET_MIN_BYTES))
                out.flush()
                os.fsync(out.fileno())
            try:
                os.link(temp, path)
            except FileExistsError:
                pass  # another process made it first: use theirs
        finally:
            temp.unlink(missing_ok=True)
        value = path.read_bytes()
    if len(value) < SECRET_MIN_BYTES:
        raise ValueError(f"The secret key file {path} holds fewer than {SECRET_MIN_BYTES} bytes.")
    return value
