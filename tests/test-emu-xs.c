/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Emulated Xen, xenstore: nodes, watches (on the path, its children, once
 * at registration, relative paths, @releaseDomain), transactions with
 * conflicts and retries, and permissions between domains.
 */
#include "config.h"

#include "test-emu-common.h"

static struct emu_test t;
static gm_xen *x0, *x1, *x2;
static gm_xs *s0, *s1, *s2;

static char *rd(gm_xs *s, const char *path)
{
	char *v = NULL;
	size_t len;

	ASSERT_OK(gm_xs_read(s, 0, path, &v, &len));
	ASSERT_EQ(strlen(v), len);
	return v;
}

static void expect_value(gm_xs *s, const char *path, const char *want)
{
	char *v = rd(s, path);

	if (strcmp(v, want))
		GM_TEST_FAIL("%s: \"%s\", want \"%s\"", path, v, want);
	free(v);
}

/* The next watch event must be (@path, @token). */
static void expect_watch(gm_xs *s, const char *path, const char *token)
{
	char *p, *tok;
	int r = -EAGAIN;

	for (int i = 0; i < 500 && r == -EAGAIN; i++) {
		if (!emu_wait_fd(gm_xs_fd(s), 10))
			continue;
		r = gm_xs_read_watch(s, &p, &tok);
	}
	ASSERT_OK(r);
	if (strcmp(p, path) || strcmp(tok, token))
		GM_TEST_FAIL("watch (%s, %s), want (%s, %s)", p, tok, path, token);
	free(p);
	free(tok);
}

static void expect_no_watch(gm_xs *s)
{
	char *p, *tok;

	ASSERT_TRUE(!emu_wait_fd(gm_xs_fd(s), 20));
	ASSERT_ERR(gm_xs_read_watch(s, &p, &tok), -EAGAIN);
}

static void test_nodes(void)
{
	char **names;
	char *path;
	int n;

	ASSERT_OK(gm_xs_domain_path(s1, 1, &path));
	ASSERT_TRUE(!strcmp(path, "/local/domain/1"));
	free(path);
	expect_value(s0, "/local/domain/1", "");
	ASSERT_OK(gm_xs_write_str(s0, 0, "/test/a/b", "hello"));
	expect_value(s0, "/test/a/b", "hello");
	expect_value(s0, "/test/a", ""); /* created on the way */
	ASSERT_OK(gm_xs_write(s0, 0, "/test/bin", "x\0y", 3));
	{
		char *v;
		size_t len;

		ASSERT_OK(gm_xs_read(s0, 0, "/test/bin", &v, &len));
		ASSERT_EQ(len, 3);
		ASSERT_MEM_EQ(v, "x\0y", 3);
		free(v);
	}
	ASSERT_OK(gm_xs_mkdir(s0, 0, "/test/c"));
	ASSERT_OK(gm_xs_mkdir(s0, 0, "/test/c")); /* again: fine */
	n = gm_xs_directory(s0, 0, "/test", &names);
	ASSERT_EQ(n, 3);
	ASSERT_TRUE(!strcmp(names[0], "a") && !strcmp(names[1], "bin") && !strcmp(names[2], "c"));
	ASSERT_NULL(names[3]);
	free(names);
	n = gm_xs_directory(s0, 0, "/test/c", &names);
	ASSERT_EQ(n, 0);
	ASSERT_NOT_NULL(names);
	free(names);
	ASSERT_OK(gm_xs_rm(s0, 0, "/test/a"));
	ASSERT_ERR(gm_xs_read(s0, 0, "/test/a/b", &path, NULL), -ENOENT);
	ASSERT_OK(gm_xs_rm(s0, 0, "/test/a"));         /* gone, parent there: fine */
	ASSERT_ERR(gm_xs_rm(s0, 0, "/test/a/b/c"), -ENOENT); /* no parent */
	ASSERT_ERR(gm_xs_write_str(s0, 0, "/bad//path", "x"), -EINVAL);
	ASSERT_ERR(gm_xs_write_str(s0, 0, "/bad/", "x"), -EINVAL);
	ASSERT_ERR(gm_xs_write_str(s0, 0, "/bad path", "x"), -EINVAL);
	/* relative paths are below the caller's domain */
	ASSERT_OK(gm_xs_write_str(s1, 0, "data/rel", "r"));
	expect_value(s0, "/local/domain/1/data/rel", "r");
	ASSERT_OK(gm_xs_rm(s0, 0, "/test"));
}

