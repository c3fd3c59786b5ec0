/**
 * Conversion rules one at a time: keepalived's defaults and inheritance (scheduler, method,
 * weight, check timing and Host header), ranges, scheduler flags, persistence granularity,
 * est_timeout per dialect, families, duplicates and the keywords refused or noted.
 */
import assert from "node:assert/strict";
import { importKeepalived, memorySource } from "../../../src/keepalived/mod.ts";
import type { ImportedService } from "../../../src/keepalived/output.ts";
import { expandAddressRange, netmaskPrefixLength } from "../../../src/keepalived/ranges.ts";

/** Imports `text` as k.conf. */
const run = (text: string) => importKeepalived("k.conf", memorySource({ "k.conf": text }));

/** A virtual server around `body`, protocol TCP and lb_kind NAT unless the body sets them. */
const vs = (body: string, head = "192.0.2.10 80") =>
  `virtual_server ${head} {\n${body.includes("protocol") ? "" : "protocol TCP\n"}${
    body.includes("lb_kind") ? "" : "lb_kind NAT\n"
  }${body}\n}\n`;

async function services(text: string): Promise<ImportedService[]> {
  const r = await run(text);
  assert.deepEqual(r.problems, []);
  return r.document!.services;
}

async function problems(text: string): Promise<string[]> {
  const r = await run(text);
  assert.equal(r.document, undefined, "no document when there are problems");
  return r.problems;
}

Deno.test("keepalived defaults: wlc, NAT without lb_kind (noted), weight 1, RS port from the VS", async () => {
  const r = await run(
    "virtual_server 192.0.2.10 80 {\nprotocol TCP\nreal_server 10.0.0.1 {\n}\n}\n",
  );
  assert.deepEqual(r.problems, []);
  assert.deepEqual(r.document!.services, [{
    protocol: "tcp",
    address: "192.0.2.10",
    port: 80,
    scheduler: "wlc",
    realServers: [{ address: "10.0.0.1", port: 80, method: "nat" }],
    localAddresses: [],
  }]);
  assert.deepEqual(r.notes, [
    "k.conf:1: virtual_server 192.0.2.10 80: no lb_kind; keepalived's default, NAT, is used",
  ]);
});

Deno.test("check timing: checker, then real server, then virtual server, then keepalived's default", async () => {
  const [svc] = await services(vs(`
    delay_loop 10
    connect_timeout 4
    retry 5
    real_server 10.0.0.1 80 {
      delay_before_retry 2
      TCP_CHECK {
        connect_timeout 1
      }
      HTTP_GET {
        url {
          path /
        }
      }
      MISC_CHECK {
        misc_path /bin/true
        misc_timeout 10
      }
    }`));
  assert.deepEqual(svc.realServers[0].checks, [
    { type: "tcp", delayLoop: 10, connectTimeout: 1, retry: 5, delayBeforeRetry: 2 },
    {
      type: "http",
      delayLoop: 10,
      connectTimeout: 4,
      retry: 5,
      delayBeforeRetry: 2,
      urls: [{ path: "/" }],
    },
    // misc_timeout equal to delay_loop is keepalived's default: left out. retry from the VS.
    { type: "misc", delayLoop: 10, retry: 5, delayBeforeRetry: 2, command: "/bin/true" },
  ]);
});

Deno.test("check defaults: HTTP waits 3 s before a retry, MISC_CHECK does not retry", async () => {
  const [svc] = await services(vs(`
    real_server 10.0.0.1 80 {
      SSL_GET {
        url {
          path /
          status_code 200-299
        }
      }
      MISC_CHECK {
        misc_path "/bin/check a b"
      }
      TCP_CHECK {
      }
    }`));
  assert.deepEqual(svc.realServers[0].checks, [
    { type: "https", delayBeforeRetry: 3, urls: [{ path: "/" }] },
    { type: "misc", retry: 0, command: "/bin/check a b" },
    { type: "tcp" },
  ]);
});

Deno.test("virtualhost: url, checker, real server, virtual server; urls that disagree are refused", async () => {
  const [svc] = await services(vs(`
    virtualhost vs.example
    real_server 10.0.0.1 80 {
      HTTP_GET {
        url {
          path /
        }
      }
    }
    real_server 10.0.0.2 80 {
      virtualhost rs.example
      HTTP_GET {
        url {
          path /
          virtualhost url.example
        }
      }
    }`));
  assert.deepEqual(
    svc.realServers.map((r) => r.checks?.[0].virtualHost),
    ["vs.example", "url.example"],
  );
  assert.deepEqual(
    await problems(vs(`
    real_server 10.0.0.1 80 {
      HTTP_GET {
        virtualhost a.example
        url {
          path /
        }
        url {
          path /b
          virtualhost b.example
        }
      }
    }`)),
    [
      "k.conf:11: url virtualhost: the urls of one HTTP_GET ask for different Host headers; " +
      "not supported yet (one virtualhost per check: split them into several checks)",
    ],
  );
});

