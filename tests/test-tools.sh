#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
#
# The command line of every tool (tools/common/args.h), from the outside:
#   - --help exits 0 and lists every long option the tool accepts: the list
#     is read from the tool's option table in its source (struct tool_opt
#     opts[]), so a new option is checked without touching this test, and
#     each of them must be accepted (getopt knows it);
#   - --version exits 0 and prints "<tool> (grantmem) <version>";
#   - an unknown option and a bad number exit 2 with a message that names
#     the option (and, for numbers, the accepted range);
#   - grantmem-domain: a --domid outside 0..GM_DOMID_MAX is a usage error
#     about --domid (not about a world spec nobody typed), --domid is
#     required, --pages 0 and 4x are refused;
#   - grantmem-vdev: an unknown command exits 2, --type "Bad Type" says which
#     characters a type may have;
#   - grantmem-net --mac takes exactly xx:xx:xx:xx:xx:xx, unicast;
#   - grantmem-xen-emu --ready-fd abc, grantmem-bench --only nosuch (naming
#     the groups) exit 2.
# Nothing here starts a hub or touches Xen: every case ends while parsing.
set -u

top_srcdir=${top_srcdir:-.}
top_builddir=${top_builddir:-.}
S=$(cd "$top_srcdir" && pwd) || exit 99
B=$(cd "$top_builddir" && pwd) || exit 99
tools="grantmem-blk grantmem-guest grantmem-vdev grantmem-domain grantmem-xen-emu
	grantmem-net grantmem-netguest
	grantmem-scenario grantmem-bench"

version=$(sed -n 's/^#define PACKAGE_VERSION "\(.*\)"$/\1/p' "$B/config.h")
[ -n "$version" ] || { echo "no PACKAGE_VERSION in $B/config.h"; exit 99; }
# GM_DOMID_MAX as xen.h defines it (0x7fefu): the largest domid
domid_max=$(sed -n 's/^#define GM_DOMID_MAX \(0x[0-9a-fA-F]*\)u\{0,1\}$/\1/p' \
	"$S/include/grantmem/xen.h")
[ -n "$domid_max" ] || { echo "no GM_DOMID_MAX in xen.h"; exit 99; }
domid_max=$((domid_max))

tmp=$(mktemp -d "${TMPDIR:-/tmp}/gm-tools-XXXXXX") || exit 99
trap 'rm -rf "$tmp"' EXIT
failed=0
checks=0
fail() {
	echo "FAIL: $*"
	failed=$((failed + 1))
}

# run TOOL ARGS...: $rc, $out (stdout), $err (stderr)
run() {
	local t=$1
	shift
	"$B/tools/$t" "$@" >"$tmp/out" 2>"$tmp/err" </dev/null
	rc=$?
	out=$(cat "$tmp/out")
	err=$(cat "$tmp/err")
	checks=$((checks + 1))
}

# expect_usage WHAT WANT_IN_STDERR TOOL ARGS...: exit 2, stderr has the text
expect_usage() {
	local what=$1 want=$2
	shift 2
	run "$@"
	[ "$rc" -eq 2 ] || fail "$what: exit $rc, want 2 (stderr: $err)"
	case $err in
	*"$want"*) ;;
	*) fail "$what: stderr does not say \"$want\": $err" ;;
	esac
	case $err in
	*"bad world spec"*) fail "$what: reports a world spec: $err" ;;
	esac
}

