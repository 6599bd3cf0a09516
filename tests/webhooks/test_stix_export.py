"""STIX 2.1 bundles (validated, stable ids) and CSV / JSON Lines exports."""

from __future__ import annotations

import csv
import io
import json
from typing import Any

import pytest
import stix2  # type: ignore[import-untyped]
from stix2validator import ValidationOptions, validate_string  # type: ignore[import-untyped]

from service.webhooks.events import payload, sample_event
from service.webhooks.export import CSV_COLUMNS, csv_rows, jsonl_rows, safe_cell
from service.webhooks.stix import bundle, domain_pattern


def alert(**changes: Any) -> dict[str, Any]:
    base: dict[str, Any] = payload(sample_event())["data"]["alert"]
    return {**base, **changes}


ALERTS = [
    alert(),
    alert(
        id=4243,
        domain="examp1ebank.com",
        unicode="examp1ebank.com",
        registrable="examp1ebank.com",
        score=55,
        severity="medium",
        techniques=["digit_swap"],
        updated_at="2026-11-02T08:00:00.000Z",
    ),
    alert(id=4244, domain="examp1ebank.com", brand="OtherBrand", brand_id=8, score=40),
    alert(id=4245, domain="fp-example.com", unicode="fp-example.com", status="false_positive"),
]
BRANDS = {"ExampleBank": {"domains": ["examplebank.com"], "updated_at": "2026-10-01T00:00:00Z"}}


def _objects(text: str) -> dict[str, list[dict[str, Any]]]:
    grouped: dict[str, list[dict[str, Any]]] = {}
    for obj in json.loads(text)["objects"]:
        grouped.setdefault(obj["type"], []).append(obj)
    return grouped


def test_bundle_passes_the_stix2_validator() -> None:
    text = bundle(ALERTS, BRANDS)
    # Every SHOULD as an error, except 103 "ids SHOULD be UUIDv4": ours are uuid5 on purpose,
    # so a re-export updates objects in the consumer instead of duplicating them.
    strict = ValidationOptions(version="2.1", strict=True, disabled=["103"])
    results = validate_string(text, strict)
    assert results.is_valid, [str(e) for e in results.errors]
    lenient = validate_string(text, ValidationOptions(version="2.1"))
    assert lenient.is_valid
    assert {str(w).split("{")[1][:3] for w in lenient.warnings} == {"103"}
    # and the library parses it back
    parsed = stix2.parse(text, allow_custom=False)
    assert parsed.type == "bundle"


def test_bundle_shape() -> None:
    objects = _objects(bundle(ALERTS, BRANDS))
    assert len(objects["indicator"]) == 3  # one per domain, not per alert
    assert {i["name"]: i["confidence"] for i in objects["indicator"]} == {
        "xn--examplebnk-login-0dn.com": 91,
        "examp1ebank.com": 55,
        "fp-example.com": 91,
    }
    names = sorted(i["name"] for i in objects["identity"])
    assert names == ["ExampleBank", "OtherBrand", "PhantomWatch"]
    relations = objects["relationship"]
    assert {r["relationship_type"] for r in relations} == {"related-to"}
    assert len(relations) == 4
    by_name = {i["name"]: i for i in objects["indicator"]}
    assert by_name["fp-example.com"]["revoked"] is True
    assert by_name["fp-example.com"]["indicator_types"] == ["benign"]
    assert by_name["examp1ebank.com"]["indicator_types"] == ["anomalous-activity"]
    assert by_name["examp1ebank.com"]["pattern"] == "[domain-name:value = 'examp1ebank.com']"
    assert by_name["examp1ebank.com"]["modified"] == "2026-11-02T08:00:00.000Z"


def test_ids_and_bytes_are_stable_across_calls_and_input_order() -> None:
    first = bundle(ALERTS, BRANDS)
    assert bundle(ALERTS, BRANDS) == first
    assert bundle(list(reversed(ALERTS)), BRANDS) == first
    # a different domain set keeps the ids of the unchanged objects
    smaller = _objects(bundle(ALERTS[:1], BRANDS))
    ids = {o["id"] for group in _objects(first).values() for o in group}
    assert {o["id"] for group in smaller.values() for o in group} <= ids


def test_an_update_changes_modified_not_the_id() -> None:
    before = _objects(bundle([alert()]))["indicator"][0]
    after = _objects(bundle([alert(updated_at="2026-12-01T00:00:00Z", score=99)]))["indicator"][0]
    assert before["id"] == after["id"]
    assert after["modified"] > before["modified"]
    assert after["confidence"] == 99


def test_pattern_escaping() -> None:
    assert domain_pattern("a'b\\c") == "[domain-name:value = 'a\\'b\\\\c']"


def _parse_csv(lines: list[str]) -> list[list[str]]:
    return list(csv.reader(io.StringIO("".join(lines))))


def test_csv_header_rows_and_quoting() -> None:
    rows = list(csv_rows([alert(brand='Brand, "Quoted"\nInc')]))
    assert rows[0] == ",".join(CSV_COLUMNS) + "\r\n"
    parsed = _parse_csv(rows)
    assert parsed[0] == list(CSV_COLUMNS)
    record = dict(zip(CSV_COLUMNS, parsed[1], strict=True))
    assert record["brand"] == 'Brand, "Quoted"\nInc'
    assert record["techniques"] == "homoglyph;keyword_append"
    assert record["score"] == "91"
    assert record["first_seen"] == "2026-11-01T09:30:00.000Z"


@pytest.mark.parametrize(
    ("value", "cell"),
    [
        ('=HYPERLINK("http://x")', '\'=HYPERLINK("http://x")'),
        ("+1+2", "'+1+2"),
        ("-2+3", "'-2+3"),
        ("@SUM(A1)", "'@SUM(A1)"),
        ("\tTAB", "'\tTAB"),
        ("safe-name", "safe-name"),
        (-5, "-5"),
        (None, ""),
        (True, "true"),
    ],
)
def test_formula_injection_guard(value: Any, cell: str) -> None:
    assert safe_cell(value) == cell


def test_csv_guard_applies_in_rows() -> None:
    parsed = _parse_csv(list(csv_rows([alert(brand="=cmd|' /C calc'!A0")])))
    assert parsed[1][CSV_COLUMNS.index("brand")] == "'=cmd|' /C calc'!A0"


def test_rows_are_lazy() -> None:
    def endless() -> Any:
        while True:
            yield alert()

    lines = csv_rows(endless())
    assert next(lines).startswith("id,")
    assert next(lines).startswith("4242,")
    records = jsonl_rows(endless())
    assert json.loads(next(records))["id"] == 4242


def test_jsonl() -> None:
    lines = list(jsonl_rows(ALERTS))
    assert len(lines) == len(ALERTS)
    assert all(line.endswith("\n") and line.count("\n") == 1 for line in lines)
    assert [json.loads(line) for line in lines] == ALERTS


def test_pydantic_models_are_accepted() -> None:
    from service.alerts.schemas import AlertOut

    model = AlertOut.model_validate(
        {**alert(), "brand_name": "ExampleBank", "technique_names": ["homoglyph"]}
    )
    assert json.loads(next(jsonl_rows([model])))["techniques"] == ["homoglyph"]
    assert _parse_csv(list(csv_rows([model])))[1][1] == "ExampleBank"
