"""A local CT log emulator serving RFC 6962 and static-ct-api over real HTTP, with fault knobs."""

from __future__ import annotations

import base64
import datetime as dt
import gzip
import hashlib
import json
import re
import threading
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, ClassVar
from urllib.parse import parse_qs, urlsplit

import idna
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID, ObjectIdentifier

from service.sources.ct import merkle
from service.sources.ct.checkpoint import format_signature_line, key_id
from service.sources.ct.der import POISON_OID, strip_extensions
from service.sources.ct.sth import SIG_ECDSA, encode_digitally_signed, tree_head_input

TILE_WIDTH = 256
_SCT_LIST_OID = ObjectIdentifier("1.3.6.1.4.1.11129.2.4.2")
_TILE_RE = re.compile(r"^tile/(data|\d+)/((?:x\d{3}/)*\d{3})(?:\.p/(\d+))?$")


def _u(n: int, size: int) -> bytes:
    return n.to_bytes(size, "big")


def _vec(data: bytes, size: int) -> bytes:
    return _u(len(data), size) + data


def _spki(key: ec.EllipticCurvePrivateKey) -> bytes:
    return key.public_key().public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )


@dataclass
class Faults:
    """Misbehaviour of one emulated log. Counters apply to the next N requests to that log."""

    rate_limit: int = 0  # answer 429 with `retry_after`
    retry_after: str = "1"  # seconds or an HTTP date
    server_errors: int = 0  # answer `server_error_status` without Retry-After
    server_error_status: int = 500
    truncate: int = 0  # cut the next successful bodies in half (Content-Length matches the cut)
    delay: float = 0.0  # seconds before every answer
    page_size: int = 1000  # get-entries returns at most this many (short pages)
    extra_entries: int = 0  # get-entries returns this many more than asked
    lie_about_root: bool = False  # sign a root that does not match the entries
    shrink_by: int = 0  # announce a tree this much smaller than the last one
    bad_signature: bool = False  # corrupt the STH / checkpoint signature
    gzip: bool = True  # Content-Encoding: gzip when the client accepts it
    raw_gzip_tiles: bool = False  # gzip tiles without Content-Encoding (like a static bucket)
    delete_partials: bool = False  # 404 for a partial tile once its full tile exists


@dataclass(frozen=True)
class CertSpec:
    """A certificate to issue: SAN dNSNames and an optional subject CN (may be Unicode)."""

    san: Sequence[str]
    cn: str | None = None


@dataclass(frozen=True)
class Issued:
    """One issuance: the precertificate and final certificate, and their entry indices."""

    names: tuple[str, ...]
    precert_index: int | None
    final_index: int | None
    precert_der: bytes | None
    final_der: bytes | None


@dataclass
class _Leaf:
    timestamped_entry: bytes
    leaf_hash: bytes
    extra_data: bytes  # RFC 6962 extra_data
    tile_entry: bytes  # static-ct-api data tile encoding
    prefix: bytes = b"\x00\x00"  # MerkleTreeLeaf version and type; add_malformed("leaf") breaks it


class EmulatedLog:
    """One log: its key, its entries and Merkle tree, and its fault knobs."""

    def __init__(self, name: str, protocol: str, path: str) -> None:
        self.name = name
        self.protocol = protocol
        self.path = path  # URL path prefix, e.g. "/rfc6962/"
        self.key = ec.generate_private_key(ec.SECP256R1())
        self.spki = _spki(self.key)
        self.log_id = hashlib.sha256(self.spki).digest()
        self.faults = Faults()
        self.leaves: list[_Leaf] = []
        self.origin = ""  # set once the port is known
        self.requests: list[tuple[str, dict[str, str]]] = []

    @property
    def size(self) -> int:
        return len(self.leaves)

    def leaf_hashes(self) -> list[bytes]:
        return [leaf.leaf_hash for leaf in self.leaves]

    def _sign(self, data: bytes) -> bytes:
        signature = self.key.sign(data, ec.ECDSA(hashes.SHA256()))
        if self.faults.bad_signature:
            signature = signature[:-1] + bytes([signature[-1] ^ 1])
        return encode_digitally_signed(SIG_ECDSA, signature)

    def tree_head(self) -> tuple[int, bytes, int, bytes]:
        """(size, root, timestamp, DigitallySigned) as announced, faults applied."""
        size = max(0, self.size - self.faults.shrink_by)
        root = merkle.root_of(self.leaf_hashes()[:size])
        if self.faults.lie_about_root:
            root = hashlib.sha256(b"not the real root" + root).digest()
        timestamp = int(time.time() * 1000)
        return size, root, timestamp, self._sign(tree_head_input(size, root, timestamp))

    def checkpoint(self) -> bytes:
        size, root, timestamp, signed = self.tree_head()
        body = f"{self.origin}\n{size}\n{base64.b64encode(root).decode()}\n"
        kid = key_id(self.origin, self.log_id)
        # A witness cosignature from a key the client does not know, as real logs carry.
        witness = format_signature_line("witness.example/w1", b"wit!", b"\x00" * 72)
        sig = format_signature_line(self.origin, kid, _u(timestamp, 8) + signed)
        return (body + "\n" + witness + sig).encode()


