import os, sys, time, threading, asyncio
sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
from _srv import server
import mpsc, mpsc.redis
srv = server()
kind = sys.argv[1] if len(sys.argv) > 1 else "0"
tx, rx1 = (mpsc.redis.unbounded(srv.url, name="c") if kind == "u" else mpsc.redis.bounded(srv.url, int(kind), name="c"))
rx2 = rx1.clone()
loop = asyncio.new_event_loop()
task = loop.create_task(rx1.recv_async())
loop.run_until_complete(asyncio.sleep(0.3))  # the receive announced itself and waits
print("task done?", task.done(), "owner", rx1._owner, "announced", rx1._announced)
loop.close()
res = {}
def s():
    t0 = time.monotonic()
    try:
        tx.send_timeout("v", 5); res["send"] = ("returned", round(time.monotonic() - t0, 3))
    except Exception as e:
        res["send"] = repr(e)
th = threading.Thread(target=s); th.start()
try:
    res["rx2"] = rx2.recv_timeout(4)
except Exception as e:
    res["rx2"] = repr(e)
th.join()
print(res)
print("rx1 watched", rx1._lease.watched, "XPENDING", srv.command("XPENDING", rx1.name, "rx"))
try:
    print("rx1.try_recv():", rx1.try_recv())
except Exception as e:
    print("rx1.try_recv():", repr(e))
os._exit(0)
