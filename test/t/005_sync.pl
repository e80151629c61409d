# Sync to Scaler against the provider server and the Scaler sandbox: a full
# cycle drained by delivery workers, a redelivered correction, the sink down
# and back, kill -9 of a worker and of a backend in the middle of a batch,
# two concurrent passes, the provider failing for some meters mid-pass.  The
# sink's request log must show every reading created exactly once: no
# reading sent twice as far as the sink can tell (replays of a stored
# Idempotency-Key excepted), none lost.
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

# 12 meters x 90 daily readings
my $READINGS = 1080;

# What the sink saw: readings created, updated and unchanged by answered
# (non-replayed) requests, replays, and readings stored.
sub sink
{
	my $log = http('GET', "$sandbox/_requests");
	my %s = (created => 0, updated => 0, unchanged => 0, replays => 0, requests => scalar @$log);
	for my $r (@$log)
	{
		if ($r->{replayed}) { $s{replays}++; next; }
		next unless ($r->{status} // 0) == 200;
		$s{$_} += $r->{$_} // 0 for qw(created updated unchanged);
	}
	$s{stored} = scalar @{ http('GET', "$sandbox/_stored")->{readings} };
	return \%s;
}

sub exactly_once
{
	my ($what, $expect) = @_;
	my $s = sink();
	is($s->{stored}, $expect, "$what: the sink stores every reading");
	is($s->{created}, $expect, "$what: each reading created once");
	is($s->{unchanged}, 0, "$what: no reading sent twice (replays: $s->{replays})");
	return $s;
}

my $node = PostgreSQL::Test::Cluster->new('sync');
$node->init;
$node->append_conf('postgresql.conf', qq{
shared_preload_libraries = 'scaler_fdw'
scaler_fdw.sync_database = 'workers'
scaler_fdw.delivery_workers = 2
scaler_fdw.delivery_naptime = 100ms
restart_after_crash = on
});
$node->start;

# Database "workers" is drained by the delivery workers; "postgres" only by
# sync() itself.
sub setup_db
{
	my ($db, $run, $batch) = @_;
	$node->safe_psql($db, qq{
		CREATE EXTENSION scaler_fdw CASCADE;
		CREATE SERVER prov FOREIGN DATA WRAPPER scaler_fdw
		  OPTIONS (provider 'generic', base_url '$provider/run=$run', max_retries '1',
		           profile_override '{"tables": {"consumption": {"pagination": {"size": 50}}}}');
		CREATE USER MAPPING FOR PUBLIC SERVER prov;
		CREATE SCHEMA p;
		IMPORT FOREIGN SCHEMA p LIMIT TO (meters, consumption) FROM SERVER prov INTO p;
		CREATE SERVER sink FOREIGN DATA WRAPPER scaler_fdw
		  OPTIONS (provider 'scaler', base_url '$sandbox/v1', max_retries '1', request_timeout '10s');
		CREATE USER MAPPING FOR PUBLIC SERVER sink OPTIONS (token 'scaler-tok-4d0e');
		INSERT INTO scaler.meter_mapping (provider_server, external_meter_id, scaler_meter_id)
		SELECT 'prov', format('M%s', lpad(n::text, 5, '0')), (5000 + n)::text FROM generate_series(1, 12) n;
		SELECT scaler.configure_sync('prov', 'p.meters', 'p.consumption', 'sink',
		                             history_start => '2025-01-01', batch_size => $batch);
		UPDATE scaler.sync_server SET retry_base = '200ms', retry_max = '1s';
	});
}

sub reset_sink
{
	http('POST', "$sandbox/_reset");
}

sub wait_drained
{
	my ($db, $what) = @_;
	ok($node->poll_query_until($db,
			q{SELECT count(*) = 0 FROM scaler.sync_outbox o LEFT JOIN scaler.sync_batch b USING (batch_id)
			   WHERE b.state IS DISTINCT FROM 'delivered'}),
		"$what: the outbox drains");
}

# ---- the function path: sync() stages and delivers in one transaction ----
setup_db('postgres', 'tap_fn', 100);
reset_sink();

my ($status, $fetched, $new, $delivered) = split /\|/, $node->safe_psql('postgres',
	q{SELECT status, fetched, new, delivered FROM scaler.sync('prov')});
is("$status $fetched $new $delivered", "ok $READINGS $READINGS $READINGS",
	'full cycle: every reading fetched, staged and delivered');
exactly_once('full cycle', $READINGS);

# a redelivered correction becomes an update with the next revision
http('POST', "$provider/run=tap_fn/_corrections",
	encode_json({ corrections => [ { meter_id => 'M00002',
			interval_start => '2025-03-30T00:00:00+00:00', consumption => '123.456' } ] }));
($status, my $changed, $delivered) = split /\|/, $node->safe_psql('postgres',
	q{SELECT status, changed, delivered FROM scaler.sync('prov')});
is("$status $changed $delivered", 'ok 1 1', 'a correction inside the lookback is staged and sent once');
my $stored = http('GET', "$sandbox/_stored?meter_id=5002")->{readings};
my ($fixed) = grep { $_->{period_start} eq '2025-03-30T00:00:00+00:00' } @$stored;
is("$fixed->{value} $fixed->{revision}", '123.456 2', 'the sink holds the corrected value as revision 2');
my $s = sink();
is("$s->{created} $s->{updated} $s->{unchanged}", "$READINGS 1 0", 'the correction reached the sink as one update');
http('DELETE', "$provider/run=tap_fn/_corrections");

# the sink down, then back: batches wait with their attempts recorded
$node->safe_psql('postgres', q{DELETE FROM scaler.sync_batch; DELETE FROM scaler.sync_outbox; DELETE FROM scaler.sync_meter_state;});
reset_sink();
http('POST', "$sandbox/_control", '{"fail_status": 503, "fail_count": null}');
($status, $delivered, my $failed) = split /\|/, $node->safe_psql('postgres',
	q{SELECT status, delivered, failed FROM scaler.sync('prov')});
is("$status $delivered $failed", "partial 0 $READINGS", 'sink down: nothing delivered, every reading waits');
is($node->safe_psql('postgres',
		q{SELECT count(*) FILTER (WHERE outcome = 'retry' AND http_status = 503) > 0
		         AND bool_and(outcome = 'retry') FROM scaler.sync_attempt a
		    JOIN scaler.sync_batch b USING (batch_id) WHERE b.state = 'pending'}),
	't', 'sink down: each attempt is recorded as a retry with its status');
http('POST', "$sandbox/_control", '{"fail_status": null}');
usleep(1_100_000);    # past the backoff
($status, $delivered) = split /\|/, $node->safe_psql('postgres',
	q{SELECT status, delivered FROM scaler.sync('prov')});
is("$status $delivered", "ok $READINGS", 'sink back: the waiting batches are delivered');
exactly_once('sink down and back', $READINGS);

# kill -9 of a backend while sync() waits for the sink: everything it did
# rolls back; the next pass forms the same batches, whose Idempotency-Keys
# (the SHA-256 of their readings) the sink replays instead of storing twice
$node->safe_psql('postgres', q{DELETE FROM scaler.sync_batch; DELETE FROM scaler.sync_outbox; DELETE FROM scaler.sync_meter_state;});
reset_sink();
http('POST', "$sandbox/_control", '{"delay_ms": 400}');
my ($out, $err) = ('', '');
my $h = IPC::Run::start(
	[ 'psql', '-X', '-At', '-d', $node->connstr('postgres'), '-c', q{SELECT status FROM scaler.sync('prov')} ],
	'>', \$out, '2>', \$err);
ok(poll_until(sub { sink()->{created} >= 300 }), 'kill -9 backend: some batches reached the sink');
my $pid = $node->safe_psql('postgres',
	q{SELECT pid FROM pg_stat_activity WHERE query LIKE '%scaler.sync(%' AND pid <> pg_backend_pid()});
kill 'KILL', $pid;
$h->finish;
$node->poll_query_until('postgres', 'SELECT true') or die 'the server did not come back';
http('POST', "$sandbox/_control", '{"delay_ms": 0}');
usleep(500_000);    # the sink finishes the request it was given before the kill
is($node->safe_psql('postgres', q{SELECT count(*) FROM scaler.sync_outbox}), '0',
	'kill -9 backend: the pass rolled back');
($status, $delivered) = split /\|/, $node->safe_psql('postgres',
	q{SELECT status, delivered FROM scaler.sync('prov')});
is("$status $delivered", "ok $READINGS", 'kill -9 backend: the next pass delivers');
$s = exactly_once('kill -9 backend', $READINGS);
cmp_ok($s->{replays}, '>=', 1, 'kill -9 backend: batches sent before the kill were replayed by the sink');

# two concurrent passes of one server: the second returns at once
$node->safe_psql('postgres', q{DELETE FROM scaler.sync_batch; DELETE FROM scaler.sync_outbox; DELETE FROM scaler.sync_meter_state;});
reset_sink();
http('POST', "$sandbox/_control", '{"delay_ms": 200}');
my @runs;
for my $i (1 .. 2)
{
	my %r = (out => '', err => '');
	$r{h} = IPC::Run::start(
		[ 'psql', '-X', '-At', '-d', $node->connstr('postgres'), '-c',
		  q{SELECT status, delivered FROM scaler.sync('prov')} ],
		'>', \$r{out}, '2>', \$r{err});
	push @runs, \%r;
	usleep(300_000);
}
$_->{h}->finish for @runs;
is(join(',', sort map { $_->{out} =~ s/\n//r } @runs), "ok|$READINGS,skipped|0",
	'two concurrent passes: one delivers, the other is skipped');
http('POST', "$sandbox/_control", '{"delay_ms": 0}');
exactly_once('two concurrent passes', $READINGS);

# the provider failing for two meters from their second page on: the others
# are staged; theirs roll back and their watermarks stay where they were
$node->safe_psql('postgres', q{DELETE FROM scaler.sync_batch; DELETE FROM scaler.sync_outbox; DELETE FROM scaler.sync_meter_state;});
reset_sink();
http('POST', "$provider/run=tap_fn/_meter_faults", '{"meter_ids": ["M00003", "M00007"], "status": 502, "from_page": 2}');
my ($errors, $msg);
($status, $errors, $new) = split /\|/, $node->safe_psql('postgres',
	q{SELECT status, meter_errors, new FROM scaler.sync('prov')});
is("$status $errors $new", 'partial 2 ' . ($READINGS - 180), 'failing meters: the other ten are staged');
is($node->safe_psql('postgres',
		q{SELECT string_agg(external_meter_id || ':' || coalesce(watermark::text, 'none') || ':' || staged, ',' ORDER BY 1)
		    FROM scaler.sync_status WHERE last_error LIKE '%502%'}),
	'M00003:none:0,M00007:none:0', 'failing meters: nothing of theirs staged, watermarks unmoved');
http('DELETE', "$provider/run=tap_fn/_meter_faults");
($status, $new) = split /\|/, $node->safe_psql('postgres', q{SELECT status, new FROM scaler.sync('prov')});
is("$status $new", 'ok 180', 'failing meters: staged once the provider recovers');
exactly_once('failing meters', $READINGS);

# ---- delivery workers: sync(deliver => false) stages, two workers drain ----
$node->safe_psql('postgres', 'CREATE DATABASE workers');
setup_db('workers', 'tap_worker', 20);
reset_sink();
ok($node->poll_query_until('postgres',
		q{SELECT count(*) = 2 FROM pg_stat_activity WHERE backend_type = 'scaler_fdw delivery worker'
		   AND datname = 'workers' AND application_name LIKE 'scaler_fdw delivery worker _'}),
	'two delivery workers are running, visible in pg_stat_activity');
http('POST', "$sandbox/_control", '{"delay_ms": 30}');
($status, $new, $delivered) = split /\|/, $node->safe_psql('workers',
	q{SELECT status, new, delivered FROM scaler.sync('prov', deliver => false)});
is("$status $new $delivered", "ok $READINGS 0", 'workers: the pass stages without delivering');
wait_drained('workers', 'workers');
exactly_once('workers', $READINGS);
is($node->safe_psql('workers', q{SELECT count(DISTINCT pid) FROM scaler.sync_attempt}), '2',
	'workers: both workers delivered batches side by side');

# kill -9 of a delivery worker in the middle of a batch: the postmaster
# restarts everything; the batch is sent again with the same body and key
reset_sink();
$node->safe_psql('workers', q{DELETE FROM scaler.sync_attempt; DELETE FROM scaler.sync_batch;
	DELETE FROM scaler.sync_outbox; DELETE FROM scaler.sync_meter_state;});
http('POST', "$sandbox/_control", '{"delay_ms": 600}');
$node->safe_psql('workers', q{SELECT scaler.sync('prov', deliver => false)});
ok(poll_until(sub { sink()->{created} >= 20 }), 'kill -9 worker: batches are reaching the sink');
$pid = $node->safe_psql('workers',
	q{SELECT pid FROM pg_stat_activity WHERE backend_type = 'scaler_fdw delivery worker'
	   AND query LIKE '%sync_send_batch%' AND state = 'active' LIMIT 1});
ok($pid =~ /^\d+$/, 'kill -9 worker: a worker is sending a batch');
kill 'KILL', $pid;
usleep(500_000);
$node->poll_query_until('workers', 'SELECT true') or die 'the server did not come back';
http('POST', "$sandbox/_control", '{"delay_ms": 0}');
wait_drained('workers', 'kill -9 worker');
$s = exactly_once('kill -9 worker', $READINGS);
is($node->safe_psql('workers',
		q{SELECT count(*) FROM scaler.sync_batch WHERE state = 'delivered'}),
	$READINGS / 20, 'kill -9 worker: every batch delivered, none formed twice');

$node->stop;
done_testing();

sub poll_until
{
	my ($cond) = @_;
	for (1 .. 300)
	{
		return 1 if $cond->();
		usleep(100_000);
	}
	return 0;
}
