"""Display names in the reader's language: English where one is stored, else the Chinese name."""

from __future__ import annotations

__all__ = ["in_language", "is_english"]


def is_english(language: str | None) -> bool:
    """Whether ``language`` (a locale or language code such as ``en``, ``en_US``, ``zh_CN``) is English.

    Examples
    --------
    >>> is_english("en"), is_english("en_GB"), is_english("zh_CN"), is_english(None)
    (True, True, False, False)
    """
    return bool(language) and language.lower().startswith("en")


def in_language(name: str, name_en: str | None, language: str | None) -> str:
    """``name_en`` for an English reader when it is set, else the Chinese ``name``.

    Examples
    --------
    >>> in_language("暴露垃圾", "Exposed rubbish", "en"), in_language("暴露垃圾", None, "en")
    ('Exposed rubbish', '暴露垃圾')
    >>> in_language("暴露垃圾", "Exposed rubbish", "zh")
    '暴露垃圾'
    """
    return name_en if is_english(language) and name_en else name