static void test_watches(void)
{
	ASSERT_OK(gm_xs_watch(s0, "/local/domain/1/dev", "t1"));
	expect_watch(s0, "/local/domain/1/dev", "t1"); /* once at registration */
	expect_no_watch(s0);
	ASSERT_ERR(gm_xs_watch(s0, "/local/domain/1/dev", "t1"), -EEXIST);
	ASSERT_OK(gm_xs_write_str(s1, 0, "/local/domain/1/dev/x", "1"));
	expect_watch(s0, "/local/domain/1/dev/x", "t1");
	ASSERT_OK(gm_xs_write_str(s1, 0, "/local/domain/1/other", "1"));
	ASSERT_OK(gm_xs_write_str(s1, 0, "/local/domain/1/device", "1")); /* a prefix, not a child */
	expect_no_watch(s0);
	ASSERT_OK(gm_xs_write_str(s1, 0, "/local/domain/1/dev", "v"));
	expect_watch(s0, "/local/domain/1/dev", "t1");
	/* a watch below a removed node fires with its own path */
	ASSERT_OK(gm_xs_watch(s0, "/local/domain/1/dev/x/deep", "t2"));
	expect_watch(s0, "/local/domain/1/dev/x/deep", "t2");
	ASSERT_OK(gm_xs_rm(s1, 0, "/local/domain/1/dev"));
	/* both fire; the order follows the watch list */
	{
		char *p[2], *tok[2];

		for (int i = 0; i < 2; i++) {
			ASSERT_TRUE(emu_wait_fd(gm_xs_fd(s0), 5000));
			ASSERT_OK(gm_xs_read_watch(s0, &p[i], &tok[i]));
		}
		for (int i = 0; i < 2; i++) {
			if (!strcmp(tok[i], "t1"))
				ASSERT_TRUE(!strcmp(p[i], "/local/domain/1/dev"));
			else
				ASSERT_TRUE(!strcmp(p[i], "/local/domain/1/dev/x/deep"));
			free(p[i]);
			free(tok[i]);
		}
	}
	expect_no_watch(s0);
	ASSERT_OK(gm_xs_unwatch(s0, "/local/domain/1/dev", "t1"));
	ASSERT_OK(gm_xs_unwatch(s0, "/local/domain/1/dev/x/deep", "t2"));
	ASSERT_ERR(gm_xs_unwatch(s0, "/local/domain/1/dev", "t1"), -ENOENT);
	ASSERT_OK(gm_xs_write_str(s1, 0, "/local/domain/1/dev/y", "1"));
	expect_no_watch(s0);
	/* relative watches report relative paths */
	ASSERT_OK(gm_xs_watch(s1, "dev", "rel"));
	expect_watch(s1, "dev", "rel");
	ASSERT_OK(gm_xs_write_str(s0, 0, "/local/domain/1/dev/z", "1"));
	expect_watch(s1, "dev/z", "rel");
	ASSERT_OK(gm_xs_unwatch(s1, "dev", "rel"));
	/* many events queue up and all arrive */
	ASSERT_OK(gm_xs_watch(s0, "/q", "q"));
	expect_watch(s0, "/q", "q");
	for (int i = 0; i < 50; i++) {
		char p[32];

		snprintf(p, sizeof(p), "/q/%d", i);
		ASSERT_OK(gm_xs_write_str(s0, 0, p, "x"));
	}
	for (int i = 0; i < 50; i++) {
		char p[32];

		snprintf(p, sizeof(p), "/q/%d", i);
		expect_watch(s0, p, "q");
	}
	expect_no_watch(s0);
	ASSERT_OK(gm_xs_unwatch(s0, "/q", "q"));
	ASSERT_OK(gm_xs_rm(s0, 0, "/q"));
	/* domains coming and going */
	ASSERT_OK(gm_xs_watch(s0, "@releaseDomain", "rel"));
	expect_watch(s0, "@releaseDomain", "rel");
	{
		gm_xen *y = emu_world(&t, 3);
		gm_xs *sy;

		ASSERT_OK(gm_xs_open(y, &sy));
		ASSERT_OK(gm_xs_write_str(sy, 0, "/local/domain/3/x", "1"));
		gm_xs_close(sy);
		expect_no_watch(s0); /* the world still holds domain 3 */
		gm_xen_close(y);
	}
	expect_watch(s0, "@releaseDomain", "rel");
	ASSERT_ERR(gm_xs_read(s0, 0, "/local/domain/3", &(char *){NULL}, NULL), -ENOENT);
	ASSERT_OK(gm_xs_unwatch(s0, "@releaseDomain", "rel"));
}

