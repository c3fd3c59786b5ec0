/**
 * Provisioning files for the tests: SSH public keys built in the OpenSSH wire format (so no
 * ssh-keygen is needed) and a complete, valid provisioning file for the test topology.
 *
 * @module
 */

function sshString(bytes: Uint8Array): Uint8Array {
  const out = new Uint8Array(4 + bytes.length);
  new DataView(out.buffer).setUint32(0, bytes.length);
  out.set(bytes, 4);
  return out;
}

/** An `ssh-ed25519 BASE64 comment` line whose blob is well formed (the key bytes are `seed`). */
export function ed25519Key(seed: number, comment: string): string {
  const type = sshString(new TextEncoder().encode("ssh-ed25519"));
  const key = sshString(new Uint8Array(32).fill(seed));
  const blob = new Uint8Array([...type, ...key]);
  return `ssh-ed25519 ${btoa(String.fromCharCode(...blob))} ${comment}`;
}

/** Addresses of the full example, on the test topology's subnets (testkit/address_plan). */
export const EXAMPLE = {
  vip: "198.51.100.10",
  localAddresses: ["203.0.113.201", "203.0.113.202"],
  realServers: ["203.0.113.11", "203.0.113.12"],
} as const;

/** A valid provisioning file in YAML using every section. */
export function exampleYaml(
  opts: { hostname?: string; keys?: string[]; mtu?: number } = {},
): string {
  const keys = opts.keys ?? [ed25519Key(1, "alice@laptop"), ed25519Key(2, "bob@desk")];
  return `# A provisioning file as a network engineer would write it.
version: 1
hostname: ${opts.hostname ?? "edge-lb-1"}
admin:
  sshKeys:
${keys.map((k) => `    - ${k}`).join("\n")}
network:
  interfaces:
    eth0:
      addresses: [198.51.100.1/24]
      mtu: ${opts.mtu ?? 1400}
    eth1:
      addresses: [203.0.113.1/24]
  routes:
    - to: 192.0.2.0/24
      via: 203.0.113.11
  vips:
    eth0: [${EXAMPLE.vip}]
  localAddresses:
    eth1: [${EXAMPLE.localAddresses.join(", ")}]
loadBalancer:
  version: 1
  services:
    - protocol: tcp
      address: ${EXAMPLE.vip}
      port: 80
      scheduler: rr
      realServers:
${EXAMPLE.realServers.map((a) => `        - { address: ${a}, port: 80 }`).join("\n")}
      localAddresses: [${EXAMPLE.localAddresses.join(", ")}]
`;
}
