import sys, time, threading, mpsc, mpsc.process as mpp
res = {}
for name, mk in (("thread", lambda: mpsc.sync_channel(0)), ("process", lambda: mpp.sync_channel(0))):
    tx, rx = mk()
    got = []
    def rcv():
        try:
            while True: got.append(rx.recv_timeout(3))
        except (mpsc.Timeout, mpsc.RecvError): pass
    th = threading.Thread(target=rcv); th.start()
    ok = {"send_timeout0": 0, "try_send": 0, "send_deadline_past": 0}
    for i in range(50):
        time.sleep(0.01)
        try: tx.send_timeout(("t0", i), 0); ok["send_timeout0"] += 1
        except mpsc.Timeout: pass
        time.sleep(0.01)
        try: tx.try_send(("ts", i)); ok["try_send"] += 1
        except mpsc.Full: pass
        time.sleep(0.01)
        try: tx.send_deadline(("dl", i), time.monotonic() - 1); ok["send_deadline_past"] += 1
        except mpsc.Timeout: pass
    tx.close(); th.join(5)
    print(name, ok, "received", len(got))
    res[name] = (ok, len(got))
sys.exit(0 if res["thread"] == res["process"] else 1)
