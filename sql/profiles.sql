-- Provider profiles: validation, built-in and custom profiles, IMPORT FOREIGN
-- SCHEMA, pagination styles, field kinds, fan-out and pushdown, against the
-- local provider server (3 assets x 4 meters x 90 daily readings).
CREATE EXTENSION IF NOT EXISTS scaler_fdw CASCADE;
\getenv provider_url PROVIDER_URL
SET timezone = 'UTC';

SELECT name, tables FROM scaler.provider_profiles ORDER BY name;

-- ---------- validation: every error names the JSON path ----------
CREATE SERVER bad FOREIGN DATA WRAPPER scaler_fdw
  OPTIONS (base_url 'http://127.0.0.1:1', profile '{"tables": ');
CREATE SERVER bad FOREIGN DATA WRAPPER scaler_fdw
  OPTIONS (base_url 'http://127.0.0.1:1', profile '[]');
CREATE SERVER bad FOREIGN DATA WRAPPER scaler_fdw
  OPTIONS (base_url 'http://127.0.0.1:1', profile '{"name": "x"}');
CREATE SERVER bad FOREIGN DATA WRAPPER scaler_fdw
  OPTIONS (base_url 'http://127.0.0.1:1', profile '{"tabels": {}}');
CREATE SERVER bad FOREIGN DATA WRAPPER scaler_fdw
  OPTIONS (base_url 'http://127.0.0.1:1', profile '{"tables": {"t": {"request": {"path": "/t"}}}}');
CREATE SERVER bad FOREIGN DATA WRAPPER scaler_fdw
  OPTIONS (base_url 'http://127.0.0.1:1', profile '{"tables": {"t": {"request": {"path": "/t"},
    "pagination": {"type": "pages"}, "fields": {"a": "a"}}}}');
CREATE SERVER bad FOREIGN DATA WRAPPER scaler_fdw
  OPTIONS (base_url 'http://127.0.0.1:1', profile '{"tables": {"t": {"request": {"path": "/t"},
    "records": "data..items", "fields": {"a": "a"}}}}');
CREATE SERVER bad FOREIGN DATA WRAPPER scaler_fdw
  OPTIONS (base_url 'http://127.0.0.1:1', profile '{"tables": {"t": {"request": {"path": "/t"},
    "fields": {"a": {"path": "a", "const": 1}}}}}');
CREATE SERVER bad FOREIGN DATA WRAPPER scaler_fdw
  OPTIONS (base_url 'http://127.0.0.1:1', profile '{"tables": {"t": {"request": {"path": "/t"},
    "fields": {"a": {"path": "a", "format": "unix"}}}}}');
CREATE SERVER bad FOREIGN DATA WRAPPER scaler_fdw
  OPTIONS (base_url 'http://127.0.0.1:1', profile '{"tables": {"t": {"request": {"path": "/t"},
    "fields": {"a": "a"}, "filters": {"b": {"param": "b"}}}}}');
CREATE SERVER bad FOREIGN DATA WRAPPER scaler_fdw
  OPTIONS (base_url 'http://127.0.0.1:1', profile '{"tables": {"t": {"request": {"path": "/t"},
    "fields": {"a": "a"}, "filters": {"a": {"from_param": "from", "max_window": "-1 day"}}}}}');
CREATE SERVER bad FOREIGN DATA WRAPPER scaler_fdw
  OPTIONS (base_url 'http://127.0.0.1:1', profile '{"tables": {"t": {"request": {"path": "/t/{id}"},
    "fields": {"a": "a"}, "parent": {"table": "u", "vars": ["id"]}}}}');
CREATE SERVER bad FOREIGN DATA WRAPPER scaler_fdw
  OPTIONS (base_url 'http://127.0.0.1:1', profile '{"auth": {"type": "oauth2"}, "tables": {"t":
    {"request": {"path": "/t"}, "fields": {"a": "a"}}}}');
CREATE SERVER bad FOREIGN DATA WRAPPER scaler_fdw OPTIONS (provider 'octopuss');
CREATE SERVER bad FOREIGN DATA WRAPPER scaler_fdw
  OPTIONS (provider 'generic', profile '{"tables": {}}');
