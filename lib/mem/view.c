/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Views: a restricted window (or list of windows) onto another object. */
#include "config.h"

#include "mem-internal.h"

#include <string.h>

struct gm_view {
	struct gm_mem mem; /* must stay first */
	gm_mem *target;
	int prot;
	unsigned n;
	struct gm_sg win[]; /* sorted by address, non-overlapping */
};

static int view_locate(gm_mem *m, uint64_t addr, int prot, struct gm__loc *loc)
{
	gm_view *v = (gm_view *)m;
	unsigned lo = 0, hi = v->n;

	while (lo < hi) {
		unsigned mid = lo + (hi - lo) / 2;
		if (v->win[mid].addr <= addr)
			lo = mid + 1;
		else
			hi = mid;
	}
	if (lo == 0)
		return -EFAULT;
	const struct gm_sg *w = &v->win[lo - 1];
	uint64_t into = addr - w->addr;
	if (into >= w->len)
		return -EFAULT;
	if (prot & ~v->prot)
		return -EACCES;
	int ret = gm__locate(v->target, addr, prot, loc); /* through the target's ops */
	if (ret)
		return ret;
	if (loc->avail > w->len - into)
		loc->avail = w->len - into;
	return 0;
}

static const struct gm__mem_ops view_mem_ops = {.locate = view_locate};

static int cmp_win(const void *a, const void *b)
{
	const struct gm_sg *x = a, *y = b;

	return x->addr < y->addr ? -1 : x->addr > y->addr;
}

GM_API int gm_view_new(gm_mem *target, const struct gm_sg *windows, unsigned n, int prot,
		       gm_view **out)
{
	if (!out)
		return -EINVAL;
	*out = NULL;
	if (!target || !windows || !n || !(prot & GM_PROT_RW) || (prot & ~GM_PROT_RW))
		return -EINVAL;
	for (unsigned i = 0; i < n; i++)
		if (!windows[i].len || !gm__range_ok(windows[i].addr, windows[i].len))
			return -EINVAL;
	gm_view *v = gm__malloc(sizeof(*v) + n * sizeof(v->win[0]));
	if (!v)
		return -ENOMEM;
	v->mem = (struct gm_mem){.ops = &view_mem_ops, .base = target->base, .rd = target->rd};
	v->target = target;
	v->prot = prot;
	v->n = n;
	memcpy(v->win, windows, n * sizeof(v->win[0]));
	qsort(v->win, n, sizeof(v->win[0]), cmp_win);
	for (unsigned i = 1; i < n; i++) {
		if (v->win[i].addr <= v->win[i - 1].addr + (v->win[i - 1].len - 1)) {
			free(v);
			return -EINVAL;
		}
	}
	*out = v;
	return 0;
}

GM_API void gm_view_free(gm_view *v)
{
	free(v);
}

GM_API gm_mem *gm_view_mem(gm_view *v)
{
	return v ? &v->mem : NULL;
}

