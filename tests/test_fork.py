"""A forked child uses the channels it inherited as its parent does (``_fork``, ``_ownership``).

``fork`` copies the process but only the calling thread: in the child, a channel's lock may be
held by a parent thread that is not there, its wait queues may hold operations of such threads,
and the reaper thread is gone. Each test runs a script in a fresh interpreter (this one has
threads of its own, which fork would not copy either): the parent sets the scene with threads,
forks, and the child checks what it can do with the channels, reporting through its exit status
and output. Every wait in the child is bounded, and the parent kills a child that does not end.
"""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap

import pytest

pytestmark = pytest.mark.skipif(not hasattr(os, "fork"), reason="needs fork()")

PRELUDE = """
import gc, os, sys, threading, time
import mpsc

def in_child(check):
    # Run check() in a forked child; the parent returns the child's exit status and output.
    read_end, write_end = os.pipe()
    pid = os.fork()
    if pid == 0:
        status = 1
        try:
            os.close(read_end)
            out = check()
            os.write(write_end, repr(out).encode())
            status = 0
        except BaseException as exc:
            os.write(write_end, ("FAILED " + repr(exc)).encode())
        finally:
            os._exit(status)
    os.close(write_end)
    deadline = time.monotonic() + 20
    while True:
        done, status = os.waitpid(pid, os.WNOHANG)
        if done:
            break
        if time.monotonic() > deadline:
            os.kill(pid, 9)
            os.waitpid(pid, 0)
            return "hung", b""
        time.sleep(0.005)
    return os.waitstatus_to_exitcode(status), os.read(read_end, 10000)

def held_by_a_thread(lock):
    # Another thread takes lock and holds it (across a fork) until the returned function is called.
    holding, release = threading.Event(), threading.Event()

    def hold():
        with lock:
            holding.set()
            release.wait(30)

    holder = threading.Thread(target=hold, daemon=True)
    holder.start()
    assert holding.wait(10)

    def done():
        release.set()
        holder.join(10)

    return done
"""


def run(script: str) -> str:
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)}
    out = subprocess.run(
        [sys.executable, "-W", "ignore::DeprecationWarning", "-c", PRELUDE + textwrap.dedent(script)],
        capture_output=True,
        text=True,
        timeout=60,
        env=env,
        check=False,
    )
    assert out.returncode == 0, out.stdout + out.stderr
    return out.stdout.strip()


@pytest.mark.parametrize("cap", [None, 1, 0])
def test_a_child_does_not_hand_its_send_to_a_receiver_parked_in_the_parent(cap: int | None) -> None:
    """The parent has a thread parked in recv at the fork: in the child that thread does not
    exist, and a send must not hand it the value."""
    result = run(
        f"""
        tx, rx = mpsc.channel() if {cap!r} is None else mpsc.bounded({cap!r})
        parked = threading.Thread(target=rx.recv_timeout, args=(30,), daemon=True)
        parked.start()
        while not rx._chan.recvq:
            time.sleep(0.001)

        def check():
            got = []
            if {cap!r} == 0:  # a rendezvous send waits for a receiver: one in the child
                taker = threading.Thread(target=lambda: got.append(rx.recv_timeout(10)))
                taker.start()
                tx.send_timeout("from the child", 10)
                taker.join(10)
            else:
                tx.send("from the child")
                got.append(rx.recv_timeout(10))
            return got

        print(in_child(check))
        tx.send("to the parent's thread")
        parked.join(10)
        print(parked.is_alive())
        """
    )
    assert result.splitlines() == ["(0, b\"['from the child']\")", "False"]


@pytest.mark.parametrize("cap", [None, 1, 0])
def test_a_child_can_use_a_channel_whose_lock_a_parent_thread_held_at_the_fork(cap: int | None) -> None:
    result = run(
        f"""
        tx, rx = mpsc.channel() if {cap!r} is None else mpsc.bounded({cap!r})
        release = held_by_a_thread(rx._chan.lock)

        def check():
            clone = tx.clone()
            got = []
            taker = threading.Thread(target=lambda: got.extend(rx))  # for v in rx: to the end
            taker.start()
            for i in range(100):
                clone.send(i)
            clone.close()
            tx.close()
            taker.join(10)
            return got == list(range(100)) and not taker.is_alive()

        print(in_child(check))
        release()
        """
    )
    assert result == "(0, b'True')"


