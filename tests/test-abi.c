/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Versioned structs (common.h): every public config, stats and info struct
 * handed to this library as a caller of another version would hand it.
 *
 * - an older caller: its struct ends before the library's.  Stats and info
 *   are filled only up to its size (the bytes after it, which belong to
 *   something else of the caller, stay as they were); gm_dev_config's
 *   first version (before queues_per_thread), laid out here as such a
 *   program had it, is taken with the newer field's default.
 * - size 0: the first version.
 * - a newer caller: its struct goes on past the library's.  A config whose
 *   unknown tail is zero is taken, one that sets it is refused (-E2BIG);
 *   stats leave the unknown tail alone and say in size what they filled.
 * - a size below a config's first version: -EINVAL.
 * Ops tables are inputs too, checked the same way.
 */
#include "config.h"

#include "test-emu-common.h"

#include <grantmem/ioreq.h>

#define TAIL 32
#define JUNK 0xa5

/* A caller's struct of @n bytes inside room for any struct and a tail:
 * its first bytes from @init, size = @n, everything after it junk. */
static unsigned char room[sizeof(struct gm_vdev_front_info) + 2 * TAIL];

static void *caller(const void *init, size_t cur, size_t n)
{
	memset(room, JUNK, sizeof(room));
	memcpy(room, init, n && n < cur ? n : cur); /* 0: the first version, whole */
	if (n > cur)
		memset(room + cur, 0, n - cur); /* a newer caller's fields, unset */
	memcpy(room, &n, sizeof(n));
	return room;
}

static size_t size_of(const void *p)
{
	size_t n;

	memcpy(&n, p, sizeof(n));
	return n;
}

static bool junk_from(size_t off)
{
	for (size_t i = off; i < sizeof(room); i++)
		if (room[i] != JUNK)
			return false;
	return true;
}

/* ---- outputs: @fill(p) fills a struct of the library's @cur bytes ---- */
typedef void (*fill_fn)(void *p);

/* @v1: the bytes of the struct's first version (@cur, but for grown ones) */
static void check_out_v1(const char *what, fill_fn fill, size_t cur, size_t v1)
{
	static const unsigned char zero[sizeof(room)];

	/* The library's own size. */
	fill(caller(zero, cur, cur));
	ASSERT_EQ(size_of(room), cur);
	ASSERT_TRUE(junk_from(cur));
	/* Older: one field less; nothing written past it. */
	size_t old = cur - 8;
	fill(caller(zero, cur, old));
	if (size_of(room) != old || !junk_from(old))
		GM_TEST_FAIL("%s: an older caller's struct was overrun", what);
	/* Size 0: the first version (but its tail padding). */
	fill(caller(zero, cur, 0));
	ASSERT_TRUE(size_of(room) <= v1 && size_of(room) + 8 > v1);
	ASSERT_TRUE(junk_from(cur));
	/* Newer: its tail is left alone, size says what was filled. */
	fill(caller(zero, cur, cur + TAIL));
	ASSERT_EQ(size_of(room), cur);
	for (size_t i = cur; i < cur + TAIL; i++)
		if (room[i])
			GM_TEST_FAIL("%s: a newer caller's field was written", what);
	/* Below sizeof(size_t): nothing at all. */
	fill(caller(zero, cur, 4));
	ASSERT_TRUE(junk_from(sizeof(size_t)));
}

static void check_out(const char *what, fill_fn fill, size_t cur)
{
	check_out_v1(what, fill, cur, cur);
}

/* ---- inputs: @use(p) returns the call's result for config @p ---- */
typedef int (*use_fn)(const void *p);

static void check_in(const char *what, use_fn use, const void *good, size_t cur)
{
	ASSERT_OK(use(caller(good, cur, cur)));
	ASSERT_OK(use(caller(good, cur, 0)));
	ASSERT_OK(use(caller(good, cur, cur + TAIL)));
	caller(good, cur, cur + TAIL);
	room[cur + TAIL - 1] = 1; /* a field this library does not know, set */
	if (use(room) != -E2BIG)
		GM_TEST_FAIL("%s: a newer caller's field was ignored", what);
	ASSERT_ERR(use(caller(good, cur, 4)), -EINVAL);
}

