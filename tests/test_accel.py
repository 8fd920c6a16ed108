"""select's try pass in C (``src/mpsc/_accel.c``): where it is used, and what only it could break.

Its behaviour is tested by the whole of test_select, test_timers and test_windows, which run
once with each pass (the ``select_pass`` fixture), and by test_select_model, which checks both
against a reference model. What is here concerns the C pass itself: that it is really in use
where it is built, that it leaks and over-releases nothing (every path: results, errors, values
handed back), that each case it leaves to the pure code (a closed handle, an odd timeout or
keyword, no operation, a permit that must be made under the lock) ends as the pure code says,
and that the Python steps it calls after an inline operation (waking parked peers) run.
"""

from __future__ import annotations

import gc
import importlib.util
import math
import os
import subprocess
import sys
import sysconfig
import textwrap
from fractions import Fraction
from typing import Any

import pytest
from helpers import WAIT, Worker, blocked_receivers, blocked_senders, memory_growth, wait_until

import mpsc
from mpsc import _core, _implementation, _ownership, _select

pytestmark = pytest.mark.usefixtures("select_pass")

FREE_THREADED = bool(sysconfig.get_config_var("Py_GIL_DISABLED"))
BUILT = importlib.util.find_spec("mpsc._accel") is not None  # (MPSC_PURE=1 leaves it unloaded)


# -- where the C pass is used ---------------------------------------------------------------------


def test_the_c_pass_is_built_and_used_on_cpython(select_pass: str) -> None:
    """CI and `make test` build it (gcc and the Python headers are on every machine we use):
    a build that failed silently must fail here, not leave select slow. Set MPSC_PURE=1 to
    run without it on purpose."""
    if os.environ.get("MPSC_PURE"):
        assert _select.PASS is None
        assert _implementation.in_use() == "pure"
    else:
        assert sys.implementation.name == "cpython"
        assert BUILT, "mpsc._accel was not built: is a C compiler installed?"
    if select_pass == "pure":
        assert _select.PASS is None
    else:
        assert isinstance(_select.PASS, mpsc._accel.SelectPass)


def test_importing_the_c_pass_leaves_a_free_threaded_interpreter_without_the_gil() -> None:
    """An extension that does not declare itself safe without the GIL turns it back on."""
    code = "import sys, mpsc; print(getattr(sys, '_is_gil_enabled', lambda: True)())"
    assert run_python(code, "").strip() == str(not FREE_THREADED)


def run_python(code: str, mpsc_pure: str) -> str:
    """What a fresh interpreter prints running ``code`` with ``MPSC_PURE`` set so."""
    env = {**os.environ, "MPSC_PURE": mpsc_pure}
    out = subprocess.run(
        [sys.executable, "-c", code], check=False, env=env, capture_output=True, text=True, timeout=60
    )
    assert out.returncode == 0, out.stderr
    return out.stdout


def test_mpsc_pure_turns_the_compiled_implementation_off() -> None:
    code = "import mpsc, mpsc._select as s; print(s.PASS is None, mpsc._implementation.in_use())"
    assert run_python(code, "1").split() == ["True", "pure"]
    assert run_python(code, "").split() == [str(not BUILT), "compiled" if BUILT else "pure"]


# -- nothing leaks, nothing is released twice -----------------------------------------------------


class Token:
    """A value whose references can be counted."""


def refs(obj: object) -> int:
    return sys.getrefcount(obj)


@pytest.mark.parametrize("cap", [1, 3, None], ids=["bounded1", "bounded3", "unbounded"])
def test_values_received_and_sent_by_select_keep_exact_reference_counts(cap: int | None) -> None:
    tx, rx = mpsc.channel() if cap is None else mpsc.bounded(cap)
    quiet_tx, quiet_rx = mpsc.channel()
    token = Token()
    alone = refs(token)
    tx.send(token)
    assert refs(token) == alone + 1  # the buffer's
    index, value = mpsc.select(quiet_rx, rx)
    assert (index, value) == (1, token)
    del value
    assert refs(token) == alone  # the buffer let go, the result too
    assert mpsc.select((tx, token), quiet_rx) == (0, None)
    assert refs(token) == alone + 1
    assert rx.recv() is token
    assert refs(token) == alone
    del quiet_tx


def test_a_send_select_on_a_disconnected_channel_hands_the_value_back_once() -> None:
    tx, rx = mpsc.channel()
    rx.close()
    token = Token()
    alone = refs(token)
    for _ in range(1000):
        with pytest.raises(mpsc.SendError) as caught:
            mpsc.select((tx, token))
        assert caught.value.value is token
        assert caught.value.index == 0
        del caught
    assert refs(token) == alone