CREATE SERVER bad FOREIGN DATA WRAPPER scaler_fdw
  OPTIONS (base_url 'http://127.0.0.1:1', profile_override '{}');
CREATE SERVER bad FOREIGN DATA WRAPPER scaler_fdw
  OPTIONS (base_url 'http://127.0.0.1:1', profile '{"tables": {"t": {"request": {"path": "/t"},
    "records": "rows[][]", "fields": {"a": "a"}}}}');
CREATE SERVER bad FOREIGN DATA WRAPPER scaler_fdw
  OPTIONS (base_url 'http://127.0.0.1:1', profile '{"tables": {"t": {"request": {"path": "/t"},
    "records": "sites[].meters[]", "pagination": {"type": "offset"}, "fields": {"a": "a"}}}}');
CREATE SERVER bad FOREIGN DATA WRAPPER scaler_fdw
  OPTIONS (base_url 'http://127.0.0.1:1', profile '{"tables": {"t": {"request": {"path": "/t"},
    "fields": {"a": "a"}, "filters": {"a": {"from_param": "from", "max_window": "1 day"}}}}}');
-- the generic profile names no base URL: the server must
CREATE SERVER bad FOREIGN DATA WRAPPER scaler_fdw OPTIONS (provider 'generic');
-- an override is a JSON merge patch, validated like the rest
CREATE SERVER bad FOREIGN DATA WRAPPER scaler_fdw
  OPTIONS (provider 'generic', base_url 'http://127.0.0.1:1',
           profile_override '{"tables": {"meters": {"pagination": {"type": "cursor"}}}}');

-- ---------- the generic built-in profile ----------
CREATE SERVER gen FOREIGN DATA WRAPPER scaler_fdw
  OPTIONS (provider 'generic', base_url :'provider_url');
CREATE SCHEMA gen;
IMPORT FOREIGN SCHEMA provider EXCEPT (assets) FROM SERVER gen INTO gen;
SELECT c.relname, a.attname, format_type(a.atttypid, a.atttypmod) AS type,
       col_description(c.oid, a.attnum) AS comment
  FROM pg_class c JOIN pg_attribute a ON a.attrelid = c.oid AND a.attnum > 0
 WHERE c.relnamespace = 'gen'::regnamespace
 ORDER BY c.relname, a.attnum;
IMPORT FOREIGN SCHEMA provider LIMIT TO (assets) FROM SERVER gen INTO gen;
SELECT asset_id, name, city, floor_area, floor_area_unit FROM gen.assets ORDER BY 1;
SELECT resource, count(*), count(*) FILTER (WHERE is_active) AS active
  FROM gen.meters GROUP BY 1 ORDER BY 1;
SELECT count(*), sum(value), min(period_start), max(period_end),
       min(reading_type), count(*) FILTER (WHERE is_estimated) AS estimated
  FROM gen.consumption;

-- the request log, read through the wrapper
CREATE SERVER ctl FOREIGN DATA WRAPPER scaler_fdw OPTIONS (base_url :'provider_url');
CREATE FOREIGN TABLE request_log (path text, query jsonb, status text, seq int)
  SERVER ctl OPTIONS (endpoint '/_requests?run=push');

-- ---------- pushdown: equality, IN and time ranges become request parameters ----------
CREATE SERVER genp FOREIGN DATA WRAPPER scaler_fdw
  OPTIONS (provider 'generic', base_url :'provider_url');
CREATE FOREIGN TABLE cons (meter_id text, period_start timestamptz, period_end timestamptz,
                           value numeric)
  SERVER genp OPTIONS (table 'consumption');
-- route this table's requests to their own log namespace
ALTER SERVER genp OPTIONS (ADD profile_override
  '{"tables": {"consumption": {"request": {"path": "/run=push/consumption"}}}}');
EXPLAIN (COSTS OFF)
  SELECT * FROM cons WHERE meter_id = 'M00002' AND period_start >= '2025-02-01'
                       AND period_start < '2025-02-08';
