# SPDX-License-Identifier: LGPL-2.1-or-later
#
# The driver-domain scenario of `make check-xen`, dom0's side: sourced by
# tests/xen/dom0-init (its result, check and show functions), which runs
# dd_scenario.  dom0 is only the toolstack here: it creates a driver domain
# (xl driver_domain=1, no other privilege) and two guests, writes their
# vdev devices with the driver domain as backend (grantmem-vdev add), and
# drives the domains' agents (agent.sh) through xenstore; grantmem-blk runs
# in the driver domain, grantmem-guest in the guests.  Every check is
# printed as GMXEN PASS|FAIL driver-domain/<name>, every figure as
# GMXEN INFO driver-domain ...  tests/xen/README.md describes the phases.

DD_CONSOLE=/var/log/xen/console
dd_seq=0

dd_log() { echo "$DD_CONSOLE/guest-$1.log"; }
dd_now() { cut -d' ' -f1 /proc/uptime; }
dd_since() { awk -v a="$1" -v b="$(dd_now)" 'BEGIN { printf "%.1f", b - a }'; }
dd_res() { result "$1" "driver-domain/$2" "$3"; }
dd_check() { # NAME WHY COMMAND...
	n=$1
	shift
	check "driver-domain/$n" "$@"
}
dd_info() { echo "GMXEN INFO driver-domain $*"; }

# dd_grep NAME ERE: does the console log of domain NAME have a matching line?
dd_grep() {
	grep -a -q -E "$2" "$(dd_log "$1")" 2>/dev/null
}

# dd_wait NAME ERE SECONDS: wait for a matching line in NAME's console log.
dd_wait() {
	end=$(($(cut -d. -f1 /proc/uptime) + $3))
	while ! dd_grep "$1" "$2"; do
		[ "$(cut -d. -f1 /proc/uptime)" -lt $end ] || return 1
		sleep 0.5
	done
}

# dd_domid NAME: the domain's id (cached: xl is slow under TCG).
dd_domid() {
	eval "v=\${dd_id_$1:-}"
	if [ -z "$v" ]; then
		v=$(xl domid "$1" 2>/dev/null) || return 1
		eval "dd_id_$1=$v"
	fi
	echo "$v"
}

# dd_cmd NAME VERB ARGS...: hand a command to NAME's agent and wait for its
# answer; returns the command's status (99: no answer in 60 s).
dd_cmd() {
	name=$1
	shift
	dd_seq=$((dd_seq + 1))
	id=$(dd_domid "$name") || return 99
	xenstore-write "/local/domain/$id/data/gmdd-cmd" "$dd_seq $*" || return 99
	dd_wait "$name" "GMDD ack $dd_seq rc=[0-9]+" 60 || {
		echo "driver-domain: $name did not answer \"$*\""
		return 99
	}
	rc=$(tr -d '\r' <"$(dd_log "$name")" | sed -n "s/.*GMDD ack $dd_seq rc=\([0-9]*\).*/\1/p" | tail -n 1)
	return "${rc:-99}"
}

# dd_job NAME TAG SECONDS: wait for a job's end; its output goes to
# /tmp/dd-TAG.out and its exit status to $jrc (empty: it did not end).
dd_job() {
	jrc=
	dd_wait "$1" "GMDD $2 exit [0-9]+" "$3" || true
	tr -d '\r' <"$(dd_log "$1")" | sed -n "s/.*GMDD $2 | //p" >/tmp/dd-$2.out
	jrc=$(tr -d '\r' <"$(dd_log "$1")" | sed -n "s/.*GMDD $2 exit \([0-9]*\).*/\1/p" | tail -n 1)
	show "driver-domain: $1 $2 (exit ${jrc:-none}, at $(dd_now) s)" /tmp/dd-$2.out
	s=$(grep '^summary:' /tmp/dd-$2.out | tail -n 1)
	[ -z "$s" ] || dd_info "$1 $2 $s"
}

