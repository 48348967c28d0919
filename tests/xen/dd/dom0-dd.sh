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
# dd_text NAME: domain NAME's console log so far, without the console's \r
dd_text() { tr -d '\r' <"$(dd_log "$1")"; }
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
	rc=$(dd_text "$name" | sed -n "s/.*GMDD ack $dd_seq rc=\([0-9]*\).*/\1/p" | tail -n 1)
	return "${rc:-99}"
}

# dd_job NAME TAG SECONDS: wait for a job's end; its output goes to
# /tmp/dd-TAG.out, its exit status to $jrc (empty: it did not end), its
# summary line to an INFO line.
dd_job() {
	jrc=
	dd_wait "$1" "GMDD $2 exit [0-9]+" "$3" || true
	dd_text "$1" | sed -n "s/.*GMDD $2 | //p" >/tmp/dd-$2.out
	jrc=$(dd_text "$1" | sed -n "s/.*GMDD $2 exit \([0-9]*\).*/\1/p" | tail -n 1)
	show "driver-domain: $1 $2 (exit ${jrc:-none}, at $(dd_now) s)" /tmp/dd-$2.out
	s=$(grep '^summary:' /tmp/dd-$2.out | tail -n 1)
	[ -z "$s" ] || dd_info "$1 $2 $s"
}

# dd_field TAG KEY: KEY=value from the job's summary line.
dd_field() {
	grep '^summary:' /tmp/dd-$1.out 2>/dev/null | tail -n 1 | tr ' ' '\n' | sed -n "s/^$2=//p"
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

# dd_progress NAME TAG: "T N" from job TAG's last progress line (T: seconds
# into its run, by its own clock; N: requests completed so far).
dd_progress() {
	dd_text "$1" |
		sed -n "s/.*GMDD $2 | progress: t=\([0-9]*\)s requests=\([0-9]*\).*/\1 \2/p" | tail -n 1
}

# dd_rate_between "T0 N0" "T1 N1": requests per second between two samples.
dd_rate_between() {
	awk -v a="$1" -v b="$2" 'BEGIN {
		split(a, x, " "); split(b, y, " ")
		if (y[1] > x[1]) printf "%.2f", (y[2] - x[2]) / (y[1] - x[1]) }'
}

# dd_window GUEST TAG: wait until run TAG of GUEST is in its main phase (its
# first progress line), sample guest A's run, wait for TAG's end, sample A
# again; A's rate in between goes to wrate, TAG's status to jrc.
dd_window() {
	dd_wait "$1" "GMDD $2 \\| progress: " 300 || echo "driver-domain: $1 $2 never got going"
	w0=$(dd_progress gmdda a)
	dd_job "$1" "$2" 300
	w1=$(dd_progress gmdda a)
	wrate=$(dd_rate_between "$w0" "$w1")
	echo "driver-domain: guest A from [${w0:-none}] to [${w1:-none}] during $1 $2: ${wrate:-?} requests/s"
}

# dd_tail NAME TAG: the last lines job TAG of NAME printed so far (for a
# check that failed while the job goes on).
dd_tail() {
	dd_text "$1" | grep -a "GMDD $2 | " | tail -n 40 >/tmp/dd-tail.out
	show "driver-domain: $1 $2 so far" /tmp/dd-tail.out
}

# dd_said NAME TAG ERE: did job TAG of NAME print a matching line so far?
dd_said() {
	[ "$(dd_said_count "$@")" -gt 0 ]
}

# dd_followed_in NAME TAG DOMID: the seconds job TAG of NAME took, from
# losing its backend to being served by domain DOMID (its last such line).
dd_followed_in() {
	dd_text "$1" |
		sed -n "s/.*GMDD $2 | .*served again by backend domain $3, \([0-9.]*\) s after the loss.*/\1/p" |
		tail -n 1
}

# dd_said_count NAME TAG ERE: how many such lines.
dd_said_count() {
	dd_text "$1" | grep -a -c -E "GMDD $2 \\| .*($3)"
}

