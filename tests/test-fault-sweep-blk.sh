#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
#
# Fault sweep, end to end: tools/demo.sh's virtio-blk scenario (a hub,
# grantmem-blk in driver domain 1 with 2 queues, grantmem-guest as domain 5
# doing verified I/O over two connections) run once per (call site, N): the
# backend makes the Nth call at that site fail (grantmem-blk --fault), N
# counted from when the first frontend is served (or, for the teardown path,
# from its first disconnect).  Every site the backend's serving path reaches
# (found by a calibration run per mode that only counts) is failed at N = 1
# and at a later call, in transient mode and, for the sites where the grant
# policy matters, in persistent mode.  Each case checks:
#   - the backend logs the failure with its errno (the errno's number or
#     text, or the site, in a line other than the fault aid's own), and does
#     not crash, hang or exit non-zero; the guest sees no error beyond error
#     statuses and stalled queues it tolerates (--tolerate-errors), and no
#     queue stalls that the backend did not break;
#   - the other queue keeps serving: when the fault broke a queue, or when
#     the connection served plenty after it, every queue the backend did not
#     break served more requests on that connection; every queue of a
#     connection made after the fault served;
#   - nothing stays mapped: the hub holds no busy grant entry of the guest
#     (grantmem-xen-emu --domain-info, after the guest left, while the
#     backend runs) and the backend's cache reports mapped_pages_at_exit=0;
#   - no leaks: the backend's descriptors (/proc/PID/fd) are as many after
#     the run as before the guest came; in the sanitizer build LeakSanitizer
#     checks it at exit (a report fails the case, as do UBSan's).
# Prints "fault-sweep-blk: sites=S cases=C injected=I failed=F" (read by
# tests/robustness-report.sh).  SWEEP_JOBS: cases run at once (default:
# processors + 1); SWEEP_SITES: only these sites (space-separated);
# SWEEP_KEEP=1: keep every case's logs.  GM_TEST_TIME_SCALE (a whole
# number, default 1) multiplies the time a queue is given before it counts
# as stalled and the run's time limits, where every program runs that much
# slower (tests/arm64/run.sh sets it for arm64 under qemu-user).
set -u

top_builddir=${top_builddir:-.}
B=$(cd "$top_builddir" && pwd) || exit 99
emu=$B/tools/grantmem-xen-emu
blk=$B/tools/grantmem-blk
guest=$B/tools/grantmem-guest
vdev=$B/tools/grantmem-vdev
for p in "$emu" "$blk" "$guest" "$vdev"; do
	[ -x "$p" ] || { echo "missing $p"; exit 99; }
done
command -v timeout >/dev/null 2>&1 || { echo "timeout(1) is needed"; exit 77; }

jobs_max=${SWEEP_JOBS:-$(($(nproc 2>/dev/null || echo 2) + 1))}
# over two connections (the guest reconnects halfway); enough that each
# lasts well beyond a scheduler time slice, so that every queue thread of the
# guest runs after a fault even when the emulated Xen serves ten thousand
# requests a second on a loaded machine
requests=6000
scale=${GM_TEST_TIME_SCALE:-1}
case $scale in '' | 0 | *[!0-9]*) echo "GM_TEST_TIME_SCALE=$scale: want a whole number >= 1"; exit 99 ;; esac
# a queue the backend broke is given up after this long (not less: a loaded
# machine can starve a healthy queue for a second)
stall_ms=$((2000 * scale))
# sites where transient and persistent grants take different paths
policy_sites="alloc gnttab_map gnttab_unmap gnttab_copy"

tmp=$(mktemp -d "${TMPDIR:-/tmp}/gm-fsblk-XXXXXX") || exit 99
cleanup() {
	trap - EXIT INT TERM
	for j in $(jobs -p); do
		kill -TERM "$j" 2>/dev/null
	done
	wait 2>/dev/null
	if [ -n "${SWEEP_KEEP:-}" ]; then
		echo "logs kept in $tmp"
	else
		rm -rf "$tmp"
	fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM

errtext() {
	case $1 in
	5) echo "I/O error" ;;
	12) echo "Cannot allocate memory" ;;
	*) echo "errno $1" ;;
	esac
}