# dd_field TAG KEY: KEY=value from the job's summary line.
dd_field() {
	grep '^summary:' /tmp/dd-$1.out 2>/dev/null | tail -n 1 | tr ' ' '\n' | sed -n "s/^$2=//p"
}

# dd_served TAG MINREQ: a run that must have gone well: exit 0, errors=0,
# at least MINREQ requests, every byte read verified.  Sets why.
dd_served() {
	req=$(dd_field "$1" requests) err=$(dd_field "$1" errors)
	why="$1: exit ${jrc:-none}, requests=${req:-?}, errors=${err:-?}"
	[ "$jrc" = 0 ] && [ "$err" = 0 ] && [ "${req:-0}" -ge "$2" ] 2>/dev/null
}

# dd_cut_off TAG WHAT: a run whose backend went away under it (WHAT: the
# state it must have seen, a regular expression).  It must have seen the
# device go (xenbus state), and nothing else may have gone wrong: no data
# error, no grant it could not end.  Sets why.
dd_cut_off() {
	f=/tmp/dd-$1.out
	bad=$(grep 'error:' "$f" | grep -v -E 'the backend left Connected|no completion for|the backend stayed' | head -n 3)
	why="$1: exit ${jrc:-none}"
	[ -n "$jrc" ] || return 1
	grep -q '^summary:' "$f" || { why="$why, no summary"; return 1; }
	grep -q -E "the backend left Connected \(($2)\)" "$f" || {
		why="$why, never saw the backend leave Connected for $2"
		return 1
	}
	[ -z "$bad" ] || { why="$why: $bad"; return 1; }
	why="$why, saw the device go ($(grep -o -E 'left Connected \([A-Za-z]*\)' "$f" | head -n 1))"
	return 0
}

# dd_gone ID SECONDS: wait until domain ID is no longer in xl list (a
# dying domain whose pages someone still maps stays listed).  Sets dd_took.
dd_gone() {
	t0=$(dd_now)
	end=$(($(cut -d. -f1 /proc/uptime) + $2))
	while xl list | awk 'NR > 1 { print $2 }' | grep -q -x "$1"; do
		if [ "$(cut -d. -f1 /proc/uptime)" -ge $end ]; then
			dd_took=$(dd_since "$t0")
			xl list
			return 1
		fi
		sleep 1
	done
	dd_took=$(dd_since "$t0")
}

# dd_create NAME CFG: xl create (named NAME), then wait for its agent.
dd_create() {
	timeout -s KILL 180 xl create "$2" "name=\"$1\"" >/tmp/xl-$1.out 2>&1 || {
		show "xl create $1 failed" /tmp/xl-$1.out
		[ -f "$(dd_log "$1")" ] && show "console of $1" "$(dd_log "$1")"
		return 1
	}
	dd_wait "$1" '^GMDD ready' 180 || {
		show "console of $1 (no agent after 180 s)" "$(dd_log "$1")"
		return 1
	}
}

# dd_vdev_add GUEST DD: the toolstack's part for GUEST's device 0, served
# from the driver domain DD.
dd_vdev_add() {
	grantmem-vdev add --xen real --backend-domid "$(dd_domid "$2")" \
		--frontend-domid "$(dd_domid "$1")" --devid 0 >/tmp/vdev.out 2>&1 ||
		{ show "grantmem-vdev add $1 $2" /tmp/vdev.out; return 1; }
}

# dd_backends DD SUFFIX: grantmem-blk in the driver domain, one per guest
# and image: gmdda transient, gmddb with persistent grants offered and two
# queues (the storm needs a second one).
dd_backends() {
	ga=$(dd_domid gmdda) gb=$(dd_domid gmddb 2>/dev/null)
	dd_cmd "$1" start "blka$2" grantmem-blk --xen real --image /tmp/a.img \
		--frontend-domid "$ga" --stats || return 1
	[ -n "$gb" ] || return 0
	dd_cmd "$1" start "blkb$2" grantmem-blk --xen real --image /tmp/b.img \
		--frontend-domid "$gb" --persistent --queues 2 --stats
}

