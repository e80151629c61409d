-- Preparation: scaler.check_connection(server) against the provider server:
-- a healthy provider, wrong credentials, a provider that only serves its
-- sandbox, a missing endpoint, a filter the API refuses.
SET client_min_messages = warning;
CREATE EXTENSION IF NOT EXISTS scaler_fdw CASCADE;
SET client_min_messages = notice;
\set VERBOSITY default
\getenv provider_url PROVIDER_URL
SET timezone = 'UTC';

-- a healthy provider: every table, its pagination and each pushed filter
CREATE SERVER ready_ok FOREIGN DATA WRAPPER scaler_fdw
  OPTIONS (provider 'generic', base_url :'provider_url', profile_override
    '{"tables": {"consumption": {"pagination": {"size": 50}}, "meters": {"pagination": {"size": 5}}}}');
CREATE USER MAPPING FOR CURRENT_USER SERVER ready_ok;
SELECT check_name, table_name, status, http_status, latency_ms >= 0 AS timed, message
  FROM scaler.check_connection('ready_ok');

-- wrong credentials: authentication fails, the rest is skipped
SELECT :'provider_url' || '/auth=bearer' AS bearer_url \gset
CREATE SERVER ready_auth FOREIGN DATA WRAPPER scaler_fdw
  OPTIONS (provider 'generic', base_url :'bearer_url', auth 'bearer');
CREATE USER MAPPING FOR CURRENT_USER SERVER ready_auth OPTIONS (token 'wrong-token');
SELECT check_name, table_name, status, http_status, message
  FROM scaler.check_connection('ready_auth');
-- and the secret never shows
SELECT count(*) FROM scaler.check_connection('ready_auth') WHERE message LIKE '%wrong-token%';

-- a provider that only serves its sandbox: production is unreachable
SELECT format($j${"name": "envcheck",
  "environments": {"sandbox": {"base_url": "%s"}, "production": {"base_url": "http://127.0.0.1:9"}},
  "tables": {"meters": {"request": {"path": "/meters"}, "records": "results",
                        "pagination": {"type": "next_url", "path": "next", "size_param": "page_size", "size": 5},
                        "fields": {"meter_id": "meter_id"}, "filters": {"meter_id": {"param": "meter_id"}}}}}$j$,
  :'provider_url') AS env_profile \gset
CREATE SERVER ready_env FOREIGN DATA WRAPPER scaler_fdw
  OPTIONS (profile :'env_profile', environment 'production', max_retries '0');
CREATE USER MAPPING FOR CURRENT_USER SERVER ready_env;
SELECT check_name, table_name, status, http_status, message FROM scaler.check_connection('ready_env');
ALTER SERVER ready_env OPTIONS (SET environment 'sandbox');
SELECT check_name, table_name, status, http_status, message FROM scaler.check_connection('ready_env');

-- a missing endpoint and a filter parameter the API refuses
CREATE SERVER ready_bad FOREIGN DATA WRAPPER scaler_fdw
  OPTIONS (provider 'generic', base_url :'provider_url', max_retries '0', profile_override
    '{"tables": {"assets": {"request": {"path": "/buildings"}},
                 "meters": {"filters": {"asset_id": {"param": "site"}}},
                 "consumption": {"filters": {"period_start": {"from_param": "since", "to_param": "until",
                                                               "format": "iso8601", "end": "exclusive"}}}}}');
CREATE USER MAPPING FOR CURRENT_USER SERVER ready_bad;
SELECT check_name, table_name, status, http_status, left(message, 70) AS message
  FROM scaler.check_connection('ready_bad');

-- what is not a server to check
SELECT * FROM scaler.check_connection('no_such_server');
CREATE SERVER ready_plain FOREIGN DATA WRAPPER scaler_fdw OPTIONS (base_url :'provider_url');
SELECT * FROM scaler.check_connection('ready_plain');

DROP SERVER ready_ok, ready_auth, ready_env, ready_bad, ready_plain CASCADE;

-- the readiness report: a healthy provider (with announced rate limits)
SELECT :'provider_url' || '/fault=ratelimit/rps=1000' AS limited_url \gset
CREATE SERVER ready_report FOREIGN DATA WRAPPER scaler_fdw
  OPTIONS (provider 'generic', base_url :'limited_url', rate_limit '50');
CREATE USER MAPPING FOR CURRENT_USER SERVER ready_report;
-- (numbers that change from run to run masked: rate-limit counters, the budget since a year ago)
SELECT heading, item, status,
       CASE WHEN heading IN ('rate limiting and quotas', 'sync budget') THEN regexp_replace(value, '[0-9]+', 'N', 'g')
            ELSE value END AS value,
       CASE WHEN heading = 'sync budget' THEN regexp_replace(detail, '[0-9]+', 'N', 'g') ELSE detail END AS detail
  FROM scaler.readiness_report('ready_report', 4);
SELECT jsonb_object_keys(scaler.readiness_report_json('ready_report', 2)) ORDER BY 1;
DROP SERVER ready_report CASCADE;

-- a flawed provider: a field never returned, a unit nobody knows,
-- overlapping periods (each daily reading said to last two days)
CREATE SERVER ready_flawed FOREIGN DATA WRAPPER scaler_fdw
  OPTIONS (provider 'generic', base_url :'provider_url', profile_override
   '{"tables": {"meters": {"fields": {"serial_number": "serial_no"}},
                "consumption": {"fields": {"unit": {"path": "unit", "map": {"kWh": "kWhh"}, "default": "m3"},
                                           "period_end": {"path": "interval_start", "format": "iso8601", "add": "2 days"}}}}}');
CREATE USER MAPPING FOR CURRENT_USER SERVER ready_flawed;
SELECT heading, item, status, value, detail FROM scaler.readiness_report('ready_flawed', 2)
 WHERE status IN ('problem', 'warning') ORDER BY 1, 2;
-- wrong credentials: the report says so instead of sampling
CREATE SERVER ready_denied FOREIGN DATA WRAPPER scaler_fdw
  OPTIONS (provider 'generic', base_url :'bearer_url', auth 'bearer');
CREATE USER MAPPING FOR CURRENT_USER SERVER ready_denied OPTIONS (token 'wrong-token');
SELECT heading, item, status, value, detail FROM scaler.readiness_report('ready_denied')
 WHERE heading IN ('authentication', 'sample');
SELECT * FROM scaler.readiness_report('ready_flawed', 0);
DROP SERVER ready_flawed, ready_denied CASCADE;
