# With scaler_fdw in shared_preload_libraries, every backend draws from one
# request budget per server: two backends scanning at once never make the
# provider see more than the rate plus the burst in any one second.
use strict;
use warnings;

use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use IPC::Run;

my $provider = $ENV{PROVIDER_URL} or plan skip_all => 'PROVIDER_URL is not set';
my ($rate, $burst) = (20, 5);

my $node = PostgreSQL::Test::Cluster->new('budget');
$node->init;
$node->append_conf('postgresql.conf', "shared_preload_libraries = 'scaler_fdw'");
$node->start;

# 1080 readings, 36 a page: 30 requests per scan
$node->safe_psql('postgres', qq{
	CREATE EXTENSION scaler_fdw CASCADE;
	CREATE SERVER provider FOREIGN DATA WRAPPER scaler_fdw
	  OPTIONS (base_url '$provider', rate_limit '$rate', rate_burst '$burst');
	CREATE FOREIGN TABLE c (meter_id text) SERVER provider
	  OPTIONS (endpoint '/run=budget/consumption?page_size=36', records_path 'results',
	           pagination 'next_url');
	CREATE SERVER control FOREIGN DATA WRAPPER scaler_fdw OPTIONS (base_url '$provider');
	CREATE FOREIGN TABLE budget_stats (requests int, max_per_second int) SERVER control
	  OPTIONS (endpoint '/_stats', records_path 'runs.budget');
});

my @runs;
for my $i (1 .. 2)
{
	my %r = (out => '', err => '');
	$r{h} = IPC::Run::start(
		[ 'psql', '-X', '-At', '-d', $node->connstr('postgres'), '-c', 'SELECT count(*) FROM c' ],
		'>', \$r{out}, '2>', \$r{err});
	push @runs, \%r;
}
for my $r (@runs)
{
	$r->{h}->finish;
	is($r->{out}, "1080\n", 'each concurrent scan returns every row');
	unlike($r->{err}, qr/per backend/, 'no per-backend NOTICE when preloaded');
}

my ($requests, $max) = split /\|/, $node->safe_psql('postgres',
	'SELECT requests, max_per_second FROM budget_stats');
is($requests, 60, 'the provider saw 30 requests from each backend');
cmp_ok($max, '<=', $rate + $burst,
	"at most rate + burst ($rate + $burst) requests in any one second (saw $max)");
cmp_ok($max, '>=', $rate / 2, "the budget was used, not starved (saw $max in the busiest second)");

$node->stop;
done_testing();
