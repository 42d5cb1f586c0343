"""A small client for the Telraam API traffic reports (``POST /v1/reports/traffic``).

What it does:

- ``fetch_segment_hours(segment_id, start, end)``: the hourly items of one segment for ``[start, end)``
  (level ``segments``, format ``per-hour``), as the API returns them in ``{"report": [...]}``.
  The API serves at most about 3 months per request, so the range is split into chunks
  (``chunk``, default 90 days). Items are kept only if their ``date`` is in ``[start, end)`` (the API's
  own handling of ``time_end`` is not relied on), deduplicated on ``(segment_id, date)`` (the last one
  wins, as in :mod:`sensors_io.readers`) and sorted by date.
- ``download_segment(segment_id, start, end, out_dir)``: the same items written as one JSON file per UTC
  month, ``out_dir/YYYY-MM.json`` = ``{"device_id", "month", "data", "lastUpdated"}``, the shape of the
  telraam-data-collector files that :func:`sensors_io.readers.read_telraam_json` reads. Each file is written
  atomically (temp file in ``out_dir`` + ``os.replace``). A month file that already exists is merged with the
  new items (new items win on the same hour), so a partial-month refresh never drops older hours.

Politeness and failures:

- Requests (retries included) are spaced at least ``min_interval_s`` apart.
- HTTP 429: wait ``Retry-After`` (seconds or an HTTP date; exponential backoff when absent), then retry.
- HTTP 5xx, timeouts and connection errors: exponential backoff ``backoff_s * 2**attempt``, then retry.
  At most ``max_retries`` retries per request, then :class:`TelraamAPIError`.
- 401/403 (key refused), other 4xx and malformed responses raise :class:`TelraamAPIError` at once; the
  message names the segment, the HTTP status and what to do.

The key comes from ``api_key`` or the ``TELRAAM_API_KEY`` environment variable; it is sent in the
``X-Api-Key`` header and never put in messages. Only the standard library is used (``urllib``).
Datetimes must be timezone-aware (Telraam dates are UTC; a naive datetime is ambiguous and refused).
"""

from __future__ import annotations

import datetime as dt
import email.utils
import http.client
import json
import os
import tempfile
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from pathlib import Path
from typing import Any

__all__ = ["API_KEY_ENV", "DEFAULT_BASE_URL", "DEFAULT_CHUNK", "TelraamAPIError", "TelraamClient"]

API_KEY_ENV = "TELRAAM_API_KEY"
DEFAULT_BASE_URL = "https://telraam-api.net/v1"
TRAFFIC_PATH = "/reports/traffic"
#: The API refuses ranges longer than about 3 months per request.
DEFAULT_CHUNK = dt.timedelta(days=90)
#: Longest wait honoured from a Retry-After header (a misbehaving proxy must not park a job for hours).
MAX_RETRY_AFTER_S = 300.0
UTC = dt.UTC


class TelraamAPIError(Exception):
    """A Telraam API call that failed for good. ``status`` is the HTTP status (None: no HTTP answer)."""

    def __init__(self, message: str, *, segment_id: Any = None, status: int | None = None) -> None:
        super().__init__(message)
        self.segment_id = segment_id
        self.status = status


def _utc(value: dt.datetime, name: str) -> dt.datetime:
    if not isinstance(value, dt.datetime):
        raise TypeError(f"{name} must be a datetime, got {type(value).__name__}")
    if value.tzinfo is None or value.utcoffset() is None:
        raise ValueError(
            f"{name}={value.isoformat()} is naive: Telraam hours are UTC, pass an aware datetime "
            "(e.g. datetime(..., tzinfo=timezone.utc))"
        )
    return value.astimezone(UTC)


def _api_time(value: dt.datetime) -> str:
    """The time format used by the known Telraam clients: ``YYYY-MM-DD HH:MM:SSZ`` (UTC)."""
    return value.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%SZ")


