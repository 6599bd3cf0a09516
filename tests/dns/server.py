"""A real authoritative DNS server for the tests: knotd on 127.0.0.1, zones in a tmp dir."""

from __future__ import annotations

import contextlib
import re
import shutil
import socket
import subprocess
import time
from pathlib import Path

import dns.message
import dns.query
import dns.rcode
import pytest

APT_INSTALL = "apt-get update && apt-get install -y knot"
SOA_TIMES = "3600 600 86400 300"  # refresh retry expire minimum: values are irrelevant here
_APEX_NS = re.compile(r"^@\s+(?:IN\s+)?NS\s", re.MULTILINE)


def knot_binaries() -> tuple[str, str]:
    """(knotd, knotc), or skip with the install command."""
    knotd = shutil.which("knotd") or shutil.which("knotd", path="/usr/sbin:/sbin")
    knotc = shutil.which("knotc") or shutil.which("knotc", path="/usr/sbin:/sbin")
    if knotd is None or knotc is None:
        pytest.skip(f"knotd/knotc not found: install Knot DNS with `{APT_INSTALL}` (as root)")
    return knotd, knotc


def free_port() -> int:
    """A port free for both UDP and TCP on 127.0.0.1 (knot listens on both)."""
    for _ in range(50):
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as udp:
            udp.bind(("127.0.0.1", 0))
            port: int = udp.getsockname()[1]
            with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as tcp:
                try:
                    tcp.bind(("127.0.0.1", port))
                except OSError:
                    continue
                return port
    raise RuntimeError("no free port on 127.0.0.1")


class KnotServer:
    """One knotd process serving `zones` (origin -> records); `set_zone` reloads one zone.

    Zone text is the records only: the SOA (with a serial that goes up on every
    write, so knot always takes the new file) and the apex NS are added here.
    An origin mapped to None is configured with a zone file knot cannot load:
    the server then answers SERVFAIL for it.
    """

    def __init__(self, workdir: Path, zones: dict[str, str | None]) -> None:
        self.knotd, self.knotc = knot_binaries()
        self.workdir = workdir
        self.zonedir = workdir / "zones"
        self.port = free_port()
        self.zones = dict(zones)
        self._serial: dict[str, int] = {}
        self._proc: subprocess.Popen[bytes] | None = None
        self.config = workdir / "knot.conf"
        self.socket = workdir / "run" / "knot.sock"

    # -- zone files -------------------------------------------------------------------------
    def _zone_path(self, origin: str) -> Path:
        # knot's "%s" in `file` is the zone name without the final dot.
        assert origin.endswith("."), origin
        assert origin != ".", origin
        return self.zonedir / f"{origin.rstrip('.')}.zone"

    def _write(self, origin: str, records: str | None) -> None:
        path = self._zone_path(origin)
        if records is None:
            path.write_text("this is not a zone file (\n")
            return
        serial = self._serial.get(origin, 0) + 1
        self._serial[origin] = serial
        # Zones that name their own apex NS (parking, NS changes) get no default one.
        apex_ns = "" if _APEX_NS.search(records) else f"@ IN NS ns1.{origin}\n"
        path.write_text(
            f"$ORIGIN {origin}\n$TTL 300\n"
            f"@ IN SOA ns1.{origin} hostmaster.{origin} {serial} {SOA_TIMES}\n"
            f"{apex_ns}{records}\n"
        )

    def _write_config(self) -> None:
        zones = "\n".join(f"  - domain: {origin}" for origin in self.zones)
        self.config.write_text(
            f"""server:
    rundir: "{self.workdir / "run"}"
    listen: 127.0.0.1@{self.port}
    udp-workers: 2
    tcp-workers: 1
    background-workers: 1
database:
    storage: "{self.workdir / "db"}"
control:
    listen: "{self.socket}"
log:
  - target: stderr
    any: warning
template:
  - id: default
    storage: "{self.zonedir}"
    file: "%s.zone"
    zonefile-sync: -1
    zonefile-load: whole
    journal-content: none
    semantic-checks: off
zone:
{zones}
"""
        )

    # -- lifecycle --------------------------------------------------------------------------
    def start(self) -> None:
        for sub in ("zones", "run", "db"):
            (self.workdir / sub).mkdir(parents=True, exist_ok=True)
        for origin, records in self.zones.items():
            self._write(origin, records)
        self._write_config()
        self._proc = subprocess.Popen(
            [self.knotd, "-c", str(self.config)],
            stdout=subprocess.DEVNULL,
            stderr=(self.workdir / "knotd.log").open("wb"),
        )
        self.wait_ready()

    def wait_ready(self, timeout: float = 10.0) -> None:
        """Until every loadable zone answers its SOA with NOERROR (a fresh load takes ~ms)."""
        deadline = time.monotonic() + timeout
        pending = [o for o, r in self.zones.items() if r is not None]
        while pending:
            if self._proc is not None and self._proc.poll() is not None:
                raise RuntimeError(f"knotd exited: {self.log_tail()}")
            if time.monotonic() > deadline:
                raise RuntimeError(f"knotd not ready for {pending}: {self.log_tail()}")
            origin = pending[0]
            if self._soa_serial(origin) == self._serial[origin]:
                pending.pop(0)
            else:
                time.sleep(0.02)

    def _soa_serial(self, origin: str) -> int | None:
        query = dns.message.make_query(origin, "SOA")
        try:
            reply = dns.query.udp(query, "127.0.0.1", timeout=0.2, port=self.port)
        except (OSError, dns.exception.Timeout):
            return None
        if reply.rcode() != dns.rcode.NOERROR or not reply.answer:
            return None
        return int(reply.answer[0][0].serial)

    def set_zone(self, origin: str, records: str) -> None:
        """Replace the records of one zone and wait until the server serves the new serial."""
        self._write(origin, records)
        subprocess.run(
            [
                self.knotc,
                "-c",
                str(self.config),
                "-s",
                str(self.socket),
                "-b",
                "zone-reload",
                origin,
            ],
            check=True,
            capture_output=True,
            timeout=10,
        )
        self.wait_ready()

    def log_tail(self) -> str:
        path = self.workdir / "knotd.log"
        return path.read_text(errors="replace")[-2000:] if path.exists() else ""

    def stop(self) -> None:
        if self._proc is None:
            return
        self._proc.terminate()
        try:
            self._proc.wait(timeout=5)
        except subprocess.TimeoutExpired:
            self._proc.kill()
            with contextlib.suppress(subprocess.TimeoutExpired):
                self._proc.wait(timeout=5)
        self._proc = None
