#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0
"""Writes the seed corpora of the fuzz targets to tests/fuzz/corpus/<target>/.

The seeds are checked in (small files); run this only to regenerate them:
    tests/fuzz/gen-corpus.py          (needs qemu-img for the qcow2 seeds)
Each seed follows the input layout described at the top of fuzz_<target>.c.
"""
import gzip
import os
import shutil
import struct
import subprocess
import sys
import tempfile

TOP = os.path.dirname(os.path.abspath(__file__))
OUT = os.path.join(TOP, "corpus")
RAM = 0x40000000  # FZ_RAM_GPA


def put(target, name, data):
    d = os.path.join(OUT, target)
    os.makedirs(d, exist_ok=True)
    with open(os.path.join(d, name), "wb") as f:
        f.write(data)


def e16(be, v):
    return struct.pack(">H" if be else "<H", v & 0xFFFF)


def e32(be, v):
    return struct.pack(">I" if be else "<I", v & 0xFFFFFFFF)


def e64(be, v):
    return struct.pack(">Q" if be else "<Q", v)


def desc(be, addr, length, flags, nxt):
    return e64(be, addr) + e32(be, length) + e16(be, flags) + e16(be, nxt)


class Ram:
    """Guest RAM image from gpa RAM."""

    def __init__(self):
        self.b = bytearray()

    def at(self, off, data):
        if len(self.b) < off + len(data):
            self.b.extend(b"\0" * (off + len(data) - len(self.b)))
        self.b[off:off + len(data)] = data


NEXT, WRITE, INDIRECT = 1, 2, 4


def ring_image(be, num, desc_off, avail_off, chains, indirect_at=None):
    """Descriptors, avail ring with one head per chain; returns Ram."""
    r = Ram()
    i = 0
    heads = []
    for chain in chains:
        heads.append(i)
        for j, (addr, length, flags) in enumerate(chain):
            nf = flags | (NEXT if j + 1 < len(chain) else 0)
            r.at(desc_off + 16 * i, desc(be, addr, length, nf, i + 1))
            i += 1
    if indirect_at is not None:
        table, entries = indirect_at
        heads.append(i)
        r.at(desc_off + 16 * i, desc(be, RAM + table, 16 * len(entries), INDIRECT, 0))
        for j, (addr, length, flags) in enumerate(entries):
            nf = flags | (NEXT if j + 1 < len(entries) else 0)
            r.at(table + 16 * j, desc(be, addr, length, nf, j + 1))
        i += 1
    r.at(avail_off, e16(be, 0) + e16(be, len(heads)))
    for k, h in enumerate(heads):
        r.at(avail_off + 4 + 2 * k, e16(be, h))
    return r


# ---- virtqueue: flags numsel nops ops RAM ----
def vq_op(op, a=0, b=0, c=0):
    return struct.pack("<BBHI", op, a, b, c)


def virtqueue():
    for be in (False, True):
        for flags_extra, name in ((0, "plain"), (2, "event"), (4, "indirect"), (6, "both")):
            num = 8
            flags = (1 if be else 0) | flags_extra
            chains = [
                [(RAM + 0x400, 16, 0), (RAM + 0x600, 512, WRITE), (RAM + 0x900, 1, WRITE)],
                [(RAM + 0xA00, 64, 0)],
            ]
            ind = (0x300, [(RAM + 0xB00, 32, 0), (RAM + 0xC00, 100, WRITE)]) if flags & 4 else None
            r = ring_image(be, num, 0, 16 * num, chains, ind)
            ops = vq_op(1) + vq_op(2, c=17) + vq_op(7) + vq_op(0, c=1) + vq_op(3, b=5) + vq_op(0)
            data = bytes([flags, 3, 6]) + ops + bytes(r.b)
            put("virtqueue", "%s-%s" % ("be" if be else "le", name), data)
            if not be:
                # the LE image walked beside its byte-swapped BE twin
                put("virtqueue", "twin-" + name, bytes([flags | 32]) + data[1:])
    # explicit addresses, a loop and a bad next: errors the walker must refuse
    r = Ram()
    r.at(0x100, desc(False, RAM + 0x400, 8, NEXT, 0))
    r.at(0x200, e16(False, 0) + e16(False, 1) + e16(False, 0))
    data = bytes([8, 2]) + struct.pack("<III", 0x100, 0x200, 0x1000) + bytes([1]) + vq_op(0) + bytes(r.b)
    put("virtqueue", "loop", data)


