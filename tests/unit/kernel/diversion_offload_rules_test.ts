/**
 * The diversion rules of the kernel fast path (`spec.offload`): raw queues only the client's
 * SYN of TCP, mangle queues the TCP conntrack found INVALID with the same steering, nat holds
 * the one rule that registers the NAT hooks; without `offload` nothing changes.
 */
import assert from "node:assert/strict";
import {
  buildOffloadRules,
  buildRules,
  parseTable,
  tableInstallScript,
  tableRemoveScript,
} from "../../../src/kernel/diversion_rules.ts";
import type { DiversionSpec } from "../../../src/fullnat/types.ts";

const opts = { prefix: "FULLNAT", queueNum: 3, failOpen: false };
const spec: DiversionSpec = {
  services: [
    { protocol: "tcp", address: "10.0.0.1", port: 80 },
    { protocol: "udp", address: "10.0.0.1", port: 53 },
  ],
  localAddresses: ["192.168.1.10"],
  natRealServers: [
    { protocol: "tcp", address: "192.168.1.20", port: 8080 },
    { protocol: "udp", address: "192.168.1.21", port: 53 },
  ],
};

Deno.test("offload: raw queues the client's SYN only; the rest of TCP meets conntrack", () => {
  assert.deepEqual(buildRules({ ...spec, offload: true }, opts).ipv4, [
    "-A FULLNAT-DIVERT -j CT --notrack",
    "-A FULLNAT-DIVERT -j NFQUEUE --queue-num 3",
    "-A FULLNAT -d 10.0.0.1 -p tcp --dport 80 --syn -j FULLNAT-DIVERT",
    "-A FULLNAT -d 10.0.0.1 -p udp --dport 53 -j FULLNAT-DIVERT",
    "-A FULLNAT -d 10.0.0.1 -f -j FULLNAT-DIVERT",
    "-A FULLNAT -d 10.0.0.1 -p tcp -j RETURN",
    "-A FULLNAT -d 10.0.0.1 -p udp -j RETURN",
    "-A FULLNAT -d 10.0.0.1 -j FULLNAT-DIVERT",
    "-A FULLNAT -d 192.168.1.10 -p tcp -j RETURN",
    "-A FULLNAT -d 192.168.1.10 -j FULLNAT-DIVERT",
    "-A FULLNAT -s 192.168.1.20 -p icmp -j FULLNAT-DIVERT",
    "-A FULLNAT -s 192.168.1.21 -p udp --sport 53 -j FULLNAT-DIVERT",
    "-A FULLNAT -s 192.168.1.21 -p icmp -j FULLNAT-DIVERT",
  ]);
});

Deno.test("offload off: the raw rules are exactly today's, and no other table is touched", () => {
  assert.deepEqual(buildRules(spec, opts).ipv4, [
    "-A FULLNAT-DIVERT -j CT --notrack",
    "-A FULLNAT-DIVERT -j NFQUEUE --queue-num 3",
    "-A FULLNAT -d 10.0.0.1 -p tcp --dport 80 -j FULLNAT-DIVERT",
    "-A FULLNAT -d 10.0.0.1 -p udp --dport 53 -j FULLNAT-DIVERT",
    "-A FULLNAT -d 10.0.0.1 -f -j FULLNAT-DIVERT",
    "-A FULLNAT -d 10.0.0.1 -p tcp -j RETURN",
    "-A FULLNAT -d 10.0.0.1 -p udp -j RETURN",
    "-A FULLNAT -d 10.0.0.1 -j FULLNAT-DIVERT",
    "-A FULLNAT -d 192.168.1.10 -j FULLNAT-DIVERT",
    "-A FULLNAT -s 192.168.1.20 -p tcp --sport 8080 -j FULLNAT-DIVERT",
    "-A FULLNAT -s 192.168.1.20 -p icmp -j FULLNAT-DIVERT",
    "-A FULLNAT -s 192.168.1.21 -p udp --sport 53 -j FULLNAT-DIVERT",
    "-A FULLNAT -s 192.168.1.21 -p icmp -j FULLNAT-DIVERT",
  ]);
  assert.deepEqual(buildOffloadRules(spec, opts), {
    ipv4: { mangle: [], nat: [] },
    ipv6: { mangle: [], nat: [] },
  });
});

