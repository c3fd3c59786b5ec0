/**
 * Prefix sets: membership by any of the held lengths, IPv4 and IPv6, /0 holding everything,
 * duplicates held once.
 */
import assert from "node:assert/strict";
import { PrefixSet } from "./prefix_set.ts";
import { parseSourcePrefix } from "../vocab/prefix.ts";
import { parseAddress } from "../vocab/address.ts";

function set(family: 4 | 6, ...texts: string[]): PrefixSet {
  return new PrefixSet(texts.map((t) => {
    const r = parseSourcePrefix(t, family);
    if (!r.ok) throw new Error(r.message);
    return r.prefix;
  }));
}

function words(text: string): Uint32Array {
  const a = parseAddress(text)!;
  return a.family === 4 ? Uint32Array.of(a.v4, 0, 0, 0) : Uint32Array.from(a.v6);
}

Deno.test("PrefixSet: IPv4 prefixes of several lengths", () => {
  const s = set(4, "10.0.0.0/8", "192.0.2.0/24", "198.51.100.7", "198.51.100.7/32");
  assert.equal(s.size, 3);
  for (const a of ["10.255.1.2", "192.0.2.255", "198.51.100.7"]) assert.ok(s.has(words(a)), a);
  for (const a of ["11.0.0.1", "192.0.3.0", "198.51.100.8", "0.0.0.0"]) {
    assert.ok(!s.has(words(a)), a);
  }
  assert.ok(set(4, "0.0.0.0/0").has(words("203.0.113.9")));
  assert.ok(!set(4).has(words("203.0.113.9")));
});

Deno.test("PrefixSet: IPv6 prefixes, lengths across word boundaries", () => {
  const s = set(6, "2001:db8::/32", "2001:db9:0:1::/64", "2001:dba::8000:0/97", "::1");
  for (const a of ["2001:db8:ffff::1", "2001:db9:0:1:ffff::", "2001:dba::ffff:ffff", "::1"]) {
    assert.ok(s.has(words(a)), a);
  }
  for (const a of ["2001:db9:0:2::1", "2001:dba::7fff:ffff", "::2", "2001:db7::1"]) {
    assert.ok(!s.has(words(a)), a);
  }
});

Deno.test("PrefixSet: thousands of host prefixes", () => {
  const texts = Array.from({ length: 5000 }, (_, i) => `10.${i >> 8}.${i & 255}.1`);
  const s = set(4, ...texts);
  assert.equal(s.size, 5000);
  assert.ok(s.has(words("10.19.135.1")));
  assert.ok(!s.has(words("10.19.135.2")));
});
