/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * grantmem: address spaces, regions, views and the bytes API.
 *
 * Three kinds of object hold guest memory:
 *
 *   gm_space   guest addresses (uint64_t) -> sorted, non-overlapping regions;
 *   gm_region  one object [0, size) with map/unmap/read/write callbacks,
 *              or plain host memory the library reaches directly;
 *   gm_view    a restricted window (list of windows) onto another object,
 *              with its own permission.  Addresses are unchanged.
 *
 * All three are accessed through one function family that takes a common
 * handle, `gm_mem *`, obtained with gm_space_mem(), gm_region_mem() or
 * gm_view_mem() (in C, GM_MEM(x) picks the right one).  On a gm_region handle
 * an address is the offset inside the region.  Accesses that span regions or
 * pages are split inside the library.
 *
 * Threads: every access call may run concurrently with any other access call
 * and with gm_space_add()/gm_space_remove() on the same space.  Objects are
 * freed by their owner only once no call uses them.
 */
#ifndef GRANTMEM_MEM_H
#define GRANTMEM_MEM_H

#include <grantmem/common.h>
#include <sys/types.h>
#include <sys/uio.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef struct gm_space gm_space;
typedef struct gm_region gm_region;
typedef struct gm_view gm_view;
typedef struct gm_mem gm_mem;

/* A guest range: used for scatter-gather lists and view windows. */
struct gm_sg {
	uint64_t addr;
	size_t len;
};

/*
 * The map/unmap callback layer.  A region implements map+unmap, or
 * read+write, or all four (or none of them: gm_region_new_host() makes a
 * region of plain host memory).  Offsets are relative to the region; the library
 * has already checked that [offset, offset + len) lies inside the region and
 * that len > 0.  Callbacks may run concurrently from many threads.
 *
 * size:     versioned (common.h): sizeof(struct gm_region_ops), or 0.  The
 *           region keeps its own copy of the table.
 * map:      return a host pointer for [offset, offset + *len) usable with
 *           @flags' permissions, shortening *len where a mapping boundary
 *           stops it (never to 0).  @flags are gm_map's.  Under
 *           GM_MAP_WHOLE it must not shorten: it maps the whole range or
 *           fails, -ERANGE when no one mapping can hold it (a map that
 *           shortens anyway is undone, and gm_map fails -ERANGE).  On
 *           failure return NULL with a negative errno in *err; -EOPNOTSUPP
 *           asks the caller to use a bounce buffer through read/write
 *           instead (gm_map then fails -EOPNOTSUPP under GM_MAP_NO_BOUNCE).
 * unmap:    release what map returned; @len is the mapped length and
 *           @access_len how much of it was actually accessed.  From
 *           gm_unmap_host(), @ptr may lie anywhere inside a mapping, with
 *           the @offset and @len from_host gave for it.
 * map_sg:   optional.  Map @n ranges (region offsets in in[].addr) at once,
 *           writing one iovec per range into out[].  All or nothing: return 0
 *           or a negative errno with nothing mapped.  Ranges are not split:
 *           an implementation that cannot map a range whole fails -EAGAIN and
 *           the library falls back to per-range map.  An out[i] may stop
 *           short of its range where its mapping ends (never at 0 bytes):
 *           the library maps the rest with map.  It must never be longer
 *           than the memory behind it (the library clamps it to the range).
 *           Each out[i] is later
 *           released on its own with unmap(r, out[i].iov_base, in[i].addr,
 *           out[i].iov_len, ...), exactly like a pointer from map.
 * read:     optional.  Copy [offset, offset + len) into @buf.  0 or -errno.
 *           When present, the bytes API prefers it over map for copies.
 * write:    optional, as read, the other way.
 * read_sg:  optional.  Copy the @n ranges @in (region offsets, each inside
 *           the region, len > 0) one after the other into @buf, in as few
 *           calls to what is behind the region as it can (grant regions:
 *           one grant copy call per batch of page-split segments, mapped
 *           or not).  0 or -errno (a prefix may have been copied).
 *           gm_read_sg() hands it every consecutive range it finds on the
 *           region; without it, read is called per range.
 * write_sg: optional, as read_sg, the other way (gm_write_sg()).
 * free:     optional.  Called once when the region's last reference drops.
 * from_host: optional.  Find a mapping from a host pointer: when @ptr lies
 *           inside a mapping map or map_sg handed out and unmap has not yet
 *           released, set *offset to the region offset of the byte at @ptr
 *           and *len to the bytes from there that the mapping holds
 *           contiguously (in host memory and in the region), and return 0;
 *           otherwise return -ENOENT.  Any pointer into the mapping counts,
 *           not only the one map returned.  gm_unmap_host() and
 *           gm_host_to_guest() ask every such region of a space in turn,
 *           from any thread: it must be cheap and never block.  Without
 *           it, the region's mappings are released by gm_unmap() only.
 */
