/* mpsc.process._steps: the common case of a process channel's send and receive, in C.
 *
 * The pure-Python methods (``_handles``) are the reference; this module does the common case of
 * the same steps with fewer instructions around the system call, and hands every other case,
 * untouched, to them. The common case is a buffered channel and a value with no handle inside
 * it: a send pickles the value and writes one datagram (a memfd for a large pickle, as
 * ``_wire.encode`` makes it); a receive reads one datagram and, when it is a plain one (no fds,
 * no flags), unpickles it. On a bounded channel each also moves the message's credit, counted
 * in this process's ledger row from before it may be taken until it is in the socket or back in
 * the pipe, as ``_ledger`` requires of every call. Anything else a receive reads (a large value, a value carrying
 * handles, one whose unpickling was interrupted) is finished by the pure code
 * (``_handles._finish_taken``), which settles it exactly as its own receive would.
 *
 * Reached as the thread channels' compiled steps are (see ``mpsc/_accel.c``), with no call in
 * between, because a call into C is a point where a signal handler's exception could drop a
 * received value, or make a send that happened look as if it had not:
 *
 *     self._sent = value        # Sender.send: sends, or raises Undecided (nothing happened)
 *     value = STEPS[self]       # Receiver.recv: the value, or NOTHING (nothing happened)
 *
 * Only where a GIL is: the steps use an endpoint's fds without entering it (``Endpoint.enter``
 * counts an operation so that no other thread closes its fds under it). Holding the GIL from
 * the last look at ``closed`` to the end of the system call does that here: every path that
 * closes an endpoint's fds sets ``closed`` first, in Python. A free-threaded build has no such
 * guarantee and does not install these steps. (Pickling and unpickling run Python code, so
 * ``closed`` is looked at after the pickling, and the receive's datagram is read before any.)
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include "../_compat.h"

#if defined(__linux__) && !defined(Py_GIL_DISABLED)
#define STEPS_BUILT 1
#include <errno.h>
#include <stdint.h>
#include <string.h>
#include <poll.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <unistd.h>
#else
#define STEPS_BUILT 0
#endif

/* What ``setup`` is given. */
static PyTypeObject *receiver_type;
static PyObject *undecided, *protocol, *str_outgoing;
static int ready_to_use;

#if STEPS_BUILT
static PyTypeObject *sender_type, *endpoint_type, *ledger_type;
static Py_ssize_t off_ep, off_closed, off_capacity, off_fd, off_credit_r, off_credit_w, off_ledger,
    off_row, off_view, off_ring, off_ring_epoch, off_ring_looked;
static PyTypeObject *ring_type; /* _ring.Ring, or NULL where it is not built */
static int ledger_rows;
static PyObject *nothing, *dumps, *loads, *local, *finish_taken;
static Py_ssize_t inline_max;

#define HEADER 4    /* _wire._HEADER: flags, then 3 bytes of padding */
#define LARGE 2     /* _wire.LARGE */
#define MAX_FDS 253 /* _wire.MAX_FDS */
#include <time.h>
#include "_ring.h"
#define LOOK_EVERY 0.001 /* _rings.LOOK_EVERY */
#define BRIEFLY 8         /* tries of a busy ring lock before the pure code takes over */

#define SLOT(obj, offset) (*(PyObject **)((char *)(obj) + (offset)))

/* What a step uses of an endpoint: its socket, and on a bounded channel its credit pipe and
 * this process's row of the ledger (``_ledger``: two counters only this process writes, ``takes``
 * before a call may take a credit, ``gives`` once it is back or sent). */
typedef struct {
    Ring *ring; /* an unbounded channel's ring (``_rings``), or NULL */
    int fd, credit_r, credit_w, bounded;
    uint64_t *takes, *gives; /* (while ``row`` is held: no Python code runs meanwhile) */
    Py_buffer row;
} Use;

static int
small_int(PyObject *number, long low)
{
    if (number == NULL || !PyLong_CheckExact(number))
        return -1;
    long value = PyLong_AsLong(number);
    if (value < low || value > INT32_MAX) {
        PyErr_Clear();
        return -1;
    }
    return (int)value;
}

/* Whether a step may use ``endpoint`` now (open; unbounded, or bounded with a claimed ledger
 * row), filling ``use`` (release it with ``let_go``). Read from the slots whose offsets
 * ``setup`` found. Sets no error: the pure code decides what any other state means (a closed
 * handle, a rendezvous channel, a row not claimed yet). */
