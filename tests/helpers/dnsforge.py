#!/usr/bin/python3
# DNS answers that no one should believe, for t103:
#   listen ADDR PORTFILE          a UDP socket on ADDR that waits for one datagram
#   inject SERVER DST PORT NAME ANSWER
#                                 from SERVER port 53, an answer to a question never
#                                 asked: NAME has address ANSWER
#   server ADDR READYFILE WRONG RIGHT
#                                 answers one A question on ADDR port 53 twice: first
#                                 with a wrong transaction id (address WRONG), then
#                                 rightly (address RIGHT)
#   ask SERVER NAME               asks for NAME (A) and waits for two answers
# Every step is bounded by a timeout.
import os
import socket
import struct
import sys


def name_wire(name):
    out = b""
    for label in name.split("."):
        out += bytes([len(label)]) + label.encode()
    return out + b"\0"


def answer(txid, name, addr):
    question = name_wire(name) + struct.pack("!HH", 1, 1)
    record = b"\xc0\x0c" + struct.pack("!HHIH", 1, 1, 60, 4) + socket.inet_aton(addr)
    return struct.pack("!HHHHHH", txid, 0x8180, 1, 1, 0, 0) + question + record


def main(argv):
    cmd = argv[1]
    if cmd == "listen":
        s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        s.bind((argv[2], 0))
        s.settimeout(10)
        with open(argv[3] + ".tmp", "w") as f:
            f.write("%d\n" % s.getsockname()[1])
        os.rename(argv[3] + ".tmp", argv[3])
        s.recvfrom(2048)
    elif cmd == "inject":
        s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        s.bind((argv[2], 53))
        s.sendto(answer(0x5eed, argv[5], argv[6]), (argv[3], int(argv[4])))
    elif cmd == "server":
        s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        s.bind((argv[2], 53))
        s.settimeout(10)
        open(argv[3], "w").close()
        q, peer = s.recvfrom(2048)
        txid = struct.unpack("!H", q[:2])[0]
        labels = []
        i = 12
        while q[i]:
            labels.append(q[i + 1:i + 1 + q[i]].decode())
            i += q[i] + 1
        name = ".".join(labels)
        s.sendto(answer(txid ^ 0x0101, name, argv[4]), peer)
        s.sendto(answer(txid, name, argv[5]), peer)
    elif cmd == "ask":
        s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        s.settimeout(10)
        s.connect((argv[2], 53))
        s.send(struct.pack("!HHHHHH", 0x7a11, 0x0100, 1, 0, 0, 0) + name_wire(argv[3]) +
               struct.pack("!HH", 1, 1))
        s.recv(2048)
        s.recv(2048)
    return 0


sys.exit(main(sys.argv))
