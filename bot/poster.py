"""A printable A4 poster for the wall of a village's cultural house (`hocvuso poster`): the
commune, the assistant, what it teaches, the village, and big QR codes that open the assistant
on the web chat, on Telegram and on Zalo, each with its link written under it.

The PDF is made with fpdf2 (pure Python), the QR codes with segno, drawn as vector squares so
they print sharp at any size. Vietnamese needs a Unicode font: DejaVu Sans, from Debian's
`fonts-dejavu-core` (fontconfig pulls it in on most Debian and Ubuntu machines; .ci/run
installs it when missing). Nothing is downloaded when a poster is made.
"""
from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from pathlib import Path

import httpx

from bot import ambassadors
from bot.ambassadors import deep_link
from bot.content.schema import Knowledge, Village
from bot.i18n import translator
from bot.reference import VILLAGE_PREFIX   # read back in bot/handlers/start.py follow_link


# Where DejaVu Sans lives: Debian and Ubuntu (fonts-dejavu-core), Fedora, Arch, openSUSE.
FONT_DIRS = (Path("/usr/share/fonts/truetype/dejavu"), Path("/usr/share/fonts/dejavu-sans-fonts"),
             Path("/usr/share/fonts/TTF"), Path("/usr/share/fonts/truetype"), Path("/usr/share/fonts/dejavu"))
FONT_FILES = {"": "DejaVuSans.ttf", "B": "DejaVuSans-Bold.ttf"}
FONT_PACKAGE = "fonts-dejavu-core"
TELEGRAM_USERNAME = re.compile(r"^[A-Za-z][A-Za-z0-9_]{4,31}$")

# Layout, in millimetres on A4 (210 × 297).
PAGE_W, PAGE_H, MARGIN = 210.0, 297.0, 12.0
QR_MAX = 120.0        # a lone code; with two or three, as big as their column allows
QR_BORDER = 3         # modules of white around a code; the page around it is white too
# A link under its code, in points: on one line down to 10, else on two down to 8.
LINK_SIZES = ((11.0, 10.0), (11.0, 8.0))
RED, INK, GREY, PALE = (198, 40, 40), (33, 33, 33), (84, 96, 104), (253, 236, 234)


class PosterError(Exception):
    """A problem that stops the poster, said in one line that names its cause."""


@dataclass(frozen=True)
class PosterCode:
    label: str        # what the code opens, in the residents' language
    url: str


def web_link(public_url: str, village_id: str) -> str:
    return ambassadors.web_link(public_url.rstrip("/"), f"{VILLAGE_PREFIX}{village_id}")


def telegram_link(bot_username: str, village_id: str) -> str:
    return deep_link(bot_username, f"{VILLAGE_PREFIX}{village_id}")


def check_telegram_username(name: str) -> str:
    name = name.strip().removeprefix("@")
    if not TELEGRAM_USERNAME.match(name):
        raise PosterError("--telegram-username: not a Telegram bot username (5 to 32 letters, digits and _, "
                          "like hocvuso_thuanchau_bot)")
    return name


def telegram_username(api_url: str, token: str, timeout: float = 10.0) -> str:
    """The bot's username, from the Bot API's getMe. Messages never show the URL: it holds the token."""
    try:
        response = httpx.post(f"{api_url.rstrip('/')}/bot{token}/getMe", timeout=timeout)
        body = response.json()
    except httpx.HTTPError as exc:
        raise PosterError(f"could not reach the Telegram Bot API at TELEGRAM_API_URL to ask for the bot's "
                          f"username ({type(exc).__name__}); give it with --telegram-username NAME") from None
    except ValueError:
        raise PosterError(f"the Telegram Bot API at TELEGRAM_API_URL answered getMe with HTTP "
                          f"{response.status_code} and no JSON; give the username with --telegram-username NAME"
                          ) from None
    username = (body.get("result") or {}).get("username") if isinstance(body, dict) and body.get("ok") else None
    if not isinstance(username, str):
        if response.status_code in (401, 404):
            raise PosterError("TELEGRAM_BOT_TOKEN: Telegram refused the token (getMe answered "
                              f"{response.status_code}); check it, or give --telegram-username NAME")
        raise PosterError(f"the Telegram Bot API gave no username (getMe answered {response.status_code}); "
                          "give it with --telegram-username NAME")
    return check_telegram_username(username)


def find_fonts(dirs: tuple[Path, ...] | None = None) -> dict[str, Path]:
    """DejaVu Sans and DejaVu Sans Bold, or a PosterError that says how to install them."""
    dirs = FONT_DIRS if dirs is None else dirs
    for folder in dirs:
        found = {style: folder / name for style, name in FONT_FILES.items()}
        if all(path.is_file() for path in found.values()):
            return found
    raise PosterError(f"the poster needs the DejaVu Sans font for Vietnamese letters "
                      f"({', '.join(FONT_FILES.values())}) and found it in none of {', '.join(map(str, dirs))}; "
                      f"install it (Debian, Ubuntu: apt-get install {FONT_PACKAGE})")


def poster_codes(village_id: str, public_url: str, bot_username: str | None, zalo_link: str | None,
                 language: str = "vi") -> list[PosterCode]:
    _ = translator(language)
    codes = [PosterCode(_("Chat on the web"), web_link(public_url, village_id))]
    if bot_username:
        codes.append(PosterCode(_("Chat on Telegram"), telegram_link(bot_username, village_id)))
    if zalo_link:
        codes.append(PosterCode(_("Chat on Zalo"), zalo_link))
    return codes


def _nfc(text: str) -> str:
    """Precomposed letters: DejaVu has a glyph for each Vietnamese letter, not for every stacking of marks."""
    return unicodedata.normalize("NFC", text)


