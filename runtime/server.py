"""`stegvis runtime`: migrate, scan packages, optionally seed the demo, and serve with uvicorn.

SIGHUP rescans the package folder (new packages appear without a restart); the
scan runs in a thread so the signal handler returns at once. A background thread per
process checks activity plans for missed registrations (`runtime.jobs`). Must not: print
personnummer (the log filter masks them in every runtime and server log record).
"""

from __future__ import annotations

import logging
import os
import signal
import socket
import sys
import threading
from pathlib import Path

from runtime.app import create_app
from runtime.demo import LOGINS, DemoError, seed_demo
from runtime.identity import RedactingFilter
from runtime.jobs import start_jobs
from runtime.packages import load_public_key
from runtime.settings import ConfigurationError, RuntimeSettings

log = logging.getLogger("stegvis.runtime")


def configure_logging() -> None:
    """Plain log lines to stderr, personnummer masked."""
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    handler.addFilter(RedactingFilter())
    root = logging.getLogger()
    root.addHandler(handler)
    root.setLevel(logging.INFO)
    logging.getLogger("alembic").setLevel(logging.WARNING)


SETTINGS_ENV = "STEGVIS_RUNTIME_SETTINGS"


def worker_app():
    """The app of one worker process (uvicorn --workers): settings come from the parent, as JSON."""
    configure_logging()
    app = create_app(RuntimeSettings.model_validate_json(os.environ[SETTINGS_ENV]))
    start_jobs(app.state.stegvis)  # a daemon thread per worker; row locks keep them from flagging twice
    return app


def serve(settings: RuntimeSettings, host: str, port: int, demo: bool = False, workers: int = 1) -> int:
    """Run the runtime until stopped; returns an exit code.

    With several workers, each is its own process with its own app (they share the
    database); SIGHUP then makes uvicorn restart them, which rescans the packages.
    """
    import uvicorn

    configure_logging()
    app = create_app(settings)
    state = app.state.stegvis
    if not state.store.all():
        log.warning("Inga program lämnas ut från %s. Bygg med `make build` eller ange --packages.",
                    settings.packages)
    if demo:
        if state.db.backend != "sqlite":
            log.warning("--demo lägger till demokonton i %s-databasen.", state.db.backend)
        try:
            with state.db.session() as db:
                created = seed_demo(db, state.store, state.local_accounts, state.clock.now(), state.tz)
        except DemoError as exc:
            print(f"stegvis: {exc}", file=sys.stderr)
            return 2
        print("Demo: " + ("skapad." if created else "fanns redan.") + " Logga in på "
              f"http://localhost:{port}/logga-in med:", file=sys.stderr)
        for login in LOGINS:
            print(f"  {login.username} / {login.password}  ({login.who})", file=sys.stderr)

    if workers > 1:
        from uvicorn.supervisors import Multiprocess

        state.db.dispose()

        os.environ[SETTINGS_ENV] = settings.model_dump_json()
        config = uvicorn.Config("runtime.server:worker_app", factory=True, host=host, port=port, workers=workers,
                                log_config=None, access_log=False, proxy_headers=False, server_header=False)
        sock = config.bind_socket()
        # The workers' connections inherit this from the shared socket; without it (uvicorn binds
        # with proto 0, so asyncio does not set it) Nagle and delayed ACKs add 40 ms to every
        # keep-alive response.
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        Multiprocess(config, sockets=[sock]).run()
        return 0

    def on_hup(_signum, _frame) -> None:
        threading.Thread(target=state.store.scan, name="package-rescan", daemon=True).start()

    if hasattr(signal, "SIGHUP"):
        signal.signal(signal.SIGHUP, on_hup)
    job = start_jobs(state)
    config = uvicorn.Config(app, host=host, port=port, log_config=None, access_log=False,
                            proxy_headers=False, server_header=False)
    uvicorn.Server(config).run()
    if job is not None:
        job.stop()
    state.db.dispose()
    return 0


#: The OpenID Connect configuration file when --oidc-config is not given.
OIDC_CONFIG_ENV = "STEGVIS_OIDC_CONFIG"


def settings_from_args(packages: Path, database: str | None, public_key: Path | None,
                       insecure_cookies: bool, require_signature: bool = False,
                       oidc_config: Path | None = None, local_accounts: bool = False,
                       client_address_header: str | None = None,
                       reload_templates: bool = False) -> RuntimeSettings:
    """Settings from the command line; DATABASE_URL is the default database.

    The OpenID Connect providers come from `oidc_config`, else the file STEGVIS_OIDC_CONFIG
    names. Raises ConfigurationError (Swedish and English) for settings the runtime cannot
    start with, and runtime.oidc.OidcConfigError for a bad provider file (the command exits 2).
    """
    import os

    from runtime.oidc import load_oidc_config

    if require_signature and public_key is None:
        raise ConfigurationError("--require-signature kräver --public-key: ange den publika nyckel som paketen "
                                 "är signerade med. (--require-signature needs --public-key.)")
    if public_key is not None:
        try:
            load_public_key(public_key)
        except ValueError as exc:
            raise ConfigurationError(str(exc)) from exc
    values: dict = {"packages": packages, "public_key": public_key, "cookie_secure": not insecure_cookies,
                    "require_signature": require_signature, "local_accounts": local_accounts,
                    "reload_templates": reload_templates}
    if database:
        values["database_url"] = database
    if client_address_header and client_address_header.strip():
        values["client_address_header"] = client_address_header.strip()
    oidc_path = oidc_config or (Path(os.environ[OIDC_CONFIG_ENV]) if os.environ.get(OIDC_CONFIG_ENV, "").strip()
                                else None)
    if oidc_path is not None:
        values["oidc_providers"] = load_oidc_config(oidc_path)
    return RuntimeSettings(**values)
