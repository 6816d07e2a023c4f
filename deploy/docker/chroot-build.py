#!/usr/bin/env python3
"""chroot-build.py: runs the instructions of deploy/Dockerfile in chroots, one per stage, as a
stand-in for `docker build` on a machine without a Docker engine (root, Debian, network to a
Debian mirror). It checks what `docker build` would: that every RUN step succeeds in a fresh
Debian 12 (install-deps.sh, the build, the unit tests, the runtime packages, the ldd check),
and it leaves the stages' file systems for trying the programs and slapd in them.

    debootstrap --variant=minbase bookworm BASE http://deb.debian.org/debian
    deploy/docker/chroot-build.py --base BASE --work WORK [STAGE...]

WORK/<stage> is a copy of BASE with the stage's instructions applied. Supported: ARG, FROM ...
AS NAME (always from BASE: a debootstrap'ed bookworm stands in for debian:bookworm-slim),
SHELL, WORKDIR, ENV, USER, COPY [--chmod=MODE] [--from=STAGE] SRC... DEST, RUN; EXPOSE,
VOLUME, HEALTHCHECK, ENTRYPOINT and CMD are printed, not applied. Not Docker: no layers, no
cache, no BuildKit; /proc, /sys and /dev are the host's during RUN. deploy/docker/README.md
says what it validated.
"""
import argparse
import json
import os
import re
import shlex
import shutil
import subprocess
import sys

SRC = os.path.normpath(os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", ".."))
PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"


def instructions(dockerfile):
    """The Dockerfile's instructions, continuation lines joined, comments dropped."""
    out, cur = [], ""
    for line in open(dockerfile).read().split("\n"):
        s = line.strip()
        if s.startswith("#"):
            continue
        if s.endswith("\\"):
            cur += s[:-1] + " "
            continue
        cur += s
        if cur.strip():
            out.append(cur.strip())
        cur = ""
    return out


def sh(cmd, **kw):
    print("+ " + " ".join(shlex.quote(c) for c in cmd), flush=True)
    subprocess.run(cmd, check=True, **kw)


def copy(stage, stages, rest):
    words = shlex.split(rest)
    opts = [w for w in words if w.startswith("--")]
    paths = [w for w in words if not w.startswith("--")]
    srcs, dest = paths[:-1], paths[-1]
    frm = [o.split("=", 1)[1] for o in opts if o.startswith("--from=")]
    chmod = [int(o.split("=", 1)[1], 8) for o in opts if o.startswith("--chmod=")]
    if not dest.startswith("/"):
        dest = os.path.join(stage["workdir"], dest)
    dst = stage["root"] + dest
    for s in srcs:
        sp = stages[frm[0]]["root"] + s if frm else os.path.join(SRC, s)
        if os.path.isdir(sp):  # a directory: its contents
            os.makedirs(dst, exist_ok=True)
            sh(["cp", "-a", sp.rstrip("/") + "/.", dst])
            continue
        if dest.endswith("/") or len(srcs) > 1:
            os.makedirs(dst, exist_ok=True)
            target = os.path.join(dst, os.path.basename(sp))
        else:
            os.makedirs(os.path.dirname(dst), exist_ok=True)
            target = dst
        shutil.copy2(sp, target)
        os.chmod(target, chmod[0] if chmod else os.stat(sp).st_mode & 0o777)


def run(stage, rest):
    root = stage["root"]
    mounted = []
    try:
        for m in ("proc", "sys", "dev"):
            sh(["mount", "--bind" if m == "proc" else "--rbind", "/" + m, root + "/" + m])
            mounted.append(root + "/" + m)
        shutil.copy("/etc/resolv.conf", root + "/etc/resolv.conf")
        env = {"PATH": PATH, "HOME": "/root"}
        env.update(stage["env"])
        cmd = "cd %s && %s" % (shlex.quote(stage["workdir"]), rest)
        sh(["chroot", "--userspec=" + stage["user"], root] + stage["shell"] + [cmd], env=env)
    finally:
        for m in reversed(mounted):
            subprocess.run(["umount", "-R", "-l", m])


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--base", required=True, help="a debootstrap'ed bookworm (minbase)")
    ap.add_argument("--work", required=True, help="where the stages' file systems go")
    ap.add_argument("--dockerfile", default=os.path.join(SRC, "deploy", "Dockerfile"))
    ap.add_argument("stages", nargs="*", help="only these stages (default: all)")
    a = ap.parse_args()
    if os.geteuid() != 0:
        sys.exit("chroot-build.py: needs root (chroot, mount)")
    # What Debian's container images have: no package may start a daemon.
    prc = os.path.join(a.base, "usr/sbin/policy-rc.d")
    if not os.path.exists(prc):
        with open(prc, "w") as f:
            f.write("#!/bin/sh\nexit 101\n")
        os.chmod(prc, 0o755)
    os.makedirs(a.work, exist_ok=True)
    stages, stage = {}, None
    for ins in instructions(a.dockerfile):
        op, _, rest = ins.partition(" ")
        op = op.upper()
        if op == "ARG":
            continue
        if op == "FROM":
            name = re.fullmatch(r"\S+ AS (\S+)", rest).group(1)
            stage = {"name": name, "root": os.path.join(a.work, name), "shell": ["/bin/sh", "-c"],
                     "workdir": "/", "env": {}, "user": "root", "meta": [],
                     "skip": bool(a.stages) and name not in a.stages}
            stages[name] = stage
            print("== stage %s%s" % (name, " (skipped)" if stage["skip"] else ""), flush=True)
            if not stage["skip"]:
                if os.path.exists(stage["root"]):
                    sh(["rm", "-rf", "--one-file-system", stage["root"]])
                sh(["cp", "-a", a.base, stage["root"]])
        elif stage["skip"]:
            continue
        elif op == "SHELL":
            stage["shell"] = json.loads(rest)
        elif op == "WORKDIR":
            stage["workdir"] = rest
            os.makedirs(stage["root"] + rest, exist_ok=True)
        elif op == "ENV":
            for kv in shlex.split(rest):
                k, _, v = kv.partition("=")
                stage["env"][k] = v
        elif op == "USER":
            stage["user"] = rest
        elif op == "COPY":
            copy(stage, stages, rest)
        elif op == "RUN":
            run(stage, rest)
        else:
            stage["meta"].append(ins)
    for name, s in stages.items():
        if not s["skip"]:
            print("stage %s in %s: user %s, env %s" % (name, s["root"], s["user"], s["env"]))
            for m in s["meta"]:
                print("  " + m)


if __name__ == "__main__":
    main()
