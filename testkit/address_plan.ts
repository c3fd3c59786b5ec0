/**
 * The address plan of the test topology (docs/design.md section 5), in one place so that tests,
 * benchmarks and the topology helper agree on it.
 *
 * Subnet A joins `client` and `lb` (the public side, where VIPs live); subnet B joins `lb`
 * and `rs` (the internal side, where local addresses and real servers live). Both are
 * documentation ranges (RFC 5737 / RFC 3849): they only ever exist inside namespaces the tests
 * create, so they can never collide with, or leak traffic to, a real network.
 *
 * @module
 */

/** IPv4 and IPv6 addresses of the test topology (IPv6 only with `createTopology({ ipv6: true })`). */
export const ADDRESS_PLAN = {
  v4: {
    /** Prefix length used on both subnets. */
    prefixLength: 24,
    subnetA: "198.51.100.0/24",
    subnetB: "203.0.113.0/24",
    /** The client's only address, on subnet A. */
    client: "198.51.100.2",
    /** The balancer's own address on subnet A; the client's default gateway. */
    lbA: "198.51.100.1",
    /** Default virtual addresses, assigned to lb's subnet A interface. */
    vips: ["198.51.100.10"],
    /** The balancer's own address on subnet B; the rs default gateway in NAT mode. */
    lbB: "203.0.113.1",
    /** Default local addresses (FULLNAT source addresses), on lb's subnet B interface. */
    localAddrs: ["203.0.113.201", "203.0.113.202", "203.0.113.203", "203.0.113.204"],
    /** Real servers are `realServerNet + (realServerFirstHost + i)`: .11, .12, .13, ... */
    realServerNet: "203.0.113.",
    realServerFirstHost: 11,
  },
  /**
   * IPv6 addresses, assigned only when the topology is built with `ipv6: true` (always with
   * `nodad`, so they are usable at once). The roles mirror the IPv4 plan.
   */
  v6: {
    prefixLength: 64,
    subnetA: "2001:db8:a::/64",
    subnetB: "2001:db8:b::/64",
    client: "2001:db8:a::2",
    lbA: "2001:db8:a::1",
    vips: ["2001:db8:a::10"],
    lbB: "2001:db8:b::1",
    localAddrs: ["2001:db8:b::201", "2001:db8:b::202", "2001:db8:b::203", "2001:db8:b::204"],
    realServerNet: "2001:db8:b::",
    realServerFirstHost: 11,
  },
  /**
   * The optional router between `lb` and `rs` (`createTopology({ router })`): it sits inside
   * subnet B and answers ARP / neighbour solicitations for the hosts on its other side (proxy
   * ARP / proxy NDP), so every other address stays exactly as without it. Its own addresses
   * (host routes, one per side) are the sources of the ICMP errors it sends.
   */
  router: {
    v4: { lbSide: "203.0.113.254", rsSide: "203.0.113.253" },
    v6: { lbSide: "2001:db8:b::fe", rsSide: "2001:db8:b::fd" },
  },
} as const;

/** Default number of real servers in the `rs` namespace. */
export const DEFAULT_REAL_SERVER_COUNT = 3;

/**
 * The IPv4 addresses of the first `count` real servers (203.0.113.11, .12, ...).
 * Throws when they would run into the local-address range.
 */
export function realServerAddrs(count: number = DEFAULT_REAL_SERVER_COUNT): string[] {
  const { realServerNet, realServerFirstHost } = ADDRESS_PLAN.v4;
  // .201 and up are local addresses; stop well before them.
  if (!Number.isInteger(count) || count < 0 || realServerFirstHost + count > 200) {
    throw new RangeError(`real server count out of range: ${count}`);
  }
  return Array.from({ length: count }, (_, i) => `${realServerNet}${realServerFirstHost + i}`);
}

/**
 * The IPv6 addresses of the first `count` real servers (2001:db8:b::11, ::12, ...: the same
 * host numbers as IPv4, written in hex digits that read like the decimal ones).
 */
export function realServerAddrsV6(count: number = DEFAULT_REAL_SERVER_COUNT): string[] {
  const { realServerNet, realServerFirstHost } = ADDRESS_PLAN.v6;
  // Checked by the IPv4 rule: the same host numbers must stay below the local addresses.
  realServerAddrs(count);
  return Array.from({ length: count }, (_, i) => `${realServerNet}${realServerFirstHost + i}`);
}
