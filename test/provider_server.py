#!/usr/bin/env python3
"""Deterministic energy-provider REST API simulator for scaler_fdw tests.

Standard library only (Python 3.11; zoneinfo with the system tz database for
Europe/London and America/Los_Angeles).  Binds 127.0.0.1 only.  HTTP/1.1 (or
HTTPS, see TLS) with keep-alive; every response carries Content-Length (except
the deliberate ``reset``/``truncate``/``stall`` faults).  Besides its generic
API it reproduces five real providers' APIs (Octopus Energy, UtilityAPI,
Enode, and the XML APIs ENERGY STAR Portfolio Manager and Green Button ESPI)
and serves a made-up one (GridPulse, the README's worked example) over the
same portfolio: see "Provider reproductions" below.

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
  --tls-cert PATH        PEM certificate (chain); with --tls-key the --port
  --tls-key PATH         listener speaks HTTPS (TLS >= 1.2; see TLS below)
  --also-http-port-file PATH
                         also start a plain-HTTP listener on another free
                         port and write its port to PATH (written before
                         --port-file, so PATH exists once --port-file does)
SIGTERM / SIGINT shut the server (all listeners) down cleanly with exit
status 0.

TLS
---
With --tls-cert/--tls-key the --port listener is HTTPS only (a plain-HTTP
request on it fails the handshake; the handshake runs in the connection's
thread, 10 s timeout).  --also-http-port-file adds a plain-HTTP listener that
serves the same app with the same state (request log, statistics, tokens,
sessions, fault counters, rate-limit windows, meter faults, hidden meters,
corrections, page cache).  Absolute URLs the server generates (next/previous links, Link
headers, UtilityAPI next links, Octopus's slash redirects) use the scheme and
port of the listener that received the request.  fault=redirect with to=http or to=https points at the
listener that speaks that scheme when there is one, else at the receiving
listener's own port: so /fault=redirect/to=http/... on the TLS listener
redirects to the plain-HTTP listener (an https -> http downgrade a client
must refuse), and to=https on the plain listener to the TLS one.  The
options are independent: --also-http-port-file without TLS gives two plain
listeners.

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
                                  else -> 400.  format=xml: the same page as
                                  XML (below); format=json (default) or
                                  absent: JSON; other values -> 400.
  /octopus/..., /utilityapi/..., /enode/..., /enode-oauth/...,
  /gridpulse/..., /energystar/...,
  /greenbutton/...                the provider reproductions (see below)
  anything else -> 404 {"error": "not found", "path": ...}
/consumption?format=xml (an XML twin of the JSON pages, e.g. for comparing
XML and JSON parsing on the same readings): the same page -- same readings,
paging parameters, pages= style, next/previous URLs (which keep format=xml),
Link headers, corrections, hidden meters and faults -- as Content-Type
application/xml: <?xml version="1.0" encoding="UTF-8"?><page>...</page>, the
JSON value mapped to elements: an object -> one element per key, named as
the key, holding exactly the JSON value's text (strings XML-escaped, numbers
as written in the JSON, true/false); null -> the element omitted; the record
list -> one <reading> per record.  The record list comes first, then the
envelope's other keys in JSON order:
  next     <page><results><reading><meter_id>M00001</meter_id>
           <interval_start/><interval_end/><consumption/><unit/><estimated/>
           </reading>...</results><count/>[<next>URL</next>]
           [<previous>URL</previous>]</page>
  page0/1  <page><data>...</data><page/><page_size/><total_pages/><total/>
           </page>
  offset   <page><items>...</items><total/><offset/><limit/></page>
  cursor   <page><data>...</data><pagination>[<after/>]</pagination></page>
  link     <page><reading/>...</page> (a bare array), Link header as for JSON
  none     <page><data>...</data></page>
fault=wrongtype puts n/a / not-a-date in the same readings' elements;
malformed removes a "<" (as on the XML reproductions).  Error responses
(401, 400, status and meter faults) stay JSON.  format=xml on other
resources is ignored.
Every list resource is paged with the selected pagination style.  The run's
hidden meters (POST /_hidden_meters) are left out of /meters,
/assets/{id}/meters and the consumption lists, and /meters/{id} and
/meters/{id}/consumption answer 404 for them; its meter faults (POST
/_meter_faults) make the consumption lists fail, and its corrections (POST
/_corrections) change single readings of the consumption lists (see Control
endpoints).

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
                                  or the same with https:// (to=https); PORT:
                                  see TLS (the listener speaking that scheme,
                                  else the receiving one)
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
                              path is below the switch prefix (provider
                              paths keep their trailing "/"); status is an
                              int, "reset" or "stall"; at most 100,000 kept
                              per namespace
  DELETE /_requests[?run=id]  clear one namespace (no run: all)
  GET    /_health             {"ok": true}
  GET    /_stats              {"total_requests", "runs": {run: {"requests",
                              "max_per_second", "statuses"}}, "cache": {...}}
  DELETE /_stats              reset the statistics
  GET    /_revoke_tokens      revoke every issued OAuth2, login and Enode token
                              (so clients' cached tokens answer 401); a GET so a
                              foreign table can trigger it: [{"revoked": n}]
  POST   /_meter_faults[?run=id]
                              JSON {"meter_ids": ["M00003", ...], "status": 500,
                              "from_page": 1}: per-meter consumption failures
                              of the namespace (replaces its previous setting;
                              an empty meter_ids list clears it).  status: any
                              integer 400..599 (default 500); from_page >= 1
                              (default 1).  Other keys or types -> 400.  While
                              set, a generic consumption list request
                              (/consumption, /meters/{id}/consumption) that
                              selects a listed meter -- its meter_id filter
                              lists it, or it has no meter_id filter and its
                              asset_id filter (if any) contains the meter's
                              asset; from/to do not matter; hidden meters are
                              never selected -- answers, for page numbers >=
                              from_page, that status with {"error": "simulated
                              meter failure", "meter_id": first listed meter
                              selected, "meter_ids": all of them (portfolio
                              order), "page": n} (429 and 503 add Retry-After:
                              <retry>); other requests are served as usual.
                              The check comes after latency, the
                              ratelimit and status faults, authentication,
                              routing and 405, before parameter checks (a bad
                              from -> still the fault), the page cache and
                              the body faults.  Page number n (1-based) per
                              pages= style: next, page1, link: the page
                              parameter (default 1); page0: page + 1; offset:
                              offset // limit + 1; cursor: the cursor's record
                              offset // page_size + 1; none: 1.  So
                              from_page 2 serves the first page (with its next
                              link) and fails the following ones.  An invalid
                              paging parameter is left to the usual 400.  The
                              provider reproductions ignore meter faults.
                              -> the setting as GET returns it
  GET    /_meter_faults[?run=id]
                              {"run", "meter_ids", "status", "from_page"}
                              (meter_ids [] and nulls when unset)
  DELETE /_meter_faults[?run=id]
                              clear one namespace (no run: all) ->
                              {"cleared": run or "all"}
  POST   /_hidden_meters[?run=id]
                              JSON {"meter_ids": [...]}: meters the provider
                              no longer knows in the namespace (replaces the
                              previous list; [] clears; other keys -> 400):
                              left out of /meters, /assets/{id}/meters,
                              /consumption; /meters/{id} and
                              /meters/{id}/consumption -> 404 as for an
                              unknown meter.  /assets and the provider
                              reproductions are unaffected.  Unknown ids are
                              accepted (they hide nothing).
                              -> the setting as GET returns it
  GET    /_hidden_meters[?run=id]
                              {"run", "meter_ids": sorted}
  DELETE /_hidden_meters[?run=id]
                              clear one namespace (no run: all) ->
                              {"cleared": run or "all"}
  POST   /_corrections[?run=id]
                              JSON {"corrections": [{"meter_id": "M00001",
                              "interval_start": "2025-01-05T00:00:00+00:00",
                              "consumption": 999.5, "estimated": false}, ...]}:
                              the provider redelivers (corrects) readings in
                              the namespace.  Each entry adds to or replaces
                              (per meter_id + reading) the namespace's
                              corrections; an empty list changes nothing; the
                              whole POST is checked before anything is stored.
                              meter_id: a portfolio meter (hidden ones too);
                              interval_start: ISO 8601 with offset or Z, or
                              YYYY-MM-DD, naming the same instant as the start
                              of one of that meter's readings (any spelling);
                              consumption: a JSON number or a string holding
                              one in JSON number syntax ("999.500", "-1",
                              "1e3"), kept as the exact decimal text given;
                              estimated: optional boolean (default: the
                              reading's own flag).  Unknown meter, no such
                              reading, a bad timestamp, a non-numeric
                              consumption (also true, null, NaN, " 1"), a
                              non-boolean estimated, missing or other keys ->
                              400 {"error": "invalid corrections", "detail":
                              naming the entry and the problem}.  While set,
                              every generic consumption list (/consumption,
                              /meters/{id}/consumption, every pages= style,
                              gzip=1 too) that includes the reading renders
                              it with consumption = that text as a JSON
                              number and estimated = the flag; everything
                              else (other readings, the records' order,
                              counts, links, other namespaces) is unchanged.
                              fault=wrongtype still applies on top.  The
                              provider reproductions ignore corrections.
                              -> the setting as GET returns it
  GET    /_corrections[?run=id]
                              {"run", "corrections": [{"meter_id",
                              "interval_start" (the reading's own text),
                              "consumption" (JSON number, the exact text
                              given), "estimated"}, ...] in meter then time
                              order} ([] when unset)
  DELETE /_corrections[?run=id]
                              clear one namespace (no run: all) ->
                              {"cleared": run or "all"}
  GET    /_xml/{name}         a fixed XML document for testing that an XML
                              client refuses hostile or broken XML safely;
                              Content-Type application/xml (latin1:
                              application/xml; charset=ISO-8859-1); unknown
                              name -> 404; other methods -> 405.  Names:
                                ok          well-formed UTF-8: <doc> with three
                                            <item>s (attribute a with &amp;,
                                            <v> with &#233; and &lt;..&gt;,
                                            an empty <v/>, a CDATA section)
                                xxe         DOCTYPE declaring external entity
                                            xxe = file:///etc/passwd, used in
                                            <doc><item><v>&xxe;</v>...
                                billion_laughs
                                            entities lol, lol1..lol9 (each ten
                                            of the previous; &lol9; = 10^9
                                            "lol"s) in <doc><item><v>
                                malformed   mismatched / unclosed tags
                                undeclared_entity
                                            &nbsp; (HTML, undeclared in XML)
                                latin1      encoding="ISO-8859-1" declared,
                                            "caf" + raw byte 0xE9 (not UTF-8)
                                deep        <doc> + 5,000 nested <x>, closed
                                            properly (> libxml2's depth 256)
                                cdata_end   30,000 <item><v>n</v></item>, then
                                            one whose text holds a stray "]]>"
                                            (not well-formed; about 0.7 MB)
                                empty       a 200 with an empty body

Provider reproductions
----------------------
Five real providers' APIs, shaped after shared/reference/provider-apis.md,
and a made-up one (GridPulse), served from the same portfolio under path
prefixes below the optional switch prefix (e.g.
/run=x/latency=50/octopus/v1/accounts/A-1B2C3D4E/).
Switches: run, latency, fault, faultn, retry, stall, rps, to and gzip work
as on the generic API (the fault bodies are the generic ones); ttl sets the
lifetime of Enode tokens; auth, keyname and pages are ignored (each provider
has its own fixed authentication and pagination).  /_meter_faults,
/_hidden_meters and /_corrections do not apply to the reproductions.
fault=wrongtype alters, in every 3rd record of a list (and in single
objects), the first of the fields consumption, kwhSum, kwh, value, bill_total_volume, is_activated to
"n/a", and in the 5th record (and single objects) the first of
interval_start, start, date, bill_start_date to "not-a-date" (where such a
field exists); GridPulse's positional records and the XML reproductions
(ENERGY STAR, Green Button): see there.  fault=malformed removes, in the XML
reproductions' bodies, the "<" nearest to the middle instead of a brace.  Order of checks: latency, fault=ratelimit and status faults,
route (unknown path 404, method 405, Octopus slash redirect 301), then
authentication (401), then parameters (400) and object lookup (404).
Credentials are module constants (below).  Numbers are JSON numbers with 3
decimals (bill_total_cost: 2).  Where provider-apis.md is silent, the
choices below are the reproduction's own and are marked "(own)".

Octopus Energy  /octopus/v1/...           (real: https://api.octopus.energy/v1/)
  Auth  HTTP Basic, username OCTOPUS_API_KEY "sk_live_octo7f3a", empty
        password (a non-empty password is rejected).  No Authorization, or not
        Basic -> 401 {"detail": "Authentication credentials were not
        provided."}; other credentials -> 401 {"detail": "Invalid API key."};
        both with WWW-Authenticate: Basic realm="api".
  Paths end with "/"; without it -> 301 to the absolute URL with the slash
  and the same query (as Django's APPEND_SLASH; before authentication).
  Unknown path -> 404 {"detail": "Not found."}; other methods -> 405
  {"detail": "Method \"POST\" not allowed."}.
  GET /octopus/v1/accounts/{number}/   number OCTOPUS_ACCOUNT "A-1B2C3D4E"
        (else 404 {"detail": "Not found."})
        -> {"number", "properties": [one per asset, in order:
             {"id": int, "moved_in_at", "moved_out_at": null,
              "address_line_1": asset address, "address_line_2": asset name,
              "address_line_3": "", "town": city, "county": "", "postcode",
              "electricity_meter_points": [{"mpan": 13 digits (valid check
                 digit), "profile_class", "consumption_standard",
                 "meters": [{"serial_number"}], "is_export": false}],
              "gas_meter_points": [{"mprn": 10 digits,
                 "consumption_standard", "meters": [{"serial_number"}]}]}]}
        Each electricity / gas meter of the asset is a meter point with one
        meter, serial_number = the meter's serial_number; water and heat
        meters are left out.  The portfolio's first electricity meter point
        (M00001's) has a second meter: a replacement (own serial "SN-" + 8
        digits, own pseudo-random readings) reporting from reading index
        K//2 (K = --readings) to the end, while the original meter keeps all
        its readings, so the two overlap in time and only (mpan, serial)
        identifies a meter (own).
  GET /octopus/v1/electricity-meter-points/{mpan}/meters/{serial}/consumption/
  GET /octopus/v1/gas-meter-points/{mprn}/meters/{serial}/consumption/
        Unknown point or serial, or a point of the other fuel -> 404
        {"detail": "Not found."}.  Query:
          period_from  inclusive, on interval_start   ISO 8601 with offset or
          period_to    exclusive, on interval_start   Z ("+" sent as %2B); a
                       naive date-time or YYYY-MM-DD is Europe/London local
          page_size    1..25000 (OCTOPUS_MAX_PAGE_SIZE), default 100
          order_by     period (oldest first) | -period (default, newest first)
          group_by     hour | day | week | month | quarter; default: the raw
                       readings.  Sums of the readings whose interval_start
                       falls in the Europe/London hour / day / week (from
                       Monday) / month / quarter; the group's interval_start
                       and interval_end are its local boundaries; groups
                       without readings are left out (own).
          page         1-based
        Invalid values -> 400 {"<param>": ["<message>"]} (Django REST
        framework style, one key per bad parameter); page past the end, or
        not a positive integer -> 404 {"detail": "Invalid page."} (page 1 of
        an empty result is 200).
        -> {"count", "next", "previous", "results": [{"consumption",
            "interval_start", "interval_end"}]}: timestamps in Europe/London
        local time with their offset ("+00:00" in winter, "+01:00" in
        summer); no unit field: electricity kWh, gas m3 (SMETS2).  next /
        previous are absolute URLs built as Django REST framework does: the
        query parameters sorted by name with page replaced (previous of page
        2 drops page); null at the ends.  Readings have the portfolio's
        --interval (daily by default), not Octopus's half-hours.

UtilityAPI  /utilityapi/api/v2/...          (real: https://utilityapi.com/api/v2)
  Auth  Authorization: Bearer UAPI_TOKEN "uapi-tok-91c2", else 401
        {"error": "Unauthorized"}.  Unknown path 404 {"error": "Not found"},
        other methods 405 {"error": "Method not allowed"}; trailing "/" is
        optional.  UtilityAPI asks clients for at most 1 request per second
        (bulk downloads: 1 per minute) and answers 429 with Retry-After:
        reproduce with the generic switches, e.g.
        /fault=ratelimit/rps=1/utilityapi/api/v2/meters.
  Meters: every electricity, gas and water meter (heat is left out), in
  portfolio order = ascending uid.  uid: a numeric string ("731021"; strictly
  increasing, never send it as a number).  service_class electric | gas |
  water, unit kwh | therms | gallons, utility "PG&E" (electric, gas) or
  "SFPUC" (water).  One authorization per asset: authorization_uid
  "81000"+7*asset number (a numeric string).
  GET /utilityapi/api/v2/meters
        filters uids (comma list), utility (exact, "&" sent as %26),
        is_archived, is_activated (true | false, else 400)
        -> {"meters": [{"uid", "created", "user_email", "user_uid",
            "authorization_uid", "utility", "base": {"billing_account",
            "billing_address", "billing_contact", "meter_numbers":
            [serial_number], "service_address", "service_class",
            "service_identifier", "service_tariff"}, "bill_count",
            "interval_count", "is_activated" (= generic is_active),
            "is_archived" (= not is_active), "notes": [], "status",
            "status_message", "status_ts"}], "next"}
  GET /utilityapi/api/v2/meters/{uid}   one meter object (404 {"error":
        "Not found"} if unknown)
  GET /utilityapi/api/v2/intervals
  GET /utilityapi/api/v2/bills
        meters=<uid,uid> and/or authorizations=<uid,uid> (union; unknown
        uids select nothing) are REQUIRED: without -> 400 {"error": "meters
        or authorizations is required"}.  start (inclusive) / end
        (exclusive) on the reading start: ISO 8601 with offset or Z; a naive
        date-time or YYYY-MM-DD is America/Los_Angeles local; invalid -> 400.
        order earliest_first (default; own) | latest_first, else 400.
        intervals -> {"intervals": [{"uid", "meter_uid", "authorization_uid",
            "utility", "base": {"service_class", "service_identifier",
            "meter_numbers"}, "readings": [{"start", "end", "kwh" (electric
            only; deprecated), "datapoints": [{"type": "net", "unit":
            "kwh" | "therms" | "gallons", "value"}]}]}], "next"}
          A block object holds up to UAPI_BLOCK = 30 consecutive readings of
          one meter (block b = reading indexes 30b..30b+29, cut to start/end;
          uid = meter uid * 10^6 + b + 1).  Blocks are ordered by their first
          reading, then meter; latest_first reverses that list (readings in a
          block stay oldest first) (own).  start/end: America/Los_Angeles
          local time with offset and microseconds
          ("2024-12-31T16:00:00.000000-08:00").  Values: electricity kWh as
          is; gas m3 x 0.3612 = therms; water m3 x 264.172 = US gallons
          (rounded to 3 decimals per reading) (own conversion).
        bills -> {"bills": [{"uid", "meter_uid", "authorization_uid",
            "utility", "base": {"bill_start_date", "bill_end_date"
            (YYYY-MM-DD), "bill_total_kwh" (null unless electric),
            "bill_total_unit" kwh | therms | gallons, "bill_total_volume",
            "bill_total_cost"}}], "next"}
          One bill per meter and America/Los_Angeles calendar month of the
          readings' start (so a partial first and last month):
          bill_start_date / bill_end_date = local date of the first reading's
          start / the last reading's end (consecutive bills share the
          boundary date); bill_total_volume = the sum of that month's interval
          values; bill_total_cost = 12.50 + volume x (0.31 $/kwh, 2.10
          $/therm, 0.012 $/gallon).  Bills are fixed: start/end select the
          bills whose readings overlap [start, end) (own).  uid = meter uid *
          1000 + the 1-based number of the bill.  Order by bill start, then
          meter.
  Pagination (all lists): limit 1..1000 (UAPI_MAX_LIMIT, the default; else
  400), after=<uid> continues after that object of the same result (unknown
  -> 400); next = this absolute URL with after=<last uid of the page>, or
  null on the last page.

Enode  /enode/... (API host)  and  /enode-oauth/... (OAuth host)
  Token POST /enode-oauth/oauth2/token, form grant_type=client_credentials,
        client as HTTP Basic ENODE_CLIENT_ID "enode-client" /
        ENODE_CLIENT_SECRET "enode-secret-5a1b" (form credentials are not
        accepted) -> {"access_token": random, "expires_in": ttl switch
        (default 3600), "scope": "", "token_type": "bearer"} with
        Cache-Control: no-store.  Other grant -> 400 {"error":
        "unsupported_grant_type", ...}; bad client -> 401 {"error":
        "invalid_client", ...}; GET -> 405; other /enode-oauth/ paths -> 404
        {"error": "not_found"}.  Like /oauth/token it is exempt
        from faults.  Its tokens are valid only for /enode/ (and generic
        tokens not for it).
  Auth  Authorization: Bearer <live token>, else 401
        {"type": "https://developers.enode.com/problems/unauthorized",
         "title": "Unauthorized"}.  All Enode errors are problem details
        (Content-Type: application/problem+json) {"type", "title"[,
        "detail"]}: 400 bad-request, 404 not-found, 405 method-not-allowed.
  Pagination (lists): pageSize 1..100 (default 50; else 400), after=<cursor>
        or before=<cursor> (exclusive; both -> 400; malformed -> 400)
        -> {"data": [...], "pagination": {"before": cursor of the page's
        first record if records precede it, else null, "after": cursor of
        the last record if records follow, else null}}.  Cursors: opaque
        unpadded base64url; before= returns the pageSize records just before.
  GET /enode/meters   one meter per electricity meter, portfolio order
        {"id": deterministic UUID (v4 form), "userId": "user-a0001",
         "vendor" (ENPHASE | SOLAREDGE | TESLA), "lastSeen", "isReachable"
         (= is_active), "information": {"brand", "model", "siteName": asset
         name, "installationDate"}, "energyState": {"power": kW over the last
         reading, "lastUpdated"}, "location": {"id": asset_id}}
         lastSeen / lastUpdated = end of the last reading, "...Z".
  GET /enode/meters/{meterId}   one meter object (404 if unknown)
  GET /enode/meters/{meterId}/statistics   (own endpoint: Enode's public
        docs describe no meter consumption endpoint; modelled on its
        statistics style)  startDate (inclusive) / endDate (exclusive) on
        the reading start, ISO 8601 with offset or Z, or YYYY-MM-DD = UTC
        midnight, both optional; resolution DAY (default) | HOUR (UTC
        buckets; a reading counts in the bucket of its start; empty buckets
        left out) -> {"data": [{"date": "2025-01-01T00:00:00Z", "kwhSum"}],
        "pagination"} oldest first, paginated as above.

GridPulse  /gridpulse/v3/...   (made up: the README's worked example of a
           provider without a built-in profile; real base URL in the README:
           https://api.gridpulse.example/v3)
  Auth  Authorization: Bearer GRIDPULSE_TOKEN "gp-tok-3c5e", else 401
        {"error": "unauthorized"} with WWW-Authenticate: Bearer
        realm="gridpulse".  Unknown path (also other versions than v3) -> 404
        {"error": "not found"}; other methods -> 405 {"error": "method not
        allowed"}; a trailing "/" is optional.  Parameters are checked before
        the meter lookup.
  GET /gridpulse/v3/sites?page=N&per_page=M
        page 1-based (default 1; not a positive integer -> 400 {"error":
        "page must be a positive integer"}); per_page 1..100 (default 50;
        else 400 {"error": "per_page must be 1..100"})
        -> {"page": N, "per_page": M, "total_pages": ceil(assets / M),
            "sites": [{"id": "S<n>" (asset number n without padding: A0001 ->
            "S1"), "meters": [{"mid": meter number as an integer (M00017 ->
            17), "kind": "ELEC" | "GAS" | "H2O" | "HEAT" (electricity, gas,
            water, heat), "uom": the meter's unit (kWh, m3, m3, MWh),
            "serial": serial_number}], "label": asset name, "city"}]}
        one site per asset in portfolio order, its meters in portfolio
        order; "meters" comes before "label" on purpose (clients must not
        rely on key order).  A page past the end -> "sites": [] with the same
        total_pages.
  GET /gridpulse/v3/meters/{mid}/series?since=YYYY-MM-DD&until=YYYY-MM-DD
        since (inclusive) / until (exclusive) on the reading start, both
        optional, dates at midnight UTC (a date only: anything else, or an
        impossible date -> 400 {"error": "since must be a date
        YYYY-MM-DD"}); with both, until - since > 366 days -> 400 {"error":
        "range too long", "max_days": 366}; until <= since gives no points
        (own).  mid: the decimal meter number without leading zeros, else or
        unknown -> 404 {"error": "no such meter"}.
        -> {"meter": mid, "uom": unit, "points": [[start (epoch seconds,
            integer), duration (seconds, integer = --interval), value (the
            portfolio's consumption), quality "E" (estimated) | "A"
            (actual)], ...]} oldest first, not paginated.
  fault=wrongtype: in every 3rd point the value, in the 5th point the start
  becomes "n/a" / "not-a-date"; in every 3rd site the first meter's mid
  becomes "n/a".

ENERGY STAR Portfolio Manager  /energystar/...   (real:
           https://portfoliomanager.energystar.gov/ws; XML)
  Content-Type: application/xml; bodies start with <?xml ... standalone="yes"?>.
  Auth  HTTP Basic demo-user / pw-51d2e8 or key-7f3a9c / "" (as auth=basic),
        else 401 with WWW-Authenticate: Basic realm="energystar".  Errors are
        <response status="Error"><errors><error errorNumber="<status>"
        errorDescription="..."/></errors></response>: 401, 400 (bad
        parameter), 404 (unknown path, account, property or meter), 405 (not
        GET).  No trailing "/" (a trailing "/" is tolerated).
  Ids   property id = the asset number without padding (A0001 -> 1); meter id
        = ENERGYSTAR_METER_BASE 100000 + meter number (M00017 -> 100017);
        bill id = meter id x 1000 + the bill's 1-based month number (the
        portfolio's first month is 1) (own).  Ids are decimal without
        leading zeros, else 404.
  Links are relative to the API root (as the real API's: "/meter/100001"),
  without /energystar or the switch prefix: clients prepend their base URL.
  GET /energystar/account
        -> <account><id>1</id><username>demo-user</username><webserviceUser>
           true</webserviceUser><searchable>false</searchable><contact>
           <firstName/><lastName/><email/></contact><organization name="...">
           <primaryBusiness>Other</primaryBusiness><energyStarPartner>false
           </energyStarPartner></organization></account>: one account, 1,
           the same for both credentials (own contact and organization).
  GET /energystar/account/{accountId}/property/list
        -> <response status="Ok"><links><link id="<property id>" hint="<asset
           name>" link="/property/<property id>" linkDescription="This is the
           GET url for this Property." httpMethod="get"/>...</links></response>
           (links only: every asset, portfolio order); accountId other than
           1 -> 404
  GET /energystar/property/{id}
        -> <property><name/><primaryFunction>Office</primaryFunction>
           <grossFloorArea units="Square Meters|Square Feet" temporary="false"
           default="N/A"><value/></grossFloorArea><yearBuilt/><address
           address1="..." city="..." postalCode="..." [state="..."]
           country="GB|NL|US|DE"/><numberOfBuildings>1</numberOfBuildings>
           <occupancyPercentage>100</occupancyPercentage><isFederalProperty>
           false</isFederalProperty></property>: the asset's name, address,
           city, postcode, country and floor_area (its JSON number text;
           units "Square Feet" for floor_area_unit ft2, else "Square
           Meters"); yearBuilt 1900..2020 (own, pseudo-random per asset);
           state only for US assets (own: Boston MA, Chicago IL, San
           Francisco CA).  Every text and attribute is XML-escaped.
  GET /energystar/property/{id}/meter/list
        -> <response status="Ok"><links><link id="<meter id>" hint="<meter
           name>" link="/meter/<meter id>" linkDescription="This is the GET
           url for this Meter." httpMethod="get"/>...</links></response>
           (links only: every meter of the asset, portfolio order)
  GET /energystar/meter/{id}
        -> <meter><id/><type/><name/><metered>true</metered><unitOfMeasure/>
           <firstBillDate/><inUse/>[<inactiveDate/>]<accessLevel>Read
           </accessLevel></meter>: type Electric | Natural Gas |
           Municipally Supplied Potable Water - Mixed Indoor/Outdoor |
           District Hot Water; unitOfMeasure "kWh (thousand Watt-hours)",
           "cm (Cubic meters)" (gas and water), "MWh (million Watt-hours)"
           (heat); firstBillDate = first day of the first bill; inUse =
           is_active; inactive meters add inactiveDate = last day of the last
           bill (own).
  GET /energystar/meter/{id}/consumptionData?page=N&startDate=D&endDate=D
        Bills, not readings: one bill per UTC calendar month holding reading
        starts: startDate = the month's first day, endDate = its last day
        (also for a partial first/last month) (own), usage = exact sum of the
        month's readings (3 decimals), estimatedValue="true" when any of them
        is estimated.  startDate / endDate (YYYY-MM-DD, else 400) select the
        bills overlapping [startDate, endDate], both inclusive (own).  Oldest
        first.  page 1-based (default 1; not a positive integer -> 400; past
        the end -> an empty <meterData/>).  pageSize=1..120 (own, not in the
        real API; default and maximum ENERGYSTAR_PAGE_SIZE 120, else 400)
        makes pages smaller for tests.
        -> <meterData><meterConsumption estimatedValue="true|false"><id/>
           <startDate/><endDate/><usage/></meterConsumption>...[<links><link
           httpMethod="get" link="/meter/<id>/consumptionData?page=<N+1>&amp;
           <the other query parameters, as sent>" linkDescription="..."/>
           </links>]</meterData>; the links element only when more bills
           follow.  Reproduced defect: the description's case varies: "next
           page" on odd pages, "Next Page" on even ones.
  fault=wrongtype: in every 3rd bill of a page the usage, in the 5th the
  startDate becomes "n/a" / "not-a-date".

Green Button / ESPI  /greenbutton/...   (real: Connect My Data,
           .../espi/1_1/resource/...; Atom XML)
  Content-Type: application/atom+xml.  Every document is Atom (default
  namespace http://www.w3.org/2005/Atom) with ESPI content in
  http://naesb.org/espi (prefix espi).  Feeds: <feed><id/><title/><updated/>
  <link rel="self"/><entry>...</entry>...</feed>; entries: <entry><id>
  urn:uuid:... (deterministic)</id><link rel=.../>...<title/><content>ESPI
  object</content><published/><updated/></entry>; single resources are one
  <entry> (root element).  published / updated = end of the last reading.
  hrefs are absolute URLs (listener, switch prefix, /greenbutton/...).
  Auth  Authorization: Bearer tok-9b81c4 (the generic bearer token), else 401
        with WWW-Authenticate: Bearer error="invalid_token".  Errors (own
        format): <error xmlns="http://naesb.org/espi"><code>status</code>
        <message/></error> with Content-Type application/xml: 401, 400, 404
        (unknown path, subscription other than 1, UsagePoint or ReadingType),
        405 (not GET).
  Ids   UsagePoint n = the meter number (M00017 -> 17, no leading zeros);
        one MeterReading (1) per UsagePoint; ReadingType n belongs to
        UsagePoint n; IntervalBlock b = the b-th UTC calendar month of the
        portfolio (1-based); one Subscription, 1.
  GET /greenbutton/Subscription/1/UsagePoint        feed, one entry per meter
  GET /greenbutton/Subscription/1/UsagePoint/{n}     that entry
        links self .../UsagePoint/{n}, up .../UsagePoint, related
        .../UsagePoint/{n}/MeterReading, related .../LocalTimeParameters/1;
        content <espi:UsagePoint><espi:ServiceCategory><espi:kind>: 0
        electricity, 1 gas, 2 water, 4 heat (ESPI's ServiceKind heat)
        </espi:kind></espi:ServiceCategory><espi:status>1 (is_active) | 0
        </espi:status></espi:UsagePoint>
  GET /greenbutton/Subscription/1/UsagePoint/{n}/MeterReading   feed of one
  GET .../UsagePoint/{n}/MeterReading/1                         entry
        links self, up, related .../MeterReading/1/IntervalBlock, related
        /greenbutton/ReadingType/{n}; content <espi:MeterReading/>
  GET .../UsagePoint/{n}/MeterReading/1/IntervalBlock?published-min=T&published-max=T
        T: epoch seconds or ISO 8601 with offset or Z (else 400); selects the
        readings whose start is in [min, max) (own; both optional).
        max-results / start-index are not implemented (ignored).  Feed of
        one entry per month with selected readings (self .../IntervalBlock/b,
        up): <espi:IntervalBlock><espi:interval><espi:duration> (selected
        readings x --interval)</espi:duration><espi:start>epoch of the first
        </espi:start></espi:interval><espi:IntervalReading>
        <espi:ReadingQuality><espi:quality>Q</espi:quality>
        </espi:ReadingQuality><espi:timePeriod><espi:duration>--interval
        </espi:duration><espi:start>epoch</espi:start></espi:timePeriod>
        <espi:value>V</espi:value></espi:IntervalReading>...
        </espi:IntervalBlock>, oldest first.  V = integer thousandths of the
        portfolio unit, so V x 10^powerOfTenMultiplier [uom] = the
        consumption exactly: electricity kWh -> Wh (uom 72, multiplier 0),
        gas and water m3 (uom 42, multiplier -3), heat MWh -> Wh (uom 72,
        multiplier 3).  Q (reading index i): estimated readings 9
        (interpolated) when i % 20 == 9, else 14 (unvalidated); others 19
        (billing-acceptable) when i % 10 == 0, else 0 (valid) (own).
  GET /greenbutton/ReadingType/{n}   entry (self, up): <espi:ReadingType>
        accumulationBehaviour 4, commodity (1 electricity, 7 gas, 9 water,
        0 heat), dataQualifier 12, flowDirection 1, intervalLength
        (--interval), kind (12 energy, 58 volume), phase 0,
        powerOfTenMultiplier, timeAttribute 0, uom </espi:ReadingType>.
        Reproduced defect: ReadingType GREENBUTTON_EMPTY_READING_TYPE = 2
        (UsagePoint 2; M00002, gas by default) is empty, <espi:ReadingType/>
        (no uom, no multiplier), while its IntervalBlocks carry the usual
        values (m3 x 10^-3 for a gas meter).
  GET /greenbutton/LocalTimeParameters/1   entry: Europe/London,
        <espi:LocalTimeParameters><espi:dstEndRule>A7FE1000</espi:dstEndRule>
        <espi:dstOffset>3600</espi:dstOffset><espi:dstStartRule>37FE1000
        </espi:dstStartRule><espi:tzOffset>0</espi:tzOffset>
        </espi:LocalTimeParameters>; rules (hex) = month << 28 | 3 (weekday
        on or before the day) << 25 | day 31 << 20 | weekday 7 (Sunday) << 17
        | hour 1 (UTC) << 12 (own encoding: last Sunday of March / October,
        01:00 UTC).
  fault=wrongtype: in every 3rd IntervalReading of a response the value, in
  the 5th the timePeriod start becomes "n/a" / "not-a-date".
"""

