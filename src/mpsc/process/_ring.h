/* The shared-memory ring's layout and its locked steps, for ``_ring.c`` (the Ring type) and
 * ``_steps.c`` (the compiled send and receive steps, which use a Ring's mapping directly).
 * Linux only; included after <Python.h>. */
#ifndef MPSC_RING_H
#define MPSC_RING_H
#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <unistd.h>

#define MAGIC 0x6d707363u /* "mpsc" */
#define HEADER_SIZE 4096
#define KIND_PLAIN 1u
#define KIND_WRAP 2u
#define KIND_MARKER 3u /* a datagram on the socket, sent under the lock: its payload is its seq */
#define WAKE_BYTE 0x57 /* a one-byte datagram: "look at the ring" */
#define ROOM_BYTE 0x52 /* a one-byte datagram from a receiver to the senders: "room again" */
#ifndef MAX_FDS
#define MAX_FDS 253
#endif

typedef struct {
    uint32_t magic;
    uint32_t size; /* of the buffer: a power of two */
    pthread_mutex_t lock;
    uint64_t head, tail; /* byte positions, ever growing; the buffer's index is pos & (size - 1) */
    _Atomic uint64_t published; /* tail, for readers that look without the lock */
    _Atomic uint64_t recovered; /* how often a locker found the last holder dead */
    uint64_t seq;                /* the last marker's number */
    _Atomic uint64_t sleepers;   /* receivers waiting on the socket (see sleep_begin) */
    _Atomic uint64_t epoch;      /* bumped by each receiver's close (see bump_epoch) */
    _Atomic uint64_t woken;      /* a WAKE was sent since a sleeper began or one was taken */
    _Atomic uint64_t room_waiters; /* senders waiting for room for a plain record */
    _Atomic uint64_t room_woken;   /* a ROOM was sent since one of them began or took one */
} Header;

typedef struct {
    PyObject_HEAD
    Header *header;
    unsigned char *buffer;
    size_t mapped;
} Ring;

static inline Py_ssize_t
align8(Py_ssize_t n)
{
    return (n + 7) & ~(Py_ssize_t)7;
}

/* The lock's holder died inside: nothing it did was published — except, if it was killed
 * between a record's two stores, ``tail`` without its copy ``published``, which is set again
 * here (else a look without the lock would see a record that is not there, or none that is). */
static inline int
ring_recover(Header *h)
{
    atomic_fetch_add(&h->recovered, 1);
    atomic_store_explicit(&h->published, h->tail, memory_order_release);
    return pthread_mutex_consistent(&h->lock);
}

/* Whether a record may be there, looked at without the lock (no system call). ``published``
 * is never behind ``head`` but after a kill between a record's two stores (then it reads as
 * none, until a locker recovers the lock: ``ring_recover``). */
static inline int
records_published(Header *h)
{
    return atomic_load_explicit(&h->published, memory_order_acquire) > *(volatile uint64_t *)&h->head;
}

/* Lock the ring if nobody holds it: 1 locked, 0 not (busy, or an error: none is set). */
static inline int
ring_trylock(Ring *self)
{
    int err = pthread_mutex_trylock(&self->header->lock);
    if (err == EOWNERDEAD)
        err = ring_recover(self->header);
    return err == 0;
}

/* ``ring_trylock``, trying again for up to about ``tries`` short pauses while the lock is busy:
 * its holders keep it for a copy of a record, so it is most often free again within a
 * microsecond (unless the holder was descheduled: then the caller goes the slow way). */
static inline int
ring_trylock_briefly(Ring *self, int tries)
{
    for (int i = 0;; i++) {
        if (ring_trylock(self))
            return 1;
        if (i >= tries)
            return 0;
        /* (Waits reading the lock's word, glibc's owner id, 0 when free, as a hint: a try
         * writes to the line the holder needs, which slowed it down.) */
        for (int j = 0; j < 64 && __atomic_load_n((const int *)&self->header->lock, __ATOMIC_RELAXED) != 0; j++) {
#if defined(__x86_64__) || defined(__i386__)
            __builtin_ia32_pause();
#endif
        }
    }
}

static inline void
ring_unlock(Ring *self)
{
    pthread_mutex_unlock(&self->header->lock);
}

