"""Every stable ``code`` an error answer (``application/problem+json``) may carry, with its
HTTP status and when it is answered: the one registry of them.

The code that refuses a request names its code from here (``ProblemCode.SLUG_TAKEN``,
never the text ``"slug_taken"``); the OpenAPI description's Problem schema lists exactly
these codes, and each operation's problem answers the ones it may give
(``app.web.openapi``); the README's table of error codes is these rows.

Invariants (tests/test_problem_codes.py): no code is written as a string literal where a
problem is raised; a code's status is the status of the problem class raised with it (a
``RuleViolation``'s code, a 409, as the ledger answers it); the README's table lists
exactly these codes with these statuses. A code is a ``str`` (``StrEnum``): it compares
equal to its text and is written as it in JSON.
"""

from __future__ import annotations

from collections.abc import Mapping
from enum import StrEnum
from types import MappingProxyType


class ProblemCode(StrEnum):
    """A problem's ``code``, with its ``status`` (None: the HTTP error's own, for
    ``http_error``) and ``when`` it is answered."""

    status: int | None
    when: str

    def __new__(cls, code: str, status: int | None, when: str) -> ProblemCode:
        member = str.__new__(cls, code)
        member._value_ = code
        member.status = status
        member.when = when
        return member

    # What any request may meet: the HTTP layer's own refusals, by status.
    BAD_REQUEST = "bad_request", 400, "the request cannot be read"
    UNAUTHORIZED = "unauthorized", 401, (
        "no API key (send `Authorization: Bearer <key>`); Apple's web service: a pass type "
        "this service does not issue, or an authentication token that does not match")
    FORBIDDEN = "forbidden", 403, "the request is not allowed"
    NOT_FOUND = "not_found", 404, (
        "no such path, or the id in it is not one of the merchant's (or past 2^31-1)")
    METHOD_NOT_ALLOWED = "method_not_allowed", 405, "the path does not take this method"
    NOT_ACCEPTABLE = "not_acceptable", 406, "no answer in a media type the client accepts"
    CONFLICT = "conflict", 409, "the request conflicts with the current state"
    GONE = "gone", 410, "it existed and is no more"
    PAYLOAD_TOO_LARGE = "payload_too_large", 413, "the body is over 4 MiB"
    UNSUPPORTED_MEDIA_TYPE = "unsupported_media_type", 415, "a body of a media type not taken"
    INVALID = "invalid", 422, (
        "a field of the body, a query parameter or an upload is wrong; `errors` names each "
        "field")
    RATE_LIMITED = "rate_limited", 429, (
        "too many requests from the client address (failed authentications, the join "
        "form, recovery links); `Retry-After` says when to send again")
    HTTP_ERROR = "http_error", None, "any other HTTP error, with its own status"
    INTERNAL_ERROR = "internal_error", 500, "a fault on the service's side; nothing changed"
    DATABASE_UNAVAILABLE = "database_unavailable", 503, (
        "the database did not answer; send again (`Retry-After`; a write with the same "
        "Idempotency-Key is recorded once)")

    # The body and the headers.
    MALFORMED_BODY = "malformed_body", 400, (
        "the body is not JSON, not an object where one is due, or nested deeper than 32 "
        "levels")
    MALFORMED_IDENTIFIER = "malformed_identifier", 400, (
        "Apple's web service: a device, pass type or serial number in the path that no "
        "pass could have")
    INVALID_CALLBACK = "invalid_callback", 400, (
        "Google's save and delete callbacks: not signed by Google for this issuer, or "
        "malformed")
    IDEMPOTENCY_KEY_REQUIRED = "idempotency_key_required", 422, (
        "a write that moves points sent without an `Idempotency-Key`")
    INVALID_IDEMPOTENCY_KEY = "invalid_idempotency_key", 422, (
        "an `Idempotency-Key` that is not printable ASCII of at most 255 characters")
    IDEMPOTENCY_KEY_REUSED = "idempotency_key_reused", 409, (
        "an `Idempotency-Key` sent before with another request")

    # The key and its role.
    INVALID_API_KEY = "invalid_api_key", 401, "an API key that is not a live one"
    ROLE_FORBIDDEN = "role_forbidden", 403, "the key's role may not do this"
    LOCATION_FORBIDDEN = "location_forbidden", 403, (
        "a cashier key bound to a location, for a purchase at another location (or a "
        "refund of one)")

    # Merchants and programs.
    EMAIL_TAKEN = "email_taken", 409, "the owner's email belongs to a merchant already"
    SLUG_TAKEN = "slug_taken", 409, "another program has the slug"
    UNKNOWN_LOCATION = "unknown_location", 422, (
        "a purchase's `location_id` that is not one of the merchant's")

    # Cards at the counter.
    UNKNOWN_BARCODE = "unknown_barcode", 404, (
        "no card of the merchant has this barcode or number")
    CARD_BLOCKED = "card_blocked", 409, "a purchase on a blocked card"
    CARD_DELETED = "card_deleted", 409, (
        "blocking or unblocking a card whose holder deleted their data")
    INSUFFICIENT_POINTS = "insufficient_points", 409, (
        "redeeming or taking away more points than the card holds")
    INSUFFICIENT_REWARDS = "insufficient_rewards", 409, (
        "redeeming more rewards than the card holds")
    REDEEM_NOT_ALLOWED = "redeem_not_allowed", 409, "redeeming points in a stamps program"
    REDEEM_LIMIT = "redeem_limit", 409, (
        "points paying for more of a purchase than the program allows")
    INVALID_REFUND = "invalid_refund", 409, "a refund of zero or less"
    REFUND_EXCEEDS_PURCHASE = "refund_exceeds_purchase", 409, (
        "refunding more than is left of the purchase")
    VELOCITY_LIMIT = "velocity_limit", 429, (
        "past one of the program's purchase limits (`limit` names it); an alert is kept")

    # Offers.
    UNKNOWN_SEGMENT = "unknown_segment", 422, (
        "an offer's audience names a customer segment that does not exist")
    WEBHOOK_URL_REFUSED = "webhook_url_refused", 422, (
        "a webhook URL that is not https, names a user or a fragment, or a loopback, "
        "private or link-local address (allowed by `LOYALPASS_WEBHOOKS_ALLOW_PRIVATE`)")
    WEBHOOK_LIMIT = "webhook_limit", 409, "registering a 21st webhook endpoint"
    OFFER_PUBLISHED = "offer_published", 409, "publishing an offer published already"
    OFFER_ENDED = "offer_ended", 409, "publishing or ending an offer that has ended"
    OFFER_NOT_PUBLISHED = "offer_not_published", 409, (
        "ending a draft offer (it was never published: there is nothing to end)")
    COUPON_UNAVAILABLE = "coupon_unavailable", 409, (
        "a purchase naming a coupon that is not the card's (not published to it, held out, "
        "not running, not a coupon)")
    COUPON_USED = "coupon_used", 409, "a purchase naming a coupon the card used already"

    # Importing customers from a CSV file.
    CSV_UNREADABLE = "csv_unreadable", 422, (
        "an import's body is not a CSV table: binary, no header naming a `name` column, two "
        "columns of one meaning, a cell over 128 KiB, more than 100,000 rows")
    IMPORT_HAS_PROBLEMS = "import_has_problems", 422, (
        "importing a file some rows of which have problems, without `skip_invalid=true`; "
        "`errors` lists each (row, field, code); nothing was imported")
    IMPORT_CONFLICT = "import_conflict", 409, (
        "the customers or numbers of an import changed while it was written; nothing was "
        "imported")
    IMPORT_TOO_LARGE = "import_too_large", 413, "an import's body is over 16 MiB"

    # Customers' links and Google.
    LINK_GONE = "link_gone", 410, "a card recovery link used or expired"
    GOOGLE_KEYS_UNAVAILABLE = "google_keys_unavailable", 503, (
        "Google's callbacks while Google's signing keys cannot be fetched; Google sends "
        "again")

    # Staff accounts (the dashboard).
    STAFF_EMAIL_TAKEN = "staff_email_taken", 409, (
        "inviting an email that belongs to a staff member already")
    LAST_OWNER = "last_owner", 409, (
        "removing the merchant's last owner, or making them another role")
    STAFF_LINK_GONE = "staff_link_gone", 410, (
        "a staff invitation or password reset link used or expired")


# The code of an HTTP error the web layer meets without one of ours (werkzeug's 404 for an
# unknown path, its 405, Flask-Limiter's 429, ...), by its status; any other status is
# ``http_error``.
HTTP_LAYER_CODES: Mapping[int, ProblemCode] = MappingProxyType({code.status: code for code in (
    ProblemCode.BAD_REQUEST, ProblemCode.UNAUTHORIZED, ProblemCode.FORBIDDEN,
    ProblemCode.NOT_FOUND, ProblemCode.METHOD_NOT_ALLOWED, ProblemCode.NOT_ACCEPTABLE,
    ProblemCode.CONFLICT, ProblemCode.PAYLOAD_TOO_LARGE, ProblemCode.UNSUPPORTED_MEDIA_TYPE,
    ProblemCode.INVALID, ProblemCode.RATE_LIMITED) if code.status is not None})