SELECT meter_id, count(*), min(period_start), max(period_start), sum(value)
  FROM cons WHERE meter_id = 'M00002' AND period_start >= '2025-02-01'
              AND period_start < '2025-02-08'
 GROUP BY 1;
SELECT meter_id, count(*) FROM cons WHERE meter_id IN ('M00001', 'M00005', 'M00001')
 GROUP BY 1 ORDER BY 1;
-- <= on an API whose "to" is exclusive asks for one second more; the local
-- filter keeps the answer exact
SELECT count(*), max(period_start) FROM cons
 WHERE meter_id = 'M00003' AND period_start <= '2025-01-05';
-- period_end bounds narrow the start of the range too
SELECT count(*) FROM cons WHERE meter_id = 'M00003' AND period_end <= '2025-01-05';
-- contradictions and NULL need no request at all
SELECT count(*) FROM cons WHERE meter_id = 'M00001' AND meter_id = 'M00002';
SELECT count(*) FROM cons WHERE meter_id = NULL;
-- parameters are bound at execution
PREPARE by_meter(text, timestamptz) AS
  SELECT count(*) FROM cons WHERE meter_id = $1 AND period_start >= $2;
EXECUTE by_meter('M00004', '2025-03-25');
EXECUTE by_meter('M00006', '2025-03-30');
-- what the provider was asked, in order
SELECT query - 'page_size' AS query, status FROM request_log ORDER BY seq;
-- LIMIT shrinks the first page when every qual went to the API, and not otherwise
EXPLAIN (COSTS OFF) SELECT * FROM cons WHERE meter_id = 'M00002' LIMIT 3;
SELECT meter_id, period_start FROM cons WHERE meter_id = 'M00002' LIMIT 3;
EXPLAIN (COSTS OFF) SELECT * FROM cons WHERE value > 500 LIMIT 3;
SELECT query->'page_size' AS page_size FROM request_log ORDER BY seq DESC LIMIT 1;
-- quals the profile cannot carry stay local, and the answer is the same
SELECT count(*) FROM cons WHERE value > 500 AND meter_id = 'M00001';
-- a join: the inner side is rescanned per outer row, with its own pushed values
SET enable_hashjoin = off;
SET enable_mergejoin = off;
SET enable_material = off;
SELECT m.meter_id, (SELECT count(*) FROM cons c WHERE c.meter_id = m.meter_id) AS readings
  FROM gen.meters m WHERE m.asset_id = 'A0001' ORDER BY 1;
-- a parameterized path: each outer meter's id goes to the API as meter_id=...
EXPLAIN (COSTS OFF)
  SELECT m.meter_id, count(*), sum(c.value)
    FROM gen.meters m JOIN cons c ON c.meter_id = m.meter_id
   WHERE m.asset_id = 'A0002' GROUP BY 1;
SELECT m.meter_id, count(*), sum(c.value)
  FROM gen.meters m JOIN cons c ON c.meter_id = m.meter_id
 WHERE m.asset_id = 'A0002' GROUP BY 1 ORDER BY 1;
SELECT query->'meter_id' AS meter_id, status FROM request_log ORDER BY seq DESC LIMIT 4;
RESET enable_hashjoin;
RESET enable_mergejoin;
RESET enable_material;
-- the same answer from a hash join over one full scan
SELECT m.meter_id, count(*), sum(c.value)
  FROM gen.meters m JOIN cons c ON c.meter_id = m.meter_id
 WHERE m.asset_id = 'A0002' GROUP BY 1 ORDER BY 1;

