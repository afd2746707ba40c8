"""One HTTP client session per process: Slack Web API calls, `response_url` posts, providers.

A fresh ``aiohttp.ClientSession`` per call opens a fresh connection per call (a TCP, and
in production a TLS, handshake each time). ``Http`` owns one session, made on first use
inside the running loop (a session is bound to its loop), whose connection pool keeps
connections alive between calls; ``Runtime.stop`` closes it.

Reusing kept-alive connections has one catch: the server may close an idle connection just
as a request is written on it, and the request fails with a disconnect although the server
never saw it... or did, if it closed after reading. ``replayable`` says which Slack methods
may be sent again blindly after such an error (see ``bot.core.ReplayGuard``).
"""

from __future__ import annotations

import asyncio

import aiohttp

# Slack methods that create something each time they are sent: after an ambiguous failure
# (the connection dropped once the request may have been read) they are never replayed by
# the client; the task that made the call fails and is retried as a whole, and the deploy
# message's intent-before-post finds the message if it was posted after all.
NOT_REPLAYABLE = frozenset({
    "chat.postMessage", "chat.postEphemeral", "chat.scheduleMessage", "chat.meMessage",
    "conversations.create", "files.upload", "files.completeUploadExternal",
    "views.open", "views.push",
})


def replayable(method: str) -> bool:
    return method not in NOT_REPLAYABLE


class Http:
    """The process's client session, created lazily in the running loop."""

    def __init__(self, timeout: float = 15.0) -> None:
        self.timeout = timeout
        self._session: aiohttp.ClientSession | None = None
        self.opened = 0  # sessions made: 1 for the life of a process unless closed

    @property
    def session(self) -> aiohttp.ClientSession:
        if self._session is None or self._session.closed:
            self._session = aiohttp.ClientSession(
                timeout=aiohttp.ClientTimeout(total=self.timeout),
                connector=aiohttp.TCPConnector(limit=100, limit_per_host=50),
            )
            self.opened += 1
        return self._session

    def in_loop(self) -> aiohttp.ClientSession | None:
        """The session when called inside a running loop, else None (never made outside)."""
        try:
            asyncio.get_running_loop()
        except RuntimeError:
            return None
        return self.session

    async def close(self) -> None:
        session, self._session = self._session, None
        if session is not None and not session.closed:
            await session.close()