Deno.test("status_code: codes and ranges, sorted; 200-299 alone is the default and left out", async () => {
  const [svc] = await services(vs(`
    real_server 10.0.0.1 80 {
      HTTP_GET {
        url {
          path /a
          status_code 302 200-201 301
          digest 9B3A0C85A887A256D6939DA88AABD8CD
        }
        url {
          path /b
          status_code 200-250 251-299
        }
      }
    }`));
  assert.deepEqual(svc.realServers[0].checks?.[0].urls, [
    {
      path: "/a",
      statusCodes: [200, 201, 301, 302],
      digest: "9b3a0c85a887a256d6939da88aabd8cd",
    },
    { path: "/b" },
  ]);
});

Deno.test("scheduler flags: sh-/mh- names and flag-1/flag-2 by scheduler; another scheduler's refused", async () => {
  const [sh] = await services(vs("lb_algo sh\nflag-2\nflag-1\nreal_server 10.0.0.1 80\n"));
  assert.deepEqual(sh.schedulerFlags, ["sh-fallback", "sh-port"]);
  const [mh] = await services(vs("lb_algo mh\nmh-port\nreal_server 10.0.0.1 80\n"));
  assert.deepEqual([mh.scheduler, mh.schedulerFlags], ["mh", ["mh-port"]]);
  assert.deepEqual(await problems(vs("lb_algo rr\nsh-port\nflag-1\nreal_server 10.0.0.1 80\n")), [
    "k.conf:5: sh-port: applies to the sh scheduler only (this virtual server uses rr; keepalived ignores it)",
    "k.conf:6: flag-1: applies to the sh and mh scheduler only (this virtual server uses rr; keepalived ignores it)",
  ]);
});

Deno.test("persistence_granularity: netmask or prefix length; persistence 360 s when only it is set", async () => {
  const [v4] = await services(vs("persistence_granularity 255.255.0.0\nreal_server 10.0.0.1 80\n"));
  assert.deepEqual([v4.persistence, v4.persistenceMask], [360, 16]);
  const [v6] = await services(
    vs(
      "persistence_timeout 60\npersistence_granularity 48\nreal_server 2001:db8::1 80\n",
      "2001:db8::10 80",
    ),
  );
  assert.deepEqual([v6.persistence, v6.persistenceMask], [60, 48]);
  const [full] = await services(
    vs("persistence_granularity 255.255.255.255\nreal_server 10.0.0.1 80\n"),
  );
  assert.equal(full.persistenceMask, undefined, "the default, /32, is left out");
  assert.deepEqual(
    await problems(vs("persistence_granularity 255.0.255.0\nreal_server 10.0.0.1 80\n")),
    [
      "k.conf:4: persistence_granularity 255.0.255.0: an IPv4 service takes a netmask with " +
      "contiguous ones, like 255.255.255.0",
    ],
  );
});

Deno.test("est_timeout (Alibaba) is TCP's ESTABLISHED timeout; establish_timeout (DPVS) also UDP's", async () => {
  const [tcp] = await services(vs("est_timeout 900\nreal_server 10.0.0.1 80\n"));
  assert.deepEqual(tcp.timeouts, { tcpEstablished: 900 });
  const [udp] = await services(vs("protocol UDP\nestablish_timeout 30\nreal_server 10.0.0.1 80\n"));
  assert.deepEqual(udp.timeouts, { udp: 30 });
  const r = await run(vs("protocol UDP\nest_timeout 30\nreal_server 10.0.0.1 80\n"));
  assert.equal(r.document?.services[0].timeouts, undefined);
  assert.deepEqual(r.notes, [
    "k.conf:4: est_timeout ignored: Alibaba LVS applies it to TCP services only",
  ]);
});