/* ---- the library's calls ---- */
static struct emu_test T;
static gm_xen *X;
static gm_xs *XS;
static gm_gnttab *GT;
static gm_grant_cache *C;
static gm_region *RAM;
static gm_dev *D;
static gm_dev_conn *CONN;
static gm_vq *VQ;

static void f_grant(void *p) { gm_grant_cache_stats(C, p); }
static void f_vq(void *p) { gm_vq_stats(VQ, p); }
static void f_dev(void *p) { ASSERT_OK(gm_dev_conn_stats(CONN, -1, p)); }
static void f_emu_dom(void *p) { ASSERT_OK(gm_emu_domain_info(X, 0, p)); }
static void f_emu_world(void *p) { ASSERT_OK(gm_emu_world_info(X, p)); }
static void f_ioreq_dev(void *p) { gm_ioreq_dev_stats(NULL, p); }
static void f_ioreq_server(void *p) { gm_ioreq_server_stats(NULL, p); }
static void f_back(void *p) { ASSERT_OK(gm_vdev_read_backend(XS, "/abi/be", p)); }
static void f_xl(void *p) { ASSERT_OK(gm_vdev_parse_xl_virtio(XS, "/abi/xl", p)); }

static struct gm_vdev_limits LIM = {.features = 1ull << GM_VIRTIO_F_VERSION_1,
				    .max_queues = 4, .max_queue_size = 256, .layouts = 1};
static void f_front(void *p) { ASSERT_OK(gm_vdev_read_frontend(XS, "/abi/fe", &LIM, p)); }

static int u_cache(const void *p)
{
	gm_grant_cache *c;
	int r = gm_grant_cache_new(GT, p, &c);

	gm_grant_cache_free(c);
	return r;
}

static int u_vq(const void *p)
{
	gm_vq *q;
	int r = gm_vq_new(gm_region_mem(RAM), p, &q);

	gm_vq_free(q);
	return r;
}

static int u_dev(const void *p)
{
	gm_dev *d;
	int r = gm_dev_new(p, &d);

	gm_dev_free(d);
	return r;
}

static int u_attach(const void *p)
{
	gm_dev_conn *c;
	int r = gm_dev_attach(D, p, &c);

	if (!r)
		gm_dev_detach(c);
	return r;
}

static int u_limits(const void *p)
{
	struct gm_vdev_front_info fi = {0};

	return gm_vdev_read_frontend(XS, "/abi/fe", p, &fi);
}

static int u_publish(const void *p) { return gm_vdev_publish_frontend(XS, "/abi/fe", p); }

static int q_enable(void *o, gm_ioreq_dev *d, unsigned q, const struct gm_ioreq_queue *i)
{
	(void)o, (void)d, (void)q, (void)i;
	return 0;
}
static void q_other(void *o, gm_ioreq_dev *d, unsigned q) { (void)o, (void)d, (void)q; }
static const struct gm_ioreq_dev_ops IOPS = {
	.queue_enable = q_enable, .queue_disable = q_other, .queue_notify = q_other};

static int u_ioreq_dev(const void *p)
{
	gm_ioreq_dev *d;
	int r = gm_ioreq_dev_new(gm_region_mem(RAM), NULL, 5, p, &IOPS, NULL, NULL, NULL, &d);

	if (!r)
		gm_ioreq_dev_free(d);
	return r;
}

static int b_connect(void *o, gm_vdev *d) { (void)o, (void)d; return 0; }
static void b_disconnect(void *o, gm_vdev *d) { (void)o, (void)d; }
static const struct gm_vdev_backend_ops BOPS = {.connect = b_connect, .disconnect = b_disconnect};

static int u_backend(const void *p)
{
	gm_vdev_backend *b;
	int r = gm_vdev_backend_new(X, p, &BOPS, NULL, &b);

	if (!r)
		gm_vdev_backend_free(b);
	return r;
}

