import assert from "node:assert/strict";
import {
  addressBuckets,
  buildRules,
  chainNames,
  checkPrefix,
  familyOf,
  installScript,
  isOurChain,
  MAX_WORKERS,
  parseInstalled,
  portSlices,
  removeScript,
  workerOfAddress,
} from "../../../src/kernel/diversion_rules.ts";

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
    // Other protocols to the VIP (ICMP, AH, ESP) and fragments reach the engine; other ports
    // do not.
    "-A FULLNAT -d 10.0.0.1 -f -j FULLNAT-DIVERT",
    "-A FULLNAT -d 10.0.0.1 -p tcp -j RETURN",
    "-A FULLNAT -d 10.0.0.1 -p udp -j RETURN",
    "-A FULLNAT -d 10.0.0.1 -j FULLNAT-DIVERT",
    "-A FULLNAT -d 192.168.1.10 -j FULLNAT-DIVERT",
    "-A FULLNAT -s 192.168.1.20 -p tcp --sport 8080 -j FULLNAT-DIVERT",
    "-A FULLNAT -s 192.168.1.20 -p icmp -j FULLNAT-DIVERT",
  ]);
  assert.deepEqual(rules.ipv6.slice(-6), [
    "-A FULLNAT -d 2001:db8::1 -p udp --dport 53 -j FULLNAT-DIVERT",
    "-A FULLNAT -d 2001:db8::1 -m frag -j FULLNAT-DIVERT",
    "-A FULLNAT -d 2001:db8::1 -p tcp -j RETURN",
    "-A FULLNAT -d 2001:db8::1 -p udp -j RETURN",
    "-A FULLNAT -d 2001:db8::1 -j FULLNAT-DIVERT",
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

Deno.test("buildRules() with 2 workers steers clients by address bit, replies by port slice and client address", () => {
  const rules = buildRules({
    services: [{ protocol: "tcp", address: "10.0.0.1", port: 80 }],
    localAddresses: ["192.168.1.10"],
    natRealServers: [{ protocol: "tcp", address: "192.168.1.20", port: 8080 }],
  }, { ...opts, workers: 2, localPorts: [1000, 1999] });
  assert.deepEqual(rules.ipv4, [
    "-A FULLNAT-W0 -j CT --notrack",
    "-A FULLNAT-W0 -j NFQUEUE --queue-num 3",
    "-A FULLNAT-W1 -j CT --notrack",
    "-A FULLNAT-W1 -j NFQUEUE --queue-num 4",
    // ICMP errors by the client address they quote, everything else by the source.
    '-A FULLNAT-C -p icmp -m u32 --u32 "0>>22&0x3C@24&0x1=0x0" -j FULLNAT-W0',
    '-A FULLNAT-C -p icmp -m u32 --u32 "0>>22&0x3C@24&0x1=0x1" -j FULLNAT-W1',
    '-A FULLNAT-C -m u32 --u32 "0xc&0x1=0x0" -j FULLNAT-W0',
    '-A FULLNAT-C -m u32 --u32 "0xc&0x1=0x1" -j FULLNAT-W1',
    '-A FULLNAT-R -m u32 --u32 "0x10&0x1=0x0" -j FULLNAT-W0',
    '-A FULLNAT-R -m u32 --u32 "0x10&0x1=0x1" -j FULLNAT-W1',
    "-A FULLNAT-L -p tcp --dport 1000:1499 -j FULLNAT-W0",
    "-A FULLNAT-L -p udp --dport 1000:1499 -j FULLNAT-W0",
    '-A FULLNAT-L -p icmp -m u32 --u32 "0>>22&0x3C@28>>16=1000:1499" -j FULLNAT-W0',
    "-A FULLNAT-L -p tcp --dport 1500:1999 -j FULLNAT-W1",
    "-A FULLNAT-L -p udp --dport 1500:1999 -j FULLNAT-W1",
    '-A FULLNAT-L -p icmp -m u32 --u32 "0>>22&0x3C@28>>16=1500:1999" -j FULLNAT-W1',
    "-A FULLNAT-L -j FULLNAT-W0",
    "-A FULLNAT -d 10.0.0.1 -p tcp --dport 80 -j FULLNAT-C",
    "-A FULLNAT -d 10.0.0.1 -f -j FULLNAT-C",
    "-A FULLNAT -d 10.0.0.1 -p tcp -j RETURN",
    "-A FULLNAT -d 10.0.0.1 -p udp -j RETURN",
    "-A FULLNAT -d 10.0.0.1 -j FULLNAT-C",
    "-A FULLNAT -d 192.168.1.10 -j FULLNAT-L",
    "-A FULLNAT -s 192.168.1.20 -p tcp --sport 8080 -j FULLNAT-R",
    "-A FULLNAT -s 192.168.1.20 -p icmp -j FULLNAT-R",
  ]);
  // IPv6 uses the last 32 bits of each address.
  assert.ok(rules.ipv6.includes('-A FULLNAT-C -m u32 --u32 "0x14&0x1=0x1" -j FULLNAT-W1'));
  assert.ok(rules.ipv6.includes('-A FULLNAT-R -m u32 --u32 "0x24&0x1=0x0" -j FULLNAT-W0'));
});

Deno.test("buildRules() with 1 worker is the single-queue layout, whatever the port range", () => {
  const spec = { services: [], localAddresses: ["192.168.1.10"], natRealServers: [] };
  assert.deepEqual(
    buildRules(spec, { ...opts, workers: 1, localPorts: [5, 5] }),
    buildRules(spec, opts),
  );
});

Deno.test("portSlices() covers the range exactly with near-equal, ordered slices", () => {
  for (const n of [1, 2, 3, 7, 64]) {
    const slices = portSlices([1025, 65535], n);
    assert.equal(slices.length, n);
    assert.equal(slices[0][0], 1025);
    assert.equal(slices[n - 1][1], 65535);
    for (let i = 1; i < n; i++) assert.equal(slices[i][0], slices[i - 1][1] + 1);
    const sizes = slices.map(([lo, hi]) => hi - lo + 1);
    assert.ok(Math.max(...sizes) - Math.min(...sizes) <= 1, `n=${n}: ${sizes}`);
  }
  assert.deepEqual(portSlices([10, 11], 2), [[10, 10], [11, 11]]);
  assert.throws(() => portSlices([10, 11], 3), /at least one port per worker/);
  assert.throws(() => portSlices([1, 100], 0), /from 1 to 64/);
  assert.throws(() => portSlices([1, 100], 65), /from 1 to 64/);
});

Deno.test("addressBuckets() gives every bucket to exactly one worker, one contiguous run each", () => {
  for (let n = 1; n <= MAX_WORKERS; n++) {
    const { mask, ranges } = addressBuckets(n);
    assert.equal(ranges.length, n);
    const owners = new Array(mask + 1).fill(-1);
    ranges.forEach(([lo, hi], w) => {
      assert.ok(lo <= hi, `n=${n} worker ${w} has no bucket`);
      for (let b = lo; b <= hi; b++) {
        assert.equal(owners[b], -1, `n=${n} bucket ${b} twice`);
        owners[b] = w;
      }
    });
    assert.ok(owners.every((o) => o >= 0), `n=${n}: a bucket without a worker`);
    const sizes = ranges.map(([lo, hi]) => hi - lo + 1);
    // Power of two: one bucket each; otherwise at least 4, differing by at most one.
    if ((n & (n - 1)) === 0) assert.ok(sizes.every((s) => s === 1));
    else assert.ok(Math.min(...sizes) >= 4 || mask === 255, `n=${n}: ${sizes}`);
    assert.ok(Math.max(...sizes) - Math.min(...sizes) <= 1, `n=${n}: ${sizes}`);
  }
});

Deno.test("workerOfAddress() alternates consecutive addresses across 2 workers", () => {
  assert.deepEqual(
    ["198.51.100.2", "198.51.100.3", "198.51.100.4", "198.51.100.5"].map((a) =>
      workerOfAddress(a, 2)
    ),
    [0, 1, 0, 1],
  );
  assert.equal(workerOfAddress("10.0.0.7", 1), 0);
  assert.throws(() => workerOfAddress("2001:db8::1", 2), /not an IPv4 address/);
});

Deno.test("parseInstalled() knows the steering and worker chains; install deletes stale ones", () => {
  const text = [
    "-N FULLNAT",
    "-N FULLNAT-C",
    "-N FULLNAT-W0",
    "-N FULLNAT-W1",
    "-N FULLNAT-WX",
    "-N FULLNATZ-W0",
    "-A FULLNAT-C -j FULLNAT-W1",
  ].join("\n");
  const state = parseInstalled(text, "FULLNAT");
  assert.deepEqual(state.chains, ["FULLNAT", "FULLNAT-C", "FULLNAT-W0", "FULLNAT-W1"]);
  assert.deepEqual(state.rules, ["-A FULLNAT-C -j FULLNAT-W1"]);
  assert.ok(isOurChain("P", "P-W63"));
  assert.ok(!isOurChain("P", "P-W100"));
  assert.ok(!isOurChain("P", "PX-DIVERT"));

  const script = installScript(
    "FULLNAT",
    ["-A FULLNAT-DIVERT -j CT --notrack"],
    true,
    state.chains,
  );
  assert.equal(
    script,
    "*raw\n:FULLNAT - [0:0]\n:FULLNAT-DIVERT - [0:0]\n-F FULLNAT\n-F FULLNAT-DIVERT\n" +
      "-F FULLNAT-C\n-F FULLNAT-W0\n-F FULLNAT-W1\n-A FULLNAT-DIVERT -j CT --notrack\n" +
      "-X FULLNAT-C\n-X FULLNAT-W0\n-X FULLNAT-W1\nCOMMIT\n",
  );
});

Deno.test("buildRules() refuses worker counts and queue ranges out of bounds", () => {
  const empty = { services: [], localAddresses: [], natRealServers: [] };
  assert.throws(() => buildRules(empty, { ...opts, workers: 0 }), /from 1 to 64/);
  assert.throws(() => buildRules(empty, { ...opts, workers: 2.5 }), /from 1 to 64/);
  assert.throws(
    () => buildRules(empty, { ...opts, queueNum: 65535, workers: 2 }),
    /65535\.\.65536 \(one per worker\)/,
  );
  assert.throws(
    () => buildRules(empty, { ...opts, workers: 4, localPorts: [100, 102] }),
    /at least one port per worker/,
  );
});
