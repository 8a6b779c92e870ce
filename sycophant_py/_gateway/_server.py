"""Running the gateway: ``serve()`` under uvicorn, and ``python -m sycophant_py._gateway``.

uvicorn picks uvloop and httptools when they are installed (``pip install "sycophant_py[server]"``
brings both). SIGTERM (or Ctrl-C) stops accepting connections and lets in-flight requests and
streams finish, for at most ``graceful_timeout`` seconds, before the process exits.

The library never configures logging, but a server is an application: when nothing else
configured the ``sycophant_py`` logger, ``serve`` prints its structured events (the access log
among them) as JSON lines on stderr.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import sys
from pathlib import Path

from typing_extensions import override

from sycophant_py._exceptions import SycophantError

__all__ = ["main", "serve", "setup_logging_from_env"]

_LOG_ENV = "SYCOPHANT_GATEWAY_LOG_LEVEL"
_STANDARD = frozenset(vars(logging.LogRecord("", 0, "", 0, "", None, None))) | {"message", "asctime"}


def require_server() -> None:
    """Raise a helpful ``ImportError`` when the server extra is not installed."""
    try:
        import starlette  # noqa: F401 - imported only to learn whether the extra is installed
        import uvicorn  # noqa: F401 - likewise
    except ImportError as exc:
        raise ImportError(f'the gateway needs the server extra: pip install "sycophant_py[server]" ({exc})') from exc


class _JsonLines(logging.Formatter):
    """One JSON object per record: the event name and its fields."""

    @override
    def format(self, record: logging.LogRecord) -> str:
        fields = {k: v for k, v in vars(record).items() if k not in _STANDARD}
        return json.dumps({"event": record.getMessage(), **fields}, default=str)


def setup_logging_from_env() -> None:
    """Print the library's events as JSON lines on stderr, at the level ``serve`` chose, unless the
    application configured logging itself (a handler on ``sycophant_py`` or on the root logger)."""
    level = os.environ.get(_LOG_ENV)
    logger = logging.getLogger("sycophant_py")
    configured = any(not isinstance(h, logging.NullHandler) for h in logger.handlers) or logging.getLogger().handlers
    if level is None or configured:
        return
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(_JsonLines())
    logger.addHandler(handler)
    logger.setLevel(level.upper())


def serve(
    host: str | None = None,
    port: int | None = None,
    config: str | Path | None = None,
    workers: int | None = None,
    *,
    log_level: str = "info",
    graceful_timeout: int = 30,
) -> None:
    """Run the gateway until SIGTERM or Ctrl-C.

    Args:
        host: Address to listen on (default: ``[gateway] host``, else ``127.0.0.1``). Any address
            but a loopback one needs caller keys.
        port: Port (default: ``[gateway] port``, else 8787).
        config: A config file to use instead of ``SYCOPHANT_CONFIG`` (the config layer is reset and
            read from it, in this process and in every worker).
        workers: Worker processes (default: ``[gateway] workers``, else 1). Each worker is a fresh
            process that reads the config file: providers registered in this process with
            ``register_provider()`` or ``configure()`` reach the workers only through that file.
        log_level: ``debug``, ``info``, ``warning``...: the library's events, the access log
            included, are printed as JSON lines on stderr from that level.
        graceful_timeout: Seconds in-flight requests get to finish after SIGTERM.

    Raises:
        InvalidConfig: a non-loopback ``host`` without keys, or invalid gateway settings.
        ImportError: the server extra is not installed.
    """
    require_server()
    import uvicorn

    from sycophant_py import _config
    from sycophant_py._gateway._settings import check_bind, resolve

    if config is not None:
        os.environ["SYCOPHANT_CONFIG"] = str(Path(config).expanduser())
        _config.configure(reset=True)
    options = resolve(host=host, port=port, workers=workers)
    check_bind(options.host, options)
    os.environ[_LOG_ENV] = log_level
    uvicorn.run(
        "sycophant_py._gateway._app:app_from_config",
        factory=True,
        host=options.host,
        port=options.port,
        workers=options.workers,
        access_log=False,  # ours is the structured gateway.request event
        log_level=log_level,
        timeout_graceful_shutdown=graceful_timeout,
        server_header=False,
    )


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="python -m sycophant_py._gateway",
        description="Serve any configured model behind OpenAI- and Anthropic-compatible endpoints.",
    )
    p.add_argument("--host", help="address to listen on (default: [gateway] host, else 127.0.0.1)")
    p.add_argument("--port", type=int, help="port (default: [gateway] port, else 8787)")
    p.add_argument("--config", help="config file (default: $SYCOPHANT_CONFIG)")
    p.add_argument("--workers", type=int, help="worker processes (default: [gateway] workers, else 1)")
    p.add_argument("--log-level", default="info", help="level of the JSON log lines on stderr (default: info)")
    return p


def main(argv: list[str] | None = None) -> int:
    """The command line: ``python -m sycophant_py._gateway --host H --port P [--config F] [--workers N]``.

    Returns:
        The exit code: 0 after a clean shutdown, 2 for a configuration error (one line on stderr).
    """
    args = _parser().parse_args(argv)
    try:
        serve(args.host, args.port, args.config, args.workers, log_level=args.log_level)
    except (SycophantError, ImportError) as exc:
        print(f"sycophant gateway: {exc}", file=sys.stderr)
        return 2
    return 0
