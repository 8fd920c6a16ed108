/* A process-shared ring of messages, for the small messages of mpsc.process's unbounded channels
 * (``_rings``; the protocol around it: DESIGN.md §10).
 *
 * One memfd per channel holds a header and a buffer of records. Every process of the channel
 * maps it. A robust, process-shared pthread mutex guards it: a process killed while holding it
 * leaves it to the next locker with EOWNERDEAD, which marks it consistent and goes on. Nothing a
 * killed holder did is half-visible: a writer publishes a record by advancing ``tail`` after
 * writing it, a reader frees one by advancing ``head`` after copying it, both last, under the
 * lock. (A reader killed after copying and before advancing leaves the record to the next one.)
 *
 * Records are 8-byte aligned: a ``uint32`` length, a ``uint32`` kind, the payload. A record that
 * would not fit before the buffer's end leaves a WRAP record there (or nothing, if fewer than 8
 * bytes are left) and starts at the beginning.
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <signal.h>

#if defined(__linux__)
#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <unistd.h>

#include "_ring.h"

/* ``Busy``: the ring's lock is held by a process that does not run now. A class of its own, not
 * ``TimeoutError``: the Python code catches it around code where a signal handler's exception
 * may land, and must not take a handler's ``TimeoutError`` for it. */
static PyObject *busy_error;

/* How long ``ring_lock`` waits for a busy lock. A holder keeps it for a copy of a record; one
 * that does not run (stopped by SIGSTOP or a debugger, or descheduled on a loaded machine) must
 * not hold up a caller's timeout, its try_* calls or its Ctrl-C: past this the caller gets
 * ``Busy`` and its Python code waits its own way (and sees signals) before it tries again. */
#define LOCK_WAIT_NS 20000000

/* Lock the ring; if it is taken, wait for it with the GIL let go (for at most ``LOCK_WAIT_NS``),
 * or, without ``wait`` (an event loop's thread, which must not be held), only try briefly. The
 * caller is inside its endpoint (``Endpoint.enter``), so no other thread unmaps the ring
 * meanwhile. */
static int
ring_lock(Ring *self, int wait)
{
    int err = pthread_mutex_trylock(&self->header->lock);
    if (err == EBUSY && !wait)
        err = ring_trylock_briefly(self, 64) ? 0 : ETIMEDOUT;
    else if (err == EBUSY) {
        struct timespec until;
        clock_gettime(CLOCK_MONOTONIC, &until);
        until.tv_nsec += LOCK_WAIT_NS;
        if (until.tv_nsec >= 1000000000) {
            until.tv_sec += 1;
            until.tv_nsec -= 1000000000;
        }
        Py_BEGIN_ALLOW_THREADS
        err = pthread_mutex_clocklock(&self->header->lock, CLOCK_MONOTONIC, &until);
        Py_END_ALLOW_THREADS
    }
    if (err == ETIMEDOUT) {
        PyErr_SetString(busy_error, "the ring's lock is held by a process that does not run now");
        return -1;
    }
    if (err == EOWNERDEAD)
        err = ring_recover(self->header);
    if (err != 0) {
        errno = err;
        PyErr_SetFromErrno(PyExc_OSError);
        return -1;
    }
    return 0;
}

/* The optional last argument ``wait`` of the locking methods (true when missing). */
static int
wait_argument(PyObject *const *args, Py_ssize_t nargs, Py_ssize_t at)
{
    return nargs <= at ? 1 : PyObject_IsTrue(args[at]);
}

/* ``create(size)``: a new memfd holding an empty ring with a buffer of ``size`` bytes (a power
 * of two, at least 4096). */