struct gm_region_ops {
	size_t size;
	void *(*map)(gm_region *r, uint64_t offset, size_t *len, int flags, int *err);
	void (*unmap)(gm_region *r, void *ptr, uint64_t offset, size_t len, int flags,
		      size_t access_len);
	int (*map_sg)(gm_region *r, const struct gm_sg *in, unsigned n, struct iovec *out,
		      int flags);
	int (*read)(gm_region *r, uint64_t offset, void *buf, size_t len);
	int (*write)(gm_region *r, uint64_t offset, const void *buf, size_t len);
	int (*read_sg)(gm_region *r, const struct gm_sg *in, unsigned n, void *buf);
	int (*write_sg)(gm_region *r, const struct gm_sg *in, unsigned n, const void *buf);
	void (*free)(gm_region *r);
	int (*from_host)(gm_region *r, const void *ptr, uint64_t *offset, size_t *len);
};

/* ---- regions ------------------------------------------------------------- */

/*
 * gm_region_new - create a region of @size bytes with callbacks @ops
 * (copied: the table need not outlive the call); @opaque is returned by
 * gm_region_opaque().  The caller owns one reference, dropped with
 * gm_region_free().
 * Returns 0, -EINVAL (size 0, no way to access it, ops->size below the
 * first version's), -E2BIG (a newer caller's table sets a callback this
 * library does not know), -ENOMEM.  Thread-safe.
 */
GM_API int gm_region_new(uint64_t size, const struct gm_region_ops *ops, void *opaque,
			 gm_region **out);

/*
 * gm_region_new_host - create a region whose @size bytes are host memory at
 * [host, host + size) for the region's whole life, usable with @prot
 * (GM_PROT_READ and/or GM_PROT_WRITE).
 * The library reaches such memory directly, the fastest way it has: gm_map
 * returns host + offset (no bounce buffer, shortened only where the region
 * or a view's window ends), the bytes API and the atomics work on it in
 * place, with no callback.  An
 * access @prot does not allow fails -EACCES.  RAM regions (ram.h) are made
 * this way; a region type whose memory is plain host memory, such as a
 * buffer shared with another process, should be too.
 * @ops:    may be NULL.  Only ops->free is ever called (when the last
 *          reference goes, e.g. to release @host); the access callbacks are
 *          not.  Copied, as by gm_region_new().
 * @opaque: returned by gm_region_opaque().
 * The memory stays the caller's: the library never frees it.  The caller
 * owns one reference, dropped with gm_region_free().
 * Returns 0, -EINVAL (NULL @host or @out, size 0, bad @prot, a range that
 * wraps past the top of the address space, ops->size too small), -E2BIG
 * (as gm_region_new), -ENOMEM.  Thread-safe; does not log.
 */
GM_API int gm_region_new_host(void *host, uint64_t size, int prot,
			      const struct gm_region_ops *ops, void *opaque, gm_region **out);

