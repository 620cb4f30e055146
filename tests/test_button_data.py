"""Button data: one encoder and decoder, producing exactly the strings older messages carry."""
from __future__ import annotations

import random

import pytest

from bot.button_data import NESTS_DATA, Action, Pressed, decode, encode
from bot.handlers import BUTTONS
from bot.i18n import translator
from bot.replies import CALLBACK_DATA_MAX
from tests.core_helpers import Chat, has_menu

# Every action, with arguments as the handlers pass them and the string residents' chats hold
# from before the encoder: these must never change.
LEGACY = {
    Action.CONSENT: (("y", "g_vneid_0_12"), "c:y:g_vneid_0_12"),
    Action.VILLAGE_PAGE: ((1,), "pv:1"),
    Action.VILLAGE: (("kv-tong-lanh",), "v:kv-tong-lanh"),
    Action.GROUP: (("nguoi-dan",), "g:nguoi-dan"),
    Action.AGE: (("36-59",), "a:36-59"),
    Action.PROFILE_SKIP: (("v",), "ps:v"),
    Action.MENU: ((), "m"),
    Action.OPEN_COURSE: (("vneid",), "o:vneid"),
    Action.STEP: (("vneid", 3), "s:vneid:3"),
    Action.QUIZ: (("vneid",), "q:vneid"),
    Action.QUIZ_ANSWER: (("vneid", 41, 2, 1, 2), "qa:vneid:41:2:1:2"),
    Action.PROGRESS: ((), "t"),
    Action.HELP: ((), "h"),
    Action.DELETE: (("y",), "x:y"),
    Action.LANGUAGE: (("en",), "l:en"),
    Action.FAQ: (("otp-la-gi",), "f:otp-la-gi"),
    Action.VOTE: (("d", "s:vneid:4"), "vo:d:s:vneid:4"),
    Action.EVENT: ((7, 1), "ev:7:1"),
    Action.CERTIFIED: ((0,), "cert:0"),
    Action.REMINDERS: ((0,), "rm:0"),
    Action.SHARE: (("vneid",), "sh:vneid"),
    Action.HANDS_ON: (("an-toan-mang", 5), "hs:an-toan-mang:5"),
    Action.HOUSEHOLD: (("link",), "gd:link"),
    Action.MOVE: (("y", 42), "mv:y:42"),
    Action.NOTIFY: ((1,), "nt:1"),
    Action.LISTEN: (("s", "vneid", 3), "ls:s:vneid:3"),
    Action.LISTEN_MODE: ((1,), "lm:1"),
}

STALE = translator("vi")("That button is out of date. Here is the menu.")


def test_every_action_is_routed_and_has_a_legacy_example():
    assert set(LEGACY) == set(Action) == set(BUTTONS)


@pytest.mark.parametrize("action", list(Action), ids=lambda a: a.name)
def test_round_trip_gives_todays_strings(action):
    args, legacy = LEGACY[action]
    data = encode(action, *args)
    assert data == legacy and type(data) is str   # a plain str: stored in JSON, sent to Telegram
    assert decode(data) == Pressed(action, legacy.split(":")[1:])


def test_the_64_byte_limit_counts_bytes():
    room = CALLBACK_DATA_MAX - len("f:")
    assert encode(Action.FAQ, "x" * room) == "f:" + "x" * room
    with pytest.raises(ValueError, match="64"):
        encode(Action.FAQ, "x" * (room + 1))
    with pytest.raises(ValueError):
        encode(Action.FAQ, "đ" * (room // 2 + 1))   # two bytes each in UTF-8


def test_a_colon_is_refused_except_in_a_nested_answer():
    with pytest.raises(ValueError, match="argument 0"):
        encode(Action.STEP, "vneid:2", 1)
    with pytest.raises(ValueError):
        encode(Action.QUIZ, "a:b")          # last, but a quiz does not nest another button's data
    with pytest.raises(ValueError):
        encode(Action.VOTE, "u:x", "f:otp")  # only the last argument may nest
    assert NESTS_DATA == {Action.VOTE}
    nested = encode(Action.VOTE, "u", encode(Action.STEP, "vneid", 2))
    assert nested == "vo:u:s:vneid:2" and decode(nested) == Pressed(Action.VOTE, ["u", "s", "vneid", "2"])


GARBAGE = ["", ":", "::::", "zz", "zz:1", "M", " m", "m ", "s:", "qa:::::", "\x00", "\udc80", "🏠",
           "c" * 65, "s:vneid:" + "9" * 60, "vo:u:vo:u:vo:u"]


@pytest.mark.parametrize("data", GARBAGE)
def test_decoding_garbage_never_raises(data):
    pressed = decode(data)
    assert pressed.action is None or isinstance(pressed.action, Action)
    assert isinstance(pressed.args, list)


def test_decoding_random_text_never_raises_and_loses_nothing():
    rng = random.Random(20261207)
    # Mostly the letters and digits of real data, so that many strings decode to an action.
    symbols = "cmsqavoxtlfhgdre:0123456789y-_ \x00đ🏠\udc80"
    decoded = 0
    for _ in range(5000):
        data = "".join(rng.choice(symbols) for _ in range(rng.randint(0, 70)))
        pressed = decode(data)
        if pressed.action is not None:
            decoded += 1
            assert ":".join([pressed.action.value, *pressed.args]) == data
    assert decoded > 50


def test_unknown_buttons_get_the_stale_button_answer(assistant, knowledge):
    chat = Chat(assistant, "garbage-presser")
    for data in ["", "zz:1", "M", "🏠", "\udc80", "c" * 65, "x" * 200, "::"]:   # one database for all
        [reply] = chat.press(data)
        assert reply.text == STALE and has_menu(reply, knowledge.pack("vi")), data


def test_known_actions_with_bad_arguments_still_answer(assistant):
    chat = Chat(assistant, "odd-presser")
    chat.consent_and_skip_profile()
    for data in ["s:nope:1", "s:vneid:x", "qa:vneid:1:2", "vo:u", "vo:x:f:nope", "ev:abc", "pv:-1", "l:zz",
                 "c:maybe", "gd:other", "hs:vneid:999999999999"]:
        assert chat.press(data), data   # an answer (checked for limits by Chat), never an exception
