"""Does a tolerant reader still fit what the producer publishes? (the contract tests)

A service that reacts to another service's fact models only the fields it reads. This
compares that model with the producer's published AsyncAPI document (docs/asyncapi/),
so a field renamed, dropped, made optional or retyped by the producer fails CI.
"""

from typing import Any

from pydantic import BaseModel

Schema = dict[str, Any]
_NUMERIC = {"integer", "number"}


def _resolve(schema: Schema, defs: dict[str, Schema]) -> Schema:
    while "$ref" in schema:
        schema = defs[schema["$ref"].rsplit("/", 1)[-1]]
    return schema


def _options(schema: Schema, defs: dict[str, Schema]) -> list[Schema]:
    schema = _resolve(schema, defs)
    if "anyOf" in schema:
        return [o for s in schema["anyOf"] for o in _options(s, defs)]
    return [schema]


def _fits(  # noqa: PLR0911 - one answer per kind of schema
    reader: Schema, producer: Schema, rdefs: dict[str, Schema], pdefs: dict[str, Schema]
) -> bool:
    """Whether every value the producer schema allows is accepted by the reader schema."""
    reader, producer = _resolve(reader, rdefs), _resolve(producer, pdefs)
    if not ({"type", "anyOf", "enum", "const"} & set(reader)):
        return True  # the reader takes anything
    if "anyOf" in producer:
        return all(_fits(reader, p, rdefs, pdefs) for p in _options(producer, pdefs))
    if "anyOf" in reader:
        return any(_fits(r, producer, rdefs, pdefs) for r in _options(reader, rdefs))
    if "enum" in reader or "const" in reader:
        allowed = set(reader.get("enum", [reader.get("const")]))
        produced = producer.get("enum", [producer["const"]] if "const" in producer else None)
        return produced is not None and set(produced) <= allowed
    kind, produced_kind = reader.get("type"), producer.get("type")
    if kind == "number" and produced_kind in _NUMERIC:
        return True
    if "enum" in producer and kind == "string":
        return True
    if kind != produced_kind:
        return False
    if kind == "array":
        return _fits(reader.get("items", {}), producer.get("items", {}), rdefs, pdefs)
    if kind == "object":
        return not mismatches(reader, producer, rdefs, pdefs)
    return True


def mismatches(
    reader: Schema,
    producer: Schema,
    rdefs: dict[str, Schema],
    pdefs: dict[str, Schema],
    path: str = "",
) -> list[str]:
    """What the reader expects of an object that the producer does not promise."""
    found: list[str] = []
    reader, producer = _resolve(reader, rdefs), _resolve(producer, pdefs)
    produced = producer.get("properties", {})
    promised = set(producer.get("required", []))
    for name, field in reader.get("properties", {}).items():
        where = f"{path}{name}"
        required = name in reader.get("required", [])
        if name not in produced:
            if required:
                found.append(f"{where}: required by the reader, not published by the producer")
            continue
        if required and name not in promised:
            found.append(f"{where}: required by the reader, optional in what is published")
        if not _fits(field, produced[name], rdefs, pdefs):
            found.append(f"{where}: the published type does not fit the reader's")
    return found


def reader_mismatches(reader: type[BaseModel], producer_document: dict[str, Any]) -> list[str]:
    """Compare a reader model with the producer's AsyncAPI message of the same type; a
    reader of the public topic may not read a field the producer publishes only on its
    private topic (`x-personal-fields`)."""
    event_type = getattr(reader, "type", "")
    message = producer_document["components"]["messages"].get(event_type)
    if message is None:
        return [f"{event_type}: not published by the producer"]
    pdefs = producer_document["components"]["schemas"]
    data = message["payload"]["properties"]["data"]
    schema = reader.model_json_schema(mode="validation")
    found = [
        f"{event_type}.{problem}"
        for problem in mismatches(schema, data, schema.get("$defs", {}), pdefs)
    ]
    if not getattr(reader, "reads_private", False):
        personal = message.get("x-personal-fields", [])
        read = set(reader.model_fields)
        found += [
            f"{event_type}.{path}: personal, published only on the private topic "
            "(declare the reader private=True)"
            for path in personal
            if path.split(".")[0].removesuffix("[]") in read
        ]
    return found
