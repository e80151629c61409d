# Preparation as the roles run it, over real connections: an operator's own
# user mapping and credentials checked by scaler.check_connection, the
# readiness report's jsonb form read by a tool, and a login role outside the
# predefined roles refused before anything is done.
use strict;
use warnings;

use JSON::PP;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;

my $provider = $ENV{PROVIDER_URL} or plan skip_all => 'PROVIDER_URL is not set';

my $node = PostgreSQL::Test::Cluster->new('readiness');
$node->init;
$node->start;

$node->safe_psql('postgres', qq{
	CREATE EXTENSION scaler_fdw CASCADE;
	CREATE ROLE etl LOGIN IN ROLE scaler_operator;
	CREATE ROLE tool LOGIN IN ROLE scaler_operator;
	CREATE ROLE guest LOGIN;
	CREATE SERVER utility FOREIGN DATA WRAPPER scaler_fdw
	  OPTIONS (provider 'generic', base_url '$provider/auth=bearer', auth 'bearer');
	GRANT USAGE ON FOREIGN SERVER utility TO scaler_operator, guest;
	CREATE USER MAPPING FOR etl SERVER utility OPTIONS (token 'tok-9b81c4');
	CREATE USER MAPPING FOR tool SERVER utility OPTIONS (token 'tok-9b81c4');
	CREATE USER MAPPING FOR guest SERVER utility OPTIONS (token 'tok-9b81c4');
});

# each session connects as its role, as a scheduler or a tool would
my $checks = $node->safe_psql('postgres',
	q{SELECT string_agg(check_name || coalesce(':' || table_name, '') || '=' || status, ' ' ORDER BY check_name, table_name)
	    FROM scaler.check_connection('utility')},
	extra_params => [ '-U', 'etl' ]);
unlike($checks, qr/=failed/, "the operator's check passes with its own credentials ($checks)");
like($checks, qr/auth=ok/, 'authentication checked');
like($checks, qr/endpoint:consumption=ok/, 'each table checked');

$node->safe_psql('postgres', q{ALTER USER MAPPING FOR etl SERVER utility OPTIONS (SET token 'expired')});
$checks = $node->safe_psql('postgres',
	q{SELECT string_agg(check_name || '=' || status, ' ' ORDER BY check_name)
	    FROM scaler.check_connection('utility')},
	extra_params => [ '-U', 'etl' ]);
is($checks, 'auth=failed endpoint=skipped endpoint=skipped endpoint=skipped',
	'wrong credentials: authentication fails, the rest is skipped, and no error is raised');

my $doc = decode_json($node->safe_psql('postgres',
	q{SELECT scaler.readiness_report_json('utility', 3)}, extra_params => [ '-U', 'tool' ]));
is_deeply([ sort keys %$doc ],
	[ 'API protocol', 'asset information', 'authentication', 'consumption data',
	  'data access capabilities', 'environment access', 'granularity', 'meter information',
	  'rate limiting and quotas', 'sync budget', 'units' ],
	'the jsonb form has every checklist heading');
my ($median) = grep { $_->{item} eq 'median period' } @{ $doc->{granularity} };
is($median->{value}, '1 day', 'granularity observed: daily readings');
ok(!grep({ $_->{status} eq 'problem' } map { @$_ } values %$doc), 'a healthy provider shows no problem');

my ($rc, $out, $err) = $node->psql('postgres', q{SELECT * FROM scaler.check_connection('utility')},
	extra_params => [ '-U', 'guest' ]);
isnt($rc, 0, 'a role outside the predefined roles is refused');
like($err, qr/permission denied for function check_connection/, 'with a clear permission error');

$node->stop;
done_testing();
