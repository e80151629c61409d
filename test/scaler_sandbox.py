#!/usr/bin/env python3
"""Scaler API sandbox for scaler_fdw tests: Scaler's pull API and an ingestion sink.

Standard library only (Python 3.11).  Binds 127.0.0.1 only.  HTTP/1.1 with
keep-alive; every response carries Content-Length and Content-Type:
application/json.

Command line
------------
  --port N                   TCP port (default 0 = any free port)
  --port-file PATH           after binding, write the port number to PATH
                             atomically (PATH.tmp, then rename)
  --verbose                  log every request to stderr
  --portfolios N             number of portfolios (default 2)
  --assets-per-portfolio A   assets per portfolio (default 3)
  --meters-per-asset M       meters per asset (default 4)
  --token T                  API bearer token (default scaler-tok-4d0e)
  --mirror-provider-assets N  instead of the above, Scaler's side of the demo
                             provider's first N assets (same names and
                             addresses, Scaler's own ids; provider_server.py)
  --mirror-meters-per-asset M  the provider's meters per asset (default 4)
SIGTERM / SIGINT shut the server down cleanly with exit status 0.

Authentication
--------------
Every /v1 request needs "Authorization: Bearer <token>", else 401
{"success": false, "message": "Unauthenticated."}.  Control endpoints (/_*)
need no token.

Deterministic data
------------------
  portfolio  id 1..N, name
  asset      id 101, 102, ... (global counter), portfolio_id, name, address,
             city, postcode, country
  meter      id 5001, 5002, ... (global counter), asset_id, name, meter_id
             (human code "SC-E-0001": E electricity, G natural_gas, W water,
             H district_heating; global counter), resource_type ("energy" or
             "water"), fuel_type (meter j of an asset: electricity,
             natural_gas, water, district_heating cyclic), unit (kWh, m3, m3,
             MWh), consumption_format "recordings"

Pull API (GET)
--------------
  /v1/portfolios                   /v1/portfolios/{id}
  /v1/portfolios/{id}/assets       /v1/assets          /v1/assets/{id}
  /v1/assets/{id}/meters           /v1/meters          /v1/meters/{id}
  /v1/meters/{id}/readings         (the readings stored by the sink, below)
Lists take ?page= (1-based; < 1 or not a number = 1) and ?per_page= (default
15, values above 100 are clamped to 100, < 1 or not a number -> 422).  Envelope:
  {"success": true, "message": "Meters retrieved successfully",
   "data": {"data": [...], "current_page": p, "from": n|null,
            "last_page": L, "links": [{"url": str|null, "label": str,
            "active": bool}, ...], "path": "http://127.0.0.1:PORT/v1/meters",
            "per_page": n, "to": n|null, "total": T}}
links is Laravel's: "&laquo; Previous", page numbers (windowed with "..."
when there are more than 12 pages), "Next &raquo;"; urls are path?page=N
(plus per_page when the request gave it).  Single objects: {"success": true,
"message": "... retrieved successfully", "data": {...}}; unknown id -> 404
{"success": false, "message": "... not found."}.

/v1/meters/{id}/readings is the meter's consumption as ingested, a list
(message "Readings retrieved successfully") sorted by period_start (or
reading_date), then period_end; items
  {"id": int (stable per stored reading), "meter_id": int,
   "period_start": ISO|null, "period_end": ISO|null,
   "reading_date": ISO date or date-time|null,
   "value": number (the exact decimal, see Ingestion), "unit": str,
   "estimated": bool, "updated_at": "YYYY-MM-DDTHH:MM:SS.ffffffZ"}
Optional ?from= (inclusive) and ?to= (exclusive) filter on period_start
(reading_date for date-keyed readings); each is a date (midnight UTC) or a
date-time with an offset (a "+" of the offset sent unencoded arrives as a
space and is read as "+"); anything else -> 422 {"success": false,
"message": "The from field must be ..."}.  The links carry from/to (as UTC
date-times) along with page and per_page.  Unknown meter -> 404 "Meter not
found.".

Ingestion (the sink)
--------------------
  POST /v1/ingest/readings
    Header Idempotency-Key required (missing -> 400).  Body
    {"batch_id": str, "readings": [{"meter_id": 5001 | "5001",
      "period_start": ISO, "period_end": ISO   (or "reading_date": ISO/date),
      "value": number | numeric string, "unit": str, "estimated": bool,
      "source": {...}, "hash": str}, ...]}
    Values are exact: JSON numbers are parsed as decimals (never floats) and
    numeric strings (-?digits[.digits][e[+-]digits], surrounding blanks
    ignored) likewise, so "1.50" and 1.5 are the same value; wherever a value
    is returned it is a JSON number with the exact decimal text (e.g.
    123.456000001, 1.50, 1E+5).  Fractional numbers inside source are kept
    exact the same way.
    Processing order: auth -> control fail_status -> idempotency ->
    control delay_ms -> parse -> validate -> store.
    Idempotency: same key + same body (sha256) -> the stored response again,
    with header Idempotent-Replayed: true; same key + different body -> 422
    {"error":"idempotency key reused with a different payload"}; key of a
    request still in progress -> 409.  Only 200 answers are stored: a 400/422
    answer releases the key (the client may fix the payload and retry).
    Malformed JSON or a wrong envelope -> 400.  Per-reading validation (known
    meter, unit in kWh MWh Wh GJ MJ m3 l kg t therms ft3, timestamps with an
    offset, period_end > period_start, finite numeric value, estimated bool,
    source object, hash string, meter not in reject_meter_ids ("meter
    locked")): any invalid reading rejects the whole batch with 422
    {"error":"validation failed","rejected":[{"index": i, "reason": "..."}]}
    and nothing is stored.  Otherwise upsert by (meter_id, period_start,
    period_end) or (meter_id, reading_date; a date is midnight UTC) -> 200
    {"batch_id", "accepted", "created", "updated", "unchanged", "stale"}
    (unchanged = the same exact value, same unit and estimated; a reading
    repeated within a batch counts again against its first occurrence;
    stale = a reading whose integer source.revision is lower than the stored
    one's, which is kept: an older revision arriving after a newer one).  Timestamps are
    stored normalised to UTC ("+00:00"); a date-only reading_date is kept as
    given.  A created reading gets the next id (1, 2, ...), revision 1 and
    updated_at = now; an update keeps the id, increments revision and sets
    updated_at; an unchanged reading keeps id, revision and updated_at.  In
    every case the stored row takes the request's value text, source, hash
    and batch_id.  Validation and the upsert cost a few microseconds per
    reading (sync benchmarks post hundreds of thousands).

Control (no auth)
-----------------
  GET  /_control   current settings
  POST /_control   JSON, any subset of {"fail_status": int|null,
                   "fail_count": int|null, "delay_ms": number,
                   "reject_meter_ids": [...]}.  fail_status applies to the next
                   fail_count ingestion requests (null = until changed), then
                   fail_status resets to null; 429/503 carry Retry-After: 1.
                   delay_ms delays each ingestion request (after the
                   idempotency key is claimed).
  POST /_reset     clear stored readings (ids restart at 1), idempotency keys,
                   logs, counters and control settings
  GET  /_stored[?meter_id=X]  {"readings": [...sorted by meter_id, period
                   start / reading_date...], "batches": n (stored batches),
                   "requests": n (ingestion requests), "replays": n}; each
                   reading {"id", "meter_id", "period_start" and "period_end"
                   or "reading_date", "value" (exact number), "unit",
                   "estimated", "source", "hash", "batch_id", "revision",
                   "updated_at"}
  GET  /_requests  ingestion request log, oldest first (the last 100000):
                   [{"seq", "time", "idempotency_key", "batch_id" (the body's,
                   or null), "status", "readings" (count or null),
                   "replayed", "created", "updated", "unchanged"}]; the three
                   counts are those of the 200 answer (a replay repeats the
                   stored ones, with "replayed": true), null for any other
                   status.  So over the non-replayed 200 entries, sum(created)
                   is the number of distinct readings stored.
  GET  /_health    {"ok": true}
"""

