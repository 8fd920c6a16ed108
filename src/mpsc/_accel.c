/* mpsc._accel: the common cases of send, receive and select, in C.
 *
 * Two parts: the handles' own calls (``Sender._sent``, ``STEPS[rx]``, the iteration slot;
 * see "the handles' own calls" below), and the try pass of select. ``_implementation`` installs
 * both, or neither (``MPSC_PURE``); the pure-Python code is the reference for each.
 *
 * A select of which one operation is ready completes here: check the operations, look at every
 * channel, draw one ready operation uniformly, and try it. Operations on buffered channels
 * (unbounded, bounded) are looked at and tried inline, with the steps of ``Unbounded.poll`` and
 * ``Unbounded.offer`` (``_buffered.py``); others (rendezvous, timers) through their flavour's own
 * ``may_recv``/``may_send`` and ``poll``/``offer``, as ``_ops.try_ops`` does. What the pass
 * cannot decide (a closed handle, a bad timeout, nothing ready, a peer parked on the other side)
 * leaves every channel untouched and returns None: the pure-Python select decides, and its
 * results, errors and waiting are the reference; this pass only ever does what it would have
 * done. ``_select.select`` reaches the pass through the attributes of a ``SelectPass`` (see
 * there), because a call into C is a point where an interrupt can drop its result.
 *
 * Nothing here leans on the GIL. A look is a hint, as in the pure pass: the inline try copes
 * with the value or the permit being gone by then (another thread took it), exactly as the
 * Python steps do, and the lock-free steps keep ``_buffered.py``'s ordering argument because
 * they are the same deque calls in the same order. Reads of state other threads change
 * (``tx_gone``, ``rx_gone``, a deque's length, a handle's channel) are atomic on free-threaded
 * builds; a handle's channel is read as a new reference there (a close may drop it at once). A
 * handle closed by code run mid-pass (a flavour's method, a finalizer) is seen as the pure pass
 * sees it: each handle is checked as its operation is looked at.
 *
 * One interpreter: the classes it is given live in the interpreter that imported mpsc first; a
 * subinterpreter's ``setup`` is refused, and mpsc there runs the pure select.
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <stddef.h>
#include <stdint.h>
#include "_compat.h"


/* What ``setup`` is given: the classes and the layout of the slots the pass reads. */
static PyTypeObject *receiver_type, *sender_type, *chan_type, *unbounded_type, *bounded_type;
static PyObject *channel_error, *recv_error, *send_error, *nothing, *settle_and_raise_after,
    *closed_handle_error;
static PyObject *no_deque; /* ``_core.NO_DEQUE``: the buffer of a channel nothing was sent on */
static PyObject *deque_popleft, *deque_append, *deque_pop; /* the unbound deque methods */
static PyTypeObject *deque_type;
static PyObject *str_after_send, *str_after_recv, *str_index, *str_may_recv, *str_may_send,
    *str_poll, *str_offer, *str_chan, *str_withdraw;
static Py_ssize_t off_ended, off_handle_chan, off_buf, off_slots, off_recvq, off_sendq, off_tx_gone,
    off_rx_gone;
/* Set once, by ``setup`` during mpsc's import and before ``mpsc.select`` exists; read by every
 * select, from any thread (an atomic load on free-threaded builds, see LOAD_INT). ``owner`` is
 * read only by ``setup``, which runs under the import lock. */
static int ready_to_use;
static PyInterpreterState *owner; /* the interpreter whose classes these are */

#define SLOT(obj, offset) (*(PyObject **)((char *)(obj) + (offset)))

/* Reads of what other threads change: a flag (True or False, immortal), a deque's length, a
 * channel's buffer or permits (changed once, from the shared ``NO_DEQUE`` to its own, which the
 * channel then keeps: a borrowed reference stays good). Sequentially consistent, as Python's own reads of them are on free-threaded builds: the
 * ordering argument (write your deque, then read the other side's) needs that on weakly ordered
 * CPUs, and on x86 it costs nothing. */
#ifdef Py_GIL_DISABLED
#define FLAG(chan, offset) ((PyObject *)_Py_atomic_load_ptr(&SLOT(chan, offset)))
#define LENGTH(deque) _Py_atomic_load_ssize(&((PyVarObject *)(deque))->ob_size)
#define PER_THREAD _Thread_local
#define LOAD_INT(var) _Py_atomic_load_int(&(var))
#define STORE_INT(var, value) _Py_atomic_store_int(&(var), (value))
#define LOAD_U64(var) _Py_atomic_load_uint64(&(var))
#define STORE_U64(var, value) _Py_atomic_store_uint64(&(var), (value))
#else
#define FLAG(chan, offset) SLOT(chan, offset)
#define LENGTH(deque) Py_SIZE(deque)
#define PER_THREAD
#define LOAD_INT(var) (var)
#define STORE_INT(var, value) ((var) = (value))
#define LOAD_U64(var) (var)
#define STORE_U64(var, value) ((var) = (value))
#endif

/* The channel a handle is on now, as a new reference; NULL (no error set) if it has none. */
static PyObject *
channel_of(PyObject *handle)
{
#ifdef Py_GIL_DISABLED
    /* A close in another thread may replace and release it at any instant: the attribute
     * read takes the reference safely. */
    PyObject *chan = PyObject_GetAttr(handle, str_chan);
    if (chan == NULL)
        PyErr_Clear();
    return chan;
#else
    return Py_XNewRef(SLOT(handle, off_handle_chan));
#endif
}

/* Whether ``handle`` is still open on ``chan`` (not closed, or moved, since it was read). */
static int
still_on(PyObject *handle, PyObject *chan)
{
    PyObject *now = channel_of(handle);
    Py_XDECREF(now); /* only compared: the caller holds ``chan`` */
    return now == chan;
}

