"""The gettext catalogs: every UI string in the code is translated, placeholders intact."""
from __future__ import annotations

import ast
import re
import string

import pytest
from babel.messages.extract import extract_from_dir
from babel.messages.pofile import read_po

from bot.config import REPO_ROOT
from bot.i18n import LOCALE_DIR, available_languages, translator

CODE_DIRS = [REPO_ROOT / "bot", REPO_ROOT / "admin_api", REPO_ROOT / "console"]
TEMPLATES = REPO_ROOT / "console" / "templates"
KEYWORDS = {"_": None, "N_": None, "ngettext": (1, 2)}
# Letters only Vietnamese uses (with a diacritic): none may appear in code or templates.
VIETNAMESE = re.compile("[àáảãạăằắẳẵặâầấẩẫậèéẻẽẹêềếểễệìíỉĩịòóỏõọôồốổỗộơờớởỡợùúủũụưừứửữựỳýỷỹỵđ]", re.I)


def read_catalog(language: str):
    path = LOCALE_DIR / language / "LC_MESSAGES" / "messages.po"
    with path.open("rb") as fh:
        return read_po(fh, locale=language)


def extracted() -> dict[str, list[str]]:
    """msgid -> where it is used, as babel's extractor (and `make messages`) sees the code."""
    found: dict[str, list[str]] = {}
    for directory in CODE_DIRS:
        for filename, lineno, message, _comments, _context in extract_from_dir(
                str(directory), method_map=[("**.py", "python"), ("templates/**.html", "jinja2")],
                keywords=KEYWORDS):
            if isinstance(message, tuple):       # ngettext: the catalog keys it by the singular
                message = message[0]
            if isinstance(message, str) and message:
                found.setdefault(message, []).append(f"{directory.name}/{filename}:{lineno}")
    return found


def literal_calls() -> dict[str, list[str]]:
    """Every _("...") / N_("...") string literal in the code, nested calls included."""
    found: dict[str, list[str]] = {}
    for directory in CODE_DIRS:
        for path in sorted(directory.rglob("*.py")):
            tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
            for node in ast.walk(tree):
                if (isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id in KEYWORDS
                        and node.args and isinstance(node.args[0], ast.Constant)
                        and isinstance(node.args[0].value, str)):
                    where = f"{path.relative_to(REPO_ROOT)}:{node.lineno}"
                    found.setdefault(node.args[0].value, []).append(where)
    return found


def placeholders(text: str) -> set[str]:
    """{name} fields (str.format) and %(name)s ones (the templates' gettext)."""
    return ({field for _, field, _, _ in string.Formatter().parse(text) if field is not None}
            | set(re.findall(r"%\((\w+)\)s", text)))


def untranslated(ids: dict[str, list[str]], catalog) -> list[str]:
    missing = []
    for msgid, where in sorted(ids.items(), key=lambda item: item[1][0]):
        message = catalog.get(msgid)
        if message is None or not message.string or not str(message.string).strip():
            missing.append(f"{', '.join(where)}: {msgid!r}")
    return missing


def test_extraction_finds_the_ui_strings():
    ids = extracted()
    assert len(ids) > 50
    assert "What would you like to learn? Tap a lesson below." in ids
    assert "Sign in for officials" in ids                                  # a console template
    assert "%(num)s resident will receive it" in ids                      # ngettext in a template
    assert "The username or password is wrong." in ids                    # console code


def python_strings(path) -> list[tuple[int, str]]:
    """The string literals of a module, docstrings left out (they may name a page as officials do)."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    docstrings = {id(node.body[0].value) for node in ast.walk(tree)
                  if isinstance(node, (ast.Module, ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef))
                  and node.body and isinstance(node.body[0], ast.Expr) and isinstance(node.body[0].value, ast.Constant)}
    return [(node.lineno, node.value) for node in ast.walk(tree)
            if isinstance(node, ast.Constant) and isinstance(node.value, str) and id(node) not in docstrings]


def test_no_vietnamese_in_the_console_code_or_pages():
    """UI text lives in the catalogs: the console's code, pages and script hold English msgids."""
    console = REPO_ROOT / "console"
    found = [f"{path.relative_to(REPO_ROOT)}:{n}" for path in [*TEMPLATES.rglob("*.html"), *console.rglob("*.js")]
             for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1) if VIETNAMESE.search(line)]
    found += [f"{path.relative_to(REPO_ROOT)}:{n}" for path in console.rglob("*.py")
              for n, text in python_strings(path) if VIETNAMESE.search(text)]
    assert not found, "Vietnamese text outside the catalogs:\n" + "\n".join(found)


def test_every_extracted_message_is_translated_to_vietnamese():
    missing = untranslated(extracted(), read_catalog("vi"))
    assert not missing, f"{len(missing)} message ids have no Vietnamese translation:\n" + "\n".join(missing)


def test_every_marked_string_is_translated_even_nested_ones():
    """babel's extractor skips an N_() nested inside _(...); the AST sees every call."""
    missing = untranslated(literal_calls(), read_catalog("vi"))
    assert not missing, f"{len(missing)} marked strings have no Vietnamese translation:\n" + "\n".join(missing)


def test_catalogs_exist():
    assert {"vi", "en"} <= set(available_languages())
    en = read_catalog("en")
    assert str(en.locale) == "en" and len(en) > 50
    assert str(read_catalog("vi").locale) == "vi"
    assert (LOCALE_DIR / "messages.pot").is_file()


@pytest.mark.parametrize("language", ["vi", "en"])
def test_translations_keep_placeholders(language):
    catalog = read_catalog(language)
    wrong = []
    for message in catalog:
        if not message.id or not message.string:
            continue
        ids = message.id if isinstance(message.id, tuple) else (message.id,)
        strings = message.string if isinstance(message.string, tuple) else (message.string,)
        for translated in strings:
            if translated and placeholders(translated) != placeholders(ids[0]):
                wrong.append(f"{ids[0]!r}: {sorted(placeholders(ids[0]))} != {sorted(placeholders(translated))}")
    assert not wrong, "\n".join(wrong)


def test_vietnamese_catalog_is_used_at_run_time():
    _ = translator("vi")
    assert _("✅ Correct!") == "✅ Đúng rồi!"
    assert _("📘 {course} · Step {n}/{total}").format(course="X", n=1, total=2) == "📘 X · Bước 1/2"
    assert translator(None)("✅ Correct!") == "✅ Đúng rồi!"  # Vietnamese is the default
