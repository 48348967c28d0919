/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * A testing aid for backends built on the backend loop (dev.h):
 * --fault SITE:N[:ERRNO] makes the Nth call at the library's fault site
 * SITE (gm_fault_inject) fail with -ERRNO (default EIO; ENOMEM for
 * "alloc"), counting from the moment the first driver's queues serve, or
 * (--fault-on disconnect) from the start of its first disconnect.  N = 0
 * only counts the calls.  Reported on stdout, each line starting with the
 * program's name: when the fault is armed, when it fired and what each
 * queue had served by then, and at exit the calls every site saw after
 * the arming.  tests/test-fault-sweep-blk.sh reads these lines.
 */
#ifndef GM_TOOLS_FAULT_AID_H
#define GM_TOOLS_FAULT_AID_H

#include <grantmem/dev.h>

#include <stdbool.h>
#include <stddef.h>

/* Parse --fault's SITE:N[:ERRNO] (ERRNO: a number, or EIO, ENOMEM, ...);
 * @prog prefixes the lines.  0 or -EINVAL (an unknown site too). */
int fault_aid_parse(const char *prog, const char *arg);

/* --fault-on disconnect (@on) or connect. */
void fault_aid_on_disconnect(bool on);

/* Is a fault asked for? */
bool fault_aid_active(void);

/* Arm it, once, at the point --fault-on names: when the first driver's
 * queues serve (@disconnecting false) or when it first disconnects. */
void fault_aid_arm(bool disconnecting);

/*
 * Report the fault once it has fired (the first caller to see it), with
 * what each queue of @c (NULL: none) had served by then, and whether @c was
 * @disconnecting.  Any thread.
 */
void fault_aid_check(gm_dev_conn *c, bool disconnecting);

/* " q0=N q1=N ...": what each of the first @nq queues of @c served. */
void fault_aid_served(gm_dev_conn *c, unsigned nq, char *buf, size_t size);

/* At exit: the calls each site saw since the arming. */
void fault_aid_report(void);

#endif /* GM_TOOLS_FAULT_AID_H */
