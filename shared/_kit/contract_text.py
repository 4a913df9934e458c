"""A service's contract as text for people: a Markdown section and a self-contained HTML page."""

import html
from typing import Any

from shared._kit.contract import Entry, ServiceContract, schemas

Schema = dict[str, Any]


def _ref_name(ref: str) -> str:
    return ref.rsplit("/", 1)[-1]


def type_of(schema: Schema) -> str:  # noqa: PLR0911 - one return per kind of schema
    """A short type for a JSON Schema: `string`, `[Transfer]`, `a | b`, `{string: number}`."""
    if "$ref" in schema:
        return _ref_name(schema["$ref"])
    if "const" in schema:
        return repr(schema["const"])
    if "enum" in schema:
        return " \\| ".join(str(v) for v in schema["enum"])
    if "anyOf" in schema:
        return " \\| ".join(type_of(s) for s in schema["anyOf"])
    kind = schema.get("type", "any")
    if kind == "array":
        return f"[{type_of(schema.get('items', {}))}]"
    if kind == "object" and isinstance(schema.get("additionalProperties"), dict):
        return f"{{string: {type_of(schema['additionalProperties'])}}}"
    if kind == "string" and "format" in schema:
        return f"string ({schema['format']})"
    return str(kind)


_CONSTRAINTS = {
    "minimum": "≥ {}",
    "exclusiveMinimum": "> {}",
    "maximum": "≤ {}",
    "exclusiveMaximum": "< {}",
    "minLength": "length ≥ {}",
    "maxLength": "length ≤ {}",
    "minItems": "items ≥ {}",
    "maxItems": "items ≤ {}",
    "pattern": "matches `{}`",
}


def _notes(schema: Schema) -> str:
    parts = [text.format(schema[key]) for key, text in _CONSTRAINTS.items() if key in schema]
    for option in schema.get("anyOf", []):
        parts += [text.format(option[key]) for key, text in _CONSTRAINTS.items() if key in option]
    if "default" in schema and schema["default"] not in (None, [], {}):
        parts.append(f"default {schema['default']!r}")
    if "description" in schema:
        parts.append(schema["description"])
    return "; ".join(parts)


def fields(schema: Schema) -> list[tuple[str, str, bool, str]]:
    """(name, type, required, notes) for each property of an object schema."""
    required = set(schema.get("required", []))
    return [
        (name, type_of(prop), name in required, _notes(prop))
        for name, prop in schema.get("properties", {}).items()
    ]


def _table(schema: Schema) -> list[str]:
    rows = fields(schema)
    if not rows:
        return ["(no fields)", ""]
    lines = ["| field | type | required | notes |", "|---|---|---|---|"]
    lines += [f"| `{n}` | {t} | {'yes' if r else 'no'} | {note} |" for n, t, r, note in rows]
    return [*lines, ""]


def _entry(e: Entry, defs: dict[str, Schema], ref: str) -> list[str]:
    key = f"key `{e.subject}`" if e.subject else "key: the subject"
    lines = [f"#### `{e.event_type}`", "", f"On `{e.topic}`, {key}. {e.summary}".rstrip(), ""]
    if e.personal and not e.topic.endswith(".private"):  # (a read of the whole fact)
        private = e.topic.rsplit(".", 1)[0] + ".private"
        moved = ", ".join(f"`{p}`" for p in e.personal)
        lines += [
            f"Personal fields, moved to `{private}` (the whole fact, same id, type and "
            f"subject); the copy on `{e.topic}` leaves them out: {moved}.",
            "",
        ]
    return [*lines, *_table(defs[_ref_name(ref)])]


def markdown(contract: ServiceContract) -> str:
    """The generated part of docs/contract.md for one service."""
    entries = [*contract.commands, *contract.facts, *contract.reads]
    refs, defs = schemas(entries)
    out = [f"### {contract.service}: generated from `services/{contract.service}`", ""]
    for title, group in (
        (f"Commands it takes on `{contract.intake}`", contract.commands),
        (f"Facts it publishes on `{contract.events}`", contract.facts),
        ("Facts of its own and of other services it reacts to", contract.reads),
    ):
        if not group:
            continue
        out += [f"{title}:", ""]
        for e in group:
            out += _entry(e, defs, refs[e.event_type])
    if contract.reasons:
        out += ["Rejection reasons (`command_rejected.reason`):", ""]
        out += ["| reason | meaning |", "|---|---|"]
        out += [f"| `{code}` | {why} |" for code, why in sorted(contract.reasons.items())]
        out.append("")
    message_models = {_ref_name(ref) for ref in refs.values()}
    nested = sorted(name for name in defs if name not in message_models)
    if nested:
        out += ["Types used above:", ""]
        for name in nested:
            schema = defs[name]
            if "enum" in schema:
                out += [f"- `{name}`: one of {', '.join(f'`{v}`' for v in schema['enum'])}"]
            else:
                out += [f"`{name}`:", "", *_table(schema)]
        out.append("")
    return "\n".join(out).rstrip() + "\n"


def html_page(contract: ServiceContract, asyncapi_path: str) -> str:
    """`/docs`: the same content as a page that needs nothing from outside."""
    body: list[str] = []
    for line in markdown(contract).splitlines():
        if line.startswith("### "):
            body.append(f"<h1>{html.escape(line[4:].replace('`', ''))}</h1>")
        elif line.startswith("#### "):
            body.append(f"<h3>{html.escape(line[5:].replace('`', ''))}</h3>")
        elif line.startswith("|---"):
            continue
        elif line.startswith("| "):
            cells = [
                html.escape(c.strip().replace("`", "").replace("\\|", "|"))
                for c in line.strip("|").split(" | ")
            ]
            body.append("<tr>" + "".join(f"<td>{c}</td>" for c in cells) + "</tr>")
        elif line:
            body.append(f"<p>{html.escape(line.replace('`', ''))}</p>")
    rows = _wrap_tables("\n".join(body))
    return (
        '<!doctype html><html lang="en"><head><meta charset="utf-8">'
        f"<title>{html.escape(contract.service)} contract</title>"
        "<style>body{font:14px/1.4 sans-serif;margin:2em;max-width:70em}"
        "table{border-collapse:collapse;margin:.5em 0 1.5em}"
        "td{border:1px solid #ccc;padding:2px 8px}"
        "tr:first-child td{font-weight:bold;background:#f3f3f3}</style></head><body>"
        f'<p>Machine-readable: <a href="{asyncapi_path}">AsyncAPI 3.0 (JSON)</a></p>'
        f"{rows}</body></html>\n"
    )


def _wrap_tables(text: str) -> str:
    out: list[str] = []
    in_table = False
    for line in text.split("\n"):
        is_row = line.startswith("<tr>")
        if is_row and not in_table:
            out.append("<table>")
        if not is_row and in_table:
            out.append("</table>")
        out.append(line)
        in_table = is_row
    if in_table:
        out.append("</table>")
    return "\n".join(out)