/* xorshift64*, one state per thread (one in all under the GIL): the draw among ready
 * operations. A state starts from the seed the last ``seed()`` gave, mixed with where the state
 * lives (each thread's differs). ``seed()`` runs at import and in a forked child (one thread
 * then), but other threads may draw meanwhile: the seed is read and written atomically without
 * the GIL, and a thread that reads a new generation with the old base (or the reverse) only
 * draws from another good seed. */
static uint64_t seed_base = 0x9E3779B97F4A7C15ull, seed_generation = 1;
static PER_THREAD uint64_t rng_state, rng_generation;

static Py_ssize_t
draw(Py_ssize_t n)
{
    uint64_t x = rng_state;
    uint64_t generation = LOAD_U64(seed_generation);
    if (rng_generation != generation) {
        x = LOAD_U64(seed_base) ^ (uint64_t)(uintptr_t)&rng_state; /* splitmix64 of that */
        x = (x ^ (x >> 30)) * 0xBF58476D1CE4E5B9ull;
        x = (x ^ (x >> 27)) * 0x94D049BB133111EBull;
        x = (x ^ (x >> 31)) | 1; /* xorshift must not start at 0 */
        rng_generation = generation;
    }
    x ^= x >> 12;
    x ^= x << 25;
    x ^= x >> 27;
    rng_state = x;
    return (Py_ssize_t)(((x * 0x2545F4914F6CDD1Dull) >> 32) * (uint64_t)n >> 32);
}

/* One operation as the pass sees it. The channel is held for the pass (its handle may let go of
 * it: a close mid-pass); the other pointers are borrowed from the caller's arguments. */
typedef struct {
    PyObject *chan;
    PyObject *handle;    /* the Sender or Receiver: its close fails the select */
    PyObject *value;     /* what a send sends */
    PyObject *index;     /* the operation's index, as a Python int; NULL: its position */
    Py_ssize_t position; /* where it is in the call */
    int sending;
    int inline_ok; /* on a buffered channel: done here, as the handles' fast paths do it */
    int plain;     /* a handle's own call, not a select: a disconnection is left to the pure code */
} Op;

enum { UNDECIDED = 0, DONE = 1, FAILED = -1, NOT_READY = 2, NOT_DONE = 3 };

/* Whether ``chan`` is a channel at all (not the marker of a closed or moved handle), and
 * whether an operation on it can be done inline: a buffered channel, and for a send on a
 * bounded one, no permit to be made under its lock first. */
static int
classify(Op *op)
{
    PyObject *chan = op->chan;
    op->inline_ok = 0;
    if (Py_IS_TYPE(chan, unbounded_type) || Py_IS_TYPE(chan, bounded_type)) {
        if (!SLOT(chan, off_buf) || !SLOT(chan, off_slots) || !SLOT(chan, off_recvq)
            || !SLOT(chan, off_sendq) || !SLOT(chan, off_tx_gone) || !SLOT(chan, off_rx_gone)
            || !SLOT(chan, off_ended))
            return 0; /* never so for a channel mpsc made: leave it to the pure path */
        /* The deque methods are called unbound: a subclass's own (a test's white-box buffer)
         * would be passed by. Channels mpsc made have plain deques. */
        PyObject *slots = FLAG(chan, off_slots);
        if (!Py_IS_TYPE(FLAG(chan, off_buf), deque_type)
            || (slots != Py_None && !Py_IS_TYPE(slots, deque_type)))
            return 1;
        op->inline_ok = !op->sending || Py_IS_TYPE(chan, unbounded_type)
                        || LENGTH(FLAG(chan, off_slots)) > 0
                        || FLAG(chan, off_rx_gone) == Py_True;
        return 1;
    }
    return PyObject_TypeCheck(chan, chan_type);
}

/* Readiness, as ``may_recv``/``may_send``: 1 ready, 0 not, -1 error. An inline operation is
 * looked at here; any other asks its flavour (Python code, which may let other threads run). */
static int
ready(const Op *op, int *python_ran)
{
    PyObject *chan = op->chan;
    if (op->inline_ok) {
        if (!op->sending)
            return LENGTH(FLAG(chan, off_buf)) > 0 || FLAG(chan, off_tx_gone) == Py_True;
        return 1; /* classify saw room, no sender limit, or no receiver left */
    }
    *python_ran = 1;
    PyObject *answer = PyObject_CallMethodNoArgs(chan, op->sending ? str_may_send : str_may_recv);
    if (answer == NULL)
        return -1;
    int truth = PyObject_IsTrue(answer);
    Py_DECREF(answer);
    return truth;
}

/* The deque methods' C functions, called directly where their calling convention is the one
 * expected (METH_NOARGS for popleft and pop, METH_O for append): the same function the method
 * call would reach (on free-threaded builds, the one that takes the deque's critical section),
 * without the call's argument handling. NULL: called through the method object. */
static PyCFunction deque_popleft_fn, deque_pop_fn, deque_append_fn;

static PyCFunction
direct(PyObject *method, int flags)
{
    if (!Py_IS_TYPE(method, &PyMethodDescr_Type))
        return NULL;
    PyMethodDef *def = ((PyMethodDescrObject *)method)->d_method;
    return (def->ml_flags & ~METH_COEXIST) == flags ? def->ml_meth : NULL;
}

static PyObject *
call1(PyObject *method, PyObject *self)
{
    PyCFunction fn = method == deque_popleft ? deque_popleft_fn
                     : method == deque_pop   ? deque_pop_fn
                                             : NULL;
    if (fn != NULL)
        return fn(self, NULL);
    return PyObject_Vectorcall(method, &self, 1, NULL);
}

