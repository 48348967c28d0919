# ---- bench: `make bench` ----------------------------------------------------------
# tools/grantmem-bench on its own emulated Xen; writes the committed results
# bench/latest.{txt,json,png} in the source tree (the plot needs gnuplot).
# A full run takes a few minutes; BENCH_ARGS=--quick for one under a
# minute.  Not part of `make check`: it measures, it never fails on a
# number.  The old results stay if the run fails.
bin_PROGRAMS += tools/grantmem-bench
tools_grantmem_bench_CPPFLAGS = $(GM_TOOL_CPPFLAGS)
tools_grantmem_bench_LDADD = $(GM_EMU_LIBS) $(GM_TOOL_LIBS) -lm
EXTRA_DIST += tools/bench-plot.sh bench/README.md
BENCH_ARGS =
bench: all
	$(MKDIR_P) $(srcdir)/bench
	./tools/grantmem-bench $(BENCH_ARGS) --json $(srcdir)/bench/latest.json.tmp \
		>$(srcdir)/bench/latest.txt.tmp
	mv -f $(srcdir)/bench/latest.json.tmp $(srcdir)/bench/latest.json
	mv -f $(srcdir)/bench/latest.txt.tmp $(srcdir)/bench/latest.txt
	cat $(srcdir)/bench/latest.txt
	bash $(srcdir)/tools/bench-plot.sh $(srcdir)/bench/latest.json $(srcdir)/bench/latest.png
.PHONY: bench
