"""`hocvuso poster`: the village's A4 poster, checked as a reader would check it. The command runs
as residents' officials run it (a subprocess); its PDF is rendered to an image (pypdfium2) and the
QR codes are decoded from the pixels (zxing-cpp): each must be exactly the link it is meant to be.
The text is read back from the PDF, Vietnamese letters and all."""
from __future__ import annotations

import argparse
import os
import subprocess
import sys
from pathlib import Path

import pypdfium2
import pytest
import zxingcpp

from bot import poster
from bot.ambassadors import PAYLOAD
from bot.config import Settings
from tests.browser import SCREENSHOTS

PUBLIC_URL = "https://hocvuso.example.org"
ZALO_LINK = "https://zalo.me/s/2468013579"
VILLAGE = "kv-tong-lanh"
A4_POINTS = (595.28, 841.89)            # 210 × 297 mm
RENDER_DPI = 150                         # what a phone camera sees of a printed page, roughly
SCREENSHOT_DPI = 80                      # docs/screenshots/poster.png: small, still readable
OWN_ENV = ("TELEGRAM_", "ZALO_", "HOCVUSO_")


def run_poster(tmp_path: Path, *args: str, **env: str) -> subprocess.CompletedProcess:
    """`hocvuso poster ...` in a clean environment: only the settings given here."""
    clean = {k: v for k, v in os.environ.items() if not k.startswith(OWN_ENV)}
    clean.update(env)
    return subprocess.run([sys.executable, "-m", "bot.cli", "poster", *args], cwd=tmp_path, env=clean,
                          capture_output=True, text=True, timeout=60)


def read_pdf(path: Path, dpi: int = RENDER_DPI):
    """(page size in points, its text, the page as an image)."""
    document = pypdfium2.PdfDocument(path)
    try:
        assert len(document) == 1
        page = document[0]
        return page.get_size(), page.get_textpage().get_text_bounded(), page.render(scale=dpi / 72).to_pil()
    finally:
        document.close()


def decoded(image) -> list[str]:
    found = zxingcpp.read_barcodes(image)
    assert all(code.format == zxingcpp.BarcodeFormat.QRCode for code in found)
    return sorted(code.text for code in found)


def test_a_poster_with_every_channel(tmp_path, fake_api, knowledge):
    out = tmp_path / "poster.pdf"
    done = run_poster(tmp_path, "--village", VILLAGE, "--out", str(out), HOCVUSO_PUBLIC_URL=PUBLIC_URL,
                      TELEGRAM_BOT_TOKEN=fake_api.token, TELEGRAM_API_URL=fake_api.url, ZALO_BOT_LINK=ZALO_LINK)
    assert done.returncode == 0, done.stderr
    assert [method for method, _ in fake_api.calls] == ["getMe"]      # the bot's username, asked once
    size, text, image = read_pdf(out)
    assert size == pytest.approx(A4_POINTS, abs=0.5)
    # The links, exactly: from the pixels, as a phone would read them.
    assert decoded(image) == sorted([f"{PUBLIC_URL}/chat?start=v_{VILLAGE}",
                                     f"https://t.me/hocvuso_test_bot?start=v_{VILLAGE}", ZALO_LINK])
    info = knowledge.pack("vi").assistant
    assert info.commune_name == "xã Thuận Châu"
    assert "XÃ THUẬN CHÂU" in text                                     # the commune, on the red band
    assert "Trợ lý Bình dân học vụ số" in text                         # the assistant's name
    assert "Tông Lạnh (cũ)" in text                                    # the village, diacritics intact
    assert "VNeID" in text and "Trò chuyện trên Zalo" in text
    for link in (f"{PUBLIC_URL}/chat", f"?start=v_{VILLAGE}", "https://t.me/hocvuso_test_bot", ZALO_LINK):
        assert link in text                                            # each link written out, too
    assert fake_api.token not in done.stdout + done.stderr
    if os.environ.get("HOCVUSO_SCREENSHOTS") == "1":                   # as the screenshot fixture does
        SCREENSHOTS.mkdir(parents=True, exist_ok=True)
        read_pdf(out, SCREENSHOT_DPI)[2].save(SCREENSHOTS / "poster.png", optimize=True)


def test_a_given_username_needs_no_telegram_and_missing_channels_are_named(tmp_path):
    out = tmp_path / "p.pdf"
    done = run_poster(tmp_path, "--village", "kv-chieng-pac", "--telegram-username", "@thuanchau_bot",
                      "--out", str(out), HOCVUSO_PUBLIC_URL=PUBLIC_URL + "/",
                      # A token that could not work: the given username wins, Telegram is not asked.
                      TELEGRAM_BOT_TOKEN="1:x", TELEGRAM_API_URL="http://127.0.0.1:9")
    assert done.returncode == 0, done.stderr
    assert "ZALO_BOT_LINK" in done.stdout                              # no Zalo code, and why
    _size, text, image = read_pdf(out)
    assert decoded(image) == [f"{PUBLIC_URL}/chat?start=v_kv-chieng-pac",
                              "https://t.me/thuanchau_bot?start=v_kv-chieng-pac"]
    assert "Chiềng Pấc (cũ)" in text


