"""Metrics the store clients record (prometheus_client; the app exposes them at /metrics)."""

from prometheus_client import Counter

THROTTLE_WAIT_SECONDS = Counter(
    "photosync_throttle_wait_seconds_total",
    "Seconds spent waiting for a store's rate limit (budgeted waits and THROTTLED/429).",
    ["platform"],
)
THROTTLED_CALLS = Counter(
    "photosync_throttled_calls_total", "Calls a store answered with a throttle.", ["platform"]
)
