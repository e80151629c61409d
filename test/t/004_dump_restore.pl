# Mappings are users' data kept inside the extension: pg_dump writes them and
# pg_restore brings every one back, with the user-added fuel one of them uses
# and the server they name, into a fresh database.
use strict;
use warnings;

use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;

my $node = PostgreSQL::Test::Cluster->new('dump');
$node->init;
$node->start;

$node->safe_psql('postgres', q{
	CREATE DATABASE source;
	CREATE DATABASE restored;
});
$node->safe_psql('source', q{
	CREATE EXTENSION scaler_fdw CASCADE;
	CREATE SERVER utility FOREIGN DATA WRAPPER scaler_fdw OPTIONS (base_url 'http://127.0.0.1:9/');
	INSERT INTO scaler.fuel (fuel, description) VALUES ('biogas_local', 'site biogas');
	SELECT scaler.map_meter('utility', 'E-1', 'SCL-1', valid_to => '2024-12-31', target_unit => 'kWh');
	SELECT scaler.map_meter('utility', 'G-1', 'SCL-2', valid_from => '2024-01-01', fuel => 'biogas_local',
	                        calorific_value => 21.5, calorific_value_unit => 'MJ/m3');
	SELECT scaler.map_meter('utility', 'E-2', 'SCL-1', valid_from => '2025-01-01');
	SELECT scaler.map_asset('utility', 'B-1', 'SCL-A-1', note => 'HQ');
	-- a Scaler catalog loaded after E-1 was mapped, without E-1's Scaler meter
	CREATE TABLE listed_meters (meter_id text, asset_id text, name text, resource text, unit text,
	                            meter_code text);
	INSERT INTO listed_meters VALUES ('SCL-2', 'SCL-A-1', 'gas', 'gas', 'm3', 'G'),
	                                 ('SCL-3', 'SCL-A-1', 'water', 'water', 'm3', 'W');
	SELECT scaler.refresh_scaler_catalog('listed_meters');
});

my $rows = q{
	SELECT string_agg(format('%s|%s|%s|%s|%s|%s|%s|%s|%s', provider_server, external_meter_id,
	                         scaler_meter_id, validity, target_unit, fuel, calorific_value,
	                         calorific_value_unit, mapped_by), E'\n' ORDER BY mapping_id)
	  FROM scaler.meter_mapping
	UNION ALL
	SELECT string_agg(format('%s|%s|%s|%s|%s', provider_server, external_asset_id, scaler_asset_id,
	                         validity, note), E'\n' ORDER BY mapping_id)
	  FROM scaler.asset_mapping
};
my $before = $node->safe_psql('source', $rows);

my $dump = $node->basedir . '/source.dump';
$node->command_ok([ 'pg_dump', '-Fc', '-f', $dump, '-d', $node->connstr('source') ],
	'pg_dump writes the database');
my ($stdout, $stderr);
my $ok = $node->run_log([ 'pg_restore', '--exit-on-error', '-d', $node->connstr('restored'), $dump ]);
ok($ok, 'pg_restore restores it without an error');

my $after = $node->safe_psql('restored', $rows);
is($after, $before, 'every mapping comes back as it was');
like($before, qr/biogas_local/, 'a mapping uses a user-added fuel');

is($node->safe_psql('restored', 'SELECT count(*) FROM scaler.scaler_meter'), '2',
	'the Scaler catalog comes back too');

# the identity goes on after the restored rows
my $next = $node->safe_psql('restored', q{
	SELECT (scaler.map_meter('utility', 'W-1', 'SCL-3')).mapping_id >
	       (SELECT max(mapping_id) FROM scaler.meter_mapping WHERE external_meter_id <> 'W-1')
});
is($next, 't', 'new mappings after a restore get fresh ids');

$node->stop;
done_testing();
