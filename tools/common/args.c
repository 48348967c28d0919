// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * args.c - the command line of every grantmem tool (args.h).
 */
#include "config.h"

#include "args.h"

#include <grantmem/virtio.h>

#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define KEY_HELP 'h'
#define KEY_VERSION (TOOL_LONG_ONLY + 0xff)

static const struct tool_opt builtin[] = {
	{"help", KEY_HELP, NULL, "print this help and exit"},
	{"version", KEY_VERSION, NULL, "print the version and exit"},
};

static bool has_short(int key)
{
	return key > ' ' && key < 0x7f && key != ':';
}

/* The i-th option: the tool's, then the built-in ones; NULL past the end. */
static const struct tool_opt *opt_at(const struct tool *t, unsigned i)
{
	unsigned n = 0;

	while (t->opts && t->opts[n].name)
		n++;
	if (i < n)
		return &t->opts[i];
	i -= n;
	return i < sizeof(builtin) / sizeof(builtin[0]) ? &builtin[i] : NULL;
}

static void hint(const struct tool *t) __attribute__((noreturn));
static void hint(const struct tool *t)
{
	fprintf(stderr, "Try '%s --help'.\n", t->name);
	exit(2);
}

void tool_usage_error(const struct tool *t, const char *fmt, ...)
{
	va_list ap;

	fprintf(stderr, "%s: ", t->name);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	hint(t);
}

void tool_usage(const struct tool *t, FILE *f)
{
	const char *s = t->synopsis;
	bool first = true;

	while (s && *s) {
		size_t n = strcspn(s, "\n");

		fprintf(f, "%s%.*s\n", first ? "usage: " : "       ", (int)n, s);
		first = false;
		s += n;
		if (*s)
			s++;
	}
}

/* "  -x, --name ARG" into @buf. */
static int opt_head(const struct tool_opt *o, char *buf, size_t size)
{
	char sh[8] = "    ";

	if (has_short(o->key))
		snprintf(sh, sizeof(sh), "-%c, ", o->key);
	return snprintf(buf, size, "  %s--%s%s%s", sh, o->name, o->arg ? " " : "",
			o->arg ? o->arg : "");
}

static void help(const struct tool *t)
{
	const struct tool_opt *o;
	char head[128];
	int w = 0;

	tool_usage(t, stdout);
	for (unsigned i = 0; (o = opt_at(t, i)); i++) {
		int n = opt_head(o, head, sizeof(head));

		if (n > w && n <= 32)
			w = n;
	}
	printf("options:\n");
	for (unsigned i = 0; (o = opt_at(t, i)); i++) {
		const char *h = o->help ? o->help : "";
		int n = opt_head(o, head, sizeof(head));
		bool first = true;

		printf("%s", head);
		if (n > w) {
			printf("\n");
			n = 0;
		}
		while (first || *h) {
			size_t len = strcspn(h, "\n");

			printf("%*s%.*s\n", first ? w - n + 2 : w + 2, "", (int)len, h);
			first = false;
			h += len;
			if (*h)
				h++;
		}
	}
	if (t->about)
		printf("%s%s", t->about, t->about[strlen(t->about) - 1] == '\n' ? "" : "\n");
	fflush(stdout);
}

static void prepare(struct tool *t)
{
	const struct tool_opt *o;
	size_t s = 0;
	unsigned i;

	/* Every line a tool prints reaches a pipe or a log when it is written,
	 * not when a buffer fills: whoever watches it (a service manager, a
	 * test waiting for a line) sees it at once, also if it is killed. */
	setvbuf(stdout, NULL, _IOLBF, 0);
	t->shortopts[s++] = ':'; /* we report a missing argument ourselves */
	for (i = 0; (o = opt_at(t, i)) && i < TOOL_MAX_OPTS + 2; i++) {
		t->lopts[i] = (struct option){o->name, o->arg ? required_argument : no_argument,
					      NULL, o->key};
		if (has_short(o->key)) {
			t->shortopts[s++] = (char)o->key;
			if (o->arg)
				t->shortopts[s++] = ':';
		}
	}
	if (o) {
		/* a table too long for TOOL_MAX_OPTS: a mistake in the tool itself */
		fprintf(stderr, "%s: too many options for args.h\n", t->name);
		exit(1);
	}
	t->lopts[i] = (struct option){NULL, 0, NULL, 0};
	t->shortopts[s] = '\0';
	t->ready = 1;
}

static const char *name_of(const struct tool *t, int key)
{
	const struct tool_opt *o;

	for (unsigned i = 0; (o = opt_at(t, i)); i++)
		if (o->key == key)
			return o->name;
	return "?";
}

int tool_next(struct tool *t, int argc, char **argv)
{
	int c, li = -1;

	if (!t->ready)
		prepare(t);
	opterr = 0;
	c = getopt_long(argc, argv, t->shortopts, t->lopts, &li);
	if (c == -1)
		return -1;
	if (c == '?' || c == ':') {
		/* optopt: the short option, or the long option's key; 0 if unknown */
		const char *bad = argv[optind - 1];

		if (c == ':')
			tool_usage_error(t, "--%s needs an argument", optopt ? name_of(t, optopt) : "?");
		if (optopt && has_short(optopt) && bad && bad[0] == '-' && bad[1] != '-')
			tool_usage_error(t, "unknown option -%c", optopt);
		tool_usage_error(t, "unknown option %s", bad ? bad : "?");
	}
	t->cur = li >= 0 ? t->lopts[li].name : name_of(t, c);
	if (c == KEY_HELP) {
		help(t);
		exit(0);
	}
	if (c == KEY_VERSION) {
		printf("%s (grantmem) %s\n", t->name, PACKAGE_VERSION);
		exit(0);
	}
	return c;
}

