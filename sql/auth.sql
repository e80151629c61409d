-- Token-based authentication from profiles: OAuth2 client credentials and
-- password grants, login exchanges; credentials from user mappings only.
CREATE EXTENSION IF NOT EXISTS scaler_fdw CASCADE;
\getenv provider_url PROVIDER_URL
\set cc_url :provider_url '/run=cc/auth=oauth_cc'
\set pw_url :provider_url '/run=pw/auth=oauth_pw/ttl=3'
\set login_url :provider_url '/run=login/auth=login'

CREATE SERVER cc FOREIGN DATA WRAPPER scaler_fdw OPTIONS (base_url :'cc_url', profile $json$
{
  "name": "oauth-cc",
  "auth": {"type": "oauth2", "grant": "client_credentials", "token_url": "/oauth/token"},
  "headers": {"X-Api-Version": "2024-01"},
  "tables": {"meters": {"request": {"path": "/meters"}, "pagination": {"type": "next_url"},
                        "records": "results", "fields": {"meter_id": "meter_id"}}}
}
$json$);
CREATE FOREIGN TABLE cc_meters (meter_id text) SERVER cc OPTIONS (table 'meters');
-- no user mapping, then one without the client secret
SELECT count(*) FROM cc_meters;
CREATE USER MAPPING FOR CURRENT_USER SERVER cc OPTIONS (client_id 'client-1');
SELECT count(*) FROM cc_meters;
ALTER USER MAPPING FOR CURRENT_USER SERVER cc OPTIONS (ADD client_secret 'cs-wrong');
SELECT count(*) FROM cc_meters;
ALTER USER MAPPING FOR CURRENT_USER SERVER cc OPTIONS (SET client_secret 'cs-2e6d0a');
SELECT count(*) FROM cc_meters;
SELECT count(*) FROM cc_meters;
-- one token request served both queries; API requests carried it and the profile's headers
CREATE SERVER ctl FOREIGN DATA WRAPPER scaler_fdw OPTIONS (base_url :'provider_url');
CREATE FOREIGN TABLE cc_log (path text, status text, seq int,
                             auth_header text OPTIONS (json_path 'headers.authorization'),
                             version text OPTIONS (json_path 'headers.x-api-version'),
                             body text)
  SERVER ctl OPTIONS (endpoint '/_requests?run=cc');
SELECT path, status, auth_header ~ '^Bearer [0-9a-f]+$' AS bearer,
       auth_header ~ '^Basic ' AS basic, version,
       replace(body, 'cs-2e6d0a', 'SECRET') AS body
  FROM cc_log ORDER BY seq;

-- a token the provider revoked is refused with 401: the wrapper fetches a new
-- one, once, and the query succeeds
CREATE FOREIGN TABLE revoke_tokens (revoked int) SERVER ctl OPTIONS (endpoint '/_revoke_tokens');
SELECT revoked > 0 AS revoked FROM revoke_tokens;
SELECT count(*) FROM cc_meters;
SELECT path, status FROM cc_log ORDER BY seq DESC LIMIT 4;

-- password grant with a 3-second token: refreshed before it expires
CREATE SERVER pw FOREIGN DATA WRAPPER scaler_fdw OPTIONS (base_url :'pw_url', profile $json$
{
  "auth": {"type": "oauth2", "grant": "password", "token_url": "/oauth/token"},
  "tables": {"meters": {"request": {"path": "/meters"}, "pagination": {"type": "next_url"},
                        "records": "results", "fields": {"meter_id": "meter_id"}}}
}
$json$);
CREATE USER MAPPING FOR CURRENT_USER SERVER pw
  OPTIONS (username 'demo-user', password 'pw-51d2e8', client_id 'client-1', client_secret 'cs-2e6d0a');
CREATE FOREIGN TABLE pw_meters (meter_id text) SERVER pw OPTIONS (table 'meters');
SELECT count(*) FROM pw_meters;
SELECT pg_sleep(1.6);
SELECT count(*) FROM pw_meters;
CREATE FOREIGN TABLE pw_log (path text, status text, seq int) SERVER ctl
  OPTIONS (endpoint '/_requests?run=pw');
SELECT path, status, count(*) FROM pw_log GROUP BY 1, 2 ORDER BY 1, 2;

-- login exchange: POST credentials, read the token, send it in a named header
CREATE SERVER login FOREIGN DATA WRAPPER scaler_fdw OPTIONS (base_url :'login_url', profile $json$
{
  "auth": {"type": "login", "url": "/login", "token_path": "session.token",
           "header": "X-Session-Token"},
  "tables": {"meters": {"request": {"path": "/meters"}, "pagination": {"type": "next_url"},
                        "records": "results", "fields": {"meter_id": "meter_id"}}}
}
$json$);
CREATE USER MAPPING FOR CURRENT_USER SERVER login
  OPTIONS (username 'demo-user', password 'pw-"quoted"-\wrong');
CREATE FOREIGN TABLE login_meters (meter_id text) SERVER login OPTIONS (table 'meters');
SELECT count(*) FROM login_meters;
ALTER USER MAPPING FOR CURRENT_USER SERVER login OPTIONS (SET password 'pw-51d2e8');
SELECT count(*) FROM login_meters;
CREATE FOREIGN TABLE login_log (path text, status text, seq int, body text,
                                token text OPTIONS (json_path 'headers.x-session-token'))
  SERVER ctl OPTIONS (endpoint '/_requests?run=login');
SELECT path, status, token IS NOT NULL AS has_token,
       replace(replace(body, 'pw-51d2e8', 'SECRET'), 'wrong', 'WRONG') AS body
  FROM login_log ORDER BY seq;

DROP SERVER cc, pw, login, ctl CASCADE;
