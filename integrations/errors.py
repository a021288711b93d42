"""Errors every adapter raises, classified by what the caller should do about them."""

from __future__ import annotations


class IntegrationError(Exception):
    """Base class. `message` is safe to show a merchant (no secrets, no raw bodies)."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class Retryable(IntegrationError):
    """Try again later; nothing is wrong with the request itself. `retry_after`: seconds to
    wait first, when the store or the adapter knows (None: the caller's own backoff)."""

    def __init__(self, message: str, *, retry_after: float | None = None) -> None:
        super().__init__(message)
        self.retry_after = retry_after


class Throttled(Retryable):
    """The store's rate limit; `retry_after` is always known."""

    def __init__(self, message: str, *, retry_after: float) -> None:
        super().__init__(message, retry_after=retry_after)


class Unavailable(Retryable):
    """Network error, timeout or 5xx from the store."""


class Terminal(IntegrationError):
    """Retrying will not help; record it and show the merchant."""


class AuthRevoked(Terminal):
    """The store no longer accepts our credentials; the merchant must reconnect."""


class NotFound(Terminal):
    """The product, image or store is gone."""


class Invalid(Terminal):
    """The store refused the request as malformed or not allowed."""


class ProductGone(NotFound):
    """The product itself is deleted on the store, or in its trash: nothing may be written
    to it (the app marks it deleted and cancels what was on its way)."""
