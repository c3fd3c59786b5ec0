/**
 * scapy as an independent packet oracle: packets go, as hex JSON lines, to one
 * `/usr/bin/python3 testkit/oracle.py` process per {@linkcode decode} call (scapy starts
 * slowly, so batch), which answers with scapy's decoding and its verdict on every checksum.
 *
 * Debian's python3-scapy imports only under `/usr/bin/python3`; the `python3` first on PATH
 * may be another build, so the interpreter is named by its full path.
 *
 * @module
 */

/** The interpreter that has Debian's python3-scapy. */
export const ORACLE_PYTHON = "/usr/bin/python3";

/** Path of the oracle script beside this module. */
export const ORACLE_SCRIPT = decodeURIComponent(new URL("./oracle.py", import.meta.url).pathname);

/** The IPv4 header as scapy read it. */
export interface DecodedIp {
  version: number;
  /** Header length in 32-bit words. */
  ihl: number;
  tos: number;
  /** The total-length field. */
  len: number;
  id: number;
  /** scapy's flag string: "", "DF", "MF", "DF+MF", "evil"... */
  flags: string;
  /** Fragment offset in 8-byte units. */
  frag: number;
  ttl: number;
  proto: number;
  chksum: number;
  src: string;
  dst: string;
  /** IP option bytes, hex. */
  optionsHex: string;
}

/**
 * A TCP option as scapy names it: `["MSS", 1460]`, `["WScale", 7]`, `["SAckOK", ""]`,
 * `["SAck", [left1, right1, left2, right2]]`, `["Timestamp", [value, echo]]`, `["NOP", null]`,
 * `["EOL", null]`; a kind scapy does not know (254 = TOA, say) is its number with the data
 * in hex: `[254, "1f90c6336402"]`. A known kind whose length does not fit its format keeps
 * its data as hex too.
 */
export type TcpOption = [name: string | number, value: number | number[] | string | null];

/** A TCP header as scapy read it. */
export interface DecodedTcp {
  sport: number;
  dport: number;
  seq: number;
  ack: number;
  /** Data offset in 32-bit words. */
  dataofs: number;
  reserved: number;
  /** Flag letters in scapy's order (`FSRPAUECN`): "S", "SA", "A", "PA", "FA", "R", ... */
  flags: string;
  window: number;
  chksum: number;
  urgptr: number;
  /** Options in wire order; scapy stops at the first EOL (and lists it). */
  options: TcpOption[];
  /** The whole option area, hex. */
  optionsHex: string;
  /** Payload (up to the IP total length), hex. */
  payload: string;
}

/** A UDP header as scapy read it. */
export interface DecodedUdp {
  sport: number;
  dport: number;
  len: number;
  chksum: number;
  /** Payload, hex. */
  payload: string;
}

/** An ICMP message as scapy read it. */
export interface DecodedIcmp {
  type: number;
  code: number;
  chksum: number;
  /** The second 32-bit word as a number. */
  rest: number;
  /** Echo request/reply identifier and sequence. */
  id?: number;
  seq?: number;
  /** ICMPv6 "packet too big" (2): the MTU. */
  mtu?: number;
  /** "Fragmentation needed" (3/4): the next-hop MTU. */
  nexthopmtu?: number;
  /** Redirect gateway. */
  gw?: string;
  /** Parameter problem pointer. */
  ptr?: number;
  /** Error messages (types 3, 4, 5, 11, 12): the quoted datagram, decoded the same way. */
  embedded?: Decoded;
  /** Other messages: the data after the header, hex. */
  payload?: string;
}

/** The oracle's answer for one packet. */
export interface Decoded {
  /** Set, and nothing else is, when the bytes could not be decoded at all. */
  error?: string;
  /** scapy's one-line summary, for assertion messages. */
  summary?: string;
  ip?: DecodedIp;
  /** Whether the header checksum is what scapy computes; null when the header is cut. */
  ipChecksumOk?: boolean | null;
  /** The bytes end before the IP total length (normal for a quoted datagram). */
  truncated?: boolean;
  tcp?: DecodedTcp;
  /** A TCP header cut short (inside an ICMP error): only the fields whose bytes are there. */
  tcpPartial?: Partial<DecodedTcp>;
  udp?: DecodedUdp;
  icmp?: DecodedIcmp;
  /**
   * Whether the TCP/UDP/ICMP checksum is what scapy computes (a UDP checksum of 0, "none",
   * counts as right); null when it cannot be judged: truncated packet or a fragment.
   */
  l4ChecksumOk?: boolean | null;
  /** Transport bytes that were not decoded (other protocols, later fragments), hex. */
  payload?: string;
  /**
   * The packet an IPIP (protocol 4) or IPv6-in-IPv6 (next header 41) packet carries; the
   * outer `l4ChecksumOk` then says whether the inner packet's checksums are all right.
   */
  inner?: Decoded;
}

function toHex(bytes: Uint8Array): string {
  return Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("");
}

/** Decodes a batch of IPv4 or IPv6 packets with scapy; the answers come back in the same order. */
export async function decode(packets: readonly Uint8Array[]): Promise<Decoded[]> {
  if (packets.length === 0) return [];
  const child = new Deno.Command(ORACLE_PYTHON, {
    // -I: ignore PYTHON* variables and user site-packages that could shadow Debian's scapy.
    args: ["-I", "-B", ORACLE_SCRIPT],
    stdin: "piped",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  // Collect output while writing: a large batch would otherwise fill both pipes and hang.
  const output = child.output();
  const writer = child.stdin.getWriter();
  const input = packets.map((p) => JSON.stringify(toHex(p))).join("\n") + "\n";
  try {
    await writer.write(new TextEncoder().encode(input));
  } finally {
    await writer.close().catch(() => {});
  }
  const out = await output;
  const stderr = new TextDecoder().decode(out.stderr).trim();
  if (!out.success) {
    throw new Error(`oracle.py failed (exit ${out.code}):\n${stderr}`);
  }
  const lines = new TextDecoder().decode(out.stdout).split("\n").filter((l) => l !== "");
  if (lines.length !== packets.length) {
    throw new Error(
      `oracle.py answered ${lines.length} lines for ${packets.length} packets:\n${stderr}`,
    );
  }
  return lines.map((l) => JSON.parse(l) as Decoded);
}

/** Decodes a single packet (one Python process; prefer {@linkcode decode} for many). */
export async function decodeOne(packet: Uint8Array): Promise<Decoded> {
  const [d] = await decode([packet]);
  return d;
}
