"""Labels in Simplified Chinese (default) and English (`--lang en`).

Each module registers its own labels with `labels({...})` at import time; `t(key, lang)`
looks one up. Keys are dotted (`tail.emitted`, `report.title`); a key missing in one
language falls back to the other, a key missing in both is a bug (KeyError).
"""

from typing import Literal

Lang = Literal["zh", "en"]
DEFAULT_LANG: Lang = "zh"

_CATALOGUE: dict[str, dict[str, str]] = {}


def labels(entries: dict[str, dict[str, str]]) -> None:
    """Add labels: {"tail.emitted": {"zh": "发出", "en": "emitted"}, …}; a key twice is a bug."""
    for key, texts in entries.items():
        if key in _CATALOGUE and _CATALOGUE[key] != texts:
            raise ValueError(f"label {key!r} registered twice with different texts")
        _CATALOGUE[key] = texts


def t(key: str, lang: Lang = DEFAULT_LANG, **fields: object) -> str:
    """The label for `key` in `lang`, formatted with `fields`."""
    texts = _CATALOGUE[key]
    text = texts.get(lang) or texts.get("zh") or texts["en"]
    return text.format(**fields) if fields else text