static int
call2(PyObject *method, PyObject *self, PyObject *arg)
{
    PyObject *r;
    if (method == deque_append && deque_append_fn != NULL)
        r = deque_append_fn(self, arg);
    else {
        PyObject *args[2] = {self, arg};
        r = PyObject_Vectorcall(method, args, 2, NULL);
    }
    if (r == NULL)
        return -1;
    Py_DECREF(r);
    return 0;
}

static int
settle(PyObject *chan, PyObject *name)
{
    PyObject *r = PyObject_CallMethodNoArgs(chan, name);
    if (r == NULL)
        return -1;
    Py_DECREF(r);
    return 0;
}

static PyObject *
index_of(const Op *op)
{
    return op->index ? Py_NewRef(op->index) : PyLong_FromSsize_t(op->position);
}

/* The ChannelError being raised (RecvError, SendError) gets the operation's ``.index``, as
 * ``_ops.try_once`` sets it; other exceptions pass unchanged. Returns FAILED. */
static int
failed(const Op *op)
{
    if (op->plain || !PyErr_ExceptionMatches(channel_error))
        return FAILED;
    PyObject *error = PyErr_GetRaisedException();
    PyObject *index = index_of(op);
    int set = index ? PyObject_SetAttr(error, str_index, index) : -1;
    Py_XDECREF(index);
    if (set < 0)
        Py_DECREF(error); /* the error of setting it is raised instead */
    else
        PyErr_SetRaisedException(error);
    return FAILED;
}

/* Raise a select's disconnection error, as the flavour's ``poll``/``offer`` would. */
static int
raise_disconnected(const Op *op)
{
    if (op->plain)
        return UNDECIDED; /* the flavour's own poll/offer raises it, as the pure handles do */
    PyObject *error = op->sending ? PyObject_CallOneArg(send_error, op->value)
                                  : PyObject_CallNoArgs(recv_error);
    if (error == NULL)
        return FAILED;
    PyErr_SetObject((PyObject *)Py_TYPE(error), error);
    Py_DECREF(error);
    return failed(op);
}

/* Whether the exception set is the IndexError of an empty deque (then cleared). */
static int
was_empty(void)
{
    if (!PyErr_ExceptionMatches(PyExc_IndexError))
        return 0;
    PyErr_Clear();
    return 1;
}

static int perform_by_flavour(const Op *op, PyObject **result);

/* After an inline operation took effect, a peer that parked meanwhile on the other side must be
 * woken, by Python code (``Chan.settle``) in which an exception may land (a signal handler's).
 * The operation happened, so it stands: ``_interrupts.settle_and_raise_after`` finishes the
 * settling and arms the exception to be raised once control is back in Python code. (Rare: the
 * pass leaves a channel with a parked peer to the pure code, see perform_inline; only a peer that
 * parks between that look and the operation gets here.) */
static void
settle_after_effect(PyObject *chan, PyObject *name)
{
    if (settle(chan, name) == 0)
        return;
    /* Another exception may land as settle_and_raise_after starts: it takes the place of the
     * first, and the call is made again. */
    PyObject *exc = PyErr_GetRaisedException();
    for (int attempt = 0; exc != NULL; attempt++) {
        PyObject *args[2] = {chan, exc};
        PyObject *r = PyObject_Vectorcall(settle_and_raise_after, args, 2, NULL);
        Py_DECREF(exc);
        if (r != NULL) {
            Py_DECREF(r);
            return;
        }
        if (attempt == 3) {
            PyErr_WriteUnraisable(settle_and_raise_after);
            return;
        }
        exc = PyErr_GetRaisedException();
    }
}

/* A receiver reports the end (``Chan.ended``, see ``Unbounded.poll``). */
static void
set_ended(PyObject *chan)
{
#ifdef Py_GIL_DISABLED
    PyObject *old = _Py_atomic_exchange_ptr(&SLOT(chan, off_ended), Py_NewRef(Py_True));
#else
    PyObject *old = SLOT(chan, off_ended);
    SLOT(chan, off_ended) = Py_NewRef(Py_True);
#endif
    Py_XDECREF(old);
}

/* ``chan.withdraw(value, out)``: 1 if it took the value back out, 0 if not, -1 on error. */
static int
withdraw(PyObject *chan, PyObject *value)
{
    PyObject *out = PyList_New(0);
    if (out == NULL)
        return -1;
    PyObject *args[3] = {chan, value, out};
    PyObject *r = PyObject_VectorcallMethod(str_withdraw, args, 3 | PY_VECTORCALL_ARGUMENTS_OFFSET, NULL);
    int withdrawn = r == NULL ? -1 : PyList_GET_SIZE(out) > 0;
    Py_XDECREF(r);
    Py_DECREF(out);
    return withdrawn;
}

/* Try one inline operation: the steps of ``Unbounded.poll`` and ``Unbounded.offer`` (which
 * ``Bounded`` shares), in the same order: DONE, NOT_DONE (nothing there any more), UNDECIDED
 * (for a select, a peer is parked on the other side: the pure code, whose Python frames can
 * hold back an exception until the select has returned, wakes it) or FAILED. A handle's plain
 * operation wakes the parked peer itself (``settle_after_effect``): an exception landing in
 * that Python code is raised after the handle's Python function has returned, as in the pure
 * ``offer``/``poll``, since nothing but its return follows the attribute that led here. */