def test_the_web_chat_alone_in_the_default_file(tmp_path):
    done = run_poster(tmp_path, "--village", "kv-thom-mon", HOCVUSO_PUBLIC_URL="http://127.0.0.1:8080")
    assert done.returncode == 0, done.stderr
    assert "TELEGRAM_BOT_TOKEN" in done.stdout and "ZALO_BOT_LINK" in done.stdout
    _size, text, image = read_pdf(tmp_path / "poster-kv-thom-mon.pdf")
    assert decoded(image) == ["http://127.0.0.1:8080/chat?start=v_kv-thom-mon"]
    assert "Thôm Mòn (cũ)" in text


def test_an_unknown_village_is_named_with_the_valid_ones(tmp_path, knowledge):
    done = run_poster(tmp_path, "--village", "ban-khong-co", HOCVUSO_PUBLIC_URL=PUBLIC_URL)
    assert done.returncode == 2
    assert "--village" in done.stderr and "ban-khong-co" in done.stderr
    assert all(village.id in done.stderr for village in knowledge.villages)
    assert not list(tmp_path.iterdir())                                # nothing written


def test_the_public_url_is_needed(tmp_path):
    done = run_poster(tmp_path, "--village", VILLAGE)
    assert done.returncode == 2
    assert "HOCVUSO_PUBLIC_URL" in done.stderr and "Traceback" not in done.stderr


@pytest.mark.parametrize("where", ["missing folder", "a folder"])
def test_an_output_that_cannot_be_written_is_named(tmp_path, where):
    out = tmp_path / "no-such-folder" / "p.pdf" if where == "missing folder" else tmp_path
    done = run_poster(tmp_path, "--village", VILLAGE, "--out", str(out), HOCVUSO_PUBLIC_URL=PUBLIC_URL)
    assert done.returncode == 2
    assert "--out" in done.stderr and str(out) in done.stderr and "Traceback" not in done.stderr


def test_a_refused_bot_token_is_named_and_not_shown(tmp_path, fake_api):
    done = run_poster(tmp_path, "--village", VILLAGE, HOCVUSO_PUBLIC_URL=PUBLIC_URL,
                      TELEGRAM_BOT_TOKEN="999:wrong-token-abc", TELEGRAM_API_URL=fake_api.url)
    assert done.returncode == 2
    assert "TELEGRAM_BOT_TOKEN" in done.stderr and "--telegram-username" in done.stderr
    assert "wrong-token-abc" not in done.stderr


def test_a_bad_username_is_refused(tmp_path):
    done = run_poster(tmp_path, "--village", VILLAGE, "--telegram-username", "t.me/x y",
                      HOCVUSO_PUBLIC_URL=PUBLIC_URL)
    assert done.returncode == 2 and "--telegram-username" in done.stderr


def test_a_missing_font_is_named_at_start(tmp_path, monkeypatch, capsys):
    """Before anything else is read or asked: which font, where it was looked for, how to install it."""
    from bot.cli import cmd_poster

    monkeypatch.setattr(poster, "FONT_DIRS", (tmp_path,))
    args = argparse.Namespace(village=VILLAGE, out=str(tmp_path / "p.pdf"), telegram_username=None)
    with pytest.raises(SystemExit) as stop:
        cmd_poster(Settings(HOCVUSO_PUBLIC_URL=PUBLIC_URL), args)
    assert stop.value.code == 2
    error = capsys.readouterr().err
    assert "DejaVuSans.ttf" in error and str(tmp_path) in error and "apt-get install fonts-dejavu-core" in error
    assert not (tmp_path / "p.pdf").exists()


def test_the_font_is_where_the_poster_looks():
    """The machine that runs the tests has it (.ci/run installs fonts-dejavu-core when missing)."""
    fonts = poster.find_fonts()
    assert {path.name for path in fonts.values()} == set(poster.FONT_FILES.values())


def test_the_start_payload_is_the_one_the_bot_reads(knowledge):
    from bot.handlers.start import VILLAGE_PREFIX

    assert poster.VILLAGE_PREFIX == VILLAGE_PREFIX
    for village in knowledge.villages:                                 # a Telegram start payload
        assert PAYLOAD.match(poster.VILLAGE_PREFIX + village.id)