from __future__ import annotations

import argparse
import datetime as dt
import gc
import hashlib
import http
import http.server
import json
import math
import os
import re
import signal
import socket
import sys
import threading
import time
import traceback
from decimal import Decimal
from urllib.parse import parse_qsl, urlencode, urlsplit

HOST = "127.0.0.1"
JSON_CT = "application/json"
DEFAULT_TOKEN = "scaler-tok-4d0e"
KNOWN_UNITS = ("kWh", "MWh", "Wh", "GJ", "MJ", "m3", "l", "kg", "t", "therms", "ft3")
UNIT_SET = frozenset(KNOWN_UNITS)
DEFAULT_PER_PAGE = 15
MAX_PER_PAGE = 100
LOG_LIMIT = 100_000

FUELS = (  # fuel_type, resource_type, unit, code letter
    ("electricity", "energy", "kWh", "E"),
    ("natural_gas", "energy", "m3", "G"),
    ("water", "water", "m3", "W"),
    ("district_heating", "energy", "MWh", "H"),
)
PORTFOLIO_NAMES = ("Northern Offices", "Retail Parks", "Logistics Hubs", "Residential Blocks")
ASSET_NAMES = ("Canal Works", "Victoria Point", "Kingsway House", "Riverside Depot",
               "Park Lane Court", "Meridian Plaza")
PLACES = (("12 Canal Street", "Manchester", "M1 3HE", "GB"),
          ("8 Herengracht", "Amsterdam", "1015 BZ", "NL"),
          ("40 Kingsway", "London", "WC2B 6TE", "GB"),
          ("3 Hafenstrasse", "Hamburg", "20359", "DE"),
          ("221 Park Avenue", "New York", "10003", "US"))
NUMERIC = re.compile(r"-?\d+(\.\d+)?([eE][+-]?\d+)?")
DATE_ONLY = re.compile(r"\d{4}-\d{2}-\d{2}")
DATE_TIME = re.compile(r"\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}(:\d{2}(\.\d{1,6})?)?(Z|[+-]\d{2}:?\d{2})")


# Decimals (exact reading values) are written as JSON numbers with their exact
# text: json.dumps cannot do that itself, so _default turns each one into a
# string wrapped in a per-process random tag, and _dumps removes the quotes
# and the tags again.  No client string can carry the tag: it is never shown.
_NUMBER_TAG = f"\x00num{os.urandom(8).hex()}\x00"
_TAG_JSON = json.dumps(_NUMBER_TAG)[1:-1]  # as it appears inside a JSON string