static int
usable(PyObject *endpoint, Use *use)
{
    if (endpoint == NULL || !Py_IS_TYPE(endpoint, endpoint_type) || SLOT(endpoint, off_closed) != Py_False
        || (use->fd = small_int(SLOT(endpoint, off_fd), 0)) < 0)
        return 0;
    use->bounded = 0;
    use->row.obj = NULL;
    use->ring = NULL;
    PyObject *capacity = SLOT(endpoint, off_capacity);
    if (capacity == Py_None) {
        PyObject *ring = SLOT(endpoint, off_ring);
        if (ring == Py_None)
            return 1;
        if (ring_type == NULL || !Py_IS_TYPE(ring, ring_type) || ((Ring *)ring)->header == NULL)
            return 0;
        use->ring = (Ring *)ring;
        return 1;
    }
    PyObject *ledger = SLOT(endpoint, off_ledger);
    if (small_int(capacity, 1) < 1 || ledger == NULL || !Py_IS_TYPE(ledger, ledger_type)
        || (use->credit_r = small_int(SLOT(endpoint, off_credit_r), 0)) < 0
        || (use->credit_w = small_int(SLOT(endpoint, off_credit_w), 0)) < 0)
        return 0;
    int row = small_int(SLOT(ledger, off_row), 0);
    PyObject *view = SLOT(ledger, off_view);
    if (row < 0 || row >= ledger_rows || view == NULL)
        return 0;
    if (PyObject_GetBuffer(view, &use->row, PyBUF_WRITABLE) < 0) {
        PyErr_Clear();
        return 0;
    }
    if (use->row.len < (Py_ssize_t)(2 * ledger_rows * sizeof(uint64_t))) {
        PyBuffer_Release(&use->row);
        return 0;
    }
    use->takes = (uint64_t *)use->row.buf + row;
    use->gives = (uint64_t *)use->row.buf + ledger_rows + row;
    use->bounded = 1;
    return 1;
}

static void
let_go(Use *use)
{
    if (use->bounded && use->row.obj != NULL)
        PyBuffer_Release(&use->row);
    use->bounded = 0;
}

/* One more in a counter of this process's row (only this process writes it; others read it). */
static void
count(uint64_t *counter)
{
    __atomic_store_n(counter, __atomic_load_n(counter, __ATOMIC_RELAXED) + 1, __ATOMIC_RELEASE);
}

/* A credit back in the pipe, as ``_wire.settle`` writes it (a full pipe, or no sender left to
 * read it, is no error). */
static void
give_credit(int credit_w)
{
    static const char credit = 1;
    while (write(credit_w, &credit, 1) < 0 && errno == EINTR)
        ;
}

/* Close every fd in ``fds`` (a list of ints), emptying it. */
static void
close_listed(PyObject *fds)
{
    for (Py_ssize_t i = 0; i < PyList_GET_SIZE(fds); i++) {
        long fd = PyLong_AsLong(PyList_GET_ITEM(fds, i));
        if (fd >= 0)
            close((int)fd);
    }
    if (PyErr_Occurred())
        PyErr_Clear();
    PyList_SetSlice(fds, 0, PyList_GET_SIZE(fds), NULL);
}

static PyObject *noted; /* _endpoint._noted */

/* Forget ``fds``, a list of carried handles' fds that ``_travel.reduce_handle`` noted
 * (``_endpoint._noted``, by the list's id) before it made the first: emptied now (closed, or in
 * flight), or never filled. Keeps whatever error is set. */
static void
unnote(PyObject *fds)
{
    if (noted == NULL)
        return;
    PyObject *exc = PyErr_GetRaisedException();
    PyObject *key = PyLong_FromVoidPtr(fds);
    if (key == NULL || PyDict_DelItem(noted, key) < 0)
        PyErr_Clear(); /* (not noted: no handle was pickled into it) */
    Py_XDECREF(key);
    PyErr_SetRaisedException(exc);
}

/* The value pickled as ``_wire.encode`` pickles it (``_travel.local.outgoing`` collecting the
 * fds of handles inside it, in ``*carried``: a new list, for the caller to close). NULL with
 * the error pickling raised; NULL with no error when the pure code must pickle it (pickling
 * raised an AttributeError, which the pure code reports as a PicklingError). */
static PyObject *
pickled(PyObject *value, PyObject **carried)
{
    PyObject *fds = PyList_New(0);
    if (fds == NULL)
        return NULL;
    PyObject *previous = PyObject_GetAttr(local, str_outgoing);
    if (previous == NULL || PyObject_SetAttr(local, str_outgoing, fds) < 0) {
        Py_XDECREF(previous);
        Py_DECREF(fds);
        return NULL;
    }
    PyObject *args[2] = {value, protocol};
    PyObject *body = PyObject_Vectorcall(dumps, args, 2, NULL);
    PyObject *exc = PyErr_GetRaisedException();
    int restored = PyObject_SetAttr(local, str_outgoing, previous);
    Py_DECREF(previous);
    if (restored < 0) { /* (a thread-local's store fails only without memory) */
        Py_XDECREF(exc);
        Py_XDECREF(body);
        close_listed(fds);
        unnote(fds);
        Py_DECREF(fds);
        return NULL;
    }
    if (exc != NULL) {
        close_listed(fds);
        unnote(fds);
        Py_DECREF(fds);
        if (PyErr_GivenExceptionMatches(exc, PyExc_AttributeError)) {
            Py_DECREF(exc);
            return NULL;
        }
        PyErr_SetRaisedException(exc);
        return NULL;
    }
    *carried = fds;
    return body;
}

