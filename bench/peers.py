"""Peer clients, each installed into its own virtual environment under ``bench/.venvs``."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

BENCH_DIR = Path(__file__).resolve().parent
VENVS_DIR = BENCH_DIR / ".venvs"
PROJECT_PYTHON = BENCH_DIR.parent / ".venv" / "bin" / "python"
MARKER = ".bench-installed.json"


@dataclass(frozen=True)
class Peer:
    """One client under test: its venv, what to pip-install there and the module to import."""

    name: str
    label: str
    module: str
    requirements: tuple[str, ...] = ()
    no_deps: tuple[str, ...] = ()  # installed after ``requirements`` with ``--no-deps``
    dists: tuple[str, ...] = ()  # distributions whose versions go into the report
    venv: str | None = None  # None: the project venv (ours, raw httpx)


# litellm >= 1.108 declares ``certifi>=2026.10.19``, a release the package index here does not serve
# (certifi is only a CA bundle and never touched on loopback), so litellm goes in with --no-deps on top of
# its declared dependencies with that one pin relaxed.
LITELLM_DEPS = (
    "fastuuid>=0.14.0,<1.0",
    "filelock>=3.16.1,<5",
    "httpx[http2]>=0.28.0,<1.0",
    "openai>=2.20.0,<4.0.0",
    "python-dotenv>=1.0.0,<2.0",
    "pyyaml>=6.0.3,<7.0",
    "packaging>=24.0",
    "importlib-metadata>=8.0.0,<9.0",
    "tiktoken>=0.8.0,<1.0",
    "tokenizers>=0.21.0,<1.0",
    "huggingface-hub>=0.34.0,<2.0",
    "click>=8.0.0,<9.0",
    "jinja2>=3.1.6,<4.0",
    "aiohttp>=3.14.2,<4.0",
    "anyio>=4.14.0,<5.0",
    "pydantic>=2.11.0,<3.0.0",
    "pydantic-settings>=2.14.1,<3.0",
    "jsonschema>=4.0.0,<5.0",
    "boto3>=1.43.117,<2.0",
    "certifi",
    "typing-extensions>=4.13.0,<5.0",
)

# Pinned so that numbers are comparable between runs; bump deliberately.
PEERS: tuple[Peer, ...] = (
    Peer("ours", "sycophant_py", "sycophant_py", dists=("sycophant_py", "httpx", "pydantic")),
    Peer("httpx", "raw httpx", "httpx", dists=("httpx", "httpcore", "h11")),
    Peer("openai", "openai", "openai", ("openai==3.54.0",), dists=("openai", "httpx2", "pydantic"), venv="openai"),
    Peer(
        "litellm",
        "LiteLLM",
        "litellm",
        LITELLM_DEPS,
        ("litellm==1.109.1",),
        dists=("litellm", "openai", "httpx", "aiohttp"),
        venv="litellm",
    ),
    Peer(
        "any_llm",
        "any-llm",
        "any_llm",
        ("any-llm-sdk[openai]==1.40.2",),
        dists=("any-llm-sdk", "openai"),
        venv="any_llm",
    ),
    Peer(
        "pydantic_ai",
        "pydantic-ai",
        "pydantic_ai",
        ("pydantic-ai-slim[openai]==2.68.0",),
        dists=("pydantic-ai-slim", "openai", "pydantic"),
        venv="pydantic_ai",
    ),
)
PROFILER = Peer("tools", "profilers", "pyinstrument", ("py-spy==0.4.3", "pyinstrument==5.1.3"), venv="tools")


@dataclass
class InstallResult:
    """Outcome of making a peer's venv usable."""

    peer: Peer
    python: Path | None
    seconds: float = 0.0
    reused: bool = False
    error: str | None = None
    versions: dict[str, str] = field(default_factory=dict)


def venv_python(peer: Peer) -> Path:
    """The interpreter that runs ``peer``'s worker."""
    if peer.venv is None:
        return PROJECT_PYTHON
    return VENVS_DIR / peer.venv / "bin" / "python"


def _reason(text: str) -> str:
    lines = [ln.strip() for ln in text.strip().splitlines() if ln.strip()]
    errors = [ln for ln in lines if ln.startswith("ERROR")]
    return (errors[-1] if errors else (lines[-1] if lines else "unknown error"))[:160]


def _versions(python: Path, dists: tuple[str, ...]) -> dict[str, str]:
    code = (
        "import json, sys\nfrom importlib.metadata import version, PackageNotFoundError\nout = {}\n"
        "for d in sys.argv[1:]:\n    try: out[d] = version(d)\n    except PackageNotFoundError: pass\n"
        "print(json.dumps(out))"
    )
    proc = subprocess.run([str(python), "-c", code, *dists], capture_output=True, text=True, check=False)
    return json.loads(proc.stdout) if proc.returncode == 0 else {}


def ensure(peer: Peer, log: bool = True) -> InstallResult:
    """Create (once) and reuse the venv of ``peer``; never raises, reports the reason instead."""
    python = venv_python(peer)
    if peer.venv is None:
        ok = python.exists()
        return InstallResult(
            peer,
            python if ok else None,
            error=None if ok else f"{python} missing",
            reused=True,
            versions=_versions(python, peer.dists) if ok else {},
        )
    root = VENVS_DIR / peer.venv
    marker = root / MARKER
    wanted = {"requirements": list(peer.requirements), "no_deps": list(peer.no_deps)}
    if marker.exists() and python.exists():
        try:
            if json.loads(marker.read_text()) == wanted:
                return InstallResult(peer, python, reused=True, versions=_versions(python, peer.dists))
        except ValueError:
            pass
    t0 = time.perf_counter()
    if log:
        print(
            f"[bench] installing {peer.label} into {root.relative_to(BENCH_DIR.parent)} ...",
            file=sys.stderr,
            flush=True,
        )
    base = getattr(sys, "_base_executable", sys.executable)
    proc = subprocess.run([base, "-m", "venv", "--clear", str(root)], capture_output=True, text=True, check=False)
    if proc.returncode != 0:
        return InstallResult(peer, None, time.perf_counter() - t0, error=_reason(proc.stderr or proc.stdout))
    pip = [str(python), "-m", "pip", "install", "--quiet", "--disable-pip-version-check"]
    proc = subprocess.run([*pip, *peer.requirements], capture_output=True, text=True, check=False)
    if proc.returncode == 0 and peer.no_deps:
        proc = subprocess.run([*pip, "--no-deps", *peer.no_deps], capture_output=True, text=True, check=False)
    seconds = time.perf_counter() - t0
    if proc.returncode != 0:
        return InstallResult(peer, None, seconds, error=_reason(proc.stderr or proc.stdout))
    probe = subprocess.run(
        [str(python), "-c", f"import {peer.module}"], capture_output=True, text=True, check=False, env=_quiet_env()
    )
    if probe.returncode != 0:
        return InstallResult(peer, None, seconds, error="import failed: " + _reason(probe.stderr))
    marker.write_text(json.dumps(wanted))
    if log:
        print(f"[bench] installed {peer.label} in {seconds:.0f} s", file=sys.stderr, flush=True)
    return InstallResult(peer, python, seconds, versions=_versions(python, peer.dists))


def _quiet_env() -> dict[str, str]:
    from common import offline_env

    return offline_env()


if __name__ == "__main__":
    sys.path.insert(0, str(BENCH_DIR))
    for p in (*PEERS, *([PROFILER] if "--tools" in sys.argv else [])):
        r = ensure(p)
        print(p.name, r.error or "ok", f"{r.seconds:.1f}s", r.versions)
