"""A small client of pydevd-pycharm's own protocol (what PyCharm speaks), stdlib only.

One message per line, `id<TAB>seq<TAB>text`; the debugger URL-quotes its text,
which is XML for frames and variables. Only the few commands the tests need.
"""

from __future__ import annotations

import contextlib
import socket
import time
import xml.etree.ElementTree as ET
from urllib.parse import unquote, unquote_plus

__all__ = ["PyCharmClient", "Variable"]

CMD_RUN = 101
CMD_THREAD_SUSPEND = 105
CMD_THREAD_RUN = 106
CMD_GET_VARIABLE = 110
CMD_SET_BREAK = 111
CMD_EVALUATE_EXPRESSION = 113
CMD_GET_FRAME = 114
CMD_VERSION = 501
CMD_ERROR = 901

Variable = tuple[str, str, str]  # name, type, value


class PyCharmClient:
    def __init__(self, sock: socket.socket, *, timeout: float = 30.0) -> None:
        self.timeout = timeout
        self._sock = sock
        self._buffer = b""
        self._seq = 0
        self._kept: list[tuple[int, int, str]] = []
        self.thread_id = ""
        self.frame_id = ""
        self.line = 0

    @classmethod
    def accept(cls, server: socket.socket, *, timeout: float = 30.0) -> PyCharmClient:
        server.settimeout(timeout)
        sock, _ = server.accept()
        return cls(sock, timeout=timeout)

    def send(self, cmd: int, text: str) -> int:
        self._seq += 2  # the IDE's numbers are odd... any unique number does
        self._sock.sendall(f"{cmd}\t{self._seq}\t{text}\n".encode())
        return self._seq

    def _next(self, deadline: float) -> tuple[int, int, str]:
        while b"\n" not in self._buffer:
            self._sock.settimeout(max(0.01, deadline - time.monotonic()))
            try:
                chunk = self._sock.recv(65536)
            except TimeoutError:
                raise TimeoutError("pydevd-pycharm sent nothing in time") from None
            if not chunk:
                raise EOFError("pydevd-pycharm closed the connection")
            self._buffer += chunk
        line, self._buffer = self._buffer.split(b"\n", 1)
        cmd, seq, text = line.decode().split("\t", 2)
        return int(cmd), int(seq), unquote(text)

    def wait(self, cmd: int | None = None, seq: int | None = None) -> str:
        """The text of the first message with this command id or answering `seq`."""
        deadline = time.monotonic() + self.timeout
        while True:
            for i, (c, s, text) in enumerate(self._kept):
                if (cmd is None or c == cmd) and (seq is None or s == seq):
                    del self._kept[i]
                    return text
            message = self._next(deadline)
            if message[0] == CMD_ERROR and message[1] == seq:
                raise RuntimeError(f"pydevd-pycharm: {message[2]}")
            self._kept.append(message)

    def request(self, cmd: int, text: str) -> str:
        return self.wait(seq=self.send(cmd, text))

    # -- a session ---------------------------------------------------------------
    def start(self, path: str, line: int, *more: int) -> None:
        """Hand-shake, line breakpoints, run; returns when stopped at the first reached."""
        self.request(CMD_VERSION, "1.1\tUNIX\tID")
        for number, where in enumerate((line, *more), 1):
            self.send(CMD_SET_BREAK, f"{number}\tpython-line\t{path}\t{where}\tNone\tNone\tNone")
        self.send(CMD_RUN, "")
        self._suspended()

    def _suspended(self) -> None:
        suspended = ET.fromstring(self.wait(cmd=CMD_THREAD_SUSPEND))
        thread = suspended.find("thread")
        assert thread is not None
        frame = thread.find("frame")
        assert frame is not None
        self.thread_id, self.frame_id = thread.get("id", ""), frame.get("id", "")
        self.line = int(frame.get("line", "0"))

    def next_stop(self) -> int:
        """Resume, and return the line of the next breakpoint reached."""
        self.resume()
        self._suspended()
        return self.line

    @staticmethod
    def _variables(xml: str) -> list[Variable]:
        return [
            (
                unquote_plus(var.get("name", "")),
                var.get("type", ""),
                unquote_plus(var.get("value", "")),
            )
            for var in ET.fromstring(xml).iter("var")
        ]

    def frame_variables(self) -> list[Variable]:
        xml = self.request(CMD_GET_FRAME, f"{self.thread_id}\t{self.frame_id}\tFRAME\t0")
        return self._variables(xml)

    def children(self, expression: str, *path: str) -> list[Variable]:
        """The children of `expression`, or of its child `path[0]`, its grandchild ..."""
        attrs = "\t".join((expression, *path))
        text = f"{self.thread_id}\t{self.frame_id}\tEXPRESSION\t\t{attrs}"
        return self._variables(self.request(CMD_GET_VARIABLE, text))

    def evaluate(self, expression: str) -> Variable:
        text = f"{self.thread_id}\t{self.frame_id}\tLOCAL\t{expression}\t1"
        return self._variables(self.request(CMD_EVALUATE_EXPRESSION, text))[0]

    def resume(self) -> None:
        self.send(CMD_THREAD_RUN, self.thread_id)

    def close(self) -> None:
        with contextlib.suppress(OSError):
            self._sock.shutdown(socket.SHUT_RDWR)
        self._sock.close()
