"""Real-socket test receivers: a signed-webhook HTTP endpoint, syslog TCP/TLS and UDP collectors."""

from __future__ import annotations

import contextlib
import http.server
import json
import re
import socket
import socketserver
import ssl
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from service.webhooks.formats import SignatureError, verify

# --- Parsers (the receiving side of formats.py) ------------------------------------------


class OctetCountingDecoder:
    """Incremental RFC 6587 octet-counting decoder: feed bytes as they arrive, get frames."""

    def __init__(self, max_frame: int = 1 << 20) -> None:
        self._buffer = b""
        self._max = max_frame

    def feed(self, data: bytes) -> list[bytes]:
        self._buffer += data
        frames: list[bytes] = []
        while True:
            space = self._buffer.find(b" ")
            if space == -1:
                if len(self._buffer) > 10 or (not self._buffer.isdigit() and self._buffer):
                    raise ValueError(f"not octet-counted: {self._buffer[:20]!r}")
                return frames
            length_text = self._buffer[:space]
            if not length_text.isdigit() or length_text.startswith(b"0"):
                raise ValueError(f"bad MSG-LEN {length_text[:20]!r}")
            length = int(length_text)
            if length > self._max:
                raise ValueError(f"frame of {length} bytes is over the limit")
            end = space + 1 + length
            if len(self._buffer) < end:
                return frames
            frames.append(self._buffer[space + 1 : end])
            self._buffer = self._buffer[end:]

    @property
    def pending(self) -> int:
        return len(self._buffer)


_SYSLOG = re.compile(
    rb"^<(?P<pri>\d{1,3})>(?P<version>\d{1,2}) (?P<timestamp>\S+) (?P<hostname>\S+) "
    rb"(?P<app_name>\S+) (?P<procid>\S+) (?P<msgid>\S+) "
    rb"(?P<sd>-|(?:\[[^\]]*\])+)(?: (?P<msg>.*))?$",
    re.DOTALL,
)


def parse_syslog(frame: bytes) -> dict[str, Any]:
    """An RFC 5424 message as a dict (pri, facility, ..., msg); ValueError if malformed."""
    match = _SYSLOG.match(frame)
    if match is None:
        raise ValueError(f"not RFC 5424: {frame[:80]!r}")
    pri = int(match["pri"])
    msg = match["msg"] or b""
    return {
        "pri": pri,
        "facility": pri // 8,
        "severity": pri % 8,
        "version": int(match["version"]),
        "timestamp": match["timestamp"].decode(),
        "hostname": match["hostname"].decode(),
        "app_name": match["app_name"].decode(),
        "procid": match["procid"].decode(),
        "msgid": match["msgid"].decode(),
        "structured_data": match["sd"].decode(),
        "msg": msg.removeprefix(b"\xef\xbb\xbf").decode("utf-8"),
        "bom": msg.startswith(b"\xef\xbb\xbf"),
    }


_UNESCAPES = {"\\": "\\", "=": "=", "|": "|", "n": "\n", "r": "\r"}


def _cef_unescape(text: str) -> str:
    out: list[str] = []
    chars = iter(text)
    for ch in chars:
        if ch == "\\":
            nxt = next(chars, "")
            out.append(_UNESCAPES.get(nxt, "\\" + nxt))
        else:
            out.append(ch)
    return "".join(out)


def _split_header(line: str) -> tuple[list[str], str]:
    fields: list[str] = []
    current: list[str] = []
    i = 0
    while i < len(line) and len(fields) < 7:
        ch = line[i]
        if ch == "\\" and i + 1 < len(line):
            current.append(line[i : i + 2])
            i += 2
            continue
        if ch == "|":
            fields.append("".join(current))
            current = []
        else:
            current.append(ch)
        i += 1
    if len(fields) < 7:
        raise ValueError(f"CEF header has {len(fields)} of 7 fields")
    return fields, line[i:]


def parse_cef_extension(extension: str) -> dict[str, str]:
    """`k=v k2=v with spaces` with CEF escapes: keys sit before each unescaped `=`."""
    equals: list[int] = []
    escaped = False
    for index, ch in enumerate(extension):
        if escaped:
            escaped = False
        elif ch == "\\":
            escaped = True
        elif ch == "=":
            equals.append(index)
    keys = [(extension.rfind(" ", 0, eq) + 1, eq) for eq in equals]
    result: dict[str, str] = {}
    for n, (start, eq) in enumerate(keys):
        key = extension[start:eq]
        if not re.fullmatch(r"[A-Za-z0-9_]+", key):
            raise ValueError(f"bad CEF key {key!r}")
        end = keys[n + 1][0] - 1 if n + 1 < len(keys) else len(extension)
        result[key] = _cef_unescape(extension[eq + 1 : end])
    return result


