#!/usr/bin/python3
"""The attacker of tests/tests/hostile.rs: what an unprivileged user can run in a user namespace
of their own (`unshare -Urpf --mount-proc`, a tmpfs on /run) to look like a container's systemd.

It names itself `systemd`, binds /run/systemd/notify (read), /run/systemd/journal/socket (never
read) and a listening /run/systemd/private, and logs every connection's SO_PEERCRED as a JSON
line on stdout ({"peer": {"pid", "uid", "gid"}}: as this namespace sees them). Never a stand-in
for systemd: it only lies or stays silent.

    fake_manager.py silent   accepts connections and never answers a byte
    fake_manager.py liar     a minimal D-Bus peer whose unit names, states, results and jobs
                             carry terminal control sequences (ESC, BEL, OSC 52), in properties,
                             object paths (`_1b`) and signals (JobNew, JobRemoved,
                             PropertiesChanged)

stdin: `notify PAYLOAD` sends PAYLOAD to /run/systemd/notify from this process.
"""

import ctypes
import json
import os
import socket
import struct
import sys
import threading
import time

MODE = sys.argv[1]
ESC, BEL = "\x1b", "\x07"
EVIL_NAME = f"{ESC}[2J{ESC}]0;owned{BEL}.service"
EVIL_STATE = f"{ESC}]0;pwned{BEL}"
EVIL_RESULT = f"{ESC}]52;c;cHduZWQ={BEL}"
# bus_path_escape() of "evil.service", and a path that decodes to ESC.
EVIL_PATH = "/org/freedesktop/systemd1/unit/evil_2eservice"
ESC_PATH = "/org/freedesktop/systemd1/unit/x_1b_5b2J_07_2eservice"
ROOT = "/org/freedesktop/systemd1"
MANAGER = "org.freedesktop.systemd1.Manager"
UNIT = "org.freedesktop.systemd1.Unit"
SERVICE = "org.freedesktop.systemd1.Service"
PROPS = "org.freedesktop.DBus.Properties"

out_lock = threading.Lock()


def log(**kw):
    with out_lock:
        sys.stdout.write(json.dumps(kw) + "\n")
        sys.stdout.flush()


# ---------------------------------------------------------------- D-Bus marshalling (little endian)

class W:
    def __init__(self):
        self.b = bytearray()

    def pad(self, n):
        self.b += b"\0" * ((-len(self.b)) % n)

    def put(self, sig, val):
        c = sig[0]
        if c == "y":
            self.b.append(val)
        elif c in "bu":
            self.pad(4)
            self.b += struct.pack("<I", int(val))
        elif c == "t":
            self.pad(8)
            self.b += struct.pack("<Q", int(val))
        elif c in "so":
            e = val.encode()
            self.pad(4)
            self.b += struct.pack("<I", len(e)) + e + b"\0"
        elif c == "g":
            e = val.encode()
            self.b.append(len(e))
            self.b += e + b"\0"
        elif c == "v":
            vsig, vval = val
            self.put("g", vsig)
            self.put(vsig, vval)
        elif sig.startswith("a{"):
            ksig, vsig = sig[2], sig[3:-1]
            self.array(8, list(val.items()), lambda kv: (self.pad(8), self.put(ksig, kv[0]), self.put(vsig, kv[1])))
        elif c == "a":
            esig = sig[1:]
            align = 8 if esig[0] in "({t" else 4 if esig[0] in "sobua" else 1
            self.array(align, list(val), lambda e: self.put(esig, e))
        elif c == "(":
            self.pad(8)
            for s, v in zip(split(sig[1:-1]), val):
                self.put(s, v)
        else:
            raise ValueError(sig)

    def array(self, align, items, each):
        self.pad(4)
        at = len(self.b)
        self.b += b"\0\0\0\0"
        self.pad(align)
        start = len(self.b)
        for i in items:
            each(i)
        self.b[at:at + 4] = struct.pack("<I", len(self.b) - start)


def split(sig):
    """Complete types of a signature."""
    out, i = [], 0
    while i < len(sig):
        j = i
        depth = 0
        while True:
            ch = sig[j]
            if ch in "({":
                depth += 1
            elif ch in ")}":
                depth -= 1
            j += 1
            if depth == 0 and ch != "a":
                break
        out.append(sig[i:j])
        i = j
    return out


