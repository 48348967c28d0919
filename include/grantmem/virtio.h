/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * grantmem: virtqueues (virtio 1.2, sections 2.7 split and 2.8 packed) on top
 * of the bytes API, and gm_ring, the long-lived mapping they live in.
 *
 * A device model creates one gm_vq per queue when the driver enables it,
 * pops requests (chains of guest buffers, already mapped as host iovecs: the
 * device-readable ones first, then the device-writable ones), does the I/O
 * and pushes them back with the number of bytes written.  Push releases the
 * buffers' mappings *before* the guest can see the completion, so a guest
 * using transient grants can end foreign access as soon as it sees it.
 * (lib/dev, dev.h, runs this loop for a device: threads, kicks, retries.)
 *
 *   struct gm_vq_req *req;
 *   bool notify;
 *   while ((ret = gm_vq_pop(vq, &req)) == 0) {
 *           if (req->error) {
 *                   ... refused (too big): nothing is mapped; write the
 *                   device's error status with gm_vq_req_write ...
 *           } else {
 *                   ... read req->iov[0 .. nout), write req->iov[nout .. nout + nin) ...
 *           }
 *           gm_vq_push(vq, req, written, &notify);
 *           if (notify) ... raise the queue's interrupt / event channel ...
 *   }
 *   if (ret == -EAGAIN)          ... empty: wait for the driver's next kick
 *   else if (gm_vq_broken(vq))   ... hostile ring: set DEVICE_NEEDS_RESET
 *   else if (ret == -ENOBUFS)    ... every request is out: pop again after a push
 *   else                         ... -ENOMEM, -ENOSPC, -EBUSY: the chain waits in
 *                                    the ring; pop again after a while (no kick
 *                                    will come for it)
 *
 * Rings are reached through gm_ring (persistent mappings, like QEMU's
 * MemoryRegionCache): the ring pages stay mapped while the queue lives.  Data
 * buffers are mapped per request, transiently by default, with ONE
 * gm_map_sg call: on grant memory one map call and one unmap call per
 * request, however many descriptors, indirect or not.  A grant batch has a
 * single permission and Linux grants device-readable buffers read-only, so
 * when a chain goes both ways its smaller direction (at most GM_VQ_COPY_MAX
 * bytes: a header, a status byte) is copied instead of mapped; a chain with
 * more than that in both directions takes one map call per direction.
 *
 * Batches.  gm_vq_pop_batch takes the chains a notification brought (up to
 * max_batch) and maps the readable buffers of all of them with ONE
 * gm_map_sg call and the writable ones with another: on grant memory, two
 * map calls and two unmap calls for the whole batch.  A grant mapping is
 * unmapped only as a whole, and only once none of its buffers is in use,
 * so the requests of a transient batch become visible to the guest
 * together: each may be pushed on its own (gm_vq_push), but its used
 * element is written when the last request of its batch is pushed (gm_vq_push
 * then reports *notify for all of them).  Push a batch's requests together
 * (gm_vq_push_batch) where they finish together; keep batches small
 * (max_batch) where requests wait for outside events.
 *
 * Limits.  Every request has hard limits: max_request_bytes (both
 * directions together) and max_request_segments (buffers, direct and
 * indirect), and it must fit the memory's mapping budget (max_map_pages:
 * the pages a grant cache can map at once, 0 if unknown), and the memory
 * must be able to map it at all (a map's -EMSGSIZE: more than a grant
 * region's share of the budget can ever hold).  A request beyond them
 * could never be served, or would hold more than its share: pop refuses it
 * at once, with nothing mapped, req->error = -EMSGSIZE and one rate-limited
 * info line, and hands it out all the same so that the device
 * completes it with its own error status (virtio-blk: VIRTIO_BLK_S_IOERR in
 * its status byte, written with gm_vq_req_write) and the queue serves on.
 * -ENOSPC from a map (the budget is held by mappings in use) is not a
 * refusal: it clears as requests complete, and the chain waits in the ring.
 *
 * Hostile rings.  The guest writes the rings; every value read from them is
 * checked.  A malformed ring makes gm_vq_pop() fail with the errno below,
 * logs ONE warning line, marks the queue broken (gm_vq_broken(); later pops
 * fail -EIO; the device should set DEVICE_NEEDS_RESET) and leaves nothing of
 * that request mapped:
 *
 *   cause                                                    errno
 *   head, next or packed buffer id >= queue size             -EINVAL
 *   next index outside an indirect table                     -EINVAL
 *   a head / buffer id that is already in flight             -EINVAL
 *   indirect table length 0 or not a multiple of 16         -EINVAL
 *   descriptor loop, chain (direct + indirect) longer than
 *   max_chain, packed chain longer than the ring,
 *   indirect table with more than max_chain entries          -ELOOP
 *   zero-length buffer, buffer wrapping past 2^64            -EFAULT
 *   buffer (or indirect table) where nothing is mapped       -EFAULT
 *   device-readable buffer after a device-writable one       -EPROTO
 *   INDIRECT without VIRTIO_RING_F_INDIRECT_DESC negotiated,
 *   INDIRECT together with NEXT, INDIRECT inside a table     -EPROTO
 *   split avail idx ahead of the device by more than size   -EOVERFLOW
 *   a buffer the guest does not let us map (read-only grant
 *   for a device-writable buffer: -EACCES; revoked or bad
 *   gref: -EINVAL; ...)                                      the map error
 *   more buffer pieces than iovecs (buffers crossing many
 *   regions)                                                 -E2BIG
 *   a copied device-writable part (the small direction
 *   above: not mapped at pop) the guest does not let us
 *   write (read-only or revoked grant, read-only memory):
 *   found when gm_vq_push writes it back                     -EIO from push
 *
 * These do not break the queue:
 *
 *   cause                                                    errno
 *   a request over max_request_bytes or max_request_segments,
 *   or whose buffers need more than max_map_pages (or the
 *   memory's share for this guest) mapped at once: refused,
 *   handed out with nothing mapped for the device to
 *   complete with its error status ("Limits")                req->error = -EMSGSIZE
 *   no memory; the mapping budget held by mappings in use;
 *   Xen kept saying "try again": the chain stays in the
 *   ring, pop again later (no kick will come for it)         -ENOMEM, -ENOSPC, -EBUSY
 *   all max_inflight requests out: pop again after a push    -ENOBUFS
 *
 * In a batch, a chain that cannot be taken ends the batch: the requests
 * before it are handed out (and complete normally); the chain stays in the
 * ring, and the next pop meets it first and fails (or breaks the queue) as
 * a pop of that chain alone would.
 *
 * Threads: a gm_ring and a gm_vq are used by one thread at a time (the
 * queue's owner; calls on one queue must be serialised by the caller).
 * Different queues, even on the same gm_mem, may be used in parallel.
 *
 * Logging: configuration errors log a warning from gm_ring_new()/gm_vq_new();
 * a hostile ring logs one warning when the queue breaks; a refused request
 * logs one rate-limited line at info level; nothing else logs above debug
 * level.
 */
#ifndef GRANTMEM_VIRTIO_H
#define GRANTMEM_VIRTIO_H

#include <grantmem/mem.h>

#ifndef __cplusplus
#include <stdbool.h>
#endif

#ifdef __cplusplus
extern "C" {
#endif

/* ---- wire format (virtio 1.2, little-endian in guest memory) ------------- */

/* Store / load @n (1..8) little-endian bytes at @p, whatever the host's
 * byte order (the device sections below name them after their device). */
static inline void gm_virtio_put_le(unsigned char *p, uint64_t v, unsigned n)
{
	for (unsigned i = 0; i < n; i++)
		p[i] = (unsigned char)(v >> (8 * i));
}

static inline uint64_t gm_virtio_get_le(const unsigned char *p, unsigned n)
{
	uint64_t v = 0;

	for (unsigned i = 0; i < n; i++)
		v |= (uint64_t)p[i] << (8 * i);
	return v;
}

/* Feature bits (bit numbers) that change the ring layout or behaviour. */
#define GM_VIRTIO_F_INDIRECT_DESC 28 /* VIRTIO_RING_F_INDIRECT_DESC */
#define GM_VIRTIO_F_EVENT_IDX 29     /* VIRTIO_RING_F_EVENT_IDX */
#define GM_VIRTIO_F_VERSION_1 32
#define GM_VIRTIO_F_RING_PACKED 34
/* The mask of feature bit @f, for gm_vq_config.features. */
#define GM_VIRTIO_BIT(f) (1ULL << (f))

/* Descriptor flags (split and packed). */
#define GM_VRING_DESC_F_NEXT 0x1
#define GM_VRING_DESC_F_WRITE 0x2
#define GM_VRING_DESC_F_INDIRECT 0x4
/* Packed descriptor flags: the wrap-counter bits. */
#define GM_VRING_PACKED_DESC_F_AVAIL 0x80
#define GM_VRING_PACKED_DESC_F_USED 0x8000
/* Split: avail->flags (driver) and used->flags (device). */
#define GM_VRING_AVAIL_F_NO_INTERRUPT 0x1
#define GM_VRING_USED_F_NO_NOTIFY 0x1
/* Packed event suppression: flags values, and off_wrap's wrap bit. */
#define GM_VRING_PACKED_EVENT_FLAG_ENABLE 0x0
#define GM_VRING_PACKED_EVENT_FLAG_DISABLE 0x1
#define GM_VRING_PACKED_EVENT_FLAG_DESC 0x2
#define GM_VRING_PACKED_EVENT_F_WRAP_CTR 15

/* Sizes (bytes) of the ring parts for a queue of @n entries. */
#define GM_VRING_DESC_SIZE 16u /* one descriptor, split or packed */
#define GM_VRING_SPLIT_DESC_TABLE_SIZE(n) ((size_t)(n) * 16u)
/* avail: flags, idx, ring[n], used_event (the last only with EVENT_IDX) */
#define GM_VRING_SPLIT_AVAIL_SIZE(n) (6u + (size_t)(n) * 2u)
/* used: flags, idx, ring[n] of {le32 id, le32 len}, avail_event */
#define GM_VRING_SPLIT_USED_SIZE(n) (6u + (size_t)(n) * 8u)
#define GM_VRING_PACKED_RING_SIZE(n) ((size_t)(n) * 16u)
#define GM_VRING_PACKED_EVENT_SIZE 4u

/* Alignment (bytes) the spec requires of each part's guest address. */
#define GM_VRING_SPLIT_DESC_ALIGN 16u
#define GM_VRING_SPLIT_AVAIL_ALIGN 2u
#define GM_VRING_SPLIT_USED_ALIGN 4u
#define GM_VRING_PACKED_DESC_ALIGN 16u
#define GM_VRING_PACKED_EVENT_ALIGN 4u

/* Largest queue size the spec allows (both layouts). */
#define GM_VQ_MAX_SIZE 32768u
/*
 * Largest max_chain: descriptors of one request, direct plus indirect.
 * It equals IOV_MAX, so a request's iovecs always fit one preadv/pwritev.
 */
#define GM_VQ_MAX_CHAIN 1024u

/*
 * Request limits by default (gm_vq_config.max_request_bytes and
 * max_request_segments), after xen-blkback's: a request of at most 256
 * buffers (its MAX_INDIRECT_SEGMENTS) and 4 MiB in all, both directions
 * together.  Linux's virtio-blk and virtio-net stay well inside them.
 */
#define GM_VQ_DEFAULT_MAX_REQUEST_BYTES (4ull << 20)
#define GM_VQ_DEFAULT_MAX_REQUEST_SEGMENTS 256u
/* Requests gm_vq_pop_batch takes at most by default, and at most at all. */
#define GM_VQ_DEFAULT_BATCH 32u
#define GM_VQ_MAX_BATCH 256u

/* ---- gm_ring: a long-lived mapping of a guest range --------------------- */

typedef struct gm_ring gm_ring;

/*
 * gm_ring_new - map guest [addr, addr + len) of @m for as long as the ring
 * lives, with GM_MAP_PERSISTENT (grant regions keep the pages mapped).
 * @m:    the memory (space, region or view); must outlive the ring.
 * @prot: GM_PROT_READ and/or GM_PROT_WRITE: what the accessors may do.
 * @out:  the ring; NULL after a failure.
 * Where gm_map shortens the mapping (a region or mapping boundary) the ring
 * keeps the pieces (at most 16) and the accessors split accesses across
 * them.  Memory that cannot be mapped in place (a region offering only
 * read/write callbacks, or whose map callback asks for a bounce buffer) is
 * refused: a bounce buffer would not see the other side's updates
 * (GM_MAP_NO_BOUNCE).
 * Returns 0; -EINVAL (len 0, range wrapping past 2^64, bad prot);
 * -EOPNOTSUPP (memory only copyable); -E2BIG (more than 16 pieces);
 * -ENOMEM; or gm_map's error (-EFAULT, -EACCES, -ENOSPC, a region's).
 * Nothing stays mapped after a failure.  Logs a failure at info level.
 * Thread-safe (creating rings); the ring itself: one thread at a time.
 */
GM_API int gm_ring_new(gm_mem *m, uint64_t addr, size_t len, int prot, gm_ring **out);

/* gm_ring_free - unmap and free.  Accepts NULL.  Never fails, never logs. */
GM_API void gm_ring_free(gm_ring *r);

/* The ring's guest address, length, and number of mapped pieces (>= 1). */
GM_API uint64_t gm_ring_addr(const gm_ring *r);
GM_API size_t gm_ring_len(const gm_ring *r);
GM_API unsigned gm_ring_npieces(const gm_ring *r);

/*
 * Accessors.  @off is relative to the ring's start.  Every access is checked
 * against the ring: [off, off + size) outside [0, len) fails -EFAULT without
 * touching memory, so a guest-supplied offset can never fault.  Stores need
 * a ring created with GM_PROT_WRITE (-EACCES otherwise).  Values are
 * little-endian in guest memory and host order in the API.  0 or negative
 * errno; nothing logs.  One thread at a time per ring.
 *
 * gm_ring_read / gm_ring_write: plain copies of @len bytes (len 0 is fine).
 * gm_ring_read_leNN / gm_ring_write_leNN: loads and stores of any alignment,
 *   not atomic (descriptor fields, used elements).
 * gm_ring_load_acquire16 / gm_ring_store_release16: single-copy atomic
 *   16-bit accesses for ring indices and descriptor flags; the guest
 *   address (ring address + off) must be 2-byte aligned (-EINVAL).
 *   Acquire: later accesses are not reordered before it; release: earlier
 *   accesses are not reordered after it.
 * gm_ring_fence: a full memory barrier (store -> load ordering, which
 *   acquire/release alone do not give), e.g. between writing avail_event and
 *   re-reading avail idx.  Never fails.
 */
GM_API int gm_ring_read(gm_ring *r, size_t off, void *buf, size_t len);
GM_API int gm_ring_write(gm_ring *r, size_t off, const void *buf, size_t len);
GM_API int gm_ring_read_le16(gm_ring *r, size_t off, uint16_t *v);
GM_API int gm_ring_read_le32(gm_ring *r, size_t off, uint32_t *v);
GM_API int gm_ring_read_le64(gm_ring *r, size_t off, uint64_t *v);
GM_API int gm_ring_write_le16(gm_ring *r, size_t off, uint16_t v);
GM_API int gm_ring_write_le32(gm_ring *r, size_t off, uint32_t v);
GM_API int gm_ring_write_le64(gm_ring *r, size_t off, uint64_t v);
GM_API int gm_ring_load_acquire16(gm_ring *r, size_t off, uint16_t *v);
GM_API int gm_ring_store_release16(gm_ring *r, size_t off, uint16_t v);
GM_API void gm_ring_fence(void);

/* ---- gm_vq: a virtqueue, device side ------------------------------------- */

typedef struct gm_vq gm_vq;

/*
 * Queue configuration, as negotiated with the driver.  Zero-initialise it:
 * every field left 0 takes its default.
 *
 * struct_size: sizeof(struct gm_vq_config), or 0 for the first version
 *              (versioned, common.h).
 * size:        queue size; split: a power of 2 in [1, 32768]; packed:
 *              [1, 32768].
 * desc_addr:   split: descriptor table (16-byte aligned);
 *              packed: descriptor ring (16-byte aligned).
 * driver_addr: split: available ring (2-byte aligned);
 *              packed: driver event suppression structure (4-byte aligned).
 * device_addr: split: used ring (4-byte aligned);
 *              packed: device event suppression structure (4-byte aligned).
 * features:    negotiated feature bits (GM_VIRTIO_BIT(...)); the queue
 *              looks at INDIRECT_DESC, EVENT_IDX and RING_PACKED (which
 *              selects the packed layout) and ignores the rest.
 * max_chain:   most buffers one request may have, direct and indirect
 *              descriptors together (an indirect table may hold up to
 *              max_chain entries, minus the direct descriptors before it);
 *              0: min(size, GM_VQ_MAX_CHAIN), the spec's limit (a chain is
 *              no longer than the queue size).  Up to GM_VQ_MAX_CHAIN may be
 *              set for drivers that put longer chains in indirect tables
 *              of small queues.
 * max_inflight: requests popped and not yet pushed at once (the size of the
 *              preallocated pool); 0: size.  More than size is useless.
 *              The pool takes max_inflight * max_chain * 48 bytes of
 *              zeroed address space (touched only as chains use it): for
 *              big queues set max_inflight and max_chain to what the
 *              device needs.
 * buf_flags:   mapping policy of data buffers: 0 or GM_MAP_TRANSIENT
 *              (released on push: the default), or GM_MAP_PERSISTENT
 *              (for persistent-grant style frontends).
 * index:       the queue's number, only for log lines.
 * max_request_bytes: the most bytes a request may carry, both directions
 *              together; 0: GM_VQ_DEFAULT_MAX_REQUEST_BYTES (4 MiB);
 *              UINT64_MAX: no limit.  A larger request is refused
 *              (-EMSGSIZE, see "Limits" at the top).
 * max_request_segments: the most buffers a request may have, direct and
 *              indirect; 0: GM_VQ_DEFAULT_MAX_REQUEST_SEGMENTS (256).
 *              Refused above it (a chain longer than max_chain breaks the
 *              queue instead: set max_chain above this limit to refuse
 *              long chains politely).
 * max_map_pages: the memory's mapping budget: the most pages it can ever
 *              map at once (a grant cache's max_pages, shared by the
 *              queues on it); a request whose mapped buffers span more
 *              pages is refused, and a batch is cut where it would map
 *              more in one call.  0: unknown (nothing is refused for it).
 * max_batch:   the most requests gm_vq_pop_batch takes; 0:
 *              GM_VQ_DEFAULT_BATCH (32); at most GM_VQ_MAX_BATCH, and never
 *              more than max_inflight.  Batches of more than one request
 *              take max_batch * max_chain * 48 bytes more address space.
 * unmapped_max: requests carrying at most this many bytes (both directions
 *              together) are handed out unmapped (req->unmapped): nothing
 *              mapped or copied at pop; the device moves their bytes with
 *              gm_vq_req_read / gm_vq_req_write, which gather and scatter
 *              through gm_read_sg / gm_write_sg (on grant memory: grant
 *              copy, one copy call per direction, no mapping at all).
 *              0: none (every request is mapped, the default);
 *              GM_VQ_UNMAPPED_ALL: every request.  Copying beats mapping
 *              for small requests wherever a map and an unmap cost more
 *              than copying the bytes (grantmem-blk --data auto).
 */
#define GM_VQ_UNMAPPED_ALL UINT64_MAX
struct gm_vq_config {
	size_t struct_size; /* versioned (common.h): sizeof, or 0 */
	unsigned size;
	uint64_t desc_addr;
	uint64_t driver_addr;
	uint64_t device_addr;
	uint64_t features;
	unsigned max_chain;
	unsigned max_inflight;
	int buf_flags;
	unsigned index;
	uint64_t max_request_bytes;
	unsigned max_request_segments;
	uint64_t max_map_pages;
	unsigned max_batch;
	uint64_t unmapped_max;
};

/*
 * One request: a descriptor chain, mapped.  Owned by the queue; valid from
 * gm_vq_pop() until it is given to gm_vq_push() (or the queue is reset or
 * freed).  The caller may change only @user.
 *
 * id:      split: the head descriptor index; packed: the buffer id.
 * iov:     nout device-readable iovecs, then nin device-writable ones
 *          (a buffer crossing a region boundary takes several iovecs).
 * out_len, in_len: total bytes of the readable / writable buffers.
 * sg:      the same buffers as guest ranges (nsg_out readable, then nsg_in
 *          writable), for callers that prefer the bytes API.
 * user:    free for the caller; NULL after pop.
 * error:   0, or -EMSGSIZE: the request is refused (over a limit, see
 *          "Limits" at the top): nothing is mapped (nout = nin = 0, iov
 *          unused), sg and the lengths describe the chain; complete it with
 *          the device's error status (gm_vq_req_write) and gm_vq_push.
 * unmapped: true when the request is handed out unmapped by choice
 *          (gm_vq_config.unmapped_max): error 0, nothing mapped (nout =
 *          nin = 0); read its device-readable part with gm_vq_req_read
 *          and write its device-writable part with gm_vq_req_write.
 */
/*
 * A request whose chain has both device-readable and device-writable
 * buffers gets its smaller direction, when it totals at most this many
 * bytes (a request header, a status byte), as copies: iovecs into the
 * request's own storage, read from the guest at pop (readable) or written
 * back at push (writable, the first `written` bytes; if the guest does not
 * let us, push breaks the queue).  The other direction
 * is mapped with one gm_map_sg call: so every request costs at most one map
 * call, though a grant mapping has a single permission and drivers grant
 * device-readable buffers read-only.
 */
#define GM_VQ_COPY_MAX 256

struct gm_vq_req {
	uint16_t id;
	unsigned nout, nin;
	struct iovec *iov;
	uint64_t out_len, in_len;
	const struct gm_sg *sg;
	unsigned nsg_out, nsg_in;
	void *user;
	int error;
	bool unmapped;
};

/*
 * gm_vq_new - set up a queue on @mem (a space, normally; must outlive the
 * queue) as described by @cfg (copied).
 * Maps the rings with gm_ring_new: split: descriptor table and available
 * ring read-only, used ring read-write; packed: descriptor ring read-write,
 * driver event structure read-only, device event structure read-write (so
 * a driver may grant the read-only parts read-only).  The trailing
 * used_event / avail_event fields are mapped only with EVENT_IDX.
 * Allocates the request pool (max_inflight requests, each with room for
 * max_chain guest ranges and 2 * max_chain iovecs) so that pop and push
 * never allocate.  Initial state: indices 0, wrap counters 1, device
 * notifications enabled (used->flags / device event flags are written).
 * Returns 0; -EINVAL (bad config: size, alignment, max_chain, buf_flags,
 * addresses wrapping; one warning logged; a struct_size below the first
 * version's); -E2BIG (@cfg sets fields newer than this library); -ENOMEM;
 * or gm_ring_new's error
 * (ring memory not mappable, read-only where we must write: -EACCES).
 * @out is NULL after a failure and nothing stays mapped.  Thread-safe
 * (creating queues).
 */
GM_API int gm_vq_new(gm_mem *mem, const struct gm_vq_config *cfg, gm_vq **out);

/*
 * gm_vq_free - release every in-flight request's mapping, unmap the rings,
 * free.  Pointers to requests become invalid.  Accepts NULL.  Never logs.
 */
GM_API void gm_vq_free(gm_vq *vq);

/*
 * gm_vq_pop - take the next available chain and map its buffers.
 * @req: out: the request (NULL on failure).
 * Reads the avail index / the head's packed flags with acquire before any
 * descriptor.  Indirect tables are read with gm_read (not kept mapped).
 * The data buffers of the chain, indirect ones included, are mapped with
 * one gm_map_sg call, with buf_flags' policy; the smaller direction of a
 * chain that goes both ways is copied when it fits GM_VQ_COPY_MAX.  A
 * request within unmapped_max is handed out with nothing mapped
 * ((*req)->unmapped).
 * With EVENT_IDX and notifications enabled, finding the ring empty also
 * moves avail_event (packed: the device event offset) to where the device
 * stands and looks once more, so the driver's next addition kicks.
 * A request over the queue's limits is handed out refused: 0 with
 * (*req)->error = -EMSGSIZE and nothing mapped ("Limits" at the top).
 * Returns 0; -EAGAIN (nothing available); -EIO (queue broken);
 * -ENOBUFS (max_inflight requests are out: push some first); -ENOMEM /
 * -ENOSPC / -EBUSY (host resources: the chain stays in the ring, retry
 * later: no new kick will come for it); or,
 * for a hostile ring, the errno in the table at the top of this file, and
 * the queue is broken.  Logs one warning when the queue breaks, one
 * rate-limited info line for a refused request.
 * One thread at a time per queue.
 */
GM_API int gm_vq_pop(gm_vq *vq, struct gm_vq_req **req);

/*
 * gm_vq_pop_batch - take up to @max available chains (at most max_batch)
 * at once, as gm_vq_pop does one, and map the data buffers of all of them
 * with ONE gm_map_sg call for their device-readable parts and ONE for
 * their device-writable parts (copied small directions apart, as for
 * gm_vq_pop).  Where the memory cannot map them together (its budget, a
 * bad buffer among them), they are mapped one by one instead, up to the
 * first that fails.
 * @reqs: out: the requests, reqs[0 .. return value); the rest untouched.
 * The requests are one batch: with transient mappings (the default
 * buf_flags), none is published to the guest before all are pushed (see
 * "Batches" at the top).  Refused requests (error -EMSGSIZE) may be among
 * them.  A chain that cannot be taken ends the batch after the good ones
 * and stays in the ring (the next pop meets it first).
 * Returns the number of requests (>= 1); or, when not even the first chain
 * could be taken, gm_vq_pop's errors, with the same effects.  -EINVAL for
 * NULL @vq or @reqs, or @max 0.  Logs as gm_vq_pop.  One thread at a time.
 */
GM_API int gm_vq_pop_batch(gm_vq *vq, struct gm_vq_req **reqs, unsigned max);

/*
 * gm_vq_push - complete @req: unmap its buffers (device-writable ones with
 * access length @written), then publish the used element — split: write
 * used->ring[] {id, written} and store used->idx with release; packed:
 * write the descriptor's id and len, then its flags (both wrap bits = the
 * device's used wrap counter) with release — so the guest sees the
 * completion only after the mappings are gone.  A request of a transient
 * batch (gm_vq_pop_batch) is published with the last of its batch: until
 * then push unmaps it and returns 0 with *notify false.
 * @written: bytes written into the device-writable buffers; clamped to
 *           in_len.
 * @notify:  out (may be NULL): whether the driver wants an interrupt now
 *           (EVENT_IDX: used_event / the packed driver event offset was
 *           crossed; else avail->flags NO_INTERRUPT clear / driver event
 *           flags ENABLE), read after a full fence.
 * Returns 0; -EINVAL (@req is not a request of this queue currently out —
 * a foreign pointer or a double push: nothing is done); -EIO (the queue
 * broke while @req was out, or breaks now because a copied device-writable
 * part cannot be written back — the guest does not let us, or the host
 * failed: the guest must not see a completion whose bytes never reached
 * it; its mappings are released, no used element is written, *notify
 * false).  Logs one warning when the queue breaks here, else nothing above
 * debug.  One thread at a time.
 */
GM_API int gm_vq_push(gm_vq *vq, struct gm_vq_req *req, uint32_t written, bool *notify);

/*
 * gm_vq_push_batch - complete @n requests at once, in array order: all
 * mappings released first, then the used elements written and published
 * with one release store (split: one used->idx update), then one
 * notification decision for the whole batch.  The requests need not come
 * from one pop; those whose transient batch still has requests out wait
 * for them, as with gm_vq_push.
 * @written: @n lengths (NULL: all 0).
 * Returns 0; -EINVAL (n == 0, or any entry invalid or repeated: nothing is
 * done); -EIO as gm_vq_push.  One thread at a time.
 */
GM_API int gm_vq_push_batch(gm_vq *vq, struct gm_vq_req *const *reqs, const uint32_t *written,
			    unsigned n, bool *notify);

/*
 * gm_vq_req_write - write @len bytes at byte @off of @req's device-writable
 * part (its writable buffers one after the other), wherever they are:
 * mapped iovecs, a copied part (written back by push, its first `written`
 * bytes), or, for a request with nothing mapped (refused, or unmapped),
 * guest memory at once with one gm_write_sg (on grant memory one grant
 * copy call per 64 buffers).  For a device's status byte: off =
 * req->in_len - 1.
 * Returns 0; -EINVAL (@req is not a request of @vq that is out, or NULL
 * @buf with @len); -EFAULT ([off, off + len) beyond in_len); or
 * gm_write_sg's error for a request with nothing mapped (-EACCES: a
 * read-only grant as a device-writable buffer; -EINVAL: a revoked or bad
 * grant; the bytes, or part of them, did not reach the guest).  Never
 * logs (the grant layer logs a refused copy).  Any thread, one call at a
 * time per request, while the request is out.
 */
GM_API int gm_vq_req_write(gm_vq *vq, struct gm_vq_req *req, uint64_t off, const void *buf,
			   size_t len);

/*
 * gm_vq_req_read - read @len bytes at byte @off of @req's device-readable
 * part (its readable buffers one after the other) into @buf, wherever they
 * are: mapped iovecs, a copied part, or, for a request with nothing mapped
 * (refused, or unmapped), guest memory with one gm_read_sg (on grant
 * memory one grant copy call per 64 buffers).
 * Returns 0; -EINVAL (as gm_vq_req_write); -EFAULT ([off, off + len)
 * beyond out_len); or gm_read_sg's error (a revoked or bad grant:
 * -EINVAL).  Never logs.  Any thread, while the request is out.
 */
GM_API int gm_vq_req_read(gm_vq *vq, struct gm_vq_req *req, uint64_t off, void *buf,
			  size_t len);

/*
 * A queue's counters since gm_vq_new (gm_vq_reset keeps them): requests
 * handed out (refused ones included), pops that handed out at least one
 * (a gm_vq_pop_batch is one), gm_map_sg calls for data buffers (on grant
 * memory, each is at most one map call to Xen: none when every page is
 * mapped already), requests refused, batches mapped one by one after
 * their map together failed, and the gm_read_sg / gm_write_sg calls
 * gm_vq_req_read and gm_vq_req_write made for requests with nothing mapped
 * (on grant memory, each is one grant copy call to Xen).
 */
struct gm_vq_stats {
	size_t size; /* versioned (common.h): sizeof, or 0, before the call */
	uint64_t requests;
	uint64_t batches;
	uint64_t map_calls;
	uint64_t refused;
	uint64_t fallbacks;
	uint64_t copy_calls;
};

/* gm_vq_stats - a snapshot of @vq's counters (zeros for NULL), up to
 * st->size.  Any thread, while the queue lives.  Never fails, never logs. */
GM_API void gm_vq_stats(const gm_vq *vq, struct gm_vq_stats *st);

/*
 * gm_vq_set_notify - device-side notification suppression: ask the driver
 * to stop (@enable false) or resume (@enable true) kicking this queue.
 * Split: used->flags NO_NOTIFY, or with EVENT_IDX avail_event = the next
 * avail index to process (enable) / one behind it (disable).  Packed: the device event suppression structure
 * (DISABLE / ENABLE, or DESC at the next descriptor with EVENT_IDX).
 * On enable, a full fence follows the store and the ring is checked again:
 * a driver that added work just before it saw the update would not kick.
 * Returns 1 if enabled and work is already available (process it:
 * otherwise the wakeup is lost), 0 otherwise; -EIO (broken).  Suppression
 * is a hint: drivers may kick anyway.  One thread at a time.  No logging.
 */
GM_API int gm_vq_set_notify(gm_vq *vq, bool enable);

/*
 * gm_vq_pending - would gm_vq_pop() find work?  Returns 1 or 0 (acquire
 * read of avail idx / the next packed descriptor's flags); -EIO (broken).
 * Use it after re-enabling notifications (gm_vq_set_notify does so already)
 * to avoid lost wakeups.  One thread at a time.  No logging.
 */
GM_API int gm_vq_pending(gm_vq *vq);

/* gm_vq_broken - has a hostile ring broken the queue?  (NULL: true.) */
GM_API bool gm_vq_broken(const gm_vq *vq);

/*
 * gm_vq_reset - forget the queue's state: release every in-flight request
 * (pointers to them become invalid), indices back to 0, wrap counters to 1,
 * not broken, notifications enabled.  The rings stay mapped at the same
 * addresses; after a device reset the driver usually sets up new rings:
 * gm_vq_free() and gm_vq_new() then.  Returns 0 or -EINVAL (NULL).
 * One thread at a time.  No logging.
 */
GM_API int gm_vq_reset(gm_vq *vq);

/* gm_vq_size - the queue size.  gm_vq_inflight - requests popped and not
 * yet pushed.  gm_vq_is_packed - packed layout?  Never fail (0 for NULL). */
GM_API unsigned gm_vq_size(const gm_vq *vq);
GM_API unsigned gm_vq_inflight(const gm_vq *vq);
GM_API bool gm_vq_is_packed(const gm_vq *vq);

/* ---- iovec helpers ----------------------------------------------------------- */
/*
 * For a request's iovecs (or any): pure functions on host memory, any
 * thread, never log.  @n is the number of iovecs; offsets count bytes from
 * the start of the list.
 *
 * gm_iov_size:     the bytes of @iov[0..n).
 * gm_iov_to_buf:   gather: copy up to @len bytes from byte @off of the list
 *                  into @buf; returns the bytes copied (fewer when the list
 *                  ends first; 0 when @off is beyond it).
 * gm_iov_from_buf: scatter: copy up to @len bytes of @buf into the list at
 *                  byte @off; returns the bytes copied (as gm_iov_to_buf).
 * gm_iov_slice:    the iovecs of the list's bytes [off, off + len) into
 *                  @out (at most @max): pointers into the same memory, the
 *                  first and last shortened.  Returns the count (0 for
 *                  len 0); -EFAULT when the list has fewer than off + len
 *                  bytes; -E2BIG when @max iovecs are too few.
 */
GM_API size_t gm_iov_size(const struct iovec *iov, unsigned n);
GM_API size_t gm_iov_to_buf(const struct iovec *iov, unsigned n, size_t off, void *buf,
			    size_t len);
GM_API size_t gm_iov_from_buf(const struct iovec *iov, unsigned n, size_t off, const void *buf,
			      size_t len);
GM_API int gm_iov_slice(const struct iovec *iov, unsigned n, size_t off, size_t len,
			struct iovec *out, unsigned max);

/* ==== the virtio-blk wire format ============================================================ */

/*
 * The virtio-blk wire format (virtio 1.2, section 5.2), for block
 * devices and drivers: feature bits, request types, status values, the
 * request header and the config space layout.  Little-endian on the wire;
 * the helpers below read and write it whatever the host's byte order.
 * Constants only: nothing here is in a library.
 *
 * A request is a chain of: the header (device-readable, 16 bytes), data
 * (device-readable for OUT, device-writable for IN and GET_ID, discard
 * segments for DISCARD), and a status byte (the last device-writable
 * byte).
 */

#define GM_VIRTIO_BLK_DEVICE_ID 2 /* the virtio device id of a block device */
#define GM_VIRTIO_BLK_SECTOR 512u /* sectors in requests and capacity */

/* Feature bits (bit numbers). */
#define GM_VIRTIO_BLK_F_SIZE_MAX 1    /* config size_max: largest segment */
#define GM_VIRTIO_BLK_F_SEG_MAX 2     /* config seg_max: most data segments */
#define GM_VIRTIO_BLK_F_GEOMETRY 4
#define GM_VIRTIO_BLK_F_RO 5
#define GM_VIRTIO_BLK_F_BLK_SIZE 6    /* config blk_size */
#define GM_VIRTIO_BLK_F_FLUSH 9
#define GM_VIRTIO_BLK_F_TOPOLOGY 10
#define GM_VIRTIO_BLK_F_CONFIG_WCE 11
#define GM_VIRTIO_BLK_F_MQ 12         /* config num_queues */
#define GM_VIRTIO_BLK_F_DISCARD 13
#define GM_VIRTIO_BLK_F_WRITE_ZEROES 14

/* Request types (the header's type field). */
#define GM_VIRTIO_BLK_T_IN 0
#define GM_VIRTIO_BLK_T_OUT 1
#define GM_VIRTIO_BLK_T_FLUSH 4
#define GM_VIRTIO_BLK_T_GET_ID 8
#define GM_VIRTIO_BLK_T_DISCARD 11
#define GM_VIRTIO_BLK_T_WRITE_ZEROES 13

/* Status byte values. */
#define GM_VIRTIO_BLK_S_OK 0
#define GM_VIRTIO_BLK_S_IOERR 1
#define GM_VIRTIO_BLK_S_UNSUPP 2

/* GET_ID answers with up to this many bytes (no terminating NUL needed). */
#define GM_VIRTIO_BLK_ID_BYTES 20

/* The request header: the first 16 device-readable bytes, little-endian. */
struct gm_virtio_blk_outhdr {
	uint32_t type;
	uint32_t ioprio;
	uint64_t sector;
};
#define GM_VIRTIO_BLK_OUTHDR_SIZE 16u

/* A DISCARD or WRITE_ZEROES segment (16 bytes each), little-endian. */
struct gm_virtio_blk_discard {
	uint64_t sector;
	uint32_t num_sectors;
	uint32_t flags;
};
#define GM_VIRTIO_BLK_DISCARD_SIZE 16u

/* Offsets in the config space (struct virtio_blk_config) and its size. */
#define GM_VIRTIO_BLK_CFG_CAPACITY 0             /* le64: sectors */
#define GM_VIRTIO_BLK_CFG_SIZE_MAX 8             /* le32 */
#define GM_VIRTIO_BLK_CFG_SEG_MAX 12             /* le32 */
#define GM_VIRTIO_BLK_CFG_GEOMETRY 16            /* le16 cylinders, u8 heads, u8 sectors */
#define GM_VIRTIO_BLK_CFG_BLK_SIZE 20            /* le32 */
#define GM_VIRTIO_BLK_CFG_TOPOLOGY 24            /* 8 bytes */
#define GM_VIRTIO_BLK_CFG_WRITEBACK 32           /* u8 */
#define GM_VIRTIO_BLK_CFG_NUM_QUEUES 34          /* le16 */
#define GM_VIRTIO_BLK_CFG_MAX_DISCARD_SECTORS 36 /* le32 */
#define GM_VIRTIO_BLK_CFG_MAX_DISCARD_SEG 40     /* le32 */
#define GM_VIRTIO_BLK_CFG_DISCARD_ALIGN 44       /* le32 */
#define GM_VIRTIO_BLK_CFG_MAX_WRITE_ZEROES_SECTORS 48 /* le32 */
#define GM_VIRTIO_BLK_CFG_MAX_WRITE_ZEROES_SEG 52     /* le32 */
#define GM_VIRTIO_BLK_CFG_WRITE_ZEROES_MAY_UNMAP 56   /* u8 */
#define GM_VIRTIO_BLK_CFG_SIZE 60

/* Store / load @n (1..8) little-endian bytes at @p. */
static inline void gm_virtio_blk_put_le(unsigned char *p, uint64_t v, unsigned n)
{
	gm_virtio_put_le(p, v, n);
}

static inline uint64_t gm_virtio_blk_get_le(const unsigned char *p, unsigned n)
{
	return gm_virtio_get_le(p, n);
}

/* ==== the virtio-net wire format ============================================================ */

/*
 * The virtio-net wire format (virtio 1.2, section 5.1), for
 * network devices and drivers: feature bits, the packet header, the config
 * space layout and the control queue's commands.  Little-endian on the
 * wire; the helpers below read and write it whatever the host's byte
 * order.  Constants only: nothing here is in a library.
 *
 * Queues: receiveq1, transmitq1, ..., receiveqN, transmitqN (receive queue
 * of pair k: 2k, transmit: 2k + 1), then the control queue, at 2N where N
 * is max_virtqueue_pairs with VIRTIO_NET_F_MQ, else at 2.
 *
 * Every packet, both ways, starts with the 12-byte header below (VERSION_1:
 * num_buffers is always there).  On the transmit queue a chain is the
 * header and the frame, device-readable; on a receive queue a chain is
 * device-writable room for the header and a frame, or with
 * VIRTIO_NET_F_MRG_RXBUF the first of num_buffers chains that together
 * hold one packet.
 *
 * A control request is device-readable {u8 class, u8 command, data...}
 * then one device-writable ack byte (GM_VIRTIO_NET_OK / GM_VIRTIO_NET_ERR).
 */

#define GM_VIRTIO_NET_DEVICE_ID 1 /* the virtio device id of a network device */

/* Feature bits (bit numbers). */
#define GM_VIRTIO_NET_F_CSUM 0              /* device takes partial checksums */
#define GM_VIRTIO_NET_F_GUEST_CSUM 1        /* driver takes partial checksums */
#define GM_VIRTIO_NET_F_CTRL_GUEST_OFFLOADS 2
#define GM_VIRTIO_NET_F_MTU 3               /* config mtu */
#define GM_VIRTIO_NET_F_MAC 5               /* config mac */
#define GM_VIRTIO_NET_F_GUEST_TSO4 7        /* driver takes TSOv4 */
#define GM_VIRTIO_NET_F_GUEST_TSO6 8
#define GM_VIRTIO_NET_F_GUEST_ECN 9
#define GM_VIRTIO_NET_F_GUEST_UFO 10
#define GM_VIRTIO_NET_F_HOST_TSO4 11        /* device takes TSOv4 */
#define GM_VIRTIO_NET_F_HOST_TSO6 12
#define GM_VIRTIO_NET_F_HOST_ECN 13
#define GM_VIRTIO_NET_F_HOST_UFO 14
#define GM_VIRTIO_NET_F_MRG_RXBUF 15        /* packets span receive buffers */
#define GM_VIRTIO_NET_F_STATUS 16           /* config status */
#define GM_VIRTIO_NET_F_CTRL_VQ 17
#define GM_VIRTIO_NET_F_CTRL_RX 18
#define GM_VIRTIO_NET_F_CTRL_VLAN 19
#define GM_VIRTIO_NET_F_GUEST_ANNOUNCE 21
#define GM_VIRTIO_NET_F_MQ 22               /* config max_virtqueue_pairs */
#define GM_VIRTIO_NET_F_CTRL_MAC_ADDR 23
#define GM_VIRTIO_NET_F_HOST_USO 56
#define GM_VIRTIO_NET_F_HASH_REPORT 57
#define GM_VIRTIO_NET_F_GUEST_HDRLEN 59
#define GM_VIRTIO_NET_F_RSS 60
#define GM_VIRTIO_NET_F_RSC_EXT 61
#define GM_VIRTIO_NET_F_STANDBY 62
#define GM_VIRTIO_NET_F_SPEED_DUPLEX 63

/* The packet header, little-endian, GM_VIRTIO_NET_HDR_SIZE bytes. */
struct gm_virtio_net_hdr {
	uint8_t flags;
	uint8_t gso_type;
	uint16_t hdr_len;     /* bytes of headers (Ethernet to L4) with GSO */
	uint16_t gso_size;    /* bytes of payload per segment with GSO */
	uint16_t csum_start;  /* NEEDS_CSUM: checksum from this byte of the frame */
	uint16_t csum_offset; /* ... stored this many bytes after csum_start */
	uint16_t num_buffers; /* receive, MRG_RXBUF: chains of this packet */
};
#define GM_VIRTIO_NET_HDR_SIZE 12u
/* Byte offsets of its fields. */
#define GM_VIRTIO_NET_HDR_FLAGS 0
#define GM_VIRTIO_NET_HDR_GSO_TYPE 1
#define GM_VIRTIO_NET_HDR_HDR_LEN 2
#define GM_VIRTIO_NET_HDR_GSO_SIZE 4
#define GM_VIRTIO_NET_HDR_CSUM_START 6
#define GM_VIRTIO_NET_HDR_CSUM_OFFSET 8
#define GM_VIRTIO_NET_HDR_NUM_BUFFERS 10

/* Header flags. */
#define GM_VIRTIO_NET_HDR_F_NEEDS_CSUM 1 /* checksum to be completed */
#define GM_VIRTIO_NET_HDR_F_DATA_VALID 2 /* receive: checksum checked */
#define GM_VIRTIO_NET_HDR_F_RSC_INFO 4

/* Header gso_type values (ECN may be or'ed in). */
#define GM_VIRTIO_NET_HDR_GSO_NONE 0
#define GM_VIRTIO_NET_HDR_GSO_TCPV4 1
#define GM_VIRTIO_NET_HDR_GSO_UDP 3
#define GM_VIRTIO_NET_HDR_GSO_TCPV6 4
#define GM_VIRTIO_NET_HDR_GSO_UDP_L4 5
#define GM_VIRTIO_NET_HDR_GSO_ECN 0x80

/* Offsets in the config space (struct virtio_net_config) and its size. */
#define GM_VIRTIO_NET_CFG_MAC 0                  /* u8[6] */
#define GM_VIRTIO_NET_CFG_STATUS 6               /* le16 */
#define GM_VIRTIO_NET_CFG_MAX_VIRTQUEUE_PAIRS 8  /* le16 */
#define GM_VIRTIO_NET_CFG_MTU 10                 /* le16 */
#define GM_VIRTIO_NET_CFG_SPEED 12               /* le32: Mbit/s, 0xffffffff unknown */
#define GM_VIRTIO_NET_CFG_DUPLEX 16              /* u8: 0 half, 1 full, 0xff unknown */
#define GM_VIRTIO_NET_CFG_RSS_MAX_KEY_SIZE 17    /* u8 */
#define GM_VIRTIO_NET_CFG_RSS_MAX_INDIRECTION_TABLE_LENGTH 18 /* le16 */
#define GM_VIRTIO_NET_CFG_SUPPORTED_HASH_TYPES 20 /* le32 */
#define GM_VIRTIO_NET_CFG_SIZE 24

/* Config status bits. */
#define GM_VIRTIO_NET_S_LINK_UP 1
#define GM_VIRTIO_NET_S_ANNOUNCE 2

/* Control queue: ack values. */
#define GM_VIRTIO_NET_OK 0
#define GM_VIRTIO_NET_ERR 1

/* Control classes and their commands. */
#define GM_VIRTIO_NET_CTRL_RX 0
#define GM_VIRTIO_NET_CTRL_RX_PROMISC 0  /* data: u8 on/off */
#define GM_VIRTIO_NET_CTRL_RX_ALLMULTI 1
#define GM_VIRTIO_NET_CTRL_RX_ALLUNI 2
#define GM_VIRTIO_NET_CTRL_RX_NOMULTI 3
#define GM_VIRTIO_NET_CTRL_RX_NOUNI 4
#define GM_VIRTIO_NET_CTRL_RX_NOBCAST 5
#define GM_VIRTIO_NET_CTRL_MAC 1
#define GM_VIRTIO_NET_CTRL_MAC_TABLE_SET 0 /* data: two {le32 n, u8 macs[n][6]} */
#define GM_VIRTIO_NET_CTRL_MAC_ADDR_SET 1  /* data: u8 mac[6] */
#define GM_VIRTIO_NET_CTRL_VLAN 2
#define GM_VIRTIO_NET_CTRL_VLAN_ADD 0      /* data: le16 vid */
#define GM_VIRTIO_NET_CTRL_VLAN_DEL 1
#define GM_VIRTIO_NET_CTRL_ANNOUNCE 3
#define GM_VIRTIO_NET_CTRL_ANNOUNCE_ACK 0
#define GM_VIRTIO_NET_CTRL_MQ 4
#define GM_VIRTIO_NET_CTRL_MQ_VQ_PAIRS_SET 0 /* data: le16 pairs */
#define GM_VIRTIO_NET_CTRL_MQ_RSS_CONFIG 1
#define GM_VIRTIO_NET_CTRL_MQ_HASH_CONFIG 2
#define GM_VIRTIO_NET_CTRL_MQ_VQ_PAIRS_MIN 1
#define GM_VIRTIO_NET_CTRL_MQ_VQ_PAIRS_MAX 0x8000
#define GM_VIRTIO_NET_CTRL_GUEST_OFFLOADS 5
#define GM_VIRTIO_NET_CTRL_GUEST_OFFLOADS_SET 0 /* data: le64 GUEST_* feature bits */

/* Store / load @n (1..8) little-endian bytes at @p. */
static inline void gm_virtio_net_put_le(unsigned char *p, uint64_t v, unsigned n)
{
	gm_virtio_put_le(p, v, n);
}

static inline uint64_t gm_virtio_net_get_le(const unsigned char *p, unsigned n)
{
	return gm_virtio_get_le(p, n);
}

/* The header at @p (GM_VIRTIO_NET_HDR_SIZE bytes) into @h, and back. */
static inline void gm_virtio_net_hdr_get(const unsigned char *p, struct gm_virtio_net_hdr *h)
{
	h->flags = p[GM_VIRTIO_NET_HDR_FLAGS];
	h->gso_type = p[GM_VIRTIO_NET_HDR_GSO_TYPE];
	h->hdr_len = (uint16_t)gm_virtio_net_get_le(p + GM_VIRTIO_NET_HDR_HDR_LEN, 2);
	h->gso_size = (uint16_t)gm_virtio_net_get_le(p + GM_VIRTIO_NET_HDR_GSO_SIZE, 2);
	h->csum_start = (uint16_t)gm_virtio_net_get_le(p + GM_VIRTIO_NET_HDR_CSUM_START, 2);
	h->csum_offset = (uint16_t)gm_virtio_net_get_le(p + GM_VIRTIO_NET_HDR_CSUM_OFFSET, 2);
	h->num_buffers = (uint16_t)gm_virtio_net_get_le(p + GM_VIRTIO_NET_HDR_NUM_BUFFERS, 2);
}

static inline void gm_virtio_net_hdr_put(unsigned char *p, const struct gm_virtio_net_hdr *h)
{
	p[GM_VIRTIO_NET_HDR_FLAGS] = h->flags;
	p[GM_VIRTIO_NET_HDR_GSO_TYPE] = h->gso_type;
	gm_virtio_net_put_le(p + GM_VIRTIO_NET_HDR_HDR_LEN, h->hdr_len, 2);
	gm_virtio_net_put_le(p + GM_VIRTIO_NET_HDR_GSO_SIZE, h->gso_size, 2);
	gm_virtio_net_put_le(p + GM_VIRTIO_NET_HDR_CSUM_START, h->csum_start, 2);
	gm_virtio_net_put_le(p + GM_VIRTIO_NET_HDR_CSUM_OFFSET, h->csum_offset, 2);
	gm_virtio_net_put_le(p + GM_VIRTIO_NET_HDR_NUM_BUFFERS, h->num_buffers, 2);
}

#ifdef __cplusplus
}
#endif

#endif /* GRANTMEM_VIRTIO_H */
