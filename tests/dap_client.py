"""A small Debug Adapter Protocol client over a socket, stdlib only, for the debugger tests.

Messages are JSON framed by a `Content-Length` header. A reader thread collects
every message; requests wait for their response, tests wait for events, each with
a deadline so that a stuck debugger fails a test instead of hanging it.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import socket
import subprocess
import threading
import time
import uuid
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

__all__ = ["DAPClient", "DAPError", "debuggee", "free_port", "marked_processes"]


class DAPError(RuntimeError):
    """A request failed, timed out, or the connection closed."""


class DAPClient:
    def __init__(self, sock: socket.socket, *, timeout: float = 30.0) -> None:
        self.timeout = timeout
        self._sock = sock
        self._seq = 0
        self._received: list[dict[str, Any]] = []
        self._closed = False
        self._changed = threading.Condition()
        self._reader = threading.Thread(target=self._read, name="dap-reader", daemon=True)
        self._reader.start()

    @classmethod
    def connect(cls, host: str, port: int, *, timeout: float = 30.0) -> DAPClient:
        """Connect to a debugger that listens (debugpy --listen), retrying until `timeout`."""
        deadline = time.monotonic() + timeout
        while True:
            try:
                return cls(socket.create_connection((host, port), timeout=2.0), timeout=timeout)
            except OSError as exc:
                if time.monotonic() > deadline:
                    raise DAPError(f"could not connect to {host}:{port}: {exc}") from exc
                time.sleep(0.05)

    @classmethod
    def accept(cls, server: socket.socket, *, timeout: float = 30.0) -> DAPClient:
        """Wait for a debugger that connects to us (pydevd --client)."""
        server.settimeout(timeout)
        try:
            sock, _ = server.accept()
        except OSError as exc:
            raise DAPError(f"no debugger connected within {timeout} s: {exc}") from exc
        return cls(sock, timeout=timeout)

    # -- wire ------------------------------------------------------------------------
    def _read(self) -> None:
        buffer = b""
        self._sock.settimeout(None)
        try:
            while True:
                while b"\r\n\r\n" not in buffer:
                    chunk = self._sock.recv(65536)
                    if not chunk:
                        return
                    buffer += chunk
                head, buffer = buffer.split(b"\r\n\r\n", 1)
                headers = dict(
                    line.split(":", 1) for line in head.decode("ascii").split("\r\n") if line
                )
                length = int(headers["Content-Length"])
                while len(buffer) < length:
                    chunk = self._sock.recv(65536)
                    if not chunk:
                        return
                    buffer += chunk
                body, buffer = buffer[:length], buffer[length:]
                with self._changed:
                    self._received.append(json.loads(body))
                    self._changed.notify_all()
        except OSError:
            return
        finally:
            with self._changed:
                self._closed = True
                self._changed.notify_all()

    def send(self, command: str, **arguments: Any) -> int:
        self._seq += 1
        message = {"seq": self._seq, "type": "request", "command": command}
        if arguments:
            message["arguments"] = arguments
        body = json.dumps(message).encode()
        self._sock.sendall(b"Content-Length: %d\r\n\r\n" % len(body) + body)
        return self._seq

    def _wait(self, match: Any, what: str, timeout: float | None) -> dict[str, Any]:
        deadline = time.monotonic() + (self.timeout if timeout is None else timeout)
        with self._changed:
            while True:
                for message in self._received:
                    if match(message):
                        return message
                left = deadline - time.monotonic()
                if self._closed or left <= 0:
                    state = "connection closed" if self._closed else "timed out"
                    raise DAPError(f"{state} waiting for {what}")
                self._changed.wait(left)

    # -- protocol --------------------------------------------------------------------
    def response(self, seq: int, *, timeout: float | None = None) -> dict[str, Any]:
        """The body of the response to request `seq`; DAPError if it failed."""
        message = self._wait(
            lambda m: m.get("type") == "response" and m.get("request_seq") == seq,
            f"the response to request {seq}",
            timeout,
        )
        if not message.get("success"):
            raise DAPError(f"{message.get('command')} failed: {message.get('message')}")
        body: dict[str, Any] = message.get("body") or {}
        return body

    def request(self, command: str, *, timeout: float | None = None, **arguments: Any) -> Any:
        return self.response(self.send(command, **arguments), timeout=timeout)

    def event(self, name: str, *, timeout: float | None = None) -> dict[str, Any]:
        """The body of the first event `name` received (waiting for it if need be)."""
        message = self._wait(
            lambda m: m.get("type") == "event" and m.get("event") == name,
            f"event {name!r}",
            timeout,
        )
        body: dict[str, Any] = message.get("body") or {}
        return body

    def close(self) -> None:
        with contextlib.suppress(OSError):
            self._sock.shutdown(socket.SHUT_RDWR)
        self._sock.close()
        self._reader.join(timeout=5)


def marked_processes(variable: str, marker: str) -> list[int]:
    """Processes whose environment has `variable=marker`: a debuggee and all it spawned
    (debugpy's adapter leaves the session). Read from /proc: none where there is none."""
    if not os.path.isdir("/proc"):
        return []
    tag = f"{variable}={marker}".encode()
    pids = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                with open(f"/proc/{entry}/environ", "rb") as environ:
                    if tag in environ.read().split(b"\0"):
                        pids.append(int(entry))
            except OSError:
                continue
    return pids


@contextlib.contextmanager
def debuggee(
    argv: list[str], workdir: Path, variable: str, env: Mapping[str, str]
) -> Iterator[tuple[subprocess.Popen[bytes], Path]]:
    """Run `argv` in `workdir` as a new session, its output in `workdir/debuggee.log`, the
    environment without PYTHON* variables but `env`, marked with `variable`; yield the
    process and the log's path. On leaving, it and all it spawned are killed, and a
    RuntimeError says so if one outlived it."""
    marker = uuid.uuid4().hex
    environ = {k: v for k, v in os.environ.items() if not k.startswith("PYTHON")}
    environ.update(PYDEVD_DISABLE_FILE_VALIDATION="1", **env)
    environ[variable] = marker
    log_path = workdir / "debuggee.log"
    with log_path.open("w") as log:
        proc = subprocess.Popen(
            argv,
            cwd=workdir,
            env=environ,
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        try:
            yield proc, log_path
        finally:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGKILL)
            for pid in marked_processes(variable, marker):  # the adapter leaves the group
                with contextlib.suppress(ProcessLookupError):
                    os.kill(pid, signal.SIGKILL)
            proc.wait(timeout=10)
            deadline = time.monotonic() + 10
            while marked_processes(variable, marker) and time.monotonic() < deadline:
                time.sleep(0.05)
    if marked_processes(variable, marker):
        raise RuntimeError("a debugger process outlived its session")


def free_port() -> int:
    """A TCP port on 127.0.0.1 that was free a moment ago."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port
