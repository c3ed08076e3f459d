"""Validate JSON documents against the OpenAPI 3.0 files in the shared spec folder.

The spec files are the published API references (copied from emporix/api-references and the
service's own OpenAPI document). Tests use them as the contract: a document that the real API
would send or accept must validate against the schema named there.

OpenAPI 3.0 schemas are *almost* JSON Schema Draft 4/7. The differences handled here:

* `nullable: true` has no JSON Schema equivalent; it becomes `type: [t, "null"]` (or an
  `anyOf` with `{"type": "null"}` where the schema has no `type`, e.g. a bare `$ref`/`allOf`).
* `exclusiveMinimum`/`exclusiveMaximum` are Draft 4 booleans in OpenAPI 3.0, Draft 7 wants
  numbers; they are rewritten.
* `example`, `deprecated`, `discriminator`, `x-*` etc. are unknown keywords to jsonschema and are
  ignored, and `format` is not checked (Emporix uses `format: double`, which is not a JSON
  Schema format anyway).
* Published specs contain mistakes a real API response (or a request the real API accepts)
  cannot satisfy; `_SPEC_ERRATA` fixes them by JSON pointer, each with the reason. A few entries
  are marked as tightenings instead: a field the spec forgot to require, without which a mock
  would pass while being useless. An erratum whose pointer no longer exists fails loudly so it
  gets removed once the upstream file is fixed.

Two levels of checks:

* `validate_against_spec(instance, spec, schema_name)`: one named `components.schemas` entry.
* `validate_request_body(spec, method, path, body)` / `validate_response_body(spec, method, path,
  status, body)`: whatever schema the *operation* declares for its request body or for the
  response of that status, found through the `$ref`s to `components.requestBodies`,
  `components.responses` and `components.schemas` (or inline), errata applied. An operation,
  status or schema the spec does not declare is an AssertionError, so a test cannot silently
  validate nothing; `allow_no_schema=True` accepts a declared request body / response that truly
  has no schema (a 204, say).
"""

from __future__ import annotations

import copy
import functools
import json
import os
import urllib.parse
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

import yaml
from jsonschema import Draft7Validator
from jsonschema.exceptions import ValidationError, best_match

REPO_ROOT = Path(__file__).resolve().parents[1]

# Keywords whose values are data, not schemas: never rewrite inside them.
_DATA_KEYWORDS = frozenset({"example", "examples", "default", "enum", "const", "required"})

# (pointer into the spec, replacement, why). Pointers use JSON Pointer syntax. The replacement is
# either the new value or a function that computes it from the (partly patched) raw spec.
_Replacement = dict[str, Any] | Callable[[Any], Any]
_Erratum = tuple[str, _Replacement, str]

_ORDER_ITEM_PATH = "/paths/~1order-v2~1{tenant}~1salesorders~1{orderId}"


def _deref_raw(spec: Any, node: Any) -> Any:
    """`node`, or what its local `$ref` chain points to, in a raw (OpenAPI) document."""
    seen: set[str] = set()
    while isinstance(node, dict) and "$ref" in node:
        ref = node["$ref"]
        if not isinstance(ref, str) or not ref.startswith("#/"):
            raise AssertionError(f"only local $refs are supported, got {ref!r}")
        if ref in seen:
            raise AssertionError(f"$ref cycle through {ref}")
        seen.add(ref)
        container, key = _resolve_pointer(spec, ref[1:])
        node = container[key]
    return node


def _without_top_level_required(schema_name: str) -> Callable[[Any], Any]:
    """`components.schemas.<schema_name>` with the `required` lists of its top level (itself and the
    parts of its `allOf`, through `$ref`s) removed: the body of a partial update. Nested objects keep
    theirs (a customer sent in a PATCH still needs an email)."""

    def build(spec: Any) -> Any:
        def relax(node: Any) -> Any:
            node = copy.deepcopy(_deref_raw(spec, node))
            if isinstance(node, dict):
                node.pop("required", None)
                if isinstance(node.get("allOf"), list):
                    node["allOf"] = [relax(part) for part in node["allOf"]]
            return node

        relaxed = relax({"$ref": f"#/components/schemas/{schema_name}"})
        relaxed["title"] = f"{schema_name} without top-level required (erratum)"
        return relaxed

    return build