def _default(obj: object) -> str:
    if isinstance(obj, Decimal) and obj.is_finite():
        return _NUMBER_TAG + str(obj) + _NUMBER_TAG
    raise TypeError(f"{type(obj).__name__} is not JSON serializable")


def _dumps(obj: object) -> str:
    text = json.dumps(obj, separators=(",", ":"), default=_default)
    if _TAG_JSON not in text:
        return text
    return text.replace(f'"{_TAG_JSON}', "").replace(f'{_TAG_JSON}"', "")


def _parse_float(text: str) -> Decimal | float:
    """JSON numbers with a fraction or exponent, kept exact."""
    try:
        return Decimal(text)
    except ArithmeticError:  # an exponent beyond Decimal's range: a float (inf)
        return float(text)


class Catalogue:
    """The deterministic portfolios, assets and meters."""

    def __init__(self, portfolios: int, assets_per_portfolio: int, meters_per_asset: int):
        self.portfolios, self.assets, self.meters = [], [], []
        for p in range(1, portfolios + 1):
            self.portfolios.append({"id": p, "name": f"{PORTFOLIO_NAMES[(p - 1) % 4]} {p}"})
            for _ in range(assets_per_portfolio):
                a = len(self.assets)
                street, city, postcode, country = PLACES[a % len(PLACES)]
                asset = {"id": 101 + a, "portfolio_id": p,
                         "name": f"{ASSET_NAMES[a % len(ASSET_NAMES)]} {101 + a}",
                         "address": street, "city": city, "postcode": postcode, "country": country}
                self.assets.append(asset)
                for j in range(meters_per_asset):
                    m = len(self.meters)
                    fuel, resource_type, unit, letter = FUELS[j % 4]
                    self.meters.append({
                        "id": 5001 + m, "asset_id": asset["id"],
                        "name": f"{asset['name']} {fuel.replace('_', ' ')} meter {j // 4 + 1}",
                        "meter_id": f"SC-{letter}-{m + 1:04d}", "resource_type": resource_type,
                        "fuel_type": fuel, "unit": unit, "consumption_format": "recordings",
                    })
        self._index()

    def _index(self):
        self.portfolio_by_id = {x["id"]: x for x in self.portfolios}
        self.asset_by_id = {x["id"]: x for x in self.assets}
        self.meter_by_id = {x["id"]: x for x in self.meters}

    @classmethod
    def mirroring(cls, provider_portfolio) -> "Catalogue":
        """Scaler's side of the provider's buildings (the demo maps one to the
        other): the same names and addresses under Scaler's own ids; every
        other meter has the provider's serial number as its Scaler code."""
        fuels = {f[0].split("_")[-1] if f[0] != "district_heating" else "heat": f for f in FUELS}
        fuels["gas"] = next(f for f in FUELS if f[0] == "natural_gas")
        self = cls.__new__(cls)
        self.portfolios = [{"id": 1, "name": f"{PORTFOLIO_NAMES[0]} 1"}]
        self.assets, self.meters = [], []
        by_asset = {}
        for pa in provider_portfolio.assets:
            asset = {"id": 101 + len(self.assets), "portfolio_id": 1, "name": pa["name"],
                     "address": pa["address"], "city": pa["city"], "postcode": pa["postcode"],
                     "country": pa["country"]}
            self.assets.append(asset)
            by_asset[pa["asset_id"]] = asset
        for pm in provider_portfolio.meters:
            asset = by_asset[pm["asset_id"]]
            fuel, resource_type, unit, letter = fuels[pm["resource"]]
            m = len(self.meters)
            self.meters.append({
                "id": 5001 + m, "asset_id": asset["id"],
                "name": f"{asset['name']} {fuel.replace('_', ' ')} meter",
                "meter_id": pm["serial_number"] if m % 2 == 0 else f"SC-{letter}-{m + 1:04d}",
                "resource_type": resource_type, "fuel_type": fuel, "unit": unit,
                "consumption_format": "recordings",
            })
        self._index()
        return self


class Reply(Exception):
    """Abort processing with this JSON response."""

    def __init__(self, status: int, payload: object, headers=()):
        super().__init__(status)
        self.status, self.payload, self.headers = status, payload, list(headers)


def not_authenticated() -> Reply:
    return Reply(401, {"success": False, "message": "Unauthenticated."},
                 [("WWW-Authenticate", 'Bearer realm="scaler"')])


def canonical_instant(value: object, allow_date: bool) -> str | None:
    """The UTC text ("...+00:00", Python's isoformat) of an ISO 8601 value with
    an offset (or, if allow_date, of a date: midnight UTC), None if invalid.
    Canonical texts compare (==, <) like the instants they denote ("+" sorts
    before ".", so a whole second precedes the same second with a fraction)."""
    if type(value) is not str:
        return None
    text = value.strip()
    try:
        if allow_date and len(text) == 10 and DATE_ONLY.fullmatch(text):
            return dt.date.fromisoformat(text).isoformat() + "T00:00:00+00:00"
        if not DATE_TIME.fullmatch(text):
            return None
        when = dt.datetime.fromisoformat(text)
    except ValueError:
        return None
    if len(text) == 25 and text[10] == "T" and text.endswith("+00:00"):
        return text  # already canonical (the common case): skip isoformat()
    return when.astimezone(dt.timezone.utc).isoformat()