/* Write all of ``data`` into ``fd`` (a memfd of our own: the GIL may be let go meanwhile). */
static int
write_all(int fd, const char *data, Py_ssize_t size, int let_go_of_the_gil)
{
    while (size > 0) {
        ssize_t n;
        if (let_go_of_the_gil) {
            Py_BEGIN_ALLOW_THREADS
            n = write(fd, data, (size_t)size);
            Py_END_ALLOW_THREADS
        }
        else
            n = write(fd, data, (size_t)size);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            return -1;
        }
        data += n;
        size -= n;
    }
    return 0;
}

/* One non-blocking attempt to send ``body`` as ``_wire.send`` sends it, with the fds of the
 * handles inside it (``carried``, a list the caller closes afterwards): whether it was sent. */
/* Whether the receivers of a ring channel may be there: a push makes no system call that would
 * say they are gone, so the kernel is asked when a receiver's close bumped the epoch, or
 * ``LOOK_EVERY`` seconds went by (``_handles._try_push``, whose bookkeeping in the endpoint this
 * shares). 0: gone, or the look failed (the pure send looks again and says so). */
static int
fresh(PyObject *endpoint, Ring *ring, int fd)
{
    PyObject *epoch = SLOT(endpoint, off_ring_epoch), *looked = SLOT(endpoint, off_ring_looked);
    if (epoch == NULL || looked == NULL || !PyLong_CheckExact(epoch) || !PyFloat_CheckExact(looked))
        return 0;
    long long seen = PyLong_AsLongLong(epoch);
    if (seen == -1 && PyErr_Occurred()) {
        PyErr_Clear();
        return 0;
    }
    uint64_t now_epoch = atomic_load(&ring->header->epoch);
    struct timespec now; /* (time.monotonic's clock) */
    clock_gettime(CLOCK_MONOTONIC, &now);
    double at = (double)now.tv_sec + (double)now.tv_nsec * 1e-9;
    if (seen >= 0 && (uint64_t)seen == now_epoch && at - PyFloat_AS_DOUBLE(looked) < LOOK_EVERY)
        return 1;
    struct pollfd look = {.fd = fd, .events = POLLIN};
    if (poll(&look, 1, 0) < 0 || (look.revents & (POLLHUP | POLLERR | POLLNVAL)))
        return 0;
    /* (an int or a float runs no Python code as it is made or freed) */
    PyObject *new_epoch = PyLong_FromUnsignedLongLong(now_epoch), *new_looked = PyFloat_FromDouble(at);
    if (new_epoch == NULL || new_looked == NULL) {
        Py_XDECREF(new_epoch);
        Py_XDECREF(new_looked);
        PyErr_Clear();
        return 0;
    }
    Py_SETREF(SLOT(endpoint, off_ring_epoch), new_epoch);
    Py_SETREF(SLOT(endpoint, off_ring_looked), new_looked);
    return 1;
}

/* Push a record (``head`` then ``data``) and wake a waiting receiver: 1; 0 if the ring has no
 * room for it; -1 if the lock is busy (the pure send waits for it, letting the GIL go). */
static int
ring_push(Ring *ring, const void *head, Py_ssize_t head_length, const char *data, Py_ssize_t length,
          int fd)
{
    if (!ring_trylock_briefly(ring, BRIEFLY))
        return -1;
    int written = write_record2(ring->header, ring->buffer, KIND_PLAIN, head, head_length, data, length);
    ring_unlock(ring);
    if (written)
        wake_sleepers(ring->header, fd);
    return written;
}

