#!/usr/bin/env python3
"""Self-test of provider_server.py and scaler_sandbox.py (standard library only).

Each server runs as a subprocess on a free port (--port 0 --port-file); the
tests speak HTTP to it with http.client.  Run:  /usr/bin/python3 test/test_servers.py
"""

from __future__ import annotations

import base64
import gzip
import http.client
import json
import os
import re
import signal
import subprocess
import sys
import tempfile
import threading
import time
import unittest
from urllib.parse import urlencode, urlsplit

HERE = os.path.dirname(os.path.abspath(__file__))
HOST = "127.0.0.1"


class ServerProcess:
    """A server script started as a subprocess on a free port."""

    def __init__(self, script: str, *args: str):
        self.tmp = tempfile.TemporaryDirectory()
        port_file = os.path.join(self.tmp.name, "port")
        self.proc = subprocess.Popen(
            [sys.executable, os.path.join(HERE, script), "--port", "0", "--port-file", port_file, *args],
            stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL)
        deadline = time.monotonic() + 10
        while not os.path.exists(port_file):
            if self.proc.poll() is not None:
                raise RuntimeError(f"{script} exited with {self.proc.returncode}")
            if time.monotonic() > deadline:
                self.proc.kill()
                raise RuntimeError(f"{script} did not write its port file within 10 s")
            time.sleep(0.02)
        with open(port_file) as fh:
            self.port = int(fh.read().strip())

    def stop(self, sig=signal.SIGTERM) -> int:
        self.proc.send_signal(sig)
        try:
            return self.proc.wait(10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
            return -1
        finally:
            self.tmp.cleanup()


class Response:
    def __init__(self, status: int, headers, body: bytes):
        self.status, self.headers, self.body = status, headers, body

    def json(self):
        return json.loads(self.body)


def call(port: int, method: str, target: str, headers=None, body=None, timeout: float = 10) -> Response:
    """One request on a fresh connection; redirects are not followed."""
    if target.startswith("http://"):
        parts = urlsplit(target)
        assert (parts.hostname, parts.port) == (HOST, port), target
        target = parts.path + ("?" + parts.query if parts.query else "")
    if isinstance(body, (dict, list)):
        body = json.dumps(body)
        headers = {"Content-Type": "application/json", **(headers or {})}
    conn = http.client.HTTPConnection(HOST, port, timeout=timeout)
    try:
        conn.request(method, target, body=body, headers=headers or {})
        resp = conn.getresponse()
        return Response(resp.status, resp.headers, resp.read())
    finally:
        conn.close()


def basic(user: str, password: str) -> dict:
    return {"Authorization": "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()}


# ===========================================================================
# provider_server.py
# ===========================================================================
class ProviderTest(unittest.TestCase):
    N_ASSETS, N_METERS, N_READINGS = 3, 4, 90
    TOTAL = N_ASSETS * N_METERS * N_READINGS

    @classmethod
    def setUpClass(cls):
        cls.server = ServerProcess("provider_server.py")
        cls.port = cls.server.port

    @classmethod
    def tearDownClass(cls):
        rc = cls.server.stop(signal.SIGTERM)
        assert rc == 0, f"provider exited with {rc}"

    def get(self, target: str, headers=None, **kw) -> Response:
        return call(self.port, "GET", target, headers, **kw)

    def get_json(self, target: str, headers=None, status: int = 200):
        r = self.get(target, headers)
        self.assertEqual(r.status, status, r.body[:300])
        self.assertEqual(r.headers["Content-Type"], "application/json")
        return r.json()

    # -- pagination ---------------------------------------------------------
    def walk(self, style: str, resource: str, size: int, prefix: str = "", headers=None) -> list:
        """All records of resource, following the pagination of style."""
        base = f"{prefix}/pages={style}{resource}"
        sep = "&" if "?" in resource else "?"
        out, pages = [], 0
        if style == "next":
            url = f"{base}{sep}page_size={size}"
            first = True
            while url:
                body = self.get_json(url, headers)
                if first:
                    self.assertIsNone(body["previous"])
                    first = False
                self.assertLessEqual(len(body["results"]), size)
                out += body["results"]
                url = body["next"]
                pages += 1
            self.assertEqual(body["count"], len(out))
        elif style in ("page0", "page1"):
            page = 0 if style == "page0" else 1
            while True:
                body = self.get_json(f"{base}{sep}page={page}&page_size={size}", headers)
                if not body["data"]:
                    break
                self.assertEqual((body["page"], body["page_size"]), (page, size))
                out += body["data"]
                page += 1
                pages += 1
            self.assertEqual(body["total"], len(out))
            self.assertEqual(body["total_pages"], pages)
        elif style == "offset":
            offset = 0
            while True:
                body = self.get_json(f"{base}{sep}offset={offset}&limit={size}", headers)
                out += body["items"]
                offset += size
                pages += 1
                if offset >= body["total"]:
                    break
            self.assertEqual(body["total"], len(out))
        elif style == "cursor":
            cursor = None
            while True:
                extra = f"&cursor={cursor}" if cursor else ""
                body = self.get_json(f"{base}{sep}page_size={size}{extra}", headers)
                out += body["data"]
                pages += 1
                cursor = body["pagination"]["after"]
                if cursor is None:
                    break
        elif style == "link":
            url = f"{base}{sep}per_page={size}"
            while url:
                r = self.get(url, headers)
                self.assertEqual(r.status, 200)
                links = dict((rel, u) for u, rel in re.findall(r'<([^>]+)>; rel="(\w+)"', r.headers["Link"]))
                self.assertIn("last", links)
                out += r.json()
                url = links.get("next")
                pages += 1
        elif style == "none":
            out = self.get_json(base, headers)["data"]
        return out

    def test_pagination_styles(self):
        reference = self.get_json("/pages=none/consumption")["data"]
        self.assertEqual(len(reference), self.TOTAL)
        for style in ("next", "page0", "page1", "offset", "cursor", "link", "none"):
            with self.subTest(style=style):
                rows = self.walk(style, "/consumption", 77)
                self.assertEqual(len(rows), self.TOTAL)
                self.assertEqual(len({(r["meter_id"], r["interval_start"]) for r in rows}), self.TOTAL)
                self.assertEqual(rows, reference)
                meters = self.walk(style, "/meters", 4)  # exact multiple: last-page edge
                self.assertEqual([m["meter_id"] for m in meters], [f"M{i:05d}" for i in range(1, 13)])
                self.assertEqual(len(self.walk(style, "/assets", 2)), self.N_ASSETS)
                filtered = self.walk(style, "/consumption?meter_id=M00002&from=2025-02-01", 7)
                self.assertEqual(len(filtered), self.N_READINGS - 31)

    def test_pagination_details(self):
        body = self.get_json("/meters?page_size=5&page=2")
        self.assertEqual(body["count"], 12)
        self.assertEqual(body["previous"], f"http://{HOST}:{self.port}/meters?page_size=5&page=1")
        self.assertEqual(body["next"], f"http://{HOST}:{self.port}/meters?page_size=5&page=3")
        body = self.get_json("/run=x/meters?resource=gas&page_size=2")
        self.assertEqual(body["next"], f"http://{HOST}:{self.port}/run=x/meters?resource=gas&page_size=2&page=2")
        body = self.get_json("/meters")  # default page size 100
        self.assertEqual((len(body["results"]), body["next"]), (12, None))
        self.assertEqual(self.get_json("/pages=page1/meters?page=9&page_size=5")["data"], [])
        self.assertEqual(self.get_json("/pages=page0/meters?page_size=5")["total_pages"], 3)
        self.assertEqual(self.get_json("/pages=offset/meters?offset=50")["items"], [])
        r = self.get("/pages=link/meters?per_page=5&page=3")
        self.assertNotIn('rel="next"', r.headers["Link"])
        self.assertIn('page=3>; rel="last"', r.headers["Link"])
        self.get_json("/pages=cursor/meters?cursor=!!bogus", status=400)
        self.get_json("/meters?page_size=0", status=400)
        self.get_json("/meters?page=abc", status=400)
        self.assertEqual(len(self.get_json("/pages=none/meters?page_size=1")["data"]), 12)

    # -- data ------------------------------------------------------------------
    def test_portfolio_content(self):
        assets = self.get_json("/pages=none/assets")["data"]
        self.assertEqual([a["asset_id"] for a in assets], ["A0001", "A0002", "A0003"])
        self.assertEqual([a["country"] for a in assets], ["GB", "NL", "US"])
        self.assertEqual(assets[0]["name"], "Harbour House 1")
        self.assertEqual([a["floor_area_unit"] for a in assets], ["m2", "m2", "ft2"])
        for a in assets:
            self.assertIsInstance(a["floor_area"], float)
            for field in ("address", "city", "postcode"):
                self.assertTrue(a[field])
        meters = self.get_json("/pages=none/meters")["data"]
        units = {"electricity": "kWh", "gas": "m3", "water": "m3", "heat": "MWh"}
        for n, m in enumerate(meters, 1):
            self.assertEqual(m["meter_id"], f"M{n:05d}")
            self.assertEqual(m["asset_id"], f"A{(n - 1) // 4 + 1:04d}")
            self.assertEqual(m["resource"], ("electricity", "gas", "water", "heat")[(n - 1) % 4])
            self.assertEqual(m["unit"], units[m["resource"]])
            self.assertRegex(m["serial_number"], r"^SN-\d{8}$")
            self.assertEqual(m["is_active"], n % 7 != 0)
            self.assertTrue(m["name"].startswith(assets[(n - 1) // 4]["name"] + " " + m["resource"]))
        raw = self.get("/pages=none/consumption").body.decode()
        for number in re.findall(r'"consumption":([^,}]+)', raw):
            self.assertRegex(number, r"^\d+\.\d{1,3}$")
            self.assertGreater(float(number), 0)
        rows = json.loads(raw)["data"]
        by_meter = {m["meter_id"]: m for m in meters}
        first = rows[0]
        self.assertEqual(first["interval_start"], "2025-01-01T00:00:00+00:00")
        self.assertEqual(first["interval_end"], "2025-01-02T00:00:00+00:00")
        for i, r in enumerate(rows):
            k = i % self.N_READINGS
            self.assertEqual(r["meter_id"], f"M{i // self.N_READINGS + 1:05d}")
            self.assertEqual(r["unit"], by_meter[r["meter_id"]]["unit"])
            self.assertEqual(r["estimated"], k % 10 == 9)
        self.assertEqual(rows[89]["interval_end"], "2025-04-01T00:00:00+00:00")
        self.assertGreater(sum(r["consumption"] for r in rows[:90]) / 90, 100)   # electricity, kWh/day

    def test_determinism(self):
        urls = ["/consumption?page=3&page_size=50", "/pages=page1/consumption?page=2",
                "/pages=none/meters", "/assets"]
        first = [self.get(u).body for u in urls]
        self.assertEqual(first, [self.get(u).body for u in urls])
        twin = ServerProcess("provider_server.py")
        other = ServerProcess("provider_server.py", "--seed", "2", "--interval", "3600",
                              "--start", "2024-06-01T00:00:00Z", "--readings", "48")
        try:
            for u in urls[1:3]:
                self.assertEqual(call(twin.port, "GET", u).body, self.get(u).body)
            rows = json.loads(call(other.port, "GET", "/pages=none/consumption").body)["data"]
            self.assertEqual(len(rows), 48 * 12)
            self.assertEqual(rows[1]["interval_start"], "2024-06-01T01:00:00+00:00")
            self.assertNotEqual(rows[0]["consumption"], self.get_json("/consumption")["results"][0]["consumption"])
        finally:
            self.assertEqual(twin.stop(), 0)
            self.assertEqual(other.stop(signal.SIGINT), 0)

    def test_filters_and_resources(self):
        ids = lambda rows, key: [r[key] for r in rows]  # noqa: E731
        self.assertEqual(ids(self.get_json("/assets?asset_id=A0003,A0001")["results"], "asset_id"),
                         ["A0001", "A0003"])
        self.assertEqual(self.get_json("/assets/A0002")["city"], "Amsterdam")
        err = self.get_json("/assets/A9999", status=404)
        self.assertIn("error", err)
        self.assertEqual(ids(self.get_json("/assets/A0002/meters")["results"], "meter_id"),
                         ["M00005", "M00006", "M00007", "M00008"])
        self.assertEqual(ids(self.get_json("/meters?asset_id=A0002&resource=gas")["results"], "meter_id"),
                         ["M00006"])
        self.assertEqual(ids(self.get_json("/meters?meter_id=M00001,M00005")["results"], "meter_id"),
                         ["M00001", "M00005"])
        self.assertEqual(len(self.get_json("/meters?resource=heat,water")["results"]), 6)
        self.assertEqual(self.get_json("/meters/M00003")["resource"], "water")
        self.get_json("/meters/M99999", status=404)
        self.assertEqual(self.get_json("/meters/M00003/consumption")["count"], 90)
        rows = self.get_json("/consumption?meter_id=M00002&from=2025-01-10&to=2025-01-20")["results"]
        self.assertEqual(len(rows), 10)
        self.assertEqual((rows[0]["interval_start"], rows[-1]["interval_start"]),
                         ("2025-01-10T00:00:00+00:00", "2025-01-19T00:00:00+00:00"))
        same = self.get_json("/consumption?meter_id=M00002&from=2025-01-09T23:00:00-01:00"
                             "&to=2025-01-20T01:00:00%2B01:00")["results"]
        self.assertEqual(same, rows)
        self.assertEqual(self.get_json("/consumption?from=2025-01-10T12:00:00Z&to=2025-01-12T00:00:00Z"
                                       "&meter_id=M00001")["count"], 1)
        self.assertEqual(self.get_json("/consumption?meter_id=M00001,M00012&asset_id=A0001")["count"], 90)
        self.assertEqual(self.get_json("/consumption?from=2025-02-01&to=2025-01-01")["count"], 0)
        self.assertEqual(self.get_json("/consumption?from=2030-01-01")["count"], 0)
        self.get_json("/consumption?from=yesterday", status=400)
        self.get_json("/consumption?to=2025-01-01T00:00:00", status=400)               # no offset
        self.assertIn("%2B", self.get_json("/consumption?from=2025-01-01T00:00:00+00:00", status=400)["error"])

    def test_errors(self):
        self.assertEqual(self.get_json("/_health"), {"ok": True})
        self.assertEqual(self.get_json("/nothing/here", status=404), {"error": "not found", "path": "/nothing/here"})
        for method in ("POST", "PUT", "DELETE"):
            r = call(self.port, method, "/meters", body="{}")
            self.assertEqual(r.status, 405)
            self.assertEqual(r.headers["Allow"], "GET")
        for bad in ("/pages=sideways/meters", "/bogus=1/meters", "/latency=-5/meters", "/fault=flaky/meters",
                    "/auth=kerberos/meters"):
            self.assertEqual(self.get_json(bad, status=400)["error"], "bad switch")

    def test_keep_alive(self):
        conn = http.client.HTTPConnection(HOST, self.port, timeout=5)
        try:
            for _ in range(3):
                conn.request("GET", "/meters?page_size=2")
                resp = conn.getresponse()
                self.assertEqual(int(resp.headers["Content-Length"]), len(resp.read()))
                self.assertIsNone(resp.headers["Connection"])
        finally:
            conn.close()

    # -- auth -----------------------------------------------------------------
    def assert_auth(self, prefix: str, good: tuple, bad: list[tuple]) -> None:
        """good, bad: (headers, query) credentials; no credentials must fail too."""
        def attempt(headers: dict, query: str) -> Response:
            return self.get(f"{prefix}/meters" + (f"?{query}" if query else ""), headers)
        r = attempt({}, "")
        self.assertEqual(r.status, 401, prefix)
        self.assertIn("error", r.json())
        for creds in bad:
            self.assertEqual(attempt(*creds).status, 401, (prefix, creds))
        r = attempt(*good)
        self.assertEqual(r.status, 200, (prefix, r.body))

    def test_auth_static(self):
        self.assert_auth("/auth=header", ({"X-API-Key": "key-7f3a9c"}, ""), [({"X-API-Key": "nope"}, "")])
        self.assert_auth("/auth=header/keyname=X-Token", ({"X-Token": "key-7f3a9c"}, ""),
                         [({"X-API-Key": "key-7f3a9c"}, "")])
        self.assert_auth("/auth=query", ({}, "api_key=key-7f3a9c"), [({}, "api_key=zzz")])
        self.assert_auth("/auth=query/keyname=token", ({}, "token=key-7f3a9c"), [({}, "api_key=key-7f3a9c")])
        self.assert_auth("/auth=basic", (basic("demo-user", "pw-51d2e8"), ""),
                         [(basic("demo-user", "wrong"), ""), ({"Authorization": "Basic !!!"}, "")])
        self.assert_auth("/auth=basic", (basic("key-7f3a9c", ""), ""), [(basic("key-7f3a9c", "x"), "")])
        r = self.get("/auth=basic/meters")
        self.assertEqual(r.headers["WWW-Authenticate"], 'Basic realm="provider"')
        self.assert_auth("/auth=bearer", ({"Authorization": "Bearer tok-9b81c4"}, ""),
                         [({"Authorization": "Bearer tok-0000"}, ""), ({"Authorization": "tok-9b81c4"}, "")])
        # next links keep the query parameter key
        body = self.get_json("/auth=query/meters?page_size=5&api_key=key-7f3a9c")
        self.assertEqual(self.get_json(body["next"])["count"], 12)

    def token(self, prefix: str, form: dict, headers=None) -> Response:
        return call(self.port, "POST", f"{prefix}/oauth/token", body=urlencode(form),
                    headers={"Content-Type": "application/x-www-form-urlencoded", **(headers or {})})

    def test_auth_oauth_and_login(self):
        cc = {"grant_type": "client_credentials", "client_id": "client-1", "client_secret": "cs-2e6d0a"}
        r = self.token("/auth=oauth_cc", cc)
        self.assertEqual(r.status, 200, r.body)
        tok = r.json()
        self.assertEqual((tok["token_type"], tok["expires_in"]), ("Bearer", 3600))
        self.assertRegex(tok["access_token"], r"^[0-9a-f]{32}$")
        ok = {"Authorization": "Bearer " + tok["access_token"]}
        self.assertEqual(self.get("/auth=oauth_cc/meters", ok).status, 200)
        r = self.get("/auth=oauth_cc/meters", {"Authorization": "Bearer deadbeef"})
        self.assertEqual((r.status, r.json()), (401, {"error": "invalid_token"}))
        self.assertEqual(self.get("/auth=oauth_cc/meters").status, 401)
        r = self.token("/auth=oauth_cc", {"grant_type": "client_credentials"}, basic("client-1", "cs-2e6d0a"))
        self.assertEqual(r.status, 200)
        r = self.token("/auth=oauth_cc", {**cc, "client_secret": "nope"})
        self.assertEqual((r.status, r.json()["error"]), (401, "invalid_client"))
        r = self.token("/auth=oauth_cc", {**cc, "grant_type": "password"})
        self.assertEqual((r.status, r.json()["error"]), (400, "unsupported_grant_type"))
        self.assertEqual(call(self.port, "GET", "/auth=oauth_cc/oauth/token").status, 405)

        pw = {"grant_type": "password", "username": "demo-user", "password": "pw-51d2e8",
              "client_id": "client-1", "client_secret": "cs-2e6d0a"}
        r = self.token("/auth=oauth_pw", pw)
        self.assertEqual(r.status, 200)
        self.assertEqual(self.get("/auth=oauth_pw/assets",
                                  {"Authorization": "Bearer " + r.json()["access_token"]}).status, 200)
        r = self.token("/auth=oauth_pw", {**pw, "password": "guess"})
        self.assertEqual((r.status, r.json()), (401, {"error": "invalid_grant"}))

        r = call(self.port, "POST", "/auth=login/login", body={"username": "demo-user", "password": "pw-51d2e8"})
        self.assertEqual(r.status, 200)
        session = r.json()["session"]
        self.assertEqual(session["expires_in"], 3600)
        self.assertEqual(self.get("/auth=login/meters", {"X-Session-Token": session["token"]}).status, 200)
        self.assertEqual(self.get("/auth=login/meters", {"X-Session-Token": "x"}).status, 401)
        self.assertEqual(self.get("/auth=login/meters").status, 401)
        r = call(self.port, "POST", "/auth=login/login", body={"username": "demo-user", "password": "x"})
        self.assertEqual(r.status, 401)
        self.assertEqual(call(self.port, "POST", "/auth=login/login", body="{oops").status, 400)

        # expiry: ttl=1, then 1.5 s later the token and the session are dead
        short = self.token("/auth=oauth_cc/ttl=1", cc).json()
        self.assertEqual(short["expires_in"], 1)
        sess = call(self.port, "POST", "/auth=login/ttl=1/login",
                    body={"username": "demo-user", "password": "pw-51d2e8"}).json()["session"]
        bearer = {"Authorization": "Bearer " + short["access_token"]}
        self.assertEqual(self.get("/auth=oauth_cc/ttl=1/meters", bearer).status, 200)
        time.sleep(1.5)
        r = self.get("/auth=oauth_cc/ttl=1/meters", bearer)
        self.assertEqual((r.status, r.json()), (401, {"error": "invalid_token"}))
        self.assertEqual(self.get("/auth=login/meters", {"X-Session-Token": sess["token"]}).status, 401)

    # -- faults ---------------------------------------------------------------
    def test_fault_status_codes(self):
        r = self.get("/run=f1/fault=429/retry=7/meters")
        self.assertEqual((r.status, r.headers["Retry-After"], r.json()), (429, "7", {"error": "rate limited"}))
        r = self.get("/run=f1/fault=503/meters")
        self.assertEqual((r.status, r.headers["Retry-After"]), (503, "1"))
        for code in (500, 502):
            prefix = f"/run=f2/fault={code}/faultn=2"
            got = [self.get(f"{prefix}/meters").status for _ in range(3)]
            self.assertEqual(got, [code, code, 200])
            r = self.get(f"{prefix}/assets")       # a separate budget per resource path
            self.assertEqual((r.status, r.json()), (code, {"error": "upstream failure", "detail": "simulated"}))
        got = [self.get("/run=f3/fault=500/faultn=2/meters").status for _ in range(3)]
        self.assertEqual(got, [500, 500, 200])    # separate budget per run namespace
        self.assertEqual(self.get("/fault=503/_health").status, 200)   # control endpoints unaffected

    def test_fault_reset(self):
        with self.assertRaises(ConnectionError):
            self.get("/run=reset/fault=reset/faultn=1/meters")
        self.assertEqual(self.get("/run=reset/fault=reset/faultn=1/meters").status, 200)
        log = self.get_json("/_requests?run=reset")
        self.assertEqual([e["status"] for e in log], ["reset", 200])

    def test_fault_stall(self):
        t0 = time.monotonic()
        conn = http.client.HTTPConnection(HOST, self.port, timeout=5)
        conn.request("GET", "/run=stall/fault=stall/stall=1/meters")
        resp = conn.getresponse()
        self.assertEqual(resp.status, 200)
        self.assertLess(time.monotonic() - t0, 0.8)          # headers arrive at once
        self.assertEqual(len(resp.read()), int(resp.headers["Content-Length"]))
        self.assertGreaterEqual(time.monotonic() - t0, 0.9)  # the body only after the stall
        conn.close()
        conn = http.client.HTTPConnection(HOST, self.port, timeout=0.3)
        conn.request("GET", "/run=stall/fault=stall/stall=1/meters")
        resp = conn.getresponse()
        with self.assertRaises(TimeoutError):
            resp.read()
        conn.close()
        with self.assertRaises(TimeoutError):
            self.get("/run=stall/fault=stallhead/stall=1/meters", timeout=0.3)
        t0 = time.monotonic()
        self.assertEqual(self.get("/run=stall/fault=stallhead/stall=0.5/meters").status, 200)
        self.assertGreaterEqual(time.monotonic() - t0, 0.45)
        self.assertIn("stall", [e["status"] for e in self.get_json("/_requests?run=stall")])

    def test_fault_truncate_and_malformed(self):
        conn = http.client.HTTPConnection(HOST, self.port, timeout=5)
        conn.request("GET", "/fault=truncate/consumption")
        resp = conn.getresponse()
        with self.assertRaises(http.client.IncompleteRead):
            resp.read()
        conn.close()
        r = self.get("/run=mal/fault=malformed/faultn=1/consumption")
        self.assertEqual((r.status, r.headers["Content-Type"]), (200, "application/json"))
        with self.assertRaises(ValueError):
            json.loads(r.body)
        self.assertEqual(len(self.get_json("/run=mal/fault=malformed/faultn=1/consumption")["results"]), 100)
        r = self.get("/fault=malformed/pages=none/assets?asset_id=none")   # {"data":[]}
        with self.assertRaises(ValueError):
            json.loads(r.body)

    def test_fault_wrongtype(self):
        rows = self.get_json("/fault=wrongtype/consumption?page_size=10")["results"]
        self.assertEqual([r["consumption"] == "n/a" for r in rows], [i % 3 == 2 for i in range(10)])
        self.assertEqual([r["interval_start"] == "not-a-date" for r in rows], [i == 4 for i in range(10)])
        self.assertIsInstance(rows[0]["consumption"], float)
        assets = self.get_json("/fault=wrongtype/pages=none/assets")["data"]
        self.assertEqual([a["floor_area"] == "n/a" for a in assets], [False, False, True])
        meters = self.get_json("/fault=wrongtype/pages=link/meters")
        self.assertEqual(meters[5]["is_active"], "n/a")
        self.assertEqual(self.get_json("/fault=wrongtype/assets/A0001")["floor_area"], "n/a")

    def test_fault_ratelimit(self):
        prefix = "/run=rl/fault=ratelimit/rps=3"
        statuses, last = [], None
        for _ in range(6):
            last = self.get(f"{prefix}/meters")
            statuses.append(last.status)
            self.assertEqual(last.headers["X-RateLimit-Limit"], "3")
            self.assertRegex(last.headers["X-RateLimit-Reset"], r"^\d{10}$")
        self.assertEqual(statuses[:3], [200, 200, 200])
        self.assertIn(429, statuses[3:])
        self.assertEqual(last.headers["Retry-After"], "1")
        self.assertEqual(last.headers["X-RateLimit-Remaining"], "0")
        time.sleep(1.05)
        r = self.get(f"{prefix}/meters")
        self.assertEqual((r.status, r.headers["X-RateLimit-Remaining"]), (200, "2"))
        stats = self.get_json("/_stats")["runs"]["rl"]
        self.assertEqual(stats["requests"], 7)
        self.assertGreaterEqual(stats["max_per_second"], 3)
        self.assertEqual(stats["statuses"]["429"], statuses.count(429))

    def test_fault_redirect(self):
        r = self.get("/run=rd/fault=redirect/to=file/meters")
        self.assertEqual((r.status, r.headers["Location"]), (302, "file:///etc/passwd"))
        r = self.get("/run=rd/fault=redirect/pages=none/meters?resource=gas")
        target = f"http://{HOST}:{self.port}/run=rd/pages=none/meters?resource=gas"
        self.assertEqual((r.status, r.headers["Location"]), (302, target))
        self.assertEqual(len(self.get_json(r.headers["Location"])["data"]), 3)
        r = self.get("/run=rd/fault=redirect/to=https/meters")
        self.assertEqual(r.headers["Location"], f"https://{HOST}:{self.port}/run=rd/meters")
        statuses = [self.get("/run=rd2/fault=redirect/faultn=1/meters").status for _ in range(2)]
        self.assertEqual(statuses, [302, 200])

    def test_gzip_and_latency(self):
        plain = self.get("/gzip=1/consumption")
        self.assertIsNone(plain.headers["Content-Encoding"])
        packed = self.get("/gzip=1/consumption", {"Accept-Encoding": "gzip"})
        self.assertEqual(packed.headers["Content-Encoding"], "gzip")
        self.assertEqual(int(packed.headers["Content-Length"]), len(packed.body))
        self.assertLess(len(packed.body), len(plain.body) // 3)
        self.assertEqual(gzip.decompress(packed.body), plain.body)
        self.assertIsNone(self.get("/consumption", {"Accept-Encoding": "gzip"}).headers["Content-Encoding"])
        t0 = time.monotonic()
        self.assertEqual(self.get("/latency=300/assets").status, 200)
        self.assertGreaterEqual(time.monotonic() - t0, 0.29)

    # -- introspection --------------------------------------------------------
    def test_request_log_and_stats(self):
        self.assertEqual(call(self.port, "DELETE", "/_requests?run=log").status, 200)
        before = self.get_json("/_stats")["total_requests"]
        self.get("/run=log/auth=header/meters?page_size=2&resource=gas", {"X-API-Key": "key-7f3a9c"})
        self.get("/run=log/auth=header/meters")
        self.token("/run=log", {"grant_type": "client_credentials", "client_id": "client-1",
                                "client_secret": "cs-2e6d0a"})
        log = self.get_json("/_requests?run=log")
        self.assertEqual(self.get_json("/run=log/_requests"), log)
        self.assertEqual([e["status"] for e in log], [200, 401, 200])
        first = log[0]
        self.assertEqual(set(first), {"seq", "time", "method", "path", "prefix", "query", "headers", "body", "status"})
        self.assertEqual((first["method"], first["path"], first["prefix"]), ("GET", "/meters", "/run=log/auth=header"))
        self.assertEqual(first["query"], {"page_size": ["2"], "resource": ["gas"]})
        self.assertEqual(first["headers"]["x-api-key"], "key-7f3a9c")
        self.assertLess(first["seq"], log[1]["seq"])
        self.assertLessEqual(first["time"], log[1]["time"])
        self.assertEqual((log[2]["method"], log[2]["path"]), ("POST", "/oauth/token"))
        self.assertIn("grant_type=client_credentials", log[2]["body"])
        stats = self.get_json("/_stats")
        self.assertEqual(stats["total_requests"], before + 3)
        self.assertEqual(stats["runs"]["log"]["requests"], 3)
        self.assertGreaterEqual(stats["runs"]["log"]["max_per_second"], 1)
        self.assertEqual(call(self.port, "DELETE", "/_requests?run=log").status, 200)
        self.assertEqual(self.get_json("/_requests?run=log"), [])
        self.assertEqual(self.get_json("/_requests?run=never-used"), [])


class ProviderPerformanceTest(unittest.TestCase):
    """1,000,000 readings in 100 pages: first pass < 10 s, cached pass < 2 s."""

    def test_million_readings(self):
        server = ServerProcess("provider_server.py", "--assets", "10", "--meters-per-asset", "10",
                               "--readings", "10000", "--page-size", "10000")
        try:
            conn = http.client.HTTPConnection(HOST, server.port, timeout=30)
            timings = []
            for _ in range(2):
                t0 = time.monotonic()
                records = 0
                for page in range(1, 101):
                    conn.request("GET", f"/consumption?page={page}")
                    resp = conn.getresponse()
                    body = resp.read()
                    self.assertEqual(resp.status, 200)
                    records += body.count(b'"interval_start"')
                timings.append(time.monotonic() - t0)
                self.assertEqual(records, 1_000_000)
                self.assertIsNone(json.loads(body)["next"])
            conn.close()
            self.assertLess(timings[0], 10.0, timings)
            self.assertLess(timings[1], 2.0, timings)
        finally:
            self.assertEqual(server.stop(), 0)


# ===========================================================================
# scaler_sandbox.py
# ===========================================================================
TOKEN = "scaler-tok-4d0e"
AUTH = {"Authorization": f"Bearer {TOKEN}"}


def reading(meter=5001, day=1, value=10.5, **extra) -> dict:
    r = {"meter_id": meter, "period_start": f"2025-01-{day:02d}T00:00:00+00:00",
         "period_end": f"2025-01-{day + 1:02d}T00:00:00+00:00", "value": value, "unit": "kWh",
         "estimated": False, "source": {"provider": "test", "ref": day}, "hash": f"h{meter}-{day}"}
    r.update(extra)
    return r


class SandboxTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.server = ServerProcess("scaler_sandbox.py")
        cls.port = cls.server.port

    @classmethod
    def tearDownClass(cls):
        rc = cls.server.stop(signal.SIGINT)
        assert rc == 0, f"sandbox exited with {rc}"

    def setUp(self):
        self.assertEqual(call(self.port, "POST", "/_reset").status, 200)

    def get_json(self, target: str, status: int = 200, headers=AUTH):
        r = call(self.port, "GET", target, headers)
        self.assertEqual(r.status, status, r.body[:300])
        self.assertEqual(r.headers["Content-Type"], "application/json")
        return r.json()

    def ingest(self, readings, key="k1", batch_id="b1", body=None, headers=None) -> Response:
        hdrs = dict(AUTH, **({"Idempotency-Key": key} if key else {}), **(headers or {}))
        if body is None:
            body = json.dumps({"batch_id": batch_id, "readings": readings})
        return call(self.port, "POST", "/v1/ingest/readings", {"Content-Type": "application/json", **hdrs}, body)

    def stored(self, query: str = ""):
        return self.get_json("/_stored" + query, headers=None)

    # -- pull API ----------------------------------------------------------
    def test_auth(self):
        for headers in ({}, {"Authorization": "Bearer wrong"}, {"Authorization": TOKEN}):
            r = call(self.port, "GET", "/v1/meters", headers)
            self.assertEqual((r.status, r.json()), (401, {"success": False, "message": "Unauthenticated."}))
        self.assertEqual(self.ingest([reading()], headers={"Authorization": "Bearer no"}).status, 401)
        self.assertEqual(self.get_json("/_health", headers=None), {"ok": True})

    def test_envelope(self):
        body = self.get_json("/v1/portfolios")
        self.assertEqual((body["success"], body["message"]), (True, "Portfolios retrieved successfully"))
        page = body["data"]
        self.assertEqual(list(page), ["data", "current_page", "from", "last_page", "links", "path",
                                      "per_page", "to", "total"])
        self.assertEqual([p["id"] for p in page["data"]], [1, 2])
        self.assertEqual((page["current_page"], page["from"], page["to"], page["last_page"],
                          page["per_page"], page["total"]), (1, 1, 2, 1, 15, 2))
        self.assertEqual(page["path"], f"http://{HOST}:{self.port}/v1/portfolios")
        self.assertEqual([link["label"] for link in page["links"]], ["&laquo; Previous", "1", "Next &raquo;"])
        self.assertEqual([link["active"] for link in page["links"]], [False, True, False])
        self.assertIsNone(page["links"][0]["url"])

        seen, p = [], 1
        while True:
            data = self.get_json(f"/v1/meters?per_page=5&page={p}")["data"]
            self.assertEqual((data["total"], data["last_page"], data["per_page"]), (24, 5, 5))
            seen += [m["id"] for m in data["data"]]
            if p == data["last_page"]:
                break
            p += 1
        self.assertEqual(seen, list(range(5001, 5025)))
        self.assertEqual((data["from"], data["to"]), (21, 24))
        self.assertEqual(data["links"][-1]["url"], None)
        self.assertEqual(data["links"][0]["url"], f"http://{HOST}:{self.port}/v1/meters?page=4&per_page=5")
        past = self.get_json("/v1/meters?per_page=5&page=9")["data"]
        self.assertEqual((past["data"], past["from"], past["to"]), ([], None, None))
        self.assertEqual(self.get_json("/v1/meters?per_page=500")["data"]["per_page"], 100)
        self.assertEqual(self.get_json("/v1/meters")["data"]["per_page"], 15)
        self.get_json("/v1/meters?per_page=0", status=422)

        meter = self.get_json("/v1/meters/5001")["data"]
        self.assertEqual(meter, {"id": 5001, "asset_id": 101, "name": meter["name"], "meter_id": "SC-E-0001",
                                 "resource_type": "energy", "fuel_type": "electricity", "unit": "kWh",
                                 "consumption_format": "recordings"})
        meters = self.get_json("/v1/assets/102/meters")["data"]["data"]
        self.assertEqual([m["fuel_type"] for m in meters], ["electricity", "natural_gas", "water", "district_heating"])
        self.assertEqual([m["unit"] for m in meters], ["kWh", "m3", "m3", "MWh"])
        self.assertEqual(meters[2]["resource_type"], "water")
        assets = self.get_json("/v1/portfolios/2/assets")["data"]
        self.assertEqual([a["id"] for a in assets["data"]], [104, 105, 106])
        self.assertEqual(assets["path"], f"http://{HOST}:{self.port}/v1/portfolios/2/assets")
        for field in ("name", "address", "city", "postcode", "country", "portfolio_id"):
            self.assertIn(field, assets["data"][0])
        self.assertEqual(self.get_json("/v1/assets")["data"]["total"], 6)
        self.assertEqual(self.get_json("/v1/portfolios/9/assets", status=404)["success"], False)
        self.get_json("/v1/assets/1/meters", status=404)
        self.get_json("/v1/nothing", status=404)

    # -- ingestion -----------------------------------------------------------
    def test_ingest_and_replay(self):
        batch = [reading(day=1), reading(day=2, value="11.25"), reading(meter="5002", day=1, unit="m3")]
        r = self.ingest(batch)
        expected = {"batch_id": "b1", "accepted": 3, "created": 3, "updated": 0, "unchanged": 0}
        self.assertEqual((r.status, r.json()), (200, expected))
        self.assertIsNone(r.headers["Idempotent-Replayed"])
        again = self.ingest(batch)
        self.assertEqual((again.status, again.body), (200, r.body))
        self.assertEqual(again.headers["Idempotent-Replayed"], "true")
        other = self.ingest(batch[:1])
        self.assertEqual((other.status, other.json()),
                         (422, {"error": "idempotency key reused with a different payload"}))
        self.assertEqual(self.ingest(batch, key=None).status, 400)
        self.assertEqual(self.ingest(None, key="k-bad", body="{not json").status, 400)
        self.assertEqual(self.ingest(None, key="k-bad2", body='{"readings": 5}').status, 400)
        st = self.stored()
        self.assertEqual((st["batches"], st["requests"], st["replays"]), (1, 6, 1))
        self.assertEqual([(x["meter_id"], x["period_start"]) for x in st["readings"]],
                         [(5001, "2025-01-01T00:00:00+00:00"), (5001, "2025-01-02T00:00:00+00:00"),
                          (5002, "2025-01-01T00:00:00+00:00")])
        self.assertEqual(st["readings"][1]["value"], 11.25)
        self.assertEqual(st["readings"][0]["source"], {"provider": "test", "ref": 1})
        self.assertEqual(len(self.stored("?meter_id=5002")["readings"]), 1)
        log = self.get_json("/_requests", headers=None)
        self.assertEqual([e["status"] for e in log], [200, 200, 422, 400, 400, 400])
        self.assertEqual([e["replayed"] for e in log][:2], [False, True])
        self.assertEqual((log[0]["idempotency_key"], log[0]["readings"]), ("k1", 3))

    def test_validation_rejects_whole_batch(self):
        batch = [reading(day=1),
                 reading(meter=9999),
                 reading(unit="furlongs"),
                 reading(period_end="2025-01-01T00:00:00Z"),
                 reading(value="abc"),
                 reading(value=None),
                 reading(unit=None),
                 reading(period_start="2025-01-01T00:00:00")]
        r = self.ingest(batch, key="v1")
        self.assertEqual(r.status, 422)
        body = r.json()
        self.assertEqual(body["error"], "validation failed")
        self.assertEqual([x["index"] for x in body["rejected"]], [1, 2, 3, 4, 5, 6, 7])
        self.assertTrue(all(x["reason"] for x in body["rejected"]))
        self.assertEqual(self.stored()["readings"], [])
        # a rejected request does not consume its key
        self.assertEqual(self.ingest(batch[:1], key="v1").status, 200)

    def test_fail_status_and_reject_meter_ids(self):
        r = call(self.port, "POST", "/_control", body={"fail_status": 503, "fail_count": 2})
        self.assertEqual((r.status, r.json()["fail_status"]), (200, 503))
        first = self.ingest([reading()], key="f1")
        self.assertEqual((first.status, first.headers["Retry-After"]), (503, "1"))
        self.assertEqual(self.ingest([reading()], key="f1").status, 503)
        self.assertEqual(self.ingest([reading()], key="f1").status, 200)
        self.assertIsNone(self.get_json("/_control", headers=None)["fail_status"])
        call(self.port, "POST", "/_control", body={"fail_status": 500, "fail_count": None})
        self.assertEqual([self.ingest([reading()], key=f"g{i}").status for i in range(3)], [500] * 3)
        call(self.port, "POST", "/_control", body={"fail_status": None, "reject_meter_ids": [5002]})
        r = self.ingest([reading(day=5), reading(meter=5002, unit="m3")], key="f2")
        self.assertEqual((r.status, r.json()["rejected"]), (422, [{"index": 1, "reason": "meter locked"}]))
        self.assertEqual(len(self.stored()["readings"]), 1)
        self.assertEqual(call(self.port, "POST", "/_control", body={"bogus": 1}).status, 400)
        call(self.port, "POST", "/_reset")
        self.assertEqual(self.get_json("/_control", headers=None),
                         {"fail_status": None, "fail_count": None, "delay_ms": 0, "reject_meter_ids": []})

    def test_upsert_counts(self):
        r = self.ingest([reading(day=1), reading(day=2), reading(day=3),
                         {"meter_id": 5003, "reading_date": "2025-01-31", "value": 7, "unit": "m3"}], key="u1")
        self.assertEqual(r.json()["created"], 4)
        r = self.ingest([reading(day=1, value="10.50", period_start="2025-01-01T00:00:00Z"),  # same
                         reading(day=2, value=99),                                        # new value
                         reading(day=3, estimated=True),                                   # new flag
                         reading(day=4),                                                   # new period
                         {"meter_id": 5003, "reading_date": "2025-01-31", "value": 7.0, "unit": "m3"}],
                        key="u2", batch_id="b2")
        self.assertEqual((r.status, r.json()), (200, {"batch_id": "b2", "accepted": 5, "created": 1,
                                                     "updated": 2, "unchanged": 2}))
        st = self.stored()
        self.assertEqual(len(st["readings"]), 5)
        self.assertEqual(st["batches"], 2)
        self.assertEqual(self.stored("?meter_id=5003")["readings"][0]["reading_date"], "2025-01-31")

    def test_concurrent_key_conflict(self):
        call(self.port, "POST", "/_control", body={"delay_ms": 800})
        result = {}
        worker = threading.Thread(target=lambda: result.setdefault("r", self.ingest([reading()], key="c1")))
        worker.start()
        time.sleep(0.3)
        self.assertEqual(self.ingest([reading()], key="c1").status, 409)
        worker.join(5)
        self.assertEqual(result["r"].status, 200)


if __name__ == "__main__":
    unittest.main(verbosity=2)