def _item_time(item: Any) -> dt.datetime | None:
    """UTC start of an item's hour, or None when the item has no parseable ``date``."""
    date = item.get("date") if isinstance(item, dict) else None
    if not isinstance(date, str):
        return None
    try:
        parsed = dt.datetime.fromisoformat(date)
    except ValueError:
        return None
    return parsed.replace(tzinfo=UTC) if parsed.tzinfo is None else parsed.astimezone(UTC)


def _item_key(item: Any) -> tuple[str, str]:
    if not isinstance(item, dict):
        return ("", json.dumps(item, sort_keys=True, default=str))
    when = _item_time(item)
    return (str(item.get("segment_id")), when.isoformat() if when else str(item.get("date")))


def _dedupe(items: list[Any]) -> list[Any]:
    """Keep the last item per (segment_id, date), ordered by date (unparseable dates last, in order)."""
    by_key: dict[tuple[str, str], Any] = {}
    for item in items:
        key = _item_key(item)
        by_key.pop(key, None)  # re-insert so the surviving item takes the last position
        by_key[key] = item
    far = dt.datetime.max.replace(tzinfo=UTC)
    return sorted(by_key.values(), key=lambda i: _item_time(i) or far)


def _retry_after_s(value: str | None) -> float | None:
    """Seconds to wait from a Retry-After header (delta-seconds or HTTP date); None when absent/odd."""
    if not value:
        return None
    value = value.strip()
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max(0.0, (when - dt.datetime.now(UTC)).total_seconds())


def _snippet(body: bytes, limit: int = 200) -> str:
    text = body.decode("utf-8", "replace").strip().replace("\n", " ")
    return text[:limit] + ("…" if len(text) > limit else "")


