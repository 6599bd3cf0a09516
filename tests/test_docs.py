"""The README documents every setting and every CLI command."""

from __future__ import annotations

from pathlib import Path

from service.cli import build_parser
from service.config import Settings

README = (Path(__file__).resolve().parent.parent / "README.md").read_text()


def test_every_setting_is_in_the_readme() -> None:
    for name in Settings.model_fields:
        assert f"PHANTOMWATCH_{name.upper()}" in README, name


def test_every_command_is_in_the_readme() -> None:
    parser = build_parser()
    commands = parser._subparsers._group_actions[0].choices  # type: ignore[union-attr]
    for name in commands:
        assert f"phantomwatch {name}" in README, name
