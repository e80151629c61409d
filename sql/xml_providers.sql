-- XML providers: the built-in profiles energystar (ENERGY STAR Portfolio
-- Manager) and greenbutton (Green Button / ESPI) against the provider server's
-- reproductions, their defects, and XML that must be refused.
CREATE EXTENSION IF NOT EXISTS scaler_fdw CASCADE;
\getenv provider_url PROVIDER_URL
SET timezone = 'UTC';
\set es_url :provider_url '/run=es/energystar'
\set gb_url :provider_url '/run=gb/greenbutton'

-- the same portfolio as JSON, to check every XML number against
CREATE SERVER json_provider FOREIGN DATA WRAPPER scaler_fdw
  OPTIONS (provider 'generic', base_url :'provider_url');
CREATE SCHEMA js;
IMPORT FOREIGN SCHEMA generic FROM SERVER json_provider INTO js;

-- the request log of a run, read through the wrapper
CREATE SERVER ctl FOREIGN DATA WRAPPER scaler_fdw OPTIONS (base_url :'provider_url');
CREATE FOREIGN TABLE es_log (path text, query jsonb, status text, seq int)
  SERVER ctl OPTIONS (endpoint '/_requests?run=es');

-- ---------- ENERGY STAR Portfolio Manager ----------
CREATE SERVER es FOREIGN DATA WRAPPER scaler_fdw
  OPTIONS (provider 'energystar', base_url :'es_url', rate_limit '1000');
CREATE USER MAPPING FOR CURRENT_USER SERVER es
  OPTIONS (username 'demo-user', password 'pw-51d2e8');
CREATE SCHEMA es;
-- the links-only lists (account, property_links, meter_links) are internal: not imported
IMPORT FOREIGN SCHEMA energystar FROM SERVER es INTO es;
SELECT c.relname, string_agg(a.attname, ', ' ORDER BY a.attnum) AS columns
  FROM pg_class c JOIN pg_attribute a ON a.attrelid = c.oid AND a.attnum > 0
 WHERE c.relnamespace = 'es'::regnamespace GROUP BY 1 ORDER BY 1;
SELECT table_name FROM scaler.profile_tables('es') ORDER BY 1;

-- properties: the account's links, then one GET /property/{id} each
SELECT asset_id, name, city, postcode, country, floor_area, floor_area_unit, state,
       primary_function, raw->>0 LIKE '<property>%</property>' AS raw_is_the_element
  FROM es.assets ORDER BY asset_id::int;
SELECT count(*) AS same_as_json
  FROM es.assets e JOIN js.assets j ON j.asset_id = 'A' || lpad(e.asset_id, 4, '0')
 WHERE (e.name, e.city, e.postcode, e.floor_area, e.floor_area_unit)
       = (j.name, j.city, j.postcode, j.floor_area, j.floor_area_unit);

-- meters: unit labels become catalog symbols; asset_id comes from the meter list it was linked from
SELECT resource, unit, unit_of_measure, count(*), bool_and(is_active) AS active
  FROM es.meters GROUP BY 1, 2, 3 ORDER BY 1;
SELECT scaler.normalize_unit(unit) = unit AS catalog_symbol, count(*) FROM es.meters GROUP BY 1;
-- one property: one meter list, one GET per meter
EXPLAIN (ANALYZE, COSTS OFF, TIMING OFF, SUMMARY OFF)
  SELECT * FROM es.meters WHERE asset_id = '2';
-- one meter: no list at all
EXPLAIN (ANALYZE, COSTS OFF, TIMING OFF, SUMMARY OFF)
  SELECT meter_id, name FROM es.meters WHERE meter_id = '100005';
SELECT meter_id, asset_id, name FROM es.meters WHERE meter_id = '100005';

