# SPDX-License-Identifier: LGPL-2.1-or-later
#
# Sourced by the /init of the driver-domain scenario's domains (dd-init,
# guest-init; tests/xen/dd/).  Brings the domain up (mounts, Xen drivers)
# and runs the agent: dom0, the toolstack of the scenario, writes commands
# into this domain's xenstore directory, and the agent runs them and
# answers on the console, which xenconsoled logs in dom0:
#
#   data/gmdd-cmd = "<seq> <verb> <args...>"     (written by dom0)
#   GMDD ack <seq> rc=<exit status of cmd_<verb>>  (console)
#
# (dom0 writes the node only after the previous command was answered.)  A
# job (a command cmd_* runs, in the background or not) reports its output
# as it comes, then its status:
#
#   GMDD <tag> | <each line of its output>
#   GMDD <tag> exit <status>
export PATH=/bin:/sbin:/usr/bin:/usr/sbin

uptime_s() { cut -d' ' -f1 /proc/uptime; }
say() { echo "GMDD note $*"; }

# agent_boot MODULE...: mounts, then the Xen drivers in the given order.
agent_boot() {
	mount -t proc proc /proc
	mount -t sysfs sysfs /sys
	mount -t devtmpfs devtmpfs /dev
	mount -t tmpfs tmpfs /tmp
	mount -t tmpfs tmpfs /run
	for m in "$@"; do
		insmod /mod/$m.ko || say "insmod $m failed"
	done
	if [ -d /proc/xen ] || mkdir -p /proc/xen 2>/dev/null; then
		grep -q xenfs /proc/filesystems && mount -t xenfs xenfs /proc/xen
	fi
	self=$(xenstore-read domid 2>/dev/null)
	name=$(xenstore-read name 2>/dev/null)
	say "$name is domain ${self:-?}, up at $(uptime_s) s"
}

# report TAG STATUS FILE: a finished job's output, then its status.
report() {
	tr -d '\r' <"$3" | sed "s/^/GMDD $1 | /"
	echo "GMDD $1 exit $2"
}

# job TAG COMMAND...: run COMMAND in the background, its output on the
# console as it comes (each line tagged), then its status; the command's
# pid goes to /tmp/TAG.cmdpid.  Each line reaches the console when the
# command writes it: the shell's read and echo pass it on at once, where
# a filter (busybox sed or tr, even writing to a terminal) would hold lines
# back until its buffer filled, and dom0 waits for them.
job() {
	tag=$1
	shift
	(
		{
			"$@" 2>&1 &
			echo $! >/tmp/$tag.cmdpid
			wait $!
			echo $? >/tmp/$tag.rc
		} | while IFS= read -r line; do echo "GMDD $tag | $line"; done
		echo "GMDD $tag exit $(cat /tmp/$tag.rc)"
	) &
}

# job_pid TAG: the command's own pid (for signals), once it started.
job_pid() {
	for _ in $(seq 50); do
		[ -s /tmp/$1.cmdpid ] && { cat /tmp/$1.cmdpid; return 0; }
		sleep 0.1
	done
	return 1
}

# The command loop: xenstore-watch wakes it for each write of the command
# node (and once at the start); nothing polls while nothing happens.
agent_step() {
	c=$(xenstore-read data/gmdd-cmd 2>/dev/null) || return 0
	seq=${c%% *}
	[ -n "$c" ] && [ "$seq" != "$(cat /tmp/agent.last 2>/dev/null)" ] || return 0
	echo "$seq" >/tmp/agent.last
	# shellcheck disable=SC2086
	set -- ${c#* }
	verb=$1
	shift
	echo "GMDD cmd $seq: $verb $*"
	if type "cmd_$verb" >/dev/null 2>&1; then
		"cmd_$verb" "$@"
		rc=$?
	else
		rc=127
	fi
	echo "GMDD ack $seq rc=$rc"
}

agent() {
	echo "GMDD ready $(uptime_s)"
	xenstore-watch data/gmdd-cmd | while read -r _; do
		agent_step
	done
	# /init must not end (the kernel would panic): poll instead
	say "xenstore-watch ended; polling"
	while :; do
		agent_step
		sleep 1
	done
}
