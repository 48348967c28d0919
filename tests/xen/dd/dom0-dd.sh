# SPDX-License-Identifier: LGPL-2.1-or-later
#
# The driver-domain scenario of `make check-xen`, dom0's side: sourced by
# tests/xen/dom0-init (its result, check and show functions), which runs
# dd_scenario.  dom0 is only the toolstack here: it creates a driver domain
# (xl driver_domain=1, no other privilege) and two guests, writes their
# vdev devices with the driver domain as backend (grantmem-vdev add), and
# drives the domains' agents (agent.sh) through xenstore: one grantmem-blk
# in the driver domain serves both guests, each from an image of its own;
# grantmem-guest runs in the guests.  Every check is printed as
# GMXEN PASS|FAIL driver-domain/<name>, every figure as
# GMXEN INFO driver-domain ...; tests/xen/README.md describes the phases.

DD_CONSOLE=/var/log/xen/console
dd_seq=0

dd_log() { echo "$DD_CONSOLE/guest-$1.log"; }
dd_now() { cut -d' ' -f1 /proc/uptime; }
# dd_secs: whole seconds of uptime into dd_up, with the shell's builtins
# only (no fork: a process costs much under TCG, and the waits below poll)
dd_secs() {
	read -r dd_up _ </proc/uptime
	dd_up=${dd_up%%.*}
}
dd_since() { awk -v a="$1" -v b="$(dd_now)" 'BEGIN { printf "%.1f", b - a }'; }
# (shell functions share their variables: these helpers' names start dd_)
dd_check() { # NAME WHY COMMAND...
	dd_cn=$1
	shift
	check "driver-domain/$dd_cn" "$@"
	echo "driver-domain: $dd_cn checked $(dd_since "$t_dd") s into the scenario"
}
dd_info() { echo "GMXEN INFO driver-domain $*"; }

# dd_grep NAME ERE: does the console log of domain NAME have a matching line?
dd_grep() {
	grep -a -q -E "$2" "$(dd_log "$1")" 2>/dev/null
}

# dd_wait NAME ERE SECONDS: wait for a matching line in NAME's console log.
dd_wait() {
	dd_secs
	end=$((dd_up + $3))
	while ! dd_grep "$1" "$2"; do
		dd_secs
		[ "$dd_up" -lt $end ] || return 1
		sleep 0.5
	done
}

# dd_domid NAME: the domain's id, as dd_ready remembered it (xl is slow
# under TCG, and this runs in a subshell, which could not remember it).
dd_domid() {
	eval "dd_v=\${dd_id_$1:-}"
	[ -n "$dd_v" ] || dd_v=$(xl domid "$1" 2>/dev/null) || return 1
	echo "$dd_v"
}

# dd_cmd NAME VERB ARGS...: hand a command to NAME's agent and wait for its
# answer; returns the command's status (99: no answer in 120 s).
dd_cmd() {
	name=$1
	shift
	dd_seq=$((dd_seq + 1))
	id=$(dd_domid "$name") || return 99
	xenstore-write "/local/domain/$id/data/gmdd-cmd" "$dd_seq $*" || return 99
	dd_wait "$name" "GMDD ack $dd_seq rc=[0-9]+" 120 || {
		echo "driver-domain: $name did not answer \"$*\""
		return 99
	}
	rc=$(tr -d '\r' <"$(dd_log "$name")" | sed -n "s/.*GMDD ack $dd_seq rc=\([0-9]*\).*/\1/p" | tail -n 1)
	return "${rc:-99}"
}

# dd_job NAME TAG SECONDS: wait for a job's end; its output goes to
# /tmp/dd-TAG.out, its exit status to $jrc (empty: it did not end), its
# summary line to an INFO line.
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

# dd_rate TAG: requests per second of the job's main phase (its result line).
dd_rate() {
	sed -n 's/^result: \([0-9]*\) requests in \([0-9.]*\) s.*/\1 \2/p' /tmp/dd-$1.out | tail -n 1 |
		awk '$2 > 0 { printf "%.2f", $1 / $2 }'
}