serial = [100]


def message(kind, fields, sig, args):
    body = W()
    for s, a in zip(split(sig), args):
        body.put(s, a)
    serial[0] += 1
    h = W()
    h.b += b"l" + bytes([kind, 0, 1])
    h.put("u", len(body.b))
    h.put("u", serial[0])
    fl = []
    for code, (vsig, val) in fields.items():
        fl.append((code, (vsig, val)))
    if sig:
        fl.append((8, ("g", sig)))
    h.put("a(yv)", fl)
    h.pad(8)
    return bytes(h.b) + bytes(body.b)


def reply(to_serial, sig="", *args):
    return message(2, {5: ("u", to_serial)}, sig, args)


def error(to_serial, name, text):
    return message(3, {5: ("u", to_serial), 4: ("s", name)}, "s", [text])


def signal(path, iface, member, sig, *args):
    return message(4, {1: ("o", path), 2: ("s", iface), 3: ("s", member)}, sig, args)


def parse(buf):
    """(message, rest) of the first whole message in buf, or (None, buf)."""
    if len(buf) < 16:
        return None, buf
    body_len, ser, flen = struct.unpack_from("<III", buf, 4)
    hdr_end = 16 + flen + ((-flen) % 8)
    total = hdr_end + body_len
    if len(buf) < total:
        return None, buf
    fields, p = {}, 16
    while p < 16 + flen:
        p += (-p) % 8
        code, slen = buf[p], buf[p + 1]
        s = buf[p + 2:p + 2 + slen].decode()
        p += 3 + slen
        if s in "so":
            p += (-p) % 4
            n = struct.unpack_from("<I", buf, p)[0]
            fields[code] = buf[p + 4:p + 4 + n].decode(errors="replace")
            p += 5 + n
        elif s == "g":
            n = buf[p]
            fields[code] = buf[p + 1:p + 1 + n].decode()
            p += 2 + n
        elif s == "u":
            p += (-p) % 4
            fields[code] = struct.unpack_from("<I", buf, p)[0]
            p += 4
    body = buf[hdr_end:total]
    strings, q = [], 0
    for s in fields.get(8, ""):
        if s in "so":
            q += (-q) % 4
            n = struct.unpack_from("<I", body, q)[0]
            strings.append(body[q + 4:q + 4 + n].decode(errors="replace"))
            q += 5 + n
    return {"serial": ser, "type": buf[1], "path": fields.get(1), "member": fields.get(3),
            "args": strings}, buf[total:]


# ---------------------------------------------------------------- the lies

UNIT_PROPS = {
    "Id": ("s", EVIL_NAME),
    "ActiveState": ("s", EVIL_STATE),
    "SubState": ("s", f"{ESC}[5mrunning"),
    "StateChangeTimestampMonotonic": ("t", 1),
}
SERVICE_PROPS = {
    "Type": ("s", "notify"),
    "NotifyAccess": ("s", "all"),
    "Result": ("s", EVIL_RESULT),
    "MainPID": ("u", 1),
    "StatusText": ("s", f"{ESC}[31mred{BEL}"),
}


def answer(m):
    member, args = m["member"], m["args"]
    if member == "Subscribe":
        return reply(m["serial"])
    if member == "Get" and args[1:2] == ["Version"]:
        return reply(m["serial"], "v", ("s", "252"))
    if member == "Get" and args[1:2] == ["ServiceWatchdogs"]:
        return reply(m["serial"], "v", ("b", True))
    if member == "Get" and args[1:2] == ["JobType"]:
        return reply(m["serial"], "v", ("s", f"{ESC}[2Jstart{BEL}"))
    if member in ("GetUnit", "LoadUnit"):
        return reply(m["serial"], "o", ESC_PATH)
    if member == "GetAll":
        props = SERVICE_PROPS if args[:1] == [SERVICE] else UNIT_PROPS
        return reply(m["serial"], "a{sv}", props)
    return error(m["serial"], "org.freedesktop.DBus.Error.Failed", f"{ESC}]0;error{BEL}")


