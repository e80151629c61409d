-- Environments: a profile may declare several (sandbox, production), each a
-- merge patch of the profile (base_url, token endpoint, ...); a server
-- chooses one with option "environment", and ALTER SERVER switches it.
SET client_min_messages = warning;
CREATE EXTENSION IF NOT EXISTS scaler_fdw CASCADE;
SET client_min_messages = notice;
\set VERBOSITY default
\getenv provider_url PROVIDER_URL
SET timezone = 'UTC';

-- a provider that serves only its sandbox: production points where nothing listens
SELECT format($j${"name": "envtest",
  "environments": {"sandbox": {"base_url": "%s/run=env"},
                   "production": {"base_url": "http://127.0.0.1:9"}},
  "tables": {"meters": {"request": {"path": "/meters"},
                        "pagination": {"type": "next_url", "path": "next"},
                        "records": "results", "fields": {"meter_id": "meter_id"}}}}$j$,
  :'provider_url') AS env_profile \gset

-- a profile with environments and no base_url needs a choice
CREATE SERVER env_provider FOREIGN DATA WRAPPER scaler_fdw OPTIONS (profile :'env_profile');
CREATE SERVER env_provider FOREIGN DATA WRAPPER scaler_fdw
  OPTIONS (profile :'env_profile', environment 'staging');
CREATE SERVER env_provider FOREIGN DATA WRAPPER scaler_fdw
  OPTIONS (profile :'env_profile', environment 'sandbox', base_url 'http://127.0.0.1:9');
CREATE SERVER env_provider FOREIGN DATA WRAPPER scaler_fdw
  OPTIONS (base_url 'http://127.0.0.1:9', environment 'sandbox');
CREATE SERVER env_provider FOREIGN DATA WRAPPER scaler_fdw
  OPTIONS (provider 'generic', environment 'sandbox');
CREATE SERVER env_provider FOREIGN DATA WRAPPER scaler_fdw
  OPTIONS (profile '{"environments": ["sandbox"], "tables": {}}', environment 'sandbox');
CREATE SERVER env_provider FOREIGN DATA WRAPPER scaler_fdw
  OPTIONS (profile '{"environments": {"sandbox": {"base_url": "ftp://x"}}, "tables": {}}', environment 'sandbox');

CREATE SERVER env_provider FOREIGN DATA WRAPPER scaler_fdw
  OPTIONS (profile :'env_profile', environment 'sandbox');
CREATE USER MAPPING FOR CURRENT_USER SERVER env_provider;
CREATE FOREIGN TABLE env_meters (meter_id text) SERVER env_provider OPTIONS (table 'meters');
SELECT count(*) FROM env_meters;

-- production: the same tables, another base URL
ALTER SERVER env_provider OPTIONS (SET environment 'production');
ALTER SERVER env_provider OPTIONS (ADD max_retries '0');
SELECT count(*) FROM env_meters;
ALTER SERVER env_provider OPTIONS (SET environment 'sandbox');
SELECT count(*) FROM env_meters;
ALTER SERVER env_provider OPTIONS (SET environment 'live');

-- the built-in Enode profile declares its sandbox and production hosts and
-- token endpoints (production is its default); the host a choice reaches,
-- shown without reaching it:
SET scaler_fdw.allowed_hosts = '127.0.0.1';
CREATE SERVER env_enode FOREIGN DATA WRAPPER scaler_fdw OPTIONS (provider 'enode', environment 'sandbox');
CREATE SERVER env_enode FOREIGN DATA WRAPPER scaler_fdw OPTIONS (provider 'enode');
RESET scaler_fdw.allowed_hosts;
CREATE SERVER env_enode FOREIGN DATA WRAPPER scaler_fdw OPTIONS (provider 'enode', environment 'sandbox');
ALTER SERVER env_enode OPTIONS (SET environment 'production');
SELECT name, jsonb_object_keys(document -> 'environments') AS environment
  FROM scaler.provider_profiles WHERE document ? 'environments' ORDER BY 1, 2;

DROP SERVER env_provider, env_enode CASCADE;
