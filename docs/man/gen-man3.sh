#!/bin/sh
# SPDX-License-Identifier: LGPL-2.1-or-later
# gen-man3.sh - the section 3 manual pages of grantmem, from its headers.
#
#   gen-man3.sh OUTDIR VERSION DATE HEADER...
#
# Writes into OUTDIR (which must exist and be empty):
#   - one page per documented function or group of functions: the doc block
#     right above a GM_API declaration is the page's DESCRIPTION; functions
#     a block documents together (gm_read_le16 ... gm_write_be64) share a
#     page, named after the first, and the others get a ".so" alias page;
#   - one page per header: grantmem-mem(3) for <grantmem/mem.h>, ...; and
#     grantmem(3) for <grantmem/grantmem.h>, which includes them all.
# A GM_API declaration without a doc block is an error: the pages would
# lie about what is documented.  POSIX sh and awk only (the awk program is
# gen-man3.awk beside this script).
set -eu
if [ $# -lt 4 ]; then
	echo "usage: $0 OUTDIR VERSION DATE HEADER..." >&2
	exit 2
fi
out=$1 version=$2 date=$3
shift 3
here=$(dirname "$0")
[ -d "$out" ] || { echo "$0: $out is not a directory" >&2; exit 2; }
exec awk -v out="$out" -v version="$version" -v date="$date" -f "$here/gen-man3.awk" "$@"
