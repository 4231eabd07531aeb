"""`GET /api/v1/events`: one Server-Sent Events stream per client, fed by the server's hub."""

from __future__ import annotations

import asyncio

from tornado.iostream import StreamClosedError

from mitmtape.api.base import ApiHandler
from mitmtape.api.events import HEARTBEAT, STREAM_OPENED


class EventsHandler(ApiHandler):
    """`GET /api/v1/events`: the stream, with a comment line as heartbeat."""

    _queue: asyncio.Queue[str | None] | None = None

    async def get(self) -> None:
        self.set_header("Content-Type", "text/event-stream; charset=utf-8")
        self.set_header("X-Accel-Buffering", "no")
        hub = self.api.events
        self._queue = queue = hub.subscribe()
        try:
            await self._send(STREAM_OPENED)
            while True:
                try:
                    message = await asyncio.wait_for(queue.get(), hub.heartbeat)
                except TimeoutError:
                    message = HEARTBEAT
                if message is None:
                    return
                await self._send(message)
        except StreamClosedError:
            return
        finally:
            hub.end(queue)

    async def _send(self, text: str) -> None:
        self.write(text)
        await self.flush()

    def on_connection_close(self) -> None:
        if self._queue is not None:
            self.api.events.end(self._queue)
