"""Runtime settings: one frozen model, built once and passed to the app factory.

Never read from module globals; `create_app(settings)` is the only consumer.
"""

from __future__ import annotations

import os
from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field

#: Default SQLite file, relative to the working directory.
DEFAULT_DATABASE = "sqlite:///var/stegvis.sqlite3"
#: Where the runtime's templates and static files live (the repository's templates/runtime/).
TEMPLATES = Path(__file__).resolve().parent.parent / "templates" / "runtime"


def default_database_url() -> str:
    """DATABASE_URL from the environment (PostgreSQL in production), else the SQLite file under var/."""
    return os.environ.get("DATABASE_URL", "").strip() or DEFAULT_DATABASE


class Argon2Params(BaseModel):
    """Cost of the argon2id password hash (RFC 9106 second recommended set by default)."""

    model_config = ConfigDict(frozen=True)

    time_cost: int = Field(3, description="Iterations.")
    memory_cost: int = Field(65536, description="Memory in KiB.")
    parallelism: int = Field(4, description="Lanes.")


class RuntimeSettings(BaseModel):
    """How one runtime process runs; the content comes from the packages themselves."""

    model_config = ConfigDict(frozen=True)

    packages: Path = Field(Path("dist"), description="Folder with <program-id>/<version>/ packages.")
    database_url: str = Field(default_factory=default_database_url,
                              description="SQLAlchemy URL: sqlite:///file or postgresql+psycopg://…")
    public_key: Path | None = Field(None, description="Ed25519 public key (PEM); when set, every package "
                                    "must carry a valid manifest.json.sig.")
    cookie_secure: bool = Field(True, description="Mark cookies Secure (and use the __Host- prefix). "
                                "Browsers accept Secure cookies from http://localhost.")
    session_idle_minutes: int = Field(30, description="A session ends after this long without a request.")
    session_max_hours: int = Field(12, description="A session ends this long after login, whatever happens.")
    login_max_failures: int = Field(5, description="Failed logins in a row before an account is locked for a while.")
    login_lock_minutes: int = Field(15, description="How long a locked local account stays locked.")
    argon2: Argon2Params = Field(default_factory=Argon2Params, description="Password hash cost.")
    timezone: str = Field("Europe/Stockholm", description="Time zone of schedules and of dates shown.")
    max_text_length: int = Field(10000, description="Longest free-text answer, comment or message, in characters.")
    trusted_origins: tuple[str, ...] = Field((), description="Extra origins (scheme://host[:port]) allowed "
                                             "to post, besides the request's own host.")