-- ---------- pagination styles, fields of every kind, fan-out ----------
CREATE SERVER styles FOREIGN DATA WRAPPER scaler_fdw
  OPTIONS (base_url :'provider_url', profile $json$
{
  "name": "styles",
  "tables": {
    "page1": {
      "request": {"path": "/pages=page1/meters"},
      "pagination": {"type": "page", "param": "page", "start": 1, "size_param": "page_size",
                     "size": 5, "total_path": "total_pages"},
      "records": "data",
      "fields": {"meter_id": "meter_id"}
    },
    "page0": {
      "request": {"path": "/pages=page0/meters"},
      "pagination": {"type": "page", "param": "page", "start": 0, "size_param": "page_size",
                     "size": 5},
      "records": "data",
      "fields": {"meter_id": "meter_id"}
    },
    "offset": {
      "request": {"path": "/pages=offset/meters"},
      "pagination": {"type": "offset", "param": "offset", "size_param": "limit", "size": 5,
                     "total_path": "total"},
      "records": "items",
      "fields": {"meter_id": "meter_id"}
    },
    "cursor": {
      "request": {"path": "/pages=cursor/meters"},
      "pagination": {"type": "cursor", "param": "cursor", "cursor_path": "pagination.after",
                     "size_param": "page_size", "size": 5},
      "records": "data",
      "fields": {"meter_id": "meter_id"}
    },
    "link": {
      "request": {"path": "/pages=link/meters", "query": {"per_page": "5"}},
      "pagination": {"type": "link_header"},
      "fields": {"meter_id": "meter_id"}
    },
    "meters": {
      "request": {"path": "/meters", "query": {"page_size": "100"}},
      "pagination": {"type": "next_url"},
      "records": "results",
      "fields": {
        "meter_id": "meter_id",
        "asset_id": "asset_id",
        "code": {"template": "{asset_id}/{meter_id}/{serial_number}"},
        "resource": {"path": "resource", "map": {"electricity": "E", "gas": "G"}, "default": "other"},
        "source": {"const": "generic test server"},
        "provider_total": {"path": "$.count"}
      }
    },
    "readings": {
      "request": {"path": "/meters/{meter_id}/consumption", "query": {"page_size": "50"}},
      "pagination": {"type": "next_url"},
      "records": "results",
      "parent": {"table": "meters", "vars": ["meter_id", "asset_id"]},
      "fields": {
        "meter_id": {"var": "meter_id"},
        "asset_id": {"var": "asset_id"},
        "period_start": {"path": "interval_start", "format": "iso8601"},
        "value": "consumption"
      },
      "filters": {
        "meter_id": {"path_var": true},
        "period_start": {"from_param": "from", "to_param": "to", "format": "date",
                         "max_window": "7 days"}
      }
    },
    "requests": {
      "request": {"path": "/_requests", "query": {"run": "default"}},
      "fields": {
        "seq": "seq",
        "at": {"path": "time", "format": "epoch"}
      }
    }
  }
}
$json$);

CREATE FOREIGN TABLE page1 (meter_id text) SERVER styles OPTIONS (table 'page1');
CREATE FOREIGN TABLE page0 (meter_id text) SERVER styles OPTIONS (table 'page0');
CREATE FOREIGN TABLE offs (meter_id text) SERVER styles OPTIONS (table 'offset');
CREATE FOREIGN TABLE curs (meter_id text) SERVER styles OPTIONS (table 'cursor');
CREATE FOREIGN TABLE link (meter_id text) SERVER styles OPTIONS (table 'link');
SELECT 'page1' AS style, count(*), count(DISTINCT meter_id) FROM page1
UNION ALL SELECT 'page0', count(*), count(DISTINCT meter_id) FROM page0
UNION ALL SELECT 'offset', count(*), count(DISTINCT meter_id) FROM offs
UNION ALL SELECT 'cursor', count(*), count(DISTINCT meter_id) FROM curs
UNION ALL SELECT 'link', count(*), count(DISTINCT meter_id) FROM link;
EXPLAIN (ANALYZE, COSTS OFF, TIMING OFF, SUMMARY OFF) SELECT * FROM page1;
EXPLAIN (ANALYZE, COSTS OFF, TIMING OFF, SUMMARY OFF) SELECT * FROM offs;
-- pages known in advance (numbers up to the total) are fetched max_concurrency
-- at a time, and read in order
ALTER SERVER styles OPTIONS (ADD profile_override
  '{"tables": {"page1": {"pagination": {"size": 2}}, "offset": {"pagination": {"size": 2}}}}');
