"""KeyedLocks: one key's tasks run one at a time in submission order; other keys overlap."""
from __future__ import annotations

import asyncio

from bot.ordering import KeyedLocks


async def test_one_key_runs_in_order_one_at_a_time():
    locks = KeyedLocks()
    started: list[int] = []
    finished: list[int] = []
    inside = 0
    most_inside = 0

    async def task(i: int) -> None:
        nonlocal inside, most_inside
        async with locks("resident-1"):
            inside += 1
            most_inside = max(most_inside, inside)
            started.append(i)
            await asyncio.sleep(0.001 * (i % 3))  # uneven work: a later task could overtake
            await asyncio.sleep(0)
            finished.append(i)
            inside -= 1

    tasks = []
    for i in range(30):
        tasks.append(asyncio.create_task(task(i)))
        if i % 5 == 0:
            await asyncio.sleep(0)  # some submissions while others are already running
    await asyncio.gather(*tasks)
    assert started == list(range(30))
    assert finished == list(range(30))
    assert most_inside == 1
    assert len(locks) == 0


async def test_different_keys_overlap():
    locks = KeyedLocks()
    both_inside = asyncio.Event()
    inside: set[str] = set()

    async def task(key: str) -> None:
        async with locks(key):
            inside.add(key)
            if inside == {"a", "b"}:
                both_inside.set()
            await asyncio.wait_for(both_inside.wait(), timeout=2)  # deadlocks if keys serialized
            inside.discard(key)

    await asyncio.gather(task("a"), task("b"))
    assert both_inside.is_set()
    assert len(locks) == 0


async def test_many_keys_interleaved_each_in_order():
    locks = KeyedLocks()
    log: dict[int, list[int]] = {k: [] for k in range(5)}
    peak = 0

    async def task(key: int, i: int) -> None:
        nonlocal peak
        async with locks(key):
            peak = max(peak, len(locks))
            await asyncio.sleep(0.001 * ((key + i) % 2))
            log[key].append(i)

    await asyncio.gather(*(task(k, i) for i in range(10) for k in range(5)))
    assert all(order == list(range(10)) for order in log.values())
    assert peak == 5  # all five keys were held at once
    assert len(locks) == 0
    assert locks._locks == {}


async def test_lock_is_released_and_dropped_after_an_error():
    locks = KeyedLocks()

    async def fails() -> None:
        async with locks("k"):
            raise RuntimeError("boom")

    for _ in range(2):
        try:
            await fails()
        except RuntimeError:
            pass
    assert len(locks) == 0

    async def waits() -> str:
        async with locks("k"):
            return "ran"

    assert await asyncio.wait_for(waits(), timeout=1) == "ran"


async def test_cancelled_waiter_does_not_leak_or_block():
    locks = KeyedLocks()
    gate = asyncio.Event()
    ran: list[str] = []

    async def holder() -> None:
        async with locks("k"):
            await gate.wait()
            ran.append("holder")

    async def waiter(name: str) -> None:
        async with locks("k"):
            ran.append(name)

    first = asyncio.create_task(holder())
    await asyncio.sleep(0)
    cancelled = asyncio.create_task(waiter("cancelled"))
    after = asyncio.create_task(waiter("after"))
    await asyncio.sleep(0)
    cancelled.cancel()
    await asyncio.sleep(0)
    gate.set()
    await asyncio.wait_for(asyncio.gather(first, after), timeout=2)
    assert cancelled.cancelled()
    assert ran == ["holder", "after"]
    assert len(locks) == 0