# dd_served TAG MINREQ: a run that must have gone well: exit 0, errors=0,
# at least MINREQ requests (every byte read verified).  Sets why.
dd_served() {
	req=$(dd_field "$1" requests) err=$(dd_field "$1" errors)
	why="$1: exit ${jrc:-none}, requests=${req:-?}, errors=${err:-?}"
	[ "$jrc" = 0 ] && [ "$err" = 0 ] && [ "${req:-0}" -ge "$2" ] 2>/dev/null
}

# dd_followed TAG STATE LOST MOVED: a --follow run through a fault: served
# (dd_served), it saw the backend leave Connected for STATE (its xenbus
# state: Closed from a backend started again, Unknown for a directory that
# went), ended every grant (errors=0 says each end_access succeeded),
# and lost LOST connections, MOVED of them to another domain.  Sets why.
dd_followed() {
	dd_served "$1" 10 || return 1
	l=$(dd_field "$1" lost) m=$(dd_field "$1" moved)
	why="$why, lost=${l:-?} moved=${m:-?}"
	grep -q -E "the backend left Connected \(($2)\): following" /tmp/dd-$1.out || {
		why="$why, never saw the backend leave Connected for $2"
		return 1
	}
	grep -q 'every grant ended' /tmp/dd-$1.out || { why="$why, no 'every grant ended'"; return 1; }
	[ "$l" = "$3" ] && [ "$m" = "$4" ]
}

# dd_listed ID: is domain ID in xl list (a dying domain whose pages someone
# still maps stays there, nameless)?
dd_listed() {
	xl list | awk 'NR > 1 { print $2 }' | grep -q -x "$1"
}

# dd_gone ID SECONDS: wait until domain ID is no longer listed; dd_took:
# the seconds since dd_t0.
dd_gone() {
	dd_secs
	end=$((dd_up + $2))
	while dd_listed "$1"; do
		dd_secs
		[ "$dd_up" -lt $end ] || {
			dd_took=$(dd_since "$dd_t0")
			return 1
		}
		sleep 0.5
	done
	dd_took=$(dd_since "$dd_t0")
}

# dd_build NAME CFG: xl create (named NAME); it boots meanwhile.
dd_build() {
	timeout -s KILL 300 xl create "$2" "name=\"$1\"" >/tmp/xl-$1.out 2>&1 || {
		show "xl create $1 failed" /tmp/xl-$1.out
		[ -f "$(dd_log "$1")" ] && show "console of $1" "$(dd_log "$1")"
		return 1
	}
}

# dd_ready NAME: wait for its agent, then remember its id (dd_domid).
dd_ready() {
	dd_wait "$1" '^GMDD ready' 300 || {
		show "console of $1 (no agent after 300 s)" "$(dd_log "$1")"
		return 1
	}
	dd_v=$(xl domid "$1" 2>/dev/null) && eval "dd_id_$1=$dd_v"
}

# dd_create NAME CFG: build it and wait for its agent.
dd_create() {
	dd_build "$1" "$2" && dd_ready "$1"
}

# dd_vdev_add GUEST DD: the toolstack's part for GUEST's device 0, served
# from the driver domain DD.
dd_vdev_add() {
	grantmem-vdev add --xen real --backend-domid "$(dd_domid "$2")" \
		--frontend-domid "$(dd_domid "$1")" --devid 0 >/tmp/vdev.out 2>&1 ||
		{ show "grantmem-vdev add $1 $2" /tmp/vdev.out; return 1; }
}

