#!/usr/bin/env python3
"""tests/e2e/tls_client.py: a TLS client for the e2e tests that controls how its
ClientHello travels: whole, one byte per TCP segment, or split across three TLS records
(the handshake then goes on normally through ssl.MemoryBIO). Optionally through an HTTP
CONNECT tunnel first. Prints "status CODE" for an HTTP response, or "error TEXT" when the
handshake failed (e.g. the peer's alert), or "alert NAME" when raw bytes were sent.

  tls_client.py --to HOST:PORT [--connect NAME:PORT] [--sni NAME|--no-sni] [--ca FILE]
                [--hello whole|bytes|records3] [--raw malformed|huge|plain]
                [--cert FILE --key FILE] [--path /]
"""
import argparse, socket, ssl, sys, time

ALERTS = {40: "handshake_failure", 48: "unknown_ca", 49: "access_denied", 50: "decode_error",
          70: "protocol_version", 80: "internal_error", 112: "unrecognized_name", 116: "certificate_required"}


def tunnel(s, target):
    s.sendall(("CONNECT %s HTTP/1.1\r\nHost: %s\r\n\r\n" % (target, target)).encode())
    buf = b""
    while b"\r\n\r\n" not in buf:
        d = s.recv(4096)
        if not d:
            raise ConnectionError("tunnel closed")
        buf += d
    code = buf.split(b" ", 2)[1].decode()
    if code != "200":
        print("connect %s" % code)
        sys.exit(0)


def send_hello(s, hello, how):
    if how == "whole":
        s.sendall(hello)
    elif how == "bytes":
        for i in range(len(hello)):
            s.sendall(hello[i:i + 1])
            time.sleep(0.002)
    elif how == "records3":
        hdr, body = hello[:3], hello[5:]
        assert hello[0] == 0x16 and len(body) == int.from_bytes(hello[3:5], "big")
        a, b = len(body) // 3, 2 * len(body) // 3
        out = b""
        for part in (body[:a], body[a:b], body[b:]):
            out += hdr + len(part).to_bytes(2, "big") + part
        s.sendall(out)


def read_alert(s):
    data = b""
    try:
        while len(data) < 7:
            d = s.recv(4096)
            if not d:
                break
            data += d
    except (ConnectionResetError, socket.timeout):
        pass
    if len(data) >= 7 and data[0] == 0x15:
        return "alert " + ALERTS.get(data[6], str(data[6]))
    return "closed %d bytes" % len(data)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--to", required=True)
    ap.add_argument("--connect")
    ap.add_argument("--sni", default="edition.cnn.com")
    ap.add_argument("--no-sni", action="store_true")
    ap.add_argument("--ca")
    ap.add_argument("--cert")
    ap.add_argument("--key")
    ap.add_argument("--hello", default="whole")
    ap.add_argument("--raw")
    ap.add_argument("--path", default="/")
    ap.add_argument("--host", default="edition.cnn.com")
    a = ap.parse_args()
    host, port = a.to.rsplit(":", 1)
    s = socket.create_connection((host, int(port)), timeout=10)
    s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    if a.connect:
        tunnel(s, a.connect)
    if a.raw == "malformed":
        s.sendall(b"\x16\x03\x01\x00\x10\x01\x00\x00\x0c" + b"\xff" * 12)
        print(read_alert(s))
        return
    if a.raw == "huge":
        # a ClientHello that says it is 20000 bytes long: past the 16 KiB limit
        body = b"\x01" + (20000).to_bytes(3, "big") + b"\x03\x03" + b"\x00" * 16378
        s.sendall(b"\x16\x03\x01" + len(body).to_bytes(2, "big") + body)
        print(read_alert(s))
        return
    if a.raw == "plain":
        s.sendall(b"GET / HTTP/1.1\r\nHost: edition.cnn.com\r\n\r\n")
        print(read_alert(s))
        return
    ctx = ssl.create_default_context(cafile=a.ca) if a.ca else ssl._create_unverified_context()
    if a.no_sni or not a.ca:
        ctx.check_hostname = False
    if not a.ca:
        ctx.verify_mode = ssl.CERT_NONE
    if a.cert:
        ctx.load_cert_chain(a.cert, a.key)
    inc, out = ssl.MemoryBIO(), ssl.MemoryBIO()
    obj = ctx.wrap_bio(inc, out, server_hostname=None if a.no_sni else a.sni)
    try:
        try:
            obj.do_handshake()
        except ssl.SSLWantReadError:
            pass
        send_hello(s, out.read(), a.hello)
        while True:
            try:
                obj.do_handshake()
                break
            except ssl.SSLWantReadError:
                o = out.read()
                if o:
                    s.sendall(o)
                d = s.recv(65536)
                if not d:
                    raise ConnectionError("closed during the handshake")
                inc.write(d)
        obj.write(("GET %s HTTP/1.1\r\nHost: %s\r\nConnection: close\r\n\r\n" % (a.path, a.host)).encode())
        s.sendall(out.read())
        resp = b""
        while True:
            try:
                d = obj.read(65536)
                if not d:
                    break  # close_notify
                resp += d
            except ssl.SSLWantReadError:
                o = out.read()
                if o:
                    s.sendall(o)
                d = s.recv(65536)
                if not d:
                    break
                inc.write(d)
            except ssl.SSLZeroReturnError:
                break
    except (ssl.SSLError, OSError) as e:
        print("error %s" % e)
        return
    line = resp.split(b"\r\n", 1)[0].decode(errors="replace")
    print("status %s" % (line.split(" ")[1] if " " in line else line))
    sys.stdout.write(resp.split(b"\r\n\r\n", 1)[-1].decode(errors="replace"))


main()
