"""Shared test fixtures.

``../shared`` (beside the project root) holds the golden outputs of the original RITM
implementation and the real benchmark data. It is absent in a user's clone: tests that need
it are skipped there with a clear reason, but they *fail* when ``CI`` is set, because CI must
always run them.

The library and the notebooks never name ``../shared`` (``tests/course/test_shared_guard.py``): they
find data through :mod:`ritm_lite.data.locate`, and this file points that module at the test
material with ``RITM_DATA=../shared/data`` and ``RITM_REFERENCE=../shared/fixtures/ritm_reference``
(unless already set), which the notebooks' kernels inherit. ``$RITM_SHARED`` names another
``shared`` folder.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from ritm_lite.data.locate import DATA_ENV, REFERENCE_ENV
from ritm_lite.utils import PROJECT_ROOT

# The golden outputs were computed on an x86 CPU with oneDNN's and ATen's AVX2 kernels and 2
# threads. Under the same kernels our float32 results equal them bit for bit; under others
# (AVX-512, say) the convolutions sum in another order and float32 rounding moves logits by
# ~1e-4 of their scale, which an 8-click free run can compound into a different click.
# Tests marked ``reference_numerics`` therefore run in a child process pinned to those kernels.
REFERENCE_NUMERICS_ENV = {"ONEDNN_MAX_CPU_ISA": "AVX2", "ATEN_CPU_CAPABILITY": "avx2"}
_CHILD_FLAG = "RITM_REFERENCE_NUMERICS_CHILD"


def shared_path() -> Path:
    """Where the test material is: ``../shared`` beside the project root, or ``$RITM_SHARED``."""
    env = os.environ.get("RITM_SHARED")
    return Path(env) if env else PROJECT_ROOT.parent / "shared"


os.environ.setdefault(DATA_ENV, str(shared_path() / "data"))
os.environ.setdefault(REFERENCE_ENV, str(shared_path() / "fixtures" / "ritm_reference"))


def in_ci() -> bool:
    """True when the ``CI`` environment variable is set to anything but an explicit no."""
    return os.environ.get("CI", "").strip().lower() not in {"", "0", "false", "no"}


def require_shared(*parts: str) -> Path:
    """Return ``../shared/<parts>``; skip (user's clone) or fail (CI) when it is missing.

    ``data/...`` is looked up under ``$RITM_DATA`` and ``fixtures/ritm_reference/...`` under
    ``$RITM_REFERENCE`` (both default to ``../shared``'s), where the library looks too.
    """
    if parts[:1] == ("data",):
        path = Path(os.environ[DATA_ENV]).joinpath(*parts[1:])
    elif parts[:2] == ("fixtures", "ritm_reference"):
        path = Path(os.environ[REFERENCE_ENV]).joinpath(*parts[2:])
    else:
        path = shared_path().joinpath(*parts)
    if path.exists():
        return path
    message = f"{path} is missing: ../shared (golden RITM outputs and benchmark data) is not here"
    if in_ci():
        pytest.fail(message + " — CI must provide it", pytrace=False)
    pytest.skip(message + " (expected in a user's clone; CI always has it)")


def _torch_threads(count: int):
    threads = torch.get_num_threads()
    torch.set_num_threads(count)
    yield
    torch.set_num_threads(threads)


@pytest.fixture
def one_thread():
    """One CPU thread: on a small shared CPU, two busy threads stall each other."""
    yield from _torch_threads(1)


@pytest.fixture
def two_threads():
    """Two CPU threads, as the golden outputs were computed with (a sum's rounding depends on
    how many threads share it)."""
    yield from _torch_threads(2)


@pytest.fixture(scope="session")
def reference_dir() -> Path:
    """``../shared/fixtures/ritm_reference``: golden outputs of the original RITM code."""
    return require_shared("fixtures", "ritm_reference")


@pytest.fixture(scope="session")
def grabcut_dir() -> Path:
    """``../shared/data/GrabCut``: the real GrabCut benchmark (50 images)."""
    return require_shared("data", "GrabCut")


@pytest.fixture(scope="session")
def coco_mval_dir() -> Path:
    """``../shared/data/COCO_MVal``: 800 COCO val2017 instances in the img/ + gt/ layout."""
    return require_shared("data", "COCO_MVal")


@pytest.fixture(scope="session")
def course_onnx(tmp_path_factory) -> Path:
    """The course's default weights exported to ONNX once per session (an export takes minutes
    on a 2-core CPU); skipped where the ONNX extras are not installed."""
    pytest.importorskip("onnxruntime")
    pytest.importorskip("onnxscript")
    from ritm_lite.inference import unwrap
    from ritm_lite.inference.onnx_export import export_onnx
    from ritm_lite.weights import load_course_model

    network, _ = unwrap(load_course_model())  # ONNX holds the network, not its stored settings
    return export_onnx(network, tmp_path_factory.mktemp("course_onnx") / "course.onnx")


@pytest.hookimpl(tryfirst=True)
def pytest_pyfunc_call(pyfuncitem: pytest.Function) -> bool | None:
    """Run a ``reference_numerics`` test in a child pytest pinned to the fixture's kernels."""
    if pyfuncitem.get_closest_marker("reference_numerics") is None:
        return None
    if os.environ.get(_CHILD_FLAG) == "1":
        capability = torch.backends.cpu.get_cpu_capability()
        assert capability == "AVX2", f"the child runs on {capability} kernels, not the fixture's AVX2"
        return None  # the child runs the test body itself
    if torch.backends.cpu.get_cpu_capability() not in {"AVX2", "AVX512"}:
        pytest.skip(
            "the golden outputs were made with x86 AVX2 kernels, which this CPU lacks, so they "
            "cannot be reproduced bit for bit here (the step-by-step parity tests still run)"
        )
    env = {**os.environ, **REFERENCE_NUMERICS_ENV, _CHILD_FLAG: "1"}
    result = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "--rootdir",
         str(PROJECT_ROOT), pyfuncitem.nodeid],
        cwd=PROJECT_ROOT, env=env, capture_output=True, text=True, timeout=900,
    )
    skipped = re.search(r"^SKIPPED \[\d+\] [^:]+:\d+: (.*)$", result.stdout, re.MULTILINE)
    if result.returncode == 0 and skipped and " passed" not in result.stdout:
        pytest.skip(f"under the fixture's kernels: {skipped.group(1)}")
    if result.returncode != 0 or " passed" not in result.stdout:
        pytest.fail(
            f"under the fixture's kernels ({REFERENCE_NUMERICS_ENV}):\n"
            + result.stdout[-6000:] + result.stderr[-2000:],
            pytrace=False,
        )
    return True