static int
send_body(PyObject *sender, PyObject *body, PyObject *carried)
{
    char *data = PyBytes_AS_STRING(body);
    Py_ssize_t size = PyBytes_GET_SIZE(body), handles = PyList_GET_SIZE(carried);
    if (handles > MAX_FDS - 2) /* (the pure send says so: ValueError) */
        return 0;
    unsigned char header[HEADER + 8] = {0};
    struct iovec iov[2];
    struct msghdr msg;
    memset(&msg, 0, sizeof msg);
    int memfd = -1, fds[MAX_FDS], nfds = 0;
    union fds_space control;
    if (size > inline_max) {
        memfd = memfd_create("mpsc-message", MFD_CLOEXEC);
        if (memfd < 0)
            return 0;
        /* (The GIL is let go for the copy unless handles' fds are in hand: a fork by another
         * thread meanwhile would copy them into a child that never closes them.) */
        if (write_all(memfd, data, size, handles == 0) < 0) {
            close(memfd);
            return 0;
        }
        uint64_t length = (uint64_t)size; /* _wire._LENGTH: little-endian */
        header[0] = LARGE;
        for (int i = 0; i < 8; i++)
            header[HEADER + i] = (unsigned char)(length >> (8 * i));
        iov[0].iov_base = header;
        iov[0].iov_len = HEADER + 8;
        msg.msg_iovlen = 1;
        fds[nfds++] = memfd;
    }
    else {
        iov[0].iov_base = header;
        iov[0].iov_len = HEADER;
        iov[1].iov_base = data;
        iov[1].iov_len = (size_t)size;
        msg.msg_iovlen = 2;
    }
    for (Py_ssize_t i = 0; i < handles; i++) {
        long fd = PyLong_AsLong(PyList_GET_ITEM(carried, i));
        if (fd < 0 || fd > INT32_MAX) {
            PyErr_Clear();
            if (memfd >= 0)
                close(memfd);
            return 0;
        }
        fds[nfds++] = (int)fd;
    }
    attach_fds(&msg, &control, fds, nfds);
    msg.msg_iov = iov;
    /* The endpoint is looked at again: the pickling ran Python code, and the memfd's write may
     * have let the GIL go. From here to the end of sendmsg nothing lets it go. */
    ssize_t sent = -1;
    Use use;
    if (usable(SLOT(sender, off_ep), &use)) {
        if (use.ring != NULL) {
            /* A plain record, or (fds, or a large one with no room) a marked datagram, which
             * needs no WAKE: it makes the socket readable itself. A busy lock, a full ring, a
             * full socket: the pure send, which waits. */
            int pushed = 0;
            if (fresh(SLOT(sender, off_ep), use.ring, use.fd)) {
                if (nfds == 0 && (pushed = ring_push(use.ring, header, HEADER, data, size, use.fd)) > 0)
                    sent = size;
                else if ((nfds > 0 || (pushed == 0 && marked_when_full(use.ring->header, HEADER + size)))
                         && ring_trylock_briefly(use.ring, BRIEFLY)) {
                    sent = send_marked_locked(use.ring->header, use.ring->buffer, use.fd, iov,
                                              (int)msg.msg_iovlen, fds, nfds) > 0 ? size : -1;
                    ring_unlock(use.ring);
                }
            }
        }
        else {
            char credit;
            if (use.bounded)
                count(use.takes); /* (before the credit may be taken: see _ledger) */
            if (!use.bounded || read(use.credit_r, &credit, 1) == 1) {
                sent = sendmsg(use.fd, &msg, MSG_DONTWAIT | MSG_NOSIGNAL);
                if (sent < 0 && use.bounded)
                    give_credit(use.credit_w);
            }
            if (use.bounded)
                count(use.gives); /* (the credit is in the socket, back in the pipe, or was not taken) */
        }
        let_go(&use);
    }
    if (memfd >= 0)
        close(memfd);
    return sent >= 0;
}

/* ``sender._sent = value``: sends, or raises Undecided (nothing was sent), or raises what the
 * value's pickling raised (nothing was sent). */
static int
sender_set_sent(PyObject *self, PyObject *value, void *closure)
{
    if (value == NULL) {
        PyErr_SetString(PyExc_AttributeError, "_sent cannot be deleted");
        return -1;
    }
    Use use;
    if (!usable(SLOT(self, off_ep), &use)) {
        PyErr_SetNone(undecided);
        return -1;
    }
    let_go(&use);
    PyObject *carried = NULL;
    PyObject *body = pickled(value, &carried);
    if (body == NULL) {
        if (!PyErr_Occurred())
            PyErr_SetNone(undecided);
        return -1;
    }
    int sent = send_body(self, body, carried);
    int handles = PyList_GET_SIZE(carried) > 0;
    close_listed(carried); /* (sent: the kernel holds copies in flight; else not needed) */
    if (handles)
        unnote(carried);
    Py_DECREF(carried);
    if (sent) {
        Py_DECREF(body);
        return 0;
    }
    /* A full buffer, no free slot, a closed handle, no receiver left: the pure code sends the
     * pickle again (or, one with handles inside, pickles it again: their fds are closed), and
     * waits or raises as it does. */
    if (handles)
        PyErr_SetNone(undecided);
    else
        PyErr_SetObject(undecided, body);
    Py_DECREF(body);
    return -1;
}

/* _wire.RECV_SIZE. Used only while the GIL is held, and copied out before any Python code can
 * run (which could receive into it). */
static char datagram[HEADER + 65536];

/* Close the fds a datagram carried (what could not be handed on). */
static void
close_carried(struct msghdr *msg)
{
    for (struct cmsghdr *c = CMSG_FIRSTHDR(msg); c != NULL; c = CMSG_NXTHDR(msg, c)) {
        if (c->cmsg_level != SOL_SOCKET || c->cmsg_type != SCM_RIGHTS)
            continue;
        size_t length = c->cmsg_len - CMSG_LEN(0);
        for (size_t i = 0; i + sizeof(int) <= length; i += sizeof(int)) {
            int fd;
            memcpy(&fd, CMSG_DATA(c) + i, sizeof fd);
            close(fd);
        }
    }
}

/* A datagram as ``socket.recvmsg`` returns it: (data, ancillary, flags, address), from ``data``
 * (a copy of the buffer, made before anything else could run: see ``datagram``) and the
 * control messages in ``msg``. Steals ``data``; the fds the datagram carries are closed if this
 * fails. */
