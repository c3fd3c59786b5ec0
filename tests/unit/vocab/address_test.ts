/** Address text, ports, weights and prefixes of the vocabulary: parse/format round trips. */
import assert from "node:assert/strict";
import {
  canonicalAddress,
  canonicalIpv4,
  canonicalIpv6,
  compareAddresses,
  DEFAULT_LOCAL_PORT_RANGE,
  DEFAULT_WEIGHT,
  formatEndpoint,
  formatPortRange,
  formatPrefix,
  isIpv6,
  isNetworkAddress,
  isPort,
  isPortRange,
  isUnicast,
  isWeight,
  parseAddress,
  parseEndpoint,
  parsePort,
  parsePrefix,
  PORT_MAX,
  PORT_MIN,
  WEIGHT_MAX,
  WEIGHT_MIN,
} from "../../../src/vocab/mod.ts";

Deno.test("parseAddress() reads strict dotted quads and IPv6 literals into canonical text", () => {
  const v4 = parseAddress("192.0.2.10");
  assert.deepEqual(v4, { family: 4, address: "192.0.2.10", v4: 0xc000020a });
  const v6 = parseAddress("2001:DB8:0:0:0:0:0:1");
  assert.equal(v6?.family, 6);
  assert.equal(v6?.address, "2001:db8::1");
  for (const bad of ["010.0.0.1", "1.2.3", "1.2.3.256", "lb1", "", "1:2:3", "2001:db8::1::2"]) {
    assert.equal(parseAddress(bad), undefined, bad);
  }
});

Deno.test("canonical text round-trips: parsing what was formatted gives it back", () => {
  for (const text of ["0.0.0.0", "255.255.255.255", "10.1.2.3", "::", "::1", "2001:db8::1"]) {
    assert.equal(canonicalAddress(text), text);
    assert.equal(canonicalAddress(canonicalAddress(text)!), text);
  }
  assert.equal(canonicalIpv6("2001:0DB8:0000::0001"), "2001:db8::1");
  assert.equal(canonicalIpv6("::ffff:192.0.2.1"), "::ffff:c000:201");
  assert.equal(canonicalIpv4("2001:db8::1"), undefined);
  assert.equal(canonicalIpv6("10.0.0.1"), undefined);
});

Deno.test("isUnicast() refuses unspecified, multicast, broadcast and IPv6 loopback", () => {
  const unicast = (t: string) => isUnicast(parseAddress(t)!);
  assert.ok(unicast("192.0.2.1") && unicast("127.0.0.1") && unicast("2001:db8::1"));
  for (const t of ["0.0.0.0", "224.0.0.1", "239.255.255.255", "255.255.255.255", "::", "::1"]) {
    assert.ok(!unicast(t), t);
  }
  assert.ok(!unicast("ff02::1"));
});

Deno.test("parseEndpoint() takes ipvsadm's forms and formatEndpoint() writes them back", () => {
  assert.deepEqual(parseEndpoint("192.0.2.1:80"), { address: "192.0.2.1", port: 80, family: 4 });
  assert.deepEqual(parseEndpoint("192.0.2.1"), { address: "192.0.2.1", family: 4 });
  assert.deepEqual(parseEndpoint("[2001:DB8::1]:443"), {
    address: "2001:db8::1",
    port: 443,
    family: 6,
  });
  assert.deepEqual(parseEndpoint("2001:db8::1"), { address: "2001:db8::1", family: 6 });
  for (const bad of ["80", "", "[2001:db8::1]", "[2001:db8::1]80", "1.2.3.4:", "1.2.3.4:65536"]) {
    assert.equal(parseEndpoint(bad), undefined, bad);
  }
  for (const text of ["192.0.2.1:80", "[2001:db8::1]:443", "10.0.0.1:0"]) {
    const e = parseEndpoint(text)!;
    assert.equal(formatEndpoint(e.address, e.port!), text);
  }
  assert.ok(isIpv6("::1") && !isIpv6("10.0.0.1"));
});