static int
perform_inline(const Op *op, PyObject **result)
{
    PyObject *chan = op->chan;
    PyObject *buf = FLAG(chan, off_buf);
    PyObject *slots = FLAG(chan, off_slots);
    if (!op->sending) {
        if (FLAG(chan, off_ended) == Py_True) /* a receiver reported the end: final */
            return raise_disconnected(op);
        if (slots != Py_None && LENGTH(SLOT(chan, off_sendq)) > 0 && !op->plain)
            return UNDECIDED;
        PyObject *value = call1(deque_popleft, buf);
        if (value == NULL) {
            if (!was_empty())
                return FAILED;
            if (FLAG(chan, off_tx_gone) != Py_True)
                return NOT_DONE;
            value = call1(deque_popleft, buf); /* one sent just before the last sender left */
            if (value == NULL) {
                if (!was_empty())
                    return FAILED;
                set_ended(chan);
                return raise_disconnected(op);
            }
        }
        if (slots != Py_None) {
            if (call2(deque_append, slots, Py_True) < 0) {
                Py_DECREF(value);
                return FAILED;
            }
            if (LENGTH(SLOT(chan, off_sendq)) > 0)
                settle_after_effect(chan, str_after_recv);
        }
        *result = value;
        return DONE;
    }
    if (FLAG(chan, off_rx_gone) == Py_True)
        return raise_disconnected(op);
    if (LENGTH(SLOT(chan, off_recvq)) > 0 && !op->plain)
        return UNDECIDED;
    if (buf == no_deque) /* the first send: its flavour makes the channel's own buffer */
        return perform_by_flavour(op, result);
    if (slots != Py_None) {
        PyObject *permit = LENGTH(slots) > 0 ? call1(deque_pop, slots) : NULL;
        if (permit == NULL) {
            if (PyErr_Occurred() && !was_empty())
                return FAILED;
            /* Out of permits: whether more are to be made is decided under the lock. */
            return perform_by_flavour(op, result);
        }
        Py_DECREF(permit);
    }
    if (call2(deque_append, buf, op->value) < 0)
        return FAILED;
    if (FLAG(chan, off_tx_gone) == Py_True) {
        /* Our handle was closed (by another thread) as we sent, maybe after a receiver reported
         * the end: ``Unbounded.withdraw`` takes the value back out then, and the send did not
         * happen (as in ``Unbounded.offer``). */
        int withdrawn = withdraw(chan, op->value);
        if (withdrawn < 0)
            return FAILED;
        if (withdrawn) {
            PyErr_SetString(closed_handle_error,
                            "this handle was closed (by another thread) while it sent, after a "
                            "receiver had seen that every sender was gone: the value was not sent");
            return FAILED;
        }
    }
    if (LENGTH(SLOT(chan, off_recvq)) > 0 || FLAG(chan, off_rx_gone) == Py_True)
        settle_after_effect(chan, str_after_send);
    *result = Py_NewRef(Py_None);
    return DONE;
}

/* Try one operation through its flavour's ``poll``/``offer``, as ``_ops.try_once`` does:
 * DONE, NOT_DONE (it was no longer ready) or FAILED. */
static int
perform_by_flavour(const Op *op, PyObject **result)
{
    if (!op->sending) {
        PyObject *value = PyObject_CallMethodNoArgs(op->chan, str_poll);
        if (value == NULL)
            return failed(op);
        if (value == nothing) {
            Py_DECREF(value);
            return NOT_DONE;
        }
        *result = value;
        return DONE;
    }
    PyObject *sent = PyObject_CallMethodOneArg(op->chan, str_offer, op->value);
    if (sent == NULL)
        return failed(op);
    int truth = PyObject_IsTrue(sent);
    Py_DECREF(sent);
    if (truth < 0)
        return FAILED;
    if (!truth)
        return NOT_DONE;
    *result = Py_NewRef(Py_None);
    return DONE;
}

/* Look at every operation, then try the ready ones in a uniformly random order until one
 * completes. On DONE, *found is the new ``(index, result)`` pair. */
static int
run_pass(Op *ops, Py_ssize_t n, PyObject **found)
{
    Py_ssize_t stack[16];
    Py_ssize_t *ready_at = n <= 16 ? stack : PyMem_New(Py_ssize_t, n);
    if (ready_at == NULL) {
        PyErr_NoMemory();
        return FAILED;
    }
    Py_ssize_t count = 0;
    int python_ran = 0;
    int outcome = NOT_READY;
    for (Py_ssize_t i = 0; i < n; i++) {
        /* Code run for an earlier look may have closed this handle (a finalizer, a hook, the
         * flavour itself): the pure select checks each handle as it looks at it, and raises. */
        if (python_ran && !still_on(ops[i].handle, ops[i].chan)) {
            outcome = UNDECIDED;
            goto done;
        }
        int r = ready(&ops[i], &python_ran);
        if (r < 0) {
            outcome = FAILED;
            goto done;
        }
        if (r)
            ready_at[count++] = i;
    }
    while (count) {
        Py_ssize_t pick = count > 1 ? draw(count) : 0;
        const Op *op = &ops[ready_at[pick]];
        ready_at[pick] = ready_at[--count];
        PyObject *result = NULL;
        outcome = op->inline_ok ? perform_inline(op, &result) : perform_by_flavour(op, &result);
        if (outcome == NOT_DONE) {
            outcome = NOT_READY;
            continue;
        }
        if (outcome == DONE) {
            PyObject *index = index_of(op);
            *found = index ? PyTuple_Pack(2, index, result) : NULL;
            Py_XDECREF(index);
            Py_DECREF(result);
            if (*found == NULL)
                outcome = FAILED;
        }
        break;
    }
done:
    if (ready_at != stack)
        PyMem_Free(ready_at);
    return outcome;
}

/* The end of a pass, for its caller: the ``(index, result)`` pair, NULL with the error set, or
 * UNDECIDED_MARK (the pure code decides). Frees the operations if they were not on the stack. */
