"""Chrome CT log list v3: parse it into `Log`s, pick the ones to monitor, refresh it."""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
import os
import tempfile
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa
from cryptography.hazmat.primitives.serialization import load_der_public_key, load_pem_public_key

from service.sources.ct.errors import LogListError, VerificationError

if TYPE_CHECKING:
    from service.sources.ct.http import CTHttpClient

OFFICIAL_URL = "https://www.gstatic.com/ct/log_list/v3/log_list.json"
Protocol = Literal["rfc6962", "static"]
STATES = ("pending", "qualified", "usable", "readonly", "retired", "rejected")
MONITORED_STATES = frozenset({"usable", "qualified", "readonly"})


@dataclass(frozen=True, slots=True)
class FinalTreeHead:
    size: int
    root: bytes


@dataclass(frozen=True, slots=True)
class Log:
    """One log of the list. `url` is where to read: RFC 6962 `url` or tiled `monitoring_url`."""

    name: str  # the list's `description`
    operator: str
    log_id: str  # base64 SHA-256 of `key`
    key: bytes  # DER SubjectPublicKeyInfo
    protocol: Protocol
    url: str
    mmd: int
    state: str | None  # None: listed without a state (all_logs_list.json)
    state_since: str | None = None
    final_tree_head: FinalTreeHead | None = None
    temporal_interval: tuple[datetime, datetime] | None = None
    submission_url: str | None = None

    @property
    def origin(self) -> str:
        """The checkpoint origin of a static-ct-api log: submission URL without scheme or slash."""
        base = self.submission_url or self.url
        return base.split("://", 1)[-1].rstrip("/")

    @property
    def monitored(self) -> bool:
        return self.state in MONITORED_STATES


@dataclass
class LogList:
    version: str
    timestamp: str
    logs: list[Log]
    # Entries refused by the checks, with why: shown to the operator, never read.
    rejected: list[tuple[str, str]] = field(default_factory=list)

    def monitored(self) -> list[Log]:
        """The logs to read: usable, qualified and readonly."""
        return [log for log in self.logs if log.monitored]

    def find(self, name: str) -> Log:
        """A log by exact description, log ID or unique case-insensitive substring."""
        for log in self.logs:
            if name in (log.name, log.log_id):
                return log
        matches = [log for log in self.logs if name.lower() in log.name.lower()]
        if len(matches) == 1:
            return matches[0]
        if not matches:
            raise LookupError(f"no log named {name!r} in the log list")
        listing = ", ".join(log.name for log in matches[:5])
        raise LookupError(f"{name!r} matches {len(matches)} logs: {listing}")


def _text(obj: dict[str, Any], key: str) -> str:
    value = obj.get(key)
    if not isinstance(value, str) or not value:
        raise ValueError(f"`{key}` missing or not a string")
    return value


def _timestamp(value: Any) -> datetime:
    if not isinstance(value, str):
        raise ValueError("timestamp is not a string")
    return datetime.fromisoformat(value.replace("Z", "+00:00"))


def _parse_log(obj: Any, operator: str, protocol: Protocol) -> Log:
    if not isinstance(obj, dict):
        raise ValueError("log entry is not an object")
    key = base64.b64decode(_text(obj, "key"), validate=True)
    log_id = _text(obj, "log_id")
    if base64.b64decode(log_id, validate=True) != hashlib.sha256(key).digest():
        raise ValueError("log_id is not the SHA-256 of the key")
    state_obj = obj.get("state")
    state: str | None = None
    detail: dict[str, Any] = {}
    # all_logs_list.json has logs that never entered Chrome's program: no state.
    if state_obj is not None:
        if not isinstance(state_obj, dict) or len(state_obj) != 1:
            raise ValueError("`state` must hold exactly one state")
        ((state, detail),) = state_obj.items()
        if state not in STATES or not isinstance(detail, dict):
            raise ValueError(f"unknown state {state!r}")
    final = None
    if state == "readonly":
        fth = detail.get("final_tree_head")
        if not isinstance(fth, dict):
            raise ValueError("readonly log without final_tree_head")
        root = base64.b64decode(_text(fth, "sha256_root_hash"), validate=True)
        size = fth.get("tree_size")
        if len(root) != 32 or not isinstance(size, int):
            raise ValueError("malformed final_tree_head")
        final = FinalTreeHead(size, root)
    interval = None
    if isinstance(ti := obj.get("temporal_interval"), dict):
        interval = (_timestamp(ti.get("start_inclusive")), _timestamp(ti.get("end_exclusive")))
    if protocol == "rfc6962":
        url, submission = _text(obj, "url"), None
    else:
        url, submission = _text(obj, "monitoring_url"), _text(obj, "submission_url")
    mmd = obj.get("mmd", 86400)
    if not isinstance(mmd, int):
        raise ValueError("`mmd` is not an integer")
    return Log(
        name=_text(obj, "description"),
        operator=operator,
        log_id=log_id,
        key=key,
        protocol=protocol,
        url=url if url.endswith("/") else url + "/",
        mmd=mmd,
        state=state,
        state_since=detail.get("timestamp") if isinstance(detail.get("timestamp"), str) else None,
        final_tree_head=final,
        temporal_interval=interval,
        submission_url=submission,
    )


