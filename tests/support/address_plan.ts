/**
 * The address plan of the test topology (DESIGN section 5), in one place so that tests,
 * benchmarks and the topology helper agree on it.
 *
 * Subnet A joins `client` and `lb` (the public side, where VIPs live); subnet B joins `lb`
 * and `rs` (the internal side, where local addresses and real servers live). Both are
 * documentation ranges (RFC 5737 / RFC 3849): they only ever exist inside namespaces the tests
 * create, so they can never collide with, or leak traffic to, a real network.
 *
 * @module
 */

/** IPv4 and (not yet configured by the topology) IPv6 addresses of the test topology. */
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
  /** Reserved for IPv6 tests; {@linkcode createTopology} does not assign these yet. */
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
