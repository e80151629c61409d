-- The predefined roles: what each may do, and a clear permission error
-- (before anything is done) for what it may not.
SET client_min_messages = warning;
CREATE EXTENSION IF NOT EXISTS scaler_fdw CASCADE;
SET client_min_messages = notice;
\set VERBOSITY default
\set SHOW_CONTEXT never
\getenv provider_url PROVIDER_URL
\getenv sandbox_url SANDBOX_URL
\set scaler_url :sandbox_url '/v1'
SET timezone = 'UTC';

SELECT r.rolname, r.rolcanlogin, array_agg(m.rolname ORDER BY m.rolname) AS member_of
  FROM pg_roles r LEFT JOIN pg_auth_members a ON a.member = r.oid LEFT JOIN pg_roles m ON m.oid = a.roleid
 WHERE r.rolname LIKE 'scaler\_%' GROUP BY 1, 2 ORDER BY 1;

CREATE ROLE roles_bi LOGIN IN ROLE scaler_reader;
CREATE ROLE roles_dba LOGIN IN ROLE scaler_operator;
CREATE ROLE roles_admin LOGIN IN ROLE scaler_admin;

-- servers the administrator set up; the operator may use them
CREATE SERVER roles_provider FOREIGN DATA WRAPPER scaler_fdw
  OPTIONS (provider 'generic', base_url :'provider_url');
CREATE USER MAPPING FOR PUBLIC SERVER roles_provider;
CREATE SERVER roles_sink FOREIGN DATA WRAPPER scaler_fdw OPTIONS (provider 'scaler', base_url :'scaler_url');
CREATE USER MAPPING FOR PUBLIC SERVER roles_sink OPTIONS (token 'scaler-tok-4d0e');
GRANT USAGE ON FOREIGN SERVER roles_provider, roles_sink TO scaler_operator;
CREATE SCHEMA roles_p;
IMPORT FOREIGN SCHEMA p LIMIT TO (meters, consumption) FROM SERVER roles_provider INTO roles_p;
GRANT USAGE ON SCHEMA roles_p TO scaler_operator;
GRANT SELECT ON ALL TABLES IN SCHEMA roles_p TO scaler_operator;
\! curl -s -o /dev/null -X POST "$SANDBOX_URL/_reset"

-- the administrator maps meters and configures the sync
SET ROLE roles_admin;
SELECT external_meter_id, scaler_meter_id FROM scaler.map_meter('roles_provider', 'M00001', '5001');
SELECT provider_server, history_start FROM scaler.configure_sync('roles_provider', 'roles_p.meters',
  'roles_p.consumption', 'roles_sink', history_start => '2025-03-01');
CREATE SERVER roles_admin_server FOREIGN DATA WRAPPER scaler_fdw OPTIONS (base_url 'http://127.0.0.1:9');
DROP SERVER roles_admin_server;
RESET ROLE;

-- the operator runs syncs and checks, and reads status; no mapping changes
SET ROLE roles_dba;
SELECT status, meters, new, delivered FROM scaler.sync('roles_provider');
SELECT external_meter_id, staged, pending, delivered FROM scaler.sync_status;
SELECT count(*) FROM scaler.check_connection('roles_provider') WHERE status = 'ok';
SELECT scaler.map_meter('roles_provider', 'M00002', '5002');
SELECT scaler.configure_sync('roles_provider', lookback => '1 day');
UPDATE scaler.meter_mapping SET scaler_meter_id = '5003';
CREATE SERVER roles_dba_server FOREIGN DATA WRAPPER scaler_fdw OPTIONS (base_url 'http://127.0.0.1:9');
RESET ROLE;

-- the reader reads status and mappings; it runs nothing
SET ROLE roles_bi;
SELECT provider_server, status, meters, delivered FROM scaler.sync_run;
SELECT external_meter_id, scaler_meter_id FROM scaler.meter_mapping;
SELECT scaler.sync('roles_provider');
SELECT * FROM scaler.check_connection('roles_provider');
SELECT scaler.retry_dead_letters('roles_provider');
DELETE FROM scaler.sync_run;
RESET ROLE;
-- nothing was done on the refused attempts
SELECT count(*) AS runs FROM scaler.sync_run;

-- a role in none of them
CREATE ROLE roles_nobody LOGIN;
SET ROLE roles_nobody;
SELECT count(*) FROM scaler.sync_status;
RESET ROLE;

DROP SCHEMA roles_p CASCADE;
DELETE FROM scaler.sync_server;
TRUNCATE scaler.sync_run, scaler.sync_outbox, scaler.sync_batch, scaler.sync_attempt,
  scaler.sync_quarantine, scaler.sync_dead_letter, scaler.sync_meter_state;
DELETE FROM scaler.meter_mapping;
DROP SERVER roles_provider, roles_sink CASCADE;
DROP ROLE roles_bi, roles_dba, roles_admin, roles_nobody;
