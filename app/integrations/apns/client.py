"""``ApnsClient``: pushes Wallet pass updates to Apple, blocking and thread-safe.

One client owns one certificate and one origin. A private asyncio loop in a daemon thread
drives its connection (``connection.Connector``, ``http2.Http2Protocol``); ``push()`` hands
that loop a batch and blocks until every token has a result, in order. Results are never
exceptions: a token the server refused, a connection that went away or could not be
opened, a client closed mid-batch all come back as ``PushResult`` outcomes, and a refused
certificate or topic is also logged as an error for the operator.

Invariants: ``push()`` and ``close()`` never run on the loop thread (they would deadlock);
after ``close()`` every batch still in flight is answered ``retry`` and ``push()`` raises.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import logging
import re
import threading
from collections.abc import Sequence
from pathlib import Path

from app.integrations.apns.answers import PushResult, SendWhile
from app.integrations.apns.batch import Batch
from app.integrations.apns.connection import Connector
from app.integrations.apns.http2 import Http2Protocol

log = logging.getLogger(__package__)

_TOPIC = re.compile(r"[!-~]{1,255}")


class ApnsClient:
    """PushSender over one long-lived HTTP/2 connection per client (one certificate)."""

    def __init__(self, *, origin: str, certificate_file: Path, key_file: Path,
                 key_password: bytes | None = None, ca_file: Path | None = None,
                 timeout: float = 10.0) -> None:
        if timeout <= 0:
            raise ValueError("The APNs timeout must be a positive number of seconds.")
        self._connector = Connector(origin=origin, certificate_file=certificate_file,
                                    key_file=key_file, key_password=key_password,
                                    ca_file=ca_file, timeout=timeout)
        self._timeout = timeout
        self._closed = False
        self._state_lock = threading.Lock()
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, daemon=True,
                                        name=f"apns {self._connector.authority.decode()}")
        self._thread.start()

    def __enter__(self) -> ApnsClient:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def push(self, tokens: Sequence[str], *, topic: str,
             send_while: SendWhile | None = None) -> list[PushResult]:
        token_list = _checked_tokens(tokens)
        if not isinstance(topic, str) or not _TOPIC.fullmatch(topic):
            raise ValueError(f"Not an APNs topic (a pass type identifier): {topic!r}")
        if threading.current_thread() is self._thread:
            raise RuntimeError("ApnsClient.push() blocks; it cannot run on the client's loop.")
        if not token_list:
            return []
        with self._state_lock:
            if self._closed:
                raise RuntimeError("This ApnsClient is closed.")
            future = asyncio.run_coroutine_threadsafe(
                self._push(token_list, topic.encode("ascii"), send_while), self._loop)
        try:
            return future.result()
        except concurrent.futures.CancelledError:  # close() while this batch was in flight
            return [PushResult(token, "retry", None, "APNs client closed") for token in token_list]

    def close(self) -> None:
        if threading.current_thread() is self._thread:
            raise RuntimeError("ApnsClient.close() blocks; it cannot run on the client's loop.")
        with self._state_lock:
            if self._closed:
                return
            self._closed = True
        shutdown = asyncio.run_coroutine_threadsafe(self._shut_down(), self._loop)
        try:
            shutdown.result(timeout=self._timeout)
        except (concurrent.futures.TimeoutError, concurrent.futures.CancelledError):
            log.warning("APNs client did not shut down cleanly within %g s", self._timeout)
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(timeout=self._timeout)
        if not self._thread.is_alive():
            self._loop.close()

    # -- on the loop thread

    async def _push(self, tokens: list[str], topic: bytes, send_while: SendWhile | None
                    ) -> list[PushResult]:
        batch = Batch(tokens, topic, asyncio.get_running_loop().create_future(), send_while)
        batch.reject_malformed()
        if batch.remaining:
            connection = await self._connector.usable()
            if isinstance(connection, Http2Protocol):
                connection.submit(batch)
            else:
                batch.settle_unsent(connection.outcome, connection.reason)
            await batch.done
        results = [result for result in batch.results if result is not None]
        assert len(results) == len(tokens)
        _report_credential_problems(topic.decode(), results)
        return results

    async def _shut_down(self) -> None:
        await self._connector.shut_down("APNs client closed")
        others = [task for task in asyncio.all_tasks() if task is not asyncio.current_task()]
        for task in others:
            task.cancel()
        await asyncio.gather(*others, return_exceptions=True)


def _checked_tokens(tokens: Sequence[str]) -> list[str]:
    if isinstance(tokens, str | bytes):
        raise TypeError("push() takes a sequence of push tokens, not one string.")
    token_list = list(tokens)
    if not all(isinstance(token, str) for token in token_list):
        raise TypeError("Push tokens must be strings.")
    return token_list


def _report_credential_problems(topic: str, results: list[PushResult]) -> None:
    refused = [result for result in results if result.outcome == "certificate"]
    if refused:
        reasons = ", ".join(sorted({result.reason or "?" for result in refused}))
        log.error("APNs PUSHES BLOCKED by a certificate or topic problem (topic %s: %s) for "
                  "%d of %d pushes: check pass.pem/pass.key, the pass type identifier and "
                  "LOYALPASS_APNS_CA_FILE; the pushes will be retried", topic, reasons,
                  len(refused), len(results))