static int bump_fn(gm_xs *s, gm_xs_tx tx, void *arg)
{
	int *tries = arg;
	char *v, buf[16];
	size_t len;

	ASSERT_OK(gm_xs_read(s, tx, "/tx/count", &v, &len));
	snprintf(buf, sizeof(buf), "%d", atoi(v) + 1);
	free(v);
	if ((*tries)++ == 0) /* someone else changes it meanwhile, once */
		ASSERT_OK(gm_xs_write_str(s0, 0, "/tx/count", "10"));
	return gm_xs_write_str(s, tx, "/tx/count", buf);
}

static void test_transactions(void)
{
	gm_xs_tx tx, tx2;
	char *v;
	int tries = 0;

	ASSERT_OK(gm_xs_write_str(s0, 0, "/tx/count", "1"));
	ASSERT_OK(gm_xs_watch(s0, "/tx", "tx"));
	expect_watch(s0, "/tx", "tx");
	/* isolation: invisible until commit, then watches fire */
	ASSERT_OK(gm_xs_tx_start(s1, &tx));
	ASSERT_ERR(gm_xs_write_str(s1, tx, "/tx/x", "1"), -EACCES); /* dom1 may not */
	ASSERT_OK(gm_xs_tx_end(s1, tx, 1));
	ASSERT_OK(gm_xs_tx_start(s0, &tx));
	ASSERT_OK(gm_xs_write_str(s0, tx, "/tx/new", "n"));
	expect_value(s0, "/tx/count", "1");
	{
		char *val;
		size_t len;

		ASSERT_ERR(gm_xs_read(s0, 0, "/tx/new", &val, &len), -ENOENT);
		ASSERT_OK(gm_xs_read(s0, tx, "/tx/new", &val, &len));
		free(val);
	}
	expect_no_watch(s0);
	ASSERT_OK(gm_xs_tx_end(s0, tx, 0));
	expect_watch(s0, "/tx/new", "tx");
	expect_value(s0, "/tx/new", "n");
	/* abort discards */
	ASSERT_OK(gm_xs_tx_start(s0, &tx));
	ASSERT_OK(gm_xs_rm(s0, tx, "/tx/new"));
	ASSERT_OK(gm_xs_tx_end(s0, tx, 1));
	expect_value(s0, "/tx/new", "n");
	/* a conflict: what the transaction read changed meanwhile */
	ASSERT_OK(gm_xs_tx_start(s0, &tx));
	ASSERT_OK(gm_xs_tx_start(s2, &tx2));
	v = NULL;
	ASSERT_OK(gm_xs_read(s0, tx, "/tx/count", &v, NULL));
	free(v);
	ASSERT_OK(gm_xs_write_str(s0, tx, "/tx/other", "o"));
	ASSERT_OK(gm_xs_write_str(s2, tx2, "/local/domain/2/unrelated", "u"));
	ASSERT_OK(gm_xs_write_str(s0, 0, "/tx/count", "5"));
	ASSERT_ERR(gm_xs_tx_end(s0, tx, 0), -EAGAIN);
	ASSERT_ERR(gm_xs_read(s0, 0, "/tx/other", &v, NULL), -ENOENT);
	ASSERT_OK(gm_xs_tx_end(s2, tx2, 0)); /* untouched by the change: commits */
	expect_value(s0, "/local/domain/2/unrelated", "u");
	ASSERT_ERR(gm_xs_tx_end(s0, tx, 0), -ENOENT); /* gone */
	/* rm and recreate in one transaction commits */
	ASSERT_OK(gm_xs_tx_start(s0, &tx));
	ASSERT_OK(gm_xs_rm(s0, tx, "/tx/new"));
	ASSERT_OK(gm_xs_write_str(s0, tx, "/tx/new/child", "c"));
	ASSERT_OK(gm_xs_tx_end(s0, tx, 0));
	expect_value(s0, "/tx/new/child", "c");
	/* gm_xs_transact retries a conflicting body */
	ASSERT_OK(gm_xs_transact(s0, bump_fn, &tries, 5));
	ASSERT_EQ(tries, 2);
	expect_value(s0, "/tx/count", "11");
	ASSERT_OK(gm_xs_unwatch(s0, "/tx", "tx"));
	ASSERT_OK(gm_xs_rm(s0, 0, "/tx"));
}

