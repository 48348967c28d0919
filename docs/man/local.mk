# SPDX-License-Identifier: LGPL-2.1-or-later
# ---- docs/man: the manual pages ------------------------------------------------
# Section 3 is generated from the public headers' doc blocks at build time
# (docs/man/gen-man3.sh: one page per function or group of functions, one
# per header) into docs/man/man3/ of the build tree, and installed from
# there.  tests/test-man3.sh checks that every function the libraries
# export has a page.  The build fails on a GM_API declaration without a doc
# block.  The date is $SOURCE_DATE_EPOCH's when set (reproducible builds).
#
# Section 7 (grantmem(7), the overview) and section 1 (one page per
# installed tool) are written by hand; tests/test-man1.sh checks that every
# installed tool has its page and that the page lists exactly the long
# options the tool's option table accepts.
dist_man7_MANS = docs/man/grantmem.7
dist_man1_MANS = \
	docs/man/grantmem-xen-emu.1 \
	docs/man/grantmem-blk.1 \
	docs/man/grantmem-net.1 \
	docs/man/grantmem-guest.1 \
	docs/man/grantmem-vdev.1 \
	docs/man/grantmem-bench.1
EXTRA_DIST += docs/man/gen-man3.sh docs/man/gen-man3.awk
noinst_DATA = docs/man/man3.stamp
docs/man/man3.stamp: $(srcdir)/docs/man/gen-man3.sh $(srcdir)/docs/man/gen-man3.awk \
		$(grantmeminclude_HEADERS)
	$(AM_V_GEN)rm -rf docs/man/man3 && $(MKDIR_P) docs/man/man3 && \
	date=$$(date -u -d "@$${SOURCE_DATE_EPOCH:-$$(date +%s)}" +%Y-%m-%d) && \
	headers= && for h in $(grantmeminclude_HEADERS); do \
		if test -f "$$h"; then headers="$$headers $$h"; \
		else headers="$$headers $(srcdir)/$$h"; fi; \
	done && \
	$(SHELL) $(srcdir)/docs/man/gen-man3.sh docs/man/man3 '$(VERSION)' "$$date" $$headers && \
	touch $@
install-data-local: install-man3
install-man3: docs/man/man3.stamp
	$(MKDIR_P) '$(DESTDIR)$(mandir)/man3'
	for f in docs/man/man3/*.3; do \
		$(INSTALL_DATA) "$$f" '$(DESTDIR)$(mandir)/man3' || exit 1; \
	done
uninstall-local: uninstall-man3
uninstall-man3:
	for f in docs/man/man3/*.3; do \
		test -f "$$f" || continue; \
		rm -f '$(DESTDIR)$(mandir)/man3/'`basename "$$f"`; \
	done
clean-local: clean-man3
clean-man3:
	rm -rf docs/man/man3
CLEANFILES += docs/man/man3.stamp
.PHONY: install-man3 uninstall-man3 clean-man3