_SPEC_ERRATA: dict[str, list[_Erratum]] = {
    "emporix/orders/order/api-reference/api.yml": [
        (
            "/components/schemas/orderCalculatedPrice/properties/finalPrice/allOf/1"
            "/properties/taxAggregate/properties/lines",
            {"type": "array", "items": {"$ref": "#/components/schemas/calculatedPrice"}},
            # The order-level finalPrice redeclares taxAggregate.lines as a single
            # calculatedPrice object (allOf [calculatedPrice, object]) while the referenced
            # calculatedPriceWithTaxAggregate declares it as an array of calculatedPrice. Under
            # allOf both apply, so no value could ever validate; the description ("A list of
            # tax values grouped by taxCode and taxRate") and every example say: an array.
            "taxAggregate.lines declared both as array and as object",
        ),
        # Fee names are `localizedValue`s: a string when the request sent Content-Language, else a
        # {lang: text} map (see the localizedValue description). Three places pin them to
        # `type: object`, and the spec's own example `salesOrder2` carries a plain string
        # ("Apple Picking Fee") in two of them, so a real response would fail validation.
        (
            "/components/schemas/aggregateFee/properties/elements/items/properties/name",
            {"$ref": "#/components/schemas/localizedValue"},
            # allOf [localizedValue, {type: object}]: the object branch forbids the string form.
            "deprecated fees.elements[].name cannot be a string",
        ),
        (
            "/components/schemas/calculatedFee/properties/name",
            {"$ref": "#/components/schemas/localizedValue"},
            "calculatedFee.name cannot be a string",
        ),
        (
            "/components/schemas/orderEntryCalculatedPrice/properties/fees/items/allOf/1/properties/name",
            {"$ref": "#/components/schemas/localizedValue"},
            "entries[].calculatedPrice.fees[].name cannot be a string",
        ),
        (
            f"{_ORDER_ITEM_PATH}/patch/requestBody/content/application~1json/schema",
            _without_top_level_required("orderUpdateDto"),
            # PATCH ("partial update") reuses PUT's full-document orderUpdateDto, whose
            # orderCommonDto part requires entries, customer and calculatedPrice. The order
            # tutorial (orders/order/order.md) PATCHes just {"status": "SHIPPED"} or
            # {"shipments": [...]}, and the invoice write-back sends only mixins + metadata; as
            # declared, no partial body could validate. The PATCH body here is orderUpdateDto
            # without the top-level `required` (nested objects keep theirs); PUT is unchanged.
            "PATCH salesorders/{orderId} body requires entries/customer/calculatedPrice",
        ),
    ],
    "emporix/utilities/sequential-id/api-reference/api.yml": [
        (
            "/components/schemas/NextIdResponse",
            {"type": "object", "required": ["id"], "properties": {"id": {"type": "string", "minLength": 1}}},
            # A tightening, not a fix: the spec declares {id: string} with nothing required, so an
            # empty object would pass as a "201 Created" nextId answer. The id is the whole point
            # of the call ("The created nextID according to the selected schema"; example
            # {"id": "B7012562"}), and a mock without one would drift from the real API unnoticed.
            "NextIdResponse.id is not marked required",
        ),
    ],
}


def shared_dir() -> Path:
    """The shared folder next to the repository (overridable for CI checkouts)."""
    return Path(os.environ.get("INVOICE_SHARED_DIR", REPO_ROOT.parent / "shared"))


def spec_dir() -> Path:
    return shared_dir() / "spec"


class _JsonCompatibleLoader(getattr(yaml, "CSafeLoader", yaml.SafeLoader)):
    """SafeLoader (the C one when available: the 7 000-line order spec loads much faster) that
    keeps unquoted timestamps as strings.

    YAML 1.1 turns `created: 2025-06-10T12:31:39.614Z` in the spec's examples into a datetime,
    which no JSON document can contain; OpenAPI documents are JSON, so dates stay strings.
    """

    yaml_implicit_resolvers = {
        first: [(tag, regexp) for tag, regexp in resolvers if tag != "tag:yaml.org,2002:timestamp"]
        for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
    }


@functools.cache
def _load_spec_cached(relative_path: str) -> Any:
    path = spec_dir() / relative_path
    if not path.is_file():
        raise FileNotFoundError(f"spec file {path} not found (set INVOICE_SHARED_DIR to the shared folder)")
    text = path.read_text(encoding="utf-8")
    if path.suffix == ".json":
        return json.loads(text)
    return yaml.load(text, Loader=_JsonCompatibleLoader)  # a SafeLoader subclass: no arbitrary objects


