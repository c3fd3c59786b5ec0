import assert from "node:assert/strict";
import { INET } from "./family_ipv4.ts";
import { INET6 } from "./family_ipv6.ts";
import type { AddressFamily } from "./family.ts";
import { Dir, NO_SESSION, SessionTable } from "./session_table.ts";
import { LocalAddress, RealServer, Service } from "./service.ts";

const TCP = 6;
const C = 0xc6336402; // 198.51.100.2
const V = 0xc633640a; // 198.51.100.10
const L = 0xcb0071c9; // 203.0.113.201
const R = 0xcb00710b; // 203.0.113.11

const SVC = new Service(
  0,
  { protocol: "tcp", address: "198.51.100.10", port: 80 },
  TCP,
  V,
  "rr",
  0,
);
const LA = new LocalAddress(0, SVC, L, "203.0.113.201", 1025, 65535);

/** A header carrying only what the family reads: version, source and destination. */
function header4(src: number, dst: number): Uint8Array {
  const b = new Uint8Array(20);
  const d = new DataView(b.buffer);
  b[0] = 0x45;
  d.setUint32(12, src);
  d.setUint32(16, dst);
  return b;
}

/** The IPv4 session `caddr:cport -> vaddr:vport` from `laddr`:`lport` to `daddr`:`dport`. */
function insert(
  t: SessionTable,
  proto: number,
  c: number,
  cport: number,
  v: number,
  vport: number,
  lport: number,
  d: number,
  dport: number,
): number {
  const rs = new RealServer(0, SVC, d, "", dport, 1, "fullnat");
  return INET.insert(t, proto, header4(c, v), 0, cport, vport, LA, lport, rs);
}

/** The entry the IPv4 packet `s:sport -> d:dport` hits. */
function lookup(
  t: SessionTable,
  proto: number,
  s: number,
  sport: number,
  d: number,
  dport: number,
) {
  return INET.lookup(t, header4(s, d), 0, proto, sport, dport);
}

Deno.test("IPv4 lookup finds a session from both tuples and tells the direction", () => {
  const t = new SessionTable(8);
  const id = insert(t, TCP, C, 40000, V, 80, 2000, R, 8080);
  assert.equal(lookup(t, TCP, C, 40000, V, 80), id * 2 + Dir.In);
  assert.equal(lookup(t, TCP, R, 8080, L, 2000), id * 2 + Dir.Out);
  assert.equal(lookup(t, TCP, V, 80, C, 40000), NO_SESSION, "reversed in-tuple is not a match");
  assert.equal(lookup(t, 17, C, 40000, V, 80), NO_SESSION, "other protocol");
  assert.equal(lookup(t, TCP, C, 40001, V, 80), NO_SESSION, "other port");
});

Deno.test("SessionTable.remove() unlinks both entries and frees the slot for reuse", () => {
  const t = new SessionTable(2);
  const a = insert(t, TCP, C, 1, V, 80, 1025, R, 80);
  const b = insert(t, TCP, C, 2, V, 80, 1026, R, 80);
  assert.equal(insert(t, TCP, C, 3, V, 80, 1027, R, 80), NO_SESSION, "full table refuses");
  t.remove(a);
  assert.equal(t.size, 1);
  assert.equal(lookup(t, TCP, C, 1, V, 80), NO_SESSION);
  assert.equal(lookup(t, TCP, R, 80, L, 1025), NO_SESSION);
  assert.equal(lookup(t, TCP, C, 2, V, 80), b * 2);
  const c = insert(t, TCP, C, 3, V, 80, 1027, R, 80);
  assert.equal(c, a, "freed slot reused");
  assert.equal(lookup(t, TCP, R, 80, L, 1027), c * 2 + 1);
});

Deno.test("SessionTable keeps every session findable under many hash collisions and removals", () => {
  const n = 5000;
  const t = new SessionTable(n);
  const ids: number[] = [];
  for (let i = 0; i < n; i++) {
    ids.push(insert(t, TCP, C + (i % 7), 1024 + i, V, 80, 1025 + i, R, 80));
  }
  for (let i = 0; i < n; i += 2) t.remove(ids[i]);
  for (let i = 0; i < n; i++) {
    const inE = lookup(t, TCP, C + (i % 7), 1024 + i, V, 80);
    const outE = lookup(t, TCP, R, 80, L, 1025 + i);
    if (i % 2 === 0) {
      assert.equal(inE, NO_SESSION);
      assert.equal(outE, NO_SESSION);
    } else {
      assert.equal(inE, ids[i] * 2);
      assert.equal(outE, ids[i] * 2 + 1);
    }
  }
  assert.equal(t.size, n / 2);
});

/** An IPv6 header whose source is `2001:db8::<s>` and destination `2001:db8::<d>`. */
function header6(s: number, d: number): Uint8Array {
  const b = new Uint8Array(40);
  const v = new DataView(b.buffer);
  b[0] = 0x60;
  v.setUint32(8, 0x20010db8);
  v.setUint32(20, s);
  v.setUint32(24, 0x20010db8);
  v.setUint32(36, d);
  return b;
}

function words6(last: number): Uint32Array {
  return Uint32Array.of(0x20010db8, 0, 0, last);
}

Deno.test("IPv4 and IPv6 sessions share one table and index without ever matching each other", () => {
  const t = new SessionTable(8);
  const fams: AddressFamily[] = [INET, INET6];
  const la6 = new LocalAddress(1, SVC, 0, "2001:db8::c9", 1025, 65535);
  la6.addr6 = words6(0xc9);
  const rs6 = new RealServer(1, SVC, 0, "2001:db8::b", 8080, 1, "fullnat");
  rs6.addr6 = words6(0xb);
  // The same low words on both families: only the family tells the sessions apart.
  const id4 = insert(t, TCP, 2, 40000, 10, 80, 2000, 11, 8080);
  const id6 = INET6.insert(t, TCP, header6(2, 10), 0, 40000, 80, la6, 2000, rs6);
  assert.notEqual(id6, NO_SESSION);
  assert.equal(INET6.lookup(t, header6(2, 10), 0, TCP, 40000, 80), id6 * 2 + Dir.In);
  assert.equal(INET6.lookup(t, header6(0xb, 0xc9), 0, TCP, 8080, 2000), id6 * 2 + Dir.Out);
  assert.equal(lookup(t, TCP, 2, 40000, 10, 80), id4 * 2 + Dir.In);
  assert.equal(INET6.lookup(t, header6(2, 11), 0, TCP, 40000, 80), NO_SESSION, "other address");
  assert.ok(INET6.localTaken(t, TCP, rs6, la6, 2000), "the local port is taken towards rs6");
  assert.ok(!INET6.localTaken(t, TCP, rs6, la6, 2001));
  t.remove(id6);
  for (const fam of fams) {
    assert.equal(fam.lookup(t, header6(2, 10), 0, TCP, 40000, 80), NO_SESSION, fam.name);
  }
  assert.equal(lookup(t, TCP, 2, 40000, 10, 80), id4 * 2 + Dir.In, "the IPv4 session stays");
  assert.equal(t.size, 1);
});

Deno.test("SessionTable rejects an impossible capacity", () => {
  assert.throws(() => new SessionTable(0), RangeError);
});
