"""One clock of send slots per process, shared by the replies to residents and the outbox.

Telegram allows a bot about 30 messages a second; over that it answers 429 and the message is
not delivered. Replies and broadcasts draw their slots from the same clock, so together they
keep to the rate. A reply reserves the next free slot at once, even one in the future; the
outbox sender only takes a slot that is due now. So when a crowd arrives (a poster at a 10/10
event), the replies go first and the broadcast waits for them.
"""
from __future__ import annotations

import asyncio
import time
from datetime import timedelta

CATCH_UP_SECONDS = 0.01     # slots missed by a late wake-up that may still be used
RATE_HEADROOM = 0.03        # slots 3% wider apart than 1/rate: 1% for catching up, 2% for jitter


class SendGate:
    def __init__(self, rate: float):
        self.rate = rate
        self.interval = (1 + RATE_HEADROOM) / rate
        self.next_slot = 0.0        # time.monotonic() of the next free slot
        self.paused_until = 0.0     # after a 429: nothing is sent before this

    def pause(self, seconds: float) -> None:
        """Telegram said 429 "retry after": every send waits, replies and outbox alike."""
        self.paused_until = max(self.paused_until, time.monotonic() + seconds)

    def due(self, now: float) -> bool:
        """Is a slot free now for the outbox (not paused, not reserved by a reply)?"""
        return self.next_slot <= now and self.paused_until <= now

    def take(self, now: float) -> None:
        """Use the slot that due() found free. A late wake-up may still use the slots of the
        last CATCH_UP_SECONDS, else a busy loop would lose rate."""
        self.next_slot = max(self.next_slot, now - CATCH_UP_SECONDS) + self.interval

    async def reply_slot(self) -> None:
        """Wait for this reply's slot: the next free one, reserved now, ahead of the outbox."""
        while True:
            now = time.monotonic()
            if self.paused_until > now:
                await asyncio.sleep(self.paused_until - now)
                continue
            slot = max(self.next_slot, now - CATCH_UP_SECONDS)
            self.next_slot = slot + self.interval
            if slot > now:
                await asyncio.sleep(slot - now)
            if self.paused_until <= time.monotonic():
                return
            # A 429 came while this reply waited: its slot is gone; wait out the pause.

    async def wait_if_paused(self) -> None:
        while (left := self.paused_until - time.monotonic()) > 0:
            await asyncio.sleep(left)


def as_seconds(wait: timedelta | float) -> float:
    """A 429's retry_after as seconds (python-telegram-bot gives a timedelta or a number)."""
    return wait.total_seconds() if isinstance(wait, timedelta) else float(wait)
