#!/usr/bin/env python3
"""Deterministic energy-provider REST API simulator for scaler_fdw tests.

Standard library only (Python 3.11).  Binds 127.0.0.1 only.  HTTP/1.1 with
keep-alive; every response carries Content-Length (except the deliberate
``reset``/``truncate``/``stall`` faults).

Command line
------------
  --port N               TCP port (default 0 = any free port)
  --port-file PATH       after binding, write the port number to PATH
                         atomically (PATH.tmp, then rename)
  --verbose              log every request to stderr
  --assets N             number of assets (default 3)
  --meters-per-asset M   meters per asset (default 4)
  --readings K           readings per meter (default 90)
  --interval SECONDS     reading length (default 86400 = daily)
  --start ISO            start of the first reading (default 2025-01-01T00:00:00Z)
  --page-size P          default page size (default 100)
  --seed S               seed of the pseudo-random values (default 1)
SIGTERM / SIGINT shut the server down cleanly with exit status 0.

Portfolio (identical arguments give byte-identical response bodies)
-------------------------------------------------------------------
  asset    asset_id "A0001".., name ("Harbour House 1"), address, city,
           postcode, country (GB, NL, US, DE cyclic), floor_area (number,
           one decimal), floor_area_unit ("m2"; "ft2" for US)
  meter    meter_id "M00001".. (global counter), asset_id, name,
           serial_number ("SN-" + 8 digits), resource (meter j of an asset:
           electricity, gas, water, heat cyclic), unit (kWh, m3, m3, MWh),
           is_active (false for every 7th meter: M00007, M00014, ...)
  reading  meter_id, interval_start, interval_end ("2025-01-01T00:00:00+00:00"
           style), consumption (number, 3 decimals, > 0, seasonal and
           pseudo-random), unit, estimated (true for every 10th reading of a
           meter: reading index 9, 19, ...)

Resources (below the optional switch prefix; GET only, else 405)
---------------------------------------------------------------
  /assets                         filter asset_id=A0001[,A0002...]
  /assets/{asset_id}              one object (404 if unknown)
  /assets/{asset_id}/meters       list
  /meters                         filters asset_id, meter_id, resource
                                  (each one value or a comma list)
  /meters/{meter_id}              one object (404 if unknown)
  /meters/{meter_id}/consumption  list, filters from, to
  /consumption                    every reading, ordered by meter then time;
                                  filters meter_id, asset_id (lists), from
                                  (inclusive) and to (exclusive) on
                                  interval_start.  from/to: ISO 8601 with an
                                  offset or "Z" (a literal "+" must be sent as
                                  %2B), or YYYY-MM-DD = midnight UTC; anything
                                  else -> 400.
  anything else -> 404 {"error": "not found", "path": ...}
Every list resource is paged with the selected pagination style.

Scenario switches: leading path segments key=value
--------------------------------------------------
e.g. http://127.0.0.1:PORT/auth=bearer/pages=link/latency=50/meters .
Unknown keys or bad values -> 400.
  run=<id>        namespace of fault counters, rate limits, request log
                  and statistics (default "default")
  auth=<mode>     none (default) | header | query | basic | bearer |
                  oauth_cc | oauth_pw | login
                    header   header X-API-Key: key-7f3a9c
                    query    query parameter api_key=key-7f3a9c
                    basic    demo-user / pw-51d2e8, or key-7f3a9c / ""
                    bearer   Authorization: Bearer tok-9b81c4
                    oauth_cc POST <prefix>/oauth/token, form
                             grant_type=client_credentials, client_id=client-1,
                             client_secret=cs-2e6d0a (or the client as HTTP
                             Basic) -> {"access_token","token_type":"Bearer",
                             "expires_in"}; then Authorization: Bearer <token>
                    oauth_pw same endpoint, grant_type=password,
                             username=demo-user, password=pw-51d2e8 (client_id
                             and client_secret optional, checked if sent)
                    login    POST <prefix>/login JSON {"username","password"}
                             -> {"session":{"token","expires_in"}}; then
                             header X-Session-Token: <token>
                  Failures: 401 {"error": ...}; basic adds WWW-Authenticate:
                  Basic realm="provider", bearer/oauth add WWW-Authenticate:
                  Bearer.  Unknown/expired token -> {"error":"invalid_token"},
                  bad password grant -> {"error":"invalid_grant"}, bad client
                  -> {"error":"invalid_client"}, grant not allowed in the mode
                  -> 400 {"error":"unsupported_grant_type"}.  The token and
                  login endpoints work under every auth mode (POST only).
  keyname=<name>  header name (auth=header) or query name (auth=query)
  ttl=<seconds>   lifetime of issued OAuth tokens / sessions (default 3600)
  pages=<style>   pagination (default next):
                    next    ?page=1..&page_size=n -> {"count","next","previous",
                            "results"}; next/previous are absolute URLs (same
                            prefix and query) or null
                    page0   ?page=0..&page_size=n   -> {"page","page_size",
                    page1   ?page=1..&page_size=n      "total_pages","total",
                                                       "data"} ([] past the end)
                    offset  ?offset=o&limit=l -> {"total","offset","limit","items"}
                    cursor  ?cursor=c&page_size=n -> {"data","pagination":
                            {"after": cursor or null}} (cursor: opaque base64)
                    link    ?page=1..&per_page=n -> bare JSON array, header
                            Link: <url>; rel="next", <url>; rel="last"
                            (no rel="next" on the last page)
                    none    {"data": [...everything...]}
  latency=<ms>    sleep before answering each API request (also token/login)
  fault=<kind>    fault on resource requests (not token/login); faultn=<N>
                  limits it to the first N requests per (run, kind, resource
                  path); default unlimited.
                    429 | 503     that status, Retry-After: <retry>, JSON error
                    500 | 502     {"error":"upstream failure","detail":"simulated"}
                    reset         no response; connection closed with an RST
                                  (SO_LINGER 0)
                    stall         status, headers, first 20 body bytes, then a
                                  pause of <stall> seconds, then the rest
                    stallhead     nothing for <stall> seconds, then the answer
                    truncate      full Content-Length, half the body, close
                    malformed     200 with one brace near the middle removed
                    wrongtype     200; every 3rd record has consumption (assets:
                                  floor_area, meters: is_active) = "n/a", the
                                  5th record has interval_start "not-a-date"
                                  (single objects get both changes)
                    ratelimit     more than <rps> requests served within any
                                  1 s sliding window (per run) -> 429 with
                                  Retry-After: 1; every response carries
                                  X-RateLimit-Limit/-Remaining/-Reset (faultn
                                  is ignored)
                    redirect      302, Location: file:///etc/passwd (to=file),
                                  http://127.0.0.1:PORT/<same URL without the
                                  fault/faultn/to switches> (to=http, default),
                                  or the same with https:// (to=https)
  faultn=<N>      see fault
  retry=<s>       Retry-After value for 429/503 (default 1)
  stall=<s>       pause of stall/stallhead (default 60; may be fractional;
                  interrupted by server shutdown)
  rps=<n>         limit for fault=ratelimit (default 5)
  to=<target>     file | http | https for fault=redirect
  gzip=1          gzip the body when the request has Accept-Encoding: gzip

Control endpoints (no auth, latency or faults; work at the root or below a
switch prefix, whose run= then is the default namespace)
-------------------------------------------------------------------------
  GET    /_requests?run=<id>  JSON array of the API requests of the namespace,
                              oldest first: {"seq","time","method","path",
                              "prefix","query","headers","body","status"};
                              status is an int, "reset" or "stall"; at most
                              100,000 kept per namespace
  DELETE /_requests[?run=id]  clear one namespace (no run: all)
  GET    /_health             {"ok": true}
  GET    /_stats              {"total_requests", "runs": {run: {"requests",
                              "max_per_second", "statuses"}}, "cache": {...}}
  DELETE /_stats              reset the statistics
"""

