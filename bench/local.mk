# SPDX-License-Identifier: LGPL-2.1-or-later
# ---- bench: `make bench` ----------------------------------------------------------
# tools/grantmem-bench on its own emulated Xen.  Writes latest.{txt,json,png}
# to $(BENCH_OUT): the build directory's bench-out/ unless asked otherwise
# (never the committed bench/, even when building in the source tree);
# `make bench BENCH_OUT='$(srcdir)/bench'` refreshes the committed results.
# The plot needs gnuplot; without it the plot is skipped with a note.  A
# full run takes a few minutes; BENCH_ARGS=--quick for one under a minute.
# Not part of `make check`: it measures, it never fails on a number.  The
# old results stay if the run fails.
bin_PROGRAMS += tools/grantmem-bench
tools_grantmem_bench_CPPFLAGS = $(GM_TOOL_CPPFLAGS)
tools_grantmem_bench_LDADD = $(GM_EMU_LIBS) $(GM_TOOL_LIBS) -lm
EXTRA_DIST += tools/bench-plot.sh bench/README.md
BENCH_ARGS =
BENCH_OUT = bench-out
bench: all
	$(MKDIR_P) '$(BENCH_OUT)'
	./tools/grantmem-bench $(BENCH_ARGS) --json '$(BENCH_OUT)/latest.json.tmp' \
		>'$(BENCH_OUT)/latest.txt.tmp'
	mv -f '$(BENCH_OUT)/latest.json.tmp' '$(BENCH_OUT)/latest.json'
	mv -f '$(BENCH_OUT)/latest.txt.tmp' '$(BENCH_OUT)/latest.txt'
	cat '$(BENCH_OUT)/latest.txt'
	@if ! command -v gnuplot >/dev/null 2>&1; then \
		echo "bench: no gnuplot: plot skipped (results in $(BENCH_OUT)/latest.txt and latest.json)"; \
	elif ! grep -q '"group":"strategy"' '$(BENCH_OUT)/latest.json'; then \
		echo "bench: the strategy group did not run: plot skipped"; \
	else \
		echo "bash $(srcdir)/tools/bench-plot.sh $(BENCH_OUT)/latest.json $(BENCH_OUT)/latest.png"; \
		bash $(srcdir)/tools/bench-plot.sh '$(BENCH_OUT)/latest.json' '$(BENCH_OUT)/latest.png'; \
	fi
.PHONY: bench
