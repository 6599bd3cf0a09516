"""Reading and writing the brands document (YAML or JSON) shared by the CLI and the API."""

from __future__ import annotations

import json
from typing import Literal

import yaml
from pydantic import ValidationError

from service.brands.schemas import BrandsDocument
from service.errors import ValidationFailed


def parse_brands_document(text: str | bytes, source: str = "body") -> BrandsDocument:
    """Parse YAML or JSON (YAML is a superset) into a validated brands document."""
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        raise ValidationFailed(f"{source} is not valid YAML or JSON{where}") from None
    if not isinstance(data, dict) or "brands" not in data:
        raise ValidationFailed(f"{source} must be a mapping with a `brands:` list")
    try:
        return BrandsDocument.model_validate(data)
    except ValidationError as exc:
        errors = [
            {"field": ".".join(str(p) for p in err["loc"]), "message": err["msg"]}
            for err in exc.errors()
        ]
        detail = "; ".join(f"{e['field']}: {e['message']}" for e in errors)
        raise ValidationFailed(f"{source}: {detail}", errors=errors) from None


def render_brands_document(document: BrandsDocument, fmt: Literal["yaml", "json"]) -> str:
    data = document.model_dump(mode="json")
    if fmt == "json":
        return json.dumps(data, indent=2, ensure_ascii=False) + "\n"
    return yaml.safe_dump(data, sort_keys=False, allow_unicode=True)
