"""Awaiting kazoo's asynchronous calls from asyncio."""
from __future__ import annotations

import asyncio


def call(async_result) -> asyncio.Future:
    """Await a kazoo IAsyncResult: its callback runs on kazoo's thread, the result is
    handed to the event loop."""
    loop = asyncio.get_running_loop()
    future = loop.create_future()

    def resolve(result) -> None:
        try:
            value = result.get_nowait()
        except Exception as error:  # delivered to the awaiting coroutine
            loop.call_soon_threadsafe(_settle, future, None, error)
        else:
            loop.call_soon_threadsafe(_settle, future, value, None)

    async_result.rawlink(resolve)
    return future


def _settle(future: asyncio.Future, value, error) -> None:
    if future.done():
        return
    if error is not None:
        future.set_exception(error)
    else:
        future.set_result(value)


BATCH = 500


async def in_batches(starts: list, size: int = BATCH) -> list:
    """Run `start()` for each (each returns an awaitable), `size` at a time, and return their
    results in order, exceptions included. One request queue serves the whole session, and
    the leader's confirmation must not wait behind thousands of requests of a reconcile."""
    results: list = []
    for first in range(0, len(starts), size):
        results += await asyncio.gather(*(start() for start in starts[first:first + size]),
                                        return_exceptions=True)
    return results