/*
 * gm_region_free - drop the caller's reference.  The region lives on while a
 * space holds it or a mapping of it is outstanding; ops->free runs when the
 * last reference goes.  Accepts NULL.
 */
GM_API void gm_region_free(gm_region *r);

/* gm_region_ref - take an extra reference (released with gm_region_free). */
GM_API gm_region *gm_region_ref(gm_region *r);

/* gm_region_opaque, gm_region_size - what the region was created with (NULL
 * and 0 for a NULL @r).  Thread-safe. */
GM_API void *gm_region_opaque(const gm_region *r);
GM_API uint64_t gm_region_size(const gm_region *r);

/*
 * gm_region_host - the host address of offset 0 of a region made with
 * gm_region_new_host() (RAM regions among them), or NULL for any other
 * region and for NULL.  Valid while the region lives.  Thread-safe.
 */
GM_API void *gm_region_host(const gm_region *r);

/* gm_region_mem - the bytes-API handle of a region; addresses are offsets. */
GM_API gm_mem *gm_region_mem(gm_region *r);

/* ---- address spaces ------------------------------------------------------ */

/*
 * gm_space_new - create an empty address space.
 * Returns 0 or -ENOMEM.  Free with gm_space_free() (accepts NULL), which drops
 * the space's references to its regions; the caller ensures no call is still
 * using the space.
 */
GM_API int gm_space_new(gm_space **out);
GM_API void gm_space_free(gm_space *s);

/* gm_space_mem - the bytes-API handle of a space. */
GM_API gm_mem *gm_space_mem(gm_space *s);

/*
 * gm_space_add - place @r at guest address @base; the space takes a reference.
 * Returns 0; -EINVAL (NULL @s or @r); -EEXIST if [base, base + size)
 * overlaps a region already there (or @r is already in this space); -EBUSY
 * if it overlaps a region removed (gm_space_remove) while mappings of it
 * are still out: that region keeps its addresses until the last of them
 * is unmapped; -EOVERFLOW if base + size wraps past 2^64; -ENOMEM.
 * Thread-safe against concurrent accesses and other add/remove calls:
 * accesses see either the old or the new layout, never a mix.
 */
GM_API int gm_space_add(gm_space *s, uint64_t base, gm_region *r);

/*
 * gm_space_remove - take @r out of the space.
 * Returns 0, -EINVAL (NULL @s or @r), -ENOENT, -ENOMEM.  On return, no
 * access that started before the call is still using @r through this space
 * and no new one can find it.  Mappings of @r handed out earlier by gm_map()
 * or gm_map_sg() stay valid until unmapped, which still reaches @r's
 * callbacks (the mapping holds a reference); until then @r's addresses stay
 * taken (gm_space_add fails -EBUSY there).
 * Must not be called from inside a region callback of the same space.
 */
GM_API int gm_space_remove(gm_space *s, gm_region *r);

/*
 * gm_space_set_bounce_limit - bytes of bounce buffers that may be outstanding
 * at once for gm_map() on regions that cannot be mapped (default 1 MiB).
 * Returns 0 or -EINVAL.
 */
GM_API int gm_space_set_bounce_limit(gm_space *s, size_t bytes);

/* ---- views --------------------------------------------------------------- */

/*
 * gm_view_new - a view of @target restricted to @n windows with permission
 * @prot (GM_PROT_*).  Addresses are the target's.  An access outside every
 * window fails -EFAULT; an access the view's permission forbids fails -EACCES.
 * The windows are copied; @target must outlive the view.
 * Returns 0, -EINVAL (n == 0, empty or wrapping window, no prot), -ENOMEM.
 */
GM_API int gm_view_new(gm_mem *target, const struct gm_sg *windows, unsigned n, int prot,
		       gm_view **out);
GM_API void gm_view_free(gm_view *v);
GM_API gm_mem *gm_view_mem(gm_view *v);

/* ---- map / unmap (zero-copy DMA windows) ---------------------------------- */

