import os, sys, mpsc, mpsc.process as m
tx, rx = m.channel()
tx2, rx2 = m.channel()
tx.send("before")
pid = os.fork()
if pid == 0:
    code = 0
    n = m.release_inherited(tx2, rx)
    try:
        tx.send("x"); code |= 1
    except mpsc.ClosedHandleError: pass
    try:
        tx.try_send("x"); code |= 2
    except mpsc.ClosedHandleError: pass
    try:
        rx2.try_recv(); code |= 4
    except mpsc.ClosedHandleError: pass
    except mpsc.Empty: code |= 8
    try:
        for v in rx2: code |= 16; break
    except mpsc.ClosedHandleError: pass
    v = rx.recv()
    if v != "before": code |= 32
    for i in range(1000): tx2.send(i)
    tx2.send(b"L"*70000)
    os._exit(code)
_, st = os.waitpid(pid, 0)
print("child exit", os.waitstatus_to_exitcode(st))
tx2.close()
got = list(rx2)
print("parent got", len(got), got[:3], type(got[-1]))
try:
    print(rx.try_recv())
except mpsc.Empty:
    print("empty (child took 'before')")
