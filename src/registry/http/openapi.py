"""The OpenAPI document: its configuration, and error responses described as what they are.

Every error the API answers is an RFC 9457 problem document (`errors.handle_exception`), but the
framework describes the errors it knows of (400 on invalid input) as `application/json` with its
own shape. The document is corrected as it is built: every error response, and a `default`
response on every operation, is `application/problem+json` with the `Problem` schema.
"""

from typing import Any, Final

from litestar import Litestar
from litestar._openapi.plugin import OpenAPIPlugin
from litestar.openapi.config import OpenAPIConfig
from litestar.openapi.plugins import SwaggerRenderPlugin
from litestar.openapi.spec import (
    Components,
    OpenAPI,
    OpenAPIMediaType,
    OpenAPIResponse,
    OpenAPIType,
    Reference,
    Schema,
    SecurityScheme,
)

from registry.http.errors import PROBLEM_MEDIA_TYPE

ASSETS_PATH = "/schema/assets"

DESCRIPTION = """A registry of intimate-partner-violence peer-support programs and the clinicians,
evaluators and trainers who partner with them. Organizations authenticate with
`Authorization: Bearer <key>`. Errors are RFC 9457 `application/problem+json`."""

PROBLEM = "Problem"
PROBLEM_SCHEMA = Schema(
    type=OpenAPIType.OBJECT,
    description=(
        "An RFC 9457 problem document. `type` is stable per kind of error; some problems add "
        "members of their own (`errors` for invalid input, `current_etag` for a stale If-Match, "
        "`resource` for a replayed key-issuing create)."
    ),
    properties={
        "type": Schema(type=OpenAPIType.STRING, description="e.g. /problems/invalid-input"),
        "title": Schema(type=OpenAPIType.STRING),
        "status": Schema(type=OpenAPIType.INTEGER),
        "detail": Schema(type=OpenAPIType.STRING, description="what went wrong, for a person"),
    },
    required=["type", "title", "status", "detail"],
)
_PROBLEM_CONTENT = {PROBLEM_MEDIA_TYPE: OpenAPIMediaType(schema=Reference(f"#/components/schemas/{PROBLEM}"))}


def openapi_config() -> OpenAPIConfig:
    return OpenAPIConfig(
        title="IPV peer-program registry",
        version="0.1.0",
        description=DESCRIPTION,
        path="/schema",
        use_handler_docstrings=True,
        render_plugins=[
            SwaggerRenderPlugin(
                path="/",
                js_url=f"{ASSETS_PATH}/swagger-ui-bundle.js",
                css_url=f"{ASSETS_PATH}/swagger-ui.css",
                standalone_preset_js_url=f"{ASSETS_PATH}/swagger-ui-standalone-preset.js",
                favicon="",
            )
        ],
        components=Components(
            security_schemes={
                "BearerKey": SecurityScheme(
                    type="http", scheme="bearer", description="An API key issued by the registry"
                )
            }
        ),
        security=[{}, {"BearerKey": []}],
    )


def with_problem_responses(openapi: OpenAPI) -> OpenAPI:
    """Every error response of every operation as a problem document, and a `default` one."""
    openapi.components.schemas = {**(openapi.components.schemas or {}), PROBLEM: PROBLEM_SCHEMA}
    for item in (openapi.paths or {}).values():
        for method in ("get", "put", "post", "delete", "options", "head", "patch", "trace"):
            operation = getattr(item, method, None)
            if operation is None:
                continue
            responses: dict[str, Any] = operation.responses or {}
            for status, response in responses.items():
                # The framework describes its errors as JSON; an error a handler documents as
                # something else (the dashboard's HTML login page) is left as it says.
                if (
                    status[:1] in ("4", "5")
                    and isinstance(response, OpenAPIResponse)
                    and set(response.content or {}) <= {"application/json"}
                ):
                    response.content = dict(_PROBLEM_CONTENT)
            responses.setdefault(
                "default",
                OpenAPIResponse(
                    description=(
                        "An error: 401 without a valid key, 403 or 404 when not yours to see, 413 for "
                        "bodies over 64 KiB, 429 when rate limited, 503 when the database is away."
                    ),
                    content=dict(_PROBLEM_CONTENT),
                ),
            )
            operation.responses = responses
    return openapi


CSV = "text/csv"
NDJSON = "application/x-ndjson"
# What an operation may answer besides JSON, by the opt its handler says it with.
ALTERNATIVES: Final = {
    # ?format=csv or Accept: text/csv (the reports)
    "csv": (CSV, "table,key,column,value,suppressed"),
    # ?format=ndjson (the HSDS lists)
    "ndjson": (NDJSON, "the page's (or with all=true every matching) HSDS object, one JSON object a line"),
}


def with_alternatives(openapi: OpenAPI, operations: list[tuple[str, str, str]]) -> OpenAPI:
    """Each (path, method, opt) operation's other media type (ALTERNATIVES) beside JSON on its
    success responses."""
    for path, method, opt in operations:
        media_type, description = ALTERNATIVES[opt]
        operation = getattr((openapi.paths or {}).get(path), method, None)
        for status, response in ((operation.responses or {}) if operation else {}).items():
            if status.startswith("2") and isinstance(response, OpenAPIResponse):
                response.content = {
                    **(response.content or {}),
                    media_type: OpenAPIMediaType(
                        schema=Schema(type=OpenAPIType.STRING, description=description)
                    ),
                }
    return openapi


class _ProblemOpenAPIPlugin(OpenAPIPlugin):
    __slots__ = ()

    def _build_openapi(self) -> OpenAPI:
        alternatives = [
            (route.path_format or "/", method.lower(), opt)
            for route in self.included_routes.values()
            for handler in route.route_handlers
            for opt in ALTERNATIVES
            if handler.opt.get(opt)
            for method in handler.http_methods
        ]
        return with_alternatives(with_problem_responses(super()._build_openapi()), alternatives)


def problem_documents(app: Litestar) -> None:
    """Make `app` describe its errors as problem documents when it builds its OpenAPI document
    (lazily, on the first request for it). The framework adds its OpenAPI plugin itself, so the
    one it made takes this subclass's behaviour; it keeps every route it was given."""
    plugin = app.plugins.get(OpenAPIPlugin)
    plugin.__class__ = _ProblemOpenAPIPlugin