/*
 * gm_map - get a host pointer for guest memory [addr, addr + *len).
 * @flags: GM_PROT_READ and/or GM_PROT_WRITE, optionally GM_MAP_TRANSIENT or
 *         GM_MAP_PERSISTENT, optionally GM_MAP_NO_BOUNCE and GM_MAP_WHOLE
 *         (common.h).
 * Shortens *len at a region or mapping boundary (the address_space_map
 * contract: never longer, never 0 on success).  A region that cannot be
 * mapped gets a bounce buffer, filled for reads, copied back on gm_unmap()
 * for writes, bounded per space; unless GM_MAP_NO_BOUNCE refuses it.
 * Under GM_MAP_WHOLE nothing is shortened: the whole range comes back as
 * one mapping (on grants: one cache entry that holds every page, or a new
 * one mapped with one call) or the call fails.
 * Returns the pointer, or NULL with *err (if non-NULL) set: -EINVAL (*len 0,
 * bad flags), -EFAULT (no region at @addr; under GM_MAP_WHOLE, at any byte
 * of the range, or a range that wraps past 2^64), -EACCES (permission, or a
 * bounce buffer the region has no read/write callback for), -EOPNOTSUPP
 * (only a bounce buffer would do, and GM_MAP_NO_BOUNCE refuses it), -ENOSPC
 * (bounce or mapping budget exhausted, or under GM_MAP_WHOLE a bounce
 * budget with less room than *len), -ERANGE (GM_MAP_WHOLE: the range
 * spans two regions, or more than one mapping of its region can hold), or
 * a region's error.  Logs failures caused by guest addresses at debug level
 * only: callers decide.
 * Thread-safe.  Every successful call must be paired with gm_unmap() or
 * gm_unmap_host().
 */
GM_API void *gm_map(gm_mem *m, uint64_t addr, size_t *len, int flags, int *err);

/*
 * gm_unmap - release a pointer returned by gm_map(m, addr, &len, flags).
 * @addr, @len and @flags are what gm_map() was given and returned; @access_len
 * (<= len) is how much was written, for bounce buffers and dirty tracking.
 * Never fails.  Thread-safe.
 */
GM_API void gm_unmap(gm_mem *m, uint64_t addr, void *ptr, size_t len, int flags,
		     size_t access_len);

/*
 * gm_unmap_host - release a mapping found from its host pointer alone, as
 * QEMU's address_space_unmap() releases one: from the pointer, with no
 * guest address.
 * @m:     the handle the mapping was made on, or any handle over the same
 *         space.
 * @ptr:   a pointer gm_map() or gm_map_sg() returned, or any pointer into
 *         the same mapping: host memory of a region (RAM regions), a grant
 *         mapping (any page of the cache entry behind it, however the
 *         entry came to be made), or a bounce buffer.
 * @flags: as given to gm_map() (GM_PROT_WRITE: a bounce buffer is copied
 *         back).
 * @access_len: bytes written from @ptr on; a bounce buffer is copied back
 *         from its start up to @ptr + @access_len.
 * Releases one mapping, as one gm_unmap() would: call it once per
 * successful gm_map() (once per iovec of gm_map_sg()).
 * Returns 0; -EINVAL (NULL @m or @ptr, unknown flags); -ENOENT when @ptr
 * lies in no mapping of @m that is still out (a second unmap, a pointer
 * from elsewhere), which releases nothing and logs a warning
 * (rate-limited).  A persistent grant mapping the cache keeps counts as
 * out until it is evicted: a second unmap of one is not detected.
 * Thread-safe.  Host memory and a grant mapping whose cache entry is still
 * in the cache's table take no lock and make no system call (the cache
 * indexes its mappings by host page); an entry the cache let go while it
 * was still mapped (superseded, invalidated, evicted) is found under the
 * cache's lock, and a bounce buffer, or a region removed from the space
 * since the map, under a lock of the space; no system call but the unmap
 * a transient grant mapping's last release makes.
 */
