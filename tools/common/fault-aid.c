// SPDX-License-Identifier: LGPL-2.1-or-later
/* The --fault testing aid (fault-aid.h). */
#include "config.h"

#include "fault-aid.h"

#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *const sites[] = {
	"alloc", "gnttab_open", "gnttab_set_max_grants", "gnttab_map", "gnttab_unmap",
	"gnttab_copy", "evtchn_open", "evtchn_bind_interdomain", "evtchn_unbind",
	"evtchn_notify", "evtchn_pending", "evtchn_unmask", "xs_open", "xs_read", "xs_write",
	"xs_directory", "xs_rm", "xs_mkdir", "xs_set_perms", "xs_watch", "xs_unwatch",
	"xs_read_watch", "xs_tx_start", "xs_tx_end", "xs_domain_path",
};

static struct {
	const char *prog;
	char *site; /* NULL: no --fault */
	unsigned nth;
	int err;
	bool on_disconnect;
	atomic_bool armed, fired;
} fault;

int fault_aid_parse(const char *prog, const char *arg)
{
	static const struct {
		const char *name;
		int err;
	} names[] = {
		{"EIO", EIO}, {"ENOMEM", ENOMEM}, {"EAGAIN", EAGAIN}, {"ENOSPC", ENOSPC},
		{"EBUSY", EBUSY}, {"EINVAL", EINVAL}, {"ENOENT", ENOENT}, {"EACCES", EACCES},
		{"ECONNRESET", ECONNRESET},
	};
	char *s = strdup(arg), *n, *e, *end;
	uint64_t v;

	if (!s)
		return -ENOMEM;
	n = strchr(s, ':');
	if (!n)
		goto bad;
	*n++ = '\0';
	e = strchr(n, ':');
	if (e)
		*e++ = '\0';
	/* strict, as every number the tools take: no sign, space or garbage */
	if (gm_vdev_parse_u64(n, UINT_MAX, &v) < 0)
		goto bad;
	fault.nth = (unsigned)v;
	fault.err = strcmp(s, "alloc") ? -EIO : -ENOMEM;
	if (e) {
		long x = strtol(e, &end, 10);

		fault.err = 0;
		if (end != e && !*end && x != 0 && x > -4096 && x < 4096)
			fault.err = x < 0 ? (int)x : -(int)x;
		for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++)
			if (!strcmp(e, names[i].name))
				fault.err = -names[i].err;
		if (!fault.err)
			goto bad;
	}
	/* an unknown site is refused here, not when the device connects */
	if (gm_fault_inject(s, 0, fault.err) < 0)
		goto bad;
	gm_fault_reset();
	free(fault.site);
	fault.site = s;
	fault.prog = prog;
	return 0;
bad:
	free(s);
	return -EINVAL;
}

void fault_aid_on_disconnect(bool on)
{
	fault.on_disconnect = on;
}

bool fault_aid_active(void)
{
	return fault.site != NULL;
}

void fault_aid_served(gm_dev_conn *c, unsigned nq, char *buf, size_t size)
{
	size_t at = 0;

	buf[0] = '\0';
	for (unsigned i = 0; c && i < nq && at < size; i++) {
		struct gm_dev_stats st = {.size = sizeof(st)};

		gm_dev_conn_stats(c, (int)i, &st);
		at += (size_t)snprintf(buf + at, size - at, " q%u=%" PRIu64, i, st.requests);
	}
}

void fault_aid_arm(bool disconnecting)
{
	if (!fault.site || fault.on_disconnect != disconnecting || atomic_load(&fault.armed))
		return;
	gm_fault_reset(); /* every site counts from here */
	if (gm_fault_inject(fault.site, fault.nth, fault.err) < 0)
		return;
	atomic_store(&fault.armed, true);
	printf("%s: fault %s:%u armed (%d) at %s\n", fault.prog, fault.site, fault.nth, fault.err,
	       disconnecting ? "disconnect" : "connect");
	fflush(stdout);
}

void fault_aid_check(gm_dev_conn *c, bool disconnecting)
{
	char served[256];
	unsigned nq = 0;

	if (!atomic_load(&fault.armed) || !fault.nth || atomic_load(&fault.fired) ||
	    gm_fault_count(fault.site) < fault.nth || atomic_exchange(&fault.fired, true))
		return;
	if (c)
		nq = gm_dev_get_config(gm_dev_conn_dev(c))->max_queues;
	if (c && gm_dev_conn_vdev(c))
		nq = gm_vdev_frontend_info(gm_dev_conn_vdev(c))->num_queues;
	fault_aid_served(c, nq, served, sizeof(served));
	printf("%s: fault %s:%u fired (%d) %s%s\n", fault.prog, fault.site, fault.nth, fault.err,
	       !c ? "with no frontend connected" : disconnecting ? "while disconnecting:"
								  : "while serving:",
	       served);
	fflush(stdout);
}

void fault_aid_report(void)
{
	if (!fault.site)
		return;
	fault_aid_check(NULL, false);
	printf("%s: fault calls since armed:", fault.prog);
	for (size_t i = 0; i < sizeof(sites) / sizeof(sites[0]); i++) {
		unsigned long n = gm_fault_count(sites[i]);

		if (n)
			printf(" %s=%lu", sites[i], n);
	}
	printf("%s\n", atomic_load(&fault.armed) ? "" : " (never armed)");
	free(fault.site);
	fault.site = NULL;
}