def load_spec(relative_path: str) -> Any:
    """The parsed YAML/JSON file `<shared>/spec/<relative_path>`; a fresh copy the caller may edit."""
    return copy.deepcopy(_load_spec_cached(relative_path))


def _to_json_schema(node: Any) -> Any:
    """Rewrite an OpenAPI 3.0 schema (sub)tree into Draft 7 JSON Schema, see the module docstring."""
    if isinstance(node, list):
        return [_to_json_schema(item) for item in node]
    if not isinstance(node, dict):
        return node
    out: dict[str, Any] = {}
    for key, value in node.items():
        if key in _DATA_KEYWORDS:
            out[key] = value
        elif key in ("properties", "patternProperties", "definitions", "schemas"):
            # Maps of name -> schema: the names themselves are not keywords.
            out[key] = {name: _to_json_schema(sub) for name, sub in value.items()}
        else:
            out[key] = _to_json_schema(value)

    for bound in ("Minimum", "Maximum"):
        if out.get(f"exclusive{bound}") is True and bound.lower() in out:
            out[f"exclusive{bound}"] = out.pop(bound.lower())
        elif out.get(f"exclusive{bound}") is False:
            del out[f"exclusive{bound}"]

    if out.pop("nullable", False) is True:
        if isinstance(out.get("type"), str):
            out["type"] = [out["type"], "null"]
            if "enum" in out and None not in out["enum"]:
                out["enum"] = [*out["enum"], None]
        else:
            # No plain type to widen ($ref, allOf, ...): accept null as an alternative.
            out = {"anyOf": [out, {"type": "null"}]}
    return out


def _resolve_pointer(document: Any, pointer: str) -> tuple[Any, str | int]:
    """The container and key a JSON pointer designates (so the caller can replace the value)."""
    parts = [p.replace("~1", "/").replace("~0", "~") for p in pointer.lstrip("/").split("/")]
    node = document
    for part in parts[:-1]:
        node = node[int(part)] if isinstance(node, list) else node[part]
    last: str | int = int(parts[-1]) if isinstance(node, list) else parts[-1]
    if isinstance(last, str) and last not in node:
        raise KeyError(last)
    return node, last


@functools.cache
def _patched_spec(spec_relative_path: str) -> Any:
    """The raw spec with the errata applied (cached and shared: never modify it)."""
    spec = load_spec(spec_relative_path)
    for pointer, replacement, why in _SPEC_ERRATA.get(spec_relative_path, []):
        try:
            container, key = _resolve_pointer(spec, pointer)
        except (KeyError, IndexError, ValueError) as exc:
            raise AssertionError(
                f"spec erratum for {spec_relative_path} ({why}) no longer applies: {pointer} not found; "
                "the upstream file changed, review and remove the erratum"
            ) from exc
        container[key] = replacement(spec) if callable(replacement) else copy.deepcopy(replacement)
    return spec


def _components(spec_relative_path: str) -> dict[str, Any]:
    components: dict[str, Any] = _to_json_schema(_patched_spec(spec_relative_path).get("components", {}))
    return components


@functools.cache
def _validator(spec_relative_path: str, schema_name: str) -> Draft7Validator:
    components = _components(spec_relative_path)
    if schema_name not in components.get("schemas", {}):
        raise KeyError(f"{spec_relative_path} has no components.schemas.{schema_name}")
    # Wrapping keeps internal refs ("#/components/schemas/X") resolvable against this document.
    root = {"$ref": f"#/components/schemas/{schema_name}", "components": components}
    Draft7Validator.check_schema(root)
    return Draft7Validator(root)


def _json_path(parts: Iterable[str | int]) -> str:
    out = "$"
    for part in parts:
        out += f"[{part}]" if isinstance(part, int) else f".{part}"
    return out


def _describe(error: ValidationError) -> str:
    # anyOf/oneOf report a single error for the whole node; show the most relevant branch failure.
    if error.context:
        inner = best_match(error.context)
        return f"{_json_path(inner.absolute_path)}: {inner.message} (in {error.validator})"
    return f"{_json_path(error.absolute_path)}: {error.message}"


def spec_errors(instance: Any, spec_relative_path: str, schema_name: str) -> list[str]:
    """Every violation as '<json path>: <message>', sorted; empty when the instance is valid."""
    validator = _validator(spec_relative_path, schema_name)
    return sorted({_describe(error) for error in validator.iter_errors(instance)})


