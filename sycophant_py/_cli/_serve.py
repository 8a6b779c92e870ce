"""``sycophant serve``: the gateway (``sycophant_py._gateway``) under uvicorn."""

from __future__ import annotations

import click

__all__ = ["serve"]


@click.command()
@click.option("--host", help="Address to listen on (default: [gateway] host, else 127.0.0.1).")
@click.option("--port", type=int, help="Port (default: [gateway] port, else 8787).")
@click.option("--config", "config", type=click.Path(dir_okay=False), help="Config file (default: $SYCOPHANT_CONFIG).")
@click.option("--workers", type=int, help="Worker processes (default: [gateway] workers, else 1).")
@click.option("--log-level", default="info", show_default=True, help="Level of the JSON log lines on stderr.")
def serve(host: str | None, port: int | None, config: str | None, workers: int | None, log_level: str) -> None:
    """Serve every configured model behind OpenAI- and Anthropic-compatible endpoints.

    Any address but a loopback one needs caller keys ([gateway] keys). SIGTERM or Ctrl-C drains the
    requests in flight, then exits.
    """
    from sycophant_py._cli._out import CliError
    from sycophant_py._gateway._server import serve as run

    try:
        run(host, port, config, workers, log_level=log_level)
    except ImportError as exc:  # the server extra is missing: its message says what to install
        raise CliError(str(exc), code=2) from None
