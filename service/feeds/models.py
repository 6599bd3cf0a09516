"""Per-feed cursor: which content was processed, so a file is never scored twice."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import BigInteger, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from service.db import Base, utcnow


class FeedCursor(Base):
    """The last content of a feed that was fully processed."""

    __tablename__ = "feed_cursors"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(500), unique=True)
    kind: Mapped[str] = mapped_column(String(16))  # nrd | zone
    last_digest: Mapped[str | None] = mapped_column(String(64))
    # A content being processed and how many of its names are done: a restart resumes there.
    pending_digest: Mapped[str | None] = mapped_column(String(64))
    position: Mapped[int] = mapped_column(BigInteger, default=0)
    # For zone files: where the previous version is kept, to diff the next one against.
    previous_path: Mapped[str | None] = mapped_column(Text)
    items_processed: Mapped[int] = mapped_column(BigInteger, default=0)
    alerts_created: Mapped[int] = mapped_column(BigInteger, default=0)
    last_processed_at: Mapped[datetime | None]
    last_error: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