static int t_notify(void *o, unsigned q) { (void)o, (void)q; return 0; }
static const struct gm_dev_transport TOPS = {.notify = t_notify};
static int64_t h_req(void *o, gm_dev_queue *q, struct gm_vq_req *r)
{
	(void)o, (void)q, (void)r;
	return 0;
}
static const struct gm_dev_handler HANDLER = {.request = h_req};

/* ---- ops tables ---- */
static void *r_map(gm_region *r, uint64_t off, size_t *len, int flags, int *err)
{
	(void)r, (void)off, (void)len, (void)flags;
	*err = -EIO;
	return NULL;
}
static void r_unmap(gm_region *r, void *p, uint64_t off, size_t len, int flags, size_t al)
{
	(void)r, (void)p, (void)off, (void)len, (void)flags, (void)al;
}
static const struct gm_region_ops ROPS = {.map = r_map, .unmap = r_unmap};

static int u_region_ops(const void *p)
{
	gm_region *r;
	int ret = gm_region_new(GM_PAGE_SIZE, p, NULL, &r);

	gm_region_free(r);
	return ret;
}

static const struct gm_xen_ops XOPS = {.name = "abi"};

static int u_xen_ops(const void *p)
{
	gm_xen *x;
	int ret = gm_xen_open_ops(p, NULL, &x);

	if (!ret) {
		/* the world answers to the caller's table, not to the copy */
		ASSERT_TRUE(gm_xen_world(x, p) == NULL);
		ASSERT_TRUE(strcmp(gm_xen_name(x), "abi") == 0);
		gm_xen_close(x);
	}
	return ret;
}

static int u_backend_ops(const void *p)
{
	struct gm_vdev_backend_config bc = {.device_id = 2, .frontend = -1};
	gm_vdev_backend *b;
	int r = gm_vdev_backend_new(X, &bc, p, NULL, &b);

	if (!r)
		gm_vdev_backend_free(b);
	return r;
}

static int u_ioreq_ops(const void *p)
{
	struct gm_ioreq_dev_config ic = {.device_id = 2, .num_queues = 1};
	gm_ioreq_dev *d;
	int r = gm_ioreq_dev_new(gm_region_mem(RAM), NULL, 5, &ic, p, NULL, NULL, NULL, &d);

	if (!r)
		gm_ioreq_dev_free(d);
	return r;
}

static int i_raise(void *o, gm_ioreq_dev *d, uint32_t bits)
{
	(void)o, (void)d, (void)bits;
	return 0;
}
static const struct gm_ioreq_irq_ops IRQ = {.raise = i_raise};

static int u_irq_ops(const void *p)
{
	struct gm_ioreq_dev_config ic = {.device_id = 2, .num_queues = 1};
	gm_ioreq_dev *d;
	int r = gm_ioreq_dev_new(gm_region_mem(RAM), NULL, 5, &ic, &IOPS, NULL, p, NULL, &d);

	if (!r)
		gm_ioreq_dev_free(d);
	return r;
}

static int u_handler(const void *p)
{
	struct gm_dev_config dc = {.device_id = 2};
	gm_dev *d;
	int r;

	ASSERT_OK(gm_dev_new(&dc, &d));
	r = gm_dev_set_handler(d, 0, p, NULL);
	gm_dev_free(d);
	return r;
}

static int u_transport(const void *p)
{
	struct gm_dev_attach at = {.mem = gm_region_mem(RAM), .ops = p};
	gm_dev_conn *c;
	int r = gm_dev_attach(D, &at, &c);

	if (!r)
		gm_dev_detach(c);
	return r;
}

_Static_assert(sizeof(struct gm_xen_ops) + 2 * TAIL <= sizeof(room), "room for every table");