# The long options of TOOL's table: {"name", KEY, ARG|NULL, "help"} lines
# between "struct tool_opt opts[] = {" and the table's end.
table() {
	awk '
		/struct tool_opt opts\[\] = \{/ { on = 1; next }
		on && /^};/ { exit }
		on && match($0, /^[ \t]*\{"[a-z][a-z0-9-]*", [^,]*, /) {
			line = substr($0, RSTART, RLENGTH)
			name = line; sub(/^[ \t]*\{"/, "", name); sub(/".*/, "", name)
			arg = substr($0, RSTART + RLENGTH)
			print name, (arg ~ /^NULL/ ? "-" : "ARG")
		}' "$S/tools/$1.c"
}

for t in $tools; do
	[ -x "$B/tools/$t" ] || { echo "missing $B/tools/$t"; exit 99; }
	table "$t" >"$tmp/opts"
	n=$(wc -l <"$tmp/opts")
	[ "$n" -ge 2 ] || fail "$t: found only $n options in the table of tools/$t.c"

	run "$t" --help
	[ "$rc" -eq 0 ] || fail "$t --help: exit $rc"
	case $out in "usage: $t"*) ;; *) fail "$t --help: no usage line" ;; esac
	help=$out
	while read -r name arg; do
		case $help in
		*"--$name "* | *"--$name"$'\n'*) ;;
		*) fail "$t --help does not list --$name" ;;
		esac
		# getopt knows it: the unknown option after it is what fails
		if [ "$arg" = ARG ]; then
			run "$t" "--$name" 1 --no-such-option
		else
			run "$t" "--$name" --no-such-option
		fi
		case $err in
		*"unknown option --$name"*) fail "$t does not accept --$name" ;;
		esac
		[ "$rc" -eq 2 ] || [ "$rc" -eq 0 ] || fail "$t --$name ...: exit $rc, want 2"
	done <"$tmp/opts"
	for name in help version; do
		case $help in *"--$name"*) ;; *) fail "$t --help does not list --$name" ;; esac
	done

	run "$t" --version
	[ "$rc" -eq 0 ] || fail "$t --version: exit $rc"
	[ "$out" = "$t (grantmem) $version" ] ||
		fail "$t --version: \"$out\", want \"$t (grantmem) $version\""

	expect_usage "$t --no-such-option" "--no-such-option" "$t" --no-such-option
	expect_usage "$t -%" "-%" "$t" -%
done

# a bad number, one option per tool, with the range in the message
expect_usage "grantmem-blk --queues 4x" '--queues: "4x" is not a number; want 1 to' \
	grantmem-blk --image /dev/null --queues 4x
expect_usage "grantmem-blk --frontend-domid -1" "--frontend-domid" \
	grantmem-blk --image /dev/null --frontend-domid -1
for f in "gnttab_map: 5" "gnttab_map:+5" "gnttab_map:5x" "gnttab_map:" "no_such_site:1"; do
	expect_usage "grantmem-blk --fault '$f'" "--fault: bad \"$f\"" grantmem-blk --image /dev/null --fault "$f"
done
expect_usage "grantmem-guest --depth 0" "--depth: 0 is out of range; want 1 to 256" \
	grantmem-guest --depth 0
expect_usage "grantmem-guest --size 1000" "--size" grantmem-guest --size 1000
expect_usage "grantmem-guest --depth ' 8'" "--depth" grantmem-guest --depth ' 8'
expect_usage "grantmem-vdev --devid 1e3" "--devid" grantmem-vdev add --devid 1e3 \
	--backend-domid 1 --frontend-domid 2
expect_usage "grantmem-scenario --pages 1" "--pages: 1 is out of range; want 2 to" \
	grantmem-scenario guest --pages 1
expect_usage "grantmem-scenario --timeout +5" "--timeout" grantmem-scenario guest --timeout +5
expect_usage "grantmem-bench --reps 99" "--reps: 99 is out of range; want 1 to 15" \
	grantmem-bench --reps 99
expect_usage "grantmem-xen-emu --ready-fd abc" '--ready-fd: "abc" is not a number' \
	grantmem-xen-emu --ready-fd abc "$tmp/hub"
[ ! -e "$tmp/hub" ] || fail "grantmem-xen-emu --ready-fd abc started a hub"
expect_usage "grantmem-xen-emu --domain-info 99999" \
	"--domain-info: 99999 is out of range; want 0 to $domid_max" \
	grantmem-xen-emu --domain-info 99999 "$tmp/hub"

# grantmem-net --mac: six pairs of hex digits, nothing more, nothing less
for mac in "52:54:00:12:34: 5" "52:54:00:12:34:+5" "0x52:54:00:12:34:56" "52:54:00:12:34:56:" \
	"52:54:00:12:34:5g" "52:54:0:12:34:56" "52-54-00-12-34-56"; do
	expect_usage "grantmem-net --mac '$mac'" "--mac: \"$mac\" is not xx:xx:xx:xx:xx:xx" \
		grantmem-net --tap gm-none --mac "$mac"
