from tests.telegram_helpers import running_bot


async def test_start_greets_and_asks_consent(fake_api, assistant):
    async with running_bot(fake_api, assistant):
        fake_api.send_text(501, "/start")
        await fake_api.wait_replies(501, 2)
    greeting, consent = fake_api.chat(501)[:2]
    assert "Xin chào" in greeting.text
    assert [d for _, d in consent.buttons[0]] == ["c:y", "c:n"]