# ---- mmio: setup nops ops RAM ----
REGS = {"dev_feat_sel": 0, "drv_feat": 1, "drv_feat_sel": 2, "page_size": 3, "queue_sel": 4,
        "queue_num": 5, "queue_align": 6, "queue_pfn": 7, "queue_ready": 8, "notify": 9,
        "int_ack": 10, "status": 11, "desc_lo": 12, "desc_hi": 13, "avail_lo": 14,
        "avail_hi": 15, "used_lo": 16, "used_hi": 17, "config": 18}
OP_REG, OP_WRITE, OP_READ, OP_NOTIFY, OP_RAM, OP_VCPU, OP_INPUT, OP_ISR, OP_BRINGUP = range(9)


def mop(kind, a=0, b=0, v=0):
    return struct.pack("<BBHI", kind, a, b, v)


def reg(name, v):
    return mop(OP_REG, REGS[name], 0, v)


def mmio_seed(name, dev, legacy, be, chains, feat, queue=0, extra=b"", vcpu_be=False):
    num = 16
    setup = dev | (4 if legacy else 0) | (0x40 if vcpu_be else 0)
    ops = mop(OP_BRINGUP, 0, feat >> 32, feat & 0xFFFFFFFF)
    ops += reg("queue_sel", queue) + reg("queue_num", num)
    base = 0x1000
    if legacy:
        ops += reg("queue_align", 4096) + reg("queue_pfn", (RAM + base) // 4096)
    else:
        ops += reg("desc_lo", RAM + base) + reg("desc_hi", 0)
        ops += reg("avail_lo", RAM + base + 16 * num) + reg("avail_hi", 0)
        ops += reg("used_lo", RAM + base + 0x1000) + reg("used_hi", 0)
        ops += reg("queue_ready", 1)
    ops += reg("status", 15 if not legacy else 7)
    ops += extra
    ops += mop(OP_NOTIFY, 0, 0, queue) + mop(OP_ISR) + mop(OP_READ, 2, 0x70)
    r = ring_image(be, num, base, base + 16 * num, [])
    rr = ring_image(be, num, base, base + 16 * num, chains)
    r = rr
    nops = len(ops) // 8
    return setup, bytes([setup, nops]) + ops + bytes(r.b)


def blk_req(be, typ, sector):
    return e32(be, typ) + e32(be, 0) + e64(be, sector)


def mmio():
    bit = lambda n: 1 << n
    for legacy, be in ((False, False), (True, False), (True, True)):
        tag = "modern" if not legacy else ("legacy-be" if be else "legacy-le")
        feat = bit(32) if not legacy else bit(45 if be else 44)
        feat |= bit(28)  # indirect
        # blk: a write of one sector, then a read of it
        chains = [
            [(RAM + 0x100, 16, 0), (RAM + 0x200, 512, 0), (RAM + 0x80, 1, WRITE)],
            [(RAM + 0x110, 16, 0), (RAM + 0x400, 512, WRITE), (RAM + 0x81, 1, WRITE)],
            [(RAM + 0x120, 16, 0), (RAM + 0x600, 20, WRITE), (RAM + 0x82, 1, WRITE)],
        ]
        setup, data = mmio_seed("blk-" + tag, 0, legacy, be, chains, feat)
        img = bytearray(data)
        # request headers live in the image at RAM offsets 0x100.. (after the ops)
        hdr_at = 2 + data[1] * 8
        ram = bytearray(data[hdr_at:])
        ram.extend(b"\0" * max(0, 0x2000 - len(ram)))
        ram[0x100:0x110] = blk_req(be, 1, 3)
        ram[0x110:0x120] = blk_req(be, 0, 3)
        ram[0x120:0x130] = blk_req(be, 8, 0)
        ram[0x200:0x400] = bytes((i * 3) & 0xFF for i in range(512))
        put("mmio", "blk-" + tag, bytes(img[:hdr_at]) + bytes(ram[:0x1200]))
        # rng: two writable buffers
        chains = [[(RAM + 0x200, 64, WRITE)], [(RAM + 0x300, 16, WRITE), (RAM + 0x400, 16, WRITE)]]
        put("mmio", "rng-" + tag, mmio_seed("rng", 1, legacy, be, chains, feat)[1])
        # console: tx on queue 1, rx input on queue 0
        chains = [[(RAM + 0x200, 12, 0)]]
        s, d = mmio_seed("con", 2, legacy, be, chains, feat, queue=1,
                         extra=mop(OP_INPUT, 8, 0x200))
        put("mmio", "console-" + tag, d)
        # 9p: Tversion through the ring
        chains = [[(RAM + 0x200, 21, 0), (RAM + 0x400, 64, WRITE)]]
        s, d = mmio_seed("9p", 3, legacy, be, chains, feat)
        hdr_at = 2 + d[1] * 8
        ram = bytearray(d[hdr_at:])
        ram.extend(b"\0" * max(0, 0x2000 - len(ram)))
        ver = b"\x64\xff\xff" + struct.pack("<I", 8192) + struct.pack("<H", 8) + b"9P2000.L"
        ram[0x200:0x200 + 21] = struct.pack("<I", 4 + len(ver)) + ver
        put("mmio", "9p-" + tag, d[:hdr_at] + bytes(ram[:0x1200]))
    # legacy, both byte-order bits acked: the queue must refuse (NEEDS_RESET)
    chains = [[(RAM + 0x200, 64, WRITE)]]
    put("mmio", "rng-legacy-both-bits", mmio_seed("rng", 1, True, False, chains, bit(44) | bit(45))[1])
    # legacy, no bit acked: the vCPU's order at reset decides (BE here)
    put("mmio", "rng-legacy-vcpu-be", mmio_seed("rng", 1, True, True, chains, 0, vcpu_be=True)[1])


# ---- p9: flags (mflags len msg)* ----
def p9s(s):
    b = s.encode()
    return struct.pack("<H", len(b)) + b


def p9msg(typ, tag, body):
    return struct.pack("<IBH", 7 + len(body), typ, tag) + body


def p9_frame(msg):
    return bytes([1 | (5 << 1)]) + struct.pack("<H", len(msg)) + msg


def p9():
    I, Q = (lambda v: struct.pack("<I", v)), (lambda v: struct.pack("<Q", v))
    walk = lambda fid, nfid, *names: p9msg(110, 2, I(fid) + I(nfid) + struct.pack("<H", len(names)) + b"".join(p9s(n) for n in names))
    seqs = {
        "read": [walk(0, 1, "f"), p9msg(12, 3, I(1) + I(0)), p9msg(116, 4, I(1) + Q(0) + I(100)),
                 p9msg(120, 5, I(1))],
        "write": [walk(0, 1), p9msg(14, 3, I(1) + p9s("new") + I(0o102) + I(0o644) + I(0)),
                  p9msg(118, 4, I(1) + Q(3) + I(5) + b"hello"), p9msg(50, 5, I(1) + I(0)),
                  p9msg(24, 6, I(1) + Q(0x3FFF))],
        "dir": [walk(0, 1, "d"), p9msg(12, 3, I(1) + I(0o200000)), p9msg(40, 4, I(1) + Q(0) + I(4096)),
                p9msg(72, 5, I(0) + p9s("sub") + I(0o755) + I(0)),
                p9msg(16, 6, I(0) + p9s("ln") + p9s("f") + I(0)),
                p9msg(74, 7, I(0) + p9s("ln") + I(1) + p9s("ln2")),
                p9msg(76, 8, I(1) + p9s("ln2") + I(0)), p9msg(8, 9, I(0))],
        "escape": [walk(0, 1, "..", ".."), walk(0, 2, "esc"), p9msg(12, 3, I(2) + I(0)),
                   p9msg(22, 4, I(2)), walk(0, 3, "l"),
                   p9msg(26, 5, I(2) + I(1) + I(0o777) + I(0) + I(0) + Q(0) + Q(0) * 4),
                   p9msg(70, 6, I(0) + I(2) + p9s("hard")),
                   p9msg(18, 7, I(0) + p9s("fifo") + I(0o10644) + I(0) + I(0) + I(0))],
        "lock": [walk(0, 1, "f"), p9msg(12, 3, I(1) + I(2)),
                 p9msg(52, 4, I(1) + b"\x01" + I(0) + Q(0) + Q(10) + I(1) + p9s("c")),
                 p9msg(54, 5, I(1) + b"\x00" + Q(0) + Q(10) + I(1) + p9s("c")),
                 p9msg(30, 6, I(1) + I(4) + p9s("user.x")),
                 p9msg(32, 7, I(1) + p9s("user.y") + Q(3) + I(0)), p9msg(108, 8, struct.pack("<H", 4))],
    }
    for name, msgs in seqs.items():
        put("p9", name, bytes([2]) + b"".join(p9_frame(m) for m in msgs))
    put("p9", "version", bytes([0]) + p9_frame(p9msg(100, 0xFFFF, I(8192) + p9s("9P2000.L"))))


# ---- qcow2: flags nops ops image ----
def qop(kind, x, length, off):
    return struct.pack("<BBHQ", kind, x, length, off)


def qcow2():
    if not shutil.which("qemu-img"):
        print("gen-corpus: no qemu-img, qcow2 seeds not regenerated", file=sys.stderr)
        return
    ops = qop(0, 0, 4096, 0) + qop(1, 0x41, 1024, 512) + qop(0, 3, 2048, 0) + qop(4, 1, 0x8, 1024) + \
        qop(3, 0, 0x10, 0) + qop(2, 0, 0, 0) + qop(0, 7, 512, 1 << 62)
    hdr = bytes([0, len(ops) // 12]) + ops
    with tempfile.TemporaryDirectory() as t:
        raw = os.path.join(t, "base.raw")
        with open(raw, "wb") as f:
            f.write(bytes((i * 7 + (i >> 9)) & 0xFF for i in range(0x20000)))
        small = os.path.join(t, "small.raw")
        with open(small, "wb") as f:
            f.write(bytes((i * 5) & 0xFF for i in range(0x3000)))
        runs = {
            "v3": ["create", "-f", "qcow2", "-o", "cluster_size=512", "IMG", "64K"],
            "v2": ["create", "-f", "qcow2", "-o", "cluster_size=512,compat=0.10", "IMG", "64K"],
            "backing": ["create", "-f", "qcow2", "-o", "cluster_size=512", "-b", "base.raw", "-F", "raw", "IMG", "128K"],
            "data": ["convert", "-f", "raw", "-O", "qcow2", "-o", "cluster_size=512", small, "IMG"],
            "compressed": ["convert", "-c", "-f", "raw", "-O", "qcow2", "-o", "cluster_size=4096", small, "IMG"],
        }
        for name, args in runs.items():
            img = os.path.join(t, name + ".qcow2")
            subprocess.run(["qemu-img"] + [img if a == "IMG" else a for a in args], cwd=t,
                           check=True, stdout=subprocess.DEVNULL)
            with open(img, "rb") as f:
                data = f.read()
            if len(data) > 65536:
                print("gen-corpus: %s is %d bytes, skipped" % (name, len(data)), file=sys.stderr)
                continue
            put("qcow2", name, hdr + data)
            put("qcow2", name + "-ro", bytes([1]) + hdr[1:] + data)


# ---- loader: flags ram[4] base[2] initrd[4] kernel ----
def loader():
    pre = lambda flags, initrd=0x100000: bytes([flags]) + struct.pack("<IHI", 0x10000, 0, initrd)
    for be in (False, True):
        img = bytearray(4096)
        struct.pack_into("<IIQQQ", img, 0, 0x14000000, 0, 0x80000, 0x200000, 1 if be else 0)
        struct.pack_into("<I", img, 56, 0x644D5241)
        tag = "be" if be else "le"
        put("loader", "arm64-" + tag, pre(0) + bytes(img))
        put("loader", "arm64-gz-" + tag, pre(0) + gzip.compress(bytes(img), mtime=0))
        z = bytearray(4096)
        struct.pack_into("<IIII", z, 0x24, 0x016F2818, 0, 4096, 0x01020304 if be else 0x04030201)
        put("loader", "zimage-" + tag, pre(2) + bytes(z))
    old = bytearray(256)
    struct.pack_into("<I", old, 56, 0x644D5241)
    put("loader", "arm64-old", pre(0, 0) + bytes(old))
    put("loader", "flat", pre(1) + b"\x00\x00\xa0\xe1" * 16)
    put("loader", "elf", pre(0) + b"\x7fELF" + bytes(60))


# ---- control: mode (ops | client half) ----
C_CONNECT, C_SEND, C_CMD, C_SHUT, C_READ, C_CLOSE, C_EXPIRE, C_PUMP = range(8)
C_INFO, C_STAT, C_BIG, C_STOP, C_FAIL, C_NONSENSE = range(6)
C_LONGEST, C_TOO_LONG = 12, 13  # the line of CONTROL_CMD_MAX - 2 bytes, and one more


def cop(kind, a=0, b=0, data=b""):
    if kind == C_SEND:
        b = len(data)
    return bytes([kind, a, b]) + data


def control():
    srv = lambda *ops: bytes([0]) + b"".join(ops)
    put("control", "info", srv(cop(C_CONNECT), cop(C_CMD, 0, C_INFO), cop(C_PUMP, 1), cop(C_READ)))
    put("control", "big", srv(cop(C_CONNECT), cop(C_CMD, 0, C_BIG), cop(C_PUMP, 3), cop(C_READ),
                              cop(C_PUMP, 3)))
    # more clients than slots: the rest wait in the backlog
    put("control", "crowd", srv(*[cop(C_CONNECT) for _ in range(6)],
                                *[cop(C_CMD, i, i) for i in range(6)], cop(C_PUMP, 3)))
    put("control", "partial", srv(cop(C_CONNECT), cop(C_SEND, 0, data=b"in"), cop(C_PUMP),
                                  cop(C_SEND, 0, data=b"f\0o\nrest"), cop(C_PUMP), cop(C_READ)))
    put("control", "long", srv(cop(C_CONNECT), cop(C_CMD, 0, C_LONGEST), cop(C_CONNECT),
                               cop(C_CMD, 1, C_TOO_LONG), cop(C_PUMP, 3)))
    put("control", "eof", srv(cop(C_CONNECT), cop(C_SEND, 0, data=b"stat"), cop(C_SHUT),
                              cop(C_PUMP), cop(C_CONNECT), cop(C_SHUT, 1), cop(C_PUMP)))
    put("control", "deadline", srv(cop(C_CONNECT), cop(C_SEND, 0, data=b"in"), cop(C_PUMP),
                                   cop(C_EXPIRE), cop(C_PUMP), cop(C_READ)))
    put("control", "hangup", srv(cop(C_CONNECT), cop(C_CMD, 0, C_BIG), cop(C_PUMP),
                                 cop(C_CLOSE), cop(C_PUMP, 2)))
    # the client half: cflags (1 read the command, 2 pad, 4 hold, 8 bad name) tsel clen cmd answer
    cli = lambda cflags, tsel, cmd, answer: bytes([1, cflags, tsel, len(cmd)]) + cmd + answer
    put("control", "client-ok", cli(1, 0, b"info", b"name=x\nline2\nOK\n"))
    put("control", "client-err", cli(1, 0, b"stat", b"a\0b\nERR bad thing\n"))
    put("control", "client-unterminated", cli(1, 0, b"info", b"partial\nOK"))
    put("control", "client-hold", cli(1 | 4, 1, b"info", b"x\n"))
    put("control", "client-flood", cli(1 | 2, 100, b"info", b"line of the answer\n"))
    put("control", "client-unread", cli(0, 0, b"info", b"OK\n"))
    put("control", "client-name", cli(1 | 8, 0, b"a/b..c", b"OK\n"))


# ---- options: sel words separated by NUL ----
def options():
    w = lambda sel, *words: bytes([sel]) + b"\0".join(words)
    put("options", "run-min", w(0, b"-k", b"Image"))
    put("options", "run-all", w(0, b"--kernel=Image", b"-i", b"rd", b"-p", b"console=ttyS0 quiet",
        b"-m", b"1G", b"-c", b"4", b"--console", b"virtio", b"--aarch32", b"--irqchip=gicv2",
        b"--loglevel", b"debug", b"-d", b"disk.img,ro,format=qcow2", b"--9p", b"/srv,share,ro,setid",
        b"-n", b"mode=user,hostfwd=tcp:127.0.0.1:2222-:22", b"--rng", b"--virtio-transport",
        b"mmio-legacy", b"--ring-endian-offer", b"be", b"--debug-ring-endian", b"le", b"--name",
        b"vm-1", b"--timeout", b"30", b"--console-log", b"log.txt", b"--nodefaults",
        b"--no-ioeventfd", b"--no-irqfd", b"--no-seccomp"))
    put("options", "run-group", w(0, b"-zc8", b"-kImage"))
    put("options", "run-bad", w(0, b"-k", b"Image", b"-m", b"3M", b"stray"))
    put("options", "run-help", w(0, b"--he"))
    put("options", "run-dtb", w(0, b"--dump-dtb", b"out.dtb", b"--", b"-x"))
    put("options", "run-tap", w(0, b"-k", b"I", b"-n",
        b"mode=tap,tapif=lkvm0,host_ip=10.0.0.1/24,guest_mac=52:54:00:12:34:57", b"-n", b"mode=none"))
    put("options", "run-newline", w(0, b"-k", b"a\nb", b"--name", b"x\ny"))
    put("options", "specs", w(1, b"disk.img,ro,direct", b"d,format=raw", b",ro",
        b"mode=user,hostfwd=udp::53-10.0.2.15:53", b"/d,tag,owners", b"tcp:1.2.3.4:80-:8080",
        b"512M", b"2g", b"debug", b"vm.name_1"))
    put("options", "matrix", w(2, b"# comment\nname=be args=\"-k be/Image -i initrd.gz -p "
        b"'console=ttyS0 quiet'\" \\\n   expect=\"GUEST-DONE\" reject-re=\"Oops|BUG\"\n"
        b"name=reboot timeout=60 rc=2 args=\"-k $KDIR/Image -p reboot=psci\" expect-re='^ok [0-9]+'\n",
        b"booting\nGUEST-DONE\nok 12\nOops: bad\n"))
    put("options", "matrix-dup", w(2, b"name=a args=\"-k x\"\nname=a args=\"-k y\"\n"))
    put("options", "split", w(3, b"a 'b c' \"d $HOME\" \\e ${KDIR}x # c", b"$(x) `y` a|b",
        b"\"unterminated", b"$LKVM_FUZZ_WORDS"))


if __name__ == "__main__":
    for fn in (virtqueue, mmio, p9, qcow2, loader, control, options):
        fn()
