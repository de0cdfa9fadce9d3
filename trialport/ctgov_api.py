"""The ClinicalTrials.gov API v2 over HTTP, politely and patiently.

Politely: every request first takes a token from a bucket refilled at the API's rate limit (about 50
requests a minute from one address), so a long fetch never provokes a ban. Patiently: a 429, a 5xx, a
timeout, a dropped connection or a page cut short is tried again with exponential backoff (a 429's
``Retry-After`` honoured), a bounded number of times; then one clear error says what went wrong. Other
4xx answers (a query the API refuses) fail at once with the API's own message.
"""

from __future__ import annotations

import email.utils
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import httpx
import orjson

from trialport import __version__

DEFAULT_API = "https://clinicaltrials.gov/api/v2"
RATE_PER_MINUTE = 50.0  # the API's rate limit for one address
RETRY_STATUSES = frozenset({408, 429, 500, 502, 503, 504})
MAX_WAIT = 300.0  # no single wait (backoff or Retry-After) is longer than this


class ApiError(Exception):
    """A request that failed for good: refused by the API, or still failing after every retry."""


class TokenBucket:
    """At most ``burst`` requests at once, then ``rate`` a second: in any window of t seconds, no more than
    ``burst + rate * t`` requests. ``clock`` and ``sleep`` are injectable so a test can measure it."""

    def __init__(
        self,
        rate: float,
        burst: float = 1.0,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        if rate <= 0 or burst < 1:
            raise ValueError("the rate must be positive and the burst at least 1")
        self.rate, self.burst, self.clock, self.sleep = rate, burst, clock, sleep
        self.tokens = burst
        self.last = clock()

    def take(self) -> float:
        """Wait until a request may go; returns how long it waited."""
        now = self.clock()
        self.tokens = min(self.burst, self.tokens + (now - self.last) * self.rate)
        self.last = now
        waited = 0.0
        if self.tokens < 1:
            waited = (1 - self.tokens) / self.rate
            self.sleep(waited)
            self.last = self.clock()
            self.tokens = 1.0
        self.tokens -= 1
        return waited


@dataclass
class ApiClient:
    """The API under ``base_url``. ``per_minute`` paces the requests; ``retries`` and ``backoff`` bound the
    patience (waits of backoff, 2 × backoff, 4 × backoff, ...)."""

    base_url: str = DEFAULT_API
    timeout: float = 60.0
    retries: int = 5
    backoff: float = 2.0
    per_minute: float = RATE_PER_MINUTE
    burst: float = 1.0
    sleep: Callable[[float], None] = time.sleep
    requests: int = field(default=0, init=False)  # every attempt, retries included
    retried: int = field(default=0, init=False)  # attempts that were retries

    def __post_init__(self) -> None:
        if not self.base_url.startswith(("http://", "https://")):
            raise ValueError(f"API URL must be http(s): {self.base_url!r}")
        self.bucket = TokenBucket(self.per_minute / 60.0, self.burst, sleep=self.sleep)
        headers = {"Accept": "application/json", "User-Agent": f"trialport/{__version__}"}
        self.http = httpx.Client(base_url=self.base_url.rstrip("/") + "/", headers=headers, timeout=self.timeout)

    def close(self) -> None:
        self.http.close()

    def get(self, path: str, params: Mapping[str, str | int] | None = None) -> dict[str, Any]:
        """The JSON object at ``path``; retried on 429/5xx/timeouts/dropped connections/cut pages."""
        problem = "no attempt"
        for attempt in range(self.retries + 1):
            self.bucket.take()
            self.requests += 1
            if attempt:
                self.retried += 1
            wait = self.backoff * 2**attempt
            try:
                response = self.http.get(path, params=params)
            except httpx.TransportError as error:  # refused, reset, dropped mid-page, timed out
                problem = f"{type(error).__name__}: {error}" if str(error) else type(error).__name__
            else:
                if response.status_code == 200:
                    try:
                        found = orjson.loads(response.content)
                    except orjson.JSONDecodeError as error:
                        problem = f"an answer that is not JSON ({error})"
                    else:
                        if isinstance(found, dict):
                            return found
                        problem = "an answer that is not a JSON object"
                elif response.status_code in RETRY_STATUSES:
                    problem = f"HTTP {response.status_code}"
                    wait = _retry_after(response) or wait
                else:
                    text = " ".join(response.text.split())[:300]
                    raise ApiError(f"GET {path}: HTTP {response.status_code}: {text}")
            if attempt < self.retries:
                self.sleep(min(wait, MAX_WAIT))
        attempts = self.retries + 1
        raise ApiError(f"GET {path}: {problem} after {attempts} attempt{'s' if attempts > 1 else ''}")


def _retry_after(response: httpx.Response) -> float | None:
    """Seconds the server asks us to wait (a number, or an HTTP date), or None."""
    value = response.headers.get("Retry-After", "").strip()
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        moment = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(0.0, moment.timestamp() - time.time())