# run_case DIR MODE WHEN SITE N ERRNO: one scenario; writes DIR/result
# ("ok ...: fired ...", "ok ...: not reached" or "FAIL ...: why") and keeps
# the logs in DIR.
run_case() {
	local dir=$1 mode=$2 when=$3 site=$4 n=$5 err=$6
	local persist='' why='' fired=0 fds0 fds1 rc info
	local name="$mode/$when $site:$n:-$err"
	# not locals: case_cleanup needs them after run_case has returned
	hub_pid='' blk_pid=''

	mkdir -p "$dir"
	# Runs when the case's subshell exits, after run_case has returned and
	# its locals are gone.
	case_cleanup() {
		[ -n "${blk_pid:-}" ] && kill -KILL "$blk_pid" 2>/dev/null
		[ -n "${hub_pid:-}" ] && kill -TERM "$hub_pid" 2>/dev/null
		wait 2>/dev/null
	}
	trap case_cleanup EXIT
	fail() {
		why="${why:+$why; }$*"
	}
	[ "$mode" = persistent ] && persist=--persistent

	"$emu" "$dir/hub" >"$dir/hub.log" 2>&1 &
	hub_pid=$!
	for _ in $(seq $((200 * scale))); do
		[ -S "$dir/hub" ] && break
		sleep 0.02
	done
	[ -S "$dir/hub" ] || { echo "FAIL $name: the hub did not start" >"$dir/result"; return; }
	truncate -s 8M "$dir/disk.img" &&
		"$vdev" add --xen "emu:$dir/hub" --backend-domid 1 --frontend-domid 5 --devid 0 \
			>"$dir/vdev.log" 2>&1 ||
		{ echo "FAIL $name: setup" >"$dir/result"; return; }

	"$blk" --xen "emu:$dir/hub,domid=1" --image "$dir/disk.img" --queues 2 \
		--frontend-domid 5 --stats --verbose $persist \
		--fault "$site:$n:-$err" --fault-on "$when" >"$dir/blk.log" 2>&1 &
	blk_pid=$!
	for _ in $(seq $((500 * scale))); do
		grep -q '^grantmem-blk: domain 1 serving' "$dir/blk.log" 2>/dev/null && break
		kill -0 "$blk_pid" 2>/dev/null || break
		sleep 0.02
	done
	fds0=$(ls "/proc/$blk_pid/fd" 2>/dev/null | wc -l)
	[ "$fds0" -gt 0 ] || fail "cannot count the backend's descriptors"

	timeout $((120 * scale)) "$guest" --xen "emu:$dir/hub,domid=5,ram=64m" \
		--requests $requests --reconnect-every $((requests / 2)) --depth 8 --queues 2 \
		--timeout $((20 * scale)) --quiet \
		--tolerate-errors $stall_ms >"$dir/guest.log" 2>&1
	rc=$?
	[ $rc -eq 0 ] || fail "guest exit $rc"

	# the guest is gone: the backend is idle again and must hold nothing of it
	info=
	for _ in $(seq $((100 * scale))); do
		info=$("$emu" --domain-info 5 "$dir/hub" 2>&1)
		case $info in *" mapped=0 "*) break ;; esac
		sleep 0.02
	done
	case $info in
	*" mapped=0 "*) ;;
	*) fail "the hub still has busy grant entries: $info" ;;
	esac
	fds1=
	for _ in $(seq $((100 * scale))); do
		fds1=$(ls "/proc/$blk_pid/fd" 2>/dev/null | wc -l)
		[ "$fds1" = "$fds0" ] && break
		sleep 0.02
	done
	[ "$fds1" = "$fds0" ] || fail "backend descriptors $fds0 -> $fds1"

	kill -TERM "$blk_pid" 2>/dev/null
	rc=
	for _ in $(seq $((600 * scale))); do
		kill -0 "$blk_pid" 2>/dev/null || break
		sleep 0.05
	done
	if kill -0 "$blk_pid" 2>/dev/null; then
		fail "the backend hangs after SIGTERM"
		kill -KILL "$blk_pid" 2>/dev/null
	fi
	wait "$blk_pid"
	rc=$?
	blk_pid=
	[ "$rc" -eq 0 ] || fail "backend exit $rc"
	kill -TERM "$hub_pid" 2>/dev/null
	wait "$hub_pid" || fail "hub exit $?"
	hub_pid=

	local log=$dir/blk.log
	grep -q '^grantmem-blk: stopped$' "$log" || fail "the backend did not stop cleanly"
	grep -q "mapped_pages_at_exit=0\$" "$log" || fail "the backend's cache still maps pages"
	if grep -Eq 'ERROR: (LeakSanitizer|AddressSanitizer)|runtime error:' "$log"; then
		fail "sanitizer report"
	fi
	grep -q "^grantmem-blk: fault $site:$n armed" "$log" || fail "the fault was never armed"
	if grep -q "^grantmem-blk: fault $site:$n fired" "$log"; then
		fired=1
		# the failure is reported: its errno, or the site, outside the fault aid's lines
		grep -v '^grantmem-blk: fault ' "$log" |
			grep -Eq -- "-$err \(|$(errtext "$err")|$site" ||
			fail "no log line reports the failure"
	fi

	# per-queue serving after the fault (see the top of the file)
	local verdict
	verdict=$(awk '
		/^grantmem-blk: fault .* fired/ {
			f = 1; serving = /while serving/; same = /while disconnecting/
			for (i = 1; i <= NF; i++)
				if ($i ~ /^q[0-9]+=/) { split($i, a, "="); at[a[1]] = a[2] }
			next
		}
		# queues broken on this connection, also before the fault was
		# seen to fire (the queue threads report it at their next request)
		/queue [0-9]+ is broken/ {
			match($0, /queue [0-9]+ is broken/)
			split(substr($0, RSTART, RLENGTH), b, " ")
			broken["q" b[2]] = 1
			nb++
		}
		!f && /^grantmem-blk: frontend [0-9]+ disconnected: served/ {
			delete broken
			nb = 0
		}
		f && /^grantmem-blk: frontend [0-9]+ disconnected: served/ {
			if (same) {
				same = 0	# the connection being torn down
				next
			}
			conn++
			after = 0
			nq = 0
			for (i = 1; i <= NF; i++) {
				if ($i !~ /^q[0-9]+=/)
					continue
				split($i, a, "=")
				q[++nq] = a[1]
				end[a[1]] = a[2]
				after += a[2] - at[a[1]]
				if ((conn > 1 || !serving) && a[2] == 0)
					bad = bad " " a[1] " served nothing on a later connection"
			}
			# the guest was still busy (a queue broke under its load, or
			# plenty came after): every queue not broken went on
			for (i = 1; conn == 1 && serving && (nb || after >= 64) && i <= nq; i++)
				if (!(q[i] in broken) && end[q[i]] <= at[q[i]])
					bad = bad " " q[i] " served no more after the fault (" after " did)"
			delete broken
			nb = 0
		}
		END { print (bad == "" ? "ok" : bad) }' "$log")
	[ "$verdict" = ok ] || fail "$verdict"
	# a queue the guest gave up on must be one the backend broke
	local stalls nbroken
	stalls=$(grep '^summary:' "$dir/guest.log" | grep -o 'q[0-9]*_stalls=[0-9]*' |
		awk -F= '{ s += $2 } END { print s + 0 }')
	nbroken=$(grep 'queue [0-9]* is broken' "$log" | uniq | wc -l)
	[ "$stalls" -le "$nbroken" ] || fail "$stalls stalled queue(s) in the guest, $nbroken broken"

	if [ -n "$why" ]; then
		echo "FAIL $name: $why" >"$dir/result"
	elif [ $fired = 1 ]; then
		echo "ok $name: fired ($nbroken queue(s) broken, $fds0 fds;$(grep '^summary:' "$dir/guest.log" | sed 's/.*iops=[0-9]*//'))" >"$dir/result"
	else
		echo "ok $name: not reached" >"$dir/result"
	fi
}