#define UNDECIDED_MARK Py_None
static PyObject *
ending(int outcome, PyObject *found, Op *ops, Op *stack)
{
    if (ops != stack)
        PyMem_Free(ops);
    if (outcome == DONE)
        return found;
    return outcome == FAILED ? NULL : UNDECIDED_MARK;
}

/* Whether a select's ``timeout`` surely passes ``deadline_after``'s checks: None, or an exact
 * float or int that is >= 0. Anything else is left to the pure path to accept or refuse. */
static int
plain_timeout(PyObject *timeout)
{
    if (timeout == Py_None)
        return 1;
    if (PyFloat_CheckExact(timeout))
        return PyFloat_AS_DOUBLE(timeout) >= 0.0; /* false for NaN */
    if (PyLong_CheckExact(timeout)) {
        int overflow;
        long seconds = PyLong_AsLongAndOverflow(timeout, &overflow);
        return overflow > 0 || (overflow == 0 && seconds >= 0);
    }
    return 0;
}

/* ---- the pass, for ``mpsc.select`` and ``Select`` ------------------------------------------- */

/* The raw operations of a ``select(*operations)`` call, checked as ``_select._op`` would accept
 * them. Returns how many were taken (their channels held): all n, or fewer if one of them is
 * not an operation on an open handle of a channel. */
static Py_ssize_t
scan_operations(PyObject *const *args, Py_ssize_t n, Op *ops)
{
    for (Py_ssize_t i = 0; i < n; i++) {
        PyObject *operation = args[i];
        Op *op = &ops[i];
        op->position = i;
        op->index = NULL;
        op->plain = 0;
        PyObject *handle;
        if (Py_IS_TYPE(operation, receiver_type)) {
            handle = operation;
            op->sending = 0;
            op->value = NULL;
        }
        else if (PyTuple_CheckExact(operation) && PyTuple_GET_SIZE(operation) == 2
                 && Py_IS_TYPE(PyTuple_GET_ITEM(operation, 0), sender_type)) {
            handle = PyTuple_GET_ITEM(operation, 0);
            op->sending = 1;
            op->value = PyTuple_GET_ITEM(operation, 1);
        }
        else
            return i; /* not one the C pass knows (a subclass, or bad input): the pure path */
        op->handle = handle;
        op->chan = channel_of(handle);
        if (op->chan == NULL)
            return i;
        if (!classify(op)) {
            Py_DECREF(op->chan);
            return i; /* a closed or moved handle: the pure path raises */
        }
    }
    return n;
}

/* The pass over the raw operations of ``select(*operations, timeout=...)``. */
static PyObject *
pass_over_operations(PyObject *operations, PyObject *timeout)
{
    if (!PyTuple_CheckExact(operations) || !plain_timeout(timeout))
        return Py_NewRef(UNDECIDED_MARK);
    Py_ssize_t n = PyTuple_GET_SIZE(operations);
    if (n == 0)
        return Py_NewRef(UNDECIDED_MARK);
    Op stack[8];
    Op *ops = n <= 8 ? stack : PyMem_New(Op, n);
    if (ops == NULL)
        return PyErr_NoMemory();
    PyObject *found = NULL;
    int outcome = UNDECIDED;
    Py_ssize_t taken = scan_operations(((PyTupleObject *)operations)->ob_item, n, ops);
    if (taken == n)
        outcome = run_pass(ops, n, &found);
    for (Py_ssize_t i = 0; i < taken; i++)
        Py_DECREF(ops[i].chan);
    PyObject *ended = ending(outcome, found, ops, stack);
    return ended == UNDECIDED_MARK ? Py_NewRef(ended) : ended;
}

/* The pass over a Select's ``_ops.Operation`` records ``(chan, handle, value, sending, index)``
 * (a tuple subclass). */
static PyObject *
pass_over_records(PyObject *tuple, PyObject *timeout)
{
    if (!PyTuple_CheckExact(tuple) || !plain_timeout(timeout))
        return Py_NewRef(UNDECIDED_MARK);
    Py_ssize_t n = PyTuple_GET_SIZE(tuple);
    if (n == 0)
        return Py_NewRef(UNDECIDED_MARK);
    Op stack[8];
    Op *ops = n <= 8 ? stack : PyMem_New(Op, n);
    if (ops == NULL)
        return PyErr_NoMemory();
    int outcome = UNDECIDED;
    PyObject *found = NULL;
    for (Py_ssize_t i = 0; i < n; i++) {
        PyObject *item = PyTuple_GET_ITEM(tuple, i);
        if (!PyTuple_Check(item) || PyTuple_GET_SIZE(item) != 5)
            goto done;
        Op *op = &ops[i];
        op->chan = PyTuple_GET_ITEM(item, 0); /* held by the tuple, which the caller holds */
        PyObject *handle = op->handle = PyTuple_GET_ITEM(item, 1);
        op->value = PyTuple_GET_ITEM(item, 2);
        op->sending = PyTuple_GET_ITEM(item, 3) == Py_True;
        op->index = PyTuple_GET_ITEM(item, 4);
        op->position = i;
        op->plain = 0;
        if (!Py_IS_TYPE(handle, op->sending ? sender_type : receiver_type)
            || !still_on(handle, op->chan) /* closed since it was added */
            || !classify(op))
            goto done;
    }
    outcome = run_pass(ops, n, &found);
done:;
    PyObject *ended = ending(outcome, found, ops, stack);
    return ended == UNDECIDED_MARK ? Py_NewRef(ended) : ended;
}

