/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Shared by the libFuzzer targets: an input reader, a failure macro and
 * tracing.
 *
 * A target's input is a little program: the reader hands out bytes and
 * integers from it and zeros once it is used up, so every input is valid
 * and the fuzzer only ever explores behaviour, never the input format.
 */
#ifndef GM_FUZZ_COMMON_H
#define GM_FUZZ_COMMON_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct fin {
	const uint8_t *p;
	size_t n;
};

static inline uint8_t fin_u8(struct fin *in)
{
	if (!in->n)
		return 0;
	in->n--;
	return *in->p++;
}

static inline uint16_t fin_u16(struct fin *in)
{
	uint16_t lo = fin_u8(in);

	return (uint16_t)(lo | (unsigned)fin_u8(in) << 8);
}

static inline uint32_t fin_u32(struct fin *in)
{
	uint32_t lo = fin_u16(in);

	return lo | (uint32_t)fin_u16(in) << 16;
}

static inline uint64_t fin_u64(struct fin *in)
{
	uint64_t lo = fin_u32(in);

	return lo | (uint64_t)fin_u32(in) << 32;
}

#define GM__FUZZ_MIN(a, b) ((a) < (b) ? (a) : (b))

/*
 * For a target's own model code: no coverage instrumentation.  Its loops
 * would otherwise pay a comparison callback per iteration, and the fuzzer
 * needs feedback from the library, not from the model.
 */
#if defined(__clang__) && __clang_major__ >= 13
#define MODEL_LOOP __attribute__((no_sanitize("coverage")))
#else
#define MODEL_LOOP
#endif

/* A value below @n (n > 0). */
static inline unsigned fin_below(struct fin *in, unsigned n)
{
	return fin_u8(in) % n;
}

/*
 * A broken invariant: print it and abort, which libFuzzer reports as a
 * crash with the input saved (the fuzz targets are test programs, not
 * library code).
 */
#define FUZZ_CHECK(c, ...)                                                                 \
	do {                                                                               \
		if (!(c)) {                                                                \
			fprintf(stderr, "%s:%d: invariant failed: %s: ", __FILE__, __LINE__, #c); \
			fprintf(stderr, __VA_ARGS__);                                      \
			fputc('\n', stderr);                                               \
			abort();                                                           \
		}                                                                          \
	} while (0)

/*
 * FUZZ_TRACE set in the environment (the target sets @trace from it when it
 * starts): TRACE prints every operation, for a person reading a crash and
 * for tests/fuzz/seeds.py.
 */
static bool trace __attribute__((unused));
#define TRACE(...)                                                                         \
	do {                                                                               \
		if (trace)                                                                 \
			fprintf(stderr, __VA_ARGS__);                                      \
	} while (0)

#endif /* GM_FUZZ_COMMON_H */