Deno.test("compareAddresses() puts IPv4 first, then numeric order, then non-addresses by text", () => {
  const sorted = ["b", "::1", "10.0.0.10", "a", "10.0.0.2", "2001:db8::1"].sort(compareAddresses);
  assert.deepEqual(sorted, ["10.0.0.2", "10.0.0.10", "::1", "2001:db8::1", "a", "b"]);
  assert.equal(compareAddresses("10.0.0.1", "10.0.0.1"), 0);
});

Deno.test("ports: bounds, ipvsadm's decimal text and the local port range", () => {
  assert.equal(PORT_MIN, 1);
  assert.equal(PORT_MAX, 65535);
  assert.ok(isPort(1) && isPort(65535) && !isPort(0) && isPort(0, 0) && !isPort(65536));
  assert.ok(!isPort(80.5) && !isPort("80"));
  assert.equal(parsePort("0"), 0);
  assert.equal(parsePort("65535"), 65535);
  for (const bad of ["65536", "-1", "080000", "http", "", " 80"]) {
    assert.equal(parsePort(bad), undefined, bad);
  }
  assert.equal(formatPortRange(DEFAULT_LOCAL_PORT_RANGE), "1025-65535");
  assert.ok(isPortRange(DEFAULT_LOCAL_PORT_RANGE) && isPortRange([80, 80]));
  assert.ok(!isPortRange([0, 10]) && !isPortRange([10, 9]) && !isPortRange([1, 65536]));
});

Deno.test("weights: 0 (quiesced) to 65535, default 1", () => {
  assert.deepEqual([WEIGHT_MIN, WEIGHT_MAX, DEFAULT_WEIGHT], [0, 65535, 1]);
  assert.ok(isWeight(0) && isWeight(65535) && !isWeight(-1) && !isWeight(65536));
  assert.ok(!isWeight(1.5) && !isWeight("1"));
});

Deno.test("parsePrefix() reads address/length, formatPrefix() writes it back canonically", () => {
  const r = parsePrefix("2001:DB8::/32");
  assert.deepEqual(r, { ok: true, prefix: { address: "2001:db8::", family: 6, prefixLength: 32 } });
  assert.equal(formatPrefix((r as { ok: true; prefix: never }).prefix), "2001:db8::/32");
  for (const text of ["192.0.2.1/24", "0.0.0.0/0", "10.0.0.0/8", "::/0", "2001:db8::1/128"]) {
    const p = parsePrefix(text);
    assert.ok(p.ok, text);
    assert.equal(formatPrefix(p.prefix), text);
  }
});

Deno.test("parsePrefix() says what is wrong and how to write it", () => {
  const message = (t: string) => {
    const r = parsePrefix(t);
    assert.ok(!r.ok, t);
    return r.message;
  };
  assert.equal(
    message("192.0.2.1"),
    '"192.0.2.1" has no prefix length; write it as 192.0.2.1/24 or similar',
  );
  assert.equal(message("lb1/24"), '"lb1" is not an IPv4 or IPv6 address');
  assert.equal(message("10.0.0.0/33"), 'prefix length "33" must be a number from 0 to 32');
  assert.equal(message("::/129"), 'prefix length "129" must be a number from 0 to 128');
  assert.equal(message("10.0.0.0/08"), 'prefix length "08" must be a number from 0 to 32');
});

Deno.test("isNetworkAddress() is true only when no host bit is set", () => {
  const net = (t: string) => {
    const r = parsePrefix(t);
    assert.ok(r.ok, t);
    return isNetworkAddress(r.prefix);
  };
  assert.ok(net("10.0.0.0/8") && net("0.0.0.0/0") && net("192.0.2.1/32"));
  assert.ok(!net("10.0.0.1/8") && !net("192.0.2.128/24"));
  assert.ok(net("2001:db8::/32") && !net("2001:db8::1/64") && net("::/0"));
  assert.ok(net("2001:db8:ffff:ffff::/64") && !net("2001:db8::8000:0/96"));
});