class Emulator:
    """Two CT logs (RFC 6962 and static-ct-api) and a v3 log list, on 127.0.0.1.

    >>> emu = Emulator(); urls = emu.start(); emu.add_certificates([["paypa1.com"]]); emu.stop()
    """

    def __init__(self) -> None:
        self.ca_key = ec.generate_private_key(ec.SECP256R1())
        now = dt.datetime.now(dt.UTC).replace(microsecond=0)
        ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "PhantomWatch Test CA")])
        self.ca_cert = (
            x509.CertificateBuilder()
            .subject_name(ca_name)
            .issuer_name(ca_name)
            .public_key(self.ca_key.public_key())
            .serial_number(1)
            .not_valid_before(now - dt.timedelta(days=1))
            .not_valid_after(now + dt.timedelta(days=3650))
            .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
            .sign(self.ca_key, hashes.SHA256())
        )
        self.ca_der = self.ca_cert.public_bytes(serialization.Encoding.DER)
        self.issuer_key_hash = hashlib.sha256(_spki(self.ca_key)).digest()
        self.rfc6962 = EmulatedLog("PhantomWatch Emulator 'Phantom6962'", "rfc6962", "/rfc6962/")
        self.static = EmulatedLog("PhantomWatch Emulator 'PhantomTiles'", "static", "/static/")
        self.list_key = ec.generate_private_key(ec.SECP256R1())
        self.list_public_key_pem = self.list_key.public_key().public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
        )
        self._lock = threading.RLock()
        self._serial = 1000
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None
        self.base_url = ""

    # -- lifecycle -------------------------------------------------------------------------

    def start(self) -> dict[str, str]:
        """Serve on an ephemeral port in a background thread; return the URLs."""
        handler = type("Handler", (_Handler,), {"emulator": self})
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
        self._server.daemon_threads = True
        port = self._server.server_address[1]
        self.base_url = f"http://127.0.0.1:{port}"
        for log in self.logs:
            log.origin = f"127.0.0.1:{port}{log.path}".rstrip("/")
        self._thread = threading.Thread(
            target=self._server.serve_forever,
            kwargs={"poll_interval": 0.05},  # stop() waits for one poll
            name="ct-emulator",
            daemon=True,
        )
        self._thread.start()
        return self.urls

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None
        if self._thread is not None:
            self._thread.join(timeout=5)
            self._thread = None

    def __enter__(self) -> Emulator:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    @property
    def logs(self) -> tuple[EmulatedLog, EmulatedLog]:
        return (self.rfc6962, self.static)

    @property
    def urls(self) -> dict[str, str]:
        return {
            "rfc6962": self.base_url + self.rfc6962.path,
            "static": self.base_url + self.static.path,
            "log_list": self.base_url + "/log_list.json",
            "log_list_signature": self.base_url + "/log_list.sig",
        }

    # -- content -----------------------------------------------------------------------------

    def add_certificates(
        self,
        names_list: Iterable[Sequence[str] | CertSpec],
        *,
        precert: bool = True,
        final: bool = True,
    ) -> list[Issued]:
        """Issue one certificate per item and log its precert and/or final cert in both logs."""
        issued = []
        for item in names_list:
            spec = item if isinstance(item, CertSpec) else CertSpec(list(item))
            issued.append(self._issue(spec, precert, final))
        return issued

    def add_malformed(self, kind: str = "der") -> int:
        """Append an entry whose certificate is not DER ("der"), or, in the RFC 6962 log,
        whose leaf is not a valid MerkleTreeLeaf ("leaf"). Returns its index in both logs."""
        with self._lock:
            index = self.rfc6962.size
            garbage = b"this is not a certificate"
            for log in self.logs:
                te = self._timestamped(log, 0, garbage, None, index)
                prefix = b"\x07\x00" if kind == "leaf" and log is self.rfc6962 else b"\x00\x00"
                leaf = _Leaf(te, merkle.leaf_hash(prefix + te), _vec(b"", 3), te + _vec(b"", 2))
                leaf.prefix = prefix
                log.leaves.append(leaf)
            return index

    def _timestamped(
        self, log: EmulatedLog, kind: int, body: bytes, ikh: bytes | None, index: int
    ) -> bytes:
        timestamp = int(time.time() * 1000)
        # static-ct-api logs put the leaf index in the extensions; RFC 6962 logs none.
        ext = b"\x00" + _vec(_u(index, 5), 2) if log.protocol == "static" else b""
        if kind == 0:
            return _u(timestamp, 8) + _u(0, 2) + _vec(body, 3) + _vec(ext, 2)
        assert ikh is not None
        return _u(timestamp, 8) + _u(1, 2) + ikh + _vec(body, 3) + _vec(ext, 2)

    def _builder(self, spec: CertSpec, serial: int) -> x509.CertificateBuilder:
        now = dt.datetime.now(dt.UTC).replace(microsecond=0)
        subject = []
        if spec.cn is not None:
            subject.append(x509.NameAttribute(NameOID.COMMON_NAME, spec.cn))
        elif spec.san and len(spec.san[0]) <= 64:
            subject.append(x509.NameAttribute(NameOID.COMMON_NAME, spec.san[0]))
        sans: list[x509.GeneralName] = [
            x509.DNSName(n if n.isascii() else idna.encode(n, uts46=True).decode())
            for n in spec.san
        ]
        builder = (
            x509.CertificateBuilder()
            .subject_name(x509.Name(subject))
            .issuer_name(self.ca_cert.subject)
            .public_key(self.ca_key.public_key())  # leaf keys are irrelevant to a monitor
            .serial_number(serial)
            .not_valid_before(now)
            .not_valid_after(now + dt.timedelta(days=90))
            .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        )
        if sans:
            builder = builder.add_extension(x509.SubjectAlternativeName(sans), critical=False)
        return builder

    def _sct_list(self, tbs: bytes) -> bytes:
        """A real SCT from the RFC 6962 log over the precert, DER OCTET STRING of the list."""
        timestamp = int(time.time() * 1000)
        signed = (
            b"\x00\x00"
            + _u(timestamp, 8)
            + _u(1, 2)
            + self.issuer_key_hash
            + _vec(tbs, 3)
            + _vec(b"", 2)
        )
        sig = self.rfc6962._sign(signed)
        sct = b"\x00" + self.rfc6962.log_id + _u(timestamp, 8) + _vec(b"", 2) + sig
        lst = _vec(_vec(sct, 2), 2)
        return b"\x04" + bytes([len(lst)]) + lst

    def _issue(self, spec: CertSpec, precert: bool, final: bool) -> Issued:
        with self._lock:
            self._serial += 1
            serial = self._serial
            pre = (
                self._builder(spec, serial)
                .add_extension(x509.PrecertPoison(), critical=True)
                .sign(self.ca_key, hashes.SHA256())
            )
            pre_der = pre.public_bytes(serialization.Encoding.DER)
            tbs = strip_extensions(pre.tbs_certificate_bytes, frozenset({POISON_OID}))
            fin = (
                self._builder(spec, serial)
                .add_extension(
                    x509.UnrecognizedExtension(_SCT_LIST_OID, self._sct_list(tbs)), critical=False
                )
                .sign(self.ca_key, hashes.SHA256())
            )
            fin_der = fin.public_bytes(serialization.Encoding.DER)
            chain = [self.ca_der]
            pre_index = fin_index = None
            if precert:
                pre_index = self.rfc6962.size
                for log in self.logs:
                    te = self._timestamped(log, 1, tbs, self.issuer_key_hash, pre_index)
                    extra = _vec(pre_der, 3) + _vec(b"".join(_vec(c, 3) for c in chain), 3)
                    fps = b"".join(hashlib.sha256(c).digest() for c in chain)
                    log.leaves.append(
                        _Leaf(
                            te,
                            merkle.leaf_hash(b"\x00\x00" + te),
                            extra,
                            te + _vec(pre_der, 3) + _vec(fps, 2),
                        )
                    )
            if final:
                fin_index = self.rfc6962.size
                for log in self.logs:
                    te = self._timestamped(log, 0, fin_der, None, fin_index)
                    extra = _vec(b"".join(_vec(c, 3) for c in chain), 3)
                    fps = b"".join(hashlib.sha256(c).digest() for c in chain)
                    log.leaves.append(
                        _Leaf(te, merkle.leaf_hash(b"\x00\x00" + te), extra, te + _vec(fps, 2))
                    )
            return Issued(
                tuple(spec.san),
                pre_index,
                fin_index,
                pre_der if precert else None,
                fin_der if final else None,
            )

    def log_list(self) -> dict[str, Any]:
        """The v3 log list naming both emulated logs."""

        def entry(log: EmulatedLog) -> dict[str, Any]:
            return {
                "description": log.name,
                "log_id": base64.b64encode(log.log_id).decode(),
                "key": base64.b64encode(log.spki).decode(),
                "mmd": 60,
                "state": {"usable": {"timestamp": "2025-01-01T00:00:00Z"}},
                "temporal_interval": {
                    "start_inclusive": "2025-01-01T00:00:00Z",
                    "end_exclusive": "2099-01-01T00:00:00Z",
                },
            }

        rfc = entry(self.rfc6962) | {"url": self.urls["rfc6962"]}
        tiled = entry(self.static) | {
            "submission_url": self.urls["static"],
            "monitoring_url": self.urls["static"],
        }
        return {
            "version": "1.0",
            "log_list_timestamp": dt.datetime.now(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
            "operators": [
                {
                    "name": "PhantomWatch Emulator",
                    "email": ["ct-emulator@phantomwatch.invalid"],
                    "logs": [rfc],
                    "tiled_logs": [tiled],
                }
            ],
        }

    def log_list_bytes(self) -> bytes:
        return json.dumps(self.log_list(), indent=1).encode()


class _Handler(BaseHTTPRequestHandler):
    emulator: ClassVar[Emulator]
    protocol_version = "HTTP/1.1"
    # Headers and body in one segment: otherwise delayed ACKs add ~40 ms per request.
    wbufsize = 1 << 16
    disable_nagle_algorithm = True

    def log_message(self, format: str, *args: Any) -> None:
        """Silent: tests and the demo own stderr."""

    def do_GET(self) -> None:
        emu = self.emulator
        url = urlsplit(self.path)
        query = {k: v[-1] for k, v in parse_qs(url.query).items()}
        path = url.path
        if path == "/log_list.json":
            self._send(200, emu.log_list_bytes(), "application/json", None)
            return
        if path == "/log_list.sig":
            data = emu.log_list_bytes()
            self._send(200, emu.list_key.sign(data, ec.ECDSA(hashes.SHA256())), "", None)
            return
        for log in emu.logs:
            if path.startswith(log.path):
                self._serve_log(log, path[len(log.path) :], query)
                return
        self._send(404, b"not found\n", "text/plain", None)

    def _serve_log(self, log: EmulatedLog, path: str, query: dict[str, str]) -> None:
        with self.emulator._lock:
            log.requests.append((self.path, dict(self.headers.items())))
            faults = log.faults
            delay = faults.delay
            status: int | None = None
            if faults.rate_limit > 0:
                faults.rate_limit -= 1
                status = 429
            elif faults.server_errors > 0:
                faults.server_errors -= 1
                status = faults.server_error_status
        if delay:
            time.sleep(delay)
        if status == 429:
            self._send(429, b"slow down\n", "text/plain", log, {"Retry-After": faults.retry_after})
            return
        if status is not None:
            self._send(status, b"server error\n", "text/plain", log)
            return
        with self.emulator._lock:
            try:
                result = (
                    _rfc6962(log, path, query)
                    if log.protocol == "rfc6962"
                    else _static(self.emulator, log, path)
                )
            except (KeyError, ValueError) as exc:
                result = (400, f"bad request: {exc}\n".encode(), "text/plain")
        self._send(*result, log)

    def _send(
        self,
        status: int,
        body: bytes,
        content_type: str,
        log: EmulatedLog | None,
        headers: dict[str, str] | None = None,
    ) -> None:
        faults = log.faults if log is not None else Faults()
        extra = dict(headers or {})
        if status == 200 and log is not None:
            with self.emulator._lock:
                if faults.truncate > 0:
                    faults.truncate -= 1
                    body = body[: len(body) // 2]
        if status == 200 and faults.raw_gzip_tiles and "/tile/" in self.path:
            body = gzip.compress(body)
        elif faults.gzip and "gzip" in self.headers.get("Accept-Encoding", ""):
            body = gzip.compress(body, compresslevel=1)
            extra["Content-Encoding"] = "gzip"
        self.send_response(status)
        if content_type:
            self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        for k, v in extra.items():
            self.send_header(k, v)
        self.end_headers()
        self.wfile.write(body)


Result = tuple[int, bytes, str]


def _json(obj: Any) -> Result:
    return 200, json.dumps(obj).encode(), "application/json"


def _rfc6962(log: EmulatedLog, path: str, query: dict[str, str]) -> Result:
    b64 = base64.b64encode
    if path == "ct/v1/get-sth":
        size, root, timestamp, signed = log.tree_head()
        return _json(
            {
                "tree_size": size,
                "timestamp": timestamp,
                "sha256_root_hash": b64(root).decode(),
                "tree_head_signature": b64(signed).decode(),
            }
        )
    if path == "ct/v1/get-entries":
        start, end = int(query["start"]), int(query["end"])
        if start < 0 or end < start or start >= log.size:
            return 400, b"bad range\n", "text/plain"
        stop = min(end + 1, log.size, start + log.faults.page_size)
        stop = min(stop + log.faults.extra_entries, log.size)
        page = log.leaves[start:stop]
        return _json(
            {
                "entries": [
                    {
                        "leaf_input": b64(leaf.prefix + leaf.timestamped_entry).decode(),
                        "extra_data": b64(leaf.extra_data).decode(),
                    }
                    for leaf in page
                ]
            }
        )
    if path == "ct/v1/get-sth-consistency":
        first, second = int(query["first"]), int(query["second"])
        if not 0 <= first <= second <= log.size:
            return 400, b"bad sizes\n", "text/plain"
        proof = merkle.consistency_proof(log.leaf_hashes()[:second], first)
        return _json({"consistency": [b64(h).decode() for h in proof]})
    if path == "ct/v1/get-proof-by-hash":
        wanted = base64.b64decode(query["hash"])
        size = int(query["tree_size"])
        hashes_ = log.leaf_hashes()[:size]
        if wanted not in hashes_:
            return 404, b"no such leaf\n", "text/plain"
        index = hashes_.index(wanted)
        proof = merkle.inclusion_proof(hashes_, index)
        return _json({"leaf_index": index, "audit_path": [b64(h).decode() for h in proof]})
    return 404, b"not found\n", "text/plain"


def _static(emu: Emulator, log: EmulatedLog, path: str) -> Result:
    if path == "checkpoint":
        return 200, log.checkpoint(), "text/plain; charset=utf-8"
    if path.startswith("issuer/"):
        if path[len("issuer/") :] == hashlib.sha256(emu.ca_der).hexdigest():
            return 200, emu.ca_der, "application/pkix-cert"
        return 404, b"no such issuer\n", "text/plain"
    m = _TILE_RE.match(path)
    if not m:
        return 404, b"not found\n", "text/plain"
    level, index_path, partial = m.groups()
    n = int(index_path.replace("x", "").replace("/", ""))
    width = int(partial) if partial else TILE_WIDTH
    if not 1 <= width <= TILE_WIDTH or (partial and width == TILE_WIDTH):
        return 400, b"bad width\n", "text/plain"
    if (
        partial
        and log.faults.delete_partials
        and (n + 1) * TILE_WIDTH ** (1 + (0 if level == "data" else int(level))) <= log.size
    ):
        return 404, b"partial tile superseded\n", "text/plain"
    if level == "data":
        first = n * TILE_WIDTH
        if first + width > log.size:
            return 404, b"no such tile\n", "text/plain"
        body = b"".join(leaf.tile_entry for leaf in log.leaves[first : first + width])
        return 200, body, "application/octet-stream"
    span = TILE_WIDTH ** int(level)
    first_leaf = n * TILE_WIDTH * span
    if first_leaf + width * span > log.size:
        return 404, b"no such tile\n", "text/plain"
    hashes_ = log.leaf_hashes()
    out = b"".join(
        merkle.root_of(hashes_[first_leaf + i * span : first_leaf + (i + 1) * span])
        for i in range(width)
    )
    return 200, out, "application/octet-stream"


__all__ = ["CertSpec", "EmulatedLog", "Emulator", "Faults", "Issued"]
