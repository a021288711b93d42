"""Admin GraphQL for one shop: cost budgeting, throttling, and the mapping of Shopify's answers
to `integrations.errors`.

Rate limits are cost-based per (app, shop) leaky bucket. `budget.CostBudget` keeps a model of
the bucket from each response's `throttleStatus` and makes a caller wait *before* sending a
query the bucket cannot hold, so that THROTTLED answers stay rare; when one comes anyway (with
HTTP 200 or 429) the call waits `(requested - available) / restoreRate` and is sent again.
Only documents marked `retry_safe` are re-sent after an outcome that cannot be known (a timeout
or a 5xx).
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import NoReturn

import requests
from tenacity import RetryCallState

from integrations.errors import (
    AuthRevoked,
    Invalid,
    NotFound,
    Terminal,
    Throttled,
    Unavailable,
)
from integrations.metrics import THROTTLE_WAIT_SECONDS, THROTTLED_CALLS
from integrations.shopify.budget import CostBudget, budget_for
from integrations.shopify.queries import Document
from integrations.shopify.transport import (
    GRAPHQL_TIMEOUT,
    MAX_ATTEMPTS,
    Endpoint,
    ResendAfter,
    backoff,
    json_or_none,
    new_session,
    resending,
)

ACCESS_MISSING = ("The app lacks a permission this needs; reinstall it to grant the requested "
                  "access scopes.")


@dataclass
class CallStats:
    """Counters a benchmark or test can read (per client)."""

    requests: int = 0
    throttled: int = 0
    waited_s: float = 0.0


class ShopifyClient:
    """Admin GraphQL for one shop. `execute` returns `data` or raises an IntegrationError."""

    def __init__(
        self,
        *,
        endpoint: Endpoint,
        access_token: str,
        session: requests.Session | None = None,
        max_attempts: int = MAX_ATTEMPTS,
        sleep: Callable[[float], None] = time.sleep,
        budget: CostBudget | None = None,
    ) -> None:
        self.endpoint = endpoint
        self._token = access_token
        self._session = session or new_session(endpoint.policy)
        self._max_attempts = max_attempts
        self._sleep = sleep
        self.budget = budget or budget_for(endpoint.shop)
        self.stats = CallStats()

    def execute(self, document: Document, variables: dict | None = None, *,
                cost: float | None = None) -> dict:
        """`cost`: what this call will ask the bucket for, when the caller knows it better
        than the last call of the document did (a batch read sized by its ids)."""
        if not self._token:
            raise AuthRevoked("This Shopify store has no access token; reconnect the app.")
        try:
            for attempt in resending(max_attempts=self._max_attempts, sleep=self._sleep):
                with attempt:
                    return self._send(document, variables or {}, attempt.retry_state, cost)
        except ResendAfter as last:
            raise last.error from None
        raise AssertionError("unreachable")  # pragma: no cover

    def _send(self, document: Document, variables: dict, state: RetryCallState,
              cost_hint: float | None = None) -> dict:
        name = document.name
        reserved = cost_hint if cost_hint is not None else self.budget.estimate(name)
        wait = self.budget.reserve(reserved)
        if wait > 0:
            self.stats.waited_s += wait
            THROTTLE_WAIT_SECONDS.labels(platform="shopify").inc(wait)
            self._sleep(wait)
        self.stats.requests += 1
        cost = None
        try:
            response = self._session.post(
                self.endpoint.graphql_url,
                data=json.dumps({"query": document.text, "variables": variables}),
                headers={
                    "X-Shopify-Access-Token": self._token,
                    "Content-Type": "application/json",
                    "Accept": "application/json",
                },
                timeout=GRAPHQL_TIMEOUT,
                allow_redirects=False,
            )
            body = json_or_none(response)
            cost = (body or {}).get("extensions", {}).get("cost") if body else None
        except requests.ConnectTimeout:
            raise ResendAfter(Unavailable("Shopify could not be reached (connect timeout)."),
                              backoff(state.attempt_number)) from None
        except requests.RequestException as exc:
            error = Unavailable(f"Shopify could not be reached ({type(exc).__name__}).")
            if document.retry_safe:
                raise ResendAfter(error, backoff(state.attempt_number)) from None
            raise error from None
        finally:
            self.budget.settle(name, reserved, cost)
        return self._data(document, response, body, state)

    def _data(self, document: Document, response: requests.Response, body: dict | None,
              state: RetryCallState) -> dict:
        """`data` of a good answer; otherwise the error it maps to (or a resend)."""
        status = response.status_code
        errors = (body or {}).get("errors") or []
        if isinstance(errors, str):  # REST-style {"errors": "..."} on 401/403/404
            errors = [{"message": errors}]
        codes = {str((e.get("extensions") or {}).get("code", "")) for e in errors
                 if isinstance(e, dict)}
        if status == 429 or "THROTTLED" in codes:
            self.stats.throttled += 1
            wait = throttle_wait(body, response)
            THROTTLED_CALLS.labels(platform="shopify").inc()
            THROTTLE_WAIT_SECONDS.labels(platform="shopify").inc(wait)
            raise ResendAfter(Throttled("Shopify's rate limit was reached; retrying shortly.",
                                        retry_after=wait), wait)
        if status == 401:
            raise AuthRevoked("Shopify no longer accepts this store's access token; "
                              "reconnect the app.")
        if status == 402:
            raise Terminal("The Shopify store is frozen (unpaid plan); try again once the "
                           "merchant has settled it.")
        if status == 403:
            raise Invalid(ACCESS_MISSING)
        if status == 404:
            raise NotFound("The Shopify store was not found (it may have been closed).")
        if status == 423:
            raise Terminal("Shopify has locked this store's API access; contact Shopify.")
        if status >= 500 or status in (408, 425):
            _unknown_outcome(Unavailable(f"Shopify answered {status}; retrying later."),
                             document, state)
        if status != 200 or body is None:
            raise Invalid(f"Shopify answered {status} to {document.name}.")
        if errors:
            if "INTERNAL_SERVER_ERROR" in codes:
                _unknown_outcome(Unavailable("Shopify had an internal error; retrying later."),
                                 document, state)
            if "ACCESS_DENIED" in codes:
                raise Invalid(ACCESS_MISSING)
            first = errors[0] if isinstance(errors[0], dict) else {}
            message = str(first.get("message", "unknown error"))[:300]
            raise Invalid(f"Shopify refused {document.name}: {message}")
        return body.get("data") or {}


def _unknown_outcome(error: Unavailable, document: Document, state: RetryCallState) -> NoReturn:
    """Raise `error`, as a resend when the document may safely be sent twice."""
    if document.retry_safe:
        raise ResendAfter(error, backoff(state.attempt_number))
    raise error


def throttle_wait(body: dict | None, response: requests.Response) -> float:
    """Seconds until the bucket holds the refused query, from its cost (else Retry-After)."""
    cost = ((body or {}).get("extensions") or {}).get("cost") or {}
    status = cost.get("throttleStatus") or {}
    requested = cost.get("requestedQueryCost")
    available = status.get("currentlyAvailable")
    rate = status.get("restoreRate")
    if all(isinstance(v, int | float) for v in (requested, available, rate)) and rate > 0:
        return max(0.05, (requested - available) / rate)
    retry_after = response.headers.get("Retry-After", "")
    try:
        return max(0.05, float(retry_after))
    except ValueError:
        return 1.0