/* ``SelectPass``: the pass as a subscript, so that Python code reaches it without a call. A call
 * into C is a point where CPython runs signal handlers as it returns: a handler's exception
 * there would drop the ``(index, value)`` the pass just took. A subscript is not such a point:
 *
 *     found = PASS[False, operations, timeout]   # or PASS[True, records, timeout] (a Select's)
 *                                                # (index, value), or None: the pure code decides
 *
 * One subscript, nothing kept between two steps: a store then a load (as this was) let a
 * tracer's Python code run between the two lines, and another thread's input take the place of
 * this one's (review 10, finding 02). */
typedef struct {
    PyObject_HEAD
} SelectPass;

static PyObject *
pass_subscript(PyObject *self, PyObject *key)
{
    if (!LOAD_INT(ready_to_use) || !PyTuple_CheckExact(key) || PyTuple_GET_SIZE(key) != 3)
        Py_RETURN_NONE;
    PyObject *subject = PyTuple_GET_ITEM(key, 1), *timeout = PyTuple_GET_ITEM(key, 2);
    return PyTuple_GET_ITEM(key, 0) == Py_True ? pass_over_records(subject, timeout)
                                                : pass_over_operations(subject, timeout);
}

static PyMappingMethods pass_mapping = {.mp_subscript = pass_subscript};

static PyTypeObject SelectPassType = {
    PyVarObject_HEAD_INIT(NULL, 0)
    .tp_name = "mpsc._accel.SelectPass",
    .tp_doc = "SelectPass(): select's try pass in C, reached through a subscript (see _accel.c).",
    .tp_basicsize = sizeof(SelectPass),
    .tp_flags = Py_TPFLAGS_DEFAULT,
    .tp_new = PyType_GenericNew,
    .tp_as_mapping = &pass_mapping,
};

/* ---- the handles' own calls ------------------------------------------------------------------
 *
 * The common case of a handle's send or receive — a buffered channel with nobody parked on the
 * other side — done inline with the steps of ``perform_inline``; every other case (waiting, a
 * hand-off to a parked peer, a disconnection, a closed handle, a rendezvous channel) is left,
 * untouched, to the pure-Python methods, which stay the reference.
 *
 * None of this is a method. CPython runs signal handlers as a call into C returns, in the
 * caller's frame, before the caller has stored the result or run its next line: a
 * KeyboardInterrupt there would drop a received value, or make a send that happened look as if
 * it had not (a retry then sends it twice). So the handles stay Python functions that reach the
 * C steps without a call, as ``select`` reaches its pass:
 *
 *     self._sent = value        # Sender.send: sends, or raises Undecided (nothing happened)
 *     value = STEPS[self]       # Receiver.try_recv: the value, or NOTHING (nothing happened)
 *     for value in self: ...    # Receiver.recv, iteration: FOR_ITER runs no handler either
 *
 * (The receive that takes a value is reached through a private object, not an attribute of the
 * Receiver: reading an attribute must not receive, or a debugger or ``inspect.getmembers(rx)``
 * would take messages. Storing ``_sent`` has no such reader: the attribute cannot be read.)
 *
 * Storing an attribute, a subscript, and a for loop's step, are not points where handlers run.
 * ``tp_iternext`` hands what it leaves to the pure ``__next__``; an exception that must follow
 * the value it returns is raised after the loop has it (``_interrupts.finish``). */
static PyObject *pure_next, *undecided;

/* A handle's plain operation: DONE with *result, FAILED, or another outcome when the pure code
 * must decide (the channel untouched). */
static int
plain_operation(PyObject *handle, int sending, PyObject *value, PyObject **result)
{
    PyObject *chan = channel_of(handle);
    if (chan == NULL)
        return UNDECIDED;
    Op op = {.chan = chan, .handle = handle, .value = value, .sending = sending, .plain = 1};
    int outcome = UNDECIDED;
    if ((Py_IS_TYPE(chan, unbounded_type) || Py_IS_TYPE(chan, bounded_type)) && classify(&op)
        && op.inline_ok)
        outcome = perform_inline(&op, result);
    Py_DECREF(chan);
    return outcome;
}

/* ``sender._sent = value``. */
static int
handle_set_sent(PyObject *self, PyObject *value, void *closure)
{
    if (value == NULL) {
        PyErr_SetString(PyExc_AttributeError, "_sent cannot be deleted");
        return -1;
    }
    PyObject *result = NULL;
    int outcome = plain_operation(self, 1, value, &result);
    if (outcome == DONE) {
        Py_DECREF(result);
        return 0;
    }
    if (outcome != FAILED)
        PyErr_SetNone(undecided);
    return -1;
}

/* A handle's plain receive: the value (new reference), NULL with an error, or NULL without one
 * when the pure code must decide (the channel untouched). */
static PyObject *
plain_receive(PyObject *self)
{
    PyObject *value = NULL;
    int outcome = plain_operation(self, 0, NULL, &value);
    return outcome == DONE ? value : NULL;
}

/* ``STEPS[rx]``: receive from ``rx`` if a lock-free receive can, else NOTHING (also when the
 * pure code must decide). One subscript, no check point in it, and nothing kept between two
 * steps: a store then a load (as this was) let a tracer's Python code run between the two
 * lines, and another thread's receiver take the place of this one's (review 10, finding 02). */
typedef struct {
    PyObject_HEAD
} Steps;

static PyObject *
steps_subscript(PyObject *self, PyObject *receiver)
{
    if (!PyObject_TypeCheck(receiver, receiver_type)) {
        PyErr_SetString(PyExc_TypeError, "STEPS[...] takes a Receiver");
        return NULL;
    }
    PyObject *value = plain_receive(receiver);
    if (value == NULL && !PyErr_Occurred())
        return Py_NewRef(nothing);
    return value;
}

static PyMappingMethods steps_mapping = {.mp_subscript = steps_subscript};

