"""Row ids as the API accepts them: from 1 to the largest value their column can hold.

A number past the column's width reaches the database as an error (OverflowError in
the driver, or PostgreSQL's "integer out of range"): a 500 instead of a plain "no
such row". Bounding ids where they enter turns that into the usual 422 problem
response, naming the parameter. The bound follows the column: brands, API keys, CT
logs and webhook subscriptions have INTEGER keys (32-bit on PostgreSQL); the
high-volume tables (alerts, watch entries, deliveries, snapshots) have BIGINT ones.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import Path
from pydantic import Field

MAX_ID = 2**31 - 1
MAX_BIG_ID = 2**63 - 1

# Path parameters: `brand_id: PathId`, `alert_id: BigPathId`.
PathId = Annotated[int, Path(ge=1, le=MAX_ID, description="Numeric id.")]
BigPathId = Annotated[int, Path(ge=1, le=MAX_BIG_ID, description="Numeric id.")]

# Ids in a body: `brand_id: Id = Field(description=...)`, `ids: list[BigId]`.
Id = Annotated[int, Field(ge=1, le=MAX_ID)]
BigId = Annotated[int, Field(ge=1, le=MAX_BIG_ID)]
