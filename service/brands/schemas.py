"""Request and response bodies of the brand endpoints, and the brands file format."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, ConfigDict, Field, model_validator

from service.errors import reject_nulls

DOMAINS_DOC = (
    "Registrable domains the brand owns (`paypal.com`, `paypal.co.uk`). They and their "
    "subdomains never alert; the first is the brand's main domain."
)
KEYWORDS_DOC = (
    "Brand tokens searched for in names (`paypal`). Defaults to the first label of each "
    "domain. Tokens of 3-4 characters need stronger evidence to alert."
)
ALLOW_DOC = "Domains that must never alert, with all their subdomains (partners, agencies)."
THRESHOLD_DOC = "Minimum score for an alert; unset uses the engine's default."


class BrandCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str = Field(min_length=1, max_length=200, description="Unique name of the brand.")
    domains: list[str] = Field(min_length=1, max_length=1000, description=DOMAINS_DOC)
    keywords: list[str] = Field(default_factory=list, max_length=1000, description=KEYWORDS_DOC)
    allow: list[str] = Field(default_factory=list, max_length=10000, description=ALLOW_DOC)
    alert_threshold: int | None = Field(None, ge=0, le=100, description=THRESHOLD_DOC)
    enabled: bool = Field(True, description="Disabled brands are not scored.")


class BrandUpdate(BaseModel):
    """Fields to change; omitted fields keep their value."""

    model_config = ConfigDict(extra="forbid")

    name: str | None = Field(None, min_length=1, max_length=200)
    domains: list[str] | None = Field(None, min_length=1, max_length=1000, description=DOMAINS_DOC)
    keywords: list[str] | None = Field(None, max_length=1000, description=KEYWORDS_DOC)
    allow: list[str] | None = Field(None, max_length=10000, description=ALLOW_DOC)
    alert_threshold: int | None = Field(None, ge=0, le=100, description=THRESHOLD_DOC)
    enabled: bool | None = None

    @model_validator(mode="after")
    def _no_nulls(self) -> BrandUpdate:
        reject_nulls(self, nullable=frozenset({"alert_threshold"}))
        return self


class BrandOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    name: str
    domains: list[str] = Field(description=DOMAINS_DOC)
    keywords: list[str] = Field(description=KEYWORDS_DOC)
    allow: list[str] = Field(description=ALLOW_DOC)
    alert_threshold: int | None = Field(description=THRESHOLD_DOC)
    enabled: bool
    created_at: datetime
    updated_at: datetime


class BrandPage(BaseModel):
    items: list[BrandOut]
    next_cursor: str | None = Field(description="Pass as `cursor` for the next page; null at end.")


class BrandsDocument(BaseModel):
    """The brands file shared by `brands import|export`, the API and `score --brands`."""

    model_config = ConfigDict(extra="forbid")

    brands: list[BrandCreate]


class ImportResult(BaseModel):
    created: list[str] = Field(description="Names of brands created.")
    updated: list[str] = Field(description="Names of existing brands replaced by the file.")
