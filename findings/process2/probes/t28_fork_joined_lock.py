"""A child forked while another thread of the parent is receiving a message that carries a
handle can inherit mpsc.process._travel's module lock (_joined_lock) held by a thread that
does not exist in the child. _endpoint's fork hook re-creates the endpoints' locks, but not this
one (nor _async._watches_lock): the child's first receive of any handle-carrying message then
blocks for ever in `with _joined_lock:`, whatever timeout it was given. Exits 1 while a child
hangs (each child is bounded: killed after 3 s).
"""
import os, sys, time, threading, signal
import mpsc, mpsc.process as mpp

FORKS = int(sys.argv[1]) if len(sys.argv) > 1 else 300

def main():
    tx, rx = mpp.channel()            # the parent's thread moves handles through this one
    other_tx, other_rx = mpp.channel()
    ctx, crx = mpp.channel()          # each child sends itself a handle through this one
    stop = threading.Event()
    moved = [0]

    def mover():
        while not stop.is_set():
            tx.send(("h", other_tx))
            _, h = rx.recv_timeout(5)
            h.close()
            moved[0] += 1

    th = threading.Thread(target=mover, daemon=True)
    th.start()
    hung = 0
    failed = 0
    for _ in range(FORKS):
        time.sleep(0.002)
        pid = os.fork()
        if pid == 0:
            code = 0
            try:
                signal.alarm(0)
                ctx.send(("h", other_tx))
                _, h = crx.recv_timeout(1)   # adoption takes _joined_lock
                h.close()
            except BaseException:
                code = 3
            os._exit(code)
        deadline = time.monotonic() + 3
        while True:
            done, status = os.waitpid(pid, os.WNOHANG)
            if done:
                failed += os.waitstatus_to_exitcode(status) != 0
                break
            if time.monotonic() > deadline:
                hung += 1
                os.kill(pid, signal.SIGKILL)
                os.waitpid(pid, 0)
                break
            time.sleep(0.005)
    stop.set()
    th.join(10)
    print(f"{FORKS} children forked while a thread moved {moved[0]} handle-carrying messages: "
          f"{hung} hung for 3 s in a 1 s recv_timeout (killed), {failed} failed otherwise")
    return hung == 0 and failed == 0

if __name__ == "__main__":
    sys.exit(0 if main() else 1)
