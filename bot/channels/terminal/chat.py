"""`hocvuso chat`: talk to the bot in a terminal, through the same core and database.

Type a button's number to press it, /commands as on Telegram, or any text.
"""
from __future__ import annotations

import sys
import textwrap

from bot.assistant import Assistant
from bot.i18n import translator
from bot.replies import Button, Contact, Incoming, Reply

from bot.channels.terminal import PLATFORM


def render(replies: list[Reply], out=sys.stdout) -> list[Button]:
    """Print replies; return the buttons, numbered from 1, that the resident can press."""
    from bot.replies import code_line

    buttons: list[Button] = []
    for reply in replies:
        print("", file=out)
        if reply.image is not None:   # a terminal shows no picture: its caption, so nothing is lost
            print(textwrap.fill(f"🖼 {reply.image.caption}", 78), file=out)
        for line in reply.text.splitlines() or [""]:
            print(textwrap.fill(line, 78) if line else "", file=out)
        for row in reply.buttons:
            cells = []
            for button in row:
                if button.code and not button.url:
                    # A share link's code: to be sent by someone else, so there is nothing to press.
                    print("   " + code_line(button, translator("vi")), file=out)
                    continue
                buttons.append(button)
                cells.append(f"[{len(buttons)}] {button.label}" + (f" ({button.url})" if button.url else ""))
            if cells:
                print("   " + "   ".join(cells), file=out)
    return buttons


def run_chat(assistant: Assistant, user: str, first_name: str | None, inp=sys.stdin, out=sys.stdout) -> None:
    _ = translator("vi")
    contact = Contact(PLATFORM, user, first_name)
    print(_("Type a button number, a /command, or a question. Ctrl-D to quit."), file=out)
    buttons = render(assistant.handle(contact, Incoming.command("start")), out)
    while True:
        print("\n> ", end="", file=out, flush=True)
        line = inp.readline()
        if not line:
            print("", file=out)
            return
        line = line.strip()
        if not line:
            continue
        if line.isdigit() and 1 <= int(line) <= len(buttons):
            incoming = Incoming.button(buttons[int(line) - 1].data)
        else:
            incoming = Incoming.parse_typed(line)
        new_buttons = render(assistant.handle(contact, incoming), out)
        buttons = new_buttons or buttons
