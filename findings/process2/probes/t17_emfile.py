import os, sys, resource, mpsc, mpsc.process as mpp
def nfds():
    n = 0
    for fd in range(256):
        try: os.fstat(fd); n += 1
        except OSError: pass
    return n
resource.setrlimit(resource.RLIMIT_NOFILE, (64, 64))
problems = []
for kind in ("channel", "sync4", "sync0"):
    base = nfds()
    made = []
    err = None
    for i in range(100):
        try:
            made.append(mpp.channel() if kind == "channel" else mpp.sync_channel(4 if kind == "sync4" else 0))
        except OSError as e:
            err = e; break
        except Exception as e:
            err = e; problems.append(f"{kind}: constructor at EMFILE raised {e!r}"); break
    n_at_limit = nfds()
    # at the limit now: try operations on the last channel
    if made:
        tx, rx = made[-1]
        for what, fn in (("large send", lambda: tx.send_timeout(b"x" * 100_000, 0.2)),
                         ("clone", lambda: tx.clone().close()),
                         ("small send", lambda: tx.send_timeout("s", 0.2))):
            try:
                fn()
            except mpsc.Timeout:
                pass
            except OSError as e:
                pass
            except Exception as e:
                problems.append(f"{kind}: {what} at EMFILE raised {e!r}")
        if tx._ep.busy or rx._ep.busy: problems.append(f"{kind}: endpoint busy after EMFILE")
    for tx, rx in made:
        tx.close(); rx.close()
    del made
    import gc; gc.collect()
    if nfds() != base:
        problems.append(f"{kind}: {nfds() - base} fds leaked after constructors hit EMFILE ({err!r})")
print("\n".join(problems) or "ok")
sys.exit(1 if problems else 0)