# The guests' I/O: 4 KiB random reads and writes, every byte read verified.
# Guest A does steady I/O (--rate) with fresh grants per request, in one run
# that lasts the whole scenario and follows the device through every fault
# (--follow); B takes the persistent grants offered, on two queues (its
# storm and hostile requests take the second), in a run per phase.  Under
# TCG on a loaded host a request can take seconds: a run gives up after 60 s
# without a completion; --follow waits up to 600 s for the device to come
# back.
RATE_A=40
IOA="--no-persistent --depth 8 --size 4096 --timeout 60 --rate $RATE_A"
IOB="--queues 2 --depth 4 --size 4096 --queue-size 256 --timeout 60"
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

	# ---- both guests served at once, by one backend; B turns hostile ---------------
	# A starts its one run; B runs benign, then hostile, then benign again.
	# B's hostile run notifies its first queue without pause and floods its
	# second with requests the device must refuse (16 MiB reads) in turn with
	# chains of one page repeated seg_max times.  A's rate during each of B's
	# runs, by A's own progress lines; the ratio compares the hostile window
	# with the mean of the benign ones around it.
	dd_backend gmdd blk
	rc=$?
	[ $rc = 0 ] || result FAIL driver-domain/backend-start "grantmem-blk did not start ($rc)"
	dd_cmd gmdda io a $FOLLOW $IOA
	dd_connected gmdda 180 && dd_wait gmdda "GMDD a \\| progress: " 120
	dd_cmd gmddb io p1b --seconds 20 $IOB
	dd_window gmddb p1b
	ben1=$wrate
	m=$(dd_field p1b map_calls_per_request)
	ok=0
	dd_served p1b 20 && grep -q 'steady state' /tmp/dd-p1b.out &&
		awk -v m="$m" 'BEGIN { exit !(m != "" && m + 0 == 0) }' && ok=1
	dd_check serve-b-persistent "$why, map_calls_per_request=${m:-?} (want persistent grants, 0)" [ $ok = 1 ]

	dd_cmd gmddb io h2b --seconds 25 --storm-queue 0 --hostile flood $IOB
	dd_window gmddb h2b
	att=$wrate
	storm=$(grep '^storm:' /tmp/dd-h2b.out | tail -n 1)
	hostile=$(grep '^hostile:' /tmp/dd-h2b.out | tail -n 1)
	# B's run ended cleanly: every grant it had ended (so nothing of it
	# stayed mapped), the backend stopped waking for the stormed queue,
	# every hostile request refused or answered as it must be
	ok=0
	dd_served h2b 0 && [ -n "$storm" ] && [ -n "$hostile" ] &&
		case "$hostile" in *" unanswered=0"*) true ;; *) false ;; esac && ok=1
	dd_check hostile-contained "$why, ${storm:-no storm line}, ${hostile:-no hostile line}" [ $ok = 1 ]

	# ---- a guest that restarts ----------------------------------------------------------
	# Politely first (and benign, for the ratio): its rings are freed last,
	# so the next run's rings (granted first) reuse their refs for new
	# pages; a backend that kept a stale mapping would read the old pages
	# there.
	r1=$(dd_ring_refs gmddb)
	dd_cmd gmddb io r2b --seconds 20 --queues 1 --depth 4 --timeout 60
	dd_window gmddb r2b
	ben2=$wrate
	r2=$(dd_ring_refs gmddb)
	ratio=$(awk -v a="$att" -v p="$ben1" -v q="$ben2" \
		'BEGIN { if (a != "" && p + q > 0) printf "%.2f", 2 * a / (p + q) }')
	dd_info "isolation ratio=${ratio:-?} (guest A at a steady $RATE_A requests/s:" \
		"${att:-?} requests/s beside a hostile B, ${ben1:-?} and ${ben2:-?} beside a benign one" \
		"before and after; guest B: ${storm:-no storm line}; ${hostile:-no hostile line})"
	ok=0
	awk -v r="$ratio" 'BEGIN { exit !(r != "" && r >= 0.5) }' && ok=1
	dd_check isolation-ratio "ratio=${ratio:-?} (want >= 0.5)" [ $ok = 1 ]
	reused=0
	for r in $r2; do
		case " $r1 " in *" $r "*) reused=$((reused + 1)) ;; esac
	done
	dd_info "guest restart: ring refs before [ $r1], after [ $r2], $reused reused"
	ok=0
	dd_served r2b 10 && [ $reused -ge 1 ] && ok=1
	dd_check guest-restart-reused-grefs "$why, $reused ring ref(s) reused" [ $ok = 1 ]

	# Then killed in the middle of I/O: the next run finds its device
	# Connected and closes it first (Closing, the backend's Closed, then
	# Initialising); that run goes on through the faults below.
	dd_cmd gmddb io r3b --seconds 3600 --quiet $IOB
	dd_connected gmddb 120 && sleep 3
	dd_cmd gmddb signal r3b KILL
	dd_job gmddb r3b 60
	dd_cmd gmddb io b $FOLLOW --quiet $IOB
	dd_wait gmddb "GMDD b \\| .*the device was left Connected" 120
	dd_connected gmddb 120 && sleep 4

	# ---- the backend killed in the middle of I/O --------------------------------------------
	# SIGKILL, and the same driver domain starts it again at once (as a
	# service manager would): the new one finds both devices left Connected
	# and closes them, the guests end every grant (the dead process's
	# mappings went with it), start again and go on verifying what they
	# wrote before (the images stayed).
	dd_cmd gmdd signal blk KILL
	dd_info "backend killed: states it left: A's $(xenstore-read /local/domain/$dd/backend/gm-virtio/$a/0/state)," \
		"B's $(xenstore-read /local/domain/$dd/backend/gm-virtio/$b/0/state)"
	dd_backend gmdd blk2
	dd_job gmdd blk 60
	dd_again gmdda a 1 300
	dd_again gmddb b 1 300
	ok=1 w=
	for g in gmdda:a gmddb:b; do
		n=${g%:*} t=${g#*:}
		dd_said "$n" "$t" "the backend left Connected \\(Closed\\): following" &&
			dd_said "$n" "$t" "every grant ended" &&
			[ "$(dd_said_count "$n" "$t" "served again by backend domain $dd, ")" -ge 1 ] ||
			{ ok=0; w="$w $n did not follow the restarted backend;"; dd_tail "$n" "$t"; }
	done
	dd_info "backend killed and restarted: guest A served again $(dd_followed_in gmdda a "$dd") s" \
		"after the loss, guest B $(dd_followed_in gmddb b "$dd") s"
	dd_check backend-killed-restarted "${w:-}" [ $ok = 1 ]

	# ---- the driver domain destroyed and built again -----------------------------------
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
	dd_again gmdda a 2 300
	dd_again gmddb b 2 300
	w=
	[ $ok = 1 ] || w="building the new driver domain failed;"
	for g in gmdda:a gmddb:b; do
		n=${g%:*} t=${g#*:}
		dd_said "$n" "$t" "the backend left Connected \\(Unknown\\): following" &&
			[ "$(dd_said_count "$n" "$t" "served again by backend domain ${dd2:-none}, ")" -ge 1 ] ||
			{ ok=0; w="$w $n did not follow the new driver domain;"; dd_tail "$n" "$t"; }
	done
	dd_info "driver domain rebuilt: guest A served again $(dd_followed_in gmdda a "${dd2:-none}") s" \
		"after the loss, guest B $(dd_followed_in gmddb b "${dd2:-none}") s"
	dd_check dd-rebuilt-followed "${w:-}" [ $ok = 1 ]

	# B's run through both faults ends: served throughout, every grant
	# ended each time, and the one before it was killed (see above)
	dd_cmd gmddb signal b TERM
	dd_job gmddb b 300
	ok=0
	dd_followed b "Closed|Unknown" 2 1 && grep -q 'the device was left Connected' /tmp/dd-b.out && ok=1
	dd_check guest-restart-after-kill "$why (after a killed run: Closing, Closed, Initialising; then both faults)" \
		[ $ok = 1 ]

	# ---- a guest destroyed in the middle of I/O ----------------------------------------
	dd_cmd gmddb io f1b --seconds 3600 --quiet $IOB
	dd_connected gmddb 120 && sleep 4
	w0=$(dd_progress gmdda a)
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
	sleep 10
	w1=$(dd_progress gmdda a)
	dd_info "guest A while B went: from [${w0:-none}] to [${w1:-none}]"
	ok=0
	awk -v a="$w0" -v b="$w1" 'BEGIN { split(a, x, " "); split(b, y, " ")
		exit !(a != "" && y[2] - x[2] >= 10) }' && ok=1
	dd_check survivor-served "guest A from [${w0:-none}] to [${w1:-none}] (want 10 more requests)" [ $ok = 1 ]

	# ---- the end: A's run, the backend, every domain ----------------------------------
	# A's one run: served with fresh grants, every byte verified, both faults
	# followed (lost twice, once to another domain), every grant ended.
	dd_cmd gmdda signal a TERM
	dd_job gmdda a 300
	m=$(dd_field a map_calls_per_request)
	ok=0
	dd_followed a "Closed|Unknown" 2 1 && ! grep -q 'steady state' /tmp/dd-a.out &&
		awk -v m="$m" 'BEGIN { exit !(m != "" && m + 0 <= 1.0) }' && ok=1
	dd_check serve-a-transient "$why, map_calls_per_request=${m:-?} (want <= 1.0, fresh grants)" [ $ok = 1 ]
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
