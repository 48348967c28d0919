# SPDX-License-Identifier: LGPL-2.1-or-later
# ---- examples: backends built on grantmem (examples/README.md) ----
# Built and run by make check (tests/test-example-blk.sh, or as tests of
# their own); their sources are installed under $(docdir)/examples.
check_PROGRAMS += examples/blk/blk-backend
examples_blk_blk_backend_LDADD = $(GM_EMU_LIBS) libgrantmem.la $(PTHREAD_LIBS)
examplesdir = $(docdir)/examples
dist_examples_DATA = examples/README.md
examplesblkdir = $(docdir)/examples/blk
dist_examplesblk_DATA = examples/blk/blk-backend.c
TESTS += tests/test-example-blk.sh
EXTRA_DIST += tests/test-example-blk.sh

check_PROGRAMS += examples/qemu-adapter/qemu-adapter
examples_qemu_adapter_qemu_adapter_LDADD = $(GM_EMU_LIBS) libgrantmem.la
examplesqemudir = $(docdir)/examples/qemu-adapter
dist_examplesqemu_DATA = examples/qemu-adapter/qemu-adapter.c
TESTS += examples/qemu-adapter/qemu-adapter

check_PROGRAMS += examples/toy/toy-device
examples_toy_toy_device_LDADD = $(GM_EMU_LIBS) libgrantmem.la
examplestoydir = $(docdir)/examples/toy
dist_examplestoy_DATA = examples/toy/toy-device.c
TESTS += examples/toy/toy-device

check_PROGRAMS += examples/front/blk-front
examples_front_blk_front_LDADD = $(GM_EMU_LIBS) libgrantmem.la
examplesfrontdir = $(docdir)/examples/front
dist_examplesfront_DATA = examples/front/blk-front.c
