-- TLS: certificates are verified by default, ca_file trusts a private CA,
-- only a superuser can turn verification off, and a redirect from https to
-- http is refused (the provider server over TLS, test/run_tests.sh).
CREATE EXTENSION IF NOT EXISTS scaler_fdw CASCADE;
\getenv tls_url TLS_PROVIDER_URL
\getenv ca_file TLS_CA_FILE

CREATE SERVER tls FOREIGN DATA WRAPPER scaler_fdw OPTIONS (base_url :'tls_url', max_retries '0');
CREATE FOREIGN TABLE tls_meters (meter_id text) SERVER tls
  OPTIONS (endpoint '/meters?page_size=5', records_path 'results', pagination 'next_url');
-- a self-signed certificate is not trusted (terse: libcurl's detail names the file)
\set VERBOSITY terse
SELECT count(*) FROM tls_meters;
\set VERBOSITY default
-- trusting its CA
ALTER SERVER tls OPTIONS (ADD ca_file :'ca_file');
SELECT count(*) FROM tls_meters;
-- next-page links stay on https (three pages of five)
CREATE SERVER tls_ctl FOREIGN DATA WRAPPER scaler_fdw OPTIONS (base_url :'tls_url');
ALTER SERVER tls_ctl OPTIONS (ADD ca_file :'ca_file');
CREATE FOREIGN TABLE tls_log (path text, query jsonb, seq int) SERVER tls_ctl
  OPTIONS (endpoint '/_requests');
SELECT path, query->'page' AS page FROM tls_log WHERE path = '/meters' ORDER BY seq;
-- a redirect to plain http is refused before anything is sent there
ALTER FOREIGN TABLE tls_meters OPTIONS (SET endpoint '/fault=redirect/to=http/meters');
\set VERBOSITY terse
SELECT count(*) FROM tls_meters;
\set VERBOSITY default
ALTER FOREIGN TABLE tls_meters OPTIONS (SET endpoint '/meters?page_size=5');
-- turning verification off needs a superuser (as the options suite shows);
-- a superuser can, and then no CA is needed
ALTER SERVER tls OPTIONS (DROP ca_file, ADD ssl_verify 'false');
SELECT count(*) FROM tls_meters;
-- a CA file that does not exist is a clear error
ALTER SERVER tls OPTIONS (SET ssl_verify 'true', ADD ca_file '/nonexistent/ca.pem');
\set VERBOSITY terse
SELECT count(*) FROM tls_meters;
\set VERBOSITY default

DROP SERVER tls, tls_ctl CASCADE;