# dd_ring_refs GUEST: the grant refs of the rings GUEST published last
# (each of its num-queues queues; a grant address is 1 << 63 | ref << 12 |
# offset).
dd_ring_refs() {
	f=/local/domain/$(dd_domid "$1")/device/gm-virtio/0
	n=$(xenstore-read "$f/num-queues" 2>/dev/null) || n=0
	q=0
	while [ "$q" -lt "$n" ]; do
		for k in desc driver device; do
			v=$(xenstore-read "$f/queue-$q/$k" 2>/dev/null)
			[ -n "$v" ] && printf '%d\n' $(((v & 0x7fffffffffffffff) >> 12))
		done
		q=$((q + 1))
	done | sort -n | tr '\n' ' '
}

# dd_connected GUEST SECONDS: wait until GUEST's frontend is Connected.
dd_connected() {
	for _ in $(seq $(($2 * 2))); do
		[ "$(xenstore-read "/local/domain/$(dd_domid "$1")/device/gm-virtio/0/state" 2>/dev/null)" = 4 ] &&
			return 0
		sleep 0.5
	done
	return 1
}

# I/O runs: 4 KiB random reads and writes at depth 8, every byte read
# verified.  Under TCG on a loaded host a request can take seconds: a run
# gives up on a queue after 60 s without a completion, and runs that a
# fault will cut off wait longer, so that they see the device go (its
# state) rather than a timeout of their own.
IO="--depth 8 --size 4096 --timeout 60 --quiet"
IOF="--depth 8 --size 4096 --timeout 240 --quiet"
# guest B beside A in the isolation runs: two queues (the storm takes one)
BIO="--queues 2 --depth 4 --size 4096 --timeout 60 --quiet"

# The domains' whole consoles, for the serial log.
dd_consoles() {
	for n in gmdd gmdda gmddb gmdd2; do
		[ -f "$(dd_log $n)" ] && show "console of $n" "$(dd_log $n)"
	done
}

dd_scenario() {
	dd_run
	dd_consoles
}