static PyObject *
create(PyObject *module, PyObject *arg)
{
    Py_ssize_t size = PyLong_AsSsize_t(arg);
    if (size == -1 && PyErr_Occurred())
        return NULL;
    if (size < 4096 || size > ((Py_ssize_t)1 << 30) || (size & (size - 1)) != 0) {
        PyErr_SetString(PyExc_ValueError, "create(): size must be a power of two in [4096, 2**30]");
        return NULL;
    }
    int fd = memfd_create("mpsc-ring", MFD_CLOEXEC);
    if (fd < 0)
        return PyErr_SetFromErrno(PyExc_OSError);
    size_t total = HEADER_SIZE + (size_t)size;
    void *map = MAP_FAILED;
    if (ftruncate(fd, (off_t)total) < 0
        || (map = mmap(NULL, total, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0)) == MAP_FAILED) {
        PyErr_SetFromErrno(PyExc_OSError);
        close(fd);
        return NULL;
    }
    Header *header = map;
    pthread_mutexattr_t attr;
    pthread_mutexattr_init(&attr);
    pthread_mutexattr_setpshared(&attr, PTHREAD_PROCESS_SHARED);
    pthread_mutexattr_setrobust(&attr, PTHREAD_MUTEX_ROBUST);
    int err = pthread_mutex_init(&header->lock, &attr);
    pthread_mutexattr_destroy(&attr);
    header->size = (uint32_t)size;
    header->magic = MAGIC;
    munmap(map, total);
    if (err != 0) {
        close(fd);
        errno = err;
        return PyErr_SetFromErrno(PyExc_OSError);
    }
    return PyLong_FromLong(fd);
}