from __future__ import annotations

import argparse
import array
import base64
import bisect
import collections
import datetime as dt
import functools
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
import ssl
import struct
import sys
import threading
import time
import traceback
import zoneinfo
from dataclasses import dataclass
from urllib.parse import parse_qsl, quote, quote_plus, unquote, urlencode, urlsplit
from xml.sax.saxutils import escape as xml_escape, quoteattr

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

# Provider reproductions (see "Provider reproductions" in the module docstring)
OCTOPUS_API_KEY = "sk_live_octo7f3a"
OCTOPUS_ACCOUNT = "A-1B2C3D4E"
OCTOPUS_MAX_PAGE_SIZE = 25_000
UAPI_TOKEN = "uapi-tok-91c2"
UAPI_MAX_LIMIT = 1000
UAPI_BLOCK = 30
ENODE_CLIENT_ID = "enode-client"
ENODE_CLIENT_SECRET = "enode-secret-5a1b"
ENODE_PAGE_SIZE = 50
ENODE_MAX_PAGE_SIZE = 100
PROBLEM_CT = "application/problem+json"
GRIDPULSE_TOKEN = "gp-tok-3c5e"
GRIDPULSE_PER_PAGE = 50
GRIDPULSE_MAX_PER_PAGE = 100
GRIDPULSE_MAX_DAYS = 366
GRIDPULSE_KINDS = {"electricity": "ELEC", "gas": "GAS", "water": "H2O", "heat": "HEAT"}
ENERGYSTAR_PAGE_SIZE = 120
ENERGYSTAR_METER_BASE = 100_000        # meter M00017 -> ENERGY STAR meter id 100017
ENERGYSTAR_TYPES = {"electricity": "Electric", "gas": "Natural Gas",
                    "water": "Municipally Supplied Potable Water - Mixed Indoor/Outdoor",
                    "heat": "District Hot Water"}