dd_run() {
	t_dd=$(dd_now)
	echo "driver-domain scenario at $t_dd s"
	# ---- setup: the driver domain and two guests ---------------------------------
	dd_create gmdd /etc/gmdd/dd.cfg
	rc=$?
	dd_check create "xl create or its agent failed" [ $rc = 0 ]
	[ $rc = 0 ] || return
	dd_create gmdda /etc/gmdd/guest.cfg && dd_create gmddb /etc/gmdd/guest.cfg
	rc=$?
	dd_check guests-create "xl create of a guest or its agent failed" [ $rc = 0 ]
	[ $rc = 0 ] || return
	dd=$(dd_domid gmdd) a=$(dd_domid gmdda) b=$(dd_domid gmddb)
	dd_info "domains: driver domain $dd, guest A $a, guest B $b"
	xl list

	# ---- the toolstack: devices served from the driver domain ----------------------
	ok=1
	dd_vdev_add gmdda gmdd && dd_vdev_add gmddb gmdd || ok=0
	if [ $ok = 1 ]; then
		for d in /local/domain/$dd/backend/gm-virtio/$a/0 /local/domain/$a/device/gm-virtio/0; do
			echo "permissions of $d: $(xenstore-ls -p "$d" 2>&1 | grep -m 1 'state')"
		done
	fi
	dd_check toolstack-add "grantmem-vdev add --backend-domid $dd failed" [ $ok = 1 ]

	# ---- it really is unprivileged ------------------------------------------------
	# The same calls in dom0 (must work) and in the driver domain (must be
	# refused): a foreign mapping of guest A's xenstore ring (its frame from
	# store/ring-ref), a grant mapping of A's ref 1 (the builder granted it
	# to dom0, not to the driver domain), a domain listing as xl does, and
	# a read of A's xenstore nodes.
	frame=$(xenstore-read /local/domain/$a/store/ring-ref)
	xen-ddprobe --domid "$a" --frame "$frame" --gref 1 >/tmp/dd-probe0.out 2>&1
	show "xen-ddprobe in dom0 (control)" /tmp/dd-probe0.out
	dd_cmd gmdd run probe xen-ddprobe --domid "$a" --frame "$frame" --gref 1
	dd_job gmdd probe 30
	dd_cmd gmdd run peek xenstore-read /local/domain/$a/store/ring-ref
	dd_job gmdd peek 30
	peekrc=$jrc
	for p in foreign-map grant-map domain-list; do
		in0=$(sed -n "s/^ddprobe $p: //p" /tmp/dd-probe0.out)
		indd=$(sed -n "s/^ddprobe $p: //p" /tmp/dd-probe.out)
		dd_info "$p: dom0 ${in0:-?}; driver domain ${indd:-?}"
		ok=0
		case "$in0" in mapped* | listed*) case "$indd" in refused*) ok=1 ;; esac ;; esac
		dd_check "refused-$p" "dom0: ${in0:-no answer}; driver domain: ${indd:-no answer}" [ $ok = 1 ]
	done
	ok=0
	[ -n "$peekrc" ] && [ "$peekrc" != 0 ] && ok=1
	dd_check refused-xenstore "reading /local/domain/$a/store/ring-ref from the driver domain: exit ${peekrc:-none}" \
		[ $ok = 1 ]

	# ---- both guests served at once ---------------------------------------------------
	dd_cmd gmdd image /tmp/a.img 64M && dd_cmd gmdd image /tmp/b.img 64M && dd_backends gmdd ""
	rc=$?
	[ $rc = 0 ] || result FAIL driver-domain/backend-start "grantmem-blk did not start ($rc)"
	# B's workload is the one it keeps when it turns hostile below
	dd_cmd gmdda io p1a --seconds 15 $IO
	dd_cmd gmddb io p1b --seconds 15 $BIO
	dd_job gmdda p1a 300
	dd_job gmddb p1b 300
	m=$(dd_field p1a map_calls_per_request)
	ok=0
	dd_served p1a 20 && ! grep -q 'steady state' /tmp/dd-p1a.out &&
		awk -v m="$m" 'BEGIN { exit !(m != "" && m + 0 <= 1.0) }' && ok=1
	dd_check serve-a-transient "$why, map_calls_per_request=${m:-?} (want <= 1.0, fresh grants)" [ $ok = 1 ]
	m=$(dd_field p1b map_calls_per_request)
	ok=0
	dd_served p1b 20 && grep -q 'steady state' /tmp/dd-p1b.out &&
		awk -v m="$m" 'BEGIN { exit !(m != "" && m + 0 == 0) }' && ok=1
	dd_check serve-b-persistent "$why, map_calls_per_request=${m:-?} (want persistent grants, 0)" [ $ok = 1 ]

	# ---- isolation: guest B turns hostile while A does the same steady I/O ---------------
	# A's throughput beside B doing its I/O (the runs above) against beside
	# B doing the same I/O while it notifies one of its queues without pause.
	dd_cmd gmddb io i1b --seconds 25 --storm-queue 1 $BIO
	dd_connected gmddb 120 && sleep 2
	dd_cmd gmdda io i1a --seconds 15 $IO
	dd_job gmdda i1a 300
	dd_job gmddb i1b 300
	i0=$(dd_field p1a iops) i1=$(dd_field i1a iops)
	ratio=$(awk -v a="$i1" -v b="$i0" 'BEGIN { if (a != "" && b > 0) printf "%.2f", a / b }')
	storm=$(grep '^storm:' /tmp/dd-i1b.out | tail -n 1)
	dd_info "isolation ratio=${ratio:-?} (guest A: ${i1:-?} IOPS beside a hostile B," \
		"${i0:-?} beside a benign one; guest B: ${storm:-no storm line})"
	ok=0
	dd_served i1a 20 && awk -v r="$ratio" 'BEGIN { exit !(r != "" && r >= 0.5) }' && ok=1
	dd_check isolation-ratio "$why, ratio=${ratio:-?} (want >= 0.5)" [ $ok = 1 ]
	# B closed politely: every grant it ended was let go (errors=0), and
	# the backend stopped waking for the stormed queue
	ok=0
	dd_served i1b 1 && [ -n "$storm" ] && ok=1
	dd_check storm-contained "$why, ${storm:-no storm line}" [ $ok = 1 ]

	# ---- (4) a guest that restarts ----------------------------------------------------------
	# Politely first: its rings are freed last, so the next run's rings
	# (granted first) reuse their refs for new pages; a backend that kept a
	# stale mapping would read the old pages there.  Then killed in the
	# middle of I/O: the next run closes what it left (Closing), waits for
	# Closed and starts again (Initialising).
	r1=$(dd_ring_refs gmddb)
	dd_cmd gmddb io r2 --seconds 5 --queues 1 $IO
	dd_job gmddb r2 300
	r2=$(dd_ring_refs gmddb)
	reused=0
	for r in $r2; do
		case " $r1 " in *" $r "*) reused=$((reused + 1)) ;; esac
	done
	dd_info "guest restart: ring refs before [ $r1], after [ $r2], $reused reused"
	ok=0
	dd_served r2 10 && [ $reused -ge 1 ] && ok=1
	dd_check guest-restart-reused-grefs "$why, $reused ring ref(s) reused" [ $ok = 1 ]
	dd_cmd gmddb io r3 --seconds 600 $IOF
	dd_connected gmddb 120 && sleep 3
	dd_cmd gmddb signal r3 KILL
	dd_job gmddb r3 60
	dd_cmd gmddb io r4 --seconds 5 $IO
	dd_job gmddb r4 300
	ok=0
	dd_served r4 10 && grep -q 'restart: frontend was 4' /tmp/dd-r4.out && ok=1
	dd_check guest-restart-after-kill "$why (after a killed run, from Connected)" [ $ok = 1 ]

	# ---- (2) the backend killed in the middle of I/O --------------------------------------------
	# SIGKILL, then the same driver domain starts it again at once (as a
	# service manager would): the new one finds both devices left Connected
	# and closes them, the guests end access to every grant (the dead
	# process's mappings went with it) and start again.
	dd_cmd gmdda io k1a --seconds 600 $IOF
	dd_cmd gmddb io k1b --seconds 600 $IOF
	dd_connected gmdda 120 && dd_connected gmddb 120 && sleep 3
	dd_cmd gmdd signal blka KILL
	dd_cmd gmdd signal blkb KILL
	t=$(dd_now)
	dd_info "backend killed: states left behind: A's $(xenstore-read /local/domain/$dd/backend/gm-virtio/$a/0/state)," \
		"B's $(xenstore-read /local/domain/$dd/backend/gm-virtio/$b/0/state)"
	dd_backends gmdd 2
	dd_job gmdd blka 60
	dd_job gmdd blkb 60
	dd_job gmdda k1a 300
	dd_job gmddb k1b 300
	dd_info "backend killed: the guests' runs ended $(dd_since "$t") s after the kill"
	ok=1
	dd_cut_off k1a Closed || ok=0
	w=$why
	dd_cut_off k1b Closed || ok=0
	w="$w; $why"
	echo "    $w"
	dd_check backend-kill-released "$w" [ $ok = 1 ]
	dd_cmd gmdda io k2a --seconds 5 $IO
	dd_cmd gmddb io k2b --seconds 5 $IO
	dd_job gmdda k2a 300
	dd_job gmddb k2b 300
	ok=1 w=
	dd_served k2a 10 || { ok=0; w="$why"; }
	dd_served k2b 10 || { ok=0; w="$w $why"; }
	dd_check backend-restart-served "$w" [ $ok = 1 ]

	# ---- (3) the driver domain destroyed and built again -----------------------------------
	dd_cmd gmdda io d1a --seconds 600 $IOF
	dd_cmd gmddb io d1b --seconds 600 $IOF
	dd_connected gmdda 120 && dd_connected gmddb 120 && sleep 3
	xl destroy gmdd
	dd_gone "$dd" 120
	rc=$?
	dd_info "driver domain destroyed: gone from xl list after $dd_took s"
	dd_check dd-destroyed "domain $dd still listed after $dd_took s" [ $rc = 0 ]
	dd_job gmdda d1a 300
	dd_job gmddb d1b 300
	ok=1
	dd_cut_off d1a Unknown || ok=0
	w=$why
	dd_cut_off d1b Unknown || ok=0
	w="$w; $why"
	echo "    $w"
	dd_check dd-destroyed-guests-released "$w" [ $ok = 1 ]
	ok=0
	if dd_create gmdd2 /etc/gmdd/dd.cfg && dd_cmd gmdd2 image /tmp/a.img 64M &&
		dd_cmd gmdd2 image /tmp/b.img 64M && dd_backends gmdd2 "" &&
		dd_vdev_add gmdda gmdd2 && dd_vdev_add gmddb gmdd2; then
		ok=1
	fi
	dd2=$(dd_domid gmdd2)
	dd_info "driver domain rebuilt as domain ${dd2:-?}"
	dd_cmd gmdda io d2a --seconds 5 $IO
	dd_cmd gmddb io d2b --seconds 5 $IO
	dd_job gmdda d2a 300
	dd_job gmddb d2b 300
	w=
	[ $ok = 1 ] || w="building the new driver domain failed;"
	dd_served d2a 10 || { ok=0; w="$w $why"; }
	dd_served d2b 10 || { ok=0; w="$w $why"; }
	for g in gmdda gmddb; do
		v=$(xenstore-read "/local/domain/$(dd_domid $g)/device/gm-virtio/0/backend-id")
		[ "$v" = "$dd2" ] || { ok=0; w="$w $g's backend-id is $v;"; }
	done
	dd_check dd-rebuilt-served "$w" [ $ok = 1 ]

	# ---- (1) a guest destroyed in the middle of I/O ----------------------------------------
	dd_cmd gmdda io f1a --seconds 20 $IO
	dd_cmd gmddb io f1b --seconds 600 --queues 2 $IOF
	dd_connected gmddb 120 && sleep 3
	xl destroy gmddb
	dd_gone "$b" 120
	rc=$?
	dd_info "guest B destroyed in the middle of I/O: gone from xl list after $dd_took s"
	dd_check guest-destroyed-released "domain $b still in xl list after $dd_took s (a zombie: still mapped?)" \
		[ $rc = 0 ]
	grantmem-vdev remove --xen real --backend-domid "$dd2" --frontend-domid "$b" --devid 0 \
		>/tmp/vdev.out 2>&1 || show "grantmem-vdev remove" /tmp/vdev.out
	dd_job gmdda f1a 300
	ok=0
	dd_served f1a 20 && ok=1
	dd_check survivor-served "$why" [ $ok = 1 ]

	# ---- the end: backends stopped, every domain gone --------------------------------------
	ok=1 w=
	for t in blka blkb; do
		dd_cmd gmdd2 signal $t TERM
		dd_job gmdd2 $t 30
		left=$(sed -n 's/.*mapped_pages_at_exit=\([0-9]*\).*/\1/p' /tmp/dd-$t.out | tail -n 1)
		[ "$jrc" = 0 ] && [ "$left" = 0 ] || { ok=0; w="$w $t: exit ${jrc:-none}, mapped_pages_at_exit=${left:-?};"; }
	done
	dd_check backend-exit "$w" [ $ok = 1 ]
	xl destroy gmdda
	xl destroy gmdd2
	ok=1
	dd_gone "$a" 60 || ok=0
	dd_gone "$dd2" 60 || ok=0
	dd_check all-gone "a domain is still listed" [ $ok = 1 ]
	dd_info "scenario took $(dd_since "$t_dd") s"
}