def render_poster(knowledge: Knowledge, village: Village, codes: list[PosterCode], fonts: dict[str, Path],
                  language: str = "vi") -> bytes:
    """The poster as a one-page A4 PDF."""
    import segno
    from fpdf import FPDF
    from fpdf.enums import Align, WrapMode, XPos, YPos

    _ = translator(language)
    info = knowledge.pack(language).assistant
    assistant = _nfc(_("{movement} assistant").format(movement=info.movement_name))
    commune = _nfc(info.commune_name)

    pdf = FPDF(orientation="portrait", unit="mm", format="A4")
    pdf.set_auto_page_break(False)
    pdf.set_margins(MARGIN, MARGIN, MARGIN)
    for style, path in fonts.items():
        pdf.add_font("DejaVu", style, str(path))
    pdf.set_lang(language)
    pdf.set_title(_nfc(f"{assistant} – {village.name}"))
    pdf.set_creator("hocvuso poster")
    pdf.add_page()
    width = PAGE_W - 2 * MARGIN

    def text(line: str, size: float, *, bold: bool = False, color=INK, height: float | None = None) -> None:
        pdf.set_font("DejaVu", "B" if bold else "", size)
        pdf.set_text_color(*color)
        pdf.set_x(MARGIN)
        pdf.multi_cell(width, height or size * 0.5, _nfc(line), align=Align.C, new_x=XPos.LMARGIN, new_y=YPos.NEXT)

    # The commune and the assistant on a red band, then what it does, and for whom.
    pdf.set_fill_color(*RED)
    pdf.rect(0, 0, PAGE_W, 40, style="F")
    pdf.set_y(8)
    text(commune.upper(), 15, bold=True, color=(255, 255, 255), height=8)
    pdf.ln(2)
    text(assistant, 28, bold=True, color=(255, 255, 255), height=14)
    pdf.set_y(46)
    text(_("Step-by-step help with digital skills: VNeID, online public services, digital payments, "
           "staying safe online. Free of charge."), 13, color=GREY, height=6)
    band_top = pdf.get_y() + 3
    pdf.set_fill_color(*PALE)
    pdf.rect(MARGIN, band_top, width, 23, style="F", round_corners=True, corner_radius=4)
    pdf.set_y(band_top + 2.5)
    text(_("For the residents of"), 12, color=GREY, height=6)
    text(village.name, 21, bold=True, color=RED, height=11)
    pdf.set_y(band_top + 26)
    text(_("Open your phone's camera, point it at a code, then tap the link that appears."), 12, height=6)

    # The codes: one big, two side by side, three as two over one.
    top = pdf.get_y() + 3
    footer = PAGE_H - MARGIN - 12
    rows = [codes] if len(codes) <= 2 else [codes[:2], codes[2:]]
    row_h = (footer - top) / len(rows)
    label_h, link_h = 9.0, 10.0
    column = width / max(len(row) for row in rows)
    side = min(QR_MAX, column - 10, row_h - label_h - link_h - 5)
    for r, row in enumerate(rows):
        y = top + r * row_h
        for c, code in enumerate(row):
            x = MARGIN + (width - column * len(row)) / 2 + c * column   # a lone last code is centred
            pdf.set_xy(x, y)
            pdf.set_font("DejaVu", "B", 15)
            pdf.set_text_color(*INK)
            pdf.cell(column, label_h, _nfc(code.label), align=Align.C)
            qr = segno.make(code.url, error="m")
            _draw_qr(pdf, qr, x + (column - side) / 2, y + label_h + 1, side)
            pdf.link(x + (column - side) / 2, y + label_h + 1, side, side, code.url)
            lines, size = _link_lines(pdf, code.url, column - 6)
            pdf.set_xy(x + 3, y + label_h + side + 2)
            pdf.set_text_color(*GREY)
            for line in lines:
                pdf.set_x(x + 3)
                pdf.multi_cell(column - 6, size * 0.42, line, align=Align.C, wrapmode=WrapMode.CHAR,
                               link=code.url, new_x=XPos.LEFT, new_y=YPos.NEXT)

    # Where to get help from a person, from the content pack.
    pdf.set_y(footer + 2)
    text(_("Need help in person? Ask: {places}.").format(places=", ".join(info.in_person_helpers)), 11,
         color=GREY, height=5)
    return bytes(pdf.output())


def _link_lines(pdf, url: str, width: float) -> tuple[list[str], float]:
    """The link as it is written under its code: on one line if it fits at a readable size,
    else its address over its query (…/chat / ?start=v_…), each line whole."""
    head, mark, query = url.partition("?")
    tries = [([url], LINK_SIZES[0]), ([head, mark + query] if mark else [url], LINK_SIZES[1])]
    for lines, (largest, smallest) in tries:
        for tenths in range(int(largest * 10), int(smallest * 10) - 1, -5):
            pdf.set_font("DejaVu", "", tenths / 10)
            if all(pdf.get_string_width(line) <= width for line in lines):
                return lines, tenths / 10
    pdf.set_font("DejaVu", "", LINK_SIZES[1][1])
    return [url], LINK_SIZES[1][1]            # wrapped anywhere, as a last resort


def _draw_qr(pdf, qr, x: float, y: float, side: float) -> None:
    """The code as black squares, one run of dark modules per rectangle."""
    rows = [list(row) for row in qr.matrix_iter(scale=1, border=QR_BORDER)]
    module = side / len(rows)
    pdf.set_fill_color(0, 0, 0)
    for j, row in enumerate(rows):
        i = 0
        while i < len(row):
            if row[i]:
                start = i
                while i < len(row) and row[i]:
                    i += 1
                # A hair wider than the run, so neighbouring rows print with no white seams.
                pdf.rect(x + start * module, y + j * module, (i - start) * module + 0.02, module + 0.02, style="F")
            else:
                i += 1