static inline int
ring_open(Ring *self)
{
    if (self->header == NULL) {
        PyErr_SetString(PyExc_ValueError, "the ring is closed");
        return -1;
    }
    return 0;
}

/* Write a record of ``kind`` holding ``first`` (``first_length`` bytes) then ``data``
 * (``length`` bytes) at the tail, if it fits; the lock is held. 1 written, 0 no room.
 *
 * Plain records leave the last sixteenth of the buffer to markers, so that a message with fds
 * has room when small ones filled the ring (its sender then waits for the kernel to say the
 * socket has room). A sender that finds no room for a plain record waits for a ROOM from a
 * receiver (``room_due``). */
static inline int
write_record2(Header *h, unsigned char *buffer, uint32_t kind, const void *first,
              Py_ssize_t first_length, const char *data, Py_ssize_t length)
{
    length += first_length;
    uint64_t size = h->size;
    uint64_t need = (uint64_t)align8(8 + length);
    uint64_t at = h->tail & (size - 1);
    uint64_t before_end = size - at;
    uint64_t skip = need > before_end ? before_end : 0; /* a WRAP record fills the end */
    uint64_t limit = kind == KIND_PLAIN ? size - size / 16 : size;
    if (need > limit || h->tail - h->head + skip + need > limit)
        return 0;
    if (skip) {
        if (skip >= 8) {
            uint32_t wrap[2] = {(uint32_t)(skip - 8), KIND_WRAP};
            memcpy(buffer + at, wrap, 8);
        }
        at = 0;
    }
    uint32_t head[2] = {(uint32_t)length, kind};
    memcpy(buffer + at, head, 8);
    memcpy(buffer + at + 8, first, (size_t)first_length);
    memcpy(buffer + at + 8 + first_length, data, (size_t)(length - first_length));
    h->tail += skip + need; /* published last (a kill between the two: ring_recover) */
    atomic_store_explicit(&h->published, h->tail, memory_order_release);
    return 1;
}

static inline int
write_record(Header *h, unsigned char *buffer, uint32_t kind, const char *data, Py_ssize_t length)
{
    return write_record2(h, buffer, kind, "", 0, data, length);
}

/* After a publish: WAKE the receivers waiting on the socket, unless a WAKE was sent since the
 * last of them began to wait (``woken``): one system call per wait, not one per push while a
 * receiver sleeps. ``woken`` is cleared by every ``sleep_begin`` and by a receiver that takes a
 * WAKE from the socket, so a sender killed between setting it and sending costs a waiting
 * receiver at most one wait slice (``_waiting.SLICE``), never every wake-up after. The fence
 * pairs with ``sleep_begin``'s: of a sleeper counting itself then looking at the ring, and a
 * sender publishing then looking at ``sleepers``, one sees the other. */
static inline int
wake_sleepers(Header *h, int fd)
{
    atomic_thread_fence(memory_order_seq_cst);
    if (atomic_load(&h->sleepers) == 0 || atomic_exchange(&h->woken, 1) != 0)
        return 0;
    char wake = WAKE_BYTE;
    if (send(fd, &wake, 1, MSG_DONTWAIT | MSG_NOSIGNAL) == 1)
        return 1;
    atomic_store(&h->woken, 0); /* (a full socket is readable anyway) */
    return 0;
}

/* A receiver is about to wait on the socket: senders WAKE it from now on (it looks at the ring
 * again before it waits: what was published before it counted itself came with no WAKE). */
static inline void
sleep_begin(Header *h)
{
    atomic_fetch_add(&h->sleepers, 1);
    atomic_store(&h->woken, 0);
    atomic_thread_fence(memory_order_seq_cst);
}

/* After a take freed room, the lock held: whether to send the senders that wait for room a
 * ROOM (``send_room``, after the unlock). Only once the ring is half empty (a sender woken for
 * every record freed would wake, push one and wait again), and once per wait (``room_woken``,
 * as ``woken`` for WAKEs: cleared by ``room_begin`` and by a sender that takes a ROOM). A
 * sender waiting for room counts itself, then looks at the ring under the lock: the take's look
 * at ``room_waiters``, under the lock too, sees the count, or the sender's look sees the room. */
