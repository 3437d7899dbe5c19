"""``xinfang serve``: run the workbench (JSON API and pages) with uvicorn.

The command line does not import the web app: uvicorn builds it from its import string with the
factory (``api.app:create_app``), in this process or in each worker process, from the same
settings. They are checked here first, so an unsafe setting is refused before anything starts.
"""

from __future__ import annotations

import click

#: The web app's factory, as uvicorn imports it.
APP_FACTORY = "api.app:create_app"


@click.command()
@click.option("--host", default="127.0.0.1", show_default=True, help="address to listen on")
@click.option(
    "--port", default=8000, show_default=True, type=click.IntRange(0, 65535), help="port (0 = any free)"
)
@click.option(
    "--workers",
    default=1,
    show_default=True,
    type=click.IntRange(1, 64),
    help="worker processes (each loads the model)",
)
@click.option(
    "--log-level",
    default="info",
    show_default=True,
    type=click.Choice(["critical", "error", "warning", "info", "debug"]),
)
def serve(host: str, port: int, workers: int, log_level: str) -> None:
    """Serve the officers' workbench at http://HOST:PORT/ (API under /api/v1, docs at /docs).

    Settings come from XINFANG_* variables and .env (database, model, secret key). The database is
    migrated at start; there is no default account: create one with `xinfang users add`.
    """
    import uvicorn

    from service.settings import get_settings

    try:
        get_settings()
    except ValueError as exc:  # pydantic's ValidationError: an unsafe or malformed setting
        raise click.ClickException(str(exc)) from exc
    # Each worker process builds its own app (and engine) from the same settings.
    uvicorn.run(
        APP_FACTORY,
        factory=True,
        host=host,
        port=port,
        workers=workers,
        log_level=log_level,
        proxy_headers=False,
    )