Deno.test("virtual_server_group members and local_address_group ranges expand; groups may come later", async () => {
  assert.deepEqual(
    await problems(
      "virtual_server group web {\nprotocol TCP\nlb_kind FNAT\nladdr_group_name lg\n" +
        "real_server 10.0.0.1\n}\n" +
        "virtual_server_group web {\n192.0.2.1 80\n2001:db8::a 443\n}\n" +
        "local_address_group lg {\n203.0.113.1\n}\n",
    ),
    [
      "k.conf:4: laddr_group_name lg: local address 203.0.113.1 is IPv4 but service tcp " +
      "[2001:db8::a]:443 is IPv6: a service, its real servers, sorry server and local addresses " +
      "share one family",
      "k.conf:5: real_server 10.0.0.1 is IPv4 but service tcp [2001:db8::a]:443 is IPv6: a " +
      "service, its real servers, sorry server and local addresses share one family",
    ],
  );
  const ok = await services(
    "virtual_server_group web {\n192.0.2.1-2 80\n192.0.2.9 8080\n}\n" +
      "virtual_server group web {\nprotocol TCP\nlb_kind FNAT\nladdr_group_name lg\n" +
      "real_server 10.0.0.1\n}\n" +
      "local_address_group lg {\n203.0.113.1-2\n203.0.113.9 eth1\n}\n",
  );
  assert.deepEqual(ok.map((s) => [s.address, s.port, s.realServers[0].port]), [
    ["192.0.2.1", 80, 80],
    ["192.0.2.2", 80, 80],
    ["192.0.2.9", 8080, 8080],
  ]);
  assert.deepEqual(ok[0].localAddresses, ["203.0.113.1", "203.0.113.2", "203.0.113.9"]);
});

Deno.test("refused: unknown groups, duplicates, families, missing protocol or real servers", async () => {
  assert.deepEqual(
    await problems(
      vs(
        "laddr_group_name nope\nsorry_server 2001:db8::1 80\nreal_server 10.0.0.1 80\n" +
          "real_server 10.0.0.1 80\nreal_server 2001:db8::2 80\n",
      ) +
        vs("real_server 10.0.0.9 80\n") +
        "virtual_server group missing {\nprotocol TCP\nreal_server 10.0.0.1 80\n}\n" +
        "virtual_server 192.0.2.11 80 {\nlb_kind NAT\nreal_server 10.0.0.1 80\n}\n" +
        "virtual_server 192.0.2.12 80 {\nprotocol UDP\n}\n",
    ),
    [
      "k.conf:4: laddr_group_name nope: no local_address_group of that name is defined",
      "k.conf:5: sorry_server 2001:db8::1 is IPv6 but service tcp 192.0.2.10:80 is IPv4: a " +
      "service, its real servers, sorry server and local addresses share one family",
      "k.conf:7: real_server 10.0.0.1:80 is already listed (line 6)",
      "k.conf:8: real_server 2001:db8::2 is IPv6 but service tcp 192.0.2.10:80 is IPv4: a " +
      "service, its real servers, sorry server and local addresses share one family",
      "k.conf:11: service tcp 192.0.2.10:80 is already defined (k.conf:1)",
      "k.conf:17: virtual_server group missing: no virtual_server_group missing is defined",
      "k.conf:21: virtual_server 192.0.2.11 80: no protocol (keepalived falls back to UDP with " +
      "a warning); say protocol TCP or protocol UDP",
      "k.conf:25: virtual_server 192.0.2.12 80: no real_server (keepalived ignores such a " +
      "virtual server)",
    ],
  );
});

Deno.test("refused keywords name the reason; harmless ones are notes", async () => {
  const r = await run(vs(`
    ha_suspend
    warmup 5
    hashed
    nat_mask 255.255.255.0
    snmp_name web
    smtp_alert off
    real_server 10.0.0.1 80 {
      weight 70000
      TCP_CHECK {
        log_all_failures
        bind_if eth0
        nosuch 1
      }
      PING_CHECK {
      }
    }`));
  assert.deepEqual(r.problems, [
    "k.conf:5: ha_suspend: not supported yet (checks run whether or not this box holds the VIP)",
    "k.conf:6: warmup 5: not supported yet (the first check runs within one delay_loop)",
    "k.conf:7: hashed: not supported (an old IPVS flag with no effect on scheduling)",
    "k.conf:12: weight 70000: must be an integer from 0 to 65535",
    "k.conf:15: bind_if eth0: not supported yet (use bindto with an address of that interface)",
    "k.conf:16: nosuch: unknown keyword in TCP_CHECK",
    "k.conf:18: PING_CHECK: not supported yet (fullnat checks: TCP_CHECK, HTTP_GET, SSL_GET, MISC_CHECK)",
  ]);
  assert.deepEqual(r.notes, [
    "k.conf:8: nat_mask ignored, as keepalived ignores it",
    "k.conf:9: snmp_name ignored: fullnat has no SNMP agent",
    "k.conf:14: log_all_failures ignored: fullnat keeps every check's last result and logs each change",
  ]);
});