-- bills add up to the JSON readings of the same meter, exactly
SELECT count(*) AS meters,
       count(*) FILTER (WHERE b.total = r.total) AS equal_totals,
       sum(b.bills) AS bills
  FROM (SELECT meter_id, sum(value) AS total, count(*) AS bills FROM es.consumption GROUP BY 1) b
  JOIN (SELECT meter_id, sum(value) AS total FROM js.consumption GROUP BY 1) r
    ON r.meter_id = 'M' || lpad((b.meter_id::int - 100000)::text, 5, '0');
SELECT meter_id, period_start, period_end, value, unit, reading_type, is_estimated, bill_id
  FROM es.consumption WHERE meter_id = '100001' ORDER BY period_start;

-- meter and date range pushed: startDate/endDate in the request, one meter, no lists
SELECT max(seq) AS seq0 FROM es_log \gset
EXPLAIN (ANALYZE, COSTS OFF, TIMING OFF, SUMMARY OFF)
  SELECT * FROM es.consumption
   WHERE meter_id = '100002' AND period_start >= '2025-02-01' AND period_start < '2025-03-01';
SELECT period_start, period_end, value, unit FROM es.consumption
 WHERE meter_id = '100002' AND period_start >= '2025-02-01' AND period_start < '2025-03-01';
SELECT path, query, status FROM es_log WHERE seq > :seq0 ORDER BY seq;

-- next-page links, whose description is "next page" on odd pages and "Next Page" on even ones
ALTER SERVER es OPTIONS (ADD profile_override
  '{"tables": {"consumption": {"pagination": {"size_param": "pageSize", "size": 1}}}}');
SELECT max(seq) AS seq0 FROM es_log \gset
SELECT count(*), sum(value) FROM es.consumption WHERE meter_id = '100003';
SELECT path, query, status FROM es_log WHERE seq > :seq0 ORDER BY seq;
ALTER SERVER es OPTIONS (DROP profile_override);

-- the reproduced data defect: usage "n/a" and startDate "not-a-date"
\set es_bad_url :provider_url '/run=es/fault=wrongtype/energystar'
CREATE SERVER es_bad FOREIGN DATA WRAPPER scaler_fdw
  OPTIONS (provider 'energystar', base_url :'es_bad_url', rate_limit '1000');
CREATE USER MAPPING FOR CURRENT_USER SERVER es_bad
  OPTIONS (username 'demo-user', password 'pw-51d2e8');
CREATE FOREIGN TABLE es_bad_bills (meter_id text, period_start timestamptz, value numeric)
  SERVER es_bad OPTIONS (table 'consumption');
SELECT * FROM es_bad_bills WHERE meter_id = '100001';
ALTER SERVER es_bad OPTIONS (ADD on_conversion_error 'null');
SELECT meter_id, period_start, value FROM es_bad_bills WHERE meter_id = '100001';

-- wrong password: the provider's 401, the password never shown
ALTER USER MAPPING FOR CURRENT_USER SERVER es OPTIONS (SET password 'wrong-password');
SELECT count(*) FROM es.meters WHERE meter_id = '100001';
ALTER USER MAPPING FOR CURRENT_USER SERVER es OPTIONS (SET password 'pw-51d2e8');
-- an unknown meter: the provider's 404 is no such row
SELECT * FROM es.meters WHERE meter_id = '999999';
-- the internal lists: a table may still ask for one by name
CREATE FOREIGN TABLE es_meter_links (meter_id text, asset_id text, name text)
  SERVER es OPTIONS (table 'meter_links');
SELECT * FROM es_meter_links WHERE asset_id = '3' ORDER BY meter_id;
-- the connection check, its requests made through the internal lists
SELECT check_name, table_name, status, http_status, message FROM scaler.check_connection('es');

-- ---------- Green Button ----------
CREATE SERVER gb FOREIGN DATA WRAPPER scaler_fdw
  OPTIONS (provider 'greenbutton', base_url :'gb_url', rate_limit '1000',
           profile_vars '{"subscription_id": "1"}');
