"""Catalog's HTTP edge: parse, call one use case, choose the status.

No ``from __future__ import annotations`` here: flask-openapi3 reads the view
signatures at import time to find the request models.
"""

import dataclasses
from typing import Any

from flask import Response, jsonify, request
from flask_openapi3 import APIBlueprint, Tag
from pydantic import BaseModel, TypeAdapter

from catalog import queries, service
from catalog.bootstrap import catalog_of
from catalog.repository import ProductFilter
from catalog.schemas import (
    ProductCreate,
    ProductOut,
    ProductPage,
    ProductPatch,
    ProductPath,
    ProductQuery,
    StockChange,
    StockLevel,
)
from flotilla.auth import SECURITY, require_role
from flotilla.openapi import extra
from flotilla.pagination import cursor_from_query
from flotilla.problems import ProblemModel

bp = APIBlueprint("products", __name__, url_prefix="/products",
                  abp_tags=[Tag(name="products", description="Products and stock")],
                  abp_responses={422: ProblemModel})

#: Writes are for admins: 401 without a good token, 403 without the role.
ADMIN_ONLY: dict[str | int, type[BaseModel] | dict[Any, Any] | None] = {
    401: ProblemModel, 403: ProblemModel}

PRODUCT = "/<uuid:product_id>"

#: The reads serialize their frozen views straight to JSON bytes (no model built, no dict
#: for json.dumps): the same fields, formats and order as ProductOut / ProductPage, which
#: the document describes; checked here, once, at import.
_VIEW_JSON = TypeAdapter(queries.ProductView)
_PAGE_JSON = TypeAdapter(queries.ViewPage)
for _model, _view in ((ProductOut, queries.ProductView), (ProductPage, queries.ViewPage)):
    if tuple(_model.model_fields) != tuple(f.name for f in dataclasses.fields(_view)):
        raise RuntimeError(f"{_view.__name__} must have the fields of {_model.__name__}, in order")


def _json(body: bytes) -> Response:
    return Response(body, mimetype="application/json")


def _product(product: object, status: int = 200) -> Response:
    out = ProductOut.model_validate(product)
    response = jsonify(out.model_dump(mode="json"))
    response.status_code = status
    response.headers["ETag"] = product.etag  # type: ignore[attr-defined]
    return response


def _if_match() -> frozenset[str] | None:
    header = request.if_match
    if not request.headers.get("If-Match"):
        return None
    return frozenset({"*"}) if header.star_tag else frozenset(f'"{t}"' for t in header.as_set())


@bp.get("", responses={200: ProductPage})
def list_products(query: ProductQuery) -> Response:
    """List products.

    Live products, oldest first, a page at a time: pass ``next_cursor`` as ``cursor`` for the
    next page. Filter by name (``q``) and price range. Anyone may read the catalog.
    """
    after = cursor_from_query(query.cursor)
    flt = ProductFilter(q=query.q, min_price=query.min_price, max_price=query.max_price)
    page = queries.list_products(catalog_of().db, flt, query.limit, after)
    return _json(_PAGE_JSON.dump_json(page))


@bp.get(PRODUCT, responses={200: ProductOut, 304: None, 404: ProblemModel},
        openapi_extensions=extra(headers={200: ["ETag"], 304: ["ETag"]}, reads=["If-None-Match"]))
def get_product(path: ProductPath) -> Response:
    """One product.

    With its ``ETag``; ``If-None-Match`` with that ETag answers 304 while it is unchanged.
    """
    product = queries.get_product(catalog_of().db, path.product_id)
    if request.if_none_match.contains_weak(product.etag.strip('"')):
        response = Response(status=304)
        response.headers["ETag"] = product.etag
        return response
    response = _json(_VIEW_JSON.dump_json(product))
    response.headers["ETag"] = product.etag
    return response


@bp.post("", responses={201: ProductOut, **ADMIN_ONLY}, security=SECURITY,
         openapi_extensions=extra(headers={201: ["ETag", "Location"]}))
@require_role("admin")
def create_product(body: ProductCreate) -> Response:
    """Create a product (admins).

    201 with the product, its ``ETag`` and its ``Location``.
    """
    product = service.create_product(catalog_of().uow, body.model_dump())
    response = _product(product, 201)
    response.headers["Location"] = f"{request.root_path}/products/{product.id}"
    return response


@bp.patch(PRODUCT, responses={200: ProductOut, 404: ProblemModel, 412: ProblemModel,
                              **ADMIN_ONLY}, security=SECURITY,
          openapi_extensions=extra(headers={200: ["ETag"]}, reads=["If-Match"]))
@require_role("admin")
def update_product(path: ProductPath, body: ProductPatch) -> Response:
    """Change some fields of a product (admins).

    Absent fields are left as they are. ``If-Match`` with the ETag guards against lost
    updates (412 when the product changed meanwhile).
    """
    changes = body.model_dump(exclude_unset=True)
    product = service.update_product(catalog_of().uow, path.product_id, changes, _if_match())
    return _product(product)


@bp.delete(PRODUCT, responses={204: None, 404: ProblemModel, 412: ProblemModel, **ADMIN_ONLY},
           security=SECURITY, openapi_extensions=extra(reads=["If-Match"]))
@require_role("admin")
def delete_product(path: ProductPath) -> Response:
    """Delete a product (admins).

    It is no longer listed or sold. ``If-Match`` with the ETag guards against deleting a
    version the caller has not seen (412).
    """
    service.delete_product(catalog_of().uow, path.product_id, _if_match())
    return Response(status=204)


@bp.post(PRODUCT + "/stock", responses={200: StockLevel, 404: ProblemModel, 409: ProblemModel,
                                        **ADMIN_ONLY}, security=SECURITY,
         openapi_extensions=extra(headers={200: ["ETag"]}))
@require_role("admin")
def change_stock(path: ProductPath, body: StockChange) -> Response:
    """Change a product's stock (admins).

    Adjust it by ``delta`` or set it to ``quantity`` (exactly one of them); it never goes
    below zero (409).
    """
    product = service.change_stock(catalog_of().uow, path.product_id, delta=body.delta,
                                   quantity=body.quantity)
    level = StockLevel(product_id=product.id, stock=product.stock, version=product.version)
    response = jsonify(level.model_dump(mode="json"))
    response.headers["ETag"] = product.etag
    return response