Deno.test("top level: VRRP and the box's own sections are notes, SSL and unknown keywords problems", async () => {
  const r = await run(
    "vrrp_sync_group VG1 {\n}\nstatic_routes {\n}\nSSL {\n}\ndeny_address_group d {\n}\nfoo_bar\n",
  );
  assert.deepEqual(r.notes, [
    "k.conf:1: vrrp_sync_group VG1 skipped: VRRP is left to keepalived itself, run beside the daemon",
    "k.conf:3: static_routes skipped: the box's own routes are set with ip or provisioning",
  ]);
  assert.deepEqual(r.problems, [
    "k.conf:5: SSL (client certificate and key for SSL_GET): not supported yet",
    "k.conf:9: foo_bar: unknown keyword at the top level",
  ]);
});

Deno.test("global_defs: lvs_timeouts taken, the rest named in one note (at most 8 names)", async () => {
  const keys = [
    "router_id",
    "notification_email",
    "smtp_server",
    "script_user",
    "enable_script_security",
    "vrrp_strict",
    "vrrp_garp_interval",
    "lvs_sync_daemon",
    "max_auto_priority",
    "router_id",
  ];
  const r = await run(`global_defs {\nlvs_timeouts udp 30 tcp 600\n${keys.join(" x\n")} x\n}\n`);
  assert.deepEqual(r.document, {
    version: 1,
    timeouts: { udp: 30, tcpEstablished: 600 },
    services: [],
  });
  assert.deepEqual(r.notes, [
    "k.conf:1: global_defs skipped (router_id, notification_email, smtp_server, script_user, " +
    "enable_script_security, vrrp_strict, vrrp_garp_interval and 2 more): keepalived's own " +
    "settings; lvs_timeouts taken",
  ]);
  assert.deepEqual(
    (await run("global_defs {\nlvs_timeouts tcp\nlvs_timeouts tcp 5 fin 3\n}\n")).problems,
    [
      "k.conf:2: lvs_timeouts tcp: lvs_timeouts takes pairs: tcp N, tcpfin N, udp N",
      "k.conf:3: lvs_timeouts fin: unknown (tcp, tcpfin or udp)",
    ],
  );
});

Deno.test("expandAddressRange() and netmaskPrefixLength() read keepalived's forms", () => {
  const v6 = expandAddressRange("2001:db8::ff-101");
  assert.ok(v6.ok);
  assert.deepEqual(v6.addresses, ["2001:db8::ff", "2001:db8::100", "2001:db8::101"]);
  for (
    const [text, message] of [
      ["10.0.0.5-3", "range 10.0.0.5-3 ends before it starts"],
      ["10.0.0.1-256", "range 10.0.0.1-256: the end must be the last byte of the address (0-255)"],
      ["10.0.0.1-x", "range 10.0.0.1-x: the end must be the last byte of the address (0-255)"],
      ["lb.example", '"lb.example" is not an IPv4 or IPv6 address (or a range like 192.0.2.1-10)'],
      [
        "2001:db8::1-10000",
        "range 2001:db8::1-10000: the end must be the last group of the address in hex (0-ffff)",
      ],
      ["2001:db8::1-1ff", "range 2001:db8::1-1ff names more than 256 addresses"],
    ]
  ) {
    assert.deepEqual(expandAddressRange(text), { ok: false, message });
  }
  assert.deepEqual(
    ["255.255.255.0", "255.255.255.255", "0.0.0.0", "255.255.254.0", "255.0.255.0", "24"].map(
      netmaskPrefixLength,
    ),
    [24, 32, 0, 23, undefined, undefined],
  );
});

Deno.test("syn_proxy: Alibaba's SYN proxy of a FULLNAT TCP service; refused on UDP or NAT", async () => {
  const [svc] = await services(vs(`
    lb_kind FNAT
    syn_proxy
    real_server 10.0.0.1 80 {
    }`));
  assert.equal(svc.synProxy, true);
  assert.deepEqual(
    await problems(vs(`
    protocol UDP
    lb_kind FNAT
    syn_proxy
    real_server 10.0.0.1 53 {
    }`)),
    ["k.conf:5: syn_proxy: the SYN proxy applies to TCP services only"],
  );
  assert.deepEqual(
    await problems(vs(`
    syn_proxy
    real_server 10.0.0.1 80 {
    }`)),
    ["k.conf:5: syn_proxy: the SYN proxy proxies to FULLNAT real servers only (lb_kind FNAT)"],
  );
});
