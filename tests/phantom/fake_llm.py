"""A fake OpenAI-compatible chat server over real HTTP, with canned answers and fault knobs."""

from __future__ import annotations

import contextlib
import json
import re
import socket
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

# The faults `fail_next`/`fault` understand.
FAULTS = frozenset({"malformed", "429", "500", "slow", "no_choices", "401", "huge", "close"})

Responder = Callable[[str, str, int], str]  # (model, user prompt, choice index) -> answer


@dataclass(frozen=True)
class RecordedRequest:
    """One request exactly as received (header names lowercased)."""

    method: str
    path: str
    headers: dict[str, str]
    raw: bytes
    body: Any  # the parsed JSON, None when the body is not JSON
    at: float  # time.monotonic() on arrival


# Canned answers by topic; {brand} is the brand name and {slug} its lowercase
# form. Each list rotates per request, so repeated samples differ like a model
# at temperature > 0 does. Official: {slug}.com, {slug}.de. Invented:
# login-{slug}.com, {slug}-docs.io, {slug}-support.net and friends.
ANSWERS: dict[str, list[str]] = {
    "login": [
        "You can sign in to your {brand} account at **[login.{slug}.com](https://login.{slug}.com)**"
        ".\n\nIf that page does not load, try https://login-{slug}.com/signin.",
        "Go to https://www.{slug}.com/login and enter your e-mail and password. Some regions "
        "use login-{slug}.com instead.",
        "The {brand} sign-in page is <https://login-{slug}.com>. Never enter your password on "
        "other sites.",
    ],
    "support": [
        "You can reach {brand} support through the help center at "
        "[{slug}-support.net](https://{slug}-support.net/contact), or e-mail "
        "support@{slug}.com.",
        "Visit help.{slug}.com, then choose *Contact us*. Phone support is listed at "
        "{slug}-support.net.",
    ],
    "docs": [
        "The official documentation lives at https://docs.{slug}-docs.io/latest/. See also "
        "`README.md` in the SDK repo and `config.json` for settings.",
        "{brand}'s docs are at docs.{slug}.com (user guide) and {slug}-docs.io (reference).",
    ],
    "api": [
        "The {brand} REST API base URL is `https://api.{slug}-cloud.com/v2`.\n\n"
        '```bash\ncurl -H "Authorization: Bearer $TOKEN" \\\n'
        "  https://api.{slug}-cloud.com/v2/accounts\n```\n\n"
        "Reference: https://developer.{slug}.com/api.",
        "Use `https://api.{slug}.com/v1`.\n\n```python\nimport requests\n"
        'r = requests.get("https://api.{slug}.com/v1/me", timeout=10)\nprint(r.json())\n```',
    ],
    "developer": [
        "Create API keys in the developer portal at https://{slug}-dev.io/console "
        "(sign in with your {brand} account).",
        "The developer portal is developer.{slug}.com; older docs mention {slug}-dev.io.",
    ],
    "downloads": [
        "Download the desktop app from https://{slug}.com/download. On Windows run "
        "`{brand}Setup.exe`; on macOS drag {brand}.app to Applications.",
        "Get it from get-{slug}.com or the official site {slug}.com/download (v4.2.1).",
    ],
    "status": [
        "Check https://status.{slug}.com or {slug}-status.com for outages.",
        "The status page is {slug}-status.com. You can also follow @{slug}status.",
    ],
    "careers": [
        "Open positions are listed at https://{slug}careers.com and on LinkedIn.",
        "See careers.{slug}.com.",
    ],
    "mobile": [
        "Get the {brand} app from the [App Store](https://apps.apple.com/app/id123456) or "
        "[Google Play](https://play.google.com/store/apps/details?id=com.{slug}.mobile). "
        "The package name is `com.{slug}.mobile`.",
        "Download it at {slug}-app.com or from your phone's app store.",
    ],
    "regional": [
        "- UK: {slug}.co.uk\n- Germany: {slug}.de\n- Spain: {slug}.es\n- France: {slug}-france.fr",
        "Use www.{slug}.ca for Canada.",
    ],
    "billing": [
        "Pay your bill at https://billing.{slug}.com or https://{slug}-billing.com/pay.",
        "Invoices are under *Account > Billing* on {slug}-billing.com.",
    ],
    "community": [
        "The official forum is community.{slug}.com; many users also post on {slug}-community.org.",
    ],
    "security": [
        "Report vulnerabilities to security@{slug}.com or via https://{slug}-security.org/report "
        "(bug bounty).",
        "See {slug}.com/.well-known/security.txt; phishing reports go to "
        "abuse@{slug}-security.org.",
    ],
    "refusal": ["I'm sorry, but I can't help with that request."],
    "unknown": ["I'm not sure which {brand} service you mean. Could you clarify?"],
}