ENERGYSTAR_ACCOUNT_ID = 1              # the one account (GET /energystar/account)
ENERGYSTAR_STATES = {"Boston": "MA", "Chicago": "IL", "San Francisco": "CA"}   # US assets' state
ENERGYSTAR_AREA_UNITS = {"ft2": "Square Feet", "m2": "Square Meters"}
ENERGYSTAR_UNITS = {"electricity": "kWh (thousand Watt-hours)", "gas": "cm (Cubic meters)",
                    "water": "cm (Cubic meters)", "heat": "MWh (million Watt-hours)"}
XML_CT = "application/xml"
ATOM_CT = "application/atom+xml"
ATOM_NS = "http://www.w3.org/2005/Atom"
ESPI_NS = "http://naesb.org/espi"
# resource -> (ServiceCategory kind, uom, powerOfTenMultiplier, commodity, ReadingType kind)
# value = thousandths of the portfolio unit; value x 10^multiplier [uom] = the consumption
GREENBUTTON_TYPES = {"electricity": (0, 72, 0, 1, 12), "gas": (1, 42, -3, 7, 58),
                     "water": (2, 42, -3, 9, 58), "heat": (4, 72, 3, 0, 12)}
GREENBUTTON_EMPTY_READING_TYPE = 2      # UsagePoint / ReadingType 2 has an empty ReadingType
PROVIDERS = ("octopus", "utilityapi", "enode", "enode-oauth", "gridpulse", "energystar", "greenbutton")
PROVIDER_CT = {"energystar": XML_CT, "greenbutton": ATOM_CT, "xml": XML_CT}   # "xml": /consumption?format=xml
# GET /_xml/{name}: fixed hostile or broken XML documents -> (body, Content-Type)
_LOL = "".join('<!ENTITY lol%d "%s">' % (i, ("&lol%s;" % (i - 1 if i > 1 else "")) * 10) for i in range(1, 10))
XML_DOCS = {
    "ok": (b'<?xml version="1.0" encoding="UTF-8"?>\n<doc><item a="x &amp; y"><v> caf&#233; &lt;ok&gt; </v>'
           b'</item><item a="2"><v/></item><item><v><![CDATA[1 < 2]]></v></item></doc>', XML_CT),
    "xxe": (b'<?xml version="1.0" encoding="UTF-8"?>\n<!DOCTYPE doc [<!ENTITY xxe SYSTEM "file:///etc/passwd">]>\n'
            b'<doc><item><v>&xxe;</v></item></doc>', XML_CT),
    "billion_laughs": (('<?xml version="1.0" encoding="UTF-8"?>\n<!DOCTYPE doc [<!ENTITY lol "lol">%s]>\n'
                        '<doc><item><v>&lol9;</v></item></doc>' % _LOL).encode(), XML_CT),
    "malformed": (b'<?xml version="1.0"?><doc><item><v>1</v></item><item><v>2</doc>', XML_CT),
    "undeclared_entity": (b'<doc><item><v>&nbsp;</v></item></doc>', XML_CT),
    "latin1": (b'<?xml version="1.0" encoding="ISO-8859-1"?><doc><item><v>caf\xe9</v></item></doc>',
               "application/xml; charset=ISO-8859-1"),
    "deep": (b"<doc>" + b"<x>" * 5000 + b"</x>" * 5000 + b"</doc>", XML_CT),
    "cdata_end": (b"<doc>" + b"".join(b"<item><v>%d</v></item>" % i for i in range(30000))
                  + b"<item><v>a]]>b</v></item></doc>", XML_CT),
    "empty": (b"", XML_CT),
}
LONDON = zoneinfo.ZoneInfo("Europe/London")
LOS_ANGELES = zoneinfo.ZoneInfo("America/Los_Angeles")

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
CONTROL_PATHS = ("/_requests", "/_health", "/_stats", "/_revoke_tokens", "/_meter_faults",
                 "/_hidden_meters", "/_corrections")
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


# Query strings: a client paging through a long filter (e.g. 1000 meter ids)
# sends the same long parameter with every page, so its decoding, splitting
# and re-encoding (next/previous/Link URLs) are memoised per parameter text.
def _decode_field(field: str) -> tuple[str, str]:
    name, _, value = field.partition("=")
    return unquote(name.replace("+", " ")), unquote(value.replace("+", " "))


_decode_field_cached = functools.lru_cache(maxsize=512)(_decode_field)


def parse_query(query: str) -> list[tuple[str, str]]:
    """parse_qsl(query, keep_blank_values=True), memoising long fields' decoding."""
    return [_decode_field_cached(f) if len(f) > 64 else _decode_field(f)
            for f in query.split("&") if f]


_quote_plus_cached = functools.lru_cache(maxsize=512)(quote_plus)


@functools.lru_cache(maxsize=512)
def _id_set(value: str) -> frozenset:
    """The non-empty, stripped items of a comma list."""
    return frozenset(x.strip() for x in value.split(",") if x.strip())


def _list_filter(pairs, name: str) -> frozenset | None:
    """The union of the comma lists of every name= parameter (None if absent)."""
    found = [v for k, v in pairs if k == name]
    if not found:
        return None
    return _id_set(found[0]) if len(found) == 1 else frozenset().union(*map(_id_set, found))


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


def parse_local(value: str, tz) -> dt.datetime:
    """Parse ISO 8601 with an offset or Z; a naive date-time or YYYY-MM-DD is
    local time (midnight) in tz.  Raises ValueError for anything else."""
    value = value.strip()
    if re.fullmatch(r"\d{4}-\d{2}-\d{2}", value):
        day = dt.date.fromisoformat(value)
        return dt.datetime(day.year, day.month, day.day, tzinfo=tz)
    if not re.fullmatch(r"\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}(:\d{2}(\.\d{1,6})?)?"
                        r"(Z|[+-]\d{2}:?\d{2})?", value):
        raise ValueError("not an ISO 8601 timestamp")
    when = dt.datetime.fromisoformat(value)
    return when.replace(tzinfo=tz) if when.tzinfo is None else when


def _milli(value: int) -> str:
    """Thousandths as a JSON number with 3 decimals."""
    return "%d.%03d" % divmod(value, 1000)


MPAN_PRIMES = (3, 5, 7, 13, 17, 19, 23, 29, 31, 37, 41, 43)


def _mpan(core12: str) -> str:
    """A 13-digit MPAN core: 12 digits plus the standard check digit."""
    return core12 + str(sum(int(d) * p for d, p in zip(core12, MPAN_PRIMES)) % 11 % 10)


def _unique(used: set, h: int, make) -> str:
    """make(h) re-hashed until it is not in used; the result is added to used."""
    while True:
        value = make(h)
        if value not in used:
            used.add(value)
            return value
        h = _stable_hash(h, "again")


OCTO_GROUPS = ("hour", "day", "week", "month", "quarter")