from __future__ import annotations

import argparse
import array
import base64
import bisect
import collections
import datetime as dt
import gzip
import hashlib
import http
import http.server
import json
import math
import os
import re
import secrets
import signal
import socket
import struct
import sys
import threading
import time
import traceback
from dataclasses import dataclass
from urllib.parse import parse_qs, parse_qsl, unquote, urlencode, urlsplit

# ---------------------------------------------------------------------------
# Fixed credentials
# ---------------------------------------------------------------------------
API_KEY = "key-7f3a9c"
API_KEY_HEADER = "X-API-Key"
API_KEY_PARAM = "api_key"
BASIC_USER = "demo-user"
BASIC_PASSWORD = "pw-51d2e8"
BEARER_TOKEN = "tok-9b81c4"
CLIENT_ID = "client-1"
CLIENT_SECRET = "cs-2e6d0a"
SESSION_HEADER = "X-Session-Token"

HOST = "127.0.0.1"
LOG_LIMIT = 100_000
CACHE_LIMIT_BYTES = 768 * 1024 * 1024
JSON_CT = "application/json"

AUTH_MODES = ("none", "header", "query", "basic", "bearer", "oauth_cc", "oauth_pw", "login")
PAGE_STYLES = ("next", "page0", "page1", "offset", "cursor", "link", "none")
STATUS_FAULTS = ("429", "503", "500", "502", "reset", "stallhead", "redirect")
BODY_FAULTS = ("stall", "truncate", "malformed", "wrongtype")
FAULT_KINDS = STATUS_FAULTS + BODY_FAULTS + ("ratelimit",)
REDIRECT_TARGETS = ("file", "http", "https")
SWITCHES = ("run", "auth", "keyname", "ttl", "pages", "latency", "fault", "faultn",
            "retry", "stall", "rps", "to", "gzip")
CONTROL_PATHS = ("/_requests", "/_health", "/_stats")
AUTH_ENDPOINTS = ("/oauth/token", "/login")

# ---------------------------------------------------------------------------
# Portfolio generation
# ---------------------------------------------------------------------------
RESOURCES = ("electricity", "gas", "water", "heat")
UNITS = {"electricity": "kWh", "gas": "m3", "water": "m3", "heat": "MWh"}
DAILY_BASE = {"electricity": 850.0, "gas": 120.0, "water": 14.0, "heat": 2.6}
SEASON_AMPLITUDE = {"electricity": 120, "gas": 450, "water": 80, "heat": 500}
COUNTRIES = ("GB", "NL", "US", "DE")
ASSET_NAMES = ("Harbour House", "Mill Court", "Station Yard", "Quayside Works",
               "Orchard Place", "Granary Wharf", "Linden Hall", "Beacon Tower")
PLACES = {
    "GB": (("Dock Street", "London", "E1W 2AB"), ("Wellington Street", "Leeds", "LS1 4AP"),
           ("Queen Square", "Bristol", "BS1 4LH")),
    "NL": (("Prinsengracht", "Amsterdam", "1015 DV"), ("Coolsingel", "Rotterdam", "3011 AD"),
           ("Oudegracht", "Utrecht", "3511 AB")),
    "US": (("Atlantic Avenue", "Boston", "02110"), ("Wacker Drive", "Chicago", "60601"),
           ("Market Street", "San Francisco", "94105")),
    "DE": (("Friedrichstrasse", "Berlin", "10117"), ("Jungfernstieg", "Hamburg", "20354"),
           ("Zeil", "Frankfurt am Main", "60313")),
}
MASK32 = 0xFFFFFFFF


def _stable_hash(*parts: object) -> int:
    """64-bit hash of the parts, stable across runs and platforms."""
    text = "|".join(str(p) for p in parts).encode()
    return int.from_bytes(hashlib.sha256(text).digest()[:8], "big")


def _dumps(obj: object) -> str:
    return json.dumps(obj, separators=(",", ":"))


def parse_iso(value: str) -> dt.datetime:
    """Parse ISO 8601 with an offset or Z, or YYYY-MM-DD (midnight UTC).

    Raises ValueError for anything else, including date-times without offset."""
    value = value.strip()
    if re.fullmatch(r"\d{4}-\d{2}-\d{2}", value):
        return dt.datetime.strptime(value, "%Y-%m-%d").replace(tzinfo=dt.timezone.utc)
    if not re.fullmatch(r"\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}(:\d{2}(\.\d{1,6})?)?"
                        r"(Z|[+-]\d{2}:?\d{2})", value):
        raise ValueError("not an ISO 8601 timestamp with offset")
    return dt.datetime.fromisoformat(value)


EPOCH = dt.datetime(1970, 1, 1, tzinfo=dt.timezone.utc)
ONE_US = dt.timedelta(microseconds=1)


def epoch_us(when: dt.datetime) -> int:
    return (when - EPOCH) // ONE_US