def test_a_hundred_thousand_ready_selects_leave_no_memory_behind() -> None:
    pairs = [mpsc.channel(), mpsc.bounded(2), mpsc.channel(), mpsc.bounded(5)]
    receivers = [rx for _, rx in pairs]
    tx = pairs[1][0]
    wide = [receivers[0]] * 20 + [pairs[1][1]]  # more operations than the C pass keeps on its stack

    def body() -> None:
        tx.send(1000)
        mpsc.select(*receivers)
        mpsc.select((tx, 2000), receivers[0], timeout=1.5)
        mpsc.select(*wide, block=False)

    growth = memory_growth(body, 30_000)
    assert growth < 30_000, f"{growth} bytes left behind by 90,000 selects"


def test_selects_that_raise_leave_no_memory_behind() -> None:
    tx, rx = mpsc.channel()
    tx.close()
    gone_tx, gone_rx = mpsc.channel()
    gone_rx.close()

    def body() -> None:
        try:
            mpsc.select(rx)
        except mpsc.RecvError:
            pass
        try:
            mpsc.select((gone_tx, Token()))
        except mpsc.SendError:
            pass

    growth = memory_growth(body, 20_000)
    assert growth < 30_000, f"{growth} bytes left behind by 40,000 failing selects"


def test_operations_the_c_pass_leaves_to_the_pure_code_keep_no_channel_alive() -> None:
    """The pass holds each channel it has looked at; when a later operation is one it does not
    know (bad input, a handle subclass), it must let go of the ones before."""
    import weakref

    class MyReceiver(mpsc.Receiver[Any]):
        __slots__ = ()

    tx, rx = mpsc.channel()
    other_tx, other_rx = mpsc.channel()
    mine = _ownership.new_owner(MyReceiver, other_rx._chan, _core.RECEIVERS)  # a clone, of the subclass
    chan = weakref.ref(rx._chan)
    before = refs(rx._chan)
    for _ in range(100):
        with pytest.raises(TypeError):
            mpsc.select(rx, 5)  # type: ignore[arg-type]
        with pytest.raises(TypeError):
            mpsc.select(rx, tx)  # type: ignore[arg-type]
        other_tx.send("sub")
        assert mpsc.select(rx, mine) == (1, "sub")  # the pure path takes the subclass
    after = refs(rx._chan)  # (counted outside the assert, whose rewriting holds what it reads)
    assert after == before
    del tx, rx
    gc.collect()
    assert chan() is None


# -- what the C pass leaves to the pure code ends as the pure code says ---------------------------


@pytest.fixture
def ready() -> tuple[mpsc.Sender[Any], mpsc.Receiver[Any]]:
    """A channel holding one value, "v"."""
    tx, rx = mpsc.channel()
    tx.send("v")
    return tx, rx


@pytest.mark.parametrize(
    ("timeout", "error"),
    [(-1, ValueError), (-0.5, ValueError), (math.nan, ValueError), (True, TypeError), ("1", TypeError)],
)
def test_a_bad_timeout_fails_even_with_an_operation_ready(
    ready: tuple[mpsc.Sender[Any], mpsc.Receiver[Any]], timeout: Any, error: type[Exception]
) -> None:
    tx, rx = ready
    with pytest.raises(error):
        mpsc.select(rx, timeout=timeout)
    assert len(rx) == 1


@pytest.mark.parametrize("timeout", [0, 0.0, -0.0, 2, 2.5, 10**400, math.inf, Fraction(1, 2)])
def test_every_valid_timeout_takes_the_ready_operation(
    ready: tuple[mpsc.Sender[Any], mpsc.Receiver[Any]], timeout: Any
) -> None:
    tx, rx = ready
    assert mpsc.select(rx, timeout=timeout) == (0, "v")


def test_an_unknown_keyword_is_a_type_error_and_takes_nothing(
    ready: tuple[mpsc.Sender[Any], mpsc.Receiver[Any]],
) -> None:
    tx, rx = ready
    with pytest.raises(TypeError):
        mpsc.select(rx, timeuot=1)  # type: ignore[call-arg]
    assert len(rx) == 1


def test_block_false_and_block_true_take_the_ready_operation(
    ready: tuple[mpsc.Sender[Any], mpsc.Receiver[Any]],
) -> None:
    tx, rx = ready
    assert mpsc.select(rx, block=False) == (0, "v")
    tx.send("w")
    assert mpsc.select(rx, block=True, timeout=1) == (0, "w")