/* gm_dev_config as its first version was laid out: without queues_per_thread. */
struct dev_config_v1 {
	size_t size;
	const char *name;
	uint32_t device_id;
	uint64_t features;
	const void *config;
	size_t config_len;
	unsigned max_queues, max_queue_size, threads, max_chain, max_request_segments;
	uint64_t max_request_bytes;
	unsigned max_batch;
	const struct gm_dev_handler *handler;
	void *opaque;
	int (*connect)(void *opaque, gm_dev_conn *c);
	void (*disconnect)(void *opaque, gm_dev_conn *c);
	void (*tick)(void *opaque);
	unsigned stats_ms;
};

static void test_dev_v1(void)
{
	struct dev_config_v1 v1 = {.size = sizeof(v1), .device_id = 2, .max_queues = 2,
				   .handler = &HANDLER, .stats_ms = 100};
	gm_dev *d;

	_Static_assert(offsetof(struct dev_config_v1, stats_ms) ==
			       offsetof(struct gm_dev_config, stats_ms),
		       "the first version is a prefix of the current one");
	/* What follows the old struct in the old program's memory: junk. */
	memset(room, JUNK, sizeof(room));
	memcpy(room, &v1, offsetof(struct dev_config_v1, stats_ms) + sizeof(unsigned));
	v1.size = offsetof(struct dev_config_v1, stats_ms) + sizeof(unsigned);
	memcpy(room, &v1.size, sizeof(v1.size));
	ASSERT_OK(gm_dev_new((const struct gm_dev_config *)room, &d));
	const struct gm_dev_config *got = gm_dev_get_config(d);
	ASSERT_EQ(got->max_queues, 2);
	ASSERT_EQ(got->stats_ms, 100);
	ASSERT_EQ(got->queues_per_thread, 1); /* the newer field's default, not junk */
	ASSERT_EQ(got->size, sizeof(struct gm_dev_config));
	gm_dev_free(d);
}

