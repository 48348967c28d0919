# SPDX-License-Identifier: LGPL-2.1-or-later
# ---- tests/fuzz: libFuzzer targets (tests/fuzz/README.md) ----
# Built with clang whatever CC is:
#   make fuzz                      build them into tests/fuzz/build/
#   tests/fuzz/run.sh SECONDS      run each for SECONDS (from the build dir)
#   make robustness-report         regenerate tests/ROBUSTNESS.md from the
#                                  last runs (FUZZ_SECONDS=N: fuzz first)
EXTRA_DIST += \
	tests/fuzz/README.md \
	tests/fuzz/build.sh \
	tests/fuzz/run.sh \
	tests/fuzz/fuzz-common.h \
	tests/fuzz/fuzz-space.c \
	tests/fuzz/fuzz-gnttab.c \
	tests/fuzz/fuzz-virtq.c \
	tests/fuzz/fuzz-xsconfig.c \
	tests/fuzz/seeds.py \
	tests/fuzz/corpus
fuzz:
	$(SHELL) $(srcdir)/tests/fuzz/build.sh '$(abs_top_srcdir)' '$(abs_top_builddir)'
fuzz-clean:
	rm -rf tests/fuzz/build
.PHONY: fuzz fuzz-clean