done
expect_usage "grantmem-net --mac 53:54:00:12:34:56" "is a multicast address" \
	grantmem-net --tap gm-none --mac 53:54:00:12:34:56

# grantmem-domain
expect_usage "grantmem-domain --domid 99999" "--domid: 99999 is out of range; want 0 to $domid_max" \
	grantmem-domain --socket "$tmp/hub" --domid 99999
expect_usage "grantmem-domain --domid $((domid_max + 1))" "--domid" \
	grantmem-domain --socket "$tmp/hub" --domid $((domid_max + 1))
expect_usage "grantmem-domain without --domid" "--domid is required" \
	grantmem-domain --socket "$tmp/hub"
expect_usage "grantmem-domain without --socket" "--socket is required" \
	grantmem-domain --domid 3
expect_usage "grantmem-domain --pages 0" "--pages: 0 is out of range; want 1 to 4096" \
	grantmem-domain --socket "$tmp/hub" --domid 3 --pages 0
expect_usage "grantmem-domain --pages 4x" '--pages: "4x" is not a number' \
	grantmem-domain --socket "$tmp/hub" --domid 3 --pages 4x
expect_usage "grantmem-domain --ram 12q" '--ram: "12q" is not a size' \
	grantmem-domain --socket "$tmp/hub" --domid 3 --ram 12q
run grantmem-domain --help
case $out in
*"--domid N "*"(required)"*) ;;
*) fail "grantmem-domain --help does not say that --domid is required" ;;
esac
# a hub that is not there: a runtime error (1), not a usage error
run grantmem-domain --socket "$tmp/no-hub" --domid 3
[ "$rc" -eq 1 ] || fail "grantmem-domain without a hub: exit $rc, want 1 ($err)"

# grantmem-xen-emu --stop or --domain-info with no hub: says so and how to start one
run grantmem-xen-emu --stop "$tmp/no-hub"
[ "$rc" -eq 1 ] || fail "grantmem-xen-emu --stop without a hub: exit $rc, want 1"
case $err in
*"no hub is listening at $tmp/no-hub"*"start one with grantmem-xen-emu $tmp/no-hub"*) ;;
*) fail "grantmem-xen-emu --stop without a hub: $err" ;;
esac

# grantmem-vdev
expect_usage "grantmem-vdev frobnicate" 'unknown command "frobnicate"' \
	grantmem-vdev frobnicate --backend-domid 1 --frontend-domid 2
expect_usage "grantmem-vdev without a command" "no command" \
	grantmem-vdev --backend-domid 1 --frontend-domid 2
expect_usage "grantmem-vdev --type 'Bad Type'" "a-z, 0-9, '-' and '_'" \
	grantmem-vdev add --type "Bad Type" --backend-domid 1 --frontend-domid 2
expect_usage "grantmem-vdev without --frontend-domid" "--frontend-domid is required" \
	grantmem-vdev add --backend-domid 1
expect_usage "grantmem-vdev --backend-domid 99999" \
	"--backend-domid: 99999 is out of range; want 0 to $domid_max" \
	grantmem-vdev add --backend-domid 99999 --frontend-domid 2

# grantmem-bench
expect_usage "grantmem-bench --only nosuch" \
	"unknown group \"nosuch\"; the groups are translation, strategy, batching, scaling, e2e and xen" \
	grantmem-bench --only translation,nosuch
run grantmem-bench --json "$tmp/no/such/dir/out.json" --only nosuch-either
[ "$rc" -eq 2 ] || fail "grantmem-bench: a usage error comes before the JSON file ($rc)"
# a JSON file that cannot be written fails before the run (no hub, no granter)
run grantmem-bench --json "$tmp/no/such/dir/out.json"
[ "$rc" -eq 1 ] || fail "grantmem-bench --json into a missing directory: exit $rc, want 1"
case $err in
*"$tmp/no/such/dir/out.json"*) ;;
*) fail "grantmem-bench --json: the message does not name the file: $err" ;;
esac
case $err in
*"world"*) fail "grantmem-bench --json: the run started before the file failed: $err" ;;
esac

echo "$checks runs, $failed failure(s)"
[ "$failed" -eq 0 ]