def _london_floor(local: dt.datetime, group_by: str) -> dt.datetime:
    """Start of the Europe/London group_by period that contains local."""
    if group_by == "hour":
        return local.replace(minute=0, second=0, microsecond=0)
    day = local.date()
    if group_by == "week":
        day -= dt.timedelta(days=day.weekday())
    elif group_by == "month":
        day = day.replace(day=1)
    elif group_by == "quarter":
        day = day.replace(month=(day.month - 1) // 3 * 3 + 1, day=1)
    return dt.datetime(day.year, day.month, day.day, tzinfo=LONDON)


def _london_next(start: dt.datetime, group_by: str) -> dt.datetime:
    """Start of the Europe/London group_by period after the one starting at start."""
    if group_by == "hour":
        return (start.astimezone(dt.timezone.utc) + dt.timedelta(hours=1)).astimezone(LONDON)
    day = start.date()
    if group_by in ("day", "week"):
        day += dt.timedelta(days=1 if group_by == "day" else 7)
    else:
        months = day.year * 12 + day.month - 1 + (1 if group_by == "month" else 3)
        day = dt.date(months // 12, months % 12 + 1, 1)
    return dt.datetime(day.year, day.month, day.day, tzinfo=LONDON)


# UtilityAPI: service_class, unit, utility, tariff per resource (heat: not served)
UAPI_CLASSES = {"electricity": ("electric", "kwh", "PG&E", "B-19"),
                "gas": ("gas", "therms", "PG&E", "G-NR1"),
                "water": ("water", "gallons", "SFPUC", "W-2")}
# portfolio unit -> UtilityAPI unit as a fraction: kWh -> kwh, m3 -> therms, m3 -> gallons
UAPI_FACTORS = {"electricity": (1, 1), "gas": (3612, 10000), "water": (264172, 1000)}
# price in cents per unit as a fraction; every bill adds a fixed charge
UAPI_RATES = {"electricity": (31, 1), "gas": (210, 1), "water": (12, 10)}
UAPI_FIXED_CENTS = 1250
ENODE_VENDORS = (("ENPHASE", "Enphase", "IQ Gateway"), ("SOLAREDGE", "SolarEdge", "Energy Meter"),
                 ("TESLA", "Tesla", "Backup Gateway 2"))

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

        # Their XML twins (/consumption?format=xml): <reading> head and tail per meter.
        self._xgen = [("<reading><meter_id>%s</meter_id><interval_start>" % xml_escape(m["meter_id"]),
                       "<unit>%s</unit><estimated>" % xml_escape(m["unit"])) for m in self.meters]

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

        # Views of the provider reproductions (module docstring, "Provider reproductions").
        self._stamp_cache: dict = {}
        self._build_octopus()
        self._build_utilityapi()
        self._build_enode()
        self._build_gridpulse()

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

    def render_readings_xml(self, meter: int, lo: int, hi: int, out: list) -> None:
        """Append the XML twins (<reading>...</reading>) of readings lo..hi-1 of
        one meter to out: the elements and texts of render_readings' keys and values."""
        head, tail = self._xgen[meter]
        stamps = self.stamps
        append = out.append
        for i, v in zip(range(lo, hi), self.milli_values(meter, lo, hi)):
            append(f'{head}{stamps[i]}</interval_start><interval_end>{stamps[i + 1]}</interval_end>'
                   f'<consumption>{v // 1000}.{v % 1000:03d}</consumption>{tail}'
                   f'{"true" if i % 10 == 9 else "false"}</estimated></reading>')

    @staticmethod
    def estimated(i: int) -> bool:
        """The estimated flag of reading i (of every meter)."""
        return i % 10 == 9

    def corrected_reading(self, meter: int, i: int, consumption: str, estimated: bool) -> str:
        """The JSON text of reading i of one meter with a /_corrections value:
        consumption (JSON number text, emitted as is) and the estimated flag."""
        head, tail = self._gen[meter][:2]
        return (f'{head}{self.stamps[i]}","interval_end":"{self.stamps[i + 1]}",'
                f'"consumption":{consumption}{tail}{"true" if estimated else "false"}}}')

    def corrected_reading_xml(self, meter: int, i: int, consumption: str, estimated: bool) -> str:
        """The XML twin of corrected_reading."""
        head, tail = self._xgen[meter]
        return (f'{head}{self.stamps[i]}</interval_start><interval_end>{self.stamps[i + 1]}</interval_end>'
                f'<consumption>{xml_escape(consumption)}</consumption>{tail}'
                f'{"true" if estimated else "false"}</estimated></reading>')

    def reading_index(self, meter: int, when: dt.datetime) -> int | None:
        """Index of the reading starting at the instant when (None: no such reading)."""
        off = epoch_us(when) - self.start_us
        i, rest = divmod(off, self.interval_us)
        return i if rest == 0 and 0 <= i < self.readings else None

    def index_range(self, start_us: int | None, end_us: int | None) -> tuple[int, int]:
        """Reading indexes whose interval_start is in [start_us, end_us)."""
        def first_at_or_after(t: int) -> int:
            return min(self.readings, max(0, -((self.start_us - t) // self.interval_us)))
        lo = 0 if start_us is None else first_at_or_after(start_us)
        hi = self.readings if end_us is None else first_at_or_after(end_us)
        return lo, max(lo, hi)

    # -- provider reproductions ------------------------------------------------
    def milli_values(self, gen: int, lo: int, hi: int) -> list[int]:
        """Readings lo..hi-1 of generator gen in thousandths of the meter's unit.

        The same numbers render_readings prints (generators 0..meters-1 are the
        portfolio's meters; later ones are provider-only meters)."""
        _, _, mseed, base, res = self._gen[gen]
        season = self.season[res]
        out = []
        for i in range(lo, hi):
            x = (mseed + i * 0xC2B2AE3D) & MASK32
            x = ((x ^ (x >> 16)) * 0x45D9F3B) & MASK32
            x = ((x ^ (x >> 16)) * 0x45D9F3B) & MASK32
            out.append(base * season[i] * (700 + (x ^ (x >> 16)) % 600) // 1_000_000 or 1)
        return out

    def instant(self, i: int) -> dt.datetime:
        """Start of reading i (end of reading i-1), UTC."""
        return EPOCH + dt.timedelta(microseconds=self.start_us + i * self.interval_us)

    def local_stamps(self, tz, timespec: str = "auto") -> list[str]:
        """ISO texts of the reading boundaries 0..readings in time zone tz (cached)."""
        key = (str(tz), timespec)
        hit = self._stamp_cache.get(key)
        if hit is None:
            hit = [self.instant(i).astimezone(tz).isoformat(timespec=timespec)
                   for i in range(self.readings + 1)]
            self._stamp_cache[key] = hit
        return hit

    def _build_octopus(self) -> None:
        """Octopus account: a property per asset, a meter point per electricity/gas meter."""
        # (fuel, mpan or mprn, serial) -> (generator, first reading, end reading)
        self.octo_meters: dict[tuple[str, str, str], tuple[int, int, int]] = {}
        self.octo_replacement: tuple[str, str, str] | None = None   # (mpan, old serial, new serial)
        used: set[str] = set()
        props = []
        for a, asset in enumerate(self.assets, 1):
            elec, gas = [], []
            for idx in self.meters_by_asset[asset["asset_id"]]:
                m = self.meters[idx]
                if m["resource"] not in ("electricity", "gas"):
                    continue
                h = _stable_hash(self.seed, "octopus", m["meter_id"])
                standard = 1000 + h % 9000
                serial = m["serial_number"]
                if m["resource"] == "gas":
                    mprn = _unique(used, h, lambda x: str(10**9 + (x >> 8) % (9 * 10**9)))
                    gas.append({"mprn": mprn, "consumption_standard": standard,
                                "meters": [{"serial_number": serial}]})
                    self.octo_meters[("gas", mprn, serial)] = (idx, 0, self.readings)
                    continue
                mpan = _unique(used, h, lambda x: _mpan(f"{10 + x % 14:02d}{(x >> 8) % 10**10:010d}"))
                meters = [{"serial_number": serial}]
                self.octo_meters[("electricity", mpan, serial)] = (idx, 0, self.readings)
                if self.octo_replacement is None:
                    # A replacement meter on the same point, with readings of its own.
                    hr = _stable_hash(self.seed, "octopus-replacement", m["meter_id"])
                    new = _unique({serial}, hr, lambda x: f"SN-{x % 100_000_000:08d}")
                    gen = len(self._gen)
                    _, _, _, base, res = self._gen[idx]
                    self._gen.append(("", "", (self.seed * 0x9E3779B1 + (10**6 + idx) * 0x85EBCA77) & MASK32,
                                      base, res))
                    meters.append({"serial_number": new})
                    self.octo_meters[("electricity", mpan, new)] = (gen, self.readings // 2, self.readings)
                    self.octo_replacement = (mpan, serial, new)
                elec.append({"mpan": mpan, "profile_class": 3, "consumption_standard": standard,
                             "meters": meters, "is_export": False})
            props.append({
                "id": 1_200_000 + 1117 * a,
                "moved_in_at": "2019-06-01T00:00:00+01:00",
                "moved_out_at": None,
                "address_line_1": asset["address"],
                "address_line_2": asset["name"],
                "address_line_3": "",
                "town": asset["city"],
                "county": "",
                "postcode": asset["postcode"],
                "electricity_meter_points": elec,
                "gas_meter_points": gas,
            })
        self.octo_account_json = _dumps({"number": OCTOPUS_ACCOUNT, "properties": props})

    def octo_groups(self, gen: int, lo: int, hi: int, group_by: str) -> list[tuple[str, str, int]]:
        """Readings lo..hi-1 summed per Europe/London hour/day/week/month/quarter.

        A reading counts in the group that contains its interval_start; empty
        groups are left out.  Returns (interval_start, interval_end, milli)."""
        groups: list[list] = []
        for i, v in zip(range(lo, hi), self.milli_values(gen, lo, hi)):
            start = _london_floor(self.instant(i).astimezone(LONDON), group_by)
            stamp = start.timestamp()
            if groups and groups[-1][0] == stamp:
                groups[-1][2] += v
            else:
                groups.append([stamp, start, v])
        return [(start.isoformat(), _london_next(start, group_by).isoformat(), v)
                for _, start, v in groups]

    def _build_utilityapi(self) -> None:
        """UtilityAPI meters (electric, gas, water), monthly bill periods."""
        # Bill periods shared by all meters: readings grouped by the
        # America/Los_Angeles month of their start.
        periods: list[list] = []
        for i in range(self.readings):
            local = self.instant(i).astimezone(LOS_ANGELES)
            month = (local.year, local.month)
            if periods and periods[-1][0] == month:
                periods[-1][2] = i + 1
            else:
                periods.append([month, i, i + 1])
        self.uapi_periods = [
            (lo, hi, self.instant(lo).astimezone(LOS_ANGELES).date().isoformat(),
             self.instant(hi).astimezone(LOS_ANGELES).date().isoformat())
            for _, lo, hi in periods]
        created = self.instant(0).isoformat(timespec="microseconds")
        status_ts = self.instant(self.readings).isoformat(timespec="microseconds")
        self.uapi: list[dict] = []
        for idx, m in enumerate(self.meters):
            if m["resource"] not in UAPI_CLASSES:
                continue
            n = idx + 1
            a = self.asset_index[m["asset_id"]] + 1
            asset = self.assets[a - 1]
            klass, unit, utility, tariff = UAPI_CLASSES[m["resource"]]
            h = _stable_hash(self.seed, "utilityapi", m["meter_id"])
            ha = _stable_hash(self.seed, "utilityapi-account", a)
            uid = str(731_000 + 17 * n + h % 13)        # strictly increasing
            auth = str(81_000 + 7 * a)
            address = f"{asset['address']}, {asset['city']}, {asset['postcode']}".upper()
            identifier = f"{h % 10**10:010d}"
            obj = {
                "uid": uid,
                "created": created,
                "user_email": "energy@example.com",
                "user_uid": "20417",
                "authorization_uid": auth,
                "utility": utility,
                "base": {
                    "billing_account": f"{ha % 10**10:010d}-{a}",
                    "billing_address": address,
                    "billing_contact": "FACILITIES " + asset["name"].upper(),
                    "meter_numbers": [m["serial_number"]],
                    "service_address": address,
                    "service_class": klass,
                    "service_identifier": identifier,
                    "service_tariff": tariff,
                },
                "bill_count": len(self.uapi_periods),
                "interval_count": self.readings,
                "is_activated": m["is_active"],
                "is_archived": not m["is_active"],
                "notes": [],
                "status": "updated",
                "status_message": "Finished collecting data",
                "status_ts": status_ts,
            }
            self.uapi.append({
                "uid": uid, "idx": idx, "auth": auth, "utility": utility, "class": klass,
                "unit": unit, "factor": UAPI_FACTORS[m["resource"]], "rate": UAPI_RATES[m["resource"]],
                "activated": m["is_active"], "archived": not m["is_active"], "json": _dumps(obj),
                "head": '"meter_uid":"%s","authorization_uid":"%s","utility":%s' % (uid, auth, _dumps(utility)),
                "block_base": _dumps({"service_class": klass, "service_identifier": identifier,
                                      "meter_numbers": [m["serial_number"]]}),
            })
        self.uapi_index = {m["uid"]: pos for pos, m in enumerate(self.uapi)}

    def uapi_values(self, pos: int, lo: int, hi: int) -> list[int]:
        """Readings lo..hi-1 of UtilityAPI meter pos in thousandths of its unit."""
        m = self.uapi[pos]
        num, den = m["factor"]
        values = self.milli_values(m["idx"], lo, hi)
        if num == den:
            return values
        return [(v * num * 2 + den) // (den * 2) for v in values]

    def _build_enode(self) -> None:
        """Enode meters: one per electricity meter."""
        last = self.instant(self.readings).strftime("%Y-%m-%dT%H:%M:%SZ")
        installed = self.instant(0).strftime("%Y-%m-%d")
        self.enode: list[tuple[str, int, str]] = []     # (id, meter index, JSON)
        for idx, m in enumerate(self.meters):
            if m["resource"] != "electricity":
                continue
            d = hashlib.sha256(f"{self.seed}|enode|{m['meter_id']}".encode()).hexdigest()
            hexs = d[:12] + "4" + d[13:16] + "89ab"[int(d[16], 16) % 4] + d[17:32]
            ident = f"{hexs[:8]}-{hexs[8:12]}-{hexs[12:16]}-{hexs[16:20]}-{hexs[20:32]}"
            vendor, brand, model = ENODE_VENDORS[len(self.enode) % len(ENODE_VENDORS)]
            asset = self.assets[self.asset_index[m["asset_id"]]]
            power = None
            if self.readings:
                power = round(self.milli_values(idx, self.readings - 1, self.readings)[0]
                              / 1000 / (self.interval / 3600), 3)
            obj = {
                "id": ident,
                "userId": "user-" + asset["asset_id"].lower(),
                "vendor": vendor,
                "lastSeen": last,
                "isReachable": m["is_active"],
                "information": {"brand": brand, "model": model, "siteName": asset["name"],
                                "installationDate": installed},
                "energyState": {"power": power, "lastUpdated": last if self.readings else None},
                "location": {"id": asset["asset_id"]},
            }
            self.enode.append((ident, idx, _dumps(obj)))
        self.enode_index = {ident: pos for pos, (ident, _, _) in enumerate(self.enode)}

    def enode_buckets(self, gen: int, lo: int, hi: int, seconds: int) -> tuple[list[int], list[int]]:
        """Readings lo..hi-1 summed per UTC bucket of seconds: (bucket epochs, milli sums)."""
        keys: list[int] = []
        sums: list[int] = []
        for i, v in zip(range(lo, hi), self.milli_values(gen, lo, hi)):
            sec = (self.start_us + i * self.interval_us) // 1_000_000
            key = sec - sec % seconds
            if keys and keys[-1] == key:
                sums[-1] += v
            else:
                keys.append(key)
                sums.append(v)
        return keys, sums


    def _build_gridpulse(self) -> None:
        """GridPulse sites (one per asset, with nested meters) and the mid index."""
        self.gp_sites: list[dict] = []
        self.gp_index: dict[int, int] = {}          # mid -> meter index
        for a, asset in enumerate(self.assets, 1):
            meters = []
            for idx in self.meters_by_asset[asset["asset_id"]]:
                m = self.meters[idx]
                mid = int(m["meter_id"][1:])
                self.gp_index[mid] = idx
                meters.append({"mid": mid, "kind": GRIDPULSE_KINDS[m["resource"]], "uom": m["unit"],
                               "serial": m["serial_number"]})
            # "meters" before "label" on purpose (module docstring)
            self.gp_sites.append({"id": f"S{a}", "meters": meters, "label": asset["name"],
                                  "city": asset["city"]})
        self.gp_site_json = [_dumps(x) for x in self.gp_sites]


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
    def readings(cls, pf: Portfolio, segments: list[tuple[int, int, int]],
                 fixes: "Corrections | None" = None, xml: bool = False) -> "Listing":
        """Readings lo..hi-1 of each (meter, lo, hi) segment, in order; fixes:
        the run's /_corrections, rendered in place of the readings they name;
        xml: the records are the readings' XML twins (<reading> elements)."""
        render_readings = pf.render_readings_xml if xml else pf.render_readings
        corrected_reading = pf.corrected_reading_xml if xml else pf.corrected_reading
        segments = [s for s in segments if s[2] > s[1]]
        by_meter = fixes.by_meter if fixes else {}
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
                first = len(out)
                render_readings(meter, lo + off, lo + off + n, out)
                for i, (text, est) in by_meter.get(meter, {}).items():
                    if lo + off <= i < lo + off + n:
                        out[first + i - lo - off] = corrected_reading(meter, i, text, est)
                a += n
                k += 1
            return out
        return cls(total, render)


@dataclass(frozen=True)
class Corrections:
    """One run's /_corrections (immutable: a POST publishes a new one)."""
    items: dict         # (meter index, reading index) -> (consumption text, estimated)
    by_meter: dict      # meter index -> {reading index: (consumption text, estimated)}
    key: frozenset      # the items, part of the page cache keys

    @classmethod
    def of(cls, items: dict) -> "Corrections":
        by_meter: dict = {}
        for (meter, i), value in sorted(items.items()):
            by_meter.setdefault(meter, {})[i] = value
        return cls(dict(items), by_meter, frozenset(items.items()))


class _NumberText(str):
    """The source text of a JSON number (json.loads parse_int / parse_float)."""


JSON_NUMBER = re.compile(r"-?(?:0|[1-9][0-9]*)(?:\.[0-9]+)?(?:[eE][+-]?[0-9]+)?")


WRONG_NUMBER = re.compile(r'"(consumption|floor_area|kwhSum|kwh|value|bill_total_volume)":[^,}]+'
                          r'|"(is_active|is_activated)":(true|false)')
WRONG_START = re.compile(r'"(interval_start|start|date|bill_start_date)":"[^"]*"')


def make_wrong(text: str, bad_number: bool, bad_start: bool) -> str:
    """Apply the wrongtype fault to one record's JSON text."""
    if bad_number:
        text = WRONG_NUMBER.sub(lambda m: '"%s":"n/a"' % m.group(0).split('"')[1], text, count=1)
    if bad_start:
        text = WRONG_START.sub(lambda m: '"%s":"not-a-date"' % m.group(1), text, count=1)
    return text


WRONG_NUMBER_XML = re.compile(r"<consumption>[^<]*</consumption>")
WRONG_START_XML = re.compile(r"<interval_start>[^<]*</interval_start>")


def make_wrong_xml(text: str, bad_number: bool, bad_start: bool) -> str:
    """Apply the wrongtype fault to one reading's XML twin (as make_wrong)."""
    if bad_number:
        text = WRONG_NUMBER_XML.sub("<consumption>n/a</consumption>", text, count=1)
    if bad_start:
        text = WRONG_START_XML.sub("<interval_start>not-a-date</interval_start>", text, count=1)
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


def corrupt_xml(body: bytes) -> bytes:
    """Remove the "<" nearest to the middle of body (fault=malformed on XML)."""
    mid = len(body) // 2
    found = [j for j in (body.rfind(b"<", 0, mid), body.find(b"<", mid)) if j >= 0]
    if not found:
        return body[:mid]
    j = min(found, key=lambda k: abs(k - mid))
    return body[:j] + body[j + 1:]


# ---------------------------------------------------------------------------
# Scenario switches
# ---------------------------------------------------------------------------
class HTTPFail(Exception):
    """Abort request processing with a JSON error response."""

    def __init__(self, status: int, payload: object, headers=(), content_type: str = JSON_CT):
        super().__init__(status)
        self.status = status
        self.payload = payload
        self.headers = list(headers)
        self.content_type = content_type


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

    def __init__(self, port: int, portfolio: Portfolio, page_size: int, verbose: bool,
                 ssl_context: ssl.SSLContext | None = None):
        self.ssl_context = ssl_context
        self.scheme = "https" if ssl_context else "http"
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
        self.enode_tokens: dict[str, float] = {}
        # per run: /_meter_faults {"meter_ids": [...], "set": frozenset, "status", "from_page"}
        # and /_hidden_meters (the ids)
        self.meter_faults: dict[str, dict] = {}
        self.hidden_meters: dict[str, frozenset] = {}
        self.corrections: dict[str, Corrections] = {}   # per run: /_corrections
        self._reset_stats()
        super().__init__((HOST, port), ProviderHandler)
        self.base_url = f"{self.scheme}://{HOST}:{self.port}"
        self.listeners = {self.scheme: self.port}     # scheme -> port of every listener

    def get_request(self):
        sock, addr = super().get_request()
        if self.ssl_context is not None:
            # The handshake runs in the connection's thread (ProviderHandler.setup).
            sock = self.ssl_context.wrap_socket(sock, server_side=True, do_handshake_on_connect=False)
        return sock, addr

    def _reset_stats(self) -> None:
        self.total_requests = 0
        self.run_stats: dict[str, dict] = {}

    @property
    def port(self) -> int:
        return self.server_address[1]

    def handle_error(self, request, client_address):
        if isinstance(sys.exc_info()[1], (ConnectionError, TimeoutError, ssl.SSLError)) and not self.verbose:
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
# Provider reproductions: Octopus Energy, UtilityAPI, Enode
# ---------------------------------------------------------------------------
OCTO_NOT_FOUND = {"detail": "Not found."}
OCTO_RECORD = '{"consumption":%s,"interval_start":"%s","interval_end":"%s"}'
ENODE_PROBLEMS = "https://developers.enode.com/problems/"


def es_error(status: int, description: str, headers=()) -> HTTPFail:
    """An ENERGY STAR Portfolio Manager error response (XML)."""
    body = ('<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n<response status="Error">'
            '<errors><error errorNumber="%d" errorDescription=%s/></errors></response>'
            % (status, quoteattr(description)))
    return HTTPFail(status, body.encode(), headers, XML_CT)


def es_links(kind: str, items: list[tuple[int, str]]) -> str:
    """An ENERGY STAR list response (links only) of (id, hint) items of kind
    "meter" or "property" (without the XML declaration)."""
    return '<response status="Ok"><links>%s</links></response>' % "".join(
        '<link id="%d" hint=%s link="/%s/%d" linkDescription="This is the GET url for this %s." '
        'httpMethod="get"/>' % (ident, quoteattr(hint), kind, ident, kind.capitalize())
        for ident, hint in items)


def es_account_xml() -> str:
    """The ENERGY STAR account document (without the XML declaration)."""
    return ('<account><id>%d</id><username>%s</username><webserviceUser>true</webserviceUser>'
            '<searchable>false</searchable><contact><firstName>Demo</firstName><lastName>User</lastName>'
            '<email>%s@example.com</email></contact><organization name="Scaler Demo Portfolio">'
            '<primaryBusiness>Other</primaryBusiness><energyStarPartner>false</energyStarPartner>'
            '</organization></account>'
            % (ENERGYSTAR_ACCOUNT_ID, xml_escape(BASIC_USER), xml_escape(BASIC_USER)))


def es_property_xml(asset: dict, year: int) -> str:
    """An asset as an ENERGY STAR property document (without the XML
    declaration); every value is escaped, whatever the asset's texts hold."""
    state = ENERGYSTAR_STATES.get(asset["city"]) if asset["country"] == "US" else None
    address = 'address1=%s city=%s postalCode=%s%s country=%s' % (
        quoteattr(asset["address"]), quoteattr(asset["city"]), quoteattr(asset["postcode"]),
        "" if state is None else " state=" + quoteattr(state), quoteattr(asset["country"]))
    return ('<property><name>%s</name><primaryFunction>Office</primaryFunction>'
            '<grossFloorArea units=%s temporary="false" default="N/A"><value>%s</value></grossFloorArea>'
            '<yearBuilt>%d</yearBuilt><address %s/><numberOfBuildings>1</numberOfBuildings>'
            '<occupancyPercentage>100</occupancyPercentage><isFederalProperty>false</isFederalProperty>'
            '</property>'
            % (xml_escape(asset["name"]),
               quoteattr(ENERGYSTAR_AREA_UNITS.get(asset["floor_area_unit"], "Square Meters")),
               xml_escape(_dumps(asset["floor_area"])), year, address))


def gb_error(status: int, message: str, headers=()) -> HTTPFail:
    """A Green Button (ESPI) error response (XML; the format is own)."""
    body = ('<?xml version="1.0" encoding="UTF-8"?>\n<error xmlns="%s"><code>%d</code>'
            '<message>%s</message></error>' % (ESPI_NS, status, xml_escape(message)))
    return HTTPFail(status, body.encode(), headers, XML_CT)


def enode_problem(status: int, slug: str, title: str, detail: str | None = None, headers=()) -> HTTPFail:
    body = {"type": ENODE_PROBLEMS + slug, "title": title}
    if detail is not None:
        body["detail"] = detail
    return HTTPFail(status, body, headers, PROBLEM_CT)


def _enode_cursor(tag: str, key: int) -> str:
    return base64.urlsafe_b64encode(f"{tag}:{key}".encode()).decode().rstrip("=")


def _enode_uncursor(tag: str, name: str, value: str) -> int:
    try:
        raw = base64.urlsafe_b64decode((value + "=" * (-len(value) % 4)).encode()).decode()
        got, _, key = raw.partition(":")
        if got != tag:
            raise ValueError
        return int(key)
    except (ValueError, UnicodeDecodeError):
        raise enode_problem(400, "bad-request", "Bad Request", f"invalid {name} cursor") from None


class ProviderAPIs:
    """Request-handler mixin: the /octopus, /utilityapi, /enode, /gridpulse,
    /energystar and /greenbutton APIs."""

    # -- routing and authentication ------------------------------------------
    def _provider_route(self, sc: Scenario, rest: list[str], slash: bool, query: str) -> tuple:
        p, method = rest, self.command
        if p[0] == "octopus":
            route = None
            if len(p) == 4 and p[1:3] == ["v1", "accounts"]:
                route = ("octo_account", p[3])
            elif (len(p) == 7 and p[1] == "v1" and p[2] in ("electricity-meter-points", "gas-meter-points")
                  and p[4] == "meters" and p[6] == "consumption"):
                route = ("octo_consumption", p[2].split("-")[0], p[3], p[5])
            if route is None:
                raise HTTPFail(404, OCTO_NOT_FOUND)
            if method != "GET":
                raise HTTPFail(405, {"detail": f'Method "{method}" not allowed.'}, [("Allow", "GET")])
            if not slash:   # Django's APPEND_SLASH
                target = "%s%s/%s/%s" % (self.server.base_url, sc.prefix, "/".join(p),
                                         "?" + query if query else "")
                raise HTTPFail(301, {"detail": "Moved Permanently.", "location": target},
                               [("Location", target)])
            return route
        if p[0] == "utilityapi":
            route = None
            if len(p) == 4 and p[1:3] == ["api", "v2"] and p[3] in ("meters", "intervals", "bills"):
                route = ("uapi_" + p[3],)
            elif len(p) == 5 and p[1:4] == ["api", "v2", "meters"]:
                route = ("uapi_meter", p[4])
            if route is None:
                raise HTTPFail(404, {"error": "Not found"})
            if method != "GET":
                raise HTTPFail(405, {"error": "Method not allowed"}, [("Allow", "GET")])
            return route
        if p[0] == "gridpulse":
            route = None
            if p[1:] == ["v3", "sites"]:
                route = ("gp_sites",)
            elif len(p) == 5 and p[1:3] == ["v3", "meters"] and p[4] == "series":
                route = ("gp_series", p[3])
            if route is None:
                raise HTTPFail(404, {"error": "not found"})
            if method != "GET":
                raise HTTPFail(405, {"error": "method not allowed"}, [("Allow", "GET")])
            return route
        if p[0] == "energystar":
            route = None
            if p[1:] == ["account"]:
                route = ("es_account",)
            elif len(p) == 5 and p[1] == "account" and p[3:] == ["property", "list"]:
                route = ("es_property_list", p[2])
            elif len(p) == 3 and p[1] == "property":
                route = ("es_property", p[2])
            elif len(p) == 5 and p[1] == "property" and p[3:] == ["meter", "list"]:
                route = ("es_meter_list", p[2])
            elif len(p) == 3 and p[1] == "meter":
                route = ("es_meter", p[2])
            elif len(p) == 4 and p[1] == "meter" and p[3] == "consumptionData":
                route = ("es_consumption", p[2])
            if route is None:
                raise es_error(404, "Resource not found.")
            if method != "GET":
                raise es_error(405, f"Method {method} is not supported.", [("Allow", "GET")])
            return route
        if p[0] == "greenbutton":
            route = None
            q = p[1:]
            if len(q) >= 3 and q[:3] == ["Subscription", "1", "UsagePoint"]:
                r = q[3:]
                if not r:
                    route = ("gb_usage_points",)
                elif len(r) == 1:
                    route = ("gb_usage_point", r[0])
                elif len(r) == 2 and r[1] == "MeterReading":
                    route = ("gb_meter_readings", r[0])
                elif len(r) == 3 and r[1:] == ["MeterReading", "1"]:
                    route = ("gb_meter_reading", r[0])
                elif len(r) == 4 and r[1:] == ["MeterReading", "1", "IntervalBlock"]:
                    route = ("gb_interval_blocks", r[0])
            elif len(q) == 2 and q[0] == "ReadingType":
                route = ("gb_reading_type", q[1])
            elif q == ["LocalTimeParameters", "1"]:
                route = ("gb_local_time",)
            if route is None:
                raise gb_error(404, "Not Found")
            if method != "GET":
                raise gb_error(405, "Method Not Allowed", [("Allow", "GET")])
            return route
        # enode
        route = None
        if p[1:] == ["meters"]:
            route = ("enode_meters",)
        elif len(p) == 3 and p[1] == "meters":
            route = ("enode_meter", p[2])
        elif len(p) == 4 and p[1] == "meters" and p[3] == "statistics":
            route = ("enode_statistics", p[2])
        if route is None:
            raise enode_problem(404, "not-found", "Not Found", "no such endpoint")
        if method != "GET":
            raise enode_problem(405, "method-not-allowed", "Method Not Allowed", headers=[("Allow", "GET")])
        return route

    def _provider_auth(self, provider: str) -> None:
        if provider == "octopus":
            challenge = [("WWW-Authenticate", 'Basic realm="api"')]
            scheme = self.headers.get("Authorization", "").partition(" ")[0]
            if scheme.lower() != "basic":
                raise HTTPFail(401, {"detail": "Authentication credentials were not provided."}, challenge)
            if self._basic_credentials() != (OCTOPUS_API_KEY, ""):
                raise HTTPFail(401, {"detail": "Invalid API key."}, challenge)
        elif provider == "utilityapi":
            if self._bearer() != UAPI_TOKEN:
                raise HTTPFail(401, {"error": "Unauthorized"})
        elif provider == "gridpulse":
            if self._bearer() != GRIDPULSE_TOKEN:
                raise HTTPFail(401, {"error": "unauthorized"}, [("WWW-Authenticate", 'Bearer realm="gridpulse"')])
        elif provider == "energystar":
            if self._basic_credentials() not in ((BASIC_USER, BASIC_PASSWORD), (API_KEY, "")):
                raise es_error(401, "Unauthorized: invalid username or password.",
                               [("WWW-Authenticate", 'Basic realm="energystar"')])
        elif provider == "greenbutton":
            if self._bearer() != BEARER_TOKEN:
                raise gb_error(401, "Unauthorized", [("WWW-Authenticate", 'Bearer error="invalid_token"')])
        elif not self.server.live(self.server.enode_tokens, self._bearer()):
            raise enode_problem(401, "unauthorized", "Unauthorized")

    def _enode_token(self, sc: Scenario, rest: list[str], body: bytes):
        """POST /enode-oauth/oauth2/token: OAuth2 client credentials, client as HTTP Basic."""
        if rest != ["enode-oauth", "oauth2", "token"]:
            raise HTTPFail(404, {"error": "not_found"})
        if self.command != "POST":
            raise HTTPFail(405, {"error": "method_not_allowed"}, [("Allow", "POST")])
        form = dict(parse_qsl(body.decode("utf-8", "replace"), keep_blank_values=True))
        if form.get("grant_type") != "client_credentials":
            raise HTTPFail(400, {"error": "unsupported_grant_type",
                                 "error_description": "The authorization grant type is not supported."})
        if self._basic_credentials() != (ENODE_CLIENT_ID, ENODE_CLIENT_SECRET):
            raise HTTPFail(401, {"error": "invalid_client", "error_description": "Client authentication failed."},
                           [("WWW-Authenticate", 'Basic realm="enode"')])
        token = self.server.issue(self.server.enode_tokens, sc.ttl)
        self._send_json(200, {"access_token": token, "expires_in": sc.ttl, "scope": "", "token_type": "bearer"},
                        [("Cache-Control", "no-store"), ("Pragma", "no-cache")])

    def _provider_resource(self, sc: Scenario, path: str, route: tuple, pairs, wrong: bool):
        """Body bytes and extra headers of a successful provider response (cached)."""
        key = (self.server.base_url, self.path, wrong)
        hit = self.server.cache.get(key)
        if hit is not None:
            return hit
        text = getattr(self, "_" + route[0])(sc, path, route, dict(pairs), pairs, wrong)
        value = (text.encode(), [])
        self.server.cache.put(key, value, len(value[0]))
        return value

    @staticmethod
    def _wrong_records(recs: list[str], wrong: bool) -> list[str]:
        return [make_wrong(r, p % 3 == 2, p == 4) for p, r in enumerate(recs)] if wrong else recs

    # -- Octopus Energy ------------------------------------------------------------
    def _octo_account(self, sc, path, route, q, pairs, wrong) -> str:
        if route[1] != OCTOPUS_ACCOUNT:
            raise HTTPFail(404, OCTO_NOT_FOUND)
        text = self.server.portfolio.octo_account_json
        return make_wrong(text, True, True) if wrong else text

    def _drf_url(self, sc: Scenario, path: str, pairs, page: int) -> str:
        """Django REST framework's replace_query_param / remove_query_param (page 1)."""
        params: dict[str, list[str]] = {}
        for k, v in pairs:
            params.setdefault(k, []).append(v)
        if page == 1:
            params.pop("page", None)
        else:
            params["page"] = [str(page)]
        query = urlencode(sorted(params.items()), doseq=True)
        return "%s%s%s%s" % (self.server.base_url, sc.prefix, path, "?" + query if query else "")

    def _octo_consumption(self, sc, path, route, q, pairs, wrong) -> str:
        pf = self.server.portfolio
        _, fuel, point, serial = route
        found = pf.octo_meters.get((fuel, point, serial))
        if found is None:
            raise HTTPFail(404, OCTO_NOT_FOUND)
        gen, first, last = found
        errors: dict[str, list[str]] = {}
        bounds: dict[str, int | None] = {}
        for name in ("period_from", "period_to"):
            bounds[name] = None
            if q.get(name):
                try:
                    bounds[name] = epoch_us(parse_local(q[name], LONDON))
                except ValueError:
                    hint = " ('+' must be sent as %2B)" if " " in q[name].strip() else ""
                    errors[name] = ["Datetime has wrong format. Use one of these formats instead: "
                                    "YYYY-MM-DDThh:mm[:ss[.uuuuuu]][+HH:MM|-HH:MM|Z]." + hint]
        size = 100
        if q.get("page_size"):
            try:
                size = int(q["page_size"])
            except ValueError:
                errors["page_size"] = ["A valid integer is required."]
            else:
                if size < 1:
                    errors["page_size"] = ["Ensure this value is greater than or equal to 1."]
                elif size > OCTOPUS_MAX_PAGE_SIZE:
                    errors["page_size"] = [f"Ensure this value is less than or equal to {OCTOPUS_MAX_PAGE_SIZE}."]
        order = q.get("order_by") or "-period"
        if order not in ("period", "-period"):
            errors["order_by"] = [f'Select a valid choice. {order} is not one of the available choices.']
        group = q.get("group_by") or None
        if group is not None and group not in OCTO_GROUPS:
            errors["group_by"] = [f'Select a valid choice. {group} is not one of the available choices.']
        if errors:
            raise HTTPFail(400, errors)
        lo, hi = pf.index_range(bounds["period_from"], bounds["period_to"])
        lo, hi = max(lo, first), min(hi, last)
        hi = max(lo, hi)
        groups = None if group is None else pf.octo_groups(gen, lo, hi, group)
        total = hi - lo if groups is None else len(groups)
        try:
            page = int(q.get("page") or 1)
            if page < 1 or (page > 1 and (page - 1) * size >= total):
                raise ValueError
        except ValueError:
            raise HTTPFail(404, {"detail": "Invalid page."}) from None
        start = (page - 1) * size
        end = min(total, start + size)
        newest = order == "-period"
        if groups is None:
            stamps = pf.local_stamps(LONDON)
            a, b = (hi - end, hi - start) if newest else (lo + start, lo + end)
            recs = [OCTO_RECORD % (_milli(v), stamps[i], stamps[i + 1])
                    for i, v in zip(range(a, b), pf.milli_values(gen, a, b))]
            if newest:
                recs.reverse()
        else:
            chosen = groups[::-1] if newest else groups
            recs = [OCTO_RECORD % (_milli(v), s, e) for s, e, v in chosen[start:end]]
        nxt = self._drf_url(sc, path, pairs, page + 1) if end < total else None
        prev = self._drf_url(sc, path, pairs, page - 1) if page > 1 else None
        return '{"count":%d,"next":%s,"previous":%s,"results":[%s]}' % (
            total, _dumps(nxt), _dumps(prev), ",".join(self._wrong_records(recs, wrong)))

    # -- UtilityAPI ------------------------------------------------------------------
    @staticmethod
    def _uapi_list(q: dict, name: str) -> set[str] | None:
        if name not in q:
            return None
        return {x.strip() for x in q[name].split(",") if x.strip()}

    @staticmethod
    def _uapi_bool(q: dict, name: str) -> bool | None:
        if name not in q:
            return None
        value = q[name].strip().lower()
        if value not in ("true", "false"):
            raise HTTPFail(400, {"error": f"{name} must be true or false"})
        return value == "true"

    def _uapi_page(self, sc: Scenario, path: str, q: dict, pairs, key: str, uids: list[str], render) -> str:
        """Cursor page: objects after the uid in after=, limit of them, next link."""
        limit = UAPI_MAX_LIMIT
        if "limit" in q:
            try:
                limit = int(q["limit"])
                if not 1 <= limit <= UAPI_MAX_LIMIT:
                    raise ValueError
            except ValueError:
                raise HTTPFail(400, {"error": f"limit must be an integer from 1 to {UAPI_MAX_LIMIT}"}) from None
        start = 0
        if q.get("after"):
            try:
                start = uids.index(q["after"]) + 1
            except ValueError:
                raise HTTPFail(400, {"error": "after must be the uid of an object in the result"}) from None
        end = min(len(uids), start + limit)
        nxt = self._url(sc, path, pairs, {"after": uids[end - 1]}) if end < len(uids) else None
        return '{"%s":[%s],"next":%s}' % (key, ",".join(render(start, end)), _dumps(nxt))

    def _uapi_meters(self, sc, path, route, q, pairs, wrong) -> str:
        pf = self.server.portfolio
        uids, utility = self._uapi_list(q, "uids"), q.get("utility")
        archived, activated = self._uapi_bool(q, "is_archived"), self._uapi_bool(q, "is_activated")
        chosen = [m for m in pf.uapi
                  if (uids is None or m["uid"] in uids) and (utility is None or m["utility"] == utility)
                  and (archived is None or m["archived"] == archived)
                  and (activated is None or m["activated"] == activated)]
        return self._uapi_page(sc, path, q, pairs, "meters", [m["uid"] for m in chosen],
                               lambda a, b: self._wrong_records([m["json"] for m in chosen[a:b]], wrong))

    def _uapi_meter(self, sc, path, route, q, pairs, wrong) -> str:
        pf = self.server.portfolio
        pos = pf.uapi_index.get(route[1])
        if pos is None:
            raise HTTPFail(404, {"error": "Not found"})
        text = pf.uapi[pos]["json"]
        return make_wrong(text, True, True) if wrong else text

    def _uapi_query(self, q: dict) -> tuple[list[int], int, int, bool]:
        """Selected meter positions, reading range and order of /intervals and /bills."""
        pf = self.server.portfolio
        meters, auths = self._uapi_list(q, "meters"), self._uapi_list(q, "authorizations")
        if not meters and not auths:
            raise HTTPFail(400, {"error": "meters or authorizations is required"})
        chosen = [pos for pos, m in enumerate(pf.uapi)
                  if (meters and m["uid"] in meters) or (auths and m["auth"] in auths)]
        bounds = []
        for name in ("start", "end"):
            try:
                bounds.append(epoch_us(parse_local(q[name], LOS_ANGELES)) if q.get(name) else None)
            except ValueError:
                hint = " ('+' must be sent as %2B)" if " " in q[name].strip() else ""
                raise HTTPFail(400, {"error": f"invalid {name}: ISO 8601 or YYYY-MM-DD expected{hint}"}) from None
        order = q.get("order") or "earliest_first"
        if order not in ("earliest_first", "latest_first"):
            raise HTTPFail(400, {"error": "order must be earliest_first or latest_first"})
        lo, hi = pf.index_range(*bounds)
        return chosen, lo, hi, order == "latest_first"

    def _uapi_intervals(self, sc, path, route, q, pairs, wrong) -> str:
        pf = self.server.portfolio
        chosen, lo, hi, latest = self._uapi_query(q)
        blocks = []    # (first reading, meter position, block number, a, b)
        for pos in chosen:
            for block in range(lo // UAPI_BLOCK, -(-hi // UAPI_BLOCK)):
                a, b = max(lo, block * UAPI_BLOCK), min(hi, (block + 1) * UAPI_BLOCK)
                if b > a:
                    blocks.append((a, pos, block, a, b))
        blocks.sort()
        if latest:
            blocks.reverse()
        uids = [str(int(pf.uapi[pos]["uid"]) * 10**6 + block + 1) for _, pos, block, _, _ in blocks]
        stamps = pf.local_stamps(LOS_ANGELES, "microseconds")

        def render(s: int, e: int) -> list[str]:
            out = []
            for uid, (_, pos, _, a, b) in zip(uids[s:e], blocks[s:e]):
                m = pf.uapi[pos]
                readings = []
                for i, v in zip(range(a, b), pf.uapi_values(pos, a, b)):
                    value = _milli(v)
                    kwh = '"kwh":%s,' % value if m["unit"] == "kwh" else ""
                    readings.append('{"start":"%s","end":"%s",%s"datapoints":[{"type":"net","unit":"%s","value":%s}]}'
                                    % (stamps[i], stamps[i + 1], kwh, m["unit"], value))
                out.append('{"uid":"%s",%s,"base":%s,"readings":[%s]}'
                           % (uid, m["head"], m["block_base"], ",".join(readings)))
            return self._wrong_records(out, wrong)
        return self._uapi_page(sc, path, q, pairs, "intervals", uids, render)

    def _uapi_bills(self, sc, path, route, q, pairs, wrong) -> str:
        pf = self.server.portfolio
        chosen, lo, hi, latest = self._uapi_query(q)
        bills = []    # (first reading, meter position, period number)
        for pos in chosen:
            for n, (a, b, _, _) in enumerate(pf.uapi_periods):
                if a < hi and b > lo:
                    bills.append((a, pos, n))
        bills.sort()
        if latest:
            bills.reverse()
        uids = [str(int(pf.uapi[pos]["uid"]) * 1000 + n + 1) for _, pos, n in bills]

        def render(s: int, e: int) -> list[str]:
            out = []
            for uid, (_, pos, n) in zip(uids[s:e], bills[s:e]):
                m = pf.uapi[pos]
                a, b, first, last = pf.uapi_periods[n]
                volume = sum(pf.uapi_values(pos, a, b))
                num, den = m["rate"]
                cents = UAPI_FIXED_CENTS + (volume * num * 2 + den * 1000) // (den * 2000)
                out.append('{"uid":"%s",%s,"base":{"bill_start_date":"%s","bill_end_date":"%s",'
                           '"bill_total_kwh":%s,"bill_total_unit":"%s","bill_total_volume":%s,'
                           '"bill_total_cost":%d.%02d}}'
                           % (uid, m["head"], first, last, _milli(volume) if m["unit"] == "kwh" else "null",
                              m["unit"], _milli(volume), cents // 100, cents % 100))
            return self._wrong_records(out, wrong)
        return self._uapi_page(sc, path, q, pairs, "bills", uids, render)

    # -- Enode -------------------------------------------------------------------------
    def _enode_page(self, q: dict, tag: str, keys: list[int]) -> tuple[int, int, str]:
        """Cursor page over records with ascending keys: (lo, hi, pagination JSON)."""
        size = ENODE_PAGE_SIZE
        if "pageSize" in q:
            try:
                size = int(q["pageSize"])
                if not 1 <= size <= ENODE_MAX_PAGE_SIZE:
                    raise ValueError
            except ValueError:
                raise enode_problem(400, "bad-request", "Bad Request",
                                    f"pageSize must be an integer from 1 to {ENODE_MAX_PAGE_SIZE}") from None
        after, before = q.get("after"), q.get("before")
        if after and before:
            raise enode_problem(400, "bad-request", "Bad Request", "after and before are mutually exclusive")
        if after:
            lo = bisect.bisect_right(keys, _enode_uncursor(tag, "after", after))
            hi = min(len(keys), lo + size)
        elif before:
            hi = bisect.bisect_left(keys, _enode_uncursor(tag, "before", before))
            lo = max(0, hi - size)
        else:
            lo, hi = 0, min(len(keys), size)
        prev = _enode_cursor(tag, keys[lo]) if 0 < lo < hi else None
        nxt = _enode_cursor(tag, keys[hi - 1]) if lo < hi < len(keys) else None
        return lo, hi, '{"before":%s,"after":%s}' % (_dumps(prev), _dumps(nxt))

    def _enode_meters(self, sc, path, route, q, pairs, wrong) -> str:
        meters = self.server.portfolio.enode
        lo, hi, pagination = self._enode_page(q, "m", list(range(len(meters))))
        recs = self._wrong_records([text for _, _, text in meters[lo:hi]], wrong)
        return '{"data":[%s],"pagination":%s}' % (",".join(recs), pagination)

    def _enode_lookup(self, ident: str) -> int:
        pf = self.server.portfolio
        pos = pf.enode_index.get(ident)
        if pos is None:
            raise enode_problem(404, "not-found", "Not Found", f"meter {ident} not found")
        return pos

    def _enode_meter(self, sc, path, route, q, pairs, wrong) -> str:
        text = self.server.portfolio.enode[self._enode_lookup(route[1])][2]
        return make_wrong(text, True, True) if wrong else text

    def _enode_statistics(self, sc, path, route, q, pairs, wrong) -> str:
        pf = self.server.portfolio
        meter = pf.enode[self._enode_lookup(route[1])][1]
        bounds = []
        for name in ("startDate", "endDate"):
            try:
                bounds.append(epoch_us(parse_iso(q[name])) if q.get(name) else None)
            except ValueError:
                raise enode_problem(400, "bad-request", "Bad Request",
                                    f"{name} must be ISO 8601 with an offset or Z, or YYYY-MM-DD") from None
        resolution = q.get("resolution") or "DAY"
        if resolution not in ("DAY", "HOUR"):
            raise enode_problem(400, "bad-request", "Bad Request", "resolution must be DAY or HOUR")
        lo, hi = pf.index_range(*bounds)
        keys, sums = pf.enode_buckets(meter, lo, hi, 86400 if resolution == "DAY" else 3600)
        a, b, pagination = self._enode_page(q, "s", keys)
        recs = ['{"date":"%s","kwhSum":%s}' % (time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(k)), _milli(v))
                for k, v in zip(keys[a:b], sums[a:b])]
        return '{"data":[%s],"pagination":%s}' % (",".join(self._wrong_records(recs, wrong)), pagination)

    # -- GridPulse (made up) -------------------------------------------------------------
    def _gp_sites(self, sc, path, route, q, pairs, wrong) -> str:
        pf = self.server.portfolio
        try:
            page = int(q.get("page", "1"))
            if page < 1:
                raise ValueError
        except ValueError:
            raise HTTPFail(400, {"error": "page must be a positive integer"}) from None
        try:
            size = int(q.get("per_page", str(GRIDPULSE_PER_PAGE)))
            if not 1 <= size <= GRIDPULSE_MAX_PER_PAGE:
                raise ValueError
        except ValueError:
            raise HTTPFail(400, {"error": f"per_page must be 1..{GRIDPULSE_MAX_PER_PAGE}"}) from None
        total = len(pf.gp_sites)
        lo, hi = min(total, (page - 1) * size), min(total, page * size)
        if wrong:
            recs = []
            for p, k in enumerate(range(lo, hi)):
                site = pf.gp_sites[k]
                if p % 3 == 2 and site["meters"]:
                    meters = [dict(site["meters"][0], mid="n/a")] + site["meters"][1:]
                    recs.append(_dumps(dict(site, meters=meters)))
                else:
                    recs.append(pf.gp_site_json[k])
        else:
            recs = pf.gp_site_json[lo:hi]
        return '{"page":%d,"per_page":%d,"total_pages":%d,"sites":[%s]}' % (
            page, size, -(-total // size), ",".join(recs))

    def _gp_series(self, sc, path, route, q, pairs, wrong) -> str:
        pf = self.server.portfolio
        days = {}
        for name in ("since", "until"):
            days[name] = None
            if q.get(name):
                try:
                    if not re.fullmatch(r"\d{4}-\d{2}-\d{2}", q[name]):
                        raise ValueError
                    days[name] = dt.date.fromisoformat(q[name])
                except ValueError:
                    raise HTTPFail(400, {"error": f"{name} must be a date YYYY-MM-DD"}) from None
        if days["since"] and days["until"] and (days["until"] - days["since"]).days > GRIDPULSE_MAX_DAYS:
            raise HTTPFail(400, {"error": "range too long", "max_days": GRIDPULSE_MAX_DAYS})
        ident = route[1]
        idx = pf.gp_index.get(int(ident)) if re.fullmatch(r"[1-9][0-9]*", ident) else None
        if idx is None:
            raise HTTPFail(404, {"error": "no such meter"})
        bounds = [None if d is None else epoch_us(dt.datetime(d.year, d.month, d.day, tzinfo=dt.timezone.utc))
                  for d in (days["since"], days["until"])]
        lo, hi = pf.index_range(*bounds)
        points = []
        for p, (i, v) in enumerate(zip(range(lo, hi), pf.milli_values(idx, lo, hi))):
            start = (pf.start_us + i * pf.interval_us) // 1_000_000
            value = '"n/a"' if wrong and p % 3 == 2 else _milli(v)
            stamp = '"not-a-date"' if wrong and p == 4 else str(start)
            points.append('[%s,%d,%s,"%s"]' % (stamp, pf.interval, value, "E" if i % 10 == 9 else "A"))
        mid = int(ident)
        return '{"meter":%d,"uom":"%s","points":[%s]}' % (mid, pf.meters[idx]["unit"], ",".join(points))


    # -- shared by the XML reproductions ----------------------------------------------
    def _months(self) -> list[tuple[dt.date, dt.date, int, int]]:
        """(first day, last day, lo, hi) of each UTC calendar month holding reading
        starts; readings lo..hi-1 start in it (cached on the portfolio)."""
        pf = self.server.portfolio
        hit = getattr(pf, "_month_groups", None)
        if hit is None:
            hit, key = [], None
            for i in range(pf.readings):
                d = pf.instant(i)
                if (d.year, d.month) != key:
                    key = (d.year, d.month)
                    first = dt.date(d.year, d.month, 1)
                    nxt = dt.date(d.year + d.month // 12, d.month % 12 + 1, 1)
                    hit.append([first, nxt - dt.timedelta(days=1), i, i + 1])
                else:
                    hit[-1][3] = i + 1
            hit = [tuple(x) for x in hit]
            pf._month_groups = hit
        return hit

    @staticmethod
    def _xml_id(ident: str, table: dict, base: int = 0) -> int | None:
        """Index of the decimal id (no leading zeros) in table (key: id - base), or None."""
        if not re.fullmatch(r"[1-9][0-9]{0,15}", ident):
            return None
        return table.get(int(ident) - base)

    # -- ENERGY STAR Portfolio Manager ----------------------------------------------
    XML_HEAD = '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'

    def _es_meter_ids(self) -> dict[int, int]:
        """meter number (M00017 -> 17) -> meter index."""
        pf = self.server.portfolio
        return {int(m["meter_id"][1:]): k for k, m in enumerate(pf.meters)}

    def _es_meter_index(self, ident: str) -> int:
        idx = self._xml_id(ident, self._es_meter_ids(), ENERGYSTAR_METER_BASE)
        if idx is None:
            raise es_error(404, f"Meter {ident} does not exist.")
        return idx

    def _es_property_index(self, ident: str) -> int:
        """Asset index of the property id (A0017 -> 17), else 404."""
        pf = self.server.portfolio
        k = self._xml_id(ident, {int(a["asset_id"][1:]): k for k, a in enumerate(pf.assets)})
        if k is None:
            raise es_error(404, f"Property {ident} does not exist.")
        return k

    def _es_account(self, sc, path, route, q, pairs, wrong) -> str:
        return self.XML_HEAD + es_account_xml()

    def _es_property_list(self, sc, path, route, q, pairs, wrong) -> str:
        if self._xml_id(route[1], {ENERGYSTAR_ACCOUNT_ID: 0}) is None:
            raise es_error(404, f"Account {route[1]} does not exist.")
        return self.XML_HEAD + es_links("property", [(int(a["asset_id"][1:]), a["name"])
                                                     for a in self.server.portfolio.assets])

    def _es_property(self, sc, path, route, q, pairs, wrong) -> str:
        pf = self.server.portfolio
        asset = pf.assets[self._es_property_index(route[1])]
        year = 1900 + _stable_hash(pf.seed, "energystar-year", asset["asset_id"]) % 121
        return self.XML_HEAD + es_property_xml(asset, year)

    def _es_meter_list(self, sc, path, route, q, pairs, wrong) -> str:
        pf = self.server.portfolio
        k = self._es_property_index(route[1])
        return self.XML_HEAD + es_links("meter", [
            (ENERGYSTAR_METER_BASE + int(pf.meters[idx]["meter_id"][1:]), pf.meters[idx]["name"])
            for idx in pf.meters_by_asset[pf.assets[k]["asset_id"]]])

    def _es_meter(self, sc, path, route, q, pairs, wrong) -> str:
        pf = self.server.portfolio
        idx = self._es_meter_index(route[1])
        m = pf.meters[idx]
        months = self._months()
        first = months[0][0].isoformat() if months else ""
        inactive = "" if m["is_active"] or not months else "<inactiveDate>%s</inactiveDate>" % months[-1][1]
        return ('%s<meter><id>%d</id><type>%s</type><name>%s</name><metered>true</metered>'
                '<unitOfMeasure>%s</unitOfMeasure><firstBillDate>%s</firstBillDate><inUse>%s</inUse>%s'
                '<accessLevel>Read</accessLevel></meter>'
                % (self.XML_HEAD, ENERGYSTAR_METER_BASE + int(m["meter_id"][1:]),
                   xml_escape(ENERGYSTAR_TYPES[m["resource"]]), xml_escape(m["name"]),
                   xml_escape(ENERGYSTAR_UNITS[m["resource"]]), first,
                   "true" if m["is_active"] else "false", inactive))

    def _es_consumption(self, sc, path, route, q, pairs, wrong) -> str:
        pf = self.server.portfolio
        bounds = {}
        for name in ("startDate", "endDate"):
            bounds[name] = None
            if q.get(name):
                try:
                    if not re.fullmatch(r"\d{4}-\d{2}-\d{2}", q[name]):
                        raise ValueError
                    bounds[name] = dt.date.fromisoformat(q[name])
                except ValueError:
                    raise es_error(400, f"{name} must be a date in the format YYYY-MM-DD.") from None
        try:
            page = int(q.get("page", "1"))
            if page < 1:
                raise ValueError
        except ValueError:
            raise es_error(400, "page must be a positive integer.") from None
        try:
            size = int(q.get("pageSize", str(ENERGYSTAR_PAGE_SIZE)))
            if not 1 <= size <= ENERGYSTAR_PAGE_SIZE:
                raise ValueError
        except ValueError:
            raise es_error(400, f"pageSize must be 1..{ENERGYSTAR_PAGE_SIZE}.") from None
        idx = self._es_meter_index(route[1])
        mid = int(route[1])
        bills = [(n, b) for n, b in enumerate(self._months(), 1)
                 if (bounds["startDate"] is None or b[1] >= bounds["startDate"])
                 and (bounds["endDate"] is None or b[0] <= bounds["endDate"])]
        part = bills[(page - 1) * size: page * size]
        recs = []
        for p, (n, (first, last, lo, hi)) in enumerate(part):
            usage = "n/a" if wrong and p % 3 == 2 else _milli(sum(pf.milli_values(idx, lo, hi)))
            start = "not-a-date" if wrong and p == 4 else first.isoformat()
            est = any(pf.estimated(i) for i in range(lo, hi))
            recs.append('<meterConsumption estimatedValue="%s"><id>%d</id><startDate>%s</startDate>'
                        '<endDate>%s</endDate><usage>%s</usage></meterConsumption>'
                        % ("true" if est else "false", mid * 1000 + n, start, last.isoformat(), usage))
        links = ""
        if page * size < len(bills):
            query = urlencode([("page", str(page + 1))] + [(k, v) for k, v in pairs if k != "page"])
            links = ('<links><link httpMethod="get" link=%s linkDescription="%s"/></links>'
                     % (quoteattr(f"/meter/{mid}/consumptionData?{query}"),
                        "next page" if page % 2 else "Next Page"))
        return '%s<meterData>%s%s</meterData>' % (self.XML_HEAD, "".join(recs), links)

    # -- Green Button / ESPI ----------------------------------------------------------
    def _gb_base(self, sc) -> str:
        return "%s%s/greenbutton" % (self.server.base_url, sc.prefix)

    def _gb_uuid(self, *parts) -> str:
        seed = self.server.portfolio.seed
        h = (_stable_hash(seed, "greenbutton", *parts) << 64) | _stable_hash(seed, "greenbutton-2", *parts)
        x = "%032x" % h
        return "urn:uuid:%s-%s-%s-%s-%s" % (x[:8], x[8:12], x[12:16], x[16:20], x[20:])

    def _gb_updated(self) -> str:
        pf = self.server.portfolio
        return pf.instant(pf.readings).strftime("%Y-%m-%dT%H:%M:%SZ")

    def _gb_entry(self, ident: tuple, title: str, links: list[tuple[str, str]], content: str) -> str:
        stamp = self._gb_updated()
        return ('<entry><id>%s</id>%s<title>%s</title><content>%s</content>'
                '<published>%s</published><updated>%s</updated></entry>'
                % (self._gb_uuid(*ident), "".join('<link rel="%s" href=%s/>' % (r, quoteattr(h)) for r, h in links),
                   xml_escape(title), content, stamp, stamp))

    def _gb_feed(self, ident: tuple, title: str, self_href: str, entries: list[str]) -> str:
        return ('<?xml version="1.0" encoding="UTF-8"?>\n<feed xmlns="%s" xmlns:espi="%s"><id>%s</id>'
                '<title>%s</title><updated>%s</updated><link rel="self" href=%s/>%s</feed>'
                % (ATOM_NS, ESPI_NS, self._gb_uuid(*ident), xml_escape(title), self._gb_updated(),
                   quoteattr(self_href), "".join(entries)))

    def _gb_single(self, entry: str) -> str:
        return ('<?xml version="1.0" encoding="UTF-8"?>\n'
                + entry.replace("<entry>", '<entry xmlns="%s" xmlns:espi="%s">' % (ATOM_NS, ESPI_NS), 1))

    def _gb_index(self, ident: str) -> int:
        pf = self.server.portfolio
        idx = self._xml_id(ident, {int(m["meter_id"][1:]): k for k, m in enumerate(pf.meters)})
        if idx is None:
            raise gb_error(404, "Not Found")
        return idx

    def _gb_point_entry(self, sc, idx: int) -> str:
        pf = self.server.portfolio
        m = pf.meters[idx]
        n = int(m["meter_id"][1:])
        up = self._gb_base(sc) + "/Subscription/1/UsagePoint"
        content = ("<espi:UsagePoint><espi:ServiceCategory><espi:kind>%d</espi:kind></espi:ServiceCategory>"
                   "<espi:status>%d</espi:status></espi:UsagePoint>"
                   % (GREENBUTTON_TYPES[m["resource"]][0], 1 if m["is_active"] else 0))
        return self._gb_entry(("UsagePoint", n), m["name"],
                              [("self", f"{up}/{n}"), ("up", up), ("related", f"{up}/{n}/MeterReading"),
                               ("related", self._gb_base(sc) + "/LocalTimeParameters/1")], content)

    def _gb_usage_points(self, sc, path, route, q, pairs, wrong) -> str:
        pf = self.server.portfolio
        up = self._gb_base(sc) + "/Subscription/1/UsagePoint"
        return self._gb_feed(("UsagePoints",), "UsagePoint Feed", up,
                             [self._gb_point_entry(sc, k) for k in range(len(pf.meters))])

    def _gb_usage_point(self, sc, path, route, q, pairs, wrong) -> str:
        return self._gb_single(self._gb_point_entry(sc, self._gb_index(route[1])))

    def _gb_reading_entry(self, sc, n: int) -> str:
        up = "%s/Subscription/1/UsagePoint/%d/MeterReading" % (self._gb_base(sc), n)
        return self._gb_entry(("MeterReading", n), "Meter Reading",
                              [("self", up + "/1"), ("up", up), ("related", up + "/1/IntervalBlock"),
                               ("related", "%s/ReadingType/%d" % (self._gb_base(sc), n))],
                              "<espi:MeterReading/>")

    def _gb_meter_readings(self, sc, path, route, q, pairs, wrong) -> str:
        self._gb_index(route[1])
        n = int(route[1])
        up = "%s/Subscription/1/UsagePoint/%d/MeterReading" % (self._gb_base(sc), n)
        return self._gb_feed(("MeterReadings", n), "MeterReading Feed", up, [self._gb_reading_entry(sc, n)])

    def _gb_meter_reading(self, sc, path, route, q, pairs, wrong) -> str:
        self._gb_index(route[1])
        return self._gb_single(self._gb_reading_entry(sc, int(route[1])))

    @staticmethod
    def _gb_quality(i: int) -> int:
        """ReadingQuality of reading i: estimated -> 9 (interpolated) or 14 (unvalidated),
        others 19 (billing-acceptable) on every 10th reading from index 0, else 0."""
        if i % 10 == 9:
            return 9 if i % 20 == 9 else 14
        return 19 if i % 10 == 0 else 0

    def _gb_interval_blocks(self, sc, path, route, q, pairs, wrong) -> str:
        pf = self.server.portfolio
        bounds = []
        for name in ("published-min", "published-max"):
            text = q.get(name)
            if not text:
                bounds.append(None)
                continue
            try:
                if re.fullmatch(r"-?[0-9]{1,12}", text):
                    bounds.append(int(text) * 1_000_000)
                else:
                    bounds.append(epoch_us(parse_iso(text)))
            except (ValueError, OverflowError):
                raise gb_error(400, f"{name} must be epoch seconds or an ISO 8601 date-time") from None
        idx = self._gb_index(route[1])
        n = int(route[1])
        lo_all, hi_all = pf.index_range(*bounds)
        up = "%s/Subscription/1/UsagePoint/%d/MeterReading/1/IntervalBlock" % (self._gb_base(sc), n)
        entries, p = [], 0
        for b, (_, _, lo, hi) in enumerate(self._months(), 1):
            lo, hi = max(lo, lo_all), min(hi, hi_all)
            if lo >= hi:
                continue
            readings = []
            for i, v in zip(range(lo, hi), pf.milli_values(idx, lo, hi)):
                start = (pf.start_us + i * pf.interval_us) // 1_000_000
                readings.append('<espi:IntervalReading><espi:ReadingQuality><espi:quality>%d</espi:quality>'
                                '</espi:ReadingQuality><espi:timePeriod><espi:duration>%d</espi:duration>'
                                '<espi:start>%s</espi:start></espi:timePeriod><espi:value>%s</espi:value>'
                                '</espi:IntervalReading>'
                                % (self._gb_quality(i), pf.interval,
                                   "not-a-date" if wrong and p == 4 else start,
                                   "n/a" if wrong and p % 3 == 2 else v))
                p += 1
            first = (pf.start_us + lo * pf.interval_us) // 1_000_000
            content = ('<espi:IntervalBlock><espi:interval><espi:duration>%d</espi:duration>'
                       '<espi:start>%d</espi:start></espi:interval>%s</espi:IntervalBlock>'
                       % ((hi - lo) * pf.interval, first, "".join(readings)))
            entries.append(self._gb_entry(("IntervalBlock", n, b, lo, hi), "Interval Block",
                                          [("self", f"{up}/{b}"), ("up", up)], content))
        return self._gb_feed(("IntervalBlocks", n, lo_all, hi_all), "IntervalBlock Feed", up, entries)

    def _gb_reading_type(self, sc, path, route, q, pairs, wrong) -> str:
        pf = self.server.portfolio
        idx = self._gb_index(route[1])
        n = int(route[1])
        if n == GREENBUTTON_EMPTY_READING_TYPE:      # the real-file defect: no uom, no multiplier
            content = "<espi:ReadingType/>"
        else:
            _, uom, power, commodity, kind = GREENBUTTON_TYPES[pf.meters[idx]["resource"]]
            content = ("<espi:ReadingType><espi:accumulationBehaviour>4</espi:accumulationBehaviour>"
                       "<espi:commodity>%d</espi:commodity><espi:dataQualifier>12</espi:dataQualifier>"
                       "<espi:flowDirection>1</espi:flowDirection><espi:intervalLength>%d</espi:intervalLength>"
                       "<espi:kind>%d</espi:kind><espi:phase>0</espi:phase>"
                       "<espi:powerOfTenMultiplier>%d</espi:powerOfTenMultiplier>"
                       "<espi:timeAttribute>0</espi:timeAttribute><espi:uom>%d</espi:uom></espi:ReadingType>"
                       % (commodity, pf.interval, kind, power, uom))
        href = "%s/ReadingType/%d" % (self._gb_base(sc), n)
        return self._gb_single(self._gb_entry(("ReadingType", n), "Type of Meter Reading Data",
                                              [("self", href), ("up", self._gb_base(sc) + "/ReadingType")],
                                              content))

    def _gb_local_time(self, sc, path, route, q, pairs, wrong) -> str:
        # DstRuleType bits: month << 28 | rule << 25 | day << 20 | weekday << 17 | hour << 12 | seconds
        # (rule 3: the weekday on or before the day; weekday 7: Sunday; hour in UTC)
        start = (3 << 28) | (3 << 25) | (31 << 20) | (7 << 17) | (1 << 12)
        end = (10 << 28) | (3 << 25) | (31 << 20) | (7 << 17) | (1 << 12)
        href = self._gb_base(sc) + "/LocalTimeParameters/1"
        content = ("<espi:LocalTimeParameters><espi:dstEndRule>%08X</espi:dstEndRule>"
                   "<espi:dstOffset>3600</espi:dstOffset><espi:dstStartRule>%08X</espi:dstStartRule>"
                   "<espi:tzOffset>0</espi:tzOffset></espi:LocalTimeParameters>" % (end, start))
        return self._gb_single(self._gb_entry(("LocalTimeParameters", 1), "Europe/London",
                                              [("self", href), ("up", self._gb_base(sc) + "/LocalTimeParameters")],
                                              content))


class PlainListener(http.server.ThreadingHTTPServer):
    """A second, plain-HTTP listener (--also-http-port-file) serving the same
    app: every attribute it lacks (portfolio, cache, logs, tokens, counters,
    locks, bookkeeping methods) is the primary server's."""

    daemon_threads = True
    allow_reuse_address = True
    request_queue_size = 256

    def __init__(self, primary: ProviderServer):
        self.primary = primary
        self.scheme = "http"
        super().__init__((HOST, 0), ProviderHandler)
        self.base_url = f"http://{HOST}:{self.port}"
        primary.listeners.setdefault("http", self.port)

    def __getattr__(self, name: str):
        if name == "primary":
            raise AttributeError(name)
        return getattr(self.primary, name)

    @property
    def port(self) -> int:
        return self.server_address[1]

    def handle_error(self, request, client_address):
        ProviderServer.handle_error(self, request, client_address)


# ---------------------------------------------------------------------------
# Request handling
# ---------------------------------------------------------------------------
class ProviderHandler(ProviderAPIs, http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "provider-sim/1.0"
    sys_version = ""
    server: ProviderServer

    def setup(self):
        if isinstance(self.request, ssl.SSLSocket):
            self.request.settimeout(10)
            self.request.do_handshake()
            self.request.settimeout(None)
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
        self._hidden = None         # frozenset of the run's /_hidden_meters, or None
        self._fixes = None          # the run's /_corrections (Corrections), or None
        self._extra: list = []
        try:
            body = self._read_body()
            self._dispatch(body)
        except HTTPFail as fail:
            payload = fail.payload if isinstance(fail.payload, bytes) else _dumps(fail.payload).encode()
            self._send(fail.status, payload, fail.headers, fail.content_type)
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
        switches, rest = segments[:n], segments[n:]
        path = "/" + "/".join(rest)
        provider = rest[0] if rest and rest[0] in PROVIDERS else None
        slash = bool(rest) and split.path.endswith("/")
        pairs = parse_query(split.query)
        for seg in switches:
            if seg.startswith("run="):
                self._run = unquote(seg[4:]) or "default"

        if path in CONTROL_PATHS or path == "/_xml" or path.startswith("/_xml/"):
            return self._control(path, pairs, switches, body)

        query: dict[str, list[str]] = {}      # parse_qs(split.query, keep_blank_values=True)
        for k, v in pairs:
            query.setdefault(k, []).append(v)
        self._entry = {
            "seq": 0, "time": time.time(), "method": self.command,
            "path": path + ("/" if provider and slash else ""),
            "prefix": "".join("/" + s for s in switches),
            "query": query,
            "headers": self._header_dict(), "body": body.decode("utf-8", "replace"),
            "status": None,
        }
        self.server.record(self._run, self._entry)
        sc = parse_scenario(switches)
        self._hidden = self.server.hidden_meters.get(sc.run)
        self._fixes = self.server.corrections.get(sc.run)
        if sc.latency_ms:
            self._wait(sc.latency_ms / 1000.0)
        if path in AUTH_ENDPOINTS:
            return self._auth_endpoint(sc, path, body)
        if provider == "enode-oauth":
            return self._enode_token(sc, rest, body)

        if sc.fault == "ratelimit":
            self._rate_limit(sc)
        if sc.fault in STATUS_FAULTS and self.server.take_fault(sc, path):
            if sc.fault == "stallhead":
                self._wait(sc.stall)
            else:
                return self._status_fault(sc, path + ("/" if provider and slash else ""), split.query)
        if provider:
            route = self._provider_route(sc, rest, slash, split.query)
            self._provider_auth(provider)
            wrong = sc.fault == "wrongtype" and self.server.take_fault(sc, path)
            payload, headers = self._provider_resource(sc, path + ("/" if slash else ""), route, pairs, wrong)
        else:
            self._check_auth(sc, pairs)
            route = self._match(path)
            if route is None:
                raise HTTPFail(404, {"error": "not found", "path": path})
            if self.command != "GET":
                raise HTTPFail(405, {"error": "method not allowed", "method": self.command},
                               [("Allow", "GET")])
            if route[0] == "consumption" or route[2] == "consumption":
                self._meter_fault(sc, route, pairs)
            wrong = sc.fault == "wrongtype" and self.server.take_fault(sc, path)
            payload, headers = self._resource(sc, path, route, pairs, wrong)
            if route[0] == "consumption" and self._format(pairs) == "xml":
                provider = "xml"
        ctype = PROVIDER_CT.get(provider, JSON_CT)
        fault = sc.fault if sc.fault in ("stall", "truncate", "malformed") else None
        if fault and not self.server.take_fault(sc, path):
            fault = None
        if fault == "malformed":
            payload = corrupt_xml(payload) if ctype != JSON_CT else corrupt_json(payload)
        if sc.gzip and "gzip" in self.headers.get("Accept-Encoding", "").lower():
            payload = self._gzip(payload, wrong, fault == "malformed")
            headers = headers + [("Content-Encoding", "gzip"), ("Vary", "Accept-Encoding")]
        if fault == "stall":
            return self._send_stalled(sc, payload, headers, ctype)
        if fault == "truncate":
            self.close_connection = True
            head = self._head(200, [("Content-Type", ctype)] + headers + self._extra, len(payload))
            self._status(200)
            self.wfile.write(head + payload[: len(payload) // 2])
            return
        self._send(200, payload, headers, ctype)

    def _header_dict(self) -> dict:
        out: dict[str, str] = {}
        for k, v in self.headers.items():
            k = k.lower()
            out[k] = f"{out[k]}, {v}" if k in out else v
        return out

    # -- control endpoints ---------------------------------------------------
    def _control(self, path: str, pairs, switches, body: bytes = b""):
        q = dict(pairs)
        srv = self.server
        if path == "/_health" and self.command == "GET":
            return self._send_json(200, {"ok": True})
        if path == "/_xml" or path.startswith("/_xml/"):
            doc = XML_DOCS.get(path[6:])
            if doc is None:
                raise HTTPFail(404, {"error": "not found", "path": path})
            if self.command != "GET":
                raise HTTPFail(405, {"error": "method not allowed", "method": self.command},
                               [("Allow", "GET")])
            return self._send(200, doc[0], (), doc[1])
        if path == "/_revoke_tokens" and self.command == "GET":
            # A GET, so a client that can only GET (a foreign table) can revoke.
            with srv.lock:
                n = len(srv.tokens) + len(srv.sessions) + len(srv.enode_tokens)
                srv.tokens.clear()
                srv.sessions.clear()
                srv.enode_tokens.clear()
            return self._send_json(200, [{"revoked": n}])
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
        if path in ("/_meter_faults", "/_hidden_meters") and self.command in ("GET", "POST", "DELETE"):
            return self._meter_control(path, q, switches, body)
        if path == "/_corrections" and self.command in ("GET", "POST", "DELETE"):
            return self._corrections_control(q, switches, body)
        raise HTTPFail(405, {"error": "method not allowed", "method": self.command})

    def _meter_control(self, path: str, q: dict, switches, body: bytes) -> None:
        """GET / POST / DELETE /_meter_faults and /_hidden_meters (module docstring)."""
        srv = self.server
        explicit = "run" in q or any(s.startswith("run=") for s in switches)
        run = q.get("run", self._run)
        faults = path == "/_meter_faults"
        store = srv.meter_faults if faults else srv.hidden_meters

        def current() -> dict:
            if faults:
                got = store.get(run)
                return {"run": run, "meter_ids": list(got["meter_ids"]) if got else [],
                        "status": got["status"] if got else None,
                        "from_page": got["from_page"] if got else None}
            return {"run": run, "meter_ids": sorted(store.get(run, ()))}

        if self.command == "DELETE":
            with srv.lock:
                if explicit:
                    store.pop(run, None)
                else:
                    store.clear()
            return self._send_json(200, {"cleared": run if explicit else "all"})
        if self.command == "POST":
            def bad(detail: str) -> HTTPFail:
                return HTTPFail(400, {"error": "invalid " + path[2:].replace("_", " "), "detail": detail})
            try:
                data = json.loads(body or b"null")
            except ValueError:
                raise bad("body must be a JSON object") from None
            if not isinstance(data, dict):
                raise bad("body must be a JSON object")
            allowed = ("meter_ids", "status", "from_page") if faults else ("meter_ids",)
            unknown = sorted(set(data) - set(allowed))
            if unknown:
                raise bad("unknown keys %s; known: %s" % (", ".join(unknown), ", ".join(allowed)))
            ids = data.get("meter_ids")
            if not isinstance(ids, list) or not all(isinstance(x, str) and x for x in ids):
                raise bad("meter_ids must be a list of meter id strings")
            ids = list(dict.fromkeys(ids))
            if faults:
                status, from_page = data.get("status", 500), data.get("from_page", 1)
                if type(status) is not int or not 400 <= status <= 599:
                    raise bad("status must be an integer 400..599")
                if type(from_page) is not int or from_page < 1:
                    raise bad("from_page must be an integer >= 1")
                value = {"meter_ids": ids, "set": frozenset(ids), "status": status, "from_page": from_page}
            else:
                value = frozenset(ids)
            with srv.lock:
                if ids:
                    store[run] = value
                else:
                    store.pop(run, None)
        with srv.lock:
            data = current()
        return self._send_json(200, data)

    def _corrections_control(self, q: dict, switches, body: bytes) -> None:
        """GET / POST / DELETE /_corrections (module docstring)."""
        srv, pf = self.server, self.server.portfolio
        explicit = "run" in q or any(s.startswith("run=") for s in switches)
        run = q.get("run", self._run)
        if self.command == "DELETE":
            with srv.lock:
                if explicit:
                    srv.corrections.pop(run, None)
                else:
                    srv.corrections.clear()
            return self._send_json(200, {"cleared": run if explicit else "all"})
        if self.command == "POST":
            def bad(detail: str) -> HTTPFail:
                return HTTPFail(400, {"error": "invalid corrections", "detail": detail})
            try:
                data = json.loads(body or b"null", parse_int=_NumberText, parse_float=_NumberText)
            except ValueError:
                raise bad("body must be a JSON object") from None
            if not isinstance(data, dict):
                raise bad("body must be a JSON object")
            if set(data) != {"corrections"}:
                raise bad("the body's only key must be corrections")
            entries = data["corrections"]
            if not isinstance(entries, list):
                raise bad("corrections must be a list")
            new: dict = {}
            known = ("meter_id", "interval_start", "consumption", "estimated")
            for n, entry in enumerate(entries):
                where = f"corrections[{n}]"
                if not isinstance(entry, dict):
                    raise bad(f"{where} must be an object")
                missing = [k for k in known[:3] if k not in entry]
                unknown = sorted(set(entry) - set(known))
                if missing or unknown:
                    raise bad(f"{where}: " + "; ".join(
                        (["missing " + ", ".join(missing)] if missing else [])
                        + (["unknown keys " + ", ".join(unknown)] if unknown else []))
                        + "; known: " + ", ".join(known))
                ident, start, value = entry["meter_id"], entry["interval_start"], entry["consumption"]
                if type(ident) is not str or ident not in pf.meter_index:
                    raise bad(f"{where}: unknown meter_id {_dumps(ident)}")
                meter = pf.meter_index[ident]
                try:
                    if type(start) is not str:
                        raise ValueError
                    i = pf.reading_index(meter, parse_iso(start))
                except ValueError:
                    raise bad(f"{where}: interval_start {_dumps(start)} is not an ISO 8601 "
                              "timestamp with offset") from None
                if i is None:
                    raise bad(f"{where}: meter {ident} has no reading with interval_start {_dumps(start)}")
                if not isinstance(value, str) or not JSON_NUMBER.fullmatch(value):
                    shown = value if isinstance(value, _NumberText) else _dumps(value)
                    raise bad(f"{where}: consumption {shown} is not a number "
                              "(a JSON number or a string in JSON number syntax)")
                est = entry.get("estimated", pf.estimated(i))
                if type(est) is not bool:
                    raise bad(f"{where}: estimated must be true or false")
                new[(meter, i)] = (str(value), est)
            with srv.lock:
                old = srv.corrections.get(run)
                if new:
                    srv.corrections[run] = Corrections.of({**(old.items if old else {}), **new})
        with srv.lock:
            fixes = srv.corrections.get(run)
        rows = []
        for (meter, i), (text, est) in sorted(fixes.items.items()) if fixes else ():
            rows.append('{"meter_id":%s,"interval_start":%s,"consumption":%s,"estimated":%s}' % (
                _dumps(pf.meters[meter]["meter_id"]), _dumps(pf.stamps[i]), text, "true" if est else "false"))
        text = '{"run":%s,"corrections":[%s]}' % (_dumps(run), ",".join(rows))
        return self._send(200, text.encode())

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
                # echoed percent-encoded in lower case, as .NET's HttpUtility.UrlEncode writes it
                echoed = re.sub(r"%[0-9A-F]{2}", lambda m: m.group(0).lower(), quote(values[-1], safe=""))
                raise HTTPFail(401, {"error": "invalid api key", "received": echoed})
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
                # the listener that speaks the target scheme, else this one
                port = self.server.port
                if sc.to != self.server.scheme:
                    port = self.server.listeners.get(sc.to, port)
                target = "%s://%s:%d%s%s%s" % (sc.to, HOST, port,
                                             sc.prefix_without(("fault", "faultn", "to")), path,
                                             "?" + query if query else "")
            return self._send_json(302, {"error": "moved", "location": target}, [("Location", target)])
        raise AssertionError(kind)

    def _send_stalled(self, sc: Scenario, payload: bytes, headers, ctype: str = JSON_CT) -> None:
        head = self._head(200, [("Content-Type", ctype)] + headers + self._extra, len(payload))
        self._status("stall")
        self.wfile.write(head + payload[:20])
        self._wait(sc.stall)
        self.wfile.write(payload[20:])

    def _gzip(self, payload: bytes, wrong: bool, malformed: bool) -> bytes:
        key = (self.server.base_url, self.path, wrong, "gzip", self._hidden,
               self._fixes.key if self._fixes else None)
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
        hidden = self._hidden
        key = (self.server.base_url, self.path, wrong, hidden, self._fixes.key if self._fixes else None)
        hit = self.server.cache.get(key)
        if hit is not None:
            return hit
        pf = self.server.portfolio
        kind, ident, sub = route
        values = functools.partial(_list_filter, pairs)

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

        single, xml = None, False
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
                listing = Listing.of([pf.meter_json[i] for i in pf.meters_by_asset[ident]
                                      if not hidden or pf.meters[i]["meter_id"] not in hidden])
        elif kind == "meters" and ident is None:
            assets, meters, resources = values("asset_id"), values("meter_id"), values("resource")
            listing = Listing.of([
                pf.meter_json[i] for i, m in enumerate(pf.meters)
                if (assets is None or m["asset_id"] in assets)
                and (meters is None or m["meter_id"] in meters)
                and (resources is None or m["resource"] in resources)
                and (not hidden or m["meter_id"] not in hidden)])
        elif kind == "meters" and sub is None:
            if ident not in pf.meter_index or (hidden and ident in hidden):
                raise not_found("meter")
            single = pf.meter_json[pf.meter_index[ident]]
        else:  # readings: /consumption or /meters/{id}/consumption
            chosen = self._reading_meters(ident, pairs)
            if chosen is None:
                raise not_found("meter")
            lo, hi = pf.index_range(when("from"), when("to"))
            xml = kind == "consumption" and self._format(pairs, check=True) == "xml"
            listing = Listing.readings(pf, [(i, lo, hi) for i in chosen], self._fixes, xml)

        if single is not None:
            text, headers = (make_wrong(single, True, True) if wrong else single), []
        else:
            text, headers = self._page(sc, path, listing, pairs, wrong, xml)
        value = (text.encode(), headers)
        self.server.cache.put(key, value, len(value[0]))
        return value

    @staticmethod
    def _format(pairs, check: bool = False) -> str:
        """The format= parameter of a /consumption request (the last one;
        default json); check: anything but json / xml -> 400."""
        found = [v for k, v in pairs if k == "format"]
        value = found[-1] if found else "json"
        if check and value not in ("json", "xml"):
            raise HTTPFail(400, {"error": "invalid format (json or xml)", "value": value})
        return value

    def _reading_meters(self, ident: str | None, pairs) -> list[int] | None:
        """Meter indexes a reading list selects: /meters/{ident}/consumption
        (None: no such meter) or /consumption (ident None) with its meter_id
        and asset_id filters; the run's hidden meters are left out."""
        pf, hidden = self.server.portfolio, self._hidden
        if ident is not None:
            if ident not in pf.meter_index or (hidden and ident in hidden):
                return None
            return [pf.meter_index[ident]]
        meters, assets = _list_filter(pairs, "meter_id"), _list_filter(pairs, "asset_id")
        if meters is not None and assets is None and len(meters) * 8 < len(pf.meters):
            # a short filter of a long portfolio
            chosen = sorted(pf.meter_index[x] for x in meters if x in pf.meter_index)
        else:
            chosen = [i for i, m in enumerate(pf.meters)
                      if (meters is None or m["meter_id"] in meters)
                      and (assets is None or m["asset_id"] in assets)]
        if hidden:
            chosen = [i for i in chosen if pf.meters[i]["meter_id"] not in hidden]
        return chosen

    def _page_number(self, sc: Scenario, pairs) -> int | None:
        """1-based number of the page a list request asks for, in the
        scenario's pagination style (None if a paging parameter is invalid:
        the request then fails with 400 anyway)."""
        q = dict(pairs)
        default = self.server.page_size

        def qint(name: str, dflt: int, minimum: int) -> int:
            value = int(q[name]) if name in q else dflt
            if value < minimum:
                raise ValueError
            return value
        try:
            if sc.pages in ("next", "page1", "link"):
                return qint("page", 1, 1)
            if sc.pages == "page0":
                return qint("page", 0, 0) + 1
            if sc.pages == "offset":
                return qint("offset", 0, 0) // qint("limit", default, 1) + 1
            if sc.pages == "cursor":
                size, lo = qint("page_size", default, 1), 0
                if q.get("cursor"):
                    tag, _, number = base64.urlsafe_b64decode(q["cursor"].encode()).decode().partition(":")
                    lo = int(number)
                    if tag != "o" or lo < 0:
                        return None
                return lo // size + 1
            return 1            # none: a single page
        except (ValueError, UnicodeDecodeError):
            return None

    def _meter_fault(self, sc: Scenario, route, pairs) -> None:
        """Fail a reading list request that selects a meter of the run's
        /_meter_faults (see the module docstring)."""
        fault = self.server.meter_faults.get(sc.run)
        if not fault:
            return
        chosen = self._reading_meters(route[1] if route[0] == "meters" else None, pairs)
        if not chosen:
            return
        pf = self.server.portfolio
        failing = [pf.meters[i]["meter_id"] for i in chosen if pf.meters[i]["meter_id"] in fault["set"]]
        if not failing:
            return
        page = self._page_number(sc, pairs)
        if page is None or page < fault["from_page"]:
            return
        status = fault["status"]
        headers = [("Retry-After", str(sc.retry))] if status in (429, 503) else []
        raise HTTPFail(status, {"error": "simulated meter failure", "meter_id": failing[0],
                                "meter_ids": failing, "page": page}, headers)

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
        return "%s%s%s?%s" % (self.server.base_url, sc.prefix, path,
                              urlencode(out, quote_via=_quote_plus_cached))

    def _page(self, sc: Scenario, path: str, listing: Listing, pairs, wrong: bool, xml: bool = False):
        """Render one page of listing in the scenario's pagination style; xml:
        its XML twin (module docstring, /consumption?format=xml: listing holds
        <reading> records; the record list first, then the envelope's other
        keys in JSON order, nulls left out)."""
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
                wrong_one = make_wrong_xml if xml else make_wrong
                recs = [wrong_one(r, p % 3 == 2, p == 4) for p, r in enumerate(recs)]
            return ("" if xml else ",").join(recs)

        def page_xml(name: str | None, records: str, *fields) -> str:
            """<page>[<name>]records[</name>], then <key>markup</key> per
            (key, markup); None: left out."""
            rest = "".join("<%s>%s</%s>" % (k, v, k) for k, v in fields if v is not None)
            inner = records if name is None else "<%s>%s</%s>" % (name, records, name)
            return '<?xml version="1.0" encoding="UTF-8"?><page>%s%s</page>' % (inner, rest)

        headers: list = []
        style = sc.pages
        default = self.server.page_size
        if style == "next":
            size, page = qint("page_size", default, 1), qint("page", 1, 1)
            lo = (page - 1) * size
            nxt = self._url(sc, path, pairs, {"page": page + 1}) if lo + size < total else None
            prev = self._url(sc, path, pairs, {"page": page - 1}) if page > 1 else None
            if xml:
                text = page_xml("results", items(lo, lo + size), ("count", total),
                                ("next", nxt and xml_escape(nxt)), ("previous", prev and xml_escape(prev)))
            else:
                text = '{"count":%d,"next":%s,"previous":%s,"results":[%s]}' % (
                    total, "null" if nxt is None else _dumps(nxt), "null" if prev is None else _dumps(prev),
                    items(lo, lo + size))
        elif style in ("page0", "page1"):
            first = 0 if style == "page0" else 1
            size, page = qint("page_size", default, 1), qint("page", first, first)
            lo = (page - first) * size
            if xml:
                text = page_xml("data", items(lo, lo + size), ("page", page), ("page_size", size),
                                ("total_pages", -(-total // size)), ("total", total))
            else:
                text = '{"page":%d,"page_size":%d,"total_pages":%d,"total":%d,"data":[%s]}' % (
                    page, size, -(-total // size), total, items(lo, lo + size))
        elif style == "offset":
            lo, size = qint("offset", 0, 0), qint("limit", default, 1)
            if xml:
                text = page_xml("items", items(lo, lo + size), ("total", total), ("offset", lo), ("limit", size))
            else:
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
            after = None
            if lo + size < total:
                after = base64.urlsafe_b64encode(b"o:%d" % (lo + size)).decode()
            if xml:
                text = page_xml("data", items(lo, lo + size),
                                ("pagination", "" if after is None else "<after>%s</after>" % after))
            else:
                text = '{"data":[%s],"pagination":{"after":%s}}' % (
                    items(lo, lo + size), "null" if after is None else _dumps(after))
        elif style == "link":
            size, page = qint("per_page", default, 1), qint("page", 1, 1)
            last = max(1, -(-total // size))
            links = []
            if page < last:
                links.append('<%s>; rel="next"' % self._url(sc, path, pairs, {"page": page + 1}))
            links.append('<%s>; rel="last"' % self._url(sc, path, pairs, {"page": last}))
            headers.append(("Link", ", ".join(links)))
            lo = (page - 1) * size
            text = page_xml(None, items(lo, lo + size)) if xml else "[%s]" % items(lo, lo + size)
        else:  # none
            text = page_xml("data", items(0, total)) if xml else '{"data":[%s]}' % items(0, total)
        return text, headers


# ---------------------------------------------------------------------------
# Main
# ---------------------------------------------------------------------------
def write_port_file(path: str, port: int) -> None:
    tmp = path + ".tmp"
    with open(tmp, "w") as fh:
        fh.write(f"{port}\n")
    os.replace(tmp, path)


def serve(server, port_file: str | None, plain=None, plain_port_file: str | None = None) -> int:
    """Run server (and the optional plain-HTTP listener) until SIGTERM/SIGINT;
    return the exit status (0)."""
    stop = threading.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: stop.set())
    listeners = [server] + ([plain] if plain is not None else [])
    threads = [threading.Thread(target=s.serve_forever, kwargs={"poll_interval": 0.2}, daemon=True)
               for s in listeners]
    for thread in threads:
        thread.start()
    if plain is not None and plain_port_file:
        write_port_file(plain_port_file, plain.port)
    if port_file:
        write_port_file(port_file, server.port)
    if server.verbose:
        for s in listeners:
            print(f"listening on {s.base_url}", file=sys.stderr)
    while not stop.wait(0.5):
        pass
    server.stop_event.set()
    for s in listeners:
        s.shutdown()
        s.server_close()
    for thread in threads:
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
    ap.add_argument("--tls-cert", metavar="PATH", help="PEM certificate (chain): serve HTTPS")
    ap.add_argument("--tls-key", metavar="PATH", help="PEM private key of --tls-cert")
    ap.add_argument("--also-http-port-file", metavar="PATH",
                    help="start a second, plain-HTTP listener and write its port to PATH")
    args = ap.parse_args(argv)
    if bool(args.tls_cert) != bool(args.tls_key):
        ap.error("--tls-cert and --tls-key go together")
    context = None
    if args.tls_cert:
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.minimum_version = ssl.TLSVersion.TLSv1_2
        try:
            context.load_cert_chain(args.tls_cert, args.tls_key)
        except (OSError, ssl.SSLError) as exc:
            ap.error(f"cannot load the TLS certificate/key: {exc}")
    portfolio = Portfolio(args.assets, args.meters_per_asset, args.readings,
                          args.interval, args.start, args.seed)
    server = ProviderServer(args.port, portfolio, args.page_size, args.verbose, context)
    plain = PlainListener(server) if args.also_http_port_file else None
    return serve(server, args.port_file, plain, args.also_http_port_file)


if __name__ == "__main__":
    sys.exit(main())
