"""TCP connections driven line by line, for tests of what becomes of connections the balancer lost.

Run under /usr/bin/python3 inside a namespace. Commands come on stdin, one per line; every event
is printed on stdout as one line, flushed at once, so a test can wait for it.

  serve ADDR PORT     accept on ADDR:PORT; prints "listening", then per connection
                      "accept PEERPORT", and "reset PEERPORT" or "closed PEERPORT" when it ends.
                      Every line received is echoed back. Stdin: "poke PEERPORT" writes a line on
                      that connection (to see what the network answers); "list" prints the open
                      connections' peer ports.
  client HOST PORT    stdin: "open NAME [FROM [SECONDS]]" connects, from address FROM when given,
                      giving up after SECONDS (default 15; prints "opened NAME MS" or
                      "failed NAME ERR"),
                      "send NAME TEXT" writes a line and waits up to 10 s for the echo (prints
                      "reply NAME TEXT MS", "reset NAME MS", "closed NAME MS" or "timeout NAME").
"""

import os
import selectors
import socket
import sys
import time


def say(*words):
    print(*words, flush=True)


def serve(addr, port):
    sel = selectors.DefaultSelector()
    lsock = socket.socket(socket.AF_INET6 if ":" in addr else socket.AF_INET, socket.SOCK_STREAM)
    lsock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    lsock.bind((addr, port))
    lsock.listen(128)
    lsock.setblocking(False)
    sel.register(lsock, selectors.EVENT_READ, "listen")
    sel.register(0, selectors.EVENT_READ, "stdin")
    conns = {}
    pending = b""
    say("listening")

    def end(peer, word):
        c = conns.pop(peer, None)
        if c is not None:
            sel.unregister(c)
            c.close()
            say(word, peer)

    def command(words):
        if words[:1] == ["poke"]:
            c = conns.get(int(words[1]))
            if c is None:
                say("unknown", words[1])
                return
            try:
                c.send(b"poke\n")
                say("poked", words[1])
            except OSError:
                end(int(words[1]), "reset")
        elif words[:1] == ["list"]:
            say("open", *sorted(conns))

    while True:
        for key, _ in sel.select():
            if key.data == "listen":
                c, (_, peer, *_rest) = lsock.accept()
                c.setblocking(False)
                conns[peer] = c
                sel.register(c, selectors.EVENT_READ, peer)
                say("accept", peer)
            elif key.data == "stdin":
                # Raw reads, split here: a buffered readline could keep a second command in
                # its buffer where select() no longer sees it.
                chunk = os.read(0, 4096)
                if not chunk:
                    return
                pending += chunk
                while b"\n" in pending:
                    line, pending = pending.split(b"\n", 1)
                    command(line.decode().split())
            else:
                peer = key.data
                try:
                    data = key.fileobj.recv(4096)
                except ConnectionResetError:
                    end(peer, "reset")
                    continue
                if not data:
                    end(peer, "closed")
                    continue
                try:
                    key.fileobj.send(data)
                except OSError:
                    end(peer, "reset")


def client(host, port):
    conns = {}
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    for line in sys.stdin:
        words = line.split()
        if words[:1] == ["open"]:
            name = words[1]
            s = socket.socket(family, socket.SOCK_STREAM)
            if len(words) > 2:
                s.bind((words[2], 0))
            s.settimeout(float(words[3]) if len(words) > 3 else 15)
            t0 = time.monotonic()
            try:
                s.connect((host, port))
            except OSError as e:
                say("failed", name, type(e).__name__)
                continue
            conns[name] = s
            say("opened", name, round((time.monotonic() - t0) * 1000))
        elif words[:1] == ["send"]:
            name, text = words[1], words[2]
            s = conns[name]
            s.settimeout(10)
            t0 = time.monotonic()
            ms = lambda: round((time.monotonic() - t0) * 1000)
            try:
                s.send((text + "\n").encode())
                data = s.recv(4096)
            except ConnectionResetError:
                say("reset", name, ms())
                continue
            except socket.timeout:
                say("timeout", name)
                continue
            if not data:
                say("closed", name, ms())
            else:
                say("reply", name, data.decode().strip(), ms())


if __name__ == "__main__":
    mode, host, port = sys.argv[1], sys.argv[2], int(sys.argv[3])
    {"serve": serve, "client": client}[mode](host, port)
