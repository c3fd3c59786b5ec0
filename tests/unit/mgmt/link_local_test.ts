/**
 * The management port's fallback addresses: the IPv4 link-local address picked from the MAC
 * (values computed independently, with Python, from the README's formula), the EUI-64 IPv6
 * link-local address (QEMU's well-known example MAC), the range RFC 3927 allows, stability, and
 * the refusal of what is not a port's MAC.
 */
import assert from "node:assert/strict";
import {
  fallbackAddresses,
  fnv1a32,
  ipv4LinkLocal,
  ipv6LinkLocal,
  parseMac,
} from "../../../src/mgmt/link_local.ts";

Deno.test("link-local: IPv4 address from FNV-1a of the MAC, as computed independently", () => {
  assert.equal(fnv1a32(parseMac("52:54:00:12:34:56")), 0xbb7f3b7b);
  assert.equal(ipv4LinkLocal("52:54:00:12:34:56"), "169.254.46.123");
  assert.equal(ipv4LinkLocal("02:00:00:00:00:01"), "169.254.156.252");
  // Case and separator do not change the port, nor its address.
  assert.equal(ipv4LinkLocal("52-54-00-12-34-56"), ipv4LinkLocal("52:54:00:12:34:56"));
  assert.equal(ipv4LinkLocal("52:54:00:12:34:56".toUpperCase()), "169.254.46.123");
});

Deno.test("link-local: IPv4 addresses stay in 169.254.1.0-169.254.254.255 and spread", () => {
  const seen = new Set<string>();
  for (let i = 0; i < 5000; i++) {
    const mac = `52:54:00:${(i >> 8).toString(16).padStart(2, "0")}:${
      (i & 0xff).toString(16).padStart(2, "0")
    }:7e`;
    const a = ipv4LinkLocal(mac);
    const [o1, o2, o3, o4] = a.split(".").map(Number);
    assert.ok(o1 === 169 && o2 === 254 && o3 >= 1 && o3 <= 254 && o4 >= 0 && o4 <= 255, a);
    seen.add(a);
  }
  // Neighbouring MACs (one NIC vendor's) must not crowd into a few addresses: 5,000 random
  // picks from 65,024 give about 4,810 distinct ones; FNV-1a gives 4,744 here.
  assert.ok(seen.size > 4650, `${seen.size} distinct addresses of 5000`);
});

Deno.test("link-local: IPv6 is the modified EUI-64 address the kernel makes", () => {
  assert.equal(ipv6LinkLocal("52:54:00:12:34:56"), "fe80::5054:ff:fe12:3456");
  // The universal/local bit is inverted: a locally administered MAC loses it.
  assert.equal(ipv6LinkLocal("02:00:00:00:00:01"), "fe80::ff:fe00:1");
  assert.deepEqual(fallbackAddresses("52:54:00:12:34:56"), {
    ipv4: "169.254.46.123/16",
    ipv6: "fe80::5054:ff:fe12:3456/64",
  });
});

Deno.test("link-local: what is not a port's MAC is refused with the reason", () => {
  assert.throws(() => parseMac("52:54:00:12:34"), /is not a MAC address/);
  assert.throws(() => parseMac("52:54:00:12:34:zz"), /is not a MAC address/);
  assert.throws(() => parseMac("01:00:5e:00:00:01"), /multicast MAC/);
  assert.throws(() => parseMac("00:00:00:00:00:00"), /all-zero/);
});
