import sys, asyncio, time, multiprocessing as mp, random
import mpsc, mpsc.process as mpp
N = 3000
def child(tx):
    for i in range(N): tx.send_timeout(("p", i), 30)
    tx.close()
async def main(cap):
    ptx, prx = mpp.channel() if cap is None else mpp.sync_channel(cap)
    ttx, trx = mpsc.sync_channel(2)
    p = mp.get_context("spawn").Process(target=child, args=(ptx,)); p.start(); ptx.close()
    async def tprod():
        for i in range(N): await ttx.send_async(("t", i))
        ttx.close()
    prod = asyncio.create_task(tprod())
    got = []; cancels = 0; live = [prx, trx]
    t0 = time.monotonic()
    while live and time.monotonic() - t0 < 25:
        try:
            async with asyncio.timeout(random.choice([0.00005, 0.0002, 0.001])):
                i, v = await mpsc.select_async(*live)
            got.append(v)
        except TimeoutError:
            cancels += 1
        except mpsc.RecvError as e:
            live.pop(e.index)
    await prod
    p.join(10)
    if p.is_alive(): p.kill(); p.join()
    pm = [v for k, v in got if k == "p"]; tm = [v for k, v in got if k == "t"]
    print(f"cap={cap}: process {len(pm)} (ordered {pm == list(range(N))}), thread {len(tm)} (ordered {tm == list(range(N))}), cancels {cancels}")
    return pm == list(range(N)) and tm == list(range(N))
if __name__ == "__main__":
    ok = True
    for cap in (None, 3, 0):
        ok &= asyncio.run(main(cap))
    sys.exit(0 if ok else 1)
