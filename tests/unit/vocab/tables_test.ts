/**
 * The vocabulary's tables: names, ipvsadm options, display names, what this build supports,
 * and the texts derived from them.
 */
import assert from "node:assert/strict";
import {
  andList,
  COMMAND_MAX_SECONDS,
  DEFAULT_FORWARD_METHOD,
  DEFAULT_SCHEDULER,
  ENGINE_MAX_SECONDS,
  FORWARD_METHOD_CHOICES,
  FORWARD_METHOD_TABLE,
  FORWARD_METHODS,
  forwardMethodEntry,
  forwardMethodOfIpvsadmOption,
  forwardMethodOfWord,
  isForwardMethod,
  isProtocol,
  isSchedulerName,
  orList,
  PROTOCOL_CHOICES,
  PROTOCOL_TABLE,
  protocolEntry,
  protocolNumber,
  protocolOfIpvsadmOption,
  protocolOfNumber,
  PROTOCOLS,
  SCHEDULER_CHOICES,
  SCHEDULER_TABLE,
  schedulerEntry,
  SCHEDULERS,
  UNSUPPORTED_FORWARDING,
} from "../../../src/vocab/mod.ts";

Deno.test("orList() and andList() join one, two and three words for a sentence", () => {
  assert.equal(orList([]), "");
  assert.equal(orList(["rr"]), "rr");
  assert.equal(orList(["rr", "wrr"]), "rr or wrr");
  assert.equal(orList(["a", "b", "c"]), "a, b or c");
  assert.equal(andList(["-g", "-i"]), "-g and -i");
});

Deno.test("PROTOCOL_TABLE: tcp and udp with their numbers, ipvsadm options and listing names", () => {
  assert.deepEqual(PROTOCOLS, ["tcp", "udp"]);
  assert.deepEqual(
    PROTOCOL_TABLE.map((p) => [p.name, p.number, `-${p.ipvsadm.short}`, p.ipvsadm.long, p.display]),
    [["tcp", 6, "-t", "tcp-service", "TCP"], ["udp", 17, "-u", "udp-service", "UDP"]],
  );
  assert.equal(PROTOCOL_CHOICES, "tcp or udp");
  assert.equal(protocolEntry("udp").display, "UDP");
});

Deno.test("protocol lookups go both ways and find nothing for other protocols", () => {
  for (const p of PROTOCOLS) {
    assert.equal(protocolOfNumber(protocolNumber(p)), p);
    assert.equal(protocolOfIpvsadmOption(protocolEntry(p).ipvsadm.long), p);
    assert.ok(isProtocol(p));
  }
  assert.equal(protocolOfNumber(1), undefined);
  assert.equal(protocolOfIpvsadmOption("fwmark-service"), undefined);
  assert.ok(!isProtocol("TCP") && !isProtocol("sctp") && !isProtocol(6));
});

Deno.test("SCHEDULER_TABLE: rr, wrr, lc, wlc, dh, sh and mh supported, the other IPVS schedulers known but refused", () => {
  assert.deepEqual(SCHEDULERS, ["rr", "wrr", "lc", "wlc", "dh", "sh", "mh"]);
  assert.equal(DEFAULT_SCHEDULER, "wrr");
  assert.equal(SCHEDULER_CHOICES, "rr, wrr, lc, wlc, dh, sh or mh");
  assert.deepEqual(
    SCHEDULER_TABLE.filter((s) => !s.supported).map((s) => s.name),
    ["lblc", "lblcr", "sed", "nq", "fo", "ovf"],
  );
  assert.ok(isSchedulerName("wlc") && !isSchedulerName("sed") && !isSchedulerName("fastest"));
  assert.equal(schedulerEntry("sed")?.supported, false);
  assert.equal(schedulerEntry("fastest"), undefined);
  assert.ok(SCHEDULERS.includes(DEFAULT_SCHEDULER));
});

Deno.test("FORWARD_METHOD_TABLE: -b, -m, -g and -i all supported", () => {
  assert.deepEqual(
    FORWARD_METHOD_TABLE.map((m) => [m.name, `-${m.ipvsadm.short}`, m.ipvsadm.long, m.display]),
    [
      ["fullnat", "-b", "fullnat", "FullNat"],
      ["nat", "-m", "masquerading", "Masq"],
      ["dr", "-g", "gatewaying", "Route"],
      ["tunnel", "-i", "ipip", "Tunnel"],
    ],
  );
  assert.deepEqual(FORWARD_METHODS, ["fullnat", "nat", "dr", "tunnel"]);
  assert.equal(DEFAULT_FORWARD_METHOD, "fullnat");
  assert.equal(FORWARD_METHOD_CHOICES, "fullnat, nat, dr or tunnel");
  assert.ok(isForwardMethod("nat") && isForwardMethod("dr") && isForwardMethod("tunnel"));
  assert.equal(forwardMethodEntry("tunnel").display, "Tunnel");
});

Deno.test("UNSUPPORTED_FORWARDING names the options that work", () => {
  assert.equal(
    UNSUPPORTED_FORWARDING,
    "forwarding method not supported by fullnat: use -b (FULLNAT), -m (NAT), -g (direct routing) or -i (tunnelling)",
  );
});

Deno.test("forwardMethodOfIpvsadmOption() knows all four; forwardMethodOfWord() only the supported", () => {
  assert.equal(forwardMethodOfIpvsadmOption("fullnat"), "fullnat");
  assert.equal(forwardMethodOfIpvsadmOption("masquerading"), "nat");
  assert.equal(forwardMethodOfIpvsadmOption("gatewaying"), "dr");
  assert.equal(forwardMethodOfIpvsadmOption("ipip"), "tunnel");
  assert.equal(forwardMethodOfIpvsadmOption("weight"), undefined);
  for (
    const [word, method] of [
      ["FULLNAT", "fullnat"],
      ["b", "fullnat"],
      ["nat", "nat"],
      [
        "Masq",
        "nat",
      ],
      ["m", "nat"],
      ["tunnel", "tunnel"],
      ["i", "tunnel"],
      ["TUN", "tunnel"],
      ["ipip", "tunnel"],
      ["dr", "dr"],
      ["G", "dr"],
    ]
  ) {
    assert.equal(forwardMethodOfWord(word), method, word);
  }
  for (const word of ["route", "x", ""]) {
    assert.equal(forwardMethodOfWord(word), undefined, word);
  }
});

Deno.test("seconds: commands take up to 31 days, the engine up to 2,000,000 s", () => {
  assert.equal(COMMAND_MAX_SECONDS, 2_678_400);
  assert.equal(ENGINE_MAX_SECONDS, 2_000_000);
});
