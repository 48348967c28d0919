/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * args.h - the command line of every grantmem tool: one option table per
 * tool that drives getopt_long, --help and --version, and strict numbers.
 *
 * A tool describes its options once:
 *
 *	static const struct tool_opt opts[] = {
 *		{"pages", 'p', "N", "pages to share (1 to 4096; default 1)"},
 *		{"ro", 'r', NULL, "share them read-only"},
 *		{"fault", TOOL_LONG_ONLY + 0, "SITE:N", "..."},
 *		{NULL, 0, NULL, NULL},
 *	};
 *	static struct tool T = {"grantmem-x", "grantmem-x [OPTIONS] SOCKET", NULL, opts};
 *
 * and loops on tool_next(), which returns each option's key with optarg set
 * as getopt_long does, and -1 at the end (optind: the first operand).
 * tool_next() handles --help (the synopsis, every option with its meaning,
 * exit 0), --version ("<tool> (grantmem) <version>", exit 0) and every
 * usage error of its own (an unknown option, a missing argument: exit 2),
 * so the key is always one of the table's.  A key below 0x80 is also the
 * option's short form (-p); TOOL_LONG_ONLY + n is a long option only.
 *
 * Usage errors exit with status 2 after one line on stderr that names what
 * is wrong, and a hint to --help; runtime errors are the tool's own (exit
 * status 1).  Not thread-safe (getopt); for main() only.
 */
#ifndef GM_TOOLS_ARGS_H
#define GM_TOOLS_ARGS_H

#include <getopt.h>
#include <stdint.h>
#include <stdio.h>

#define TOOL_LONG_ONLY 0x100
#define TOOL_MAX_OPTS 48

struct tool_opt {
	const char *name; /* the long name, without "--"; NULL ends the table */
	int key;          /* what tool_next() returns for it */
	const char *arg;  /* its argument's name in --help; NULL: it takes none */
	const char *help; /* its meaning; '\n' starts another line */
};

struct tool {
	const char *name;             /* the program: "grantmem-blk" */
	const char *synopsis;         /* the usage lines, each starting with the name */
	const char *about;            /* printed by --help after the options; may be NULL */
	const struct tool_opt *opts;  /* without --help and --version: every tool has them */
	/* tool_next()'s own, zero at first */
	const char *cur;              /* the option being handled, for messages */
	struct option lopts[TOOL_MAX_OPTS + 3];
	char shortopts[2 * TOOL_MAX_OPTS + 8];
	int ready;
};

/*
 * tool_next - the next option of @argv: its key, with optarg set; -1 when
 * the options end (operands start at optind).  --help and --version exit 0;
 * an unknown option or one without its argument exits 2.
 */
int tool_next(struct tool *t, int argc, char **argv);

/*
 * tool_num - the current option's argument as a number from @min to @max:
 * decimal digits, or hex digits after 0x; no sign, space or anything after
 * it.  Anything else exits 2 with a message that names the option and the
 * range.
 */
uint64_t tool_num(const struct tool *t, const char *s, uint64_t min, uint64_t max);

/*
 * tool_size - like tool_num, with an optional suffix k, m or g (KiB, MiB,
 * GiB; either case): a size in bytes from @min to @max.
 */
uint64_t tool_size(const struct tool *t, const char *s, uint64_t min, uint64_t max);

/*
 * tool_choice - the index of @s in the NULL-ended @choices; anything else
 * exits 2 naming the current option and the accepted words.
 */
unsigned tool_choice(const struct tool *t, const char *s, const char *const *choices);

/*
 * tool_data_path - a backend's --data MODE as the gm_dev_config.unmapped_max
 * it stands for: "map" 0 (every request mapped), "copy"
 * GM_VQ_UNMAPPED_ALL (every request moved with grant copies, nothing
 * mapped), "auto" @auto_max (requests of up to that many bytes copied,
 * bigger ones mapped).  Anything else exits 2 as tool_choice does.
 */
uint64_t tool_data_path(const struct tool *t, const char *s, uint64_t auto_max);

/*
 * tool_vdev_type - @s if it is a vdev device type (vdev.h: 1 to 32
 * characters of a-z, 0-9, '-' and '_'); else exits 2 saying so.
 */
const char *tool_vdev_type(const struct tool *t, const char *s);

/* tool_usage_error - "<tool>: <message>", the --help hint, exit 2. */
void tool_usage_error(const struct tool *t, const char *fmt, ...)
	__attribute__((format(printf, 2, 3), noreturn));

/* tool_usage - the synopsis lines alone (for a tool's own messages). */
void tool_usage(const struct tool *t, FILE *f);

#endif
