"""UI strings through Babel gettext catalogs (bot/locale/<lang>/LC_MESSAGES/messages.po).

Catalogs are compiled in memory when first used, so editing a .po file and restarting
is all a translator needs; no build step, no stale .mo files.
"""
from __future__ import annotations

import gettext
import io
from functools import lru_cache
from pathlib import Path
from typing import Callable

from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po

LOCALE_DIR = Path(__file__).resolve().parent / "locale"
DEFAULT_LANGUAGE = "vi"

Translator = Callable[[str], str]


def N_(message: str) -> str:
    """Mark a string for extraction without translating it yet."""
    return message


def available_languages() -> list[str]:
    return sorted(p.name for p in LOCALE_DIR.iterdir() if (p / "LC_MESSAGES" / "messages.po").is_file())


@lru_cache(maxsize=None)
def translations(language: str) -> gettext.NullTranslations:
    po_path = LOCALE_DIR / language / "LC_MESSAGES" / "messages.po"
    if not po_path.is_file():
        if language != DEFAULT_LANGUAGE:
            return translations(DEFAULT_LANGUAGE)
        return gettext.NullTranslations()
    with po_path.open("rb") as fh:
        catalog = read_po(fh, locale=language)
    buf = io.BytesIO()
    write_mo(buf, catalog)
    buf.seek(0)
    return gettext.GNUTranslations(buf)


def translator(language: str | None) -> Translator:
    return translations(language or DEFAULT_LANGUAGE).gettext
