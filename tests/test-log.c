/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Logging goes to the caller's sink and honours the level. */
#include <grantmem/grantmem.h>

#include "helpers.h"

static int lines;
static gm_log_level last_level;
static char last[512];

static void sink(void *opaque, gm_log_level level, const char *msg)
{
	ASSERT_PTR_EQ(opaque, &lines);
	lines++;
	last_level = level;
	snprintf(last, sizeof(last), "%s", msg);
}

int main(void)
{
	gm_space *s;
	size_t len = 8;
	int err;
	char c;

	ASSERT_OK(gm_space_new(&s));
	gm_set_log(sink, &lines, GM_LOG_DEBUG);
	/* A guest-caused failure is logged at debug level only. */
	ASSERT_ERR(gm_read(gm_space_mem(s), 0x1000, &c, 1), -EFAULT);
	ASSERT_EQ(lines, 1);
	ASSERT_EQ(last_level, GM_LOG_DEBUG);
	ASSERT_TRUE(strstr(last, "0x1000") != NULL);
	/* At warning level it is dropped; a caller bug is still reported. */
	gm_set_log(sink, &lines, GM_LOG_WARNING);
	ASSERT_ERR(gm_read(gm_space_mem(s), 0x1000, &c, 1), -EFAULT);
	ASSERT_EQ(lines, 1);
	gm_unmap(gm_space_mem(s), 0x5000, &c, 1, GM_PROT_READ, 0);
	ASSERT_EQ(lines, 2);
	ASSERT_EQ(last_level, GM_LOG_WARNING);
	ASSERT_NULL(gm_map(gm_space_mem(s), 0x1000, &len, GM_PROT_READ, &err));
	ASSERT_EQ(lines, 2);
	gm_set_log(NULL, NULL, GM_LOG_WARNING);
	ASSERT_TRUE(strlen(gm_strerror(-EFAULT)) > 0);
	ASSERT_TRUE(strlen(gm_strerror(-12345)) > 0);
	gm_space_free(s);
	return 0;
}