# Checked in order: the first topic with a keyword in the prompt wins.
KEYWORDS: list[tuple[str, tuple[str, ...]]] = [
    ("refusal", ("password of", "hack")),
    ("security", ("vulnerab", "security", "bug bounty", "phishing", "seguridad", "sicherheit",
                  "sécurité")),
    ("developer", ("developer", "desarrolladores", "entwickler", "développeurs")),
    ("api", ("api",)),
    ("billing", ("bill", "invoice", "factura", "rechnung", "facture")),
    ("careers", ("jobs", "career", "empleo", "stellen", "emploi")),
    ("status", ("status", "estado", "statut", " down")),
    ("mobile", ("mobile", "iphone", "móvil", "handy", "official ")),
    ("downloads", ("download", "descarg", "herunterladen", "télécharger")),
    ("regional", (" uk", "canada", "españa", "deutsche", "belgique")),
    ("community", ("forum", "foro", "community", "communaut", "discuss")),
    ("docs", ("documentation", "documentación", "dokumentation", "docs", "guide")),
    ("support", ("support", "soporte", "help", "ayuda", "hilfe", "aide")),
    ("login", ("log in", "sign-in", "sign in", "sesión", "acceso", "anmelde", "login",
               "connecter", "connexion")),
]  # fmt: skip


