# SPDX-License-Identifier: LGPL-2.1-or-later
# gen-man3.awk - grantmem's section 3 pages from its public headers; run by
# gen-man3.sh, which says what it writes.  POSIX awk (mawk and gawk).
#
# A header is read as a list of items, in order:
#   comment  a top-level comment block (its text, without the comment marks)
#   decl     a GM_API declaration (one function)
#   code     other top-level code: types, constants, macros
#   sep      a "---- title ----" comment, which starts a subsection
# Blank lines split items into blocks.  The first comment of a header is its
# overview.  Each declaration belongs to one doc block:
#   1. the block whose title line ("gm_a / gm_b - what they do") names it;
#   2. else the nearest comment above it in its block, if that comment has
#      no title (it documents the block: "Accessors: ...") or mentions it;
#   3. else the first comment of its block if that one has no title;
#   4. else the nearest comment above it in its block;
#   5. else it has none: an error.

function fail(msg) {
	print "gen-man3: " msg > "/dev/stderr"
	errors++
}

function trim(s) {
	sub(/^[ \t]+/, "", s)
	sub(/[ \t]+$/, "", s)
	return s
}

# Tabs to spaces, every 8 columns.
function untab(s,    r, i, c) {
	r = ""
	for (i = 1; i <= length(s); i++) {
		c = substr(s, i, 1)
		if (c == "\t") {
			r = r " "
			while (length(r) % 8)
				r = r " "
		} else {
			r = r c
		}
	}
	return r
}

