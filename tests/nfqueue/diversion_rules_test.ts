import assert from "node:assert/strict";
import {
  buildRules,
  chainNames,
  checkPrefix,
  familyOf,
  installScript,
  parseInstalled,
  removeScript,
} from "../../src/nfqueue/diversion_rules.ts";

const opts = { prefix: "FULLNAT", queueNum: 3, failOpen: false };

Deno.test("rules for services, local addresses and NAT real servers, per family", () => {
  const rules = buildRules({
    services: [
      { protocol: "tcp", address: "10.0.0.1", port: 80 },
      { protocol: "udp", address: "2001:db8::1", port: 53 },
      { protocol: "tcp", address: "10.0.0.1", port: 0 },
      { protocol: "tcp", address: "10.0.0.1", port: 80 }, // duplicate
    ],
    localAddresses: ["192.168.1.10", "fd00::10"],
    natRealServers: [{ protocol: "tcp", address: "192.168.1.20", port: 8080 }],
  }, opts);
  assert.deepEqual(rules.ipv4, [
    "-A FULLNAT-DIVERT -j CT --notrack",
    "-A FULLNAT-DIVERT -j NFQUEUE --queue-num 3",
    "-A FULLNAT -d 10.0.0.1 -p tcp --dport 80 -j FULLNAT-DIVERT",
    "-A FULLNAT -d 10.0.0.1 -p tcp -j FULLNAT-DIVERT",
    "-A FULLNAT -d 192.168.1.10 -j FULLNAT-DIVERT",
    "-A FULLNAT -s 192.168.1.20 -p tcp --sport 8080 -j FULLNAT-DIVERT",
  ]);
  assert.deepEqual(rules.ipv6.slice(-2), [
    "-A FULLNAT -d 2001:db8::1 -p udp --dport 53 -j FULLNAT-DIVERT",
    "-A FULLNAT -d fd00::10 -j FULLNAT-DIVERT",
  ]);
  // Neighbour discovery returns before any diversion.
  assert.ok(rules.ipv6.includes("-A FULLNAT -p ipv6-icmp --icmpv6-type 135 -j RETURN"));
});

Deno.test("fail-open adds --queue-bypass", () => {
  const rules = buildRules(
    { services: [], localAddresses: [], natRealServers: [] },
    { ...opts, failOpen: true, prefix: "FNQ_T1" },
  );
  assert.deepEqual(rules.ipv4, [
    "-A FNQ_T1-DIVERT -j CT --notrack",
    "-A FNQ_T1-DIVERT -j NFQUEUE --queue-num 3 --queue-bypass",
  ]);
});

Deno.test("invalid input is refused before anything reaches iptables", () => {
  const empty = { services: [], localAddresses: [], natRealServers: [] };
  assert.throws(() => buildRules({ ...empty, localAddresses: ["10.0.0.1\n-F"] }, opts));
  assert.throws(() => buildRules({ ...empty, localAddresses: ["300.0.0.1"] }, opts));
  assert.throws(() => buildRules({ ...empty, localAddresses: ["example.com"] }, opts));
  assert.throws(() =>
    buildRules(
      { ...empty, services: [{ protocol: "tcp", address: "10.0.0.1", port: 70000 }] },
      opts,
    )
  );
  assert.throws(() =>
    buildRules({
      ...empty,
      services: [{ protocol: "sctp" as "tcp", address: "10.0.0.1", port: 1 }],
    }, opts)
  );
  assert.throws(() => buildRules(empty, { ...opts, queueNum: 65536 }));
  assert.throws(() => checkPrefix("bad name"));
  assert.throws(() => checkPrefix("X".repeat(22)));
  checkPrefix("X".repeat(21));
  assert.equal(familyOf("10.1.2.3/24"), "ipv4");
  assert.equal(familyOf("::ffff:10.1.2.3"), "ipv6");
  assert.deepEqual(chainNames("P"), { match: "P", divert: "P-DIVERT" });
});

Deno.test("installed state is read back from iptables -S", () => {
  const text = [
    "-P PREROUTING ACCEPT",
    "-P OUTPUT ACCEPT",
    "-N FULLNAT",
    "-N FULLNAT-DIVERT",
    "-N FULLNATX",
    "-A PREROUTING -j FULLNAT",
    "-A PREROUTING -j FULLNATX",
    "-A PREROUTING -j FULLNAT",
    "-A FULLNAT -d 10.0.0.1/32 -p tcp -m tcp --dport 80 -j FULLNAT-DIVERT",
    "-A FULLNATX -j RETURN",
    "",
  ].join("\n");
  const state = parseInstalled(text, "FULLNAT");
  assert.deepEqual(state.chains, ["FULLNAT", "FULLNAT-DIVERT"]);
  assert.equal(state.hooks, 2);
  assert.deepEqual(state.rules, [
    "-A FULLNAT -d 10.0.0.1/32 -p tcp -m tcp --dport 80 -j FULLNAT-DIVERT",
  ]);
  assert.equal(
    removeScript("FULLNAT", state),
    "*raw\n-D PREROUTING -j FULLNAT\n-D PREROUTING -j FULLNAT\n-F FULLNAT\n-F FULLNAT-DIVERT\n" +
      "-X FULLNAT\n-X FULLNAT-DIVERT\nCOMMIT\n",
  );
  assert.equal(removeScript("FULLNAT", { chains: [], hooks: 0, rules: [] }), undefined);
});

Deno.test("install script declares, flushes, fills and hooks only when unhooked", () => {
  const s = installScript("P", ["-A P-DIVERT -j CT --notrack"], false);
  assert.equal(
    s,
    "*raw\n:P - [0:0]\n:P-DIVERT - [0:0]\n-F P\n-F P-DIVERT\n-A P-DIVERT -j CT --notrack\n" +
      "-I PREROUTING 1 -j P\nCOMMIT\n",
  );
  assert.ok(!installScript("P", [], true).includes("PREROUTING"));
});