class TelraamClient:
    """Telraam API client for segment hourly traffic (rules in the module docstring)."""

    def __init__(
        self,
        api_key: str | None = None,
        base_url: str = DEFAULT_BASE_URL,
        min_interval_s: float = 1.0,
        timeout_s: float = 30,
        max_retries: int = 3,
        *,
        backoff_s: float = 1.0,
        sleep: Callable[[float], None] = time.sleep,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        key = api_key if api_key is not None else os.environ.get(API_KEY_ENV)
        if not key or not key.strip():
            raise TelraamAPIError(
                f"no Telraam API key: set the {API_KEY_ENV} environment variable (or pass api_key=). "
                "A key is created in your telraam.net account (API section)."
            )
        if min_interval_s < 0 or timeout_s <= 0 or max_retries < 0 or backoff_s < 0:
            raise ValueError("min_interval_s, max_retries and backoff_s must be >= 0 and timeout_s > 0")
        self._api_key = key.strip()
        self.base_url = base_url.rstrip("/")
        self.min_interval_s = float(min_interval_s)
        self.timeout_s = float(timeout_s)
        self.max_retries = int(max_retries)
        self.backoff_s = float(backoff_s)
        self._sleep = sleep
        self._clock = clock
        self._last_request: float | None = None
        self._lock = threading.Lock()
        #: Number of HTTP requests sent (retries included).
        self.requests_sent = 0

    def __repr__(self) -> str:  # never show the key
        return f"TelraamClient(base_url={self.base_url!r}, min_interval_s={self.min_interval_s})"

    # -- public API ---------------------------------------------------------------------------------

    def fetch_segment_hours(
        self,
        segment_id: int | str,
        start: dt.datetime,
        end: dt.datetime,
        *,
        chunk: dt.timedelta = DEFAULT_CHUNK,
    ) -> list[dict[str, Any]]:
        """Hourly items of ``segment_id`` with ``date`` in ``[start, end)``, deduplicated and date-sorted."""
        start, end = _utc(start, "start"), _utc(end, "end")
        if end <= start:
            raise ValueError(f"end ({end.isoformat()}) must be after start ({start.isoformat()})")
        if chunk <= dt.timedelta(0):
            raise ValueError(f"chunk must be positive, got {chunk}")
        items: list[Any] = []
        for lo, hi in self.chunks(start, end, chunk):
            for item in self._report(segment_id, lo, hi):
                when = _item_time(item)
                # Items without a parseable date are passed on: the reader quarantines them, visibly.
                if when is None or start <= when < end:
                    items.append(item)
        return _dedupe(items)

    def download_segment(
        self,
        segment_id: int | str,
        start: dt.datetime,
        end: dt.datetime,
        out_dir: str | Path,
        *,
        chunk: dt.timedelta = DEFAULT_CHUNK,
    ) -> list[Path]:
        """Fetch ``[start, end)`` and write/merge one ``YYYY-MM.json`` per UTC month; return the paths written."""
        items = self.fetch_segment_hours(segment_id, start, end, chunk=chunk)
        undated = [i for i in items if _item_time(i) is None]
        if undated:
            raise TelraamAPIError(
                f"segment {segment_id}: {len(undated)} item(s) from the API have no parseable 'date' "
                f"(first: {str(undated[0])[:120]}), so they cannot be filed by UTC month; nothing was written. "
                "Use fetch_segment_hours() to inspect them.",
                segment_id=segment_id,
            )
        by_month: dict[str, list[dict[str, Any]]] = {}
        for item in items:
            by_month.setdefault(_item_time(item).strftime("%Y-%m"), []).append(item)  # type: ignore[union-attr]

        out = Path(out_dir)
        out.mkdir(parents=True, exist_ok=True)
        written = []
        for month, month_items in sorted(by_month.items()):
            path = out / f"{month}.json"
            existing = self._existing_items(path, segment_id)
            doc = {
                "device_id": str(segment_id),
                "month": month,
                "data": _dedupe(existing + month_items),
                "lastUpdated": dt.datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z"),
            }
            _atomic_write_json(path, doc)
            written.append(path)
        return written

    @staticmethod
    def chunks(start: dt.datetime, end: dt.datetime, chunk: dt.timedelta = DEFAULT_CHUNK):
        """Consecutive ``[lo, hi)`` windows of at most ``chunk`` covering ``[start, end)``."""
        lo = start
        while lo < end:
            hi = min(lo + chunk, end)
            yield lo, hi
            lo = hi

    # -- internals ----------------------------------------------------------------------------------

    @staticmethod
    def _existing_items(path: Path, segment_id: int | str) -> list[Any]:
        if not path.exists():
            return []
        try:
            doc = json.loads(path.read_text(encoding="utf-8-sig"))
        except (OSError, ValueError) as exc:
            raise TelraamAPIError(
                f"segment {segment_id}: cannot merge into existing {path} ({exc}); move or delete it and retry",
                segment_id=segment_id,
            ) from exc
        if not isinstance(doc, dict) or not isinstance(doc.get("data"), list) or str(doc.get("device_id")) != str(
            segment_id
        ):
            raise TelraamAPIError(
                f"segment {segment_id}: existing {path} is not a month file of device {segment_id}; "
                "move or delete it, or choose another out_dir",
                segment_id=segment_id,
            )
        return doc["data"]

    def _wait_turn(self) -> None:
        """Sleep until ``min_interval_s`` has passed since the previous request, then claim the slot."""
        with self._lock:
            if self._last_request is not None:
                wait = self._last_request + self.min_interval_s - self._clock()
                if wait > 0:
                    self._sleep(wait)
            self._last_request = self._clock()
            self.requests_sent += 1

    def _report(self, segment_id: int | str, lo: dt.datetime, hi: dt.datetime) -> list[Any]:
        body = json.dumps(
            {"level": "segments", "format": "per-hour", "id": str(segment_id),
             "time_start": _api_time(lo), "time_end": _api_time(hi)}
        ).encode()
        url = self.base_url + TRAFFIC_PATH
        span = f"{_api_time(lo)} → {_api_time(hi)}"
        for attempt in range(self.max_retries + 1):
            last = attempt == self.max_retries
            request = urllib.request.Request(
                url,
                data=body,
                method="POST",
                headers={"X-Api-Key": self._api_key, "Content-Type": "application/json",
                         "Accept": "application/json", "User-Agent": "mobility-pipeline-telraam/1"},
            )
            self._wait_turn()
            try:
                with urllib.request.urlopen(request, timeout=self.timeout_s) as response:
                    raw = response.read()
                    status = response.status
            except urllib.error.HTTPError as exc:
                status, raw = exc.code, exc.read() if exc.fp else b""
                headers = exc.headers
                exc.close()
                if status == 429 and not last:
                    hinted = _retry_after_s(headers.get("Retry-After") if headers else None)
                    wait = min(hinted, MAX_RETRY_AFTER_S) if hinted is not None else self.backoff_s * 2**attempt
                    self._sleep(wait)
                    continue
                if status >= 500 and not last:
                    self._sleep(self.backoff_s * 2**attempt)
                    continue
                raise self._http_error(segment_id, status, raw, span, attempt) from None
            except (urllib.error.URLError, http.client.HTTPException, TimeoutError, ConnectionError) as exc:
                if not last:
                    self._sleep(self.backoff_s * 2**attempt)
                    continue
                reason = getattr(exc, "reason", exc)
                raise TelraamAPIError(
                    f"segment {segment_id} ({span}): no answer from {url} after {attempt + 1} attempt(s): {reason}. "
                    "Check the network and base_url, or raise timeout_s.",
                    segment_id=segment_id,
                ) from exc
            return self._parse_report(segment_id, status, raw, span)
        raise AssertionError("unreachable")  # pragma: no cover

    @staticmethod
    def _parse_report(segment_id: int | str, status: int, raw: bytes, span: str) -> list[Any]:
        try:
            doc = json.loads(raw.decode("utf-8-sig"))
        except (UnicodeDecodeError, ValueError):
            doc = None
        report = doc.get("report") if isinstance(doc, dict) else None
        if not isinstance(report, list):
            raise TelraamAPIError(
                f"segment {segment_id} ({span}): HTTP {status} but the answer is not {{\"report\": [...]}}: "
                f"{_snippet(raw)!r}. Check base_url (it must end with /v1) and the segment id.",
                segment_id=segment_id,
                status=status,
            )
        return report

    def _http_error(self, segment_id: int | str, status: int, raw: bytes, span: str, attempt: int) -> TelraamAPIError:
        detail = _snippet(raw)
        if status in (401, 403):
            todo = (f"the API key was refused: check {API_KEY_ENV} (a valid, active key from your telraam.net "
                    "account, sent as X-Api-Key) and that base_url is the Telraam API")
        elif status == 429:
            todo = (f"still rate-limited after {attempt + 1} attempts: wait and retry later, or raise "
                    "min_interval_s (your key's quota may be used up)")
        elif status >= 500:
            todo = f"the Telraam API kept failing after {attempt + 1} attempts: retry later"
        elif status == 404:
            todo = "not found: check the segment id (a Telraam segment id, e.g. 9000008322) and base_url"
        else:
            todo = "the request was rejected: check the segment id and the time range (at most ~3 months per request)"
        return TelraamAPIError(
            f"segment {segment_id} ({span}): Telraam API answered HTTP {status}: {todo}."
            + (f" Server said: {detail!r}" if detail else ""),
            segment_id=segment_id,
            status=status,
        )


def _atomic_write_json(path: Path, doc: dict[str, Any]) -> None:
    """Write ``doc`` to ``path`` via a temp file in the same folder and ``os.replace`` (no torn files)."""
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            json.dump(doc, fh, ensure_ascii=False, indent=2)
            fh.write("\n")
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except FileNotFoundError:
            pass
        raise