CREATE USER MAPPING FOR CURRENT_USER SERVER gb OPTIONS (token 'tok-9b81c4');
CREATE SCHEMA gb;
IMPORT FOREIGN SCHEMA greenbutton FROM SERVER gb INTO gb;
SELECT c.relname, string_agg(a.attname, ', ' ORDER BY a.attnum) AS columns
  FROM pg_class c JOIN pg_attribute a ON a.attrelid = c.oid AND a.attnum > 0
 WHERE c.relnamespace = 'gb'::regnamespace GROUP BY 1 ORDER BY 1;
-- the UsagePoint id is the number its self link ends with (link[@rel=self])
SELECT meter_id, name, resource, is_active, service_kind FROM gb.meters ORDER BY meter_id::int;
-- each UsagePoint's MeterReading links its ReadingType; UsagePoint 2's is empty: no uom, no multiplier
SELECT meter_id, meter_reading_id, reading_type_id, unit, power_of_ten, uom, commodity, kind, interval_length
  FROM gb.reading_types ORDER BY meter_id::int;
-- a UsagePoint's LocalTimeParameters, through its link
SELECT m.meter_id, m.local_time_id, l.name, l.tz_offset, l.dst_offset, l.dst_start_rule, l.dst_end_rule
  FROM gb.meters m JOIN gb.local_time_parameters l USING (meter_id)
 WHERE m.meter_id IN ('1', '12') ORDER BY 1;
-- value x 10^powerOfTenMultiplier in the ReadingType's unit equals the JSON reading;
-- the meter with the empty ReadingType gets NULL values and units, never guessed ones
SELECT count(*) AS readings, count(g.value) AS with_value,
       count(*) FILTER (WHERE scaler.convert(g.value, g.unit, j.unit) = j.value) AS equal,
       count(*) FILTER (WHERE g.is_estimated IS NOT DISTINCT FROM j.is_estimated) AS same_estimated,
       count(*) FILTER (WHERE g.period_end = j.period_end) AS same_end
  FROM gb.consumption g
  JOIN js.consumption j
    ON j.meter_id = 'M' || lpad(g.meter_id, 5, '0') AND j.period_start = g.period_start;
SELECT meter_id, count(*), count(value) AS with_value, count(unit) AS with_unit
  FROM gb.consumption WHERE meter_id = '2' GROUP BY 1;
SELECT period_start, period_end, value, unit, is_estimated, quality, raw_value
  FROM gb.consumption WHERE meter_id = '3' ORDER BY period_start LIMIT 3;
-- meter and time range pushed as published-min / published-max (epoch seconds)
EXPLAIN (ANALYZE, COSTS OFF, TIMING OFF, SUMMARY OFF)
  SELECT * FROM gb.consumption
   WHERE meter_id = '4' AND period_start >= '2025-03-01' AND period_start < '2025-03-03';
SELECT period_start, value, unit FROM gb.consumption
 WHERE meter_id = '4' AND period_start >= '2025-03-01' AND period_start < '2025-03-03';

SELECT check_name, table_name, status, http_status, message FROM scaler.check_connection('gb');
SELECT heading, item, status, value FROM scaler.readiness_report('gb', 3)
 WHERE status <> 'ok' ORDER BY 1, 2;

-- ---------- XML the wrapper refuses ----------
CREATE SERVER hostile FOREIGN DATA WRAPPER scaler_fdw OPTIONS (base_url :'provider_url');
CREATE FOREIGN TABLE hostile_xxe (v text OPTIONS (json_path 'v'))
  SERVER hostile OPTIONS (endpoint '/_xml/xxe', records_path 'doc.item', format 'xml');
SELECT * FROM hostile_xxe;
CREATE FOREIGN TABLE hostile_laughs (v text OPTIONS (json_path 'v'))
  SERVER hostile OPTIONS (endpoint '/_xml/billion_laughs', records_path 'doc.item', format 'xml');
