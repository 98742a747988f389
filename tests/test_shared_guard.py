"""Tests that need ../shared skip in a user's clone but fail under CI."""

import subprocess
import sys

import pytest

from ritm_lite.utils import PROJECT_ROOT


@pytest.mark.parametrize("ci, outcome", [("", "1 skipped"), ("true", "1 error")])
def test_missing_shared_skips_locally_and_fails_in_ci(tmp_path, ci, outcome):
    test_file = PROJECT_ROOT / "tests" / "test_checkpoint.py"
    env = {"PATH": "/usr/bin:/bin", "RITM_SHARED": str(tmp_path / "nowhere"), "CI": ci,
           "PYTHONPATH": str(PROJECT_ROOT)}
    result = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "--rootdir", str(PROJECT_ROOT),
         f"{test_file}::test_official_format_loads_and_reproduces_the_reference_outputs"],
        cwd=PROJECT_ROOT, env=env, capture_output=True, text=True, timeout=120,
    )
    assert outcome in result.stdout, result.stdout + result.stderr
    assert "nowhere" in result.stdout  # the reason names the missing path