static void test_perms(void)
{
	struct gm_xs_perm p[2] = {{0, GM_XS_PERM_NONE}, {1, GM_XS_PERM_READ}};
	struct gm_xs_perm give[1] = {{2, GM_XS_PERM_NONE}};
	char *v;

	/* another domain's directory: neither readable nor writable */
	ASSERT_ERR(gm_xs_write_str(s1, 0, "/local/domain/2/x", "1"), -EACCES);
	ASSERT_ERR(gm_xs_read(s1, 0, "/local/domain/2", &v, NULL), -EACCES);
	ASSERT_ERR(gm_xs_read(s1, 0, "/local/domain/0", &v, NULL), -EACCES);
	ASSERT_ERR(gm_xs_rm(s1, 0, "/local/domain/2"), -EACCES);
	/* its own: fine, and dom0 may do anything */
	ASSERT_OK(gm_xs_write_str(s1, 0, "/local/domain/1/mine", "m"));
	ASSERT_OK(gm_xs_write_str(s0, 0, "/local/domain/1/mine", "m0"));
	/* dom0 shares a node read-only with dom1 */
	ASSERT_OK(gm_xs_write_str(s0, 0, "/local/domain/0/backend/x", "b"));
	ASSERT_OK(gm_xs_set_perms(s0, 0, "/local/domain/0/backend/x", p, 2));
	expect_value(s1, "/local/domain/0/backend/x", "b");
	ASSERT_ERR(gm_xs_read(s2, 0, "/local/domain/0/backend/x", &v, NULL), -EACCES);
	ASSERT_ERR(gm_xs_write_str(s1, 0, "/local/domain/0/backend/x", "w"), -EACCES);
	ASSERT_ERR(gm_xs_set_perms(s1, 0, "/local/domain/0/backend/x", p, 2), -EACCES);
	/* an unprivileged owner may not give its node away */
	ASSERT_ERR(gm_xs_set_perms(s1, 0, "/local/domain/1/mine", give, 1), -EPERM);
	/* nodes a guest creates are its own, readable to others per perms */
	p[0].id = 1;
	p[0].perms = GM_XS_PERM_READ;
	ASSERT_OK(gm_xs_set_perms(s1, 0, "/local/domain/1/mine", p, 1));
	expect_value(s2, "/local/domain/1/mine", "m0");
	ASSERT_OK(gm_xs_rm(s0, 0, "/local/domain/0/backend"));
}

int main(void)
{
	emu_test_start(&t);
	x0 = emu_world(&t, 0);
	x1 = emu_world(&t, 1);
	x2 = emu_world(&t, 2);
	ASSERT_OK(gm_xs_open(x0, &s0));
	ASSERT_OK(gm_xs_open(x1, &s1));
	ASSERT_OK(gm_xs_open(x2, &s2));

	test_nodes();
	test_watches();
	test_transactions();
	test_perms();

	gm_xs_close(s0);
	gm_xs_close(s1);
	gm_xs_close(s2);
	gm_xen_close(x0);
	gm_xen_close(x1);
	gm_xen_close(x2);
	emu_test_stop(&t);
	return 0;
}
