"""FULLNAT handshake relay for the conntrack wire test, run with /usr/bin/python3 (scapy) in lb.

The balancer's kernel drops the handshake (raw --syn DROP, --ctstate INVALID DROP); this script
sees it on the interfaces (packet taps run before netfilter) and relays it the way the engine
would: the client's SYN to the real server from LIP:LPORT with its sequence number shifted by
DELTA, and the server's SYN-ACK back to the client from VIP:VPORT with its ack shifted back.
Between the two it prints the handshake as one JSON line and waits for a line on stdin (the
test creates the conntrack entry meanwhile), so the client's third ACK and everything after it
meet the entry. Sent at layer 2 (sendp), so nothing the script sends is tracked by the kernel.

  ct_handshake.py VIP VPORT LIP LPORT RS RPORT DELTA LB_A_MAC CLIENT_MAC LB_B_MAC RS_MAC
"""

import json
import sys

from scapy.all import IP, TCP, AsyncSniffer, Ether, conf, sendp

conf.verb = 0
vip, vport, lip, lport, rs, rport, delta, lba_mac, client_mac, lbb_mac, rs_mac = sys.argv[1:12]
vport, lport, rport, delta = int(vport), int(lport), int(rport), int(delta)
M = 2**32


def say(obj):
    print(json.dumps(obj), flush=True)


def opt(p, name):
    for o in p[TCP].options:
        if o[0] == name:
            return o[1] if len(o) > 1 else True
    return None


syn_sniff = AsyncSniffer(
    iface="eth0", count=1,
    filter=f"tcp[tcpflags] & (tcp-syn|tcp-ack) == tcp-syn and dst host {vip} and dst port {vport}",
)
synack_sniff = AsyncSniffer(
    iface="eth1", count=1,
    filter=f"tcp[tcpflags] & (tcp-syn|tcp-ack) == (tcp-syn|tcp-ack) and src host {rs} and src port {rport}",
)
syn_sniff.start()
synack_sniff.start()
import time
time.sleep(0.5)  # AsyncSniffer has no reliable started signal on every scapy version
say({"ready": True})

syn = syn_sniff.join(timeout=20) or syn_sniff.results
if not syn:
    say({"error": "no SYN from the client"})
    sys.exit(1)
syn = syn[0]
cisn = syn[TCP].seq
sendp(
    Ether(src=lbb_mac, dst=rs_mac)
    / IP(src=lip, dst=rs)
    / TCP(sport=lport, dport=rport, flags="S", seq=(cisn + delta) % M,
          window=syn[TCP].window, options=syn[TCP].options),
    iface="eth1",
)
synack_sniff.join(timeout=10)
sa = synack_sniff.results
if not sa:
    say({"error": "no SYN-ACK from the server"})
    sys.exit(1)
sa = sa[0]
say({
    "cport": syn[TCP].sport, "cisn": cisn, "sisn": sa[TCP].seq, "ack": sa[TCP].ack,
    "wscaleC": opt(syn, "WScale"), "wscaleS": opt(sa, "WScale"),
    "sackC": opt(syn, "SAckOK") is not None, "sackS": opt(sa, "SAckOK") is not None,
})
sys.stdin.readline()
sendp(
    Ether(src=lba_mac, dst=client_mac)
    / IP(src=vip, dst=syn[IP].src)
    / TCP(sport=vport, dport=syn[TCP].sport, flags="SA", seq=sa[TCP].seq,
          ack=(sa[TCP].ack - delta) % M, window=sa[TCP].window, options=sa[TCP].options),
    iface="eth0",
)
say({"done": True})