SELECT string_agg(meter_id, ',') FROM page1;
SELECT string_agg(meter_id, ',') FROM offs;
EXPLAIN (ANALYZE, COSTS OFF, TIMING OFF, SUMMARY OFF) SELECT * FROM page1;
CREATE FOREIGN TABLE styles_log (path text, query jsonb, seq int) SERVER ctl
  OPTIONS (endpoint '/_requests');
SELECT query->'page' AS page, count(*) FROM styles_log WHERE path = '/meters' AND query ? 'page'
   AND query->'page_size' = '["2"]' GROUP BY 1 ORDER BY 1;
ALTER SERVER styles OPTIONS (DROP profile_override);

-- templates, value maps, constants, a field of the envelope
CREATE FOREIGN TABLE smeters (meter_id text, asset_id text, code text, resource text,
                              source text, provider_total int)
  SERVER styles OPTIONS (table 'meters');
SELECT * FROM smeters WHERE asset_id = 'A0001' ORDER BY meter_id;

-- fan-out: one request set per parent row, variables in the path and the rows
CREATE FOREIGN TABLE readings (meter_id text, asset_id text, period_start timestamptz,
                               value numeric)
  SERVER styles OPTIONS (table 'readings');
SELECT asset_id, count(DISTINCT meter_id) AS meters, count(*), sum(value) FROM readings
 GROUP BY 1 ORDER BY 1;
EXPLAIN (ANALYZE, COSTS OFF, TIMING OFF, SUMMARY OFF) SELECT count(*) FROM readings;
-- the child's equality pins the meter, and no column read needs the parent's
-- asset_id: no parent request at all; a date range is split in windows of at
-- most 7 days
EXPLAIN (ANALYZE, COSTS OFF, TIMING OFF, SUMMARY OFF)
  SELECT count(*) FROM readings
   WHERE meter_id = 'M00002' AND period_start >= '2025-01-01' AND period_start < '2025-01-31';
SELECT count(*), min(period_start), max(period_start) FROM readings
 WHERE meter_id = 'M00002' AND period_start >= '2025-01-01' AND period_start < '2025-01-31';
-- fan-out requests go out max_concurrency at a time (default 4); the rows are
-- the same at any setting
ALTER SERVER styles OPTIONS (ADD max_concurrency '1');
SELECT asset_id, count(*), sum(value) FROM readings GROUP BY 1 ORDER BY 1;
ALTER SERVER styles OPTIONS (SET max_concurrency '16');
SELECT asset_id, count(*), sum(value) FROM readings GROUP BY 1 ORDER BY 1;
ALTER SERVER styles OPTIONS (SET max_concurrency '0');
ALTER SERVER styles OPTIONS (SET max_concurrency '65');
-- a first page that fails in a concurrent batch is retried on its own: every
-- meter's first request answers 500, then the provider recovers
ALTER SERVER styles OPTIONS (ADD max_retry_wait '100ms', ADD profile_override
  '{"tables": {"readings": {"request": {"path": "/run=fanfail/fault=500/faultn=1/meters/{meter_id}/consumption"}}}}');
EXPLAIN (ANALYZE, COSTS OFF, TIMING OFF, SUMMARY OFF) SELECT count(*) FROM readings;
SELECT count(*), sum(value) FROM readings;
ALTER SERVER styles OPTIONS (DROP max_retry_wait, DROP profile_override, DROP max_concurrency);

-- a variable the query cannot supply is a clear error
ALTER SERVER styles OPTIONS (ADD profile_override '{"tables": {"readings": {"parent": null}}}');
SELECT count(*) FROM readings;
ALTER SERVER styles OPTIONS (DROP profile_override);