SELECT * FROM hostile_laughs;
CREATE FOREIGN TABLE hostile_malformed (v text OPTIONS (json_path 'v'))
  SERVER hostile OPTIONS (endpoint '/_xml/malformed', records_path 'doc.item', format 'xml');
SELECT * FROM hostile_malformed;
CREATE FOREIGN TABLE hostile_entity (v text OPTIONS (json_path 'v'))
  SERVER hostile OPTIONS (endpoint '/_xml/undeclared_entity', records_path 'doc.item', format 'xml');
SELECT * FROM hostile_entity;
CREATE FOREIGN TABLE hostile_latin1 (v text OPTIONS (json_path 'v'))
  SERVER hostile OPTIONS (endpoint '/_xml/latin1', records_path 'doc.item', format 'xml');
SELECT * FROM hostile_latin1;
CREATE FOREIGN TABLE hostile_deep (v text OPTIONS (json_path 'v'))
  SERVER hostile OPTIONS (endpoint '/_xml/deep', records_path 'doc.item', format 'xml');
SELECT * FROM hostile_deep;
CREATE FOREIGN TABLE hostile_cdata_end (v text OPTIONS (json_path 'v'))
  SERVER hostile OPTIONS (endpoint '/_xml/cdata_end', records_path 'doc.item', format 'xml');
SELECT count(*) FROM hostile_cdata_end;
CREATE FOREIGN TABLE hostile_empty (v text OPTIONS (json_path 'v'))
  SERVER hostile OPTIONS (endpoint '/_xml/empty', records_path 'doc.item', format 'xml');
SELECT * FROM hostile_empty;
CREATE FOREIGN TABLE xml_ok (v text OPTIONS (json_path 'v'), a text OPTIONS (json_path '@a'))
  SERVER hostile OPTIONS (endpoint '/_xml/ok', records_path 'doc.item', format 'xml');
SELECT * FROM xml_ok;
CREATE FOREIGN TABLE xml_wrong_path (v text OPTIONS (json_path 'v'))
  SERVER hostile OPTIONS (endpoint '/_xml/ok', records_path 'feed.entry', format 'xml');
SELECT * FROM xml_wrong_path;

-- one element read both with and without a condition
CREATE FOREIGN TABLE xml_both (v text OPTIONS (json_path 'v'), w text OPTIONS (json_path 'v[@a=1]'))
  SERVER hostile OPTIONS (endpoint '/_xml/ok', records_path 'doc.item', format 'xml');
SELECT * FROM xml_both;

-- an empty feed has no readings; a misspelt step below a non-empty one is an error
SELECT count(*) FROM gb.consumption WHERE meter_id = '1' AND period_start >= '2030-01-01';
ALTER SERVER gb OPTIONS (ADD profile_override
  '{"tables": {"consumption": {"records": "feed.entry[].content.IntervalBlok.IntervalReading"}}}');
SELECT count(*) FROM gb.consumption WHERE meter_id = '1';
ALTER SERVER gb OPTIONS (DROP profile_override);
-- IN on a pinned meter: one request set per meter, not one per meter and parent row
EXPLAIN (ANALYZE, COSTS OFF, TIMING OFF, SUMMARY OFF)
  SELECT count(value) FROM gb.consumption WHERE meter_id IN ('1', '3', '5');

-- ---------- profile errors of the XML vocabulary ----------
CREATE SERVER bad FOREIGN DATA WRAPPER scaler_fdw
  OPTIONS (base_url 'http://127.0.0.1:1', profile '{"tables": {"t": {"request": {"path": "/t"},
    "pagination": {"type": "next_link", "path": "a.link", "match": {"@rel": "next"}},
    "fields": {"a": "a"}}}}');
CREATE SERVER bad FOREIGN DATA WRAPPER scaler_fdw
  OPTIONS (base_url 'http://127.0.0.1:1', profile '{"format": "xml", "tables": {"t": {"request": {"path": "/t"},
    "pagination": {"type": "next_link", "path": "a.link", "match": {"rel": "next"}},
    "fields": {"a": "a"}}}}');
