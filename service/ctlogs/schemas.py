"""Response bodies of the sources endpoints."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, ConfigDict, Field

from service.ctlogs import service
from service.ctlogs.models import CtLog


class CtLogOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    name: str = Field(description="The log's description in the log list.")
    operator: str
    protocol: str = Field(description="`rfc6962` or `static` (static-ct-api, tiled).")
    url: str = Field(description="Where entries are read.")
    list_state: str = Field(description="State in the log list: usable, qualified, readonly, ...")
    enabled: bool = Field(description="Whether PhantomWatch reads this log (operator's choice).")
    healthy: bool = Field(
        description="False once the log shrank, forked or served entries not under its signed "
        "root; such a log is no longer read."
    )
    health_detail: str | None
    next_index: int = Field(description="Every entry below this index has been processed.")
    head_size: int | None = Field(description="Size of the newest signed tree head seen.")
    head_time: datetime | None = Field(description="Timestamp of that tree head.")
    lag: int | None = Field(description="Entries between the cursor and the newest head.")
    verified_size: int | None = Field(
        description="Largest tree size whose root was checked against everything read."
    )
    entries_processed: int
    names_scored: int
    malformed_entries: int
    entries_per_second: float | None = Field(description="Throughput of the last poll.")
    last_error: str | None
    last_error_at: datetime | None
    last_success_at: datetime | None

    @classmethod
    def of(cls, row: CtLog) -> CtLogOut:
        head = service.head_of(row.latest_head)
        verified = service.head_of(row.verified_head)
        return cls.model_validate(
            {
                **{k: getattr(row, k) for k in cls.model_fields if hasattr(row, k)},
                "head_size": None if head is None else head.size,
                "head_time": service.head_time(row),
                "lag": service.lag(row),
                "verified_size": None if verified is None else verified.size,
            }
        )


class SourcesOut(BaseModel):
    ct: list[CtLogOut] = Field(description="Certificate Transparency logs and their state.")


class CtLogUpdate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    enabled: bool = Field(description="Read this log (true) or skip it (false).")