def test_a_closed_handle_beside_a_ready_one_fails_and_takes_nothing(
    ready: tuple[mpsc.Sender[Any], mpsc.Receiver[Any]],
) -> None:
    tx, rx = ready
    closed = rx.clone()
    closed.close()
    with pytest.raises(mpsc.ClosedHandleError):
        mpsc.select(rx, closed)
    sel = mpsc.Select(rx)
    clone = rx.clone()
    index = sel.add(clone)
    clone.close()
    with pytest.raises(mpsc.ClosedHandleError):
        sel.try_select()
    sel.remove(index)
    assert sel.try_select()[1] == "v"


def test_many_operations_with_one_ready_anywhere() -> None:
    """Beyond the sizes the C pass keeps on its stack (8 operations, 16 ready ones)."""
    pairs = [mpsc.channel() for _ in range(40)]
    for where in [0, 7, 8, 15, 16, 17, 39]:
        pairs[where][0].send(where)
        assert mpsc.select(*[rx for _, rx in pairs]) == (where, where)
        sel = mpsc.Select(*[rx for _, rx in pairs])
        pairs[where][0].send(-where)
        assert sel.select() == (where, -where)
    for tx, _ in pairs:
        tx.send("x")
    got = {mpsc.select(*[rx for _, rx in pairs])[0] for _ in range(40)}
    assert got == set(range(40))  # each ready channel gave its one value


def test_sends_beyond_the_first_thousand_permits_keep_the_capacity_exact() -> None:
    """A bounded channel makes its permits beyond 1024 under its lock, lazily: a send that needs
    one is done by the channel's own code, not inline."""
    tx, rx = mpsc.bounded(1100)
    quiet_tx, quiet_rx = mpsc.channel()
    for i in range(1100):
        assert mpsc.select((tx, i), quiet_rx) == (0, None)
    assert len(rx) == 1100
    with pytest.raises(mpsc.Empty):
        mpsc.select((tx, "over"), quiet_rx, block=False)
    assert mpsc.select(rx) == (0, 0)
    assert mpsc.select((tx, "last"), quiet_rx) == (0, None)
    assert list(rx.try_iter()) == [*range(1, 1100), "last"]
    del quiet_tx


def test_a_ready_timer_and_a_ready_channel_in_one_select() -> None:
    import time

    tx, rx = mpsc.channel()
    tx.send("value")
    timer = mpsc.at(time.monotonic() - 1)
    first = mpsc.select(timer, rx)
    second = mpsc.select(timer, rx, timeout=WAIT)
    assert sorted([first[0], second[0]]) == [0, 1]
    assert (first if first[0] == 1 else second)[1] == "value"
    with pytest.raises(mpsc.Timeout):
        mpsc.select(timer, rx, timeout=0)


# -- the steps after an inline operation wake parked peers ----------------------------------------


def test_a_select_send_hands_the_value_to_a_parked_receiver() -> None:
    tx, rx = mpsc.channel()
    quiet_tx, quiet_rx = mpsc.channel()
    receiver = Worker(rx.recv_timeout, WAIT)
    wait_until(lambda: blocked_receivers(rx) == 1)
    assert mpsc.select(quiet_rx, (tx, "handed")) == (1, None)
    assert receiver.join() == "handed"
    del quiet_tx


def test_a_select_receive_admits_a_parked_sender() -> None:
    tx, rx = mpsc.bounded(1)
    tx.send("first")
    sender = Worker(tx.send_timeout, "second", WAIT)
    wait_until(lambda: blocked_senders(tx) == 1)
    assert mpsc.select(rx) == (0, "first")
    assert sender.join() is None
    assert len(rx) == 1  # admitted into the freed slot: capacity still exact
    assert mpsc.select(rx) == (0, "second")


def test_closing_the_last_receiver_then_sending_by_select_drops_nothing_twice() -> None:
    tx, rx = mpsc.channel()
    token = Token()
    alone = refs(token)
    tx.send(token)
    rx.close()  # drops the buffered token
    assert refs(token) == alone
    with pytest.raises(mpsc.SendError):
        mpsc.select((tx, token))
    assert refs(token) == alone


def test_select_runs_in_a_fresh_interpreter_with_the_c_pass_and_without() -> None:
    code = textwrap.dedent(
        """
        import mpsc
        tx, rx = mpsc.channel()
        tx.send(1)
        print(mpsc.select(rx))
        """
    )
    for pure in ["", "1"]:
        assert run_python(code, pure).strip() == "(0, 1)"