def parse_value(value: object) -> Decimal | None:
    """The exact value of a JSON number (Decimal or int after the ingestion
    parse) or numeric string; None unless finite."""
    kind = type(value)
    if kind is Decimal:
        return value if value.is_finite() else None
    if kind is str:
        text = value.strip()
        if not NUMERIC.fullmatch(text):
            return None
        try:
            return Decimal(text)
        except ArithmeticError:  # exponent beyond Decimal's range
            return None
    if kind is int:
        return Decimal(value)
    if kind is float and math.isfinite(value):
        return Decimal(repr(value))
    return None


class SandboxState:
    """Everything mutable, guarded by one lock."""

    def __init__(self):
        self.lock = threading.Lock()
        self.reset()

    def reset(self) -> None:
        # meter id -> {(start, end) canonical UTC texts (reading_date: (d, d)) -> row}
        self.readings: dict[int, dict[tuple, dict]] = {}
        self.next_id = 0
        self.idempotency: dict[str, dict] = {}
        self.log: list[dict] = []
        self.seq = 0
        self.batches = 0
        self.requests = 0
        self.replays = 0
        self.control = {"fail_status": None, "fail_count": None, "delay_ms": 0, "reject_meter_ids": []}

    def sorted_rows(self, meter: int | None = None) -> list[tuple[tuple, dict]]:
        """(key, row) of the stored readings (of one meter) by meter, then
        period; caller holds the lock.  Rows are never changed once stored (an
        upsert stores a new dict), so they may be used (and serialised as they
        are) after the lock is released."""
        meters = sorted(self.readings) if meter is None else [meter]
        pairs = []
        for m in meters:
            by_key = self.readings.get(m, {})
            pairs += ((k, by_key[k]) for k in sorted(by_key))
        return pairs