GM_API int gm_unmap_host(gm_mem *m, void *ptr, int flags, size_t access_len);

/*
 * gm_host_to_guest - the guest address of the byte at host pointer @ptr:
 * what QEMU's memory_region_from_host() and qemu_ram_addr_from_host() give.
 * @ptr:  anywhere in the host memory of a region (RAM regions), in a
 *        mapping gm_map() or gm_map_sg() handed out and not yet released
 *        (a grant mapping: any page of its cache entry, each page giving
 *        its own gref), or in an outstanding bounce buffer (the address
 *        it stands for).
 * @addr: out: the guest address; on a region's handle, the region offset.
 * A view answers only for addresses inside its windows.  Where two
 * regions share host memory, one of their addresses is given.
 * Returns 0, -EINVAL (a NULL argument), -ENOENT (@ptr is none of the
 * above).  Thread-safe; locks as gm_unmap_host(); never logs.
 */
GM_API int gm_host_to_guest(gm_mem *m, const void *ptr, uint64_t *addr);

/*
 * gm_map_sg - map the @n guest ranges @in at once.
 * Fills out[0..] with host iovecs covering the ranges in order; a range is
 * split where it crosses a region boundary, so more iovecs than ranges may be
 * needed.  Ranges on a region with a map_sg callback (grant regions) are
 * mapped by one call for all of them.
 * @flags: as gm_map's (GM_MAP_NO_BOUNCE included).
 * Returns the number of iovecs written (>= n), or a negative errno with
 * nothing mapped: -EINVAL (n == 0, bad flags, a zero-length range), -E2BIG
 * (more than @max_out iovecs needed), -EFAULT (no region, or a range that
 * wraps past 2^64, as gm_read), -EACCES, -EOPNOTSUPP, -ENOSPC (as gm_map),
 * or a region's error.
 * Before anything is mapped, the ranges are checked in order, and the first
 * bad one decides the errno: its length (-EINVAL if 0), a wrap past 2^64
 * (-EFAULT), then piece by piece a missing region or a view's window
 * (-EFAULT), a view's or host memory's permission (-EACCES), a bounce
 * buffer refused or impossible (-EOPNOTSUPP, -EACCES), and room for its
 * pieces (-E2BIG).  A later range is not looked at.  Only when every range
 * passes are they mapped; a failure then (a region's error, -ENOSPC, or
 * -E2BIG where mappings come out shorter than the regions) is that of the
 * first mapping call to fail: ranges on a region with map_sg first, in one
 * call per region, then the others in order.  Never shortens a range: all
 * or nothing.
 */
GM_API int gm_map_sg(gm_mem *m, const struct gm_sg *in, unsigned n, struct iovec *out,
		     unsigned max_out, int flags);

/*
 * gm_unmap_sg - release what gm_map_sg(m, in, n, out, ...) returned @niov for.
 * @access_len: bytes actually written, counted from the start of the list
 * (SIZE_MAX: all of them).  Never fails.
 */
GM_API void gm_unmap_sg(gm_mem *m, const struct gm_sg *in, unsigned n, const struct iovec *out,
			unsigned niov, int flags, size_t access_len);

/* ---- bytes API ----------------------------------------------------------- */
/*
 * All return 0 on success or a negative errno: -EFAULT (some byte has no
 * region, or addr + len wraps past 2^64), -EACCES (permission), -EINVAL, or a
 * region's error (grant regions: see grant.h).  A failed write may have
 * written a prefix; a failed read leaves @buf's content unspecified.
 * len == 0 succeeds without touching memory (after checking the handle).
 * Thread-safe; they never log guest-caused failures above debug level.
 */
