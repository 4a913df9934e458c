"""Long lists stored as one compressed string: the same models back, earlier forms read."""

from typing import Annotated

import pytest
from pydantic import BaseModel, Field, ValidationError

from shared import State, packed_list
from shared._kit.packing import pack_lines, unpack_lines


class Item(BaseModel):
    name: str
    note: str | None = None


class Holder(State):
    items: Annotated[list[Item], *packed_list(Item)] = Field(default_factory=list)
    size: int = 0


@pytest.mark.parametrize("count", [0, 1, 2_000])
def test_a_packed_list_is_one_string_in_storage_and_the_same_models_in_python(
    count: int,
) -> None:
    held = Holder(
        items=[Item(name=f"n{i}", note="中文\nline" if i % 2 else None) for i in range(count)]
    )

    stored = held.model_dump(mode="json")

    assert isinstance(stored["items"], str)
    assert Holder.model_validate(stored) == held
    assert held.model_dump()["items"] == [i.model_dump() for i in held.items], "python mode"


def test_a_long_list_packs_into_far_fewer_bytes() -> None:
    items = [Item(name=f"household-{i:06}", note="elderly living alone") for i in range(2_000)]
    plain = sum(len(i.model_dump_json()) for i in items)

    packed = Holder(items=items).model_dump(mode="json")["items"]

    assert len(packed) * 5 < plain


def test_lists_stored_item_by_item_by_earlier_versions_are_read() -> None:
    as_strings = {"items": ['{"name": "a"}', '{"name": "b", "note": "x"}']}
    as_objects = {"items": [{"name": "a"}, {"name": "b", "note": "x"}]}

    for stored in (as_strings, as_objects):
        assert Holder.model_validate(stored).items == [Item(name="a"), Item(name="b", note="x")]


def test_a_string_that_is_not_a_packed_list_is_refused() -> None:
    for bad in ("not packed", "z1:not-base64!", "z1:" + "aGVsbG8="):
        with pytest.raises(ValidationError):
            Holder.model_validate({"items": bad})


def test_lines_round_trip() -> None:
    assert unpack_lines(pack_lines([])) == []
    assert unpack_lines(pack_lines(['{"a": 1}', "{}"])) == ['{"a": 1}', "{}"]