/* Digits from @s (decimal, or hex after 0x) into *@v; the first other character. */
static const char *digits(const char *s, uint64_t *v, bool *overflow)
{
	unsigned base = 10;
	const char *p = s, *start;
	uint64_t x = 0;

	*overflow = false;
	if (p[0] == '0' && (p[1] == 'x' || p[1] == 'X')) {
		base = 16;
		p += 2;
	}
	for (start = p;; p++) {
		unsigned d;

		if (*p >= '0' && *p <= '9')
			d = (unsigned)(*p - '0');
		else if (base == 16 && *p >= 'a' && *p <= 'f')
			d = (unsigned)(*p - 'a' + 10);
		else if (base == 16 && *p >= 'A' && *p <= 'F')
			d = (unsigned)(*p - 'A' + 10);
		else
			break;
		if (x > (UINT64_MAX - d) / base)
			*overflow = true;
		else
			x = x * base + d;
	}
	*v = x;
	return p == start ? s : p;
}

static const char *cur(const struct tool *t)
{
	return t->cur ? t->cur : "?";
}

uint64_t tool_num(const struct tool *t, const char *s, uint64_t min, uint64_t max)
{
	bool over;
	uint64_t v = 0;
	const char *end = digits(s, &v, &over);

	if (end == s || *end)
		tool_usage_error(t, "--%s: \"%s\" is not a number; want %" PRIu64 " to %" PRIu64
				 " (decimal, or hex after 0x)", cur(t), s, min, max);
	if (over || v < min || v > max)
		tool_usage_error(t, "--%s: %s is out of range; want %" PRIu64 " to %" PRIu64, cur(t),
				 s, min, max);
	return v;
}

/* @v in bytes, with the largest suffix that divides it. */
static const char *size_str(uint64_t v, char *buf, size_t size)
{
	static const char sfx[] = "kmg";
	int i = -1;

	while (i < 2 && v && v % 1024 == 0) {
		v /= 1024;
		i++;
	}
	snprintf(buf, size, "%" PRIu64 "%s", v, i >= 0 ? (char[2]){sfx[i], 0} : "");
	return buf;
}

uint64_t tool_size(const struct tool *t, const char *s, uint64_t min, uint64_t max)
{
	char a[32], b[32];
	unsigned shift = 0;
	bool over;
	uint64_t v = 0;
	const char *end = digits(s, &v, &over);

	if (end != s && end[0] && !end[1]) {
		switch (end[0]) {
		case 'k': case 'K': shift = 10; end++; break;
		case 'm': case 'M': shift = 20; end++; break;
		case 'g': case 'G': shift = 30; end++; break;
		}
	}
	if (end == s || *end)
		tool_usage_error(t, "--%s: \"%s\" is not a size; want %s to %s bytes (a number, "
				 "with k, m or g for KiB, MiB or GiB)", cur(t), s,
				 size_str(min, a, sizeof(a)), size_str(max, b, sizeof(b)));
	if (over || v > (UINT64_MAX >> shift))
		over = true;
	else
		v <<= shift;
	if (over || v < min || v > max)
		tool_usage_error(t, "--%s: %s is out of range; want %s to %s bytes", cur(t), s,
				 size_str(min, a, sizeof(a)), size_str(max, b, sizeof(b)));
	return v;
}

unsigned tool_choice(const struct tool *t, const char *s, const char *const *choices)
{
	char want[256];
	size_t at = 0;
	unsigned n = 0;

	for (; choices[n]; n++)
		if (!strcmp(s, choices[n]))
			return n;
	want[0] = '\0';
	for (unsigned i = 0; i < n && at < sizeof(want); i++)
		at += (size_t)snprintf(want + at, sizeof(want) - at, "%s%s",
				       !i ? "" : i + 1 == n ? " or " : ", ", choices[i]);
	tool_usage_error(t, "--%s: unknown \"%s\"; want %s", cur(t), s, want);
}

uint64_t tool_data_path(const struct tool *t, const char *s, uint64_t auto_max)
{
	static const char *const modes[] = {"map", "copy", "auto", NULL};
	const uint64_t unmapped_max[] = {0, GM_VQ_UNMAPPED_ALL, auto_max};

	return unmapped_max[tool_choice(t, s, modes)];
}

const char *tool_vdev_type(const struct tool *t, const char *s)
{
	size_t n = strspn(s, "abcdefghijklmnopqrstuvwxyz0123456789-_");

	if (s[n] || n < 1 || n > 32)
		tool_usage_error(t, "--%s: \"%s\" is not a device type: 1 to 32 characters of "
				 "a-z, 0-9, '-' and '_'", cur(t), s);
	return s;
}
