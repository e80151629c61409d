# Talking to the test servers' control endpoints from TAP tests.
package TestServers;

use strict;
use warnings;

use Exporter 'import';
use IPC::Run;
use JSON::PP;

our @EXPORT = qw(http);

# http(METHOD, URL [, JSON body]): the decoded JSON answer, or undef for an
# empty one.  curl, as the TAP machines have it (test/setup.sh).
sub http
{
	my ($method, $url, $body) = @_;
	my @cmd = ('curl', '-s', '--max-time', '30', '-X', $method, $url);
	push @cmd, ('-H', 'Content-Type: application/json', '-d', $body) if defined $body;
	my $out = '';
	IPC::Run::run(\@cmd, '>', \$out) or die "curl $method $url failed";
	return $out eq '' ? undef : decode_json($out);
}

1;
