"""Codes a person can read out and type back: Crockford's base32 (0-9 A-Z without I L O U).

Nothing in the alphabet looks or sounds like another symbol in it, so reading a code over the
phone works, and the usual slips are forgiven: any case, spaces, dots and dashes, O for 0, I
and L for 1.
"""
from __future__ import annotations

import secrets

ALPHABET = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"
_MISREAD = str.maketrans("OIL", "011")
_SEPARATORS = str.maketrans("", "", ".-")
_LETTERS = frozenset(ALPHABET)


def new_code(length: int) -> str:
    return "".join(secrets.choice(ALPHABET) for _ in range(length))


def read(typed: str) -> str:
    """The code as stored, or "" if `typed` has a character no code has."""
    text = "".join(typed.split()).translate(_SEPARATORS)
    # ASCII first: upper() turns some other letters into ASCII ones ("ß" into "SS").
    if not text.isascii():
        return ""
    text = text.upper().translate(_MISREAD)
    return text if all(ch in _LETTERS for ch in text) else ""


def grouped(code: str) -> str:
    """The code in two halves, "ABC-123", easier to read out and to check than in one piece."""
    half = (len(code) + 1) // 2
    return f"{code[:half]}-{code[half:]}" if len(code) > 4 else code
