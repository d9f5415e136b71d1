"""Domain errors that carry their HTTP meaning as RFC 9457 problem details.

Services raise these; ``app.web.problems`` renders them as ``application/problem+json``.
They hold no Flask objects so that services stay free of the web layer. Every ``code`` is
a ``ProblemCode`` (``app.problem_codes``, the registry), of the class's status.
"""

from __future__ import annotations

from typing import Any

from app.problem_codes import ProblemCode


class Problem(Exception):
    status = 400
    code = ProblemCode.BAD_REQUEST
    title = "Bad request"
    retry_after: int | None = None  # seconds, sent as Retry-After when set

    def __init__(self, detail: str, *, code: ProblemCode | None = None, **extra: Any) -> None:
        super().__init__(detail)
        self.detail = detail
        if code is not None:
            self.code = code
        self.extra = extra

    def as_dict(self) -> dict[str, Any]:
        body: dict[str, Any] = {
            "type": f"https://loyalpass.dev/problems/{self.code}",
            "status": self.status,
            "title": self.title,
            "detail": self.detail,
            "code": self.code,
        }
        body.update(self.extra)
        return body


class BadRequest(Problem):
    pass


class Unauthorized(Problem):
    status = 401
    code = ProblemCode.UNAUTHORIZED
    title = "Unauthorized"


class Forbidden(Problem):
    status = 403
    code = ProblemCode.FORBIDDEN
    title = "Forbidden"


class NotFound(Problem):
    status = 404
    code = ProblemCode.NOT_FOUND
    title = "Not found"


class Conflict(Problem):
    status = 409
    code = ProblemCode.CONFLICT
    title = "Conflict"


class Gone(Problem):
    """It existed and is no more (a used or expired one-time link)."""

    status = 410
    code = ProblemCode.GONE
    title = "Gone"


class PayloadTooLarge(Problem):
    status = 413
    code = ProblemCode.PAYLOAD_TOO_LARGE
    title = "Payload too large"


class UnsupportedMediaType(Problem):
    status = 415
    code = ProblemCode.UNSUPPORTED_MEDIA_TYPE
    title = "Unsupported media type"


class Invalid(Problem):
    """The request was understood but a field is wrong; ``errors`` names each field."""

    status = 422
    code = ProblemCode.INVALID
    title = "Invalid request"


class TooMany(Problem):
    status = 429
    code = ProblemCode.RATE_LIMITED
    title = "Too many requests"


class RateLimited(TooMany):
    """A client went past one of the service's rate limits (``app.web.limits``)."""

    def __init__(self, retry_after: int,
                 detail: str = "Too many requests from here just now; try again in a moment."
                 ) -> None:
        super().__init__(detail)
        self.retry_after = max(1, retry_after)


class Unavailable(Problem):
    """The database could not be reached or gave up on the statement. The request may be
    sent again: a write with the same ``Idempotency-Key`` is recorded once (if its answer
    was what got lost, the retry replays it)."""

    status = 503
    code = ProblemCode.DATABASE_UNAVAILABLE
    title = "Service unavailable"
    retry_after = 1  # seconds

    def __init__(self, detail: str = "The database did not answer. Send the request again:"
                 " with the same Idempotency-Key a write is recorded once.", **extra: Any
                 ) -> None:
        super().__init__(detail, **extra)
