"""Strict per-conversation ordering: one resident's inputs are handled one at a time, in
arrival order, while different residents are handled concurrently."""
from __future__ import annotations

import asyncio
from collections.abc import Hashable


class KeyedLocks:
    """asyncio locks by key, dropped when nobody holds or waits for them."""

    def __init__(self) -> None:
        self._locks: dict[Hashable, tuple[asyncio.Lock, int]] = {}

    def __call__(self, key: Hashable) -> _Held:
        return _Held(self, key)

    def __len__(self) -> int:
        return len(self._locks)


class _Held:
    def __init__(self, owner: KeyedLocks, key: Hashable):
        self.owner, self.key = owner, key

    async def __aenter__(self) -> None:
        lock, users = self.owner._locks.get(self.key, (None, 0))
        if lock is None:
            lock = asyncio.Lock()  # asyncio.Lock wakes waiters first-in, first-out
        self.owner._locks[self.key] = (lock, users + 1)
        try:
            await lock.acquire()
        except BaseException:  # cancelled while waiting: we never held it
            self._leave(lock)
            raise

    async def __aexit__(self, *exc) -> None:
        lock, _users = self.owner._locks[self.key]
        lock.release()
        self._leave(lock)

    def _leave(self, lock: asyncio.Lock) -> None:
        _lock, users = self.owner._locks[self.key]
        if users == 1:
            del self.owner._locks[self.key]
        else:
            self.owner._locks[self.key] = (lock, users - 1)
