/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Shared helpers for grantmem's test programs (automake parallel harness:
 * exit 0 pass, 77 skip, 99 hard error, anything else fail).
 *
 * ASSERT_* print file:line, the expressions and both values, then fail the
 * test at once (exit 1).
 */
#ifndef GM_TESTS_HELPERS_H
#define GM_TESTS_HELPERS_H

#include <errno.h>
#include <inttypes.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define GM_TEST_SKIP 77
#define GM_TEST_HARD_ERROR 99

#define GM_TEST_FAIL(...)                                                                  \
	do {                                                                               \
		fprintf(stderr, "%s:%d: ", __FILE__, __LINE__);                            \
		fprintf(stderr, __VA_ARGS__);                                              \
		fputc('\n', stderr);                                                       \
		exit(1);                                                                   \
	} while (0)

#define ASSERT_TRUE(c)                                                                     \
	do {                                                                               \
		if (!(c))                                                                  \
			GM_TEST_FAIL("assertion failed: %s", #c);                          \
	} while (0)

/* Integers of any width, compared and printed as signed 64-bit. */
#define ASSERT_EQ(a, b)                                                                    \
	do {                                                                               \
		long long gm_a_ = (long long)(a), gm_b_ = (long long)(b);                  \
		if (gm_a_ != gm_b_)                                                        \
			GM_TEST_FAIL("%s == %s: %lld (0x%llx) != %lld (0x%llx)", #a, #b,   \
				     gm_a_, (unsigned long long)gm_a_, gm_b_,              \
				     (unsigned long long)gm_b_);                           \
	} while (0)

#define ASSERT_NE(a, b)                                                                    \
	do {                                                                               \
		long long gm_a_ = (long long)(a), gm_b_ = (long long)(b);                  \
		if (gm_a_ == gm_b_)                                                        \
			GM_TEST_FAIL("%s != %s: both %lld", #a, #b, gm_a_);                \
	} while (0)

/* Unsigned 64-bit values (addresses). */
#define ASSERT_EQ_U64(a, b)                                                                \
	do {                                                                               \
		uint64_t gm_a_ = (uint64_t)(a), gm_b_ = (uint64_t)(b);                     \
		if (gm_a_ != gm_b_)                                                        \
			GM_TEST_FAIL("%s == %s: 0x%" PRIx64 " != 0x%" PRIx64, #a, #b,      \
				     gm_a_, gm_b_);                                        \
	} while (0)

#define ASSERT_PTR_EQ(a, b)                                                                \
	do {                                                                               \
		const void *gm_a_ = (a), *gm_b_ = (b);                                     \
		if (gm_a_ != gm_b_)                                                        \
			GM_TEST_FAIL("%s == %s: %p != %p", #a, #b, gm_a_, gm_b_);          \
	} while (0)

#define ASSERT_NULL(a) ASSERT_PTR_EQ(a, NULL)
#define ASSERT_NOT_NULL(a)                                                                 \
	do {                                                                               \
		if ((a) == NULL)                                                           \
			GM_TEST_FAIL("%s is NULL", #a);                                    \
	} while (0)

/* A call returning 0 or a negative errno. */
#define ASSERT_OK(call)                                                                    \
	do {                                                                               \
		long long gm_r_ = (long long)(call);                                       \
		if (gm_r_ != 0)                                                            \
			GM_TEST_FAIL("%s: %lld (%s)", #call, gm_r_,                         \
				     gm_r_ < 0 ? strerror((int)-gm_r_) : "nonzero");       \
	} while (0)

/* A call that must fail with exactly @err (negative). */
#define ASSERT_ERR(call, err)                                                              \
	do {                                                                               \
		long long gm_r_ = (long long)(call), gm_e_ = (long long)(err);             \
		if (gm_r_ != gm_e_)                                                        \
			GM_TEST_FAIL("%s: got %lld (%s), want %lld (%s)", #call, gm_r_,     \
				     gm_r_ < 0 ? strerror((int)-gm_r_) : "no error", gm_e_, \
				     strerror((int)-gm_e_));                                \
	} while (0)

/* NUL-terminated strings (NULL allowed: it equals only NULL). */
#define ASSERT_STREQ(a, b)                                                                 \
	do {                                                                               \
		const char *gm_a_ = (a), *gm_b_ = (b);                                     \
		if (gm_a_ != gm_b_ && (!gm_a_ || !gm_b_ || strcmp(gm_a_, gm_b_)))          \
			GM_TEST_FAIL("%s == %s: \"%s\" != \"%s\"", #a, #b,                 \
				     gm_a_ ? gm_a_ : "(null)", gm_b_ ? gm_b_ : "(null)");  \
	} while (0)

#define ASSERT_MEM_EQ(a, b, n)                                                             \
	do {                                                                               \
		const unsigned char *gm_a_ = (const void *)(a), *gm_b_ = (const void *)(b); \
		size_t gm_n_ = (n);                                                        \
		for (size_t gm_i_ = 0; gm_i_ < gm_n_; gm_i_++)                             \
			if (gm_a_[gm_i_] != gm_b_[gm_i_])                                  \
				GM_TEST_FAIL("%s and %s differ at byte %zu: 0x%02x != 0x%02x", \
					     #a, #b, gm_i_, gm_a_[gm_i_], gm_b_[gm_i_]);  \
	} while (0)

/* Deterministic pattern: byte i of a buffer tagged @seed. */
static inline unsigned char gm_test_pattern(uint64_t seed, uint64_t i)
{
	uint64_t x = (seed + 1) * 0x9e3779b97f4a7c15ull ^ (i * 0xbf58476d1ce4e5b9ull);
	x ^= x >> 29;
	return (unsigned char)(x ^ (x >> 17));
}

static inline void gm_test_fill(void *buf, size_t n, uint64_t seed)
{
	unsigned char *p = buf;
	for (size_t i = 0; i < n; i++)
		p[i] = gm_test_pattern(seed, i);
}

/* Built with a sanitizer that replaces malloc (heap figures mean nothing)? */
static inline int gm_test_sanitized(void)
{
#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
	return 1;
#elif defined(__has_feature)
#if __has_feature(address_sanitizer) || __has_feature(thread_sanitizer)
	return 1;
#else
	return 0;
#endif
#else
	return 0;
#endif
}

#endif /* GM_TESTS_HELPERS_H */