int main(void)
{
	emu_test_start(&T);
	X = emu_world(&T, 0);
	ASSERT_OK(gm_xs_open(X, &XS));
	ASSERT_OK(gm_gnttab_open(X, &GT));
	ASSERT_OK(gm_grant_cache_new(GT, NULL, &C));
	ASSERT_OK(gm_ram_region_new_anon(1 << 16, &RAM));
	struct gm_dev_config dc = {.size = sizeof(dc), .device_id = 2, .handler = &HANDLER};
	ASSERT_OK(gm_dev_new(&dc, &D));
	struct gm_dev_attach at = {.size = sizeof(at), .mem = gm_region_mem(RAM), .ops = &TOPS};
	ASSERT_OK(gm_dev_attach(D, &at, &CONN));
	struct gm_vq_config vc = {.size = 8, .desc_addr = 0, .driver_addr = 0x1000,
				  .device_addr = 0x2000};
	ASSERT_OK(gm_vq_new(gm_region_mem(RAM), &vc, &VQ));
	/* Nodes to read back: a frontend, a backend, an xl device. */
	struct gm_vdev_front_info fi = {.features = 1ull << GM_VIRTIO_F_VERSION_1, .num_queues = 1,
					.queues[0] = {.size = 8, .desc = GM_GRANT_ADDR(1, 0),
						      .driver = GM_GRANT_ADDR(1, 0x100),
						      .device = GM_GRANT_ADDR(1, 0x200), .port = 3}};
	ASSERT_OK(gm_vdev_publish_frontend(XS, "/abi/fe", &fi));
	ASSERT_OK(gm_xs_write_str(XS, 0, "/abi/be/device-id", "2"));
	ASSERT_OK(gm_xs_write_str(XS, 0, "/abi/be/features", "0x100000000"));
	ASSERT_OK(gm_xs_write_str(XS, 0, "/abi/be/max-queues", "1"));
	ASSERT_OK(gm_xs_write_str(XS, 0, "/abi/be/max-queue-size", "64"));
	ASSERT_OK(gm_xs_write_str(XS, 0, "/abi/xl/frontend-id", "5"));
	ASSERT_OK(gm_xs_write_str(XS, 0, "/abi/xl/type", "virtio,device2"));
	ASSERT_OK(gm_xs_write_str(XS, 0, "/abi/xl/transport", "mmio"));

	/* Every stats and info struct. */
	check_out("gm_grant_stats", f_grant, sizeof(struct gm_grant_stats));
	/* copy_calls came after the first version */
	check_out_v1("gm_vq_stats", f_vq, sizeof(struct gm_vq_stats),
		     offsetof(struct gm_vq_stats, copy_calls));
	check_out_v1("gm_dev_stats", f_dev, sizeof(struct gm_dev_stats),
		     offsetof(struct gm_dev_stats, copy_calls));
	check_out("gm_emu_domain_info", f_emu_dom, sizeof(struct gm_emu_domain_info));
	check_out("gm_emu_world_info", f_emu_world, sizeof(struct gm_emu_world_info));
	check_out("gm_ioreq_dev_stats", f_ioreq_dev, sizeof(struct gm_ioreq_dev_stats));
	check_out("gm_ioreq_server_stats", f_ioreq_server, sizeof(struct gm_ioreq_server_stats));
	check_out("gm_vdev_front_info", f_front, sizeof(struct gm_vdev_front_info));
	check_out("gm_vdev_back_info", f_back, sizeof(struct gm_vdev_back_info));
	check_out("gm_xl_virtio", f_xl, sizeof(struct gm_xl_virtio));

	/* Every config struct. */
	struct gm_grant_cache_config cc = {.max_pages = 64};
	check_in("gm_grant_cache_config", u_cache, &cc, sizeof(cc));
	check_in("gm_vq_config", u_vq, &vc, sizeof(vc));
	check_in("gm_dev_config", u_dev, &dc, sizeof(dc));
	check_in("gm_dev_attach", u_attach, &at, sizeof(at));
	check_in("gm_vdev_limits", u_limits, &LIM, sizeof(LIM));
	check_in("gm_vdev_front_info", u_publish, &fi, sizeof(fi));
	struct gm_ioreq_dev_config ic = {.device_id = 2, .num_queues = 1};
	check_in("gm_ioreq_dev_config", u_ioreq_dev, &ic, sizeof(ic));
	struct gm_vdev_backend_config bc = {.device_id = 2, .frontend = -1};
	check_in("gm_vdev_backend_config", u_backend, &bc, sizeof(bc));
	/* Every ops table. */
	check_in("gm_region_ops", u_region_ops, &ROPS, sizeof(ROPS));
	check_in("gm_xen_ops", u_xen_ops, &XOPS, sizeof(XOPS));
	check_in("gm_vdev_backend_ops", u_backend_ops, &BOPS, sizeof(BOPS));
	check_in("gm_ioreq_dev_ops", u_ioreq_ops, &IOPS, sizeof(IOPS));
	check_in("gm_ioreq_irq_ops", u_irq_ops, &IRQ, sizeof(IRQ));
	check_in("gm_dev_handler", u_handler, &HANDLER, sizeof(HANDLER));
	check_in("gm_dev_transport", u_transport, &TOPS, sizeof(TOPS));
	/* The ioreq server needs real Xen: only the refusal before anything. */
	struct gm_ioreq_server_config sc = {.domid = 5};
	caller(&sc, sizeof(sc), sizeof(sc) + TAIL);
	room[sizeof(sc) + TAIL - 1] = 1;
	gm_ioreq_server *srv;
#ifdef GM_HAVE_IOREQ
	ASSERT_ERR(gm_ioreq_server_new(X, (const void *)room, &ic, &IOPS, NULL, &srv), -E2BIG);
#else
	ASSERT_ERR(gm_ioreq_server_new(X, (const void *)room, &ic, &IOPS, NULL, &srv), -ENOTSUP);
#endif

	test_dev_v1();

	gm_vq_free(VQ);
	gm_dev_detach(CONN);
	gm_dev_free(D);
	gm_region_free(RAM);
	gm_grant_cache_free(C);
	gm_gnttab_close(GT);
	gm_xs_close(XS);
	gm_xen_close(X);
	emu_test_stop(&T);
	return 0;
}