GM_API int gm_read(gm_mem *m, uint64_t addr, void *buf, size_t len);
GM_API int gm_write(gm_mem *m, uint64_t addr, const void *buf, size_t len);
/* gm_fill - set @len bytes at @addr to @byte. */
GM_API int gm_fill(gm_mem *m, uint64_t addr, int byte, size_t len);
/* gm_copy - copy between guest ranges (possibly of different handles).
 * Overlapping ranges are safe (never an undefined memcpy): chunks of up to
 * 64 KiB move as memmove does.  Where the ranges alias without overlapping
 * addresses (one page granted under two refs, so mapped twice) or span
 * several chunks, the overlapped bytes are unspecified. */
GM_API int gm_copy(gm_mem *dst, uint64_t dst_addr, gm_mem *src, uint64_t src_addr, size_t len);

/*
 * gm_read_sg / gm_write_sg - gather the @n guest ranges @sg into @buf, one
 * after the other (gm_read_sg), or scatter @buf over them (gm_write_sg):
 * the bytes API over a scatter-gather list, for a device that copies a
 * request's buffers rather than mapping them.  Where consecutive ranges lie
 * on a region with a read_sg/write_sg callback they go to it together: on
 * grant memory, every page of the list (mapped or not, whatever the cache's
 * copy_threshold) moves with grant copy, one copy call per batch of up to
 * 128 page-split segments; nothing is mapped.  Other memory is accessed as
 * gm_read/gm_write do, range by range.
 * Returns 0; -EINVAL (NULL @m, or NULL @sg or @buf with ranges); -EFAULT
 * (a byte without memory, a range wrapping past 2^64); -EACCES
 * (permission: a read-only grant as a gm_write_sg target); or a region's
 * error (grant.h).  n == 0 and zero-length ranges are fine.  A failed
 * gm_write_sg may have written a prefix.  Thread-safe; logs as
 * gm_read/gm_write (the grant layer logs a refused copy once).
 */
GM_API int gm_read_sg(gm_mem *m, const struct gm_sg *sg, unsigned n, void *buf);
GM_API int gm_write_sg(gm_mem *m, const struct gm_sg *sg, unsigned n, const void *buf);

/* Objects: gm_read_obj(m, addr, &obj) / gm_write_obj(m, addr, &obj). */
#define gm_read_obj(m, addr, ptr) gm_read((m), (addr), (ptr), sizeof(*(ptr)))
#define gm_write_obj(m, addr, ptr) gm_write((m), (addr), (ptr), sizeof(*(ptr)))

/* Little- and big-endian loads and stores of any alignment. */
GM_API int gm_read_le16(gm_mem *m, uint64_t addr, uint16_t *v);
GM_API int gm_read_le32(gm_mem *m, uint64_t addr, uint32_t *v);
GM_API int gm_read_le64(gm_mem *m, uint64_t addr, uint64_t *v);
GM_API int gm_read_be16(gm_mem *m, uint64_t addr, uint16_t *v);
GM_API int gm_read_be32(gm_mem *m, uint64_t addr, uint32_t *v);
GM_API int gm_read_be64(gm_mem *m, uint64_t addr, uint64_t *v);
GM_API int gm_write_le16(gm_mem *m, uint64_t addr, uint16_t v);
GM_API int gm_write_le32(gm_mem *m, uint64_t addr, uint32_t v);
GM_API int gm_write_le64(gm_mem *m, uint64_t addr, uint64_t v);
GM_API int gm_write_be16(gm_mem *m, uint64_t addr, uint16_t v);
GM_API int gm_write_be32(gm_mem *m, uint64_t addr, uint32_t v);
GM_API int gm_write_be64(gm_mem *m, uint64_t addr, uint64_t v);

/*
 * Atomic little-endian loads (acquire) and stores (release) for ring indices.
 * The address must be naturally aligned (-EINVAL otherwise) and the memory
 * mappable (-EOPNOTSUPP for regions that can only be copied).  The value is
 * guest little-endian; host byte order is returned.
 */