/* Whether a plain record of ``length`` bytes for which the ring has no room goes as a marked
 * datagram (through the socket's buffer, as on a channel without a ring) rather than wait for
 * room: only a large one (a ring holds few of them). Small ones wait: a receiver takes marked
 * datagrams the slow way, and one that falls behind producers would fall further behind. */
static inline int
marked_when_full(Header *h, Py_ssize_t length)
{
    return (uint64_t)length > h->size / 64;
}

/* Whether a sender that waits for room may go on: the ring is at most half full. */
static inline int
roomy(Header *h)
{
    return h->tail - h->head <= h->size / 2;
}

static inline int
room_due(Header *h)
{
    return roomy(h) && atomic_load(&h->room_waiters) > 0 && atomic_exchange(&h->room_woken, 1) == 0;
}

/* Send a ROOM on a receiver's end ``fd`` of the socket: it arrives at the senders' end, which
 * the senders that wait for room watch. */
static inline void
send_room(Header *h, int fd)
{
    char room = ROOM_BYTE;
    if (send(fd, &room, 1, MSG_DONTWAIT | MSG_NOSIGNAL) != 1)
        atomic_store(&h->room_woken, 0); /* (no sender left, or a full queue: readable anyway) */
}

/* Room for the control message of a datagram carrying up to MAX_FDS fds, aligned for it. */
union fds_space {
    char buf[CMSG_SPACE(MAX_FDS * sizeof(int))];
    struct cmsghdr align;
};

/* Give ``msg`` the control message carrying ``fds`` (SCM_RIGHTS), in ``space``; none if there
 * are none. (The one place both the ring's marked sends and _steps.c's sends build it.) */
static inline void
attach_fds(struct msghdr *msg, union fds_space *space, const int *fds, int nfds)
{
    if (nfds <= 0)
        return;
    memset(space, 0, sizeof *space);
    msg->msg_control = space->buf;
    msg->msg_controllen = CMSG_SPACE(nfds * sizeof(int));
    struct cmsghdr *cmsg = CMSG_FIRSTHDR(msg);
    cmsg->cmsg_level = SOL_SOCKET;
    cmsg->cmsg_type = SCM_RIGHTS;
    cmsg->cmsg_len = CMSG_LEN(nfds * sizeof(int));
    memcpy(CMSG_DATA(cmsg), fds, nfds * sizeof(int));
}

/* For the tests (``Ring._die_after_send``): end the process right after a marked datagram went,
 * before its marker is published, in the real send below. */
static int die_after_sendmsg;

/* Send one datagram on the socket ``fd`` — the next marker's number, then ``parts`` — with
 * ``fds`` (SCM_RIGHTS), and publish its MARKER record; the lock is held, so the order of markers
 * in the ring is the order of their datagrams in the socket. 1 sent; 0 no room for the marker
 * (nothing sent); -1 the send failed, errno says why (nothing sent). A sender killed between
 * the two leaves a datagram with no marker (an orphan), which ``take`` delivers. */
static inline int
send_marked_locked(Header *h, unsigned char *buffer, int fd, const struct iovec *parts, int nparts,
                   const int *fds, int nfds)
{
    /* Room first: the record is written (published) only once its datagram is sent. */
    uint64_t size = h->size, at = h->tail & (size - 1);
    uint64_t skip = 16 > size - at ? size - at : 0;
    if (h->tail - h->head + skip + 16 > size || nparts > 2 || nfds > MAX_FDS)
        return 0;
    /* The number is taken before the datagram goes: a sender killed after it went leaves an
     * orphan numbered below every later marker, never one whose number the next sender uses
     * again (it would be taken for that sender's datagram, and the sender's own delivered after
     * its later records). A send that fails leaves a number unused: harmless. */
    uint64_t seq = ++h->seq;
    struct iovec iov[3] = {{&seq, 8}};
    for (int i = 0; i < nparts; i++)
        iov[i + 1] = parts[i];
    union fds_space control;
    struct msghdr msg = {.msg_iov = iov, .msg_iovlen = (size_t)nparts + 1};
    attach_fds(&msg, &control, fds, nfds);
    if (sendmsg(fd, &msg, MSG_DONTWAIT | MSG_NOSIGNAL) < 0)
        return -1;
    if (die_after_sendmsg)
        _exit(0);
    write_record(h, buffer, KIND_MARKER, (const char *)&seq, 8); /* (room checked above) */
    return 1;
}

#endif