# dd_backend DD TAG: grantmem-blk in driver domain DD, serving every guest
# the toolstack gives it, each from an image of its own in DD's /tmp;
# persistent grants and two queues offered (guest A takes neither).
dd_backend() {
	dd_cmd "$1" start "$2" grantmem-blk --xen real --image /tmp/disk-%u.img --image-size 64m \
		--persistent --queues 2 --queue-size 256 --stats --verbose
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

# dd_again GUEST TAG N SECONDS: wait until run TAG of GUEST said it was
# served again for the Nth time (--follow), then let it do some I/O.
dd_again() {
	for _ in $(seq $(($4 * 2))); do
		[ "$(grep -a -c "served again by backend domain" "$(dd_log "$1")")" -ge "$3" ] && break
		sleep 0.5
	done
	dd_connected "$1" 30 && sleep 4
}

# The guests' I/O: 4 KiB random reads and writes, every byte read
# verified.  A is served with fresh grants per request; B takes the
# persistent grants offered, on two queues (the storm and the hostile
# requests take its second one).  Under TCG on a loaded host a request can
# take seconds: a run gives up after 60 s without a completion; --follow
# runs wait up to 600 s for the device to come back.
IOA="--no-persistent --depth 8 --size 4096 --timeout 60 --quiet"
IOB="--queues 2 --depth 4 --size 4096 --queue-size 256 --timeout 60 --quiet"
FOLLOW="--seconds 3600 --follow 600"

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
	# the three boot at once (a boot is slow under TCG)
	okd=0 okg=0
	dd_build gmdd /etc/gmdd/dd.cfg && okd=1
	dd_build gmdda /etc/gmdd/guest.cfg && dd_build gmddb /etc/gmdd/guest.cfg && okg=1
	[ $okd = 1 ] && dd_ready gmdd || okd=0
	dd_check create "xl create or its agent failed" [ $okd = 1 ]
	[ $okg = 1 ] && dd_ready gmdda && dd_ready gmddb || okg=0
	dd_check guests-create "xl create of a guest or its agent failed" [ $okg = 1 ]
	[ $okd = 1 ] && [ $okg = 1 ] || return
	dd=$(dd_domid gmdd) a=$(dd_domid gmdda) b=$(dd_domid gmddb)
	dd_info "domains: driver domain $dd, guest A $a, guest B $b (set up in $(dd_since "$t_dd") s)"
	# The host's policy for guests that do not trust each other: each at
	# most half a CPU (set once they booted: a capped boot is slow under
	# TCG), so one that spins cannot take the CPUs from the rest; what is
	# measured below is what the backend lets one guest do to another.
	xl sched-credit2 -d gmdda -c 50 && xl sched-credit2 -d gmddb -c 50 ||
		echo "driver-domain: could not cap the guests"
	xl sched-credit2
	xl list

	# ---- the toolstack: devices served from the driver domain ----------------------
	ok=1
	dd_vdev_add gmdda gmdd && dd_vdev_add gmddb gmdd || ok=0
	for d in /local/domain/$dd/backend/gm-virtio/$a/0 /local/domain/$a/device/gm-virtio/0; do
		echo "permissions of $d: $(xenstore-ls -p "$d" 2>&1 | grep -m 1 'state')"
	done
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
	dd_job gmdd probe 60
	dd_cmd gmdd run peek xenstore-read /local/domain/$a/store/ring-ref
	dd_job gmdd peek 60
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

	# ---- both guests served at once, by one backend --------------------------------------
	dd_backend gmdd blk
	rc=$?
	[ $rc = 0 ] || result FAIL driver-domain/backend-start "grantmem-blk did not start ($rc)"
	dd_cmd gmdda io p1a --seconds 15 $IOA
	dd_cmd gmddb io p1b --seconds 15 $IOB
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
	# A's throughput beside B doing its I/O, against beside B doing the
	# same I/O while it notifies its queue without pause and sends, on its
	# second queue, requests the device must refuse: writes past its disk's
	# end and a chain longer than seg_max (oversize), reads along one page
	# repeated 32 times (repeat).  The host's speed drifts under TCG: each
	# attack is measured between two benign runs (the one above and the
	# next), and compared with their mean.
	worst=
	prev=$(dd_rate p1a)
	n=1
	for h in oversize repeat; do
		n=$((n + 1))
		dd_cmd gmddb io i${n}b --seconds 22 --storm-queue 0 --hostile $h $IOB
		dd_connected gmddb 120 && sleep 2
		dd_cmd gmdda io i${n}a --seconds 15 $IOA
		dd_job gmdda i${n}a 300
		dd_job gmddb i${n}b 300
		storm=$(grep '^storm:' /tmp/dd-i${n}b.out | tail -n 1)
		hostile=$(grep '^hostile:' /tmp/dd-i${n}b.out | tail -n 1)
		# B ended its run cleanly: every grant it had ended (so nothing of
		# it stayed mapped), the backend stopped waking for the stormed
		# queue, every hostile request refused or answered as it must be
		ok=0
		dd_served i${n}b 1 && [ -n "$storm" ] && [ -n "$hostile" ] && ok=1
		dd_check hostile-$h-contained "$why, ${storm:-no storm line}, ${hostile:-no hostile line}" [ $ok = 1 ]
		attacked_ok=0
		dd_served i${n}a 20 && attacked_ok=1
		w_att=$why
		# the next benign run
		dd_cmd gmdda io b${n}a --seconds 15 $IOA
		dd_cmd gmddb io b${n}b --seconds 15 $IOB
		dd_job gmdda b${n}a 300
		dd_job gmddb b${n}b 300
		next=$(dd_rate b${n}a)
		att=$(dd_rate i${n}a)
		ratio=$(awk -v a="$att" -v p="$prev" -v q="$next" \
			'BEGIN { if (a != "" && p + q > 0) printf "%.2f", 2 * a / (p + q) }')
		dd_info "isolation ratio=${ratio:-?} ($h: guest A ${att:-?} requests/s beside a hostile B," \
			"${prev:-?} and ${next:-?} beside a benign one before and after; guest B:" \
			"${storm:-no storm line}; ${hostile:-no hostile line})"
		ok=0
		[ $attacked_ok = 1 ] && dd_served b${n}a 20 &&
			awk -v r="$ratio" 'BEGIN { exit !(r != "" && r >= 0.5) }' && ok=1
		dd_check isolation-ratio-$h "$w_att; $why; ratio=${ratio:-?} (want >= 0.5)" [ $ok = 1 ]
		worst=$(awk -v w="$worst" -v r="${ratio:-0}" 'BEGIN { print (w == "" || r < w) ? r : w }')
		prev=$next
	done
	dd_info "isolation ratio=${worst:-?} (the worse of the two attacks)"

	# ---- a guest that restarts ----------------------------------------------------------
	# Politely first: its rings are freed last, so the next run's rings
	# (granted first) reuse their refs for new pages; a backend that kept a
	# stale mapping would read the old pages there.  Then killed in the
	# middle of I/O: the next run finds its device Connected and closes it
	# first (Closing, the backend's Closed, then Initialising).
	r1=$(dd_ring_refs gmddb)
	dd_cmd gmddb io r2 --seconds 6 --queues 1 --depth 4 --timeout 60 --quiet
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
	dd_cmd gmddb io r3 --seconds 3600 $IOB
	dd_connected gmddb 120 && sleep 3
	dd_cmd gmddb signal r3 KILL
	dd_job gmddb r3 60
	dd_cmd gmddb io r4 --seconds 6 $IOB
	dd_job gmddb r4 300
	ok=0
	dd_served r4 10 && grep -q 'the device was left Connected' /tmp/dd-r4.out && ok=1
	dd_check guest-restart-after-kill "$why (after a killed run: Closing, Closed, Initialising)" [ $ok = 1 ]

	# ---- the backend killed in the middle of I/O --------------------------------------------
	# SIGKILL, and the same driver domain starts it again at once (as a
	# service manager would): the new one finds both devices left Connected
	# and closes them, the guests end every grant (the dead process's
	# mappings went with it), start again and go on verifying what they
	# wrote before (the images stayed).
	dd_cmd gmdda io k1a $FOLLOW $IOA
	dd_cmd gmddb io k1b $FOLLOW $IOB
	dd_connected gmdda 120 && dd_connected gmddb 120 && sleep 4
	dd_cmd gmdd signal blk KILL
	dd_info "backend killed: states it left: A's $(xenstore-read /local/domain/$dd/backend/gm-virtio/$a/0/state)," \
		"B's $(xenstore-read /local/domain/$dd/backend/gm-virtio/$b/0/state)"
	dd_backend gmdd blk2
	dd_job gmdd blk 60
	dd_again gmdda k1a 1 300
	dd_again gmddb k1b 1 300
	dd_cmd gmdda signal k1a TERM
	dd_cmd gmddb signal k1b TERM
	dd_job gmdda k1a 300
	dd_job gmddb k1b 300
	ok=1
	dd_followed k1a Closed 1 0 || ok=0
	w=$why
	dd_followed k1b Closed 1 0 || ok=0
	w="$w; $why"
	dd_check backend-killed-restarted "$w" [ $ok = 1 ]

	# ---- the driver domain destroyed and built again -----------------------------------
	dd_cmd gmdda io d1a $FOLLOW $IOA
	dd_cmd gmddb io d1b $FOLLOW $IOB
	dd_connected gmdda 120 && dd_connected gmddb 120 && sleep 4
	dd_t0=$(dd_now)
	xl destroy gmdd
	dd_gone "$dd" 120
	rc=$?
	dd_info "driver domain destroyed: gone from xl list after $dd_took s"
	dd_check dd-destroyed "domain $dd still listed after $dd_took s" [ $rc = 0 ]
	ok=0
	if dd_create gmdd2 /etc/gmdd/dd.cfg && dd_backend gmdd2 blk &&
		dd_vdev_add gmdda gmdd2 && dd_vdev_add gmddb gmdd2; then
		ok=1
	fi
	dd2=$(dd_domid gmdd2)
	dd_info "driver domain rebuilt as domain ${dd2:-?} in $(dd_since "$dd_t0") s"
	dd_again gmdda d1a 2 300
	dd_again gmddb d1b 2 300
	dd_cmd gmdda signal d1a TERM
	dd_cmd gmddb signal d1b TERM
	dd_job gmdda d1a 300
	dd_job gmddb d1b 300
	w=
	[ $ok = 1 ] || w="building the new driver domain failed;"
	dd_followed d1a Unknown 1 1 || ok=0
	w="$w $why"
	dd_followed d1b Unknown 1 1 || ok=0
	w="$w; $why"
	dd_check dd-rebuilt-followed "$w" [ $ok = 1 ]

	# ---- a guest destroyed in the middle of I/O ----------------------------------------
	dd_cmd gmdda io f1a --seconds 25 $IOA
	dd_cmd gmddb io f1b --seconds 3600 $IOB
	dd_connected gmddb 120 && sleep 4
	dd_t0=$(dd_now)
	xl destroy gmddb
	t=$(dd_since "$dd_t0")
	dd_gone "$b" 120
	rc=$?
	dd_info "guest B destroyed in the middle of I/O: gone from xl list after $dd_took s" \
		"(xl destroy returned after $t s)"
	if [ $rc != 0 ]; then
		xl list
		xenstore-ls "/local/domain/$dd2/backend/gm-virtio/$b" 2>&1 | head -20
	fi
	dd_check guest-destroyed-released "domain $b still in xl list after $dd_took s (a zombie: still mapped?)" \
		[ $rc = 0 ]
	grantmem-vdev remove --xen real --backend-domid "$dd2" --frontend-domid "$b" --devid 0 \
		>/tmp/vdev.out 2>&1 || show "grantmem-vdev remove" /tmp/vdev.out
	dd_job gmdda f1a 300
	ok=0
	dd_served f1a 20 && ok=1
	dd_check survivor-served "$why" [ $ok = 1 ]

	# ---- the end: the backend stopped, every domain gone --------------------------------------
	dd_cmd gmdd2 signal blk TERM
	dd_job gmdd2 blk 60
	left=$(sed -n 's/.*mapped_pages_at_exit=\([0-9]*\).*/\1/p' /tmp/dd-blk.out | tail -n 1)
	ok=0
	[ "$jrc" = 0 ] && [ "$left" = 0 ] && ok=1
	dd_check backend-exit "exit ${jrc:-none}, mapped_pages_at_exit=${left:-?}" [ $ok = 1 ]
	xl destroy gmdda
	xl destroy gmdd2
	dd_t0=$(dd_now)
	ok=1
	dd_gone "$a" 120 || ok=0
	dd_gone "$dd2" 120 || ok=0
	dd_check all-gone "a domain is still listed" [ $ok = 1 ]
	dd_info "scenario took $(dd_since "$t_dd") s"
}
