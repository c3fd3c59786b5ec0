/**
 * What scale tests and the control-path probe share: a configuration document of many services
 * and a process's resident memory.
 *
 * @module
 */

/** A document of `n` services, each with one real server and one local address. */
export function serviceDocument(n: number): string {
  const ip = (a: number, i: number) =>
    `${a}.${Math.floor(i / 64000)}.${Math.floor(i / 250) % 256}.${(i % 250) + 1}`;
  return JSON.stringify({
    version: 1,
    services: Array.from({ length: n }, (_, i) => ({
      protocol: "tcp",
      address: ip(10, i >> 2),
      port: 80 + (i & 3),
      scheduler: "wrr",
      realServers: [{ address: ip(172, i), port: 8080, weight: 1 }],
      localAddresses: [ip(100, i >> 6)],
    })),
  });
}

/** Resident memory of process `pid`, MiB. */
export function rssMiB(pid: number): number {
  const m = Deno.readTextFileSync(`/proc/${pid}/status`).match(/VmRSS:\s+(\d+) kB/);
  return m === null ? NaN : Number(m[1]) / 1024;
}
