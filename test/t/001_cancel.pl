# pg_cancel_backend and statement_timeout end a query promptly while the
# provider stalls in the middle of a body, or before sending anything.
use strict;
use warnings;

use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use Time::HiRes qw(time usleep);
use IPC::Run;

my $provider = $ENV{PROVIDER_URL} or plan skip_all => 'PROVIDER_URL is not set';

my $node = PostgreSQL::Test::Cluster->new('cancel');
$node->init;
$node->start;

$node->safe_psql('postgres', qq{
	CREATE EXTENSION scaler_fdw CASCADE;
	CREATE SERVER provider FOREIGN DATA WRAPPER scaler_fdw OPTIONS (base_url '$provider');
	CREATE FOREIGN TABLE stalled (meter_id text) SERVER provider
	  OPTIONS (endpoint '/fault=stall/stall=60/consumption', records_path 'results');
	CREATE FOREIGN TABLE silent (meter_id text) SERVER provider
	  OPTIONS (endpoint '/fault=stallhead/stall=60/consumption', records_path 'results');
	-- HTTP 503 with Retry-After: 30, so the backend sits in a backoff wait
	CREATE SERVER throttled FOREIGN DATA WRAPPER scaler_fdw
	  OPTIONS (base_url '$provider', max_retry_wait '60s');
	CREATE FOREIGN TABLE backoff (meter_id text) SERVER throttled
	  OPTIONS (endpoint '/fault=503/retry=30/consumption', records_path 'results');
});

# Start a query in its own psql, wait until its backend is waiting on the
# provider, cancel it, and return how long the cancel took to end it.
sub cancel_during
{
	my ($table, $how) = @_;
	my ($out, $err) = ('', '');
	my $app = "cancel_$table";
	my $h = IPC::Run::start(
		[ 'psql', '-X', '-d', $node->connstr('postgres'), '-c',
		  "SET application_name = '$app'; SELECT count(*) FROM $table" ],
		'>', \$out, '2>', \$err);

	my $pid;
	for (1 .. 200)
	{
		$pid = $node->safe_psql('postgres', qq{
			SELECT pid FROM pg_stat_activity
			 WHERE application_name = '$app' AND state = 'active'
			   AND wait_event = 'Extension'});
		last if $pid;
		usleep(50_000);
	}
	ok($pid, "$table: backend is waiting on the provider (wait_event Extension)");
	usleep(300_000);

	my $start = time;
	if ($how eq 'cancel')
	{
		$node->safe_psql('postgres', "SELECT pg_cancel_backend($pid)");
	}
	else
	{
		$node->safe_psql('postgres', "SELECT pg_terminate_backend($pid)");
	}
	$h->finish;
	my $elapsed = time - $start;
	return ($elapsed, $err);
}

for my $table (qw(stalled silent backoff))
{
	my ($elapsed, $err) = cancel_during($table, 'cancel');
	like($err, qr/canceling statement due to user request/, "$table: query was canceled");
	cmp_ok($elapsed, '<', 1.0, "$table: cancel ended the query within 1 s (took ${elapsed}s)");
}

my ($elapsed, $err) = cancel_during('stalled', 'terminate');
like($err, qr/terminating connection due to administrator command/, 'terminate ends the backend');
cmp_ok($elapsed, '<', 1.0, "terminate ended the query within 1 s (took ${elapsed}s)");

# statement_timeout during a stalled body
my $start = time;
my ($ret, $stdout, $stderr) = $node->psql('postgres',
	"SET statement_timeout = '400ms'; SELECT count(*) FROM stalled");
my $took = time - $start;
like($stderr, qr/canceling statement due to statement timeout/, 'statement_timeout fires');
cmp_ok($took, '<', 1.4, "statement_timeout ended the query within 1 s of firing (took ${took}s)");

# the server is healthy afterwards
is($node->safe_psql('postgres', 'SELECT 1'), '1', 'server still accepts queries');

$node->stop;
done_testing();