Deno.test("offload: mangle queues INVALID TCP of services, local addresses, NAT servers", () => {
  const r = buildOffloadRules({ ...spec, offload: true }, { ...opts, failOpen: true });
  assert.deepEqual(r.ipv4.mangle, [
    "-A FULLNAT-DIVERT -j NFQUEUE --queue-num 3 --queue-bypass",
    "-A FULLNAT -m conntrack ! --ctstate INVALID -j RETURN",
    "-A FULLNAT -d 10.0.0.1 -p tcp --dport 80 -j FULLNAT-DIVERT",
    "-A FULLNAT -d 192.168.1.10 -p tcp -j FULLNAT-DIVERT",
    "-A FULLNAT -s 192.168.1.20 -p tcp --sport 8080 -j FULLNAT-DIVERT",
  ]);
  assert.deepEqual(r.ipv4.nat, ["-A FULLNAT -j RETURN"]);
  // No IPv6 target: nothing to queue in mangle.
  assert.deepEqual(r.ipv6.mangle, []);
});

Deno.test("offload: with several workers mangle steers as raw does, queueing only", () => {
  const o = { ...opts, workers: 2, localPorts: [1025, 65535] as [number, number] };
  const raw = buildRules({ ...spec, offload: true }, o).ipv4;
  const mangle = buildOffloadRules({ ...spec, offload: true }, o).ipv4.mangle;
  // The same steering rules (client address buckets, local port slices, quoted ICMP)...
  const steering = (rules: string[]) => rules.filter((l) => /^-A FULLNAT-[CLR] /.test(l));
  assert.deepEqual(steering(mangle), steering(raw));
  assert.ok(steering(mangle).includes("-A FULLNAT-L -p tcp --dport 1025:33279 -j FULLNAT-W0"));
  assert.ok(steering(mangle).includes("-A FULLNAT-L -p tcp --dport 33280:65535 -j FULLNAT-W1"));
  // ...into worker chains that only queue: the packet has no conntrack entry to skip.
  assert.deepEqual(mangle.filter((l) => l.startsWith("-A FULLNAT-W")), [
    "-A FULLNAT-W0 -j NFQUEUE --queue-num 3",
    "-A FULLNAT-W1 -j NFQUEUE --queue-num 4",
  ]);
  assert.ok(mangle.includes("-A FULLNAT -d 10.0.0.1 -p tcp --dport 80 -j FULLNAT-C"));
  assert.ok(mangle.includes("-A FULLNAT -d 192.168.1.10 -p tcp -j FULLNAT-L"));
  assert.ok(mangle.includes("-A FULLNAT -s 192.168.1.20 -p tcp --sport 8080 -j FULLNAT-R"));
});

Deno.test("offload: mangle and nat scripts hook once, and come away whole", () => {
  const r = buildOffloadRules({ ...spec, offload: true }, opts).ipv4;
  const empty = { chains: [], hooks: [], rules: [] };
  assert.equal(
    tableInstallScript("nat", "FULLNAT", r.nat, empty),
    [
      "*nat",
      ":FULLNAT - [0:0]",
      "-F FULLNAT",
      "-A FULLNAT -j RETURN",
      "-I PREROUTING 1 -j FULLNAT",
      "-I POSTROUTING 1 -j FULLNAT",
      "COMMIT",
      "",
    ].join("\n"),
  );
  const listed = [
    "-P PREROUTING ACCEPT",
    "-N FULLNAT",
    "-N FULLNAT-DIVERT",
    "-N OTHER",
    "-A PREROUTING -j FULLNAT",
    "-A PREROUTING -j OTHER",
    "-A FULLNAT -m conntrack ! --ctstate INVALID -j RETURN",
    "-A FULLNAT-DIVERT -j NFQUEUE --queue-num 3",
  ].join("\n");
  const state = parseTable(listed, "FULLNAT");
  assert.deepEqual(state.chains, ["FULLNAT", "FULLNAT-DIVERT"]);
  assert.deepEqual(state.hooks, ["PREROUTING"]);
  assert.equal(state.rules.length, 2);
  const again = tableInstallScript("mangle", "FULLNAT", r.mangle, state);
  assert.ok(!again.includes("-I PREROUTING"), "hooked already");
  assert.equal(
    tableRemoveScript("mangle", "FULLNAT", state),
    [
      "*mangle",
      "-D PREROUTING -j FULLNAT",
      "-F FULLNAT",
      "-F FULLNAT-DIVERT",
      "-X FULLNAT",
      "-X FULLNAT-DIVERT",
      "COMMIT",
      "",
    ].join("\n"),
  );
  assert.equal(tableRemoveScript("nat", "FULLNAT", empty), undefined);
});
