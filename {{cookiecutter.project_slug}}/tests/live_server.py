"""Run the service as a real uvicorn process on a free 127.0.0.1 port (smoke test, benchmarks, tests)."""

import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass

APP = "{{ cookiecutter.package_name }}.main:app"
SERVE = "{{ cookiecutter.package_name }}.serve"


@dataclass(frozen=True)
class Reply:
    status: int
    headers: Mapping[str, str]
    body: bytes

    def json(self) -> object:
        return json.loads(self.body)


def request(
    url: str, method: str = "GET", payload: object = None, timeout: float = 10, headers: Mapping[str, str] = {}
) -> Reply:
    """One HTTP call with the standard library; error statuses are returned, not raised."""
    data = None if payload is None else json.dumps(payload).encode()
    req = urllib.request.Request(url, data=data, method=method, headers={"Content-Type": "application/json", **headers})
    try:
        with urllib.request.urlopen(req, timeout=timeout) as response:
            return Reply(response.status, dict(response.headers), response.read())
    except urllib.error.HTTPError as error:
        return Reply(error.code, dict(error.headers), error.read())


class ServerError(RuntimeError):
    """The server did not start; the message holds its output."""


@dataclass
class Server:
    process: subprocess.Popen[bytes]
    base_url: str
    log_path: str

    def output(self) -> str:
        with open(self.log_path, encoding="utf-8", errors="replace") as log:
            return log.read()


def bound_socket() -> socket.socket:
    """A listening socket on a free 127.0.0.1 port, handed to uvicorn so no other process can take the port."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    # uvicorn treats an --fd socket as a Unix socket and so never sets TCP_NODELAY on its connections; set on the
    # listener, Linux passes it on to every accepted connection (without it, Nagle's algorithm and delayed ACKs add
    # about 40 ms to each keep-alive response written in two parts)
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    sock.bind(("127.0.0.1", 0))
    sock.listen(2048)
    sock.set_inheritable(True)
    return sock


@contextmanager
def run_server(
    env: Mapping[str, str],
    log_path: str,
    app: str = APP,
    extra_args: tuple[str, ...] = (),
    startup_timeout: float = 30,
    wait: bool = True,
    serve: bool = False,
    access_log: bool = False,
) -> Iterator[Server]:
    """Start uvicorn, wait until /health/live answers, and stop it (SIGTERM, then SIGKILL) on exit.

    wait=False returns as soon as the process is started (the caller does other work, then calls wait_until_live).
    access_log=True keeps uvicorn's line per request, as serve.py does (the benchmark); tests do without it.
    """
    sock = bound_socket()
    port = sock.getsockname()[1]
    if serve:  # the project's own entry point (serve.py): WORKERS from the environment decides the processes
        command = [sys.executable, "-m", SERVE, "--fd", str(sock.fileno()), *extra_args]
    else:
        quiet = () if access_log else ("--no-access-log",)
        command = [sys.executable, "-m", "uvicorn", app, "--fd", str(sock.fileno()), *quiet, *extra_args]
    with open(log_path, "wb") as log:
        process = subprocess.Popen(
            command, env={**os.environ, **env}, stdout=log, stderr=subprocess.STDOUT, pass_fds=(sock.fileno(),)
        )
    sock.close()
    server = Server(process, f"http://127.0.0.1:{port}", log_path)
    try:
        if wait:
            wait_until_live(server, startup_timeout)
        yield server
    finally:
        stop(process)


def wait_until_live(server: Server, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if server.process.poll() is not None:
            raise ServerError(f"server exited with code {server.process.returncode}:\n{server.output()}")
        try:
            if request(f"{server.base_url}/health/live", timeout=1).status == 200:
                return
        except OSError:
            pass
        time.sleep(0.05)
    raise ServerError(f"server not live after {timeout:.0f} s:\n{server.output()}")


def stop(process: subprocess.Popen[bytes], grace: float = 15) -> int:
    """SIGTERM for a graceful shutdown; SIGKILL if it does not end within the grace period."""
    if process.poll() is None:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(grace)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
    return process.returncode