static PyObject *
as_recvmsg(PyObject *data, struct msghdr *msg)
{
    if (data == NULL) {
        close_carried(msg);
        return NULL;
    }
    PyObject *ancillary = PyList_New(0);
    for (struct cmsghdr *c = CMSG_FIRSTHDR(msg); ancillary != NULL && c != NULL;
         c = CMSG_NXTHDR(msg, c)) {
        PyObject *item = Py_BuildValue("(iiy#)", c->cmsg_level, c->cmsg_type,
                                       (char *)CMSG_DATA(c), (Py_ssize_t)(c->cmsg_len - CMSG_LEN(0)));
        if (item == NULL || PyList_Append(ancillary, item) < 0)
            Py_CLEAR(ancillary);
        Py_XDECREF(item);
    }
    PyObject *raw = ancillary == NULL
                        ? NULL
                        : Py_BuildValue("(OOiO)", data, ancillary, msg->msg_flags, Py_None);
    Py_XDECREF(ancillary);
    Py_DECREF(data);
    if (raw == NULL)
        close_carried(msg);
    return raw;
}

/* Close the fds a datagram built by ``as_recvmsg`` carries. */
static void
close_raw_fds(PyObject *raw)
{
    PyObject *ancillary = PyTuple_GET_ITEM(raw, 1);
    for (Py_ssize_t i = 0; i < PyList_GET_SIZE(ancillary); i++) {
        PyObject *item = PyList_GET_ITEM(ancillary, i);
        PyObject *payload = PyTuple_GET_ITEM(item, 2);
        if (PyLong_AsLong(PyTuple_GET_ITEM(item, 0)) != SOL_SOCKET
            || PyLong_AsLong(PyTuple_GET_ITEM(item, 1)) != SCM_RIGHTS)
            continue;
        for (Py_ssize_t at = 0; at + (Py_ssize_t)sizeof(int) <= PyBytes_GET_SIZE(payload); at += sizeof(int)) {
            int fd;
            memcpy(&fd, PyBytes_AS_STRING(payload) + at, sizeof fd);
            close(fd);
        }
    }
}

/* The pure code finishes the receive of ``raw`` (``_handles._finish_taken``). It takes the
 * datagram from a one-item list as its first step; an exception landing before that leaves it
 * there, and it is called again with that exception, which it raises once the receive has
 * returned (as its own receive does with one that lands after its datagram is taken). Steals
 * ``raw`` and ``landed``. */
#define TRIES 100 /* a bound, not a count anything reaches: only interrupts call again */
static PyObject *
finished(PyObject *endpoint, PyObject *raw, PyObject *landed)
{
    /* Whether ``landed`` came out of the value's own code (a try of its unpickling is spent),
     * not before ``_finish_taken`` took the datagram (then it is only raised after). */
    PyObject *spent = landed == NULL ? Py_False : Py_True;
    PyObject *holder = PyList_New(1);
    if (holder == NULL) {
        Py_DECREF(raw);
        Py_XDECREF(landed);
        return NULL;
    }
    PyList_SET_ITEM(holder, 0, raw);
    PyObject *result = NULL;
    for (int tries = 0; tries < TRIES; tries++) {
        PyObject *args[4] = {endpoint, holder, landed == NULL ? Py_None : landed, spent};
        result = PyObject_Vectorcall(finish_taken, args, 4, NULL);
        if (result != NULL || PyList_GET_SIZE(holder) == 0)
            break;
        PyObject *again = PyErr_GetRaisedException();
        if (landed != NULL)
            PyException_SetContext(again, landed); /* (steals landed) */
        landed = again;
    }
    if (result == NULL && landed != NULL && PyList_GET_SIZE(holder) != 0) {
        /* An interrupt landed as every call started: the message is lost (its fds closed), and
         * the last interrupt raised. (A bound no test reaches: it takes TRIES in a row.) */
        close_raw_fds(PyList_GET_ITEM(holder, 0));
        PyErr_SetRaisedException(landed);
        landed = NULL;
    }
    Py_XDECREF(landed);
    Py_DECREF(holder);
    return result;
}

/* The value of a plain message's ``body`` (its pickle), unpickled here; what an interrupt cuts
 * short goes to the pure code (see ``finished``). Steals ``endpoint`` and ``body``. */
static PyObject *
unpickled(PyObject *endpoint, PyObject *body)
{
    PyObject *value;
    value = PyObject_CallOneArg(loads, body);
    if (value == NULL && PyErr_ExceptionMatches(PyExc_StopIteration)) {
        /* (as _wire._stopped: it must not end the caller's iteration; the pure code cannot see
         * the StopIteration itself, which its for loop swallows, so neither says more) */
        PyErr_Clear();
        PyErr_SetString(PyExc_RuntimeError, "unpickling the message raised StopIteration");
    }
    if (value != NULL || PyErr_ExceptionMatches(PyExc_Exception)) {
        Py_DECREF(body);
        Py_DECREF(endpoint);
        return value; /* the value, or its own unpickling error (the message is consumed) */
    }
    /* A KeyboardInterrupt (or another BaseException) landed in the value's own Python code:
     * the pure code unpickles it again, as it does its own (``_wire.settle``). The datagram is
     * rebuilt from the body (the buffer may have served a receive made by that code). */
    PyObject *landed = PyErr_GetRaisedException();
    PyObject *data = PyBytes_FromStringAndSize(NULL, HEADER + PyBytes_GET_SIZE(body));
    if (data != NULL) {
        memset(PyBytes_AS_STRING(data), 0, HEADER);
        memcpy(PyBytes_AS_STRING(data) + HEADER, PyBytes_AS_STRING(body), PyBytes_GET_SIZE(body));
    }
    Py_DECREF(body);
    PyObject *raw = data == NULL ? NULL : Py_BuildValue("(N[]iO)", data, 0, Py_None);
    if (raw == NULL) {
        Py_DECREF(landed);
        Py_DECREF(endpoint);
        return NULL;
    }
    value = finished(endpoint, raw, landed);
    Py_DECREF(endpoint);
    return value;
}