# run_bg DIR ARGS...: run_case in the background, at most $jobs_max at once.
run_bg() {
	while [ "$(jobs -rp | wc -l)" -ge "$jobs_max" ]; do
		wait -n
	done
	(run_case "$@") &
}

start=$(date +%s)

# Calibration: count the calls each site sees (N = 0), per mode and arming point.
for mode in transient persistent; do
	for when in connect disconnect; do
		run_bg "$tmp/cal-$mode-$when" $mode $when alloc 0 12
	done
done
wait
for mode in transient persistent; do
	for when in connect disconnect; do
		d=$tmp/cal-$mode-$when
		r=$(cat "$d/result" 2>/dev/null)
		case $r in
		ok*) ;;
		*)
			echo "calibration $mode/$when failed: ${r:-no result}"
			for f in blk guest; do
				echo "--- $f"
				tail -n 30 "$d/$f.log"
			done
			exit 1
			;;
		esac
		calls=$(sed -n 's/^grantmem-blk: fault calls since armed://p' "$d/blk.log")
		echo "calls $mode/$when:$calls"
		echo "$calls" | tr ' ' '\n' | grep '=' >"$tmp/calls-$mode-$when"
	done
done
# the per-site list for tests/ROBUSTNESS.md: the transient serving path
sed 's/^\(.*\)=\(.*\)$/site \1: \2 calls/' "$tmp/calls-transient-connect"

cases=0
sites=
for mode in transient persistent; do
	for when in connect disconnect; do
		while IFS='=' read -r site calls; do
			[ -n "$site" ] || continue
			if [ -n "${SWEEP_SITES:-}" ]; then
				case " $SWEEP_SITES " in *" $site "*) ;; *) continue ;; esac
			fi
			if [ $mode = persistent ]; then
				case " $policy_sites " in *" $site "*) ;; *) continue ;; esac
			fi
			err=5
			[ "$site" = alloc ] && err=12
			ns=1
			# a later call, in the middle of the first connection's serving
			[ $when = connect ] && [ "$calls" -ge 8 ] && ns="1 $((calls / 4))"
			for n in $ns; do
				cases=$((cases + 1))
				run_bg "$tmp/case-$cases" $mode $when "$site" "$n" $err
			done
			case " $sites " in *" $site "*) ;; *) sites="$sites $site" ;; esac
		done <"$tmp/calls-$mode-$when"
	done
done
wait

failed=0
injected=0
for i in $(seq "$cases"); do
	d=$tmp/case-$i
	r=$(cat "$d/result" 2>/dev/null || echo "FAIL case $i: no result")
	echo "$r"
	case $r in
	*": fired"*) injected=$((injected + 1)) ;;
	esac
	case $r in
	FAIL*)
		failed=$((failed + 1))
		for f in blk guest; do
			echo "--- $f log"
			grep -v '^grantmem: info: vdev' "$d/$f.log" | tail -n 25
		done
		;;
	esac
done
nsites=$(echo $sites | wc -w)
echo "time: $(($(date +%s) - start)) s with $jobs_max case(s) at once"
echo "fault-sweep-blk: sites=$nsites cases=$cases injected=$injected failed=$failed"
[ "$failed" -eq 0 ]