def parse_cef(line: str) -> dict[str, Any]:
    """A CEF:0 line as a dict; `fields` maps custom labels (cs1Label=brand) to their values."""
    if not line.startswith("CEF:"):
        raise ValueError(f"not CEF: {line[:40]!r}")
    header, extension = _split_header(line)
    ext = parse_cef_extension(extension)
    labeled = {
        ext[key]: ext[key[: -len("Label")]]
        for key in ext
        if key.endswith("Label") and key[: -len("Label")] in ext
    }
    return {
        "version": header[0].removeprefix("CEF:"),
        "vendor": _cef_unescape(header[1]),
        "product": _cef_unescape(header[2]),
        "device_version": _cef_unescape(header[3]),
        "signature_id": _cef_unescape(header[4]),
        "name": _cef_unescape(header[5]),
        "severity": int(header[6]),
        "extension": ext,
        "fields": labeled,
    }


def parse_frame(frame: bytes) -> dict[str, Any]:
    """`{"raw", "syslog", "cef"}`: the frame, its RFC 5424 parse and the CEF parse (or None)."""
    syslog = parse_syslog(frame)
    cef = parse_cef(syslog["msg"]) if syslog["msg"].startswith("CEF:") else None
    return {"raw": frame, "syslog": syslog, "cef": cef}


# --- Common plumbing ---------------------------------------------------------------------


class _Recorder:
    """A thread-safe list of what arrived, with waiting."""

    def __init__(self) -> None:
        self._cond = threading.Condition()
        self.errors: list[str] = []

    def _notify(self) -> None:
        with self._cond:
            self._cond.notify_all()

    def wait_until(self, predicate: Callable[[], bool], timeout: float = 5.0) -> bool:
        deadline = time.monotonic() + timeout
        with self._cond:
            while not predicate():
                left = deadline - time.monotonic()
                if left <= 0:
                    return False
                self._cond.wait(left)
            return True


def _serve(server: socketserver.BaseServer) -> threading.Thread:
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05})
    thread.daemon = True
    thread.start()
    return thread


# --- HTTP webhook receiver ---------------------------------------------------------------


@dataclass
class Delivery:
    """One HTTP request as the receiver saw it and what it answered."""

    id: str | None
    headers: dict[str, str]
    body: bytes
    payload: Any
    verified: bool
    status: int | None  # None: the connection was dropped without an answer
    path: str
    processed: bool  # genuine and taken in (even if the answer never made it back)
    at: float = field(default_factory=time.monotonic)


class _Server(http.server.ThreadingHTTPServer):
    daemon_threads = True
    block_on_close = False
    allow_reuse_address = True