class SandboxServer(http.server.ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    request_queue_size = 256

    def __init__(self, port: int, catalogue: Catalogue, token: str, verbose: bool):
        self.catalogue = catalogue
        # meter_id as sent (int or its decimal text) -> meter id: the fast path
        self.meter_keys = {**{m: m for m in catalogue.meter_by_id},
                           **{str(m): m for m in catalogue.meter_by_id}}
        self.token = token
        self.verbose = verbose
        self.state = SandboxState()
        self.stop_event = threading.Event()
        super().__init__((HOST, port), SandboxHandler)

    @property
    def port(self) -> int:
        return self.server_address[1]

    def handle_error(self, request, client_address):
        if isinstance(sys.exc_info()[1], (ConnectionError, TimeoutError)) and not self.verbose:
            return
        super().handle_error(request, client_address)


class SandboxHandler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "scaler-sandbox/1.0"
    sys_version = ""
    server: SandboxServer

    def setup(self):
        super().setup()
        self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

    def log_message(self, format, *args):  # noqa: A002 (signature of the base class)
        if self.server.verbose:
            super().log_message(format, *args)

    def do_GET(self):
        self._handle()

    do_POST = do_PUT = do_PATCH = do_DELETE = do_OPTIONS = do_HEAD = do_GET

    # -- I/O -------------------------------------------------------------------
    def _read_body(self) -> bytes:
        if "chunked" in self.headers.get("Transfer-Encoding", "").lower():
            chunks = []
            while True:
                line = self.rfile.readline(65537)
                try:
                    size = int(line.split(b";", 1)[0].strip(), 16)
                except ValueError:
                    self.close_connection = True
                    raise Reply(400, {"error": "invalid chunked encoding"}) from None
                if size == 0:
                    while self.rfile.readline(65537) not in (b"\r\n", b"\n", b""):
                        pass
                    return b"".join(chunks)
                chunks.append(self.rfile.read(size))
                self.rfile.readline(65537)
        try:
            n = int(self.headers.get("Content-Length", "0"))
            if n < 0:
                raise ValueError
        except ValueError:
            self.close_connection = True
            raise Reply(400, {"error": "invalid Content-Length"}) from None
        return self.rfile.read(n) if n else b""

    def _send(self, status: int, body: bytes, headers=()) -> None:
        try:
            phrase = http.HTTPStatus(status).phrase
        except ValueError:
            phrase = "Status"
        lines = [f"HTTP/1.1 {status} {phrase}", f"Server: {self.server_version}",
                 f"Date: {self.date_time_string()}", f"Content-Type: {JSON_CT}"]
        lines += [f"{k}: {v}" for k, v in headers]
        lines.append(f"Content-Length: {len(body)}")
        if self.close_connection:
            lines.append("Connection: close")
        self.log_request(status, len(body))
        head = ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1")
        self.wfile.write(head if self.command == "HEAD" else head + body)

    def _send_json(self, status: int, payload, headers=()) -> None:
        self._send(status, _dumps(payload).encode(), headers)

    def _wait(self, seconds: float) -> None:
        if seconds > 0 and self.server.stop_event.wait(seconds):
            self.close_connection = True
            raise ConnectionAbortedError("server shutting down")

    # -- dispatch ----------------------------------------------------------------
    def _handle(self) -> None:
        try:
            body = self._read_body()
            split = urlsplit(self.path)
            path = "/" + "/".join(s for s in split.path.split("/") if s)
            query = dict(parse_qsl(split.query, keep_blank_values=True))
            if path.startswith("/_"):
                self._control(path, query, body)
            elif path.startswith("/v1/") or path == "/v1":
                self._api(path, query, body)
            else:
                raise Reply(404, {"success": False, "message": "Not found."})
        except Reply as reply:
            self._send_json(reply.status, reply.payload, reply.headers)
        except (ConnectionError, TimeoutError):
            self.close_connection = True
        except Exception:  # a bug: report it, answer 500
            traceback.print_exc()
            self.close_connection = True
            try:
                self._send_json(500, {"success": False, "message": "Server Error"})
            except OSError:
                pass

    def _require(self, *methods: str) -> None:
        if self.command not in methods:
            raise Reply(405, {"success": False, "message": f"The {self.command} method is not supported."},
                        [("Allow", ", ".join(methods))])

    def _json_body(self, body: bytes):
        try:
            return json.loads(body)
        except (ValueError, UnicodeDecodeError):
            raise Reply(400, {"error": "malformed JSON"}) from None

    # -- control -------------------------------------------------------------
    def _control(self, path: str, query: dict, body: bytes) -> None:
        state = self.server.state
        if path == "/_health":
            self._require("GET")
            return self._send_json(200, {"ok": True})
        if path == "/_control":
            self._require("GET", "POST")
            if self.command == "POST":
                self._update_control(self._json_body(body))
            with state.lock:
                return self._send_json(200, dict(state.control))
        if path == "/_reset":
            self._require("POST")
            with state.lock:
                state.reset()
            return self._send_json(200, {"reset": True})
        if path == "/_stored":
            self._require("GET")
            meter = None
            if "meter_id" in query:
                meter = self._meter_key(query["meter_id"])
                if meter is None:  # matches no stored reading
                    meter = -1
            with state.lock:
                pairs = state.sorted_rows(meter)
                counts = {"batches": state.batches, "requests": state.requests, "replays": state.replays}
            return self._send_json(200, {"readings": [row for _, row in pairs], **counts})
        if path == "/_requests":
            self._require("GET")
            with state.lock:
                return self._send_json(200, [dict(e) for e in state.log])
        raise Reply(404, {"success": False, "message": "Not found."})

    def _update_control(self, data) -> None:
        if not isinstance(data, dict):
            raise Reply(400, {"error": "control body must be a JSON object"})
        unknown = set(data) - {"fail_status", "fail_count", "delay_ms", "reject_meter_ids"}
        if unknown:
            raise Reply(400, {"error": "unknown control keys", "keys": sorted(unknown)})

        def is_int(v) -> bool:
            return isinstance(v, int) and not isinstance(v, bool)
        new = {}
        if "fail_status" in data:
            v = data["fail_status"]
            if v is not None and not (is_int(v) and 100 <= v <= 599):
                raise Reply(400, {"error": "fail_status must be an HTTP status or null"})
            new["fail_status"] = v
        if "fail_count" in data:
            v = data["fail_count"]
            if v is not None and not (is_int(v) and v >= 0):
                raise Reply(400, {"error": "fail_count must be a non-negative integer or null"})
            new["fail_count"] = v
        if "delay_ms" in data:
            v = data["delay_ms"]
            if v is None:
                v = 0
            if isinstance(v, bool) or not isinstance(v, (int, float)) or not 0 <= v < 3_600_000:
                raise Reply(400, {"error": "delay_ms must be a non-negative number"})
            new["delay_ms"] = v
        if "reject_meter_ids" in data:
            v = data["reject_meter_ids"] or []
            ids = [self._meter_key(x) for x in v] if isinstance(v, list) else [None]
            if None in ids:
                raise Reply(400, {"error": "reject_meter_ids must be a list of meter ids"})
            new["reject_meter_ids"] = ids
        with self.server.state.lock:
            self.server.state.control.update(new)

    @staticmethod
    def _meter_key(value) -> int | None:
        if isinstance(value, int) and not isinstance(value, bool):
            return value
        if isinstance(value, str) and value.strip().isascii() and value.strip().isdigit():
            return int(value.strip())
        return None

    # -- API ---------------------------------------------------------------------
    def _api(self, path: str, query: dict, body: bytes) -> None:
        scheme, _, token = self.headers.get("Authorization", "").partition(" ")
        if scheme.lower() != "bearer" or token.strip() != self.server.token:
            raise not_authenticated()
        if path == "/v1/ingest/readings":
            self._require("POST")
            return self._ingest(body)
        self._require("GET")
        cat = self.server.catalogue
        parts = path.split("/")[2:]
        collections_ = {"portfolios": (cat.portfolios, cat.portfolio_by_id, "Portfolio"),
                        "assets": (cat.assets, cat.asset_by_id, "Asset"),
                        "meters": (cat.meters, cat.meter_by_id, "Meter")}
        if not parts or parts[0] not in collections_ or len(parts) > 3:
            raise Reply(404, {"success": False, "message": "Not found."})
        items, by_id, label = collections_[parts[0]]
        if len(parts) == 1:
            return self._list(path, query, items, f"{parts[0].capitalize()} retrieved successfully")
        owner = by_id.get(int(parts[1])) if parts[1].isdigit() else None
        if owner is None:
            raise Reply(404, {"success": False, "message": f"{label} not found."})
        if len(parts) == 2:
            return self._send_json(200, {"success": True, "message": f"{label} retrieved successfully",
                                         "data": owner})
        if (parts[0], parts[2]) == ("meters", "readings"):
            return self._meter_readings(path, query, owner["id"])
        child = {("portfolios", "assets"): (cat.assets, "portfolio_id"),
                 ("assets", "meters"): (cat.meters, "asset_id")}.get((parts[0], parts[2]))
        if child is None:
            raise Reply(404, {"success": False, "message": "Not found."})
        rows, key = child
        self._list(path, query, [r for r in rows if r[key] == owner["id"]],
                   f"{parts[2].capitalize()} retrieved successfully")

    def _meter_readings(self, path: str, query: dict, meter: int) -> None:
        """GET /v1/meters/{id}/readings[?from=&to=]: the meter's stored readings."""
        bounds = {}
        for name in ("from", "to"):
            if name in query:
                raw = query[name].strip()
                when = canonical_instant(raw, allow_date=True)
                if when is None and " " in raw:  # an unencoded "+" of the offset became a space
                    head, _, tail = raw.rpartition(" ")
                    when = canonical_instant(f"{head}+{tail}", allow_date=False)
                if when is None:
                    raise Reply(422, {"success": False, "message":
                                      f"The {name} field must be an ISO 8601 date or a date-time with an offset."})
                bounds[name] = when
        lo, hi = bounds.get("from"), bounds.get("to")
        with self.server.state.lock:
            pairs = self.server.state.sorted_rows(meter)
        # a key starts with the canonical UTC text of period_start / reading_date
        rows = [row for key, row in pairs if (lo is None or key[0] >= lo) and (hi is None or key[0] < hi)]

        def item(r: dict) -> dict:
            return {"id": r["id"], "meter_id": r["meter_id"], "period_start": r.get("period_start"),
                    "period_end": r.get("period_end"), "reading_date": r.get("reading_date"),
                    "value": r["value"], "unit": r["unit"], "estimated": r["estimated"],
                    "updated_at": r["updated_at"]}
        keep = [(k, bounds[k]) for k in ("from", "to") if k in bounds]
        self._list(path, query, rows, "Readings retrieved successfully", render=item, keep=keep)

    def _list(self, path: str, query: dict, items: list, message: str, render=None, keep=()) -> None:
        """Answer with one page of items in Laravel's paginator envelope;
        render (if given) turns each item of the page into its JSON object,
        keep are (name, value) query parameters the links carry along."""
        page = int(query["page"]) if query.get("page", "").isdigit() else 1
        page = max(page, 1)
        per_page = DEFAULT_PER_PAGE
        if "per_page" in query:
            raw = query["per_page"].strip()
            if not re.fullmatch(r"-?\d+", raw) or int(raw) < 1:
                raise Reply(422, {"success": False, "message": "The per page field must be at least 1."})
            per_page = min(int(raw), MAX_PER_PAGE)
        total = len(items)
        last = max(1, -(-total // per_page))
        lo = (page - 1) * per_page
        chunk = items[lo:lo + per_page]
        if render is not None:
            chunk = [render(x) for x in chunk]
        base = f"http://{HOST}:{self.server.port}{path}"

        def url(p: int) -> str:
            params = [*keep, ("page", p)] + ([("per_page", per_page)] if "per_page" in query else [])
            return f"{base}?{urlencode(params)}"

        links = [{"url": url(page - 1) if page > 1 else None,
                  "label": "&laquo; Previous", "active": False}]
        if last <= 12:
            shown = list(range(1, last + 1))
        else:
            window = set(range(max(1, page - 3), min(last, page + 3) + 1)) | {1, 2, last - 1, last}
            shown = sorted(window)
        prev = 0
        for p in shown:
            if p - prev > 1:
                links.append({"url": None, "label": "...", "active": False})
            links.append({"url": url(p), "label": str(p), "active": p == page})
            prev = p
        links.append({"url": url(page + 1) if page < last else None,
                      "label": "Next &raquo;", "active": False})
        self._send_json(200, {"success": True, "message": message, "data": {
            "data": chunk,
            "current_page": page,
            "from": lo + 1 if chunk else None,
            "last_page": last,
            "links": links,
            "path": base,
            "per_page": per_page,
            "to": lo + len(chunk) if chunk else None,
            "total": total,
        }})

    # -- ingestion -------------------------------------------------------------
    def _ingest(self, body: bytes) -> None:
        state = self.server.state
        key = self.headers.get("Idempotency-Key", "").strip()
        with state.lock:
            state.requests += 1
            state.seq += 1
            entry = {"seq": state.seq, "time": time.time(), "idempotency_key": key or None,
                     "batch_id": None, "status": None, "readings": None, "replayed": False,
                     "created": None, "updated": None, "unchanged": None}
            state.log.append(entry)
            del state.log[:-LOG_LIMIT]
        try:
            status, payload, headers = self._ingest_steps(body, key, entry)
        except Reply as reply:
            status, payload, headers = reply.status, reply.payload, reply.headers
        with state.lock:
            entry["status"] = status
            if status == 200 and "created" in payload:  # (not a simulated fail_status 200)
                entry.update(created=payload["created"], updated=payload["updated"],
                             unchanged=payload["unchanged"])
        self._send_json(status, payload, headers)

    def _ingest_steps(self, body: bytes, key: str, entry: dict):
        state = self.server.state
        with state.lock:
            ctl = state.control
            fail = ctl["fail_status"]
            if fail is not None and ctl["fail_count"] is not None:
                if ctl["fail_count"] <= 0:
                    fail = None
                else:
                    ctl["fail_count"] -= 1
                if ctl["fail_count"] <= 0:  # budget used up: healthy again
                    ctl["fail_status"], ctl["fail_count"] = None, None
            delay = ctl["delay_ms"]
            locked = set(ctl["reject_meter_ids"])
        if fail is not None:
            try:
                message = http.HTTPStatus(fail).phrase
            except ValueError:
                message = "Simulated failure"
            headers = [("Retry-After", "1")] if fail in (429, 503) else []
            raise Reply(fail, {"success": False, "message": message}, headers)
        if not key:
            raise Reply(400, {"error": "missing Idempotency-Key header"})

        fingerprint = hashlib.sha256(body).hexdigest()
        with state.lock:
            known = state.idempotency.get(key)
            if known is None:
                state.idempotency[key] = {"fingerprint": fingerprint, "done": False}
            elif not known["done"]:
                raise Reply(409, {"error": "a request with this idempotency key is still being processed"})
            elif known["fingerprint"] != fingerprint:
                raise Reply(422, {"error": "idempotency key reused with a different payload"})
            else:
                state.replays += 1
                entry.update(replayed=True, readings=known["readings"], batch_id=known["payload"]["batch_id"])
                return known["status"], known["payload"], [("Idempotent-Replayed", "true")]

        try:
            self._wait(delay / 1000.0)
            try:
                data = json.loads(body, parse_float=_parse_float)
            except (ValueError, UnicodeDecodeError):
                raise Reply(400, {"error": "malformed JSON"}) from None
            if isinstance(data, dict):
                if isinstance(data.get("readings"), list):
                    entry["readings"] = len(data["readings"])
                if isinstance(data.get("batch_id"), str):
                    entry["batch_id"] = data["batch_id"]
            rows = self._validate(data, locked)
            now = dt.datetime.now(dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
            with state.lock:
                result = self._store(data["batch_id"], rows, now)
                state.batches += 1
                state.idempotency[key] = {"fingerprint": fingerprint, "done": True, "status": 200,
                                          "payload": result, "readings": len(rows)}
                # The stored readings only grow: keep the cyclic garbage collector
                # from rescanning all of them again and again (its full passes
                # would cost more than the ingestion itself).  Stored rows hold
                # no reference cycles; replaced ones are freed by refcounting.
                gc.freeze()
            return 200, result, []
        except BaseException:
            with state.lock:
                if not state.idempotency.get(key, {}).get("done", True):
                    del state.idempotency[key]
            raise

    def _validate(self, data, locked: set) -> list[tuple[int, tuple, dict]]:
        """(meter id, key, row to store) of each reading of a batch, the key
        being (period_start, period_end) or (reading_date, reading_date) as
        canonical UTC texts; raises Reply(400/422) if invalid.  This is the
        hot path of the sink (a sync benchmark posts hundreds of thousands of
        readings): one pass, plain type checks, and no regex or datetime work
        for a timestamp text already seen in the batch."""
        if not isinstance(data, dict):
            raise Reply(400, {"error": "body must be a JSON object"})
        batch_id = data.get("batch_id")
        if not isinstance(batch_id, str):
            raise Reply(400, {"error": "batch_id must be a string"})
        readings = data.get("readings")
        if not isinstance(readings, list):
            raise Reply(400, {"error": "readings must be a list"})
        meter_keys, meter_key = self.server.meter_keys, self._meter_key
        meters = self.server.catalogue.meter_by_id
        instants, dates = {}, {}  # timestamp text -> canonical UTC text ("" = invalid)
        rows, rejected = [], []
        append = rows.append
        for index, r in enumerate(readings):
            reason = None
            if type(r) is not dict:
                rejected.append({"index": index, "reason": "reading must be a JSON object"})
                continue
            raw = r.get("meter_id")
            kind = type(raw)
            meter = meter_keys.get(raw) if kind is str or kind is int else None
            if meter is None:  # not the plain form of a known meter: find out why
                meter = meter_key(raw)
                if meter is None:
                    reason = "meter_id missing or not an integer"
                elif meter not in meters:
                    reason = f"unknown meter_id {meter}"
            if reason is None and locked and meter in locked:
                reason = "meter locked"
            if reason is None:
                unit = r.get("unit")
                if type(unit) is not str or unit not in UNIT_SET:
                    reason = "unit missing" if unit is None else f"unknown unit {unit!r}"
            if reason is None:
                value = parse_value(r.get("value"))
                estimated = r.get("estimated", False)
                source = r.get("source")
                digest = r.get("hash")
                if value is None:
                    reason = "value must be a finite number"
                elif type(estimated) is not bool:
                    reason = "estimated must be a boolean"
                elif source is not None and type(source) is not dict:
                    reason = "source must be an object"
                elif digest is not None and type(digest) is not str:
                    reason = "hash must be a string"
            if reason is None:
                if "period_start" in r or "period_end" in r:
                    if "reading_date" in r:
                        reason = "give either period_start/period_end or reading_date"
                    else:
                        raw_start, raw_end = r.get("period_start"), r.get("period_end")
                        start = instants.get(raw_start) if type(raw_start) is str else ""
                        if start is None:
                            start = instants[raw_start] = canonical_instant(raw_start, False) or ""
                        end = instants.get(raw_end) if type(raw_end) is str else ""
                        if end is None:
                            end = instants[raw_end] = canonical_instant(raw_end, False) or ""
                        if not start:
                            reason = "period_start must be ISO 8601 with an offset"
                        elif not end:
                            reason = "period_end must be ISO 8601 with an offset"
                        elif end <= start:
                            reason = "period_end must be after period_start"
                        else:
                            append((meter, (start, end), {
                                "id": None, "meter_id": meter, "period_start": start, "period_end": end,
                                "value": value, "unit": unit, "estimated": estimated, "source": source,
                                "hash": digest, "batch_id": batch_id, "revision": None, "updated_at": None}))
                elif "reading_date" in r:
                    raw_date = r.get("reading_date")
                    day = dates.get(raw_date) if type(raw_date) is str else ""
                    if day is None:
                        day = dates[raw_date] = canonical_instant(raw_date, True) or ""
                    if not day:
                        reason = "reading_date must be a date or ISO 8601 with an offset"
                    else:
                        text = raw_date.strip()
                        append((meter, (day, day), {
                            "id": None, "meter_id": meter, "reading_date": text if len(text) == 10 else day,
                            "value": value, "unit": unit, "estimated": estimated, "source": source,
                            "hash": digest, "batch_id": batch_id, "revision": None, "updated_at": None}))
                else:
                    reason = "period_start/period_end or reading_date missing"
            if reason is not None:
                rejected.append({"index": index, "reason": reason})
        if rejected:
            raise Reply(422, {"error": "validation failed", "rejected": rejected})
        return rows

    def _store(self, batch_id: str, rows: list[tuple[int, tuple, dict]], now: str) -> dict:
        """Upsert rows (caller holds the lock); return the response payload.
        A stored row is never changed afterwards: an upsert stores the new one."""
        state = self.server.state
        store = state.readings
        created = updated = unchanged = stale = 0
        for meter, key, row in rows:
            by_key = store.get(meter)
            if by_key is None:
                by_key = store[meter] = {}
            old = by_key.get(key)
            if old is not None and _source_revision(row) < _source_revision(old):
                stale += 1  # an older revision arriving late: the newer one stays
                continue
            if old is None:
                created += 1
                state.next_id += 1
                row["id"], row["revision"], row["updated_at"] = state.next_id, 1, now
            elif (old["value"] == row["value"] and old["unit"] == row["unit"]
                  and old["estimated"] == row["estimated"]):
                unchanged += 1
                row["id"], row["revision"], row["updated_at"] = old["id"], old["revision"], old["updated_at"]
            else:
                updated += 1
                row["id"], row["revision"], row["updated_at"] = old["id"], old["revision"] + 1, now
            by_key[key] = row
        return {"batch_id": batch_id, "accepted": len(rows), "created": created,
                "updated": updated, "unchanged": unchanged, "stale": stale}


def _source_revision(row: dict) -> int:
    """The sender's revision of a reading (source.revision), 0 when absent."""
    source = row.get("source")
    rev = source.get("revision") if isinstance(source, dict) else None
    return rev if isinstance(rev, int) and not isinstance(rev, bool) else 0


# ---------------------------------------------------------------------------
# Main
# ---------------------------------------------------------------------------
def write_port_file(path: str, port: int) -> None:
    tmp = path + ".tmp"
    with open(tmp, "w") as fh:
        fh.write(f"{port}\n")
    os.replace(tmp, path)


def serve(server, port_file: str | None) -> int:
    """Run server until SIGTERM/SIGINT; return the exit status (0)."""
    stop = threading.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: stop.set())
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.2}, daemon=True)
    thread.start()
    if port_file:
        write_port_file(port_file, server.server_address[1])
    if server.verbose:
        print(f"listening on http://{HOST}:{server.server_address[1]}", file=sys.stderr)
    while not stop.wait(0.5):
        pass
    server.stop_event.set()
    server.shutdown()
    server.server_close()
    thread.join(5)
    return 0


def non_negative_int(text: str) -> int:
    value = int(text)
    if value < 0:
        raise argparse.ArgumentTypeError("must be >= 0")
    return value


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description="Scaler API sandbox (see module docstring).")
    ap.add_argument("--port", type=non_negative_int, default=0)
    ap.add_argument("--port-file")
    ap.add_argument("--verbose", action="store_true")
    ap.add_argument("--portfolios", type=non_negative_int, default=2)
    ap.add_argument("--assets-per-portfolio", type=non_negative_int, default=3)
    ap.add_argument("--meters-per-asset", type=non_negative_int, default=4)
    ap.add_argument("--token", default=DEFAULT_TOKEN)
    ap.add_argument("--mirror-provider-assets", type=non_negative_int, default=0,
                    help="serve Scaler's side of the provider's first N assets (the demo)")
    ap.add_argument("--mirror-meters-per-asset", type=non_negative_int, default=4)
    args = ap.parse_args(argv)
    if args.mirror_provider_assets:
        import provider_server   # the same directory: the demo provider's deterministic portfolio
        portfolio = provider_server.Portfolio(args.mirror_provider_assets, args.mirror_meters_per_asset,
                                              1, 86400, provider_server.iso_start("2025-01-01T00:00:00Z"), 1)
        catalogue = Catalogue.mirroring(portfolio)
    else:
        catalogue = Catalogue(args.portfolios, args.assets_per_portfolio, args.meters_per_asset)
    server = SandboxServer(args.port, catalogue, args.token, args.verbose)
    return serve(server, args.port_file)


if __name__ == "__main__":
    sys.exit(main())