def validate_against_spec(instance: Any, spec_relative_path: str, schema_name: str) -> None:
    """Assert `instance` is a valid `components.schemas.<schema_name>` of the given OpenAPI file."""
    errors = spec_errors(instance, spec_relative_path, schema_name)
    if errors:
        shown = "\n  ".join(errors[:50])
        more = f"\n  ... and {len(errors) - 50} more" if len(errors) > 50 else ""
        raise AssertionError(
            f"not a valid {schema_name} per {spec_relative_path} ({len(errors)} problem(s)):\n  {shown}{more}"
        )


# --- operations ----------------------------------------------------------------------------------
_HTTP_METHODS = ("get", "put", "post", "delete", "options", "head", "patch", "trace")
_JSON = "application/json"
_FORM = "application/x-www-form-urlencoded"
_MAX_MESSAGE = 300  # jsonschema repeats whole instances in some messages; a salesOrder is long


def _template_key(path: str) -> str:
    """`/a/{x}/b` and `/a/{y}/b` name the same path (parameter names do not matter)."""
    return "/".join("{}" if part.startswith("{") and part.endswith("}") else part for part in path.split("/"))


def _operation(spec_relative_path: str, method: str, path_template: str) -> tuple[Any, dict[str, Any], str]:
    """(patched spec, operation object, 'METHOD /path' as declared) or an AssertionError."""
    spec = _patched_spec(spec_relative_path)
    paths: dict[str, Any] = spec.get("paths") or {}
    declared = path_template if path_template in paths else None
    if declared is None:
        same = [p for p in paths if _template_key(p) == _template_key(path_template)]
        if len(same) == 1:
            declared = same[0]
    if declared is None:
        near = [p for p in paths if p.split("/")[:3] == path_template.split("/")[:3]] or list(paths)
        raise AssertionError(
            f"{spec_relative_path} declares no path {path_template}; it has:\n  " + "\n  ".join(near)
        )
    item = _deref_raw(spec, paths[declared])
    operation = item.get(method.lower())
    if not isinstance(operation, dict):
        methods = [m.upper() for m in _HTTP_METHODS if m in item]
        raise AssertionError(
            f"{spec_relative_path} declares no {method.upper()} {declared} (only {', '.join(methods) or 'nothing'})"
        )
    return spec, operation, f"{method.upper()} {declared}"


def _pick_media_type(content: dict[str, Any], wanted: str | None, preferred: tuple[str, ...]) -> str | None:
    if wanted is not None:
        return wanted if wanted in content else None
    for media_type in preferred:
        if media_type in content:
            return media_type
    for media_type in content:  # e.g. application/problem+json, */*
        if media_type.endswith(("/json", "+json")) or media_type == "*/*":
            return media_type
    return None


def _ref_name(node: Any) -> str | None:
    if isinstance(node, dict) and isinstance(node.get("$ref"), str):
        return str(node["$ref"]).removeprefix("#/").replace("/", ".")
    return None


@functools.cache
def _operation_schema(
    spec_relative_path: str, method: str, path_template: str, status: str | None, media_type: str | None
) -> tuple[Draft7Validator | None, str, str, str | None]:
    """(validator or None if no schema is declared, what the body is, where its schema comes from,
    the media type chosen).

    `status` None means the request body. Raises AssertionError when the operation or the status
    is not declared at all.
    """
    spec, operation, declared = _operation(spec_relative_path, method, path_template)
    trail: list[str] = []
    if status is None:
        what = f"request body of {declared}"
        container = operation.get("requestBody")
        if container is None:
            return None, what, "the operation declares no requestBody", None
        preferred: tuple[str, ...] = (_JSON, _FORM)
    else:
        responses = {str(code): value for code, value in (operation.get("responses") or {}).items()}
        code = next(
            (c for c in (status, f"{status[:1]}XX", f"{status[:1]}xx", "default") if c in responses), None
        )
        if code is None:
            raise AssertionError(
                f"{spec_relative_path} declares no {status} response for {declared} "
                f"(declared: {', '.join(responses) or 'none'})"
            )
        what = f"{status} response of {declared}" + ("" if code == status else f" (declared as {code})")
        container = responses[code]
        preferred = (_JSON,)
    if (name := _ref_name(container)) is not None:
        trail.append(name)
    container = _deref_raw(spec, container)
    content: dict[str, Any] = container.get("content") or {}
    chosen = _pick_media_type(content, media_type, preferred)
    if chosen is None:
        wanted = media_type or " or ".join(preferred)
        declared_types = ", ".join(content) or "no content at all"
        return None, what, f"no {wanted} content is declared ({declared_types})", None
    schema = content[chosen].get("schema") if isinstance(content[chosen], dict) else None
    if schema is None:
        return None, what, f"{chosen} is declared without a schema", chosen
    title = schema.get("title") if isinstance(schema, dict) else None
    trail.append(_ref_name(schema) or (f"inline schema {title!r}" if title else "inline schema"))
    root = {
        "$ref": "#/x-operation-schema",
        "x-operation-schema": _to_json_schema(schema),
        "components": _components(spec_relative_path),
    }
    Draft7Validator.check_schema(root)
    source = f"{chosen}: {' -> '.join(trail)}"
    return Draft7Validator(root), f"{what} [{chosen}]", source, chosen