GM_API int gm_load_acquire16(gm_mem *m, uint64_t addr, uint16_t *v);
GM_API int gm_load_acquire32(gm_mem *m, uint64_t addr, uint32_t *v);
GM_API int gm_load_acquire64(gm_mem *m, uint64_t addr, uint64_t *v);
GM_API int gm_store_release16(gm_mem *m, uint64_t addr, uint16_t v);
GM_API int gm_store_release32(gm_mem *m, uint64_t addr, uint32_t v);
GM_API int gm_store_release64(gm_mem *m, uint64_t addr, uint64_t v);

/*
 * File descriptor transfers, with readv/writev (preadv/pwritev when
 * @off >= 0) straight over the mapped guest memory: no intermediate copy
 * where the memory can be mapped.
 *
 * gm_read_from:   read up to @len bytes from @fd into guest memory at @addr.
 *                 Returns the bytes transferred (0 at end of file) or a
 *                 negative errno (the fd's, or the access's).  Partial: one
 *                 system call; retried only on EINTR.
 * gm_read_exact_from: loop until @len bytes; -ENODATA if the fd ends first.
 * gm_write_to:    write up to @len bytes of guest memory at @addr to @fd.
 *                 Returns bytes transferred or a negative errno.  Partial.
 * gm_write_all_to: loop until @len bytes are written; 0 or negative errno.
 * @off: file offset for pread/pwrite, or -1 to use and advance the fd's own.
 * A short transfer caused by a partial mapping is still a success with the
 * short count (the exact forms keep going).
 */
GM_API ssize_t gm_read_from(gm_mem *m, uint64_t addr, int fd, off_t off, size_t len);
GM_API int gm_read_exact_from(gm_mem *m, uint64_t addr, int fd, off_t off, size_t len);
GM_API ssize_t gm_write_to(gm_mem *m, uint64_t addr, int fd, off_t off, size_t len);
GM_API int gm_write_all_to(gm_mem *m, uint64_t addr, int fd, off_t off, size_t len);

/* ---- spans: a burst of small accesses for one grant operation -------------- */
/*
 * A span holds a small range of guest memory -- a descriptor, a request
 * header -- for a burst of typed accesses, paid for once:
 *
 *     gm_span s;
 *     uint64_t addr; uint32_t len;
 *     if (gm_span_begin(&s, m, desc, 16, GM_PROT_READ) == 0) {
 *             gm_span_read_le64(&s, 0, &addr);
 *             gm_span_read_le32(&s, 8, &len);
 *             gm_span_end(&s);
 *     }
 *
 * Up to GM_SPAN_INLINE bytes are copied into the span by gm_span_begin
 * (where grant memory is not mapped, one grant copy however many fields
 * are read; where it is, or on RAM, a memcpy), and the bytes written are
 * written back together by gm_span_end (one grant copy more).  Such a span
 * is a snapshot: a field the guest changes after gm_span_begin does not
 * change in the span, so a value checked is the value used.  A longer span
 * is mapped instead (gm_map with GM_MAP_WHOLE: one map call on a grant
 * miss), accessed in place and unmapped by gm_span_end.
 * The structure is the caller's, on the stack usually; its fields are
 * private.  One thread uses a span at a time.
 */
#define GM_SPAN_INLINE 256
typedef struct gm_span {
	gm_mem *m_;
	uint64_t addr_;
	size_t len_;
	int flags_;
	unsigned char *p_; /* the bytes: buf_, or a mapping (map_) */
	void *map_;
	size_t lo_, hi_;   /* the bytes written: [lo_, hi_) */
	union {
		unsigned char b[GM_SPAN_INLINE];
		uint64_t align;
	} buf_;
} gm_span;

