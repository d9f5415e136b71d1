"""The tokens of one ``ApnsClient.push()`` call and their results, filled in as answers come.

A ``Batch`` lives on the client's loop thread. The HTTP/2 connection takes its tokens in
order (``next_unsent``) and settles each with one ``PushResult``; ``done`` resolves when
every token has one.

Invariants: each token is settled exactly once (a second settle is ignored); tokens before
``cursor`` were sent or settled; a token that is not hexadecimal is never sent, nor is
one whose ``send_while`` said False right before it would have left (``may_send``).
"""

from __future__ import annotations

import asyncio
import logging
import re

from app.integrations.apns.answers import NOT_SENT_ANY_MORE, Outcome, PushResult, SendWhile

log = logging.getLogger(__package__)

_TOKEN = re.compile(r"[0-9A-Fa-f]{1,200}")  # Apple: hex, length not fixed; keeps the path safe


class Batch:
    """The tokens of one ``push()`` call and their results, filled in as answers arrive."""

    __slots__ = ("cursor", "done", "remaining", "results", "send_while", "tokens", "topic")

    def __init__(self, tokens: list[str], topic: bytes, done: asyncio.Future[None],
                 send_while: SendWhile | None = None) -> None:
        self.tokens = tokens
        self.topic = topic
        self.done = done
        self.send_while = send_while
        self.results: list[PushResult | None] = [None] * len(tokens)
        self.remaining = len(tokens)
        self.cursor = 0  # tokens before it were sent or settled

    def settle(self, index: int, result: PushResult) -> None:
        if self.results[index] is None:
            self.results[index] = result
            self.remaining -= 1
            if self.remaining == 0 and not self.done.done():
                self.done.set_result(None)

    def reject_malformed(self) -> None:
        for index, token in enumerate(self.tokens):
            if not _TOKEN.fullmatch(token):
                self.settle(index, PushResult(token, "bad_token", None,
                                              "BadDeviceToken (not hexadecimal; not sent)"))

    def next_unsent(self) -> int | None:
        while self.cursor < len(self.tokens):
            self.cursor += 1
            if self.results[self.cursor - 1] is None:
                return self.cursor - 1
        return None

    def may_send(self) -> bool:
        """Whether its next push may leave now (``send_while``, asked right before each
        push goes, on the loop thread); when not, the rest are settled ``unsent``."""
        if self.send_while is None or self.send_while():
            return True
        unsent = self.settle_unsent("unsent", NOT_SENT_ANY_MORE)
        if unsent:
            log.warning("%d pushes not sent: %s", unsent, NOT_SENT_ANY_MORE)
        return False

    def settle_unsent(self, outcome: Outcome, reason: str) -> int:
        count = 0
        for index in range(self.cursor, len(self.tokens)):
            if self.results[index] is None:
                self.settle(index, PushResult(self.tokens[index], outcome, None, reason))
                count += 1
        self.cursor = len(self.tokens)
        return count
