"""The OpenAPI 3.1 document of a service, as flask-openapi3 generates it from our
pydantic models, with the error responses described as what they are: problem+json."""

from __future__ import annotations

import copy
from typing import Any

from flask_openapi3 import OpenAPI

from flotilla.problems import PROBLEM_JSON

_PROBLEM_REF = "#/components/schemas/ProblemModel"


def document(app: OpenAPI) -> dict[str, Any]:
    doc = copy.deepcopy(app.api_doc)
    components = doc.setdefault("components", {})
    if not components.get("securitySchemes"):
        components.pop("securitySchemes", None)
    for path_item in doc.get("paths", {}).values():
        for operation in path_item.values():
            for status, response in operation.get("responses", {}).items():
                if str(status).startswith(("4", "5")):
                    response["content"] = {PROBLEM_JSON: {"schema": {"$ref": _PROBLEM_REF}}}
    return doc