def lies():
    return [
        signal(ROOT, MANAGER, "JobNew", "uos", 7, ROOT + "/job/7", EVIL_NAME),
        signal(ROOT, MANAGER, "JobNew", "uos", 8, ROOT + "/job/8", "evil.service"),
        signal(EVIL_PATH, PROPS, "PropertiesChanged", "sa{sv}as", UNIT,
               {"ActiveState": ("s", EVIL_STATE), "SubState": ("s", f"{ESC}[5mstart")}, []),
        signal(EVIL_PATH, PROPS, "PropertiesChanged", "sa{sv}as", SERVICE,
               {"Result": ("s", EVIL_RESULT), "MainPID": ("u", 1),
                "StatusText": ("s", f"{ESC}[2J")}, []),
        signal(ESC_PATH, PROPS, "PropertiesChanged", "sa{sv}as", UNIT,
               {"ActiveState": ("s", "failed"), "SubState": ("s", "failed")}, []),
        signal(ROOT, MANAGER, "JobRemoved", "uoss", 8, ROOT + "/job/8", "evil.service",
               EVIL_RESULT),
        signal(ROOT, MANAGER, "JobRemoved", "uoss", 7, ROOT + "/job/7", EVIL_NAME, "done"),
    ]


# ---------------------------------------------------------------- connections

def peer(conn):
    creds = conn.getsockopt(socket.SOL_SOCKET, socket.SO_PEERCRED, struct.calcsize("3i"))
    pid, uid, gid = struct.unpack("3i", creds)
    log(peer={"pid": pid, "uid": uid, "gid": gid})


def silent(conn):
    peer(conn)
    while conn.recv(4096):
        pass


def liar(conn):
    peer(conn)
    buf = b""
    # Authentication: one line at a time until BEGIN.
    while True:
        while b"\r\n" not in buf:
            data = conn.recv(4096)
            if not data:
                return
            buf += data
        line, buf = buf.split(b"\r\n", 1)
        line = line.lstrip(b"\0")
        log(auth=line.decode(errors="replace"))
        if line.startswith(b"AUTH EXTERNAL"):
            conn.sendall(b"OK 0123456789abcdef0123456789abcdef\r\n")
        elif line.startswith(b"AUTH"):
            conn.sendall(b"REJECTED EXTERNAL\r\n")
        elif line.startswith(b"NEGOTIATE_UNIX_FD"):
            conn.sendall(b"ERROR\r\n")
        elif line == b"BEGIN":
            break
    send = threading.Lock()

    def lie_on():
        try:
            while True:
                with send:
                    for s in lies():
                        conn.sendall(s)
                time.sleep(0.5)
        except OSError:
            return  # the observer hung up

    while True:
        data = conn.recv(65536)
        if not data:
            return
        buf += data
        while True:
            m, buf = parse(buf)
            if m is None:
                break
            if m["type"] != 1:
                continue
            with send:
                conn.sendall(answer(m))
            if m["member"] == "Subscribe":
                threading.Thread(target=lie_on, daemon=True).start()


def main():
    ctypes.CDLL(None).prctl(15, b"systemd", 0, 0, 0)  # PR_SET_NAME
    os.makedirs("/run/systemd/journal", exist_ok=True)
    notify = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    notify.bind("/run/systemd/notify")
    journal = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    journal.bind("/run/systemd/journal/socket")  # never read: a journal that stalls
    private = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    private.bind("/run/systemd/private")
    private.listen(16)
    threading.Thread(target=lambda: [notify.recv(4096) for _ in iter(int, 1)], daemon=True).start()

    def serve():
        while True:
            conn, _ = private.accept()
            threading.Thread(target={"silent": silent, "liar": liar}[MODE], args=(conn,),
                             daemon=True).start()

    threading.Thread(target=serve, daemon=True).start()
    log(ready=True)
    for line in sys.stdin:
        cmd, _, arg = line.rstrip("\n").partition(" ")
        if cmd == "notify":
            s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
            s.sendto(arg.encode(), "/run/systemd/notify")
            s.close()
            log(sent=arg)
    # stdin closed: the test is done with us.


main()
