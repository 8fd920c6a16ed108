"""Shared helper for review14 scripts: an LD_PRELOAD shim that SIGKILLs the process right after
a chosen libc call returns (a process "killed at any instant", at an exact instant).

MPSC_DIE_AFTER=<what>:<n>  (read at each call, so os.environ in a forked child arms it)
  marked   -- the n-th sendmsg whose first iovec is 8 bytes (a marked datagram: seq + body)
  recvmsg  -- the n-th recvmsg that received a datagram of more than 8 bytes
"""

import os
import subprocess
import sys
import tempfile

SRC = r"""
#define _GNU_SOURCE
#include <dlfcn.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>
static int seen_marked, seen_recv;
static int due(const char *what, int *seen) {
    const char *v = getenv("MPSC_DIE_AFTER");
    size_t n = strlen(what);
    if (v == NULL || strncmp(v, what, n) != 0 || v[n] != ':') return 0;
    return ++*seen == atoi(v + n + 1);
}
ssize_t sendmsg(int fd, const struct msghdr *msg, int flags) {
    static ssize_t (*real)(int, const struct msghdr *, int);
    if (!real) real = dlsym(RTLD_NEXT, "sendmsg");
    ssize_t r = real(fd, msg, flags);
    if (r > 0 && msg->msg_iovlen >= 2 && msg->msg_iov[0].iov_len == 8 && due("marked", &seen_marked))
        raise(SIGKILL);
    return r;
}
ssize_t recvmsg(int fd, struct msghdr *msg, int flags) {
    static ssize_t (*real)(int, struct msghdr *, int);
    if (!real) real = dlsym(RTLD_NEXT, "recvmsg");
    ssize_t r = real(fd, msg, flags);
    if (r > 8 && !(flags & MSG_PEEK) && due("recvmsg", &seen_recv))
        raise(SIGKILL);
    return r;
}
"""


def ensure_preloaded() -> None:
    """Re-exec this script with the shim preloaded (once)."""
    if os.environ.get("MPSC_SHIM_LOADED"):
        return
    d = tempfile.mkdtemp(prefix="mpsc-shim-")
    c, so = os.path.join(d, "shim.c"), os.path.join(d, "shim.so")
    with open(c, "w") as f:
        f.write(SRC)
    subprocess.run(["gcc", "-shared", "-fPIC", "-O2", c, "-o", so, "-ldl"], check=True)
    env = dict(os.environ, LD_PRELOAD=so, MPSC_SHIM_LOADED="1")
    os.execve(sys.executable, [sys.executable, *sys.argv], env)