static PyTypeObject StepsType = {
    PyVarObject_HEAD_INIT(NULL, 0)
    .tp_name = "mpsc._accel.Steps",
    .tp_doc = "Steps(): the handles' receive step, reached through a subscript (see _accel.c).",
    .tp_basicsize = sizeof(Steps),
    .tp_flags = Py_TPFLAGS_DEFAULT,
    .tp_new = PyType_GenericNew,
    .tp_as_mapping = &steps_mapping,
};

/* ``Receiver.__next__``, and the iteration slot. */
static PyObject *
handle_next(PyObject *self)
{
    PyObject *value = plain_receive(self);
    if (value == NULL && !PyErr_Occurred())
        return PyObject_Vectorcall(pure_next, &self, 1, NULL);
    return value;
}

static PyObject *
handle_next_method(PyObject *self, PyObject *unused)
{
    return handle_next(self);
}

static PyObject *doc_next; /* the pure ``__next__``'s docstring, kept alive for next_def */

static PyMethodDef next_def = {"__next__", handle_next_method, METH_NOARGS, NULL};
static PyGetSetDef sent_def = {
    "_sent", NULL, handle_set_sent,
    "storing a value sends it if a lock-free send can, else raises Undecided (see _accel.c)", NULL};

static int
put(PyObject *cls, const char *name, PyObject *descr)
{
    if (descr == NULL)
        return -1;
    int r = PyObject_SetAttrString(cls, name, descr);
    Py_DECREF(descr);
    return r;
}

/* ``install(Sender, Receiver, __next__)``: ``Sender._sent``, and the iteration slots (the
 * next one
 * hands what it leaves to the pure ``__next__`` given. Called once ``setup`` returned True; the
 * switch back to the pure methods (``_implementation``) removes them. */
static PyObject *
install(PyObject *module, PyObject *args)
{
    PyObject *sender, *receiver, *next;
    if (!PyArg_ParseTuple(args, "O!O!O:install", &PyType_Type, &sender, &PyType_Type, &receiver,
                          &next))
        return NULL;
    if (!LOAD_INT(ready_to_use) || (PyTypeObject *)sender != sender_type
        || (PyTypeObject *)receiver != receiver_type) {
        PyErr_SetString(PyExc_RuntimeError, "install() needs the classes setup() was given");
        return NULL;
    }
    Py_XSETREF(pure_next, Py_NewRef(next));
    if (doc_next == NULL) {
        PyObject *doc = PyObject_GetAttrString(next, "__doc__");
        if (doc == NULL)
            return NULL;
        doc_next = PyUnicode_FromFormat("__next__($self, /)\n--\n\n%S", doc);
        Py_DECREF(doc);
        if (doc_next == NULL || (next_def.ml_doc = PyUnicode_AsUTF8(doc_next)) == NULL)
            return NULL;
    }
    PyTypeObject *tx = (PyTypeObject *)sender, *rx = (PyTypeObject *)receiver;
    if (put(sender, "_sent", PyDescr_NewGetSet(tx, &sent_def)) < 0
        || put(receiver, "__next__", PyDescr_NewMethod(rx, &next_def)) < 0)
        return NULL;
    /* Setting ``__next__`` made the iteration slot look the method up and call it; iteration
     * calls the function itself instead. (Setting ``__next__`` again resets the slot.) */
    rx->tp_iternext = handle_next;
    rx->tp_iter = PyObject_SelfIter; /* what ``__iter__`` does, without a Python frame */
    PyType_Modified(rx);
    Py_RETURN_NONE;
}

/* ---- setup ----------------------------------------------------------------------------------- */

static int
take_type(PyObject *obj, PyTypeObject **where)
{
    if (!PyType_Check(obj)) {
        PyErr_Format(PyExc_TypeError, "setup() needs classes, got %R", obj);
        return -1;
    }
    Py_XSETREF(*where, (PyTypeObject *)Py_NewRef(obj));
    return 0;
}

/* ``setup(...)``: True once the pass may be used, False in a second interpreter (whose classes
 * are not the ones the pass holds: its mpsc runs the pure select). */
static PyObject *
setup(PyObject *module, PyObject *args)
{
    PyObject *receiver, *sender, *chan, *unbounded, *bounded, *cerr, *rerr, *serr, *herr, *marker,
        *settler, *unbuffered;
    if (!PyArg_ParseTuple(args, "OOOOOOOOOOOO:setup", &receiver, &sender, &chan, &unbounded,
                          &bounded, &cerr, &rerr, &serr, &herr, &marker, &settler, &unbuffered))
        return NULL;
    PyInterpreterState *here = PyInterpreterState_Get();
    if (owner != NULL)  /* set up once: never swapped under selects running in other threads */
        return PyBool_FromLong(owner == here);
    if (take_type(receiver, &receiver_type) < 0 || take_type(sender, &sender_type) < 0
        || take_type(chan, &chan_type) < 0 || take_type(unbounded, &unbounded_type) < 0
        || take_type(bounded, &bounded_type) < 0)
        return NULL;
    if (slot_offset(receiver, "_chan", &off_handle_chan) < 0
        || slot_offset(unbounded, "buf", &off_buf) < 0
        || slot_offset(unbounded, "slots", &off_slots) < 0
        || slot_offset(unbounded, "recvq", &off_recvq) < 0
        || slot_offset(unbounded, "sendq", &off_sendq) < 0
        || slot_offset(unbounded, "tx_gone", &off_tx_gone) < 0
        || slot_offset(unbounded, "ended", &off_ended) < 0
        || slot_offset(unbounded, "rx_gone", &off_rx_gone) < 0)
        return NULL;
    /* The same slots are read through a Sender and on a Bounded channel: same places. */
    Py_ssize_t again;
    if (slot_offset(sender, "_chan", &again) < 0)
        return NULL;
    int same = again == off_handle_chan;
    const char *names[] = {"buf", "slots", "recvq", "sendq", "tx_gone", "rx_gone", "ended"};
    Py_ssize_t offsets[] = {off_buf, off_slots, off_recvq, off_sendq, off_tx_gone, off_rx_gone,
                            off_ended};
    for (int i = 0; same && i < 7; i++) {
        if (slot_offset(bounded, names[i], &again) < 0)
            return NULL;
        same = again == offsets[i];
    }
    if (!same) {
        PyErr_SetString(PyExc_TypeError, "the handles or channel flavours disagree on their layout");
        return NULL;
    }
    Py_XSETREF(channel_error, Py_NewRef(cerr));
    Py_XSETREF(recv_error, Py_NewRef(rerr));
    Py_XSETREF(send_error, Py_NewRef(serr));
    Py_XSETREF(closed_handle_error, Py_NewRef(herr));
    Py_XSETREF(nothing, Py_NewRef(marker));
    Py_XSETREF(settle_and_raise_after, Py_NewRef(settler));
    Py_XSETREF(no_deque, Py_NewRef(unbuffered));
    owner = here;
    STORE_INT(ready_to_use, 1);
    Py_RETURN_TRUE;
}

