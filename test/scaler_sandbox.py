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

Ingestion (the sink)
--------------------
  POST /v1/ingest/readings
    Header Idempotency-Key required (missing -> 400).  Body
    {"batch_id": str, "readings": [{"meter_id": 5001 | "5001",
      "period_start": ISO, "period_end": ISO   (or "reading_date": ISO/date),
      "value": number | numeric string, "unit": str, "estimated": bool,
      "source": {...}, "hash": str}, ...]}
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
    period_end) or (meter_id, reading_date) -> 200 {"batch_id", "accepted",
    "created", "updated", "unchanged"} (unchanged = same value, unit and
    estimated).  Timestamps are stored normalised to UTC ("+00:00").

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
  POST /_reset     clear stored readings, idempotency keys, logs, counters and
                   control settings
  GET  /_stored[?meter_id=X]  {"readings": [...sorted by meter_id, period
                   start / reading_date...], "batches": n (stored batches),
                   "requests": n (ingestion requests), "replays": n}
  GET  /_requests  ingestion request log: [{"seq","time","idempotency_key",
                   "status","readings" (count or null),"replayed"}]
  GET  /_health    {"ok": true}
"""

from __future__ import annotations

import argparse
import datetime as dt
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
from urllib.parse import parse_qsl, urlencode, urlsplit

HOST = "127.0.0.1"
JSON_CT = "application/json"
DEFAULT_TOKEN = "scaler-tok-4d0e"
KNOWN_UNITS = ("kWh", "MWh", "Wh", "GJ", "MJ", "m3", "l", "kg", "t", "therms", "ft3")
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


def _dumps(obj: object) -> str:
    return json.dumps(obj, separators=(",", ":"))


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


def parse_timestamp(value: object, allow_date: bool) -> tuple[dt.datetime, str] | None:
    """(sort key, normalised text) of an ISO 8601 value, or None if invalid."""
    if not isinstance(value, str):
        return None
    value = value.strip()
    try:
        if allow_date and DATE_ONLY.fullmatch(value):
            day = dt.datetime.strptime(value, "%Y-%m-%d").replace(tzinfo=dt.timezone.utc)
            return day, value
        if not DATE_TIME.fullmatch(value):
            return None
        when = dt.datetime.fromisoformat(value).astimezone(dt.timezone.utc)
    except ValueError:
        return None
    return when, when.isoformat()


def parse_value(value: object) -> float | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, (int, float)):
        number = float(value)
    elif isinstance(value, str) and NUMERIC.fullmatch(value.strip()):
        number = float(value)
    else:
        return None
    return number if math.isfinite(number) else None


class SandboxState:
    """Everything mutable, guarded by one lock."""

    def __init__(self):
        self.lock = threading.Lock()
        self.reset()

    def reset(self) -> None:
        self.readings: dict[tuple, dict] = {}
        self.idempotency: dict[str, dict] = {}
        self.log: list[dict] = []
        self.seq = 0
        self.batches = 0
        self.requests = 0
        self.replays = 0
        self.control = {"fail_status": None, "fail_count": None, "delay_ms": 0, "reject_meter_ids": []}


class SandboxServer(http.server.ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    request_queue_size = 256

    def __init__(self, port: int, catalogue: Catalogue, token: str, verbose: bool):
        self.catalogue = catalogue
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
            with state.lock:
                rows = sorted(state.readings.items(), key=lambda kv: kv[1]["_sort"])
                readings = [{k: v for k, v in r.items() if k != "_sort"} for _, r in rows]
                counts = {"batches": state.batches, "requests": state.requests, "replays": state.replays}
            if "meter_id" in query:
                readings = [r for r in readings if str(r["meter_id"]) == query["meter_id"].strip()]
            return self._send_json(200, {"readings": readings, **counts})
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
        if isinstance(value, str) and value.strip().isdigit():
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
        child = {("portfolios", "assets"): (cat.assets, "portfolio_id"),
                 ("assets", "meters"): (cat.meters, "asset_id")}.get((parts[0], parts[2]))
        if child is None:
            raise Reply(404, {"success": False, "message": "Not found."})
        rows, key = child
        self._list(path, query, [r for r in rows if r[key] == owner["id"]],
                   f"{parts[2].capitalize()} retrieved successfully")

    def _list(self, path: str, query: dict, items: list, message: str) -> None:
        """Answer with one page of items in Laravel's paginator envelope."""
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
        base = f"http://{HOST}:{self.server.port}{path}"

        def url(p: int) -> str:
            params = [("page", p)] + ([("per_page", per_page)] if "per_page" in query else [])
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
                     "status": None, "readings": None, "replayed": False}
            state.log.append(entry)
            del state.log[:-LOG_LIMIT]
        try:
            status, payload, headers = self._ingest_steps(body, key, entry)
        except Reply as reply:
            status, payload, headers = reply.status, reply.payload, reply.headers
        with state.lock:
            entry["status"] = status
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
                entry["replayed"] = True
                entry["readings"] = known["readings"]
                return known["status"], known["payload"], [("Idempotent-Replayed", "true")]

        try:
            self._wait(delay / 1000.0)
            data = self._json_body(body)
            if isinstance(data, dict) and isinstance(data.get("readings"), list):
                entry["readings"] = len(data["readings"])
            rows = self._validate(data, locked)
            with state.lock:
                result = self._store(data["batch_id"], rows)
                state.batches += 1
                state.idempotency[key] = {"fingerprint": fingerprint, "done": True, "status": 200,
                                          "payload": result, "readings": len(rows)}
            return 200, result, []
        except BaseException:
            with state.lock:
                if not state.idempotency.get(key, {}).get("done", True):
                    del state.idempotency[key]
            raise

    def _validate(self, data, locked: set) -> list[dict]:
        """Normalised readings of a batch; raises Reply(400/422) if invalid."""
        if not isinstance(data, dict):
            raise Reply(400, {"error": "body must be a JSON object"})
        if not isinstance(data.get("batch_id"), str):
            raise Reply(400, {"error": "batch_id must be a string"})
        readings = data.get("readings")
        if not isinstance(readings, list):
            raise Reply(400, {"error": "readings must be a list"})
        meters = self.server.catalogue.meter_by_id
        rows, rejected = [], []
        for index, r in enumerate(readings):
            row, reason = self._normalise(r, meters, locked)
            if reason:
                rejected.append({"index": index, "reason": reason})
            else:
                rows.append(row)
        if rejected:
            raise Reply(422, {"error": "validation failed", "rejected": rejected})
        for row in rows:
            row["batch_id"] = data["batch_id"]
        return rows

    @classmethod
    def _normalise(cls, r, meters: dict, locked: set) -> tuple[dict | None, str | None]:
        if not isinstance(r, dict):
            return None, "reading must be a JSON object"
        meter = cls._meter_key(r.get("meter_id"))
        if meter is None:
            return None, "meter_id missing or not an integer"
        if meter not in meters:
            return None, f"unknown meter_id {meter}"
        if meter in locked:
            return None, "meter locked"
        unit = r.get("unit")
        if unit is None:
            return None, "unit missing"
        if unit not in KNOWN_UNITS:
            return None, f"unknown unit {unit!r}"
        value = parse_value(r.get("value"))
        if value is None:
            return None, "value must be a finite number"
        estimated = r.get("estimated", False)
        if not isinstance(estimated, bool):
            return None, "estimated must be a boolean"
        source = r.get("source")
        if source is not None and not isinstance(source, dict):
            return None, "source must be an object"
        digest = r.get("hash")
        if digest is not None and not isinstance(digest, str):
            return None, "hash must be a string"
        row = {"meter_id": meter}
        has_period = "period_start" in r or "period_end" in r
        if has_period and "reading_date" in r:
            return None, "give either period_start/period_end or reading_date"
        if has_period:
            start = parse_timestamp(r.get("period_start"), allow_date=False)
            end = parse_timestamp(r.get("period_end"), allow_date=False)
            if start is None:
                return None, "period_start must be ISO 8601 with an offset"
            if end is None:
                return None, "period_end must be ISO 8601 with an offset"
            if end[0] <= start[0]:
                return None, "period_end must be after period_start"
            row.update(period_start=start[1], period_end=end[1])
            row["_key"] = (meter, "period", start[0], end[0])
        elif "reading_date" in r:
            when = parse_timestamp(r.get("reading_date"), allow_date=True)
            if when is None:
                return None, "reading_date must be a date or ISO 8601 with an offset"
            row["reading_date"] = when[1]
            row["_key"] = (meter, "date", when[0], when[0])
        else:
            return None, "period_start/period_end or reading_date missing"
        row.update(value=value, unit=unit, estimated=estimated, source=source, hash=digest)
        return row, None

    def _store(self, batch_id: str, rows: list[dict]) -> dict:
        """Upsert rows (caller holds the lock); return the response payload."""
        store = self.server.state.readings
        created = updated = unchanged = 0
        for row in rows:
            key = row.pop("_key")
            old = store.get(key)
            if old is None:
                created += 1
                row["revision"] = 1
            elif (old["value"], old["unit"], old["estimated"]) == (row["value"], row["unit"], row["estimated"]):
                unchanged += 1
                row["revision"] = old["revision"]
            else:
                updated += 1
                row["revision"] = old["revision"] + 1
            row["_sort"] = (key[0], key[2], key[3])
            store[key] = row
        return {"batch_id": batch_id, "accepted": len(rows), "created": created,
                "updated": updated, "unchanged": unchanged}


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