CREATE SERVER bad FOREIGN DATA WRAPPER scaler_fdw
  OPTIONS (base_url 'http://127.0.0.1:1', profile '{"format": "xml", "tables": {"t": {"request": {"path": "/t"},
    "records": "a.b", "fields": {"a": "c[0]"}}}}');
CREATE SERVER bad FOREIGN DATA WRAPPER scaler_fdw
  OPTIONS (base_url 'http://127.0.0.1:1', profile '{"tables": {"t": {"request": {"path": "/t"},
    "fields": {"a": "link[@rel=self].href"}}}}');
CREATE SERVER bad FOREIGN DATA WRAPPER scaler_fdw
  OPTIONS (base_url 'http://127.0.0.1:1', profile '{"format": "xml", "tables": {"t": {"request": {"path": "/t"},
    "fields": {"a": "link[@rel].@href"}}}}');
CREATE SERVER bad FOREIGN DATA WRAPPER scaler_fdw
  OPTIONS (base_url 'http://127.0.0.1:1', profile '{"format": "yaml", "tables": {"t": {"request": {"path": "/t"},
    "fields": {"a": "a"}}}}');
CREATE SERVER bad FOREIGN DATA WRAPPER scaler_fdw
  OPTIONS (base_url 'http://127.0.0.1:1', profile '{"tables": {"t": {"request": {"path": "/t"},
    "fields": {"a": {"path": "a", "pattern": "(unclosed"}}}}}');
CREATE SERVER bad FOREIGN DATA WRAPPER scaler_fdw
  OPTIONS (base_url 'http://127.0.0.1:1', profile '{"tables": {
    "a": {"request": {"path": "/a"}, "parent": {"table": "b", "vars": ["x"]}, "fields": {"x": "x"}},
    "b": {"request": {"path": "/b"}, "parent": {"table": "a", "vars": ["x"]}, "fields": {"x": "x"}}}}');
CREATE SERVER bad FOREIGN DATA WRAPPER scaler_fdw
  OPTIONS (base_url 'http://127.0.0.1:1', profile '{"format": "xml", "tables": {"t": {"request": {"path": "/t"},
    "records": "a.b", "more_records": [{"records": "a.c[1]"}], "fields": {"a": "a"}}}}');
CREATE SERVER bad FOREIGN DATA WRAPPER scaler_fdw
  OPTIONS (base_url 'http://127.0.0.1:1', profile '{"tables": {"t": {"request": {"path": "/t"},
    "pagination": {"type": "next_url", "path": "links.link[@rel=next]"}, "fields": {"a": "a"}}}}');

-- ---------- a LATIN1 database: XML text converted to the server encoding ----------
CREATE DATABASE xml_latin1 ENCODING 'LATIN1' LC_COLLATE 'C' LC_CTYPE 'C' TEMPLATE template0;
\c xml_latin1
SET client_min_messages = warning;
CREATE EXTENSION scaler_fdw CASCADE;
RESET client_min_messages;
\getenv provider_url PROVIDER_URL
CREATE SERVER hostile FOREIGN DATA WRAPPER scaler_fdw OPTIONS (base_url :'provider_url');
CREATE FOREIGN TABLE xml_ok (v text OPTIONS (json_path 'v'), a text OPTIONS (json_path '@a'),
                             raw jsonb OPTIONS (json_path '$'))
  SERVER hostile OPTIONS (endpoint '/_xml/ok', records_path 'doc.item', format 'xml');
SELECT v = 'caf' || chr(233) || ' <ok>' AS cafe, a, convert_to(v, 'LATIN1') AS latin1_bytes, raw->>0 AS raw
  FROM xml_ok;
\c contrib_regression
DROP DATABASE xml_latin1;