def test_a_handle_closed_by_code_the_pass_runs_leaves_its_channel_usable_to_the_end() -> None:
    """The pass asks non-buffered flavours whether they are ready (Python code, which may do
    anything, here close the only handle of another channel in the same select). The closed
    handle's channel must stay alive until the pass is done with it, and the select ends as
    the pure one does: the look had found the value there, the try finds the channel emptied
    by the close and disconnected."""
    from mpsc._rendezvous import Rendezvous

    tx, victim = mpsc.channel()
    tx.send("buffered")
    tx.close()
    victim_chan = victim._chan

    class ClosesTheVictim(Rendezvous[Any]):
        __slots__ = ()

        def may_recv(self) -> bool:
            victim.close()  # its channel's last handle: nothing else holds the channel now
            gc.collect()
            return False

    meddler = mpsc.Receiver(ClosesTheVictim())
    del victim_chan
    with pytest.raises(mpsc.RecvError) as caught:
        mpsc.select(victim, meddler, block=False)
    assert caught.value.index == 0


def test_a_later_handle_closed_by_code_the_pass_runs_fails_the_select() -> None:
    """As above, but the closed handle comes after the operation whose look closed it: the pure
    select checks each handle as it looks at it, so it raises, and the C pass must not receive
    through the closed handle instead."""
    from mpsc._rendezvous import Rendezvous

    tx, victim = mpsc.channel()
    tx.send("buffered")

    class ClosesTheVictim(Rendezvous[Any]):
        __slots__ = ()

        def may_recv(self) -> bool:
            victim.close()
            return False

    meddler = mpsc.Receiver(ClosesTheVictim())
    with pytest.raises(mpsc.ClosedHandleError):
        mpsc.select(meddler, victim, block=False)
    tx2, victim = mpsc.channel()
    tx2.send("buffered")
    sel = mpsc.Select(meddler, victim)
    with pytest.raises(mpsc.ClosedHandleError):
        sel.try_select()


def test_pickling_or_copying_select_gives_select_itself() -> None:
    import copy
    import pickle

    assert pickle.loads(pickle.dumps(mpsc.select)) is mpsc.select
    assert copy.deepcopy(mpsc.select) is mpsc.select


FORK = """
import os, mpsc
pairs = [mpsc.channel() for _ in range(8)]
for tx, _ in pairs:
    for _ in range(40):
        tx.send(0)
receivers = [rx for _, rx in pairs]
read_end, write_end = os.pipe()
pid = os.fork()
if pid == 0:  # the child: its 30 choices to the parent, then out at once
    try:
        os.write(write_end, bytes(mpsc.select(*receivers)[0] for _ in range(30)))
    finally:
        os._exit(0)
os.close(write_end)
mine = bytes(mpsc.select(*receivers)[0] for _ in range(30))
_, status = os.waitpid(pid, 0)
print(status, mine.hex(), os.read(read_end, 100).hex())
"""


def test_a_forked_child_draws_other_choices_than_its_parent(select_pass: str) -> None:
    """(In a fresh interpreter: this one has threads, and fork() copies none of them.)"""
    status, mine, theirs = run_python(FORK, "1" if select_pass == "pure" else "").split()
    assert status == "0"
    assert len(mine) == len(theirs) == 60
    assert mine != theirs  # the same 30 draws out of 8 by chance: odds 8**-30


SUBINTERPRETER = """
import sys, mpsc
from mpsc import _select
try:
    import _interpreters as interpreters  # 3.13
    def make(): return interpreters.create(interpreters.new_config("legacy"))
    def run(i, code): interpreters.exec(i, code)
except ImportError:
    import _xxsubinterpreters as interpreters
    def make():
        try:
            return interpreters.create(isolated=False)  # 3.12
        except TypeError:
            return interpreters.create()  # 3.11
    def run(i, code): interpreters.run_string(i, code)
before = _select.PASS is not None
sub = make()
run(sub, "import sys; sys.path[:0] = %r\\n"
         "import mpsc\\n"
         "tx, rx = mpsc.channel(); tx.send(7)\\n"
         "assert mpsc.select(rx) == (0, 7)\\n"
         "assert mpsc._select.PASS is None or %r" % (sys.path, not before))
interpreters.destroy(sub)
tx, rx = mpsc.channel()
tx.send(8)
print(before, _select.PASS is not None, _select.PASS is None, mpsc.select(rx))
"""


def test_a_subinterpreter_runs_the_pure_select_and_leaves_the_c_pass_to_the_main_one() -> None:
    """The C pass holds one interpreter's classes: a second interpreter importing mpsc must not
    take it over (the first's selects would all fall back to the pure code, slowly)."""
    before, after, pure, result = run_python(SUBINTERPRETER, "").strip().split(maxsplit=3)
    assert before == after == str(BUILT)
    assert pure == str(not BUILT)
    assert result == "(0, 8)"