/* The ring's receive step: a plain record at the ring's head, taken and unpickled here; NOTHING
 * if the ring is empty, its lock busy, or its head a marker (the pure code takes those). */
/* Nanoseconds on time.monotonic's clock. */
static int64_t
monotonic_ns(void)
{
    struct timespec now;
    clock_gettime(CLOCK_MONOTONIC, &now);
    return (int64_t)now.tv_sec * 1000000000 + now.tv_nsec;
}

/* Look at an empty ring for up to ``spin_ns`` for a record to come: a receive that would wait
 * stays in this step (the pure code's wait costs it microseconds each time the ring runs dry).
 * The GIL is kept: no other thread can close the ring meanwhile (see ``Steps``). */
static void
spin_on(Header *h, int64_t spin_ns)
{
    if (spin_ns <= 0 || records_published(h))
        return;
    int64_t end = monotonic_ns() + spin_ns;
    for (unsigned i = 1; !records_published(h); i++) {
        if (i % 64 == 0 && monotonic_ns() >= end)
            return;
#if defined(__x86_64__) || defined(__i386__)
        __builtin_ia32_pause();
#endif
    }
}

static PyObject *
ring_receive(PyObject *endpoint, Use *use, int64_t spin_ns)
{
    Ring *ring = use->ring;
    Header *h = ring->header;
    PyObject *body = NULL;
    spin_on(h, spin_ns);
    if (records_published(h) && ring_trylock_briefly(ring, BRIEFLY)) {
        uint64_t size = h->size;
        while (h->head != h->tail) {
            uint64_t at = h->head & (size - 1);
            if (size - at < 8) {
                h->head += size - at;
                continue;
            }
            uint32_t rec[2];
            memcpy(rec, ring->buffer + at, 8);
            if (rec[1] == KIND_WRAP) {
                h->head += 8 + (uint64_t)rec[0];
                continue;
            }
            /* (a bytes object runs no Python as it is made: nothing else touches the ring) */
            if (rec[1] == KIND_PLAIN && rec[0] >= HEADER && ring->buffer[at + 8] == 0) {
                body = PyBytes_FromStringAndSize((const char *)ring->buffer + at + 8 + HEADER,
                                                 rec[0] - HEADER);
                if (body != NULL) {
                    h->head += (uint64_t)align8(8 + rec[0]); /* freed last */
                }
            }
            break;
        }
        int room = room_due(h);
        ring_unlock(ring);
        if (room)
            send_room(h, use->fd);
    }
    let_go(use);
    if (body == NULL) {
        Py_DECREF(endpoint);
        return PyErr_Occurred() ? NULL : Py_NewRef(nothing);
    }
    return unpickled(endpoint, body);
}

static PyObject *
receive(PyObject *receiver, int64_t spin_ns)
{
    PyObject *endpoint = SLOT(receiver, off_ep);
    Use use;
    if (!usable(endpoint, &use))
        return Py_NewRef(nothing);
    Py_INCREF(endpoint);
    if (use.ring != NULL)
        return ring_receive(endpoint, &use, spin_ns);
    union fds_space control;
    struct iovec iov = {.iov_base = datagram, .iov_len = sizeof datagram};
    struct msghdr msg;
    memset(&msg, 0, sizeof msg);
    msg.msg_iov = &iov;
    msg.msg_iovlen = 1;
    msg.msg_control = control.buf;
    msg.msg_controllen = sizeof control.buf;
    if (use.bounded)
        count(use.takes); /* (before the message's credit may be taken: see _ledger) */
    ssize_t size = recvmsg(use.fd, &msg, MSG_DONTWAIT | MSG_CMSG_CLOEXEC);
    if (size <= 0) { /* nothing there, or the end (which stays: the pure code reads it again) */
        if (use.bounded)
            count(use.gives);
        let_go(&use);
        Py_DECREF(endpoint);
        return Py_NewRef(nothing);
    }
    if (use.bounded) { /* the message's credit back first thing, as _wire.settle gives it */
        give_credit(use.credit_w);
        count(use.gives);
    }
    let_go(&use); /* (before anything allocates: a finalizer run by a collection could close it) */
    /* The buffer is copied by the first allocation, which runs no Python code (a bytes object
     * is not tracked by the collector): any later one may start a collection whose finalizers
     * receive into the buffer, or let the GIL go to a thread that does. */
    PyObject *value;
    if (msg.msg_controllen != 0 || (msg.msg_flags & (MSG_TRUNC | MSG_CTRUNC)) || datagram[0] != 0
        || size < HEADER) {
        PyObject *raw = as_recvmsg(PyBytes_FromStringAndSize(datagram, size), &msg);
        value = raw == NULL ? NULL : finished(endpoint, raw, NULL);
        Py_DECREF(endpoint);
        return value;
    }
    PyObject *body = PyBytes_FromStringAndSize(datagram + HEADER, size - HEADER);
    if (body == NULL) {
        Py_DECREF(endpoint);
        return NULL;
    }
    return unpickled(endpoint, body);
}