static int
ring_init(Ring *self, PyObject *args, PyObject *kwargs)
{
    int fd;
    if (!PyArg_ParseTuple(args, "i:Ring", &fd))
        return -1;
    if (self->header != NULL) {
        PyErr_SetString(PyExc_ValueError, "Ring() is made once");
        return -1;
    }
    Header probe;
    if (pread(fd, &probe, sizeof probe, 0) != (ssize_t)sizeof probe || probe.magic != MAGIC) {
        PyErr_SetString(PyExc_ValueError, "Ring(): not a ring's memfd");
        return -1;
    }
    size_t total = HEADER_SIZE + (size_t)probe.size;
    void *map = mmap(NULL, total, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
    if (map == MAP_FAILED) {
        PyErr_SetFromErrno(PyExc_OSError);
        return -1;
    }
    self->header = map;
    self->buffer = (unsigned char *)map + HEADER_SIZE;
    self->mapped = total;
    return 0;
}

static void
ring_unmap(Ring *self)
{
    if (self->header != NULL) {
        munmap(self->header, self->mapped);
        self->header = NULL;
        self->buffer = NULL;
    }
}

static void
ring_dealloc(Ring *self)
{
    ring_unmap(self);
    Py_TYPE(self)->tp_free((PyObject *)self);
}

/* ``push(body[, wait])``: append ``body`` (bytes) as one record; False if the ring has no room
 * for it. (``wait``: see ``ring_lock``.) */
static PyObject *
ring_push(Ring *self, PyObject *const *args, Py_ssize_t nargs)
{
    if (ring_open(self) < 0)
        return NULL;
    if (nargs < 1 || nargs > 2 || !PyBytes_Check(args[0])) {
        PyErr_SetString(PyExc_TypeError, "push(body: bytes[, wait])");
        return NULL;
    }
    PyObject *body = args[0];
    int wait = wait_argument(args, nargs, 1);
    if (wait < 0 || ring_lock(self, wait) < 0)
        return NULL;
    int written = write_record(self->header, self->buffer, KIND_PLAIN, PyBytes_AS_STRING(body),
                               PyBytes_GET_SIZE(body));
    ring_unlock(self);
    return PyBool_FromLong(written);
}

/* ``pop()``: the oldest record's payload (bytes), or None if the ring is empty. */
static PyObject *
ring_pop(Ring *self, PyObject *unused)
{
    if (ring_open(self) < 0)
        return NULL;
    Header *h = self->header;
    if (!records_published(h))
        Py_RETURN_NONE; /* (a look without the lock: an empty ring costs no lock) */
    if (ring_lock(self, 1) < 0)
        return NULL;
    uint64_t size = h->size;
    PyObject *result = NULL;
    while (h->head != h->tail) {
        uint64_t at = h->head & (size - 1);
        if (size - at < 8) { /* too short for a record: skipped by the writer */
            h->head += size - at;
            continue;
        }
        uint32_t rec[2];
        memcpy(rec, self->buffer + at, 8);
        if (rec[1] == KIND_WRAP) {
            h->head += 8 + (uint64_t)rec[0];
            continue;
        }
        /* (A bytes object is not tracked by the collector: its allocation runs no Python.) */
        result = PyBytes_FromStringAndSize((const char *)self->buffer + at + 8, rec[0]);
        if (result != NULL) {
            h->head += (uint64_t)align8(8 + rec[0]); /* freed last */
        }
        ring_unlock(self);
        return result;
    }
    ring_unlock(self);
    Py_RETURN_NONE;
}

/* ``send_marked(fd, data, fds[, wait])``: send ``data`` (bytes) with ``fds`` as a marked
 * datagram (``send_marked_locked``). False if the ring has no room for the marker;
 * BlockingIOError if the socket's buffer is full. */
static PyObject *
ring_send_marked(Ring *self, PyObject *const *args, Py_ssize_t nargs)
{
    int fd;
    if (nargs < 3 || nargs > 4 || (fd = PyLong_AsLong(args[0])) < 0 || !PyBytes_Check(args[1])
        || !PyList_Check(args[2]) || PyList_GET_SIZE(args[2]) > MAX_FDS) {
        if (!PyErr_Occurred())
            PyErr_SetString(PyExc_TypeError, "send_marked(fd, data: bytes, fds: list of ints[, wait])");
        return NULL;
    }
    int wait = wait_argument(args, nargs, 3);
    if (wait < 0)
        return NULL;
    if (ring_open(self) < 0)
        return NULL;
    int fds[MAX_FDS];
    Py_ssize_t nfds = PyList_GET_SIZE(args[2]);
    for (Py_ssize_t i = 0; i < nfds; i++) {
        long v = PyLong_AsLong(PyList_GET_ITEM(args[2], i));
        if (v == -1 && PyErr_Occurred())
            return NULL;
        fds[i] = (int)v;
    }
    if (ring_lock(self, wait) < 0)
        return NULL;
    struct iovec data = {PyBytes_AS_STRING(args[1]), (size_t)PyBytes_GET_SIZE(args[1])};
    int sent = send_marked_locked(self->header, self->buffer, fd, &data, 1, fds, (int)nfds);
    int err = errno;
    ring_unlock(self);
    if (sent < 0) {
        errno = err;
        return PyErr_SetFromErrno(PyExc_OSError);
    }
    return PyBool_FromLong(sent);
}

/* Look at the socket's first datagram, dropping WAKEs: its length (0 at the end of the stream,
 * -1 if none is there now, -2 on an error, in errno) and, for a data datagram, its seq. Makes
 * no Python object: called under the lock (see ``Taken``). */
static Py_ssize_t
peek_datagram(Header *h, int fd, uint64_t *seq)
{
    for (;;) {
        unsigned char head[8];
        ssize_t n = recv(fd, head, sizeof head, MSG_PEEK | MSG_TRUNC | MSG_DONTWAIT);
        if (n < 0) {
            if (errno == EAGAIN || errno == EWOULDBLOCK)
                return -1;
            /* ECONNRESET: the senders' end was closed for good with ROOMs unread in its queue
             * (the last sender killed as it waited for room); the kernel reports it once,
             * ahead of the datagrams still queued here, which the next call reads. */
            if (errno == EINTR || errno == ECONNRESET)
                continue;
            return -2;
        }
        if (n == 0)
            return 0; /* the end of the stream (every sender gone) */
        if (n == 1) {
            /* A WAKE: dropped, and the next publish may send one (see wake_sleepers). (Taken
             * ahead of a marked datagram, it may have been a waiting receiver's, which then
             * sleeps on until that publish, or its wait's slice ends: a receiver cannot WAKE
             * another, its end of the socket writes to the senders'.) */
            atomic_store(&h->woken, 0);
            (void)recv(fd, head, 1, MSG_DONTWAIT);
            continue;
        }
        if (n < 8)
            return -1; /* (never sent) */
        memcpy(seq, head, 8);
        return n;
    }
}

/* What a take found, made under the lock with no object the collector tracks (on 3.11 making
 * one may run a collection there, and with it any finalizer, which could call into this very
 * ring and wait for the lock its own thread holds): a bytes object (untracked) and C values.
 * The result's tuple and lists are made once the lock is let go (``taken_result``). */
typedef struct {
    enum { TAKEN_NOTHING, TAKEN_RECORD, TAKEN_DATAGRAM, TAKEN_END, TAKEN_FAILED } what;
    PyObject *data; /* (TAKEN_RECORD, TAKEN_DATAGRAM) */
    int flags;      /* (TAKEN_DATAGRAM) MSG_TRUNC | MSG_CTRUNC */
    int nfds;
    int fds[MAX_FDS];
    int err; /* (TAKEN_FAILED, with no Python error set: errno's value) */
} Taken;

/* Receive the datagram peek_datagram saw (``length`` bytes) into ``taken``; the lock is held. */
static void
receive_datagram(int fd, Py_ssize_t length, Taken *taken)
{
    taken->what = TAKEN_FAILED;
    taken->err = 0;
    PyObject *data = PyBytes_FromStringAndSize(NULL, length - 8);
    if (data == NULL)
        return; /* (MemoryError set) */
    uint64_t seq;
    struct iovec iov[2] = {{&seq, 8}, {PyBytes_AS_STRING(data), (size_t)(length - 8)}};
    union fds_space control;
    struct msghdr msg = {.msg_iov = iov, .msg_iovlen = 2, .msg_control = control.buf,
                         .msg_controllen = sizeof control.buf};
    ssize_t n;
    do
        n = recvmsg(fd, &msg, MSG_DONTWAIT | MSG_CMSG_CLOEXEC);
    while (n < 0 && (errno == EINTR || errno == ECONNRESET)); /* (see peek_datagram) */
    if (n < 0) {
        taken->err = errno;
        Py_DECREF(data);
        return;
    }
    taken->nfds = 0;
    for (struct cmsghdr *c = CMSG_FIRSTHDR(&msg); c != NULL; c = CMSG_NXTHDR(&msg, c)) {
        if (c->cmsg_level != SOL_SOCKET || c->cmsg_type != SCM_RIGHTS)
            continue;
        size_t count = (c->cmsg_len - CMSG_LEN(0)) / sizeof(int);
        for (size_t i = 0; i < count; i++) {
            int got;
            memcpy(&got, CMSG_DATA(c) + i * sizeof(int), sizeof got);
            if (taken->nfds < MAX_FDS)
                taken->fds[taken->nfds++] = got;
            else
                close(got); /* (never: the buffer takes MAX_FDS, and a sender sends no more) */
        }
    }
    taken->what = TAKEN_DATAGRAM;
    taken->data = data;
    taken->flags = msg.msg_flags & (MSG_TRUNC | MSG_CTRUNC);
}

/* ``taken`` as ``socket.recvmsg``'s result ``(data, ancillary, flags, None)`` (the fds as one
 * SCM_RIGHTS item), None for nothing; made after the lock is let go. Takes ``taken->data``; the
 * fds are closed if this fails. */
static PyObject *
taken_result(Taken *taken)
{
    switch (taken->what) {
    case TAKEN_NOTHING:
        Py_RETURN_NONE;
    case TAKEN_FAILED:
        if (taken->err != 0) {
            errno = taken->err;
            PyErr_SetFromErrno(PyExc_OSError);
        }
        return NULL;
    case TAKEN_END:
        return Py_BuildValue("(yNiO)", "", PyList_New(0), 0, Py_None);
    default:
        break;
    }
    PyObject *ancillary = PyList_New(0);
    if (ancillary != NULL && taken->nfds > 0) {
        PyObject *item = Py_BuildValue("(iiy#)", SOL_SOCKET, SCM_RIGHTS, (const char *)taken->fds,
                                       (Py_ssize_t)(taken->nfds * sizeof(int)));
        if (item == NULL || PyList_Append(ancillary, item) < 0)
            Py_CLEAR(ancillary);
        Py_XDECREF(item);
    }
    if (ancillary == NULL) {
        for (int i = 0; i < taken->nfds; i++)
            close(taken->fds[i]);
        Py_DECREF(taken->data);
        return NULL;
    }
    return Py_BuildValue("(NNiO)", taken->data, ancillary, taken->flags, Py_None); /* (N: taken even on failure) */
}

/* ``take(fd[, wait])``: the next message, shaped as ``socket.recvmsg``'s result ``(data,
 * ancillary, flags, None)``: a plain record's payload, or a marked datagram taken from the
 * socket ``fd`` (its fds as one SCM_RIGHTS item); ``b""`` at the end of the stream; None if
 * there is none. Under the lock, a MARKER at the ring's head is matched with the socket's first
 * data datagram by number: the same, it is taken; a lower one is an orphan (its sender was
 * killed before it published its marker): it is taken and the marker stays; a higher one, or
 * none, means the marker's datagram was never sent or was taken by a receiver killed before it
 * freed the marker: the marker is dropped. With the ring empty, a data datagram in the socket
 * is an orphan. (``wait``: see ``ring_lock``.) */
static PyObject *
ring_take(Ring *self, PyObject *const *args, Py_ssize_t nargs)
{
    if (nargs < 1 || nargs > 2) {
        PyErr_SetString(PyExc_TypeError, "take(fd[, wait])");
        return NULL;
    }
    int fd = PyLong_AsLong(args[0]);
    if (fd == -1 && PyErr_Occurred())
        return NULL;
    int wait = wait_argument(args, nargs, 1);
    if (wait < 0 || ring_open(self) < 0 || ring_lock(self, wait) < 0)
        return NULL;
    Header *h = self->header;
    uint64_t size = h->size;
    Taken taken = {.what = TAKEN_NOTHING};
    for (;;) {
        uint64_t at = h->head & (size - 1);
        if (h->head != h->tail && size - at >= 8) {
            uint32_t rec[2];
            memcpy(rec, self->buffer + at, 8);
            if (rec[1] == KIND_WRAP) {
                h->head += 8 + (uint64_t)rec[0];
                continue;
            }
            if (rec[1] == KIND_PLAIN) {
                /* (A bytes object is not tracked by the collector: see Taken.) */
                taken.data = PyBytes_FromStringAndSize((const char *)self->buffer + at + 8, rec[0]);
                if (taken.data == NULL) {
                    taken.what = TAKEN_FAILED;
                    taken.err = 0;
                    break;
                }
                taken.what = TAKEN_RECORD;
                taken.flags = 0;
                taken.nfds = 0;
                h->head += (uint64_t)align8(8 + rec[0]); /* freed last */
                break;
            }
            uint64_t marker, seq = 0;
            memcpy(&marker, self->buffer + at + 8, 8);
            Py_ssize_t length = peek_datagram(h, fd, &seq);
            if (length == -2) {
                taken.what = TAKEN_FAILED;
                taken.err = errno;
                break;
            }
            if (length >= 8 && seq <= marker) {
                receive_datagram(fd, length, &taken);
                if (taken.what == TAKEN_DATAGRAM && seq == marker)
                    h->head += 16;
                break;
            }
            h->head += 16; /* its datagram is gone: no message */
            continue;
        }
        if (h->head != h->tail) { /* too short for a record: skipped by the writer */
            h->head += size - at;
            continue;
        }
        uint64_t seq;
        Py_ssize_t length = peek_datagram(h, fd, &seq);
        if (length >= 8)
            receive_datagram(fd, length, &taken); /* an orphan */
        else if (length == 0)
            taken.what = TAKEN_END;
        else if (length == -2) {
            taken.what = TAKEN_FAILED;
            taken.err = errno;
        }
        break;
    }
    int room = room_due(h);
    ring_unlock(self);
    if (room)
        send_room(h, fd);
    return taken_result(&taken);
}

/* ``wake(fd)``: WAKE the receivers waiting on the socket ``fd``, if any and if no WAKE was sent
 * since they began to wait (``wake_sleepers``): whether one was sent. */
static PyObject *
ring_wake(Ring *self, PyObject *arg)
{
    int fd = PyLong_AsLong(arg);
    if (fd == -1 && PyErr_Occurred())
        return NULL;
    if (ring_open(self) < 0)
        return NULL;
    return PyBool_FromLong(wake_sleepers(self->header, fd));
}

/* ``sleep_begin()``: this receiver is about to wait on the socket (``sleep_begin`` in _ring.h);
 * ``sleep_end()`` undoes it. */
static PyObject *
ring_sleep_begin(Ring *self, PyObject *unused)
{
    if (ring_open(self) < 0)
        return NULL;
    sleep_begin(self->header);
    Py_RETURN_TRUE; /* (stored by the caller as its record that it counts) */
}

/* ``room_begin()``: this sender is about to wait for room (on its end of the socket, for a
 * ROOM from a receiver, see ``room_due``); it must look at the ring again first. */
static PyObject *
ring_room_begin(Ring *self, PyObject *unused)
{
    if (ring_open(self) < 0)
        return NULL;
    atomic_fetch_add(&self->header->room_waiters, 1);
    atomic_store(&self->header->room_woken, 0);
    Py_RETURN_TRUE; /* (stored by the caller as its record that it counts) */
}

/* ``room([wait])``: whether the ring is at most half full (then no sender waits for a ROOM),
 * looked at under the lock (see ``room_due``; ``wait``: see ``ring_lock``). */
static PyObject *
ring_room(Ring *self, PyObject *const *args, Py_ssize_t nargs)
{
    if (nargs > 1) {
        PyErr_SetString(PyExc_TypeError, "room([wait])");
        return NULL;
    }
    int wait = wait_argument(args, nargs, 0);
    if (wait < 0 || ring_open(self) < 0 || ring_lock(self, wait) < 0)
        return NULL;
    int room = roomy(self->header);
    ring_unlock(self);
    return PyBool_FromLong(room);
}

/* ``room_end(fd)``: uncount it, and take the ROOMs waiting on the senders' end ``fd`` (else the
 * next wait would end at once): False. */
static PyObject *
ring_room_end(Ring *self, PyObject *arg)
{
    int fd = PyLong_AsLong(arg);
    if (fd == -1 && PyErr_Occurred())
        return NULL;
    if (ring_open(self) < 0)
        return NULL;
    atomic_fetch_sub(&self->header->room_waiters, 1);
    char room[16];
    while (recv(fd, room, sizeof room, MSG_DONTWAIT) > 0)
        atomic_store(&self->header->room_woken, 0);
    Py_RETURN_FALSE;
}

static PyObject *
ring_sleep_end(Ring *self, PyObject *unused)
{
    if (ring_open(self) < 0)
        return NULL;
    atomic_fetch_sub(&self->header->sleepers, 1);
    Py_RETURN_FALSE;
}

/* ``bump_epoch()``: a receiver closed its fds: senders look at the kernel before their next
 * push (their pushes make no system call that would tell them every receiver is gone). */
static PyObject *
ring_bump_epoch(Ring *self, PyObject *unused)
{
    if (self->header == NULL) /* (closed: a restarted close comes here again) */
        Py_RETURN_NONE;
    atomic_fetch_add(&self->header->epoch, 1);
    Py_RETURN_NONE;
}

static PyObject *
ring_epoch(Ring *self, void *closure)
{
    if (ring_open(self) < 0)
        return NULL;
    return PyLong_FromUnsignedLongLong(atomic_load(&self->header->epoch));
}

/* ``room_waiters``: how many senders wait for room (for the tests and for looking). */
static PyObject *
ring_room_waiters(Ring *self, void *closure)
{
    if (ring_open(self) < 0)
        return NULL;
    return PyLong_FromUnsignedLongLong(atomic_load(&self->header->room_waiters));
}

/* ``_die_after_send(fd, data)``: for the tests: a marked send (``send_marked_locked``) killed
 * after its datagram went and before its marker was published. */
static PyObject *
ring_die_after_send(Ring *self, PyObject *const *args, Py_ssize_t nargs)
{
    if (nargs != 2 || !PyBytes_Check(args[1]) || ring_open(self) < 0 || ring_lock(self, 1) < 0) {
        if (!PyErr_Occurred())
            PyErr_SetString(PyExc_TypeError, "_die_after_send(fd, data: bytes)");
        return NULL;
    }
    struct iovec data = {PyBytes_AS_STRING(args[1]), (size_t)PyBytes_GET_SIZE(args[1])};
    die_after_sendmsg = 1;
    (void)send_marked_locked(self->header, self->buffer, (int)PyLong_AsLong(args[0]), &data, 1, NULL, 0);
    _exit(1); /* (the send failed) */
}

/* ``_die_after_receive(fd)``: for the tests: a take killed after it received a marker's
 * datagram and before it freed the marker. */
static PyObject *
ring_die_after_receive(Ring *self, PyObject *arg)
{
    if (ring_open(self) < 0 || ring_lock(self, 1) < 0)
        return NULL;
    char buffer[70000];
    (void)recv((int)PyLong_AsLong(arg), buffer, sizeof buffer, MSG_DONTWAIT);
    _exit(0);
}

/* ``ready()``: whether a record may be there, looked at without the lock (no system call). */
static PyObject *
ring_ready(Ring *self, PyObject *unused)
{
    if (ring_open(self) < 0)
        return NULL;
    Header *h = self->header;
    return PyBool_FromLong(records_published(h));
}

static Py_ssize_t
ring_len(Ring *self)
{
    if (ring_open(self) < 0)
        return -1;
    if (ring_lock(self, 1) < 0)
        return -1;
    /* Counted by walking the records: a count kept beside them would be left wrong by a
     * process killed between the two stores. */
    Header *h = self->header;
    uint64_t size = h->size, pos = h->head;
    Py_ssize_t n = 0;
    while (pos != h->tail) {
        uint64_t at = pos & (size - 1);
        if (size - at < 8) {
            pos += size - at;
            continue;
        }
        uint32_t rec[2];
        memcpy(rec, self->buffer + at, 8);
        pos += rec[1] == KIND_WRAP ? 8 + (uint64_t)rec[0] : (uint64_t)align8(8 + rec[0]);
        n += rec[1] != KIND_WRAP;
    }
    ring_unlock(self);
    return n;
}

static PyObject *
ring_close(Ring *self, PyObject *unused)
{
    ring_unmap(self);
    Py_RETURN_NONE;
}

/* ``recovered``: how often a locker in any process found the last holder dead. */
static PyObject *
ring_recovered(Ring *self, void *closure)
{
    if (ring_open(self) < 0)
        return NULL;
    return PyLong_FromUnsignedLongLong(atomic_load(&self->header->recovered));
}

/* ``_die_holding_lock()``: for the tests: take the lock and end the process without letting it
 * go (as a process killed inside would). */
static PyObject *
ring_die_holding_lock(Ring *self, PyObject *unused)
{
    if (ring_open(self) < 0 || ring_lock(self, 1) < 0)
        return NULL;
    _exit(0);
}

/* ``_stop_holding_lock()``: for the tests: take the lock, stop this process (SIGSTOP) holding
 * it, and once continued let it go and end the process (a holder that does not run). */
static PyObject *
ring_stop_holding_lock(Ring *self, PyObject *unused)
{
    if (ring_open(self) < 0 || ring_lock(self, 1) < 0)
        return NULL;
    raise(SIGSTOP);
    ring_unlock(self);
    _exit(0);
}

/* ``_write_torn(body)``: for the tests: write ``body``'s record without publishing it and end the
 * process holding the lock (a writer killed between the two). */
static PyObject *
ring_write_torn(Ring *self, PyObject *body)
{
    if (ring_open(self) < 0 || !PyBytes_Check(body) || ring_lock(self, 1) < 0)
        return NULL;
    Header *h = self->header;
    uint64_t at = h->tail & (h->size - 1);
    Py_ssize_t n = PyBytes_GET_SIZE(body);
    if (h->size - at >= (uint64_t)align8(8 + n)) {
        uint32_t head[2] = {(uint32_t)n, KIND_PLAIN};
        memcpy(self->buffer + at, head, 8);
        memcpy(self->buffer + at + 8, PyBytes_AS_STRING(body), (size_t)n);
    }
    _exit(0);
}

/* ``_write_unpublished(body)``: for the tests: write ``body``'s record and advance ``tail``, then
 * end the process holding the lock before ``published`` follows (a writer killed between the
 * two stores: ``ring_recover``). */
static PyObject *
ring_write_unpublished(Ring *self, PyObject *body)
{
    if (ring_open(self) < 0 || !PyBytes_Check(body) || ring_lock(self, 1) < 0)
        return NULL;
    Header *h = self->header;
    uint64_t published = atomic_load(&h->published);
    if (write_record(h, self->buffer, KIND_PLAIN, PyBytes_AS_STRING(body), PyBytes_GET_SIZE(body)))
        atomic_store(&h->published, published);
    _exit(0);
}

static PyMethodDef ring_methods[] = {
    {"push", (PyCFunction)(void (*)(void))ring_push, METH_FASTCALL,
     "push(body[, wait]): append a record; False if no room."},
    {"pop", (PyCFunction)ring_pop, METH_NOARGS, "pop(): the oldest record, or None."},
    {"close", (PyCFunction)ring_close, METH_NOARGS, "close(): unmap (idempotent)."},
    {"send_marked", (PyCFunction)(void (*)(void))ring_send_marked, METH_FASTCALL,
     "send_marked(fd, data, fds): send a datagram and publish its marker."},
    {"take", (PyCFunction)(void (*)(void))ring_take, METH_FASTCALL, "take(fd[, wait]): the next message, or None."},
    {"ready", (PyCFunction)ring_ready, METH_NOARGS, "ready(): whether a record may be there."},
    {"wake", (PyCFunction)ring_wake, METH_O, "wake(fd): WAKE a waiting receiver, if any."},
    {"sleep_begin", (PyCFunction)ring_sleep_begin, METH_NOARGS, "count this receiver as waiting"},
    {"sleep_end", (PyCFunction)ring_sleep_end, METH_NOARGS, "uncount it"},
    {"bump_epoch", (PyCFunction)ring_bump_epoch, METH_NOARGS, "a receiver closed: senders look"},
    {"room_begin", (PyCFunction)ring_room_begin, METH_NOARGS, "count this sender as waiting for room"},
    {"room_end", (PyCFunction)ring_room_end, METH_O, "room_end(fd): uncount it, take the ROOMs"},
    {"room", (PyCFunction)(void (*)(void))ring_room, METH_FASTCALL,
     "room([wait]): whether the ring is at most half full"},
    {"_die_holding_lock", (PyCFunction)ring_die_holding_lock, METH_NOARGS, "for the tests"},
    {"_stop_holding_lock", (PyCFunction)ring_stop_holding_lock, METH_NOARGS, "for the tests"},
    {"_die_after_send", (PyCFunction)(void (*)(void))ring_die_after_send, METH_FASTCALL, "for the tests"},
    {"_die_after_receive", (PyCFunction)ring_die_after_receive, METH_O, "for the tests"},
    {"_write_torn", (PyCFunction)ring_write_torn, METH_O, "for the tests"},
    {"_write_unpublished", (PyCFunction)ring_write_unpublished, METH_O, "for the tests"},
    {NULL},
};

static PyGetSetDef ring_getset[] = {
    {"recovered", (getter)ring_recovered, NULL, "how often a dead holder's lock was recovered", NULL},
    {"epoch", (getter)ring_epoch, NULL, "how many receivers' closes (see bump_epoch)", NULL},
    {"room_waiters", (getter)ring_room_waiters, NULL, "how many senders wait for room", NULL},
    {NULL},
};

static PySequenceMethods ring_as_sequence = {
    .sq_length = (lenfunc)ring_len,
};

static PyTypeObject RingType = {
    PyVarObject_HEAD_INIT(NULL, 0)
    .tp_name = "mpsc.process._ring.Ring",
    .tp_doc = "Ring(fd): a process-shared ring of records in the memfd ``fd`` (see _ring.c).",
    .tp_basicsize = sizeof(Ring),
    .tp_flags = Py_TPFLAGS_DEFAULT,
    .tp_new = PyType_GenericNew,
    .tp_init = (initproc)ring_init,
    .tp_dealloc = (destructor)ring_dealloc,
    .tp_methods = ring_methods,
    .tp_getset = ring_getset,
    .tp_as_sequence = &ring_as_sequence,
};
#endif /* __linux__ */

static PyMethodDef module_methods[] = {
#if defined(__linux__)
    {"create", (PyCFunction)create, METH_O, "create(size): a memfd holding an empty ring."},
#endif
    {NULL},
};

static struct PyModuleDef module_def = {
    PyModuleDef_HEAD_INIT, "mpsc.process._ring",
    "A process-shared ring of messages for unbounded process channels (see _ring.c).", -1, module_methods,
};

PyMODINIT_FUNC
PyInit__ring(void)
{
    PyObject *module = PyModule_Create(&module_def);
    if (module == NULL)
        return NULL;
#ifdef Py_GIL_DISABLED
    /* (A Ring's state is in the shared mapping, under its process-shared lock, as for threads of
     * other processes; the mapping goes only once no call is inside: Endpoint.enter/leave.) */
    if (PyUnstable_Module_SetGIL(module, Py_MOD_GIL_NOT_USED) < 0) {
        Py_DECREF(module);
        return NULL;
    }
#endif
#if defined(__linux__)
    busy_error = PyErr_NewExceptionWithDoc(
        "mpsc.process._ring.Busy",
        "The ring's lock is held by a process that does not run now (see ring_lock in _ring.c).",
        PyExc_Exception, NULL);
    if (busy_error == NULL || PyModule_AddObjectRef(module, "Busy", busy_error) < 0
        || PyType_Ready(&RingType) < 0 || PyModule_AddObjectRef(module, "Ring", (PyObject *)&RingType) < 0) {
        Py_DECREF(module);
        return NULL;
    }
#endif
    return module;
}
