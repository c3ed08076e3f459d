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
* Published specs contain mistakes a real API response cannot satisfy; `_SPEC_ERRATA` fixes
  them by JSON pointer, each with the reason. An erratum whose pointer no longer exists fails
  loudly so it gets removed once the upstream file is fixed.
"""

from __future__ import annotations

import copy
import functools
import json
import os
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import yaml
from jsonschema import Draft7Validator
from jsonschema.exceptions import ValidationError, best_match

REPO_ROOT = Path(__file__).resolve().parents[1]

# Keywords whose values are data, not schemas: never rewrite inside them.
_DATA_KEYWORDS = frozenset({"example", "examples", "default", "enum", "const", "required"})

# (pointer into the spec, replacement schema, why). Pointers use JSON Pointer syntax.
_Erratum = tuple[str, dict[str, Any], str]
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


def _components(spec_relative_path: str) -> dict[str, Any]:
    spec = load_spec(spec_relative_path)
    for pointer, replacement, why in _SPEC_ERRATA.get(spec_relative_path, []):
        try:
            container, key = _resolve_pointer(spec, pointer)
        except (KeyError, IndexError, ValueError) as exc:
            raise AssertionError(
                f"spec erratum for {spec_relative_path} ({why}) no longer applies: {pointer} not found; "
                "the upstream file changed, review and remove the erratum"
            ) from exc
        container[key] = copy.deepcopy(replacement)
    components: dict[str, Any] = _to_json_schema(spec.get("components", {}))
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
