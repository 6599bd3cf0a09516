"""Fixtures of the CT tests: the reference data (skipped when absent) and a live emulator."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from service.sources.ct.emulator import CertSpec, Emulator

REPO = Path(__file__).resolve().parents[2]
SHARED_CT = REPO.parent / "shared" / "data" / "ct"

NAMES: list[list[str] | CertSpec] = [
    ["paypa1.com", "www.paypa1.com"],
    ["login-paypal.com.example.ru"],
    ["*.secure-paypal.net", "secure-paypal.net"],
    CertSpec(["xn--bcher-kva.example"], cn="bücher.example"),
    CertSpec(["acme.example"], cn="Acme Inc"),
]


def ct_data(relative: str) -> Path:
    """A file of ../shared/data/ct, or skip: a fresh clone has no ../shared."""
    path = SHARED_CT / relative
    if not path.exists():
        pytest.skip(f"reference data ct/{relative} is absent (../shared/data is not in a clone)")
    return path


@pytest.fixture
def emulator() -> Iterator[Emulator]:
    """A running emulator holding the NAMES above plus filler: 300 entries, both logs."""
    emu = Emulator()
    emu.start()
    emu.add_certificates(NAMES)
    emu.add_certificates([[f"filler{i}.example.org"] for i in range(145)])
    try:
        yield emu
    finally:
        emu.stop()