class Portfolio:
    """The deterministic assets, meters and readings served by the simulator."""

    def __init__(self, assets: int, meters_per_asset: int, readings: int,
                 interval: int, start: dt.datetime, seed: int):
        self.readings = readings
        self.interval = interval
        self.start_us = epoch_us(start)
        self.interval_us = interval * 1_000_000
        self.seed = seed

        self.assets: list[dict] = []
        self.meters: list[dict] = []
        self.meters_by_asset: dict[str, list[int]] = {}
        for a in range(1, assets + 1):
            country = COUNTRIES[(a - 1) % len(COUNTRIES)]
            street, city, postcode = PLACES[country][((a - 1) // len(COUNTRIES)) % 3]
            h = _stable_hash(seed, "asset", a)
            area = 250.0 + (h % 150_000) / 10.0
            asset = {
                "asset_id": f"A{a:04d}",
                "name": f"{ASSET_NAMES[(a - 1) % len(ASSET_NAMES)]} {a}",
                "address": f"{1 + (h >> 20) % 180} {street}",
                "city": city,
                "postcode": postcode,
                "country": country,
                "floor_area": round(area * 10.764, 1) if country == "US" else area,
                "floor_area_unit": "ft2" if country == "US" else "m2",
            }
            self.assets.append(asset)
            self.meters_by_asset[asset["asset_id"]] = []
            for j in range(meters_per_asset):
                n = len(self.meters) + 1
                resource = RESOURCES[j % 4]
                occurrence = j // 4
                hm = _stable_hash(seed, "meter", n)
                suffix = "main" if occurrence == 0 else f"sub-meter {occurrence}"
                self.meters_by_asset[asset["asset_id"]].append(len(self.meters))
                self.meters.append({
                    "meter_id": f"M{n:05d}",
                    "asset_id": asset["asset_id"],
                    "name": f"{asset['name']} {resource} {suffix}",
                    "serial_number": f"SN-{hm % 100_000_000:08d}",
                    "resource": resource,
                    "unit": UNITS[resource],
                    "is_active": n % 7 != 0,
                })
        self.asset_index = {x["asset_id"]: i for i, x in enumerate(self.assets)}
        self.meter_index = {x["meter_id"]: i for i, x in enumerate(self.meters)}
        self.asset_json = [_dumps(x) for x in self.assets]
        self.meter_json = [_dumps(x) for x in self.meters]

        # Per-meter constants of the reading generator.
        self._gen = []
        for idx, m in enumerate(self.meters):
            n = idx + 1
            hm = _stable_hash(seed, "size", n)
            size = 0.5 + (hm % 1000) / 1000.0
            base_milli = max(1, int(DAILY_BASE[m["resource"]] * size * 1000 * interval / 86400))
            self._gen.append((
                '{"meter_id":"%s","interval_start":"' % m["meter_id"],
                ',"unit":"%s","estimated":' % m["unit"],
                (seed * 0x9E3779B1 + n * 0x85EBCA77) & MASK32,
                base_milli,
                m["resource"],
            ))

        # Interval boundaries, shared by all meters, and seasonal factors (per mille).
        self.stamps = [
            dt.datetime.fromtimestamp((self.start_us + i * self.interval_us) / 1e6,
                                      dt.timezone.utc).isoformat()
            for i in range(readings + 1)
        ]
        doy = [dt.datetime.fromtimestamp((self.start_us + i * self.interval_us) / 1e6,
                                         dt.timezone.utc).timetuple().tm_yday
               for i in range(readings)]
        self.season = {}
        for res in RESOURCES:
            amp = SEASON_AMPLITUDE[res]
            table = [int(1000 + amp * math.cos(2 * math.pi * (d - 15) / 365.25)) for d in range(367)]
            self.season[res] = array.array("i", (table[d] for d in doy))

    def render_readings(self, meter: int, lo: int, hi: int, out: list) -> None:
        """Append the JSON text of readings lo..hi-1 of one meter to out."""
        head, tail, mseed, base, res = self._gen[meter]
        stamps = self.stamps
        season = self.season[res]
        append = out.append
        for i in range(lo, hi):
            x = (mseed + i * 0xC2B2AE3D) & MASK32
            x = ((x ^ (x >> 16)) * 0x45D9F3B) & MASK32
            x = ((x ^ (x >> 16)) * 0x45D9F3B) & MASK32
            v = base * season[i] * (700 + (x ^ (x >> 16)) % 600) // 1_000_000 or 1
            append(f'{head}{stamps[i]}","interval_end":"{stamps[i + 1]}",'
                   f'"consumption":{v // 1000}.{v % 1000:03d}{tail}'
                   f'{"true" if i % 10 == 9 else "false"}}}')

    def index_range(self, start_us: int | None, end_us: int | None) -> tuple[int, int]:
        """Reading indexes whose interval_start is in [start_us, end_us)."""
        def first_at_or_after(t: int) -> int:
            return min(self.readings, max(0, -((self.start_us - t) // self.interval_us)))
        lo = 0 if start_us is None else first_at_or_after(start_us)
        hi = self.readings if end_us is None else first_at_or_after(end_us)
        return lo, max(lo, hi)


class Listing:
    """A virtual list of JSON record texts; slices are rendered on demand."""

    def __init__(self, total: int, render):
        self.total = total
        self._render = render

    def slice(self, lo: int, hi: int) -> list[str]:
        lo, hi = max(0, min(lo, self.total)), max(0, min(hi, self.total))
        return self._render(lo, hi) if hi > lo else []

    @classmethod
    def of(cls, texts: list[str]) -> "Listing":
        return cls(len(texts), lambda lo, hi: texts[lo:hi])

    @classmethod
    def readings(cls, pf: Portfolio, segments: list[tuple[int, int, int]]) -> "Listing":
        segments = [s for s in segments if s[2] > s[1]]
        starts, total = [], 0
        for _, lo, hi in segments:
            starts.append(total)
            total += hi - lo

        def render(a: int, b: int) -> list[str]:
            out: list[str] = []
            k = bisect.bisect_right(starts, a) - 1
            while a < b and k < len(segments):
                meter, lo, hi = segments[k]
                off = a - starts[k]
                n = min(b - a, hi - lo - off)
                pf.render_readings(meter, lo + off, lo + off + n, out)
                a += n
                k += 1
            return out
        return cls(total, render)


WRONG_NUMBER = re.compile(r'"(consumption|floor_area)":[^,}]+|"is_active":(true|false)')
WRONG_START = re.compile(r'"interval_start":"[^"]*"')


def make_wrong(text: str, bad_number: bool, bad_start: bool) -> str:
    """Apply the wrongtype fault to one record's JSON text."""
    if bad_number:
        text = WRONG_NUMBER.sub(lambda m: '"%s":"n/a"' % m.group(0).split('"')[1], text, count=1)
    if bad_start:
        text = WRONG_START.sub('"interval_start":"not-a-date"', text, count=1)
    return text


def corrupt_json(body: bytes) -> bytes:
    """Remove the brace nearest to the middle of body (fault=malformed)."""
    mid = len(body) // 2
    found = [j for j in (body.rfind(b"{", 0, mid), body.rfind(b"}", 0, mid),
                         body.find(b"{", mid), body.find(b"}", mid)) if j >= 0]
    if not found:
        return body[:mid]
    j = min(found, key=lambda k: abs(k - mid))
    return body[:j] + body[j + 1:]


# ---------------------------------------------------------------------------
# Scenario switches
# ---------------------------------------------------------------------------
class HTTPFail(Exception):
    """Abort request processing with a JSON error response."""

    def __init__(self, status: int, payload: object, headers=()):
        super().__init__(status)
        self.status = status
        self.payload = payload
        self.headers = list(headers)


@dataclass
class Scenario:
    segments: list
    run: str = "default"
    auth: str = "none"
    keyname: str | None = None
    ttl: int = 3600
    pages: str = "next"
    latency_ms: float = 0.0
    fault: str | None = None
    faultn: int | None = None
    retry: int = 1
    stall: float = 60.0
    rps: int = 5
    to: str = "http"
    gzip: bool = False

    @property
    def prefix(self) -> str:
        return "".join("/" + s for s in self.segments)

    def prefix_without(self, keys: tuple) -> str:
        return "".join("/" + s for s in self.segments if s.split("=", 1)[0] not in keys)


def _bad_switch(key: str, value: str, why: str) -> HTTPFail:
    return HTTPFail(400, {"error": "bad switch", "switch": f"{key}={value}", "detail": why})


def parse_scenario(segments: list[str]) -> Scenario:
    sc = Scenario(segments=segments)
    for seg in segments:
        key, value = seg.split("=", 1)
        key, value = unquote(key), unquote(value)
        try:
            if key not in SWITCHES:
                raise _bad_switch(key, value, "unknown switch; known: " + ", ".join(SWITCHES))
            if key == "run":
                if not value:
                    raise _bad_switch(key, value, "empty run id")
                sc.run = value
            elif key == "auth":
                if value not in AUTH_MODES:
                    raise _bad_switch(key, value, "one of " + ", ".join(AUTH_MODES))
                sc.auth = value
            elif key == "keyname":
                if not re.fullmatch(r"[A-Za-z0-9_.-]+", value):
                    raise _bad_switch(key, value, "not a valid header/parameter name")
                sc.keyname = value
            elif key == "pages":
                if value not in PAGE_STYLES:
                    raise _bad_switch(key, value, "one of " + ", ".join(PAGE_STYLES))
                sc.pages = value
            elif key == "fault":
                if value not in FAULT_KINDS:
                    raise _bad_switch(key, value, "one of " + ", ".join(FAULT_KINDS))
                sc.fault = value
            elif key == "to":
                if value not in REDIRECT_TARGETS:
                    raise _bad_switch(key, value, "one of " + ", ".join(REDIRECT_TARGETS))
                sc.to = value
            elif key == "gzip":
                if value not in ("0", "1"):
                    raise _bad_switch(key, value, "0 or 1")
                sc.gzip = value == "1"
            elif key in ("latency", "stall"):
                number = float(value)
                if not math.isfinite(number) or number < 0:
                    raise ValueError
                if key == "latency":
                    sc.latency_ms = number
                else:
                    sc.stall = number
            else:  # ttl, faultn, retry, rps: non-negative integers
                number = int(value)
                if number < 0 or (key == "rps" and number < 1):
                    raise ValueError
                setattr(sc, key, number)
        except ValueError:
            raise _bad_switch(key, value, "not a valid non-negative number") from None
    return sc


# ---------------------------------------------------------------------------
# Server state
# ---------------------------------------------------------------------------
class PageCache:
    """LRU cache of encoded response bodies, bounded by total size."""

    def __init__(self, limit: int):
        self._limit = limit
        self._data: collections.OrderedDict = collections.OrderedDict()
        self._bytes = 0
        self._lock = threading.Lock()

    def get(self, key):
        with self._lock:
            item = self._data.get(key)
            if item is None:
                return None
            self._data.move_to_end(key)
            return item[0]

    def put(self, key, value, size: int) -> None:
        if size > self._limit:
            return
        with self._lock:
            old = self._data.pop(key, None)
            if old is not None:
                self._bytes -= old[1]
            self._data[key] = (value, size)
            self._bytes += size
            while self._bytes > self._limit:
                _, (_, dropped) = self._data.popitem(last=False)
                self._bytes -= dropped

    def info(self) -> dict:
        with self._lock:
            return {"entries": len(self._data), "bytes": self._bytes}


class ProviderServer(http.server.ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    request_queue_size = 256

    def __init__(self, port: int, portfolio: Portfolio, page_size: int, verbose: bool):
        self.portfolio = portfolio
        self.page_size = page_size
        self.verbose = verbose
        self.stop_event = threading.Event()
        self.lock = threading.Lock()
        self.cache = PageCache(CACHE_LIMIT_BYTES)
        self.logs: dict[str, collections.deque] = {}
        self.seq = 0
        self.fault_counts: collections.Counter = collections.Counter()
        self.rate_windows: dict[str, collections.deque] = {}
        self.tokens: dict[str, float] = {}
        self.sessions: dict[str, float] = {}
        self._reset_stats()
        super().__init__((HOST, port), ProviderHandler)

    def _reset_stats(self) -> None:
        self.total_requests = 0
        self.run_stats: dict[str, dict] = {}

    @property
    def port(self) -> int:
        return self.server_address[1]

    def handle_error(self, request, client_address):
        if isinstance(sys.exc_info()[1], (ConnectionError, TimeoutError)) and not self.verbose:
            return
        super().handle_error(request, client_address)

    # -- bookkeeping (callers hold no lock) ----------------------------------
    def record(self, run: str, entry: dict) -> None:
        now = entry["time"]
        with self.lock:
            self.seq += 1
            entry["seq"] = self.seq
            self.logs.setdefault(run, collections.deque(maxlen=LOG_LIMIT)).append(entry)
            self.total_requests += 1
            st = self.run_stats.setdefault(
                run, {"requests": 0, "max_per_second": 0, "statuses": {}, "buckets": {}})
            st["requests"] += 1
            second = int(now)
            buckets = st["buckets"]
            buckets[second] = buckets.get(second, 0) + 1
            st["max_per_second"] = max(st["max_per_second"], buckets[second])
            if len(buckets) > 16:
                for old in [s for s in buckets if s < second - 10]:
                    del buckets[old]

    def set_status(self, run: str, entry: dict, status) -> None:
        with self.lock:
            entry["status"] = status
            st = self.run_stats.get(run)
            if st is not None:
                key = str(status)
                st["statuses"][key] = st["statuses"].get(key, 0) + 1

    def take_fault(self, sc: Scenario, path: str) -> bool:
        """Count one request against the fault budget; True if it must fail."""
        with self.lock:
            key = (sc.run, sc.fault, path)
            self.fault_counts[key] += 1
            return sc.faultn is None or self.fault_counts[key] <= sc.faultn

    def issue(self, store: dict, ttl: int) -> str:
        token = secrets.token_hex(16)
        now = time.time()
        with self.lock:
            for t in [t for t, exp in store.items() if exp <= now]:
                del store[t]
            store[token] = now + ttl
        return token

    def live(self, store: dict, token: str | None) -> bool:
        if not token:
            return False
        with self.lock:
            exp = store.get(token)
        return exp is not None and exp > time.time()


# ---------------------------------------------------------------------------
# Request handling
# ---------------------------------------------------------------------------
class ProviderHandler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "provider-sim/1.0"
    sys_version = ""
    server: ProviderServer

    def setup(self):
        super().setup()
        self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

    def log_message(self, format, *args):  # noqa: A002 (signature of the base class)
        if self.server.verbose:
            super().log_message(format, *args)

    def do_GET(self):
        self._handle()

    do_POST = do_PUT = do_PATCH = do_DELETE = do_OPTIONS = do_HEAD = do_GET

    # -- low level I/O -------------------------------------------------------
    def _read_body(self) -> bytes:
        if "chunked" in self.headers.get("Transfer-Encoding", "").lower():
            chunks = []
            while True:
                line = self.rfile.readline(65537)
                try:
                    size = int(line.split(b";", 1)[0].strip(), 16)
                except ValueError:
                    self.close_connection = True
                    raise HTTPFail(400, {"error": "invalid chunked encoding"}) from None
                if size == 0:
                    while self.rfile.readline(65537) not in (b"\r\n", b"\n", b""):
                        pass
                    return b"".join(chunks)
                chunks.append(self.rfile.read(size))
                self.rfile.readline(65537)
        length = self.headers.get("Content-Length")
        if length is None:
            return b""
        try:
            n = int(length)
            if n < 0:
                raise ValueError
        except ValueError:
            self.close_connection = True
            raise HTTPFail(400, {"error": "invalid Content-Length"}) from None
        return self.rfile.read(n) if n else b""

    def _head(self, status: int, headers, length: int) -> bytes:
        try:
            phrase = http.HTTPStatus(status).phrase
        except ValueError:
            phrase = "Status"
        lines = [f"HTTP/1.1 {status} {phrase}",
                 f"Server: {self.server_version}",
                 f"Date: {self.date_time_string()}"]
        lines += [f"{k}: {v}" for k, v in headers]
        lines.append(f"Content-Length: {length}")
        if self.close_connection:
            lines.append("Connection: close")
        self.log_request(status, length)
        return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1")

    def _send(self, status: int, body: bytes, headers=(), content_type: str | None = JSON_CT):
        hdrs = ([("Content-Type", content_type)] if content_type else []) + list(headers) + self._extra
        head = self._head(status, hdrs, len(body))
        self._status(status)
        self.wfile.write(head if self.command == "HEAD" else head + body)

    def _send_json(self, status: int, payload, headers=()):
        self._send(status, _dumps(payload).encode(), headers)

    def _status(self, status) -> None:
        if self._entry is not None and self._entry["status"] is None:
            self.server.set_status(self._run, self._entry, status)

    def _wait(self, seconds: float) -> None:
        if seconds > 0 and self.server.stop_event.wait(seconds):
            self.close_connection = True
            raise ConnectionAbortedError("server shutting down")

    # -- entry point -----------------------------------------------------------
    def _handle(self):
        self._entry = None
        self._run = "default"
        self._extra: list = []
        try:
            body = self._read_body()
            self._dispatch(body)
        except HTTPFail as fail:
            self._send_json(fail.status, fail.payload, fail.headers)
        except (ConnectionError, TimeoutError):
            self.close_connection = True
        except Exception:  # a bug: report it, answer 500
            traceback.print_exc()
            self.close_connection = True
            try:
                self._send_json(500, {"error": "internal server error"})
            except OSError:
                pass

    def _dispatch(self, body: bytes):
        split = urlsplit(self.path)
        segments = [s for s in split.path.split("/") if s]
        n = 0
        while n < len(segments) and "=" in segments[n]:
            n += 1
        switches, path = segments[:n], "/" + "/".join(segments[n:])
        pairs = parse_qsl(split.query, keep_blank_values=True)
        for seg in switches:
            if seg.startswith("run="):
                self._run = unquote(seg[4:]) or "default"

        if path in CONTROL_PATHS:
            return self._control(path, pairs, switches)

        self._entry = {
            "seq": 0, "time": time.time(), "method": self.command, "path": path,
            "prefix": "".join("/" + s for s in switches),
            "query": parse_qs(split.query, keep_blank_values=True),
            "headers": self._header_dict(), "body": body.decode("utf-8", "replace"),
            "status": None,
        }
        self.server.record(self._run, self._entry)
        sc = parse_scenario(switches)
        if sc.latency_ms:
            self._wait(sc.latency_ms / 1000.0)
        if path in AUTH_ENDPOINTS:
            return self._auth_endpoint(sc, path, body)

        if sc.fault == "ratelimit":
            self._rate_limit(sc)
        if sc.fault in STATUS_FAULTS and self.server.take_fault(sc, path):
            if sc.fault == "stallhead":
                self._wait(sc.stall)
            else:
                return self._status_fault(sc, path, split.query)
        self._check_auth(sc, pairs)

        route = self._match(path)
        if route is None:
            raise HTTPFail(404, {"error": "not found", "path": path})
        if self.command != "GET":
            raise HTTPFail(405, {"error": "method not allowed", "method": self.command},
                           [("Allow", "GET")])
        wrong = sc.fault == "wrongtype" and self.server.take_fault(sc, path)
        payload, headers = self._resource(sc, path, route, pairs, wrong)
        fault = sc.fault if sc.fault in ("stall", "truncate", "malformed") else None
        if fault and not self.server.take_fault(sc, path):
            fault = None
        if fault == "malformed":
            payload = corrupt_json(payload)
        if sc.gzip and "gzip" in self.headers.get("Accept-Encoding", "").lower():
            payload = self._gzip(payload, wrong, fault == "malformed")
            headers = headers + [("Content-Encoding", "gzip"), ("Vary", "Accept-Encoding")]
        if fault == "stall":
            return self._send_stalled(sc, payload, headers)
        if fault == "truncate":
            self.close_connection = True
            head = self._head(200, [("Content-Type", JSON_CT)] + headers + self._extra, len(payload))
            self._status(200)
            self.wfile.write(head + payload[: len(payload) // 2])
            return
        self._send(200, payload, headers)

    def _header_dict(self) -> dict:
        out: dict[str, str] = {}
        for k, v in self.headers.items():
            k = k.lower()
            out[k] = f"{out[k]}, {v}" if k in out else v
        return out

    # -- control endpoints ---------------------------------------------------
    def _control(self, path: str, pairs, switches):
        q = dict(pairs)
        srv = self.server
        if path == "/_health" and self.command == "GET":
            return self._send_json(200, {"ok": True})
        if path == "/_requests" and self.command in ("GET", "DELETE"):
            explicit = "run" in q or any(s.startswith("run=") for s in switches)
            run = q.get("run", self._run)
            with srv.lock:
                if self.command == "GET":
                    data = [dict(e) for e in srv.logs.get(run, ())]
                elif explicit:
                    srv.logs.pop(run, None)
                    data = {"cleared": run}
                else:
                    srv.logs.clear()
                    data = {"cleared": "all"}
            return self._send_json(200, data)
        if path == "/_stats" and self.command in ("GET", "DELETE"):
            with srv.lock:
                if self.command == "DELETE":
                    srv._reset_stats()
                runs = {r: {"requests": s["requests"], "max_per_second": s["max_per_second"],
                            "statuses": dict(s["statuses"])} for r, s in srv.run_stats.items()}
                data = {"total_requests": srv.total_requests, "runs": runs}
            data["cache"] = srv.cache.info()
            return self._send_json(200, data)
        raise HTTPFail(405, {"error": "method not allowed", "method": self.command})

    # -- authentication --------------------------------------------------------
    def _basic_credentials(self) -> tuple[str, str] | None:
        value = self.headers.get("Authorization", "")
        scheme, _, param = value.partition(" ")
        if scheme.lower() != "basic":
            return None
        try:
            user, sep, password = base64.b64decode(param.strip(), validate=True).decode().partition(":")
        except (ValueError, UnicodeDecodeError):
            return None
        return (user, password) if sep else None

    def _bearer(self) -> str | None:
        scheme, _, param = self.headers.get("Authorization", "").partition(" ")
        return param.strip() if scheme.lower() == "bearer" and param.strip() else None

    def _check_auth(self, sc: Scenario, pairs) -> None:
        mode = sc.auth
        if mode == "none":
            return
        if mode == "header":
            name = sc.keyname or API_KEY_HEADER
            value = self.headers.get(name)
            if value is None:
                raise HTTPFail(401, {"error": f"missing api key header {name}"})
            if value != API_KEY:
                raise HTTPFail(401, {"error": "invalid api key"})
        elif mode == "query":
            name = sc.keyname or API_KEY_PARAM
            values = [v for k, v in pairs if k == name]
            if not values:
                raise HTTPFail(401, {"error": f"missing api key parameter {name}"})
            if values[-1] != API_KEY:
                raise HTTPFail(401, {"error": "invalid api key"})
        elif mode == "basic":
            challenge = [("WWW-Authenticate", 'Basic realm="provider"')]
            creds = self._basic_credentials()
            if creds is None:
                raise HTTPFail(401, {"error": "missing basic credentials"}, challenge)
            if creds not in ((BASIC_USER, BASIC_PASSWORD), (API_KEY, "")):
                raise HTTPFail(401, {"error": "invalid credentials"}, challenge)
        elif mode == "bearer":
            token = self._bearer()
            if token != BEARER_TOKEN:
                raise HTTPFail(401, {"error": "invalid_token" if token else "missing bearer token"},
                               [("WWW-Authenticate", 'Bearer realm="provider"')])
        elif mode in ("oauth_cc", "oauth_pw"):
            if not self.server.live(self.server.tokens, self._bearer()):
                raise HTTPFail(401, {"error": "invalid_token"},
                               [("WWW-Authenticate", 'Bearer realm="provider", error="invalid_token"')])
        elif mode == "login":
            if not self.server.live(self.server.sessions, self.headers.get(SESSION_HEADER)):
                raise HTTPFail(401, {"error": "invalid session"})

    def _auth_endpoint(self, sc: Scenario, path: str, body: bytes):
        if self.command != "POST":
            raise HTTPFail(405, {"error": "method not allowed", "method": self.command},
                           [("Allow", "POST")])
        no_store = [("Cache-Control", "no-store")]
        is_json = "json" in self.headers.get("Content-Type", "").lower()
        if path == "/login":
            try:
                data = json.loads(body)
                if not isinstance(data, dict):
                    raise ValueError
            except ValueError:
                raise HTTPFail(400, {"error": "body must be a JSON object"}) from None
            if (data.get("username"), data.get("password")) != (BASIC_USER, BASIC_PASSWORD):
                raise HTTPFail(401, {"error": "invalid credentials"})
            token = self.server.issue(self.server.sessions, sc.ttl)
            return self._send_json(200, {"session": {"token": token, "expires_in": sc.ttl}}, no_store)

        try:
            if is_json:
                form = json.loads(body)
                if not isinstance(form, dict):
                    raise ValueError
            else:
                form = dict(parse_qsl(body.decode(), keep_blank_values=True))
        except (ValueError, UnicodeDecodeError):
            raise HTTPFail(400, {"error": "invalid_request"}) from None
        grant = form.get("grant_type")
        allowed = {"oauth_cc": ("client_credentials",), "oauth_pw": ("password",)}.get(
            sc.auth, ("client_credentials", "password"))
        if grant not in allowed:
            raise HTTPFail(400, {"error": "unsupported_grant_type"})
        client_id, secret = form.get("client_id"), form.get("client_secret")
        basic = self._basic_credentials()
        if basic and client_id is None:
            client_id, secret = basic
        if grant == "client_credentials" or client_id is not None or secret is not None:
            if (client_id, secret) != (CLIENT_ID, CLIENT_SECRET):
                raise HTTPFail(401, {"error": "invalid_client"},
                               [("WWW-Authenticate", 'Basic realm="provider"')])
        if grant == "password" and (form.get("username"), form.get("password")) != (BASIC_USER, BASIC_PASSWORD):
            raise HTTPFail(401, {"error": "invalid_grant"})
        token = self.server.issue(self.server.tokens, sc.ttl)
        self._send_json(200, {"access_token": token, "token_type": "Bearer", "expires_in": sc.ttl},
                        no_store)

    # -- faults ------------------------------------------------------------------
    def _rate_limit(self, sc: Scenario) -> None:
        now = time.time()
        with self.server.lock:
            window = self.server.rate_windows.setdefault(sc.run, collections.deque())
            while window and window[0] <= now - 1.0:
                window.popleft()
            limited = len(window) >= sc.rps
            if not limited:
                window.append(now)
            reset = int(math.ceil(window[0] + 1.0)) if window else int(math.ceil(now))
            remaining = max(0, sc.rps - len(window))
        self._extra = [("X-RateLimit-Limit", str(sc.rps)), ("X-RateLimit-Remaining", str(remaining)),
                       ("X-RateLimit-Reset", str(reset))]
        if limited:
            raise HTTPFail(429, {"error": "rate limited"}, [("Retry-After", "1")])

    def _status_fault(self, sc: Scenario, path: str, query: str):
        kind = sc.fault
        if kind in ("429", "503"):
            msg = "rate limited" if kind == "429" else "service unavailable"
            return self._send_json(int(kind), {"error": msg}, [("Retry-After", str(sc.retry))])
        if kind in ("500", "502"):
            return self._send_json(int(kind), {"error": "upstream failure", "detail": "simulated"})
        if kind == "reset":
            self._status("reset")
            self.close_connection = True
            self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            self.connection.close()
            return None
        if kind == "redirect":
            if sc.to == "file":
                target = "file:///etc/passwd"
            else:
                target = "%s://%s:%d%s%s%s" % (sc.to, HOST, self.server.port,
                                             sc.prefix_without(("fault", "faultn", "to")), path,
                                             "?" + query if query else "")
            return self._send_json(302, {"error": "moved", "location": target}, [("Location", target)])
        raise AssertionError(kind)

    def _send_stalled(self, sc: Scenario, payload: bytes, headers) -> None:
        head = self._head(200, [("Content-Type", JSON_CT)] + headers + self._extra, len(payload))
        self._status("stall")
        self.wfile.write(head + payload[:20])
        self._wait(sc.stall)
        self.wfile.write(payload[20:])

    def _gzip(self, payload: bytes, wrong: bool, malformed: bool) -> bytes:
        key = (self.path, wrong, "gzip")
        if not malformed:
            hit = self.server.cache.get(key)
            if hit is not None:
                return hit
        packed = gzip.compress(payload, compresslevel=6, mtime=0)
        if not malformed:
            self.server.cache.put(key, packed, len(packed))
        return packed

    # -- resources -----------------------------------------------------------
    @staticmethod
    def _match(path: str):
        parts = path.strip("/").split("/")
        if parts == ["assets"] or parts == ["meters"] or parts == ["consumption"]:
            return (parts[0], None, None)
        if len(parts) == 2 and parts[0] in ("assets", "meters"):
            return (parts[0], parts[1], None)
        if len(parts) == 3 and (parts[0], parts[2]) in (("assets", "meters"), ("meters", "consumption")):
            return (parts[0], parts[1], parts[2])
        return None

    def _resource(self, sc: Scenario, path: str, route, pairs, wrong: bool):
        """Body bytes and extra headers of a successful resource response (cached)."""
        key = (self.path, wrong)
        hit = self.server.cache.get(key)
        if hit is not None:
            return hit
        pf = self.server.portfolio
        kind, ident, sub = route

        def values(name: str) -> set[str] | None:
            found = [v for k, v in pairs if k == name]
            if not found:
                return None
            return {x.strip() for v in found for x in v.split(",") if x.strip()}

        def when(name: str) -> int | None:
            found = [v for k, v in pairs if k == name]
            if not found:
                return None
            try:
                return epoch_us(parse_iso(found[-1]))
            except ValueError:
                hint = " ('+' must be sent as %2B)" if " " in found[-1] else ""
                raise HTTPFail(400, {"error": f"invalid {name} timestamp{hint}",
                                     "value": found[-1]}) from None

        def not_found(what: str):
            return HTTPFail(404, {"error": f"{what} not found", "id": ident, "path": path})

        single = None
        if kind == "assets" and ident is None:
            wanted = values("asset_id")
            idx = range(len(pf.assets)) if wanted is None else sorted(
                {pf.asset_index[a] for a in wanted if a in pf.asset_index})
            listing = Listing.of([pf.asset_json[i] for i in idx])
        elif kind == "assets":
            if ident not in pf.asset_index:
                raise not_found("asset")
            if sub is None:
                single = pf.asset_json[pf.asset_index[ident]]
            else:
                listing = Listing.of([pf.meter_json[i] for i in pf.meters_by_asset[ident]])
        elif kind == "meters" and ident is None:
            assets, meters, resources = values("asset_id"), values("meter_id"), values("resource")
            listing = Listing.of([
                pf.meter_json[i] for i, m in enumerate(pf.meters)
                if (assets is None or m["asset_id"] in assets)
                and (meters is None or m["meter_id"] in meters)
                and (resources is None or m["resource"] in resources)])
        elif kind == "meters" and sub is None:
            if ident not in pf.meter_index:
                raise not_found("meter")
            single = pf.meter_json[pf.meter_index[ident]]
        else:  # readings: /consumption or /meters/{id}/consumption
            if ident is not None:
                if ident not in pf.meter_index:
                    raise not_found("meter")
                chosen = [pf.meter_index[ident]]
            else:
                meters, assets = values("meter_id"), values("asset_id")
                chosen = [i for i, m in enumerate(pf.meters)
                          if (meters is None or m["meter_id"] in meters)
                          and (assets is None or m["asset_id"] in assets)]
            lo, hi = pf.index_range(when("from"), when("to"))
            listing = Listing.readings(pf, [(i, lo, hi) for i in chosen])

        if single is not None:
            text, headers = (make_wrong(single, True, True) if wrong else single), []
        else:
            text, headers = self._page(sc, path, listing, pairs, wrong)
        value = (text.encode(), headers)
        self.server.cache.put(key, value, len(value[0]))
        return value

    def _url(self, sc: Scenario, path: str, pairs, changes: dict) -> str:
        out, done = [], set()
        for k, v in pairs:
            if k in changes:
                if k not in done:
                    out.append((k, str(changes[k])))
                    done.add(k)
            else:
                out.append((k, v))
        out += [(k, str(v)) for k, v in changes.items() if k not in done]
        return "http://%s:%d%s%s?%s" % (HOST, self.server.port, sc.prefix, path, urlencode(out))

    def _page(self, sc: Scenario, path: str, listing: Listing, pairs, wrong: bool):
        """Render one page of listing in the scenario's pagination style."""
        q = dict(pairs)
        total = listing.total

        def qint(name: str, default: int, minimum: int) -> int:
            if name not in q:
                return default
            try:
                value = int(q[name])
            except ValueError:
                value = minimum - 1
            if value < minimum:
                raise HTTPFail(400, {"error": f"invalid {name}", "value": q[name]})
            return value

        def items(lo: int, hi: int) -> str:
            recs = listing.slice(lo, hi)
            if wrong:
                recs = [make_wrong(r, p % 3 == 2, p == 4) for p, r in enumerate(recs)]
            return ",".join(recs)

        headers: list = []
        style = sc.pages
        default = self.server.page_size
        if style == "next":
            size, page = qint("page_size", default, 1), qint("page", 1, 1)
            lo = (page - 1) * size
            nxt = _dumps(self._url(sc, path, pairs, {"page": page + 1})) if lo + size < total else "null"
            prev = _dumps(self._url(sc, path, pairs, {"page": page - 1})) if page > 1 else "null"
            text = '{"count":%d,"next":%s,"previous":%s,"results":[%s]}' % (
                total, nxt, prev, items(lo, lo + size))
        elif style in ("page0", "page1"):
            first = 0 if style == "page0" else 1
            size, page = qint("page_size", default, 1), qint("page", first, first)
            lo = (page - first) * size
            text = '{"page":%d,"page_size":%d,"total_pages":%d,"total":%d,"data":[%s]}' % (
                page, size, -(-total // size), total, items(lo, lo + size))
        elif style == "offset":
            lo, size = qint("offset", 0, 0), qint("limit", default, 1)
            text = '{"total":%d,"offset":%d,"limit":%d,"items":[%s]}' % (
                total, lo, size, items(lo, lo + size))
        elif style == "cursor":
            size = qint("page_size", default, 1)
            lo = 0
            if q.get("cursor"):
                try:
                    tag, _, number = base64.urlsafe_b64decode(q["cursor"].encode()).decode().partition(":")
                    lo = int(number)
                    if tag != "o" or lo < 0:
                        raise ValueError
                except (ValueError, UnicodeDecodeError):
                    raise HTTPFail(400, {"error": "invalid cursor", "value": q["cursor"]}) from None
            after = "null"
            if lo + size < total:
                after = _dumps(base64.urlsafe_b64encode(b"o:%d" % (lo + size)).decode())
            text = '{"data":[%s],"pagination":{"after":%s}}' % (items(lo, lo + size), after)
        elif style == "link":
            size, page = qint("per_page", default, 1), qint("page", 1, 1)
            last = max(1, -(-total // size))
            links = []
            if page < last:
                links.append('<%s>; rel="next"' % self._url(sc, path, pairs, {"page": page + 1}))
            links.append('<%s>; rel="last"' % self._url(sc, path, pairs, {"page": last}))
            headers.append(("Link", ", ".join(links)))
            lo = (page - 1) * size
            text = "[%s]" % items(lo, lo + size)
        else:  # none
            text = '{"data":[%s]}' % items(0, total)
        return text, headers


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


def positive_int(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError("must be >= 1")
    return value


def non_negative_int(text: str) -> int:
    value = int(text)
    if value < 0:
        raise argparse.ArgumentTypeError("must be >= 0")
    return value


def iso_start(text: str) -> dt.datetime:
    try:
        value = dt.datetime.fromisoformat(text.strip())
    except ValueError:
        raise argparse.ArgumentTypeError("not an ISO 8601 timestamp") from None
    return value.replace(tzinfo=dt.timezone.utc) if value.tzinfo is None else value


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description="Energy-provider REST API simulator (see module docstring).")
    ap.add_argument("--port", type=non_negative_int, default=0)
    ap.add_argument("--port-file")
    ap.add_argument("--verbose", action="store_true")
    ap.add_argument("--assets", type=non_negative_int, default=3)
    ap.add_argument("--meters-per-asset", type=non_negative_int, default=4)
    ap.add_argument("--readings", type=non_negative_int, default=90)
    ap.add_argument("--interval", type=positive_int, default=86400)
    ap.add_argument("--start", type=iso_start, default=iso_start("2025-01-01T00:00:00Z"))
    ap.add_argument("--page-size", type=positive_int, default=100)
    ap.add_argument("--seed", type=int, default=1)
    args = ap.parse_args(argv)
    portfolio = Portfolio(args.assets, args.meters_per_asset, args.readings,
                          args.interval, args.start, args.seed)
    server = ProviderServer(args.port, portfolio, args.page_size, args.verbose)
    return serve(server, args.port_file)


if __name__ == "__main__":
    sys.exit(main())
