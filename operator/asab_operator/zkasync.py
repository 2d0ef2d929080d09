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
