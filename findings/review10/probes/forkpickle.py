import os, sys, mpsc, mpsc.process as m
tx, rx = m.channel()
def rebuild(x): return x
class Forking:
    def __reduce__(self):
        pid = os.fork()
        if pid == 0:
            self.child = True
        else:
            self.child = False; os.waitpid(pid, 0)
        return (rebuild, ("from child" if self.child else "from parent",))
v = Forking()
tx.send(v)
if v.child:
    os._exit(0)
tx.close()
print(sorted(rx))
