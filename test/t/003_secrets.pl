# Credentials from user mappings never appear in error messages, EXPLAIN
# output or the server log, whatever fails and however the provider echoes
# them back (next-page URLs here carry the API key).  Statement logging is
# off: a CREATE USER MAPPING statement in the log is PostgreSQL's doing, and
# no log_statement setting is safe for credentials.
use strict;
use warnings;

use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use HTTP::Tiny;
use JSON::PP;

my $provider = $ENV{PROVIDER_URL} or plan skip_all => 'PROVIDER_URL is not set';
my @secrets = qw(tok-9b81c4 pw-51d2e8 key-7f3a9c tok-wrong-0000 pw-wrong-0000 cs-2e6d0a);

my $node = PostgreSQL::Test::Cluster->new('secrets');
$node->init;
$node->append_conf('postgresql.conf', qq{
log_min_messages = debug1
log_error_verbosity = verbose
log_min_error_statement = error
log_statement = none
});
$node->start;

$node->safe_psql('postgres', qq{
	CREATE EXTENSION scaler_fdw CASCADE;
	CREATE SERVER p_bearer FOREIGN DATA WRAPPER scaler_fdw
	  OPTIONS (base_url '$provider', auth 'bearer', max_retries '1', max_retry_wait '100ms');
	CREATE USER MAPPING FOR CURRENT_USER SERVER p_bearer OPTIONS (token 'tok-9b81c4');
	CREATE SERVER p_basic FOREIGN DATA WRAPPER scaler_fdw
	  OPTIONS (base_url '$provider', auth 'basic', max_retries '0');
	CREATE USER MAPPING FOR CURRENT_USER SERVER p_basic
	  OPTIONS (username 'demo-user', password 'pw-51d2e8');
	CREATE SERVER p_query FOREIGN DATA WRAPPER scaler_fdw
	  OPTIONS (base_url '$provider', auth 'api_key', api_key_in 'query', api_key_name 'api_key',
	           max_retries '0');
	CREATE USER MAPPING FOR CURRENT_USER SERVER p_query OPTIONS (api_key 'key-7f3a9c');
	CREATE SERVER p_header FOREIGN DATA WRAPPER scaler_fdw
	  OPTIONS (base_url '$provider', auth 'api_key', max_retries '0');
	CREATE USER MAPPING FOR CURRENT_USER SERVER p_header OPTIONS (api_key 'key-7f3a9c');
	CREATE SERVER p_oauth FOREIGN DATA WRAPPER scaler_fdw
	  OPTIONS (base_url '$provider/run=secrets_oauth/auth=oauth_cc', max_retries '0',
	           profile '{"auth": {"type": "oauth2", "token_url": "/oauth/token"},
	                     "tables": {"m": {"request": {"path": "/meters"}, "records": "results",
	                                      "fields": {"meter_id": "meter_id"}}}}');
	CREATE USER MAPPING FOR CURRENT_USER SERVER p_oauth
	  OPTIONS (client_id 'client-1', client_secret 'cs-2e6d0a');
});

my @tables = (
	[ p_bearer => '/auth=bearer/meters' ],
	[ p_bearer => '/auth=bearer/fault=500/meters' ],
	[ p_bearer => '/auth=bearer/fault=reset/meters' ],
	[ p_bearer => '/auth=bearer/fault=malformed/consumption' ],
	[ p_bearer => '/auth=bearer/fault=wrongtype/consumption' ],
	[ p_bearer => '/auth=bearer/fault=redirect/to=file/meters' ],
	[ p_basic  => '/auth=basic/meters' ],
	[ p_basic  => '/auth=basic/fault=429/meters' ],
	[ p_query  => '/auth=query/meters?page_size=2' ],
	[ p_query  => '/auth=query/fault=503/meters' ],
	[ p_header => '/auth=header/meters' ],
	[ p_header => '/auth=header/consumptions' ],
	[ p_oauth  => '/meters' ],
	[ p_oauth  => '/fault=500/meters' ],
	[ p_oauth  => '/fault=malformed/meters' ],
);

my $all = '';
my $i = 0;
for my $t (@tables)
{
	my ($server, $endpoint) = @$t;
	$i++;
	$node->safe_psql('postgres', qq{
		CREATE FOREIGN TABLE t$i (meter_id text, value numeric OPTIONS (json_path 'consumption'),
		                          period_start timestamptz OPTIONS (json_path 'interval_start'))
		  SERVER $server OPTIONS (endpoint '$endpoint', records_path 'results',
		                          pagination 'next_url', max_pages '2');
	});
	for my $sql ("SELECT * FROM t$i",
				 "EXPLAIN (VERBOSE) SELECT * FROM t$i",
				 "EXPLAIN (ANALYZE, VERBOSE) SELECT * FROM t$i")
	{
		my ($ret, $out, $err) = $node->psql('postgres', $sql, extra_params => [ '-v', 'VERBOSITY=verbose' ]);
		$all .= "$out\n$err\n";
	}
}

# Wrong credentials, echoed back or not.
$node->safe_psql('postgres', q{
	ALTER USER MAPPING FOR CURRENT_USER SERVER p_bearer OPTIONS (SET token 'tok-wrong-0000');
	ALTER USER MAPPING FOR CURRENT_USER SERVER p_basic OPTIONS (SET password 'pw-wrong-0000');
	ALTER USER MAPPING FOR CURRENT_USER SERVER p_query OPTIONS (SET api_key 'key/wrong:0000');
});
for my $n (1, 7, 9)
{
	my ($ret, $out, $err) = $node->psql('postgres', "SELECT * FROM t$n",
		extra_params => [ '-v', 'VERBOSITY=verbose' ]);
	$all .= "$out\n$err\n";
}

like($all, qr/HTTP 401/, 'wrong credentials were refused by the provider');
like($all, qr/max_pages \(2\)/, 'a message quoting a next-page URL was produced');
like($all, qr/api_key=\*\*\*/, 'the API key in a next-page URL is shown as ***');
like($all, qr/"received":"\*\*\*"/, 'a wrong API key echoed percent-encoded in lower case is shown as ***');
push @secrets, 'key/wrong:0000', 'key%2Fwrong%3A0000', 'key%2fwrong%3a0000';

# The access tokens the provider issued are secrets too: collect them from its log.
my $response = HTTP::Tiny->new->get("$provider/_requests?run=secrets_oauth");
ok($response->{success}, 'the provider request log is readable');
my %tokens;
for my $entry (@{ decode_json($response->{content}) })
{
	my $auth = $entry->{headers}{authorization} // '';
	$tokens{$1} = 1 if $auth =~ /^Bearer (\S+)/;
}
ok(scalar(keys %tokens) > 0, 'OAuth2 access tokens were issued and used');

my $log = slurp_file($node->logfile);
my @labelled = ((map { [ $_, $_ ] } @secrets), (map { [ 'an issued access token', $_ ] } sort keys %tokens));
for my $s (@labelled)
{
	my ($label, $secret) = @$s;

	unlike($all, qr/\Q$secret\E/, "$label is in no error message or EXPLAIN output");
	unlike($log, qr/\Q$secret\E/, "$label is not in the server log");
}

$node->stop;
done_testing();
