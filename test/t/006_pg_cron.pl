# A sync scheduled by real pg_cron (Debian's postgresql-15-cron, preloaded
# with scaler_fdw): the job runs scaler.sync() and the readings reach the
# Scaler sandbox; scaler.sync_progress shows a pass while it runs.
use strict;
use warnings;

use JSON::PP;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use IPC::Run;
use Time::HiRes qw(usleep);
use FindBin;
use lib $FindBin::RealBin;
use TestServers;

my $provider = $ENV{PROVIDER_URL} or plan skip_all => 'PROVIDER_URL is not set';
my $sandbox = $ENV{SANDBOX_URL} or plan skip_all => 'SANDBOX_URL is not set';

my $node = PostgreSQL::Test::Cluster->new('cron');
$node->init;
$node->append_conf('postgresql.conf', q{
shared_preload_libraries = 'pg_cron,scaler_fdw'
cron.database_name = 'postgres'
cron.use_background_workers = on
max_worker_processes = 16
});
$node->start;

$node->safe_psql('postgres', qq{
	CREATE EXTENSION pg_cron;
	CREATE EXTENSION scaler_fdw CASCADE;
	CREATE SERVER prov FOREIGN DATA WRAPPER scaler_fdw
	  OPTIONS (provider 'generic', base_url '$provider/run=tap_cron');
	CREATE USER MAPPING FOR CURRENT_USER SERVER prov;
	CREATE SCHEMA p;
	IMPORT FOREIGN SCHEMA p LIMIT TO (meters, consumption) FROM SERVER prov INTO p;
	CREATE SERVER sink FOREIGN DATA WRAPPER scaler_fdw OPTIONS (provider 'scaler', base_url '$sandbox/v1');
	CREATE USER MAPPING FOR CURRENT_USER SERVER sink OPTIONS (token 'scaler-tok-4d0e');
	INSERT INTO scaler.meter_mapping (provider_server, external_meter_id, scaler_meter_id)
	SELECT 'prov', format('M%s', lpad(n::text, 5, '0')), (5000 + n)::text FROM generate_series(1, 12) n;
	SELECT scaler.configure_sync('prov', 'p.meters', 'p.consumption', 'sink',
	                             history_start => '2025-01-01', batch_size => 100);
});
http('POST', "$sandbox/_reset");

# live progress: a pass slowed down by the sink shows in scaler.sync_progress
http('POST', "$sandbox/_control", '{"delay_ms": 150}');
my ($out, $err) = ('', '');
my $h = IPC::Run::start(
	[ 'psql', '-X', '-At', '-d', $node->connstr('postgres'), '-c', q{SELECT status FROM scaler.sync('prov')} ],
	'>', \$out, '2>', \$err);
ok($node->poll_query_until('postgres',
		q{SELECT phase = 'delivering' AND readings_delivered > 0 AND meters_done = 12
		    FROM scaler.sync_progress WHERE provider_server = 'prov'}),
	'sync_progress shows a running pass, its phase and counts');
$h->finish;
is($out, "ok\n", 'the watched pass finished');
is($node->safe_psql('postgres', q{SELECT count(*) FROM scaler.sync_progress}), '0',
	'a finished pass leaves no progress row');
http('POST', "$sandbox/_control", '{"delay_ms": 0}');

# pg_cron: a job every minute (pg_cron 1.4's finest schedule) runs a pass;
# the corrected reading it finds goes to the sink
http('POST', "$provider/run=tap_cron/_corrections",
	encode_json({ corrections => [ { meter_id => 'M00001',
			interval_start => '2025-03-31T00:00:00+00:00', consumption => '42.5' } ] }));
$node->safe_psql('postgres', q{SELECT cron.schedule('scaler-sync', '* * * * *', $$SELECT scaler.sync('prov')$$)});
ok($node->poll_query_until('postgres',
		q{SELECT count(*) > 0 FROM cron.job_run_details WHERE status = 'succeeded'}, 't'),
	'pg_cron ran the scheduled sync');
is($node->safe_psql('postgres',
		q{SELECT status || ' ' || changed || ' ' || delivered FROM scaler.sync_run ORDER BY run_id DESC LIMIT 1}),
	'ok 1 1', 'the scheduled pass found the correction and delivered it');
my ($fixed) = grep { $_->{period_start} eq '2025-03-31T00:00:00+00:00' }
	@{ http('GET', "$sandbox/_stored?meter_id=5001")->{readings} };
is($fixed->{value}, 42.5, 'the sink holds the corrected value');
$node->safe_psql('postgres', q{SELECT cron.unschedule('scaler-sync')});
http('DELETE', "$provider/run=tap_cron/_corrections");

$node->stop;
done_testing();
