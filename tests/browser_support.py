"""Support for the end-to-end browser test: a throw-away JupyterLab and Debian's Chromium.

* :class:`JupyterLabServer` starts JupyterLab on ``127.0.0.1`` with a random token, in a
  temporary root directory, with fresh config, data, runtime, workspace and settings
  directories (so nothing from the machine's own Jupyter set-up leaks in), the news and
  update toasts switched off, and the application exposed as ``window.jupyterapp`` so the
  test can run JupyterLab commands. It is stopped by its PID.
* :func:`find_chromium` locates the browser; Playwright's own browser download cannot work
  here, so the test drives the distribution's Chromium (``apt-get install chromium``).
"""

from __future__ import annotations

import json
import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]

# JupyterLab user settings written into the fresh settings directory.
LAB_SETTINGS = {
    # No "would you like to receive news?" toast and no update check.
    "@jupyterlab/apputils-extension/notification.jupyterlab-settings": {
        "fetchNews": "false",
        "checkForUpdates": False,
    },
}


def find_chromium() -> str | None:
    """Path of a Chromium binary (``$CHROMIUM``, then ``chromium`` on PATH), or ``None``."""
    candidates = [os.environ.get("CHROMIUM"), shutil.which("chromium"), "/usr/bin/chromium"]
    for candidate in candidates:
        if candidate and Path(candidate).is_file() and os.access(candidate, os.X_OK):
            return candidate
    return None


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class JupyterLabServer:
    """A JupyterLab server for one test, in ``base_dir`` (see module docstring).

    Args:
        base_dir: an empty temporary directory; the notebooks to open go in
            ``base_dir / "root"``.
        env: extra environment variables for the server (kernels inherit them).
        log_path: where the server's output goes (kept as a test artifact).
    """

    def __init__(self, base_dir: Path, env: dict[str, str], log_path: Path):
        self.base_dir = base_dir
        self.root = base_dir / "root"
        self.token = secrets.token_hex(16)
        self.port = _free_port()
        self.log_path = log_path
        self._extra_env = env
        self.process: subprocess.Popen | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def lab_url(self, notebook: str) -> str:
        """URL that opens ``notebook`` with a reset workspace."""
        return f"{self.url}/lab/tree/{notebook}?reset&token={self.token}"

    def start(self, timeout_s: float = 90.0) -> None:
        dirs = {
            name: self.base_dir / name
            for name in ("config", "data", "runtime", "workspaces", "settings")
        }
        for path in [self.root, *dirs.values()]:
            path.mkdir(parents=True, exist_ok=True)
        for name, settings in LAB_SETTINGS.items():
            target = dirs["settings"] / name
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_text(json.dumps(settings))
        # No announcements feed and no update check (None cannot be given on the command line).
        (dirs["config"] / "jupyter_lab_config.json").write_text(
            json.dumps(
                {
                    "LabApp": {
                        "news_url": None,
                        "check_for_updates_class": "jupyterlab.NeverCheckForUpdate",
                    }
                }
            )
        )
        env = {
            **os.environ,
            "JUPYTER_CONFIG_DIR": str(dirs["config"]),
            "JUPYTER_DATA_DIR": str(dirs["data"]),
            "JUPYTER_RUNTIME_DIR": str(dirs["runtime"]),
            "JUPYTERLAB_SETTINGS_DIR": str(dirs["settings"]),
            "JUPYTERLAB_WORKSPACES_DIR": str(dirs["workspaces"]),
            **self._extra_env,
        }
        command = [
            sys.executable,
            "-m",
            "jupyterlab",
            "--no-browser",
            "--ServerApp.ip=127.0.0.1",
            f"--ServerApp.port={self.port}",
            "--ServerApp.port_retries=0",
            f"--IdentityProvider.token={self.token}",
            f"--ServerApp.root_dir={self.root}",
            f"--LabApp.user_settings_dir={dirs['settings']}",
            f"--LabApp.workspaces_dir={dirs['workspaces']}",
            "--LabApp.expose_app_in_browser=True",
            "--allow-root",  # CI and these machines run as root
        ]
        self._log = self.log_path.open("w")
        self.process = subprocess.Popen(
            command, cwd=self.root, env=env, stdout=self._log, stderr=subprocess.STDOUT
        )
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(
                    f"JupyterLab exited with {self.process.returncode}: see {self.log_path}"
                )
            try:
                with urllib.request.urlopen(
                    f"{self.url}/api/status?token={self.token}", timeout=2
                ) as r:
                    if r.status == 200:
                        return
            except OSError:
                time.sleep(0.5)
        raise RuntimeError(f"JupyterLab did not answer within {timeout_s} s: see {self.log_path}")

    def stop(self) -> None:
        """Stop the server by its PID (SIGTERM, which also shuts its kernels down)."""
        if self.process is not None and self.process.poll() is None:
            os.kill(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                os.kill(self.process.pid, signal.SIGKILL)
                self.process.wait(timeout=10)
        if getattr(self, "_log", None) is not None:
            self._log.close()

    def __enter__(self) -> JupyterLabServer:
        try:
            self.start()
        except BaseException:
            self.stop()
            raise
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()