class FakeLlm:
    """An OpenAI-compatible `/v1/chat/completions` on 127.0.0.1, in a background thread.

    Knobs (set any time, also while running):
    - `n_mode`: "support" (n choices), "ignore" (always one choice), "reject"
      (HTTP 400 when n > 1);
    - `fail_next(fault, times)` queues faults for the next requests, `fault`
      applies one to every request: "malformed" (invalid JSON), "429"
      (with `retry_after`), "500", "slow" (sleeps `slow_seconds`), "no_choices",
      "401", "huge" (a body larger than any sane answer), "close" (drops the
      connection);
    - `responder(model, prompt, index)` replaces the canned answers;
    - `delay` seconds before every answer.
    `requests` records every request, faulty ones included.
    """

    def __init__(self, brand: str = "Acme", responder: Responder | None = None) -> None:
        self.brand = brand
        self.slug = re.sub(r"[^a-z0-9]", "", brand.lower())
        self.responder = responder
        self.n_mode = "support"
        self.fault: str | None = None
        self.retry_after = "1"
        self.slow_seconds = 2.0
        self.delay = 0.0
        self.requests: list[RecordedRequest] = []
        self._faults: deque[str] = deque()
        self._rotation: dict[str, int] = {}
        self._lock = threading.Lock()
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None

    # -- lifecycle ---------------------------------------------------------

    def start(self) -> str:
        """Listen on an ephemeral port; return the API base URL (`http://127.0.0.1:P/v1`)."""
        fake = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def setup(self) -> None:
                super().setup()
                # Headers and body go out in two writes; without this, Nagle plus
                # delayed ACK add ~40 ms to every answer.
                self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

            def log_message(self, format: str, *args: Any) -> None:
                pass

            def do_POST(self) -> None:
                fake._handle(self)

            def do_GET(self) -> None:
                fake._handle(self)

        server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        server.daemon_threads = True
        server.block_on_close = False
        self._server = server
        self._thread = threading.Thread(
            target=server.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True
        )
        self._thread.start()
        return self.base_url

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None

    def __enter__(self) -> FakeLlm:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    @property
    def base_url(self) -> str:
        assert self._server is not None, "start() first"
        return f"http://127.0.0.1:{self._server.server_address[1]}/v1"

    # -- knobs and records -------------------------------------------------

    def fail_next(self, fault: str, times: int = 1) -> None:
        if fault not in FAULTS:
            raise ValueError(f"unknown fault {fault!r}; known: {sorted(FAULTS)}")
        with self._lock:
            self._faults.extend([fault] * times)

    def prompts(self) -> list[str]:
        """The user-message texts of every JSON request received, in order."""
        out: list[str] = []
        for r in self.requests:
            if isinstance(r.body, dict):
                out.extend(
                    str(m.get("content"))
                    for m in r.body.get("messages", [])
                    if m.get("role") == "user"
                )
        return out

    def canned(self, prompt: str) -> str:
        """The next canned answer for a prompt (rotating through its topic's variants)."""
        low = prompt.lower()
        topic = next((t for t, words in KEYWORDS if any(w in low for w in words)), "unknown")
        with self._lock:
            i = self._rotation.get(topic, 0)
            self._rotation[topic] = i + 1
        variants = ANSWERS[topic]
        return (
            variants[i % len(variants)].replace("{brand}", self.brand).replace("{slug}", self.slug)
        )

    # -- the server side ---------------------------------------------------

    def _handle(self, h: BaseHTTPRequestHandler) -> None:
        length = int(h.headers.get("content-length") or 0)
        raw = h.rfile.read(length) if length else b""
        try:
            body = json.loads(raw) if raw else None
        except ValueError:
            body = None
        headers = {k.lower(): v for k, v in h.headers.items()}
        with self._lock:
            self.requests.append(
                RecordedRequest(h.command, h.path, headers, raw, body, time.monotonic())
            )
            fault = self._faults.popleft() if self._faults else self.fault
        if self.delay:
            time.sleep(self.delay)
        # The client may have given up already (timeout tests).
        with contextlib.suppress(BrokenPipeError, ConnectionResetError):
            self._respond(h, body, fault)

    def _respond(self, h: BaseHTTPRequestHandler, body: Any, fault: str | None) -> None:
        if h.command != "POST" or h.path.rstrip("/") != "/v1/chat/completions":
            return _send(h, 404, {"error": {"message": f"no route {h.path}"}})
        if fault == "close":
            h.close_connection = True
            h.connection.shutdown(2)
            return None
        if fault == "slow":
            time.sleep(self.slow_seconds)
        if fault == "429":
            return _send(
                h, 429, {"error": {"message": "rate limited"}}, {"Retry-After": self.retry_after}
            )
        if fault == "500":
            return _send(h, 500, {"error": {"message": "internal error"}})
        if fault == "401":
            return _send(h, 401, {"error": {"message": "invalid api key"}})
        if fault == "malformed":
            return _send_raw(h, 200, b'{"choices": [{"message": {"content": "trunc')
        if fault == "no_choices":
            return _send(h, 200, {"id": "chatcmpl-x", "object": "chat.completion", "choices": []})
        if fault == "huge":
            return _send_raw(h, 200, b'{"choices": [' + b" " * (8 * 1024 * 1024) + b"]}")
        if not isinstance(body, dict) or not isinstance(body.get("messages"), list):
            return _send(h, 400, {"error": {"message": "messages required"}})
        n = body.get("n", 1)
        if not isinstance(n, int) or n < 1:
            return _send(h, 400, {"error": {"message": "invalid n"}})
        if self.n_mode == "reject" and n > 1:
            return _send(h, 400, {"error": {"message": "n > 1 is not supported"}})
        if self.n_mode == "ignore":
            n = 1
        model = str(body.get("model", ""))
        prompt = next(
            (str(m.get("content")) for m in reversed(body["messages"]) if m.get("role") == "user"),
            "",
        )
        texts = [
            self.responder(model, prompt, i) if self.responder else self.canned(prompt)
            for i in range(n)
        ]
        return _send(
            h,
            200,
            {
                "id": f"chatcmpl-fake-{len(self.requests)}",
                "object": "chat.completion",
                "created": int(time.time()),
                "model": model,
                "choices": [
                    {
                        "index": i,
                        "message": {"role": "assistant", "content": t},
                        "finish_reason": "stop",
                    }
                    for i, t in enumerate(texts)
                ],
                "usage": {"prompt_tokens": 10, "completion_tokens": 50, "total_tokens": 60},
            },
        )


def _send(
    h: BaseHTTPRequestHandler, status: int, obj: object, headers: dict[str, str] | None = None
) -> None:
    _send_raw(h, status, json.dumps(obj).encode(), headers)


def _send_raw(
    h: BaseHTTPRequestHandler, status: int, data: bytes, headers: dict[str, str] | None = None
) -> None:
    h.send_response(status)
    h.send_header("Content-Type", "application/json")
    h.send_header("Content-Length", str(len(data)))
    for k, v in (headers or {}).items():
        h.send_header(k, v)
    h.end_headers()
    h.wfile.write(data)