def _decode(body: Any, form: bool) -> Any:
    """A raw HTTP body (str/bytes, as `responses` records it) as the document it encodes."""
    if isinstance(body, bytes | bytearray):
        body = bytes(body).decode("utf-8")
    if not isinstance(body, str):
        return body
    if form:
        return dict(urllib.parse.parse_qsl(body, keep_blank_values=True))
    try:
        return json.loads(body)
    except json.JSONDecodeError as exc:
        raise AssertionError(f"the body is not JSON ({exc}): {body[:200]!r}") from exc


def _validate_operation_body(
    spec_relative_path: str,
    method: str,
    path_template: str,
    status: str | None,
    body: Any,
    *,
    media_type: str | None,
    allow_no_schema: bool,
) -> Any:
    validator, what, source, chosen = _operation_schema(
        spec_relative_path, method, path_template, status, media_type
    )
    if validator is None:
        if allow_no_schema:
            return body  # nothing to decode against: the caller knows what the body is
        raise AssertionError(
            f"{spec_relative_path} declares no schema for the {what}: {source}. Nothing would be "
            "validated; pass allow_no_schema=True if the spec truly has none."
        )
    instance = _decode(body, form=chosen == _FORM)
    errors = sorted({_describe(error) for error in validator.iter_errors(instance)})
    if errors:
        shown = "\n  ".join(e if len(e) <= _MAX_MESSAGE else f"{e[:_MAX_MESSAGE]}..." for e in errors[:50])
        more = f"\n  ... and {len(errors) - 50} more" if len(errors) > 50 else ""
        raise AssertionError(
            f"not a valid {what} per {spec_relative_path} ({source}), "
            f"{len(errors)} problem(s):\n  {shown}{more}"
        )
    return instance


def validate_request_body(
    spec_relative_path: str,
    method: str,
    path_template: str,
    body: Any,
    *,
    media_type: str | None = None,
    allow_no_schema: bool = False,
) -> Any:
    """Assert `body` is what the operation `<method> <path_template>` accepts; returns the body.

    `path_template` is the spec's key, e.g. "/order-v2/{tenant}/salesorders/{orderId}" (parameter
    names may differ). The schema is the requestBody's `application/json` one, else its
    `application/x-www-form-urlencoded` one (the OAuth token call), unless `media_type` picks one.
    `body` is the document (dict/list/...) or the raw HTTP body (str/bytes), which is decoded as
    JSON or as a form per the media type; the decoded document is returned.
    """
    return _validate_operation_body(
        spec_relative_path,
        method,
        path_template,
        None,
        body,
        media_type=media_type,
        allow_no_schema=allow_no_schema,
    )


def validate_response_body(
    spec_relative_path: str,
    method: str,
    path_template: str,
    status: int | str,
    body: Any,
    *,
    media_type: str | None = None,
    allow_no_schema: bool = False,
) -> Any:
    """Assert `body` is what the operation answers with `status`; returns the (decoded) body.

    The response is the one declared for the exact code, else for its range ("4XX"), else
    "default". Its schema is the `application/json` one unless `media_type` picks another.
    With `allow_no_schema=True` and no schema declared, `body` is returned as given, unchecked.
    """
    return _validate_operation_body(
        spec_relative_path,
        method,
        path_template,
        str(status),
        body,
        media_type=media_type,
        allow_no_schema=allow_no_schema,
    )