/* ``seed(n)``: start the draw afresh (at import, and in the child after a fork, which would
 * otherwise draw the same choices as its parent). */
static PyObject *
seed(PyObject *module, PyObject *arg)
{
    uint64_t s = (uint64_t)PyLong_AsUnsignedLongLongMask(arg);
    if (s == (uint64_t)-1 && PyErr_Occurred())
        return NULL;
    STORE_U64(seed_base, s);
    STORE_U64(seed_generation, LOAD_U64(seed_generation) + 1); /* every thread starts again */
    Py_RETURN_NONE;
}

static PyMethodDef methods[] = {
    {"setup", setup, METH_VARARGS,
     "setup(Receiver, Sender, Chan, Unbounded, Bounded, ChannelError, RecvError, SendError, "
     "ClosedHandleError, NOTHING, settle_and_raise_after) -> bool: the classes, markers and "
     "helper of the pure code; False in a second interpreter."},
    {"seed", seed, METH_O, "seed(n): seed the random draw among ready operations."},
    {"install", install, METH_VARARGS,
     "install(Sender, Receiver, __next__): the handles' lock-free steps in C (Sender._sent, "
     "iteration), handing what they leave to the pure code."},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef module_def = {
    PyModuleDef_HEAD_INIT,
    .m_name = "mpsc._accel",
    .m_doc = "The try pass of mpsc's select in C; see _accel.c.",
    .m_size = -1,
    .m_methods = methods,
};

PyMODINIT_FUNC
PyInit__accel(void)
{
    if (PyType_Ready(&SelectPassType) < 0 || PyType_Ready(&StepsType) < 0)
        return NULL;
    PyObject *deque = NULL, *collections = PyImport_ImportModule("collections");
    if (collections == NULL)
        return NULL;
    deque = PyObject_GetAttrString(collections, "deque");
    Py_DECREF(collections);
    if (deque == NULL)
        return NULL;
    deque_popleft = PyObject_GetAttrString(deque, "popleft");
    deque_append = PyObject_GetAttrString(deque, "append");
    deque_pop = PyObject_GetAttrString(deque, "pop");
    deque_type = (PyTypeObject *)deque; /* kept: the module holds it for good */
    if (deque_popleft && deque_append && deque_pop) {
        deque_popleft_fn = direct(deque_popleft, METH_NOARGS);
        deque_pop_fn = direct(deque_pop, METH_NOARGS);
        deque_append_fn = direct(deque_append, METH_O);
    }
    str_after_send = PyUnicode_InternFromString("after_send");
    str_after_recv = PyUnicode_InternFromString("after_recv");
    str_index = PyUnicode_InternFromString("index");
    str_may_recv = PyUnicode_InternFromString("may_recv");
    str_may_send = PyUnicode_InternFromString("may_send");
    str_poll = PyUnicode_InternFromString("poll");
    str_offer = PyUnicode_InternFromString("offer");
    str_chan = PyUnicode_InternFromString("_chan");
    str_withdraw = PyUnicode_InternFromString("withdraw");
    if (!deque_popleft || !deque_append || !deque_pop || !str_after_send || !str_after_recv
        || !str_index || !str_may_recv || !str_may_send || !str_poll || !str_offer
        || !str_chan || !str_withdraw)
        return NULL;
    PyObject *module = PyModule_Create(&module_def);
    if (module == NULL)
        return NULL;
    undecided = PyErr_NewExceptionWithDoc(
        "mpsc._accel.Undecided",
        "Raised by storing Sender._sent when the pure code must decide (nothing happened).",
        NULL, NULL);
    if (undecided == NULL || PyModule_AddObjectRef(module, "Undecided", undecided) < 0) {
        Py_DECREF(module);
        return NULL;
    }
    if (PyModule_AddObjectRef(module, "Steps", (PyObject *)&StepsType) < 0
        || PyModule_AddObjectRef(module, "SelectPass", (PyObject *)&SelectPassType) < 0) {
        Py_DECREF(module);
        return NULL;
    }
#ifdef Py_GIL_DISABLED
    /* Safe without the GIL (see the top of this file): importing it must not turn it back on. */
    if (PyUnstable_Module_SetGIL(module, Py_MOD_GIL_NOT_USED) < 0) {
        Py_DECREF(module);
        return NULL;
    }
#endif
    return module;
}