class HttpReceiver(_Recorder):
    """A webhook endpoint on 127.0.0.1 that verifies signatures and dedupes on webhook-id.

    `start() -> url`, `stop()` (or `kill()` mid-request) and `start()` again on
    the same port. Behaviour knobs: `fail_next(n, status)`, `drop_next(n)` (take
    the request, then vanish without answering: a receiver crash after
    processing), `delay` seconds before answering, `status`, `response_body`,
    `redirect_to`. `received` has every request, `accepted` the genuine ones the
    receiver processed, `ids` each accepted event id once, `duplicates` the
    event ids processed more than once (what idempotent receivers dedupe).
    """

    def __init__(
        self,
        secrets: str | Sequence[str] | None = None,
        *,
        splunk_token: str | None = None,
        tls: ssl.SSLContext | None = None,
        host: str = "127.0.0.1",
        port: int = 0,
        path: str = "/hook",
    ) -> None:
        super().__init__()
        self.secrets = [secrets] if isinstance(secrets, str) else list(secrets or [])
        self.splunk_token = splunk_token
        self.tls = tls
        self.host = host
        self.port = port
        self.path = path
        self.delay = 0.0
        self.status = 200
        self.response_body = b'{"ok":true}'
        self.redirect_to: str | None = None
        self.received: list[Delivery] = []
        self._fail: list[tuple[int, float | None]] = []
        self._drop = 0
        self._server: _Server | None = None
        self._stopping = threading.Event()
        self._connections: set[socket.socket] = set()
        self._lock = threading.Lock()

    # control

    def start(self) -> str:
        """Listen (again, on the same port after a stop) and return the URL to deliver to."""
        if self._server is not None:
            return self.url
        receiver = self

        class Handler(_Handler):
            owner = receiver

        self._stopping.clear()
        server = _Server((self.host, self.port), Handler)
        if self.tls is not None:
            server.socket = self.tls.wrap_socket(server.socket, server_side=True)
        self.port = server.server_address[1]
        self._server = server
        _serve(server)
        return self.url

    @property
    def url(self) -> str:
        return f"{'https' if self.tls else 'http'}://{self.host}:{self.port}{self.path}"

    def stop(self) -> None:
        """Stop listening; requests in flight are cut (a crashed receiver)."""
        self._stopping.set()
        server, self._server = self._server, None
        if server is not None:
            server.shutdown()
            server.server_close()
        with self._lock:
            for conn in list(self._connections):
                with contextlib.suppress(OSError):
                    conn.shutdown(socket.SHUT_RDWR)
                conn.close()
            self._connections.clear()

    kill = stop

    def fail_next(self, n: int = 1, status: int = 500, retry_after: float | None = None) -> None:
        """Answer the next `n` requests with `status` (without processing them)."""
        with self._lock:
            self._fail.extend([(status, retry_after)] * n)

    def drop_next(self, n: int = 1) -> None:
        """Process the next `n` requests, then close the connection without an answer."""
        with self._lock:
            self._drop += n

    # what arrived

    @property
    def accepted(self) -> list[Delivery]:
        with self._lock:
            return [d for d in self.received if d.processed]

    @property
    def ids(self) -> list[str]:
        seen: list[str] = []
        for d in self.accepted:
            if d.id is not None and d.id not in seen:
                seen.append(d.id)
        return seen

    @property
    def duplicates(self) -> list[str]:
        counts: dict[str, int] = {}
        for d in self.accepted:
            if d.id is not None:
                counts[d.id] = counts.get(d.id, 0) + 1
        return [i for i, c in counts.items() if c > 1]

    def wait_for(self, count: int, timeout: float = 5.0) -> bool:
        """Wait until `count` distinct event ids were accepted."""
        return self.wait_until(lambda: len(self.ids) >= count, timeout)

    def __enter__(self) -> HttpReceiver:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # internals (called from handler threads)

    def _handle(self, handler: _Handler) -> None:
        length = int(handler.headers.get("content-length") or 0)
        body = handler.rfile.read(length)
        headers = {k.lower(): v for k, v in handler.headers.items()}
        verified, payload = self._check(body, headers)
        with self._lock:
            failure = self._fail.pop(0) if self._fail and verified else None
            drop = verified and failure is None and self._drop > 0
            if drop:
                self._drop -= 1
        if failure is not None:
            status, extra = failure[0], {"retry-after": str(failure[1])} if failure[1] else {}
        elif not verified:
            status, extra = 401, {}
        elif self.redirect_to:
            status, extra = 302, {"location": self.redirect_to}
        else:
            status, extra = self.status, {}
        delivery = Delivery(
            id=headers.get("webhook-id") or _event_id(payload),
            headers=headers,
            body=body,
            payload=payload,
            verified=verified,
            status=None if drop else status,
            path=handler.path,
            processed=verified and (drop or status < 300),
        )
        with self._lock:
            self.received.append(delivery)
        self._notify()
        if drop:
            handler.close_connection = True
            handler.connection.shutdown(socket.SHUT_RDWR)
            return
        if self.delay and self._stopping.wait(self.delay):
            return  # stopped while "processing": no answer at all
        handler.send_response(status)
        for key, value in extra.items():
            handler.send_header(key, value)
        body_out = self.response_body if status < 300 else f"status {status}".encode()
        handler.send_header("content-type", "application/json")
        handler.send_header("content-length", str(len(body_out)))
        handler.end_headers()
        # The sender may have given up (timeout, size cap): its problem, not ours.
        with contextlib.suppress(OSError):
            handler.wfile.write(body_out)

    def _check(self, body: bytes, headers: dict[str, str]) -> tuple[bool, Any]:
        try:
            payload = json.loads(body) if body else None
        except ValueError:
            self.errors.append("body is not JSON")
            return False, None
        if self.splunk_token is not None:
            ok = headers.get("authorization") == f"Splunk {self.splunk_token}"
            if not ok:
                self.errors.append("bad Splunk token")
            return ok, payload
        if not self.secrets:
            return True, payload
        try:
            return True, verify(body, headers, self.secrets)
        except SignatureError as exc:
            self.errors.append(f"signature: {exc}")
            return False, payload


def _event_id(payload: Any) -> str | None:
    if isinstance(payload, dict):
        inner = payload.get("event")  # Splunk HEC wraps the payload
        if isinstance(inner, dict) and "id" in inner:
            return str(inner["id"])
        if "id" in payload:
            return str(payload["id"])
    return None