-- a provider that ignores the filters: with one request per value or per
-- window, each request keeps only the rows that are its own, so no row comes
-- twice (here every request returns everything)
CREATE SERVER loose FOREIGN DATA WRAPPER scaler_fdw OPTIONS (base_url :'provider_url', profile $json$
{"tables": {
  "meters": {"request": {"path": "/meters", "query": {"page_size": "100"}}, "pagination": {"type": "next_url"},
             "records": "results", "fields": {"meter_id": "meter_id"},
             "filters": {"meter_id": {"param": "ignored"}}},
  "readings": {"request": {"path": "/meters/M00003/consumption", "query": {"page_size": "100"}},
               "pagination": {"type": "next_url"}, "records": "results",
               "fields": {"period_start": {"path": "interval_start", "format": "iso8601"}},
               "filters": {"period_start": {"from_param": "ignored_from", "to_param": "ignored_to",
                                            "format": "date", "max_window": "7 days"}}}}}
$json$);
CREATE FOREIGN TABLE loose_meters (meter_id text) SERVER loose OPTIONS (table 'meters');
SELECT meter_id, count(*) FROM loose_meters WHERE meter_id IN ('M00001', 'M00002') GROUP BY 1 ORDER BY 1;
CREATE FOREIGN TABLE loose_readings (period_start timestamptz) SERVER loose OPTIONS (table 'readings');
SELECT count(*), count(DISTINCT period_start), min(period_start), max(period_start) FROM loose_readings
 WHERE period_start >= '2025-01-03' AND period_start < '2025-01-24';
EXPLAIN (ANALYZE, COSTS OFF, TIMING OFF, SUMMARY OFF)
  SELECT * FROM loose_readings WHERE period_start >= '2025-01-03' AND period_start < '2025-01-24';
DROP SERVER loose CASCADE;
-- a table option may change a profile table's pagination
CREATE FOREIGN TABLE page1_next (meter_id text) SERVER styles OPTIONS (table 'page1', pagination 'next_url');
SELECT count(*) FROM page1_next;

-- a table's own headers and method: templates filled from request variables,
-- JSON-escaped in a POST body
CREATE SERVER reqs FOREIGN DATA WRAPPER scaler_fdw
  OPTIONS (base_url :'provider_url', max_retries '0',
           profile_vars '{"who": "ann \"the analyst\""}', profile $json$
{"tables": {
  "tagged": {"request": {"path": "/run=reqs/meters/{meter_id}", "headers": {"X-Meter": "{meter_id}", "X-Who": "{who}"}},
             "fields": {"meter_id": "meter_id"}, "filters": {"meter_id": {"path_var": true}}},
  "posted": {"request": {"path": "/run=reqs/auth=login/login", "method": "POST",
                         "body": {"username": "{who}", "password": "not-a-secret"}},
             "records": "session", "fields": {"token": "token"}}
}}
$json$);
CREATE FOREIGN TABLE tagged (meter_id text) SERVER reqs OPTIONS (table 'tagged');
SELECT * FROM tagged WHERE meter_id = 'M00004';
CREATE FOREIGN TABLE posted (token text) SERVER reqs OPTIONS (table 'posted');
SELECT * FROM posted;
CREATE FOREIGN TABLE reqs_log (method text, path text, status text, seq int, body text,
                               x_meter text OPTIONS (json_path 'headers.x-meter'),
                               x_who text OPTIONS (json_path 'headers.x-who'),
                               content_type text OPTIONS (json_path 'headers.content-type'))
  SERVER reqs OPTIONS (endpoint '/_requests?run=reqs');
SELECT method, path, status, x_meter, x_who, content_type, body FROM reqs_log ORDER BY seq;
DROP SERVER reqs CASCADE;

-- epoch seconds
CREATE FOREIGN TABLE reqs (seq int, at timestamptz) SERVER styles OPTIONS (table 'requests');
SELECT count(*) > 0 AS logged, min(at) > '2026-01-01' AS recent FROM reqs;
CREATE FOREIGN TABLE bad_type (at text) SERVER styles OPTIONS (table 'requests');
SELECT * FROM bad_type;
-- a table the profile does not have
CREATE FOREIGN TABLE nope (x text) SERVER styles OPTIONS (table 'bills');
SELECT * FROM nope;
-- a profile table on a server without a profile
CREATE FOREIGN TABLE nope2 (x text) SERVER ctl OPTIONS (table 'meters');
SELECT * FROM nope2;
IMPORT FOREIGN SCHEMA provider FROM SERVER ctl INTO gen;

DROP SCHEMA gen CASCADE;
DROP SERVER gen, genp, ctl, styles CASCADE;