@pytest.mark.parametrize("where", ["_travel._joined_lock", "_async._watches_lock"])
def test_a_child_can_use_process_channels_whose_module_lock_a_parent_thread_held(where: str) -> None:
    """Process review 2 (not scripted): the lock of the handles a process has joined, and of
    the asyncio loops' watches, were not made new in a forked child: one held by another thread
    at the fork was held there for good, and the child's first handle adoption, or async wait,
    blocked for ever."""
    result = run(
        f"""
        import asyncio
        import mpsc.process as mpp
        from mpsc.process import _async, _travel

        lock = {where}
        tx, rx = mpp.bounded(2)
        release = held_by_a_thread(lock)

        def check():
            tx2, rx2 = mpp.channel()
            tx2.send(tx.clone())  # a handle travels: it is adopted as it arrives
            got = rx2.recv_timeout(5)
            got.send("v")

            async def receive():
                first = await asyncio.wait_for(rx.recv_async(), 5)
                try:  # (nothing more comes: this one waits on the socket)
                    await asyncio.wait_for(rx.recv_async(), 0.2)
                except TimeoutError:
                    return first, "waited"

            return asyncio.run(receive())

        print(in_child(check))
        release()
        """
    )
    assert result == "(0, b\"('v', 'waited')\")"


def test_a_child_releases_a_handle_collected_while_its_lock_is_taken() -> None:
    """In the child the reaper thread must be started anew (the parent's is not there)."""
    result = run(
        """
        tx, rx = mpsc.channel()
        # Start the parent's reaper: a handle collected while its channel's lock is held.
        other_tx, other_rx = mpsc.channel()
        spare = other_tx.clone()
        with other_tx._chan.lock:
            del spare
        while other_tx._chan.senders != 1:
            time.sleep(0.001)

        def check():
            clone = tx.clone()
            with tx._chan.lock:
                del clone  # collected with the lock taken: the child's reaper releases it
            tx.close()
            try:
                rx.recv_timeout(10)
            except mpsc.RecvError:
                return "disconnected"
            return "still connected"

        print(in_child(check))
        """
    )
    assert result == "(0, b\"'disconnected'\")"


def test_child_and_parent_each_see_their_own_handles_go() -> None:
    """Handles are counted per process: the child closing every sender it has disconnects the
    channel in the child only; the parent's stay open."""
    result = run(
        """
        tx, rx = mpsc.channel()
        tx.send("before the fork")

        def check():
            tx.close()
            got = list(rx)  # ends: every sender of this process is gone
            return got, rx.is_disconnected()

        print(in_child(check))
        print(rx.is_disconnected(), rx.recv())
        tx.send("after")
        print(rx.recv())
        """
    )
    assert result.splitlines() == ["(0, b\"(['before the fork'], True)\")", "False before the fork", "after"]


def test_a_task_on_a_loop_running_in_the_forking_thread_keeps_waiting_in_the_child() -> None:
    """The child keeps the waits of the thread that forked: its asyncio tasks live on there."""
    result = run(
        """
        import asyncio

        loop = asyncio.new_event_loop()
        asyncio.set_event_loop(loop)

        async def scene():
            tx, rx = mpsc.channel()
            task = asyncio.create_task(rx.recv_async())
            while not rx._chan.recvq:
                await asyncio.sleep(0.001)
            return tx, rx, task

        tx, rx, task = loop.run_until_complete(scene())

        def check():
            tx.send("to the task")
            return loop.run_until_complete(asyncio.wait_for(task, 10))

        print(in_child(check))
        task.cancel()
        """
    )
    assert result == "(0, b\"'to the task'\")"


def test_a_process_of_multiprocessing_started_by_fork_uses_the_channels_it_inherited() -> None:
    result = run(
        """
        import multiprocessing

        tx, rx = mpsc.bounded(2)
        busy = threading.Thread(target=rx.recv_timeout, args=(30,), daemon=True)  # parked at the fork
        busy.start()
        while not rx._chan.recvq:
            time.sleep(0.001)

        def child():
            for i in range(5):
                tx.send(i)
                assert rx.recv_timeout(5) == i
            tx.close()
            assert list(rx) == []  # the child's last sender is gone: the loop ends
            sys.exit(7)

        process = multiprocessing.get_context("fork").Process(target=child)
        process.start()
        process.join(20)
        print(process.exitcode)
        tx.send("parent")
        busy.join(10)
        print(busy.is_alive())
        """
    )
    assert result.splitlines() == ["7", "False"]