/*
 * gm_span_begin - hold [addr, addr + len) of @m in span @s.
 * @flags: GM_PROT_READ (the bytes are fetched now) and/or GM_PROT_WRITE
 *         (accesses may write; gm_span_end writes back), optionally
 *         GM_MAP_TRANSIENT or GM_MAP_PERSISTENT for a span longer than
 *         GM_SPAN_INLINE (which is mapped).
 * Without GM_PROT_READ, bytes between the first and the last one written
 * that were not written are unspecified when written back: fill what you
 * write whole.
 * Returns 0, or a negative errno with nothing held (gm_span_end() is then
 * harmless): -EINVAL (NULL @s or @m, @len 0, bad flags), and those of
 * gm_read() (up to GM_SPAN_INLINE bytes) or of gm_map() under GM_MAP_WHOLE
 * (longer).  Thread-safe as gm_read(); logs nothing above debug level.
 */
GM_API int gm_span_begin(gm_span *s, gm_mem *m, uint64_t addr, size_t len, int flags);

/*
 * gm_span_end - release span @s: write back what was written (one
 * gm_write() of the bytes from the first written to the last) or unmap
 * it.  Always releases; returns 0, or the write-back's negative errno (a
 * read-only grant: -EACCES; nothing may have reached the guest).  A span
 * whose gm_span_begin() failed, or that was released already, gives 0.
 * Thread-safe as gm_write(); logs nothing above debug level.
 */
GM_API int gm_span_end(gm_span *s);

/*
 * gm_span_read, gm_span_write - copy @len bytes at offset @off of span @s
 * (offsets count from the span's start address) to or from @buf.
 * Returns 0, -EFAULT when [off, off + len) is not inside the span, -EACCES
 * when the span was begun without GM_PROT_READ (reads) or GM_PROT_WRITE
 * (writes), -EINVAL (NULL @s, or @buf with @len > 0).  No guest memory is
 * touched before gm_span_end() unless the span is mapped (longer than
 * GM_SPAN_INLINE).  Never logs.
 */
GM_API int gm_span_read(const gm_span *s, size_t off, void *buf, size_t len);
GM_API int gm_span_write(gm_span *s, size_t off, const void *buf, size_t len);

/*
 * Typed accesses in a span: little- and big-endian loads and stores of
 * any alignment at offset @off of span @s, as gm_read_le16 and its family
 * do on guest addresses.  Errors as gm_span_read()/gm_span_write().
 */
GM_API int gm_span_read_le16(const gm_span *s, size_t off, uint16_t *v);
GM_API int gm_span_read_le32(const gm_span *s, size_t off, uint32_t *v);
GM_API int gm_span_read_le64(const gm_span *s, size_t off, uint64_t *v);
GM_API int gm_span_read_be16(const gm_span *s, size_t off, uint16_t *v);
GM_API int gm_span_read_be32(const gm_span *s, size_t off, uint32_t *v);
GM_API int gm_span_read_be64(const gm_span *s, size_t off, uint64_t *v);
GM_API int gm_span_write_le16(gm_span *s, size_t off, uint16_t v);
GM_API int gm_span_write_le32(gm_span *s, size_t off, uint32_t v);
GM_API int gm_span_write_le64(gm_span *s, size_t off, uint64_t v);
GM_API int gm_span_write_be16(gm_span *s, size_t off, uint16_t v);
GM_API int gm_span_write_be32(gm_span *s, size_t off, uint32_t v);
GM_API int gm_span_write_be64(gm_span *s, size_t off, uint64_t v);

#if !defined(__cplusplus) && defined(__STDC_VERSION__) && __STDC_VERSION__ >= 201112L
/* GM_MEM(x): the gm_mem handle of a space, region, view (or a gm_mem). */
#define GM_MEM(x)                                                                          \
	_Generic((x), gm_space *: gm_space_mem, gm_region *: gm_region_mem,                \
		 gm_view *: gm_view_mem, gm_mem *: gm__mem_identity)(x)
static inline gm_mem *gm__mem_identity(gm_mem *m)
{
	return m;
}
#endif

#ifdef __cplusplus
}
#endif

#endif /* GRANTMEM_MEM_H */