#endif /* STEPS_BUILT */

/* ``STEPS[rx]``: receive from ``rx`` if a datagram is there now, else NOTHING (also when the
 * pure code must decide). One subscript, with no check point in it and nothing kept between two
 * steps (a tracer's Python code can run between two lines: see ``mpsc/_accel.c``).
 * ``Steps(spin)``: a receive from a ring channel whose ring is empty first looks at it for up
 * to ``spin`` seconds (for the receives that would wait: 0 for the others). */
typedef struct {
    PyObject_HEAD
    int64_t spin_ns;
} Steps;

static PyObject *
steps_subscript(PyObject *self, PyObject *receiver)
{
    if (!ready_to_use || !PyObject_TypeCheck(receiver, receiver_type)) {
        PyErr_SetString(PyExc_TypeError, "STEPS[...] takes an mpsc.process Receiver");
        return NULL;
    }
#if STEPS_BUILT
    return receive(receiver, ((Steps *)self)->spin_ns);
#else
    PyErr_SetString(PyExc_RuntimeError, "mpsc.process._steps is not built for this interpreter");
    return NULL;
#endif
}

static int
steps_init(Steps *self, PyObject *args, PyObject *kwargs)
{
    double spin = 0.0;
    static char *names[] = {"spin", NULL};
    if (!PyArg_ParseTupleAndKeywords(args, kwargs, "|d:Steps", names, &spin))
        return -1;
    if (!(spin >= 0.0 && spin <= 0.01)) {
        PyErr_SetString(PyExc_ValueError, "Steps(spin): spin must be within 0 and 0.01 seconds");
        return -1;
    }
    self->spin_ns = (int64_t)(spin * 1e9);
    return 0;
}

static PyMappingMethods steps_mapping = {.mp_subscript = steps_subscript};

static PyTypeObject StepsType = {
    PyVarObject_HEAD_INIT(NULL, 0)
    .tp_name = "mpsc.process._steps.Steps",
    .tp_doc = "Steps(spin=0): the process Receiver's step, reached through a subscript (see _steps.c).",
    .tp_basicsize = sizeof(Steps),
    .tp_flags = Py_TPFLAGS_DEFAULT,
    .tp_new = PyType_GenericNew,
    .tp_init = (initproc)steps_init,
    .tp_as_mapping = &steps_mapping,
};

#if STEPS_BUILT
static PyGetSetDef sent_def = {
    "_sent", NULL, sender_set_sent,
    "storing a value sends it if that needs no waiting, else raises Undecided (see _steps.c)",
    NULL};
#endif

#if STEPS_BUILT
static int
take(PyObject **where, PyObject *value)
{
    Py_XSETREF(*where, Py_NewRef(value));
    return 0;
}
#endif

/* ``setup(Sender, Receiver, Endpoint, Ledger, ROWS, NOTHING, local, finish_taken, inline_max[, Ring, noted])``:
 * True once the steps are ready (``install`` may be called), False where they are not built (a free-threaded
 * build, not Linux) or in a second interpreter. */
