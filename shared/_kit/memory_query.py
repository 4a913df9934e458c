"""The in-memory store's queries and updates (`memory.py`): equality and `$gt $gte $lt
$lte $ne $in $nin $exists` on dotted paths, `$or`/`$and`; `$set $inc $setOnInsert $unset
$push`."""

import copy
from collections.abc import Mapping
from typing import Any

Document = dict[str, Any]
MISSING = object()


def get_path(doc: Mapping[str, Any], path: str) -> Any:
    value: Any = doc
    for part in path.split("."):
        if not isinstance(value, Mapping) or part not in value:
            return MISSING
        value = value[part]
    return value


def _set(doc: Document, path: str, value: Any) -> None:
    *parents, last = path.split(".")
    for part in parents:
        doc = doc.setdefault(part, {})
    doc[last] = value


def _unset(doc: Document, path: str) -> None:
    *parents, last = path.split(".")
    for part in parents:
        doc = doc.get(part, {})
    doc.pop(last, None)


def _compare(value: Any, op: str, operand: Any) -> bool:  # noqa: PLR0911 - one per operator
    if op == "$exists":
        return (value is not MISSING) == bool(operand)
    if op == "$ne":
        return not _equal(value, operand)
    if op == "$in":
        return any(_equal(value, item) for item in operand)
    if op == "$nin":
        return not any(_equal(value, item) for item in operand)
    if value is MISSING or value is None:
        return False
    try:
        return bool(
            {
                "$gt": lambda: value > operand,
                "$gte": lambda: value >= operand,
                "$lt": lambda: value < operand,
                "$lte": lambda: value <= operand,
            }[op]()
        )
    except TypeError:
        return False  # MongoDB compares only values of one type bracket


def _equal(value: Any, expected: Any) -> bool:
    if value is MISSING:
        return expected is None
    if isinstance(value, list) and not isinstance(expected, list):
        return expected in value
    return bool(value == expected)


def _is_operators(condition: Any) -> bool:
    return (
        isinstance(condition, Mapping)
        and bool(condition)
        and all(str(k).startswith("$") for k in condition)
    )


def matches(doc: Mapping[str, Any], query: Mapping[str, Any]) -> bool:
    """Whether a document matches a (small) MongoDB query."""
    for key, condition in query.items():
        if key == "$or":
            if not any(matches(doc, q) for q in condition):
                return False
        elif key == "$and":
            if not all(matches(doc, q) for q in condition):
                return False
        elif (
            isinstance(condition, Mapping)
            and condition
            and all(k.startswith("$") for k in condition)
        ):
            value = get_path(doc, key)
            if not all(_compare(value, op, operand) for op, operand in condition.items()):
                return False
        elif not _equal(get_path(doc, key), condition):
            return False
    return True


def apply_update(doc: Document, update: Mapping[str, Any], *, inserting: bool) -> None:
    for op, fields in update.items():
        for path, value in fields.items():
            if op == "$set" or (op == "$setOnInsert" and inserting):
                _set(doc, path, copy.deepcopy(value))
            elif op == "$inc":
                current = get_path(doc, path)
                _set(doc, path, (0 if current is MISSING else current) + value)
            elif op == "$unset":
                _unset(doc, path)
            elif op == "$push":
                current = get_path(doc, path)
                _set(doc, path, [*([] if current is MISSING else current), copy.deepcopy(value)])
            elif op != "$setOnInsert":
                raise NotImplementedError(f"update operator {op} is not in the in-memory store")
