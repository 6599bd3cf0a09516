"""HTTP routes for brands: CRUD (admin to change, read to view), bulk import and export."""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Depends, Query, Request, Response, status

from service.brands import service
from service.brands.documents import parse_brands_document, render_brands_document
from service.brands.schemas import (
    BrandCreate,
    BrandOut,
    BrandPage,
    BrandUpdate,
    ImportResult,
)
from service.deps import AdminCaller, AppSettings, DbSession, ReadCaller
from service.ids import PathId

router = APIRouter(prefix="/v1/brands", tags=["brands"])


async def raw_body(request: Request) -> bytes:
    """The undecoded request body (the import accepts YAML as well as JSON)."""
    return await request.body()


_DOC_EXAMPLE = "brands:\n  - name: PayPal\n    domains: [paypal.com]\n    keywords: [paypal]\n"


@router.post(
    "",
    status_code=status.HTTP_201_CREATED,
    response_model=BrandOut,
    summary="Protect a brand",
    description="Domains must be registrable domains; each invalid one is named with the reason.",
)
def create_brand(body: BrandCreate, session: DbSession, _: AdminCaller) -> BrandOut:
    return BrandOut.model_validate(service.create_brand(session, body))


@router.get("", response_model=BrandPage, summary="List brands")
def list_brands(
    session: DbSession,
    settings: AppSettings,
    _: ReadCaller,
    limit: Annotated[int | None, Query(ge=1, description="Page size.")] = None,
    cursor: Annotated[str | None, Query(description="`next_cursor` of the previous page.")] = None,
    enabled: Annotated[bool | None, Query(description="Only enabled or disabled.")] = None,
) -> BrandPage:
    size = min(limit or settings.page_size_default, settings.page_size_max)
    rows, next_cursor = service.list_brands(session, size, cursor, enabled)
    return BrandPage(items=[BrandOut.model_validate(b) for b in rows], next_cursor=next_cursor)


@router.get(
    "/export",
    summary="Export all brands",
    description="The brands file format of `phantomwatch brands import` and `score --brands`.",
    responses={200: {"content": {"application/yaml": {}, "application/json": {}}}},
)
def export_brands(
    session: DbSession,
    _: ReadCaller,
    format: Annotated[Literal["yaml", "json"], Query(description="Output format.")] = "yaml",
) -> Response:
    text = render_brands_document(service.export_brands(session), format)
    return Response(text, media_type="application/json" if format == "json" else "application/yaml")


@router.post(
    "/import",
    response_model=ImportResult,
    summary="Import brands in bulk",
    description="Body: the brands file as YAML or JSON. Brands are matched by name: new names "
    "are created, existing ones replaced. All or nothing: one invalid brand rejects the file.",
    openapi_extra={
        "requestBody": {
            "required": True,
            "content": {
                "application/yaml": {"schema": {"type": "string"}, "example": _DOC_EXAMPLE},
                "application/json": {"schema": {"$ref": "#/components/schemas/BrandsDocument"}},
            },
        }
    },
)
def import_brands(
    body: Annotated[bytes, Depends(raw_body)], session: DbSession, _: AdminCaller
) -> ImportResult:
    return service.import_brands(session, parse_brands_document(body))


@router.get("/{brand_id}", response_model=BrandOut, summary="Get a brand")
def get_brand(brand_id: PathId, session: DbSession, _: ReadCaller) -> BrandOut:
    return BrandOut.model_validate(service.get_brand(session, brand_id))


@router.patch(
    "/{brand_id}",
    response_model=BrandOut,
    summary="Change a brand",
    description="Only the fields sent change. Keywords derived from domains follow new domains.",
)
def update_brand(
    brand_id: PathId, body: BrandUpdate, session: DbSession, _: AdminCaller
) -> BrandOut:
    return BrandOut.model_validate(service.update_brand(session, brand_id, body))


@router.delete(
    "/{brand_id}",
    status_code=status.HTTP_204_NO_CONTENT,
    summary="Stop protecting a brand",
    description="Soft delete: the brand is no longer scored or listed; its alerts are kept.",
)
def delete_brand(brand_id: PathId, session: DbSession, _: AdminCaller) -> Response:
    service.delete_brand(session, brand_id)
    return Response(status_code=status.HTTP_204_NO_CONTENT)