static PyObject *
setup(PyObject *module, PyObject *args)
{
    PyObject *sender, *receiver, *endpoint, *ledger, *nothing_, *local_, *finish, *ring = Py_None;
    PyObject *noted_ = NULL;
    Py_ssize_t max;
    int rows;
    if (!PyArg_ParseTuple(args, "O!O!O!O!iOOOn|OO!:setup", &PyType_Type, &sender, &PyType_Type,
                          &receiver, &PyType_Type, &endpoint, &PyType_Type, &ledger, &rows,
                          &nothing_, &local_, &finish, &max, &ring, &PyDict_Type, &noted_))
        return NULL;
#if STEPS_BUILT
    static PyInterpreterState *owner;
    PyInterpreterState *here = PyInterpreterState_Get();
    if (owner != NULL && owner != here)
        Py_RETURN_FALSE;
    if (max <= 0 || max > 65536) {
        PyErr_SetString(PyExc_ValueError, "setup(): inline_max must fit the receive buffer");
        return NULL;
    }
    if (slot_offset(sender, "_ep", &off_ep) < 0 || slot_offset(endpoint, "closed", &off_closed) < 0
        || slot_offset(endpoint, "capacity", &off_capacity) < 0
        || slot_offset(endpoint, "ring", &off_ring) < 0
        || slot_offset(endpoint, "ring_epoch", &off_ring_epoch) < 0
        || slot_offset(endpoint, "ring_looked", &off_ring_looked) < 0
        || slot_offset(endpoint, "fd", &off_fd) < 0
        || slot_offset(endpoint, "credit_r", &off_credit_r) < 0
        || slot_offset(endpoint, "credit_w", &off_credit_w) < 0
        || slot_offset(endpoint, "ledger", &off_ledger) < 0 || slot_offset(ledger, "row", &off_row) < 0
        || slot_offset(ledger, "view", &off_view) < 0)
        return NULL;
    if (rows <= 0) {
        PyErr_SetString(PyExc_ValueError, "setup(): a ledger has rows");
        return NULL;
    }
    Py_ssize_t off_receiver_ep;
    if (slot_offset(receiver, "_ep", &off_receiver_ep) < 0)
        return NULL;
    if (off_receiver_ep != off_ep) {
        PyErr_SetString(PyExc_TypeError, "setup(): Sender._ep and Receiver._ep differ");
        return NULL;
    }
    PyObject *pickle = PyImport_ImportModule("pickle");
    if (pickle == NULL)
        return NULL;
    PyObject *d = PyObject_GetAttrString(pickle, "dumps"), *l = PyObject_GetAttrString(pickle, "loads");
    Py_DECREF(pickle);
    if (d == NULL || l == NULL) {
        Py_XDECREF(d);
        Py_XDECREF(l);
        return NULL;
    }
    Py_XSETREF(dumps, d);
    Py_XSETREF(loads, l);
    take((PyObject **)&sender_type, sender);
    take((PyObject **)&receiver_type, receiver);
    take((PyObject **)&endpoint_type, endpoint);
    take((PyObject **)&ledger_type, ledger);
    if (ring != Py_None) {
        if (!PyType_Check(ring) || ((PyTypeObject *)ring)->tp_basicsize != (Py_ssize_t)sizeof(Ring)) {
            PyErr_SetString(PyExc_TypeError, "setup(): ring must be mpsc.process._ring.Ring");
            return NULL;
        }
        take((PyObject **)&ring_type, ring);
    }
    ledger_rows = rows;
    take(&nothing, nothing_);
    take(&local, local_);
    take(&finish_taken, finish);
    if (noted_ != NULL)
        take(&noted, noted_);
    inline_max = max;
    owner = here;
    ready_to_use = 1;
    Py_RETURN_TRUE;
#else
    Py_RETURN_FALSE;
#endif
}

/* ``install(Sender)``: ``Sender._sent``; the switch back to the pure methods removes it. */
static PyObject *
install(PyObject *module, PyObject *sender)
{
#if STEPS_BUILT
    if (!ready_to_use || (PyTypeObject *)sender != sender_type) {
        PyErr_SetString(PyExc_RuntimeError, "install() needs the Sender setup() was given");
        return NULL;
    }
    PyObject *descr = PyDescr_NewGetSet(sender_type, &sent_def);
    if (descr == NULL || PyObject_SetAttrString(sender, "_sent", descr) < 0) {
        Py_XDECREF(descr);
        return NULL;
    }
    Py_DECREF(descr);
    Py_RETURN_NONE;
#else
    PyErr_SetString(PyExc_RuntimeError, "mpsc.process._steps is not built for this interpreter");
    return NULL;
#endif
}

static PyMethodDef methods[] = {
    {"setup", setup, METH_VARARGS,
     "setup(Sender, Receiver, Endpoint, Ledger, ROWS, NOTHING, local, finish_taken, inline_max[, Ring, noted]) "
     "-> bool: "
     "whether the "
     "steps can be used here."},
    {"install", install, METH_O, "install(Sender): add Sender._sent."},
    {NULL},
};

static struct PyModuleDef module_def = {
    PyModuleDef_HEAD_INIT,
    .m_name = "mpsc.process._steps",
    .m_doc = "The common case of a process channel's send and receive (see _steps.c).",
    .m_size = -1,
    .m_methods = methods,
};

PyMODINIT_FUNC
PyInit__steps(void)
{
    if (PyType_Ready(&StepsType) < 0)
        return NULL;
    PyObject *m = PyModule_Create(&module_def);
    if (m == NULL)
        return NULL;
#ifdef Py_GIL_DISABLED
    /* (Nothing here runs there: setup() says so. Importing it must not turn the GIL on.) */
    if (PyUnstable_Module_SetGIL(m, Py_MOD_GIL_NOT_USED) < 0) {
        Py_DECREF(m);
        return NULL;
    }
#endif
    undecided = PyErr_NewExceptionWithDoc(
        "mpsc.process._steps.Undecided",
        "Storing Sender._sent left the send to the pure code (nothing happened).", NULL, NULL);
    if (undecided == NULL || PyModule_AddObjectRef(m, "Undecided", undecided) < 0
        || PyModule_AddObjectRef(m, "Steps", (PyObject *)&StepsType) < 0) {
        Py_DECREF(m);
        return NULL;
    }
#define NAME(var, text)                                                                            \
    if ((var = PyUnicode_InternFromString(text)) == NULL) {                                        \
        Py_DECREF(m);                                                                              \
        return NULL;                                                                               \
    }
    NAME(str_outgoing, "outgoing");
    if ((protocol = PyLong_FromLong(5)) == NULL) {
        Py_DECREF(m);
        return NULL;
    }
    return m;
}