def parse_log_list(data: bytes) -> LogList:
    """A v3 log list (Google's, or a custom one for private logs in the same format)."""
    try:
        doc = json.loads(data)
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise LogListError(f"log list is not JSON: {exc}") from None
    if not isinstance(doc, dict) or not isinstance(doc.get("operators"), list):
        raise LogListError("log list has no `operators` array (is it the v3 schema?)")
    logs: list[Log] = []
    rejected: list[tuple[str, str]] = []
    for op in doc["operators"]:
        if not isinstance(op, dict):
            raise LogListError("operator entry is not an object")
        operator = str(op.get("name", "?"))
        kinds: tuple[tuple[str, Protocol], ...] = (("logs", "rfc6962"), ("tiled_logs", "static"))
        for field_name, protocol in kinds:
            items = op.get(field_name, [])
            if not isinstance(items, list):
                raise LogListError(f"operator {operator!r}: `{field_name}` is not an array")
            for obj in items:
                try:
                    logs.append(_parse_log(obj, operator, protocol))
                except (ValueError, binascii.Error) as exc:
                    label = obj.get("description", "?") if isinstance(obj, dict) else "?"
                    rejected.append((f"{operator}: {label}", str(exc)))
    if not logs:
        raise LogListError("log list holds no valid log")
    return LogList(
        version=str(doc.get("version", "")),
        timestamp=str(doc.get("log_list_timestamp", "")),
        logs=logs,
        rejected=rejected,
    )


def load_log_list(source: str | os.PathLike[str] | bytes) -> LogList:
    """A log list from bytes or a file path."""
    if isinstance(source, bytes):
        return parse_log_list(source)
    try:
        data = Path(source).read_bytes()
    except OSError as exc:
        raise LogListError(f"cannot read log list {source}: {exc.strerror}") from None
    return parse_log_list(data)


def verify_log_list_signature(data: bytes, signature: bytes, public_key: bytes) -> None:
    """Check `log_list.sig` (RSA PKCS#1 v1.5 or ECDSA, SHA-256) with a PEM or DER key."""
    key = (
        load_pem_public_key(public_key)
        if public_key.lstrip().startswith(b"-----")
        else load_der_public_key(public_key)
    )
    try:
        if isinstance(key, rsa.RSAPublicKey):
            key.verify(signature, data, padding.PKCS1v15(), hashes.SHA256())
        elif isinstance(key, ec.EllipticCurvePublicKey):
            key.verify(signature, data, ec.ECDSA(hashes.SHA256()))
        else:
            raise VerificationError("unsupported log list signing key")
    except InvalidSignature:
        raise VerificationError("log list signature does not verify") from None


async def fetch_log_list(client: CTHttpClient, url: str) -> LogList:
    """Download and parse a log list (I/O through the injectable client)."""
    return parse_log_list(await client.get(url, log="log-list"))


async def refresh(
    client: CTHttpClient,
    dest: str | os.PathLike[str],
    url: str = OFFICIAL_URL,
    *,
    signature_url: str | None = None,
    public_key: bytes | None = None,
) -> LogList:
    """Download a log list, check it parses (and its signature if given), then replace `dest`.

    The file is replaced atomically, so a failed download never leaves a
    half-written list. Run it from an operator command or a build step, not
    from the service, which reads only local files.
    """
    data = await client.get(url, log="log-list")
    if signature_url is not None and public_key is not None:
        verify_log_list_signature(data, await client.get(signature_url, log="log-list"), public_key)
    parsed = parse_log_list(data)
    target = Path(dest)
    fd, tmp = tempfile.mkstemp(dir=target.parent, prefix=".log_list.")
    try:
        with os.fdopen(fd, "wb") as out:
            out.write(data)
        os.replace(tmp, target)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return parsed
