#!/usr/bin/perl
# Writes a small MaxMind DB file for the tests (Debian's
# libmaxmind-db-writer-perl):
#   mkmmdb.pl OUT SHAPE CIDR=CODE...
# SHAPE: "country_code" ({"country_code": "US"}, as @ip-location-db's
# files), "iso_code" ({"country": {"iso_code": "US"}}, as GeoLite2 and
# DB-IP), or "none" (records without a country).  IPv4 networks are also
# reachable as IPv4-mapped IPv6, as in the real files.
use strict;
use warnings;
use MaxMind::DB::Writer::Tree;

my ($out, $shape, @nets) = @ARGV;
die "usage: mkmmdb.pl OUT country_code|iso_code|none CIDR=CODE...\n" unless $out && $shape;
my %types = (country_code => 'utf8_string', country => 'map', iso_code => 'utf8_string',
	     name => 'utf8_string');
my $tree = MaxMind::DB::Writer::Tree->new(
	ip_version => 6,
	record_size => 24,
	database_type => "picosnitch-test-$shape",
	languages => ['en'],
	description => { en => 'picosnitch test data' },
	alias_ipv6_to_ipv4 => 1,
	map_key_type_callback => sub { $types{ $_[0] } },
);
for my $n (@nets) {
	my ($cidr, $code) = split /=/, $n, 2;
	my $rec = $shape eq 'country_code' ? { country_code => $code }
		: $shape eq 'iso_code' ? { country => { iso_code => $code } }
		: { name => $code };
	$tree->insert_network($cidr, $rec);
}
open my $fh, '>:raw', $out or die "$out: $!\n";
$tree->write_tree($fh);
close $fh or die "$out: $!\n";