class _Handler(http.server.BaseHTTPRequestHandler):
    owner: HttpReceiver
    protocol_version = "HTTP/1.1"

    def setup(self) -> None:
        super().setup()
        with self.owner._lock:
            self.owner._connections.add(self.connection)

    def finish(self) -> None:
        with contextlib.suppress(OSError):
            super().finish()
        with self.owner._lock:
            self.owner._connections.discard(self.connection)

    def do_POST(self) -> None:
        try:
            self.owner._handle(self)
        except OSError:
            self.close_connection = True

    def log_message(self, format: str, *args: Any) -> None:
        pass  # quiet test output


# --- Syslog receivers --------------------------------------------------------------------


class _SyslogRecorder(_Recorder):
    def __init__(self) -> None:
        super().__init__()
        self.received: list[dict[str, Any]] = []
        self._lock = threading.Lock()

    def _record(self, frame: bytes) -> None:
        try:
            entry = parse_frame(frame)
        except ValueError as exc:
            self.errors.append(str(exc))
            entry = {"raw": frame, "syslog": None, "cef": None}
        with self._lock:
            self.received.append(entry)
        self._notify()

    def wait_for(self, count: int, timeout: float = 5.0) -> bool:
        """Wait until `count` frames arrived."""
        return self.wait_until(lambda: len(self.received) >= count, timeout)

    @property
    def cef(self) -> list[dict[str, Any]]:
        return [e["cef"] for e in self.received if e["cef"] is not None]


class _TcpServer(socketserver.ThreadingTCPServer):
    daemon_threads = True
    block_on_close = False
    allow_reuse_address = True


class SyslogTcpReceiver(_SyslogRecorder):
    """A syslog collector over TCP (or TLS with `tls=`): RFC 6587 octet counting, parsed frames.

    `start() -> "tcp://127.0.0.1:port"` (`tls://` with TLS), `.received`
    (dicts from parse_frame), `.cef`, `.reads` (recv() sizes, to see framing
    across reads), `wait_for(n)`, `stop()`.
    """

    def __init__(
        self, *, tls: ssl.SSLContext | None = None, host: str = "127.0.0.1", port: int = 0
    ) -> None:
        super().__init__()
        self.tls = tls
        self.host = host
        self.port = port
        self.reads: list[int] = []
        self._server: _TcpServer | None = None

    def start(self) -> str:
        """Listen (idempotent; the same port again after a stop) and return the target."""
        if self._server is None:
            self._listen()
        return self.url

    @property
    def url(self) -> str:
        return f"{'tls' if self.tls else 'tcp'}://{self.host}:{self.port}"

    def _listen(self) -> None:
        receiver = self

        class Handler(socketserver.BaseRequestHandler):
            def handle(self) -> None:
                receiver._consume(self.request)

        server = _TcpServer((self.host, self.port), Handler)
        if self.tls is not None:
            server.socket = self.tls.wrap_socket(server.socket, server_side=True)
        self.port = server.server_address[1]
        self._server = server
        _serve(server)

    def _consume(self, conn: socket.socket) -> None:
        decoder = OctetCountingDecoder()
        conn.settimeout(10)
        while True:
            try:
                data = conn.recv(65536)
            except (OSError, ssl.SSLError):
                break
            if not data:
                break
            with self._lock:
                self.reads.append(len(data))
            try:
                frames = decoder.feed(data)
            except ValueError as exc:
                self.errors.append(str(exc))
                break
            for frame in frames:
                self._record(frame)
        if decoder.pending:
            self.errors.append(f"{decoder.pending} bytes of an unfinished frame")

    def stop(self) -> None:
        server, self._server = self._server, None
        if server is not None:
            server.shutdown()
            server.server_close()

    def __enter__(self) -> SyslogTcpReceiver:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


class _UdpServer(socketserver.ThreadingUDPServer):
    daemon_threads = True
    block_on_close = False
    allow_reuse_address = True
    max_packet_size = 65535


class SyslogUdpReceiver(_SyslogRecorder):
    """A syslog collector over UDP: one RFC 5424 message per datagram (RFC 5426)."""

    def __init__(self, *, host: str = "127.0.0.1", port: int = 0) -> None:
        super().__init__()
        self.host = host
        self.port = port
        self._server: _UdpServer | None = None

    def start(self) -> str:
        """Listen (idempotent; the same port again after a stop) and return the target."""
        if self._server is None:
            self._listen()
        return f"udp://{self.host}:{self.port}"

    def _listen(self) -> None:
        receiver = self

        class Handler(socketserver.BaseRequestHandler):
            def handle(self) -> None:
                receiver._record(self.request[0])

        server = _UdpServer((self.host, self.port), Handler)
        self.port = server.server_address[1]
        self._server = server
        _serve(server)

    def stop(self) -> None:
        server, self._server = self._server, None
        if server is not None:
            server.shutdown()
            server.server_close()

    def __enter__(self) -> SyslogUdpReceiver:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()
