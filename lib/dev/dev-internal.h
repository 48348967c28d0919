/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * grantmem internals, the backend loop (lib/dev): what its transports in
 * this folder share.  Never installed.
 */
#ifndef GM_DEV_INTERNAL_H
#define GM_DEV_INTERNAL_H

#include <grantmem/dev.h>

/*
 * gm__dev_attach - gm_dev_attach, with the connection's vdev device set
 * before the device's connect callback sees it (the vdev transport).
 */
int gm__dev_attach(gm_dev *d, const struct gm_dev_attach *a, gm_vdev *vd, gm_dev_conn **out);

#endif /* GM_DEV_INTERNAL_H */
