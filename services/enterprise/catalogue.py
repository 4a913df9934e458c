"""The hazardous-chemical catalogue shipped with the service, by CAS number.

Control categories follow China's lists: the Category 3 precursor chemicals (易制毒化学品
第三类), the explosive precursors (易制爆危险化学品) and the highly toxic chemicals (剧毒化学品);
every entry is also a hazardous chemical (危险化学品).
"""

from dataclasses import dataclass
from enum import StrEnum


class ControlCategory(StrEnum):
    HIGHLY_TOXIC = "highly_toxic"
    EXPLOSIVE_PRECURSOR = "explosive_precursor"
    DRUG_PRECURSOR_1 = "drug_precursor_1"
    DRUG_PRECURSOR_2 = "drug_precursor_2"
    DRUG_PRECURSOR_3 = "drug_precursor_3"
    HAZARDOUS = "hazardous"


@dataclass(frozen=True)
class Chemical:
    cas: str
    name_zh: str
    name_en: str
    categories: frozenset[ControlCategory]


def _chemical(cas: str, name_zh: str, name_en: str, *categories: ControlCategory) -> Chemical:
    return Chemical(cas, name_zh, name_en, frozenset({*categories, ControlCategory.HAZARDOUS}))


_C = ControlCategory
CATALOGUE: dict[str, Chemical] = {
    c.cas: c
    for c in (
        _chemical("78-93-3", "丁酮", "butanone (methyl ethyl ketone)", _C.DRUG_PRECURSOR_3),
        _chemical("67-64-1", "丙酮", "acetone", _C.DRUG_PRECURSOR_3),
        _chemical("108-88-3", "甲苯", "toluene", _C.DRUG_PRECURSOR_3),
        _chemical("7664-93-9", "硫酸", "sulfuric acid", _C.DRUG_PRECURSOR_3),
        _chemical("7647-01-0", "盐酸", "hydrochloric acid", _C.DRUG_PRECURSOR_3),
        _chemical(
            "7722-64-7",
            "高锰酸钾",
            "potassium permanganate",
            _C.DRUG_PRECURSOR_3,
            _C.EXPLOSIVE_PRECURSOR,
        ),
        _chemical("143-33-9", "氰化钠", "sodium cyanide", _C.HIGHLY_TOXIC),
        _chemical("6484-52-2", "硝酸铵", "ammonium nitrate", _C.EXPLOSIVE_PRECURSOR),
        _chemical("7722-84-1", "过氧化氢", "hydrogen peroxide", _C.EXPLOSIVE_PRECURSOR),
    )
}


def chemical(cas: str) -> Chemical | None:
    """The catalogue entry of a CAS number, or None if the service does not know it."""
    return CATALOGUE.get(cas)