function add_item(type, text, line,    m) {
	ni++
	T[ni] = type
	X[ni] = text
	H[ni] = nh
	B[ni] = block
	L[ni] = line
	if (type == "decl") {
		if (!match(text, /gm_[a-z0-9_]+[ \t]*\(/)) {
			fail(HF[nh] ":" line ": a GM_API declaration without a gm_ name")
			return
		}
		m = substr(text, RSTART, RLENGTH)
		sub(/[ \t]*\($/, "", m)
		N[ni] = m
		if (m in DECL)
			fail(HF[nh] ":" line ": " m " declared twice")
		DECL[m] = ni
	}
}

function flush_code() {
	if (codebuf != "")
		add_item("code", codebuf, codeline)
	codebuf = ""
}

# The text of a comment block, without "/*", the " * " of each line and "*/".
function clean(c,    n, a, i, s, r, first) {
	n = split(c, a, "\n")
	r = ""
	first = 1
	for (i = 1; i <= n; i++) {
		s = a[i]
		if (i == 1)
			sub(/^[ \t]*\/\*+ ?/, "", s)
		else
			sub(/^[ \t]*\*( |$)/, "", s)
		sub(/[ \t]*\*+\/[ \t]*$/, "", s)
		sub(/[ \t]+$/, "", s)
		s = untab(s)
		if (first && s == "")
			continue
		r = first ? s : r "\n" s
		first = 0
	}
	sub(/\n+$/, "", r)
	return r
}

function end_comment(    t) {
	t = clean(cbuf)
	if (!(nh in OV)) {
		OV[nh] = t
	} else if (t ~ /^-+ .* -+$/) {
		sub(/^-+ /, "", t)
		sub(/ -+$/, "", t)
		add_item("sep", t, cline)
	} else {
		add_item("comment", t, cline)
	}
}

function count(s, re,    n) {
	n = gsub(re, "", s)
	return n
}

# Braces opened minus closed on a code line (comments and strings aside).
function braces(s) {
	gsub(/\/\*.*\*\//, "", s)
	sub(/\/\*.*/, "", s)
	gsub(/"[^"]*"/, "", s)
	gsub(/'[^']*'/, "", s)
	return count(s, "{") - count(s, "}")
}

function api_done(s) {
	return count(s, "\\(") == count(s, "\\)") && s ~ /;[ \t]*$/
}

FNR == 1 {
	if (nh)
		flush_code()
	nh++
	HF[nh] = FILENAME
	s = FILENAME
	sub(/.*\//, "", s)
	sub(/\.h$/, "", s)
	HN[nh] = s
	HLIB[nh] = s == "emu" ? "grantmem-emu" : s == "ioreq" ? "grantmem-ioreq" : "grantmem"
	HPAGE[nh] = s == "grantmem" ? "grantmem" : "grantmem-" s
	incomment = inapi = inmacro = incpp = depth = 0
	codebuf = ""
	block++
	if ($0 ~ /SPDX-License-Identifier/)
		next
}

{
	line = $0
	if (incpp) {
		if (line ~ /^#endif/)
			incpp = 0
		next
	}
	if (incomment) {
		cbuf = cbuf "\n" line
		if (index(line, "*/")) {
			incomment = 0
			end_comment()
		}
		next
	}
	if (inapi) {
		abuf = abuf "\n" line
		if (api_done(abuf)) {
			inapi = 0
			add_item("decl", abuf, aline)
		}
		next
	}
	if (depth == 0 && !inmacro) {
		if (line ~ /^[ \t]*$/) {
			flush_code()
			block++
			next
		}
		if (line ~ /^#ifdef __cplusplus/) {
			flush_code()
			incpp = 1
			next
		}
		if (line ~ /^#include <grantmem\//) {
			s = line
			sub(/^#include <grantmem\//, "", s)
			sub(/\.h>.*/, "", s)
			INC[nh] = INC[nh] " " s
			next
		}
		if (line ~ /^#(if|ifdef|ifndef|endif|else|elif|include)/ ||
		    line ~ /^#define GRANTMEM_[A-Z_]*_H[ \t]*$/)
			next
		if (line ~ /^[ \t]*\/\*/) {
			flush_code()
			cbuf = line
			cline = FNR
			if (index(substr(line, index(line, "/*") + 2), "*/"))
				end_comment()
			else
				incomment = 1
			next
		}
		if (line ~ /^GM_API[ \t]/) {
			flush_code()
			abuf = line
			aline = FNR
			if (api_done(abuf))
				add_item("decl", abuf, aline)
			else
				inapi = 1
			next
		}
	}
	if (codebuf == "") {
		codebuf = line
		codeline = FNR
	} else {
		codebuf = codebuf "\n" line
	}
	depth += braces(line)
	inmacro = line ~ /\\$/
}

# ---- doc blocks --------------------------------------------------------------

# The names a comment's title line gives, " a b ", or "".
function title_names(t,    first, m, r, n, a, i) {
	first = t
	sub(/\n.*/, "", first)
	# "gm_a - ...", "gm_a / gm_b - ...", "gm_a, gm_b - ..."  (no grouped
	# repetition in the regex: mawk mishandles it)
	if ((i = index(first, " - ")) == 0)
		return ""
	m = substr(first, 1, i - 1)
	if (m !~ /^gm_[a-z0-9_]+[a-z0-9_ ,\/]*$/)
		return ""
	gsub(/[\/,]/, " ", m)
	n = split(m, a, " ")
	r = " "
	for (i = 1; i <= n; i++) {
		if (a[i] !~ /^gm_[a-z0-9_]+$/)
			return ""
		r = r a[i] " "
	}
	return r
}

# Is @w in @s as a whole word?
function mentions(s, w,    i, p, before, after) {
	p = 0
	while ((i = index(substr(s, p + 1), w)) > 0) {
		p += i
		before = p > 1 ? substr(s, p - 1, 1) : " "
		after = substr(s, p + length(w), 1)
		if (before !~ /[A-Za-z0-9_]/ && after !~ /[A-Za-z0-9_]/)
			return 1
	}
	return 0
}

function assign(    i, j, k, n, a, c0, c1, f) {
	for (i = 1; i <= ni; i++) {
		if (T[i] != "comment")
			continue
		TN[i] = title_names(X[i])
		n = split(TN[i], a, " ")
		for (k = 1; k <= n; k++)
			if (!(a[k] in NAMEDBY))
				NAMEDBY[a[k]] = i
	}
	for (i = 1; i <= ni; i++) {
		if (T[i] != "decl")
			continue
		f = N[i]
		c0 = c1 = 0
		for (j = i - 1; j > 0 && H[j] == H[i] && B[j] == B[i]; j--) {
			if (T[j] != "comment")
				continue
			if (!c0)
				c0 = j
			c1 = j
		}
		if (f in NAMEDBY)
			c = NAMEDBY[f]
		else if (c0 && (TN[c0] == "" || mentions(X[c0], f)))
			c = c0
		else if (c1 && TN[c1] == "")
			c = c1
		else if (c0)
			c = c0
		else {
			fail(HF[H[i]] ":" L[i] ": " f " has no doc block")
			continue
		}
		DOC[i] = c
		G[c] = G[c] " " i
	}
}

# ---- roff ---------------------------------------------------------------------

# Escape text for roff: backslashes, minus signs (a "-" that starts a word:
# -EINVAL, --option), non-ASCII dashes.
function esc(s,    r, i, c, prev, next_) {
	gsub(/\\/, "\\e", s)
	r = ""
	prev = " "
	for (i = 1; i <= length(s); i++) {
		c = substr(s, i, 1)
		next_ = substr(s, i + 1, 1)
		if (c == "-" && prev !~ /[A-Za-z0-9_]/ && next_ ~ /[A-Za-z0-9-]/)
			r = r "\\-"
		else
			r = r c
		prev = c
	}
	gsub(/\342\200\224/, "\\(em", r)
	gsub(/\342\206\222/, "\\(->", r)
	return r
}

# One line of doc text: escaped, @param in italics, gm_f() in bold.
function rtext(s,    r, w) {
	s = esc(s)
	r = ""
	while (match(s, /@[a-z_][a-z0-9_]*/)) {
		w = substr(s, RSTART + 1, RLENGTH - 1)
		if (substr(s, RSTART + RLENGTH, 1) ~ /[A-Za-z0-9]/) {
			r = r substr(s, 1, RSTART + RLENGTH - 1)
		} else {
			r = r substr(s, 1, RSTART - 1) "\\fI" w "\\fP"
		}
		s = substr(s, RSTART + RLENGTH)
	}
	s = r s
	r = ""
	while (match(s, /gm_[a-z0-9_]+\(\)/)) {
		r = r substr(s, 1, RSTART - 1) "\\fB" substr(s, RSTART, RLENGTH - 2) "\\fP()"
		s = substr(s, RSTART + RLENGTH)
	}
	s = r s
	if (s ~ /^[.']/)
		s = "\\&" s
	return s
}

# Is @next_ indented to about where the text after "name: " starts on @ln
# (the continuation of a definition)?
function aligned(ln, next_,    col) {
	match(ln, /^[^:]*: +/)
	col = RLENGTH
	match(next_, /^ +/)
	return RSTART == 1 && RLENGTH >= 4 && RLENGTH >= col - 2 && RLENGTH <= col + 2
}

# A doc text as roff paragraphs.  Lines of "@param: text" or "name:   text"
# (aligned) become tagged paragraphs; indented or column-aligned lines keep
# their layout (tables, examples); the rest is filled.
function render(t,    n, a, i, ln, r, mode, tag, rest, started) {
	n = split(t, a, "\n")
	r = ""
	mode = ""
	started = 0
	for (i = 1; i <= n; i++) {
		ln = a[i]
		if (ln ~ /^[ \t]*$/) {
			if (mode == "nf")
				r = r ".fi\n"
			mode = ""
			continue
		}
		if (ln ~ /^@[A-Za-z_][A-Za-z0-9_]*:( |$)/ ||
		    ln ~ /^[A-Za-z_][A-Za-z0-9_]*:  +[^ ]/ ||
		    ln ~ /^@?[A-Za-z_][A-Za-z0-9_]*(( \/ |, )@?[A-Za-z_][A-Za-z0-9_]*)+: +[^ ]/ ||
		    (ln ~ /^[A-Za-z_][A-Za-z0-9_]*: +[^ ]/ && aligned(ln, a[i + 1]))) {
			if (mode == "nf")
				r = r ".fi\n"
			tag = ln
			sub(/:.*/, "", tag)
			rest = ln
			sub(/^[^:]*: */, "", rest)
			if (tag ~ /^@/) {
				gsub(/@/, "", tag)
				tag = "\\fI" esc(tag) "\\fP"
			} else {
				tag = "\\fB" esc(tag) "\\fP"
			}
			r = r ".TP\n" tag "\n"
			if (rest != "")
				r = r rtext(rest) "\n"
			mode = "def"
			started = 1
			continue
		}
		if (mode == "def" && ln ~ /^[ \t]/) {
			r = r rtext(trim(ln)) "\n"
			continue
		}
		if (ln ~ /^[ \t]/ || ln ~ /[^ ]   +[^ ]/) {
			if (mode != "nf") {
				if ((mode == "" || mode == "def") && started)
					r = r ".PP\n"
				r = r ".nf\n"
			}
			mode = "nf"
			started = 1
			r = r rtext(ln) "\n"
			continue
		}
		if (mode == "nf") {
			r = r ".fi\n"
		} else if ((mode == "" || mode == "def") && started) {
			r = r ".PP\n"
		}
		mode = "fill"
		started = 1
		r = r rtext(ln) "\n"
	}
	if (mode == "nf")
		r = r ".fi\n"
	return r
}

# The first sentence of a text, for NAME lines: plain, short.
function summary(t,    s, i) {
	s = t
	sub(/\n\n.*/, "", s)
	gsub(/\n/, " ", s)
	gsub(/ +/, " ", s)
	if ((i = index(s, ". ")) > 0)
		s = substr(s, 1, i - 1)
	sub(/[.:]$/, "", s)
	gsub(/@/, "", s)
	if (length(s) > 90) {
		s = substr(s, 1, 87)
		sub(/[ ,;(][^ ]*$/, "", s)
		s = s "..."
	}
	return esc(s)
}

# A doc block's text without its title ("gm_a, gm_b - "); capitalised for
# a DESCRIPTION (@cap), as written for a NAME line.
function body(c, cap,    t) {
	t = X[c]
	if (TN[c] != "") {
		t = substr(t, index(t, " - ") + 3)
		sub(/^[ \t]+/, "", t)
		if (cap && t ~ /^[a-z]/ && t !~ /^gm_/)
			t = toupper(substr(t, 1, 1)) substr(t, 2)
	}
	return t
}

function page_start(f, name, sec) {
	print ".\\\" SPDX-License-Identifier: LGPL-2.1-or-later" > f
	print ".\\\" Generated by docs/man/gen-man3.sh from grantmem's headers: do not edit." > f
	print ".TH " name " " sec " \"" date "\" \"grantmem " version "\" \"grantmem Manual\"" > f
	# identifiers are neither hyphenated nor stretched
	print ".nh" > f
	print ".ad l" > f
}

# ---- function pages ------------------------------------------------------------

# A prototype on one line, without GM_API.
function proto(s) {
	gsub(/[ \t\n]+/, " ", s)
	sub(/^GM_API /, "", s)
	gsub(/\( /, "(", s)
	gsub(/ \)/, ")", s)
	return s
}

# The parameter names of a prototype, " a b ".
function params(s,    i, c, depth, cur, r, name, n) {
	i = index(s, "(")
	depth = 0
	cur = ""
	r = " "
	for (; i <= length(s); i++) {
		c = substr(s, i, 1)
		if (c == "(") {
			depth++
			if (depth == 1)
				continue
		} else if (c == ")") {
			depth--
		}
		if ((c == "," && depth == 1) || depth == 0) {
			name = ""
			if (match(cur, /\(\*[A-Za-z_][A-Za-z0-9_]*\)/))
				name = substr(cur, RSTART + 2, RLENGTH - 3)
			else if (match(cur, /[A-Za-z_][A-Za-z0-9_]*(\[[^]]*\])?[ ]*$/)) {
				name = substr(cur, RSTART, RLENGTH)
				sub(/\[.*/, "", name)
				sub(/ +$/, "", name)
			}
			if (name != "" && name != "void" && trim(cur) != name)
				r = r name " "
			cur = ""
			if (depth == 0)
				break
			continue
		}
		cur = cur c
	}
	return r
}

# Wrap @word (whole words only, after position @from) in @pre ... @post.
function wordfont(s, w, pre, post, from,    r, i, before, after) {
	r = substr(s, 1, from - 1)
	s = substr(s, from)
	while ((i = index(s, w)) > 0) {
		before = i > 1 ? substr(s, i - 1, 1) : (r == "" ? " " : substr(r, length(r), 1))
		after = substr(s, i + length(w), 1)
		if (before !~ /[A-Za-z0-9_]/ && after !~ /[A-Za-z0-9_]/)
			r = r substr(s, 1, i - 1) pre w post
		else
			r = r substr(s, 1, i - 1 + length(w))
		s = substr(s, i + length(w))
	}
	return r s
}

# A prototype for SYNOPSIS: wrapped at commas under its "(", the function
# in bold, the parameters in italics.
function synopsis(p, name,    ps, lines, col, cut, i, n, a, out, k, ln, pn, pa, j) {
	ps = params(p)
	col = index(p, "(")
	n = 0
	while (length(p) > 72) {
		cut = 0
		for (i = 72; i > col; i--)
			if (substr(p, i, 2) == ", ") {
				cut = i
				break
			}
		if (!cut)
			break
		a[++n] = substr(p, 1, cut)
		p = sprintf("%" col "s", "") substr(p, cut + 2)
	}
	a[++n] = p
	out = ""
	pn = split(ps, pa, " ")
	for (k = 1; k <= n; k++) {
		ln = esc(a[k])
		if (k == 1)
			ln = wordfont(ln, name, "\\fB", "\\fP", 1)
		for (j = 1; j <= pn; j++)
			ln = wordfont(ln, pa[j], "\\fI", "\\fP", k == 1 ? index(ln, "(") : 1)
		out = out ln "\n"
	}
	return out
}

function link_line(lib) {
	return "Link with \\fI\\-l" lib "\\fP (\\fBpkg\\-config \\-\\-cflags \\-\\-libs " \
	       lib "\\fP)."
}

function see_also(list,    n, a, i, r, sec) {
	n = split(list, a, " ")
	r = ""
	for (i = 1; i <= n; i++) {
		sec = a[i]
		sub(/.*\(/, "", sec)
		sub(/\)/, "", sec)
		name = a[i]
		sub(/\(.*/, "", name)
		r = r ".BR " name " (" sec ")" (i < n ? "," : "") "\n"
	}
	return r
}

function function_page(c,    n, a, first, f, i, h, refs, seen, m, t, w, s, k) {
	n = split(G[c], a, " ")
	first = N[a[1]]
	h = H[a[1]]
	f = out "/" first ".3"
	if (first in PAGEFILE)
		fail(first ": two pages")
	PAGEFILE[first] = 1
	page_start(f, first, 3)
	print ".SH NAME" > f
	s = ""
	for (i = 1; i <= n; i++)
		s = s (i > 1 ? ", " : "") esc(N[a[i]])
	print s " \\- " summary(body(c)) > f
	print ".SH SYNOPSIS" > f
	print ".nf" > f
	print ".B #include <grantmem/" HN[h] ".h>" > f
	print ".PP" > f
	for (i = 1; i <= n; i++)
		printf "%s", synopsis(proto(X[a[i]]), N[a[i]]) > f
	print ".fi" > f
	print ".PP" > f
	print link_line(HLIB[h]) > f
	print ".SH DESCRIPTION" > f
	printf "%s", render(body(c, 1)) > f
	# SEE ALSO: the functions the text names that have pages, the header's
	# page, grantmem(7)
	refs = ""
	for (i = 1; i <= n; i++)
		seen[N[a[i]]] = 1
	t = X[c]
	while (match(t, /gm_[a-z0-9_]+/)) {
		w = substr(t, RSTART, RLENGTH)
		t = substr(t, RSTART + RLENGTH)
		if ((w in DOC_PAGE) && !(w in seen)) {
			seen[w] = 1
			refs = refs " " w "(3)"
		}
	}
	for (k in seen)
		delete seen[k]
	print ".SH SEE ALSO" > f
	printf "%s", see_also(refs " " HPAGE[h] "(3) grantmem(7)") > f
	close(f)
	for (i = 2; i <= n; i++) {
		m = out "/" N[a[i]] ".3"
		PAGEFILE[N[a[i]]] = 1
		print ".so man3/" first ".3" > m
		close(m)
	}
}

# ---- header pages --------------------------------------------------------------

# A header's overview: its first sentence ("grantmem: what it is.") is the
# page's NAME, the rest its DESCRIPTION.
function header_summary(h,    s, i) {
	s = OV[h]
	sub(/\n\n.*/, "", s)
	gsub(/\n/, " ", s)
	sub(/^grantmem: */, "", s)
	if ((i = index(s, ". ")) > 0)
		s = substr(s, 1, i - 1)
	sub(/\.$/, "", s)
	return s
}

function header_description(h,    p, rest, i) {
	p = OV[h]
	rest = ""
	if ((i = index(p, "\n\n")) > 0) {
		rest = substr(p, i + 2)
		p = substr(p, 1, i - 1)
	}
	gsub(/\n/, " ", p)
	p = (i = index(p, ". ")) > 0 ? substr(p, i + 2) : ""
	sub(/^ +/, "", p)
	return p == "" ? rest : rest == "" ? p : p "\n\n" rest
}

function header_page(h,    f, t, i, k, n, a, names, prose, j, incs, m) {
	f = out "/" HPAGE[h] ".3"
	page_start(f, HPAGE[h], 3)
	print ".SH NAME" > f
	if (HN[h] == "grantmem")
		print "grantmem \\- every header of the grantmem library in one" > f
	else
		print HPAGE[h] " \\- " esc(header_summary(h)) > f
	print ".SH SYNOPSIS" > f
	print ".nf" > f
	print ".B #include <grantmem/" HN[h] ".h>" > f
	print ".fi" > f
	print ".PP" > f
	print link_line(HLIB[h]) > f
	print ".SH DESCRIPTION" > f
	t = header_description(h)
	if (HN[h] == "grantmem") {
		print "It includes every public header of grantmem, each with its page:" > f
		n = split(INC[h], a, " ")
		for (i = 1; i <= n; i++) {
			print ".TP" > f
			print ".BR grantmem\\-" a[i] " (3)" > f
			print "<grantmem/" a[i] ".h>: " esc(HSUM[a[i]]) > f
		}
		print ".PP" > f
		print "libgrantmem holds every header's functions but those of <grantmem/emu.h>" > f
		print "(libgrantmem\\-emu, the emulated Xen) and <grantmem/ioreq.h>" > f
		print "(libgrantmem\\-ioreq, the ioreq server); each library has its" > f
		print "pkg\\-config file of the same name." > f
	} else if (t != "") {
		printf "%s", render(t) > f
	}
	# the header's contents in order: subsections, documented types and
	# constants with their code, and the functions with their pages
	prose = ""
	for (i = 1; i <= ni; i++) {
		if (H[i] != h)
			continue
		if (!started_api) {
			print ".SH INTERFACE" > f
			started_api = 1
		}
		if (T[i] == "sep") {
			m = X[i]
			if (m !~ /^gm_/)
				m = toupper(substr(m, 1, 1)) substr(m, 2)
			print ".SS " esc(m) > f
		} else if (T[i] == "comment" && G[i] != "") {
			n = split(G[i], a, " ")
			names = ""
			for (j = 1; j <= n; j++)
				names = names (j > 1 ? ", " : "") "\\fB" esc(N[a[j]]) "\\fP"
			print ".TP" > f
			print names > f
			m = summary(body(i))
			print "See \\fB" esc(N[a[1]]) "\\fP(3): " m (m ~ /\.\.\.$/ ? "" : ".") > f
		} else if (T[i] == "comment") {
			print ".PP" > f
			printf "%s", render(X[i]) > f
		} else if (T[i] == "code") {
			print ".PP" > f
			print ".in +4n" > f
			print ".EX" > f
			n = split(X[i], a, "\n")
			for (j = 1; j <= n; j++) {
				m = esc(untab(a[j]))
				if (m ~ /^[.']/)
					m = "\\&" m
				print m > f
			}
			print ".EE" > f
			print ".in" > f
		}
	}
	started_api = 0
	print ".SH SEE ALSO" > f
	incs = ""
	n = split(INC[h], a, " ")
	for (i = 1; i <= n; i++)
		if (HN[h] != "grantmem")
			incs = incs " grantmem-" a[i] "(3)"
	if (HN[h] != "grantmem")
		incs = incs " grantmem(3)"
	printf "%s", see_also(incs " grantmem(7)") > f
	close(f)
}

END {
	if (nh)
		flush_code()
	if (incomment || inapi)
		fail("unterminated comment or declaration at the end of " HF[nh])
	assign()
	for (i = 1; i <= ni; i++)
		if (T[i] == "decl" && (i in DOC))
			DOC_PAGE[N[i]] = 1
	for (h = 1; h <= nh; h++)
		HSUM[HN[h]] = header_summary(h)
	for (i = 1; i <= ni; i++)
		if (T[i] == "comment" && G[i] != "")
			function_page(i)
	for (h = 1; h <= nh; h++)
		header_page(h)
	if (errors)
		exit 1
}
