// Expected layouts are written out literally from the printf formats of the FULLNAT ipvsadm
// (alibaba/LVS tools/ipvsadm/ipvsadm.c: print_title, print_service_entry, print_largenum,
// list_conn/print_conn, list_laddrs_print_*, list_timeout). Trailing spaces are significant.
import { strictEqual } from "node:assert/strict";
import {
  formatConnections,
  formatLargeNumber,
  formatLocalAddressTable,
  formatOneService,
  formatServiceLocalAddresses,
  formatServiceTable,
  formatTimeouts,
} from "../../../src/ctl/ipvsadm/format.ts";
import type { ListFormat } from "../../../src/ctl/ipvsadm/command.ts";
import {
  type ConnectionView,
  DEFAULT_TCP_TWEAKS,
  DEFAULT_TIMEOUTS,
  type RealServerView,
  type ServiceView,
  type Stats,
} from "../../../src/fullnat/types.ts";

const lines = (...ls: string[]) => ls.map((l) => l + "\n").join("");
const fmt = (over: Partial<ListFormat> = {}): ListFormat => ({
  numeric: true,
  stats: false,
  rate: false,
  exact: false,
  nosort: false,
  persistentConn: false,
  ...over,
});
const stats = (conns = 0, inPackets = 0, outPackets = 0, inBytes = 0, outBytes = 0): Stats => ({
  conns,
  inPackets,
  outPackets,
  inBytes,
  outBytes,
});
const rs = (over: Partial<RealServerView> & { address: string; port: number }): RealServerView => ({
  weight: 1,
  method: "fullnat",
  activeConns: 0,
  inactiveConns: 0,
  stats: stats(),
  ...over,
});
const svc = (over: Partial<ServiceView> & { address: string; port: number }): ServiceView => ({
  protocol: "tcp",
  scheduler: "wrr",
  persistence: 0,
  ...DEFAULT_TCP_TWEAKS,
  realServers: [],
  localAddresses: [],
  stats: stats(),
  ...over,
});

// Deliberately out of ipvsadm's order: the formatter sorts.
const SERVICES: ServiceView[] = [
  svc({ protocol: "udp", address: "10.0.0.100", port: 53 }),
  svc({
    address: "10.0.0.100",
    port: 80,
    scheduler: "rr",
    persistence: 300,
    stats: stats(12, 345, 300, 45678, 1234567),
    realServers: [
      rs({
        address: "192.168.1.10",
        port: 8080,
        method: "nat",
        weight: 100,
        stats: stats(123456789, 5000000000, 100000000000000, 99999999, 100000000),
      }),
      rs({
        address: "192.168.1.2",
        port: 80,
        activeConns: 3,
        inactiveConns: 10,
        stats: stats(12, 345, 300, 45678, 1234567),
      }),
    ],
    localAddresses: [
      { address: "192.168.1.100", conns: 5, portConflicts: 0 },
      { address: "192.168.1.101", conns: 0, portConflicts: 3 },
    ],
  }),
  svc({ address: "10.0.0.99", port: 443 }),
];

Deno.test("-L -n: header, titles, services sorted, FullNat and Masq rows", () => {
  strictEqual(
    formatServiceTable(SERVICES, fmt()),
    lines(
      "IP Virtual Server version 1.2.1 (size=4096)",
      "Prot LocalAddress:Port Scheduler Flags",
      "  -> RemoteAddress:Port           Forward Weight ActiveConn InActConn",
      "TCP  10.0.0.99:443 wrr",
      "TCP  10.0.0.100:80 rr persistent 300",
      "  -> 192.168.1.2:80               FullNat 1      3          10        ",
      "  -> 192.168.1.10:8080            Masq    100    0          0         ",
      "UDP  10.0.0.100:53 wrr",
    ),
  );
});

Deno.test("-L -n: scheduler flags in parentheses after the scheduler, as ipvsadm prints them", () => {
  const services = [
    svc({
      address: "10.0.0.1",
      port: 80,
      scheduler: "sh",
      schedulerFlags: ["sh-fallback", "sh-port"],
      persistence: 60,
    }),
    svc({ address: "10.0.0.2", port: 80, scheduler: "mh", schedulerFlags: ["mh-port"] }),
    svc({ address: "10.0.0.3", port: 80, scheduler: "mh", schedulerFlags: [] }),
  ];
  strictEqual(
    formatServiceTable(services, fmt()).split("\n").slice(3).join("\n"),
    lines(
      "TCP  10.0.0.1:80 sh (sh-fallback,sh-port) persistent 60",
      "TCP  10.0.0.2:80 mh (mh-port)",
      "TCP  10.0.0.3:80 mh",
    ),
  );
});

Deno.test("-L -n with no services prints the header and titles only", () => {
  strictEqual(
    formatServiceTable([], fmt()),
    lines(
      "IP Virtual Server version 1.2.1 (size=4096)",
      "Prot LocalAddress:Port Scheduler Flags",
      "  -> RemoteAddress:Port           Forward Weight ActiveConn InActConn",
    ),
  );
});

Deno.test("--nosort keeps the daemon's order", () => {
  const out = formatServiceTable(SERVICES, fmt({ nosort: true })).split("\n");
  strictEqual(out[3], "UDP  10.0.0.100:53 wrr");
  strictEqual(out[5], "  -> 192.168.1.10:8080            Masq    100    0          0         ");
});

Deno.test("-L -n: widest values still line up; IPv6 after IPv4, bracketed", () => {
  const wide = [
    svc({ protocol: "udp", address: "2001:db8::1", port: 443 }),
    svc({
      protocol: "udp",
      address: "255.255.255.255",
      port: 65535,
      realServers: [
        rs({ address: "255.255.255.255", port: 65535, weight: 65535, activeConns: 4294967295 }),
      ],
    }),
  ];
  strictEqual(
    formatServiceTable(wide, fmt()),
    lines(
      "IP Virtual Server version 1.2.1 (size=4096)",
      "Prot LocalAddress:Port Scheduler Flags",
      "  -> RemoteAddress:Port           Forward Weight ActiveConn InActConn",
      "UDP  255.255.255.255:65535 wrr",
      "  -> 255.255.255.255:65535        FullNat 65535  4294967295 0         ",
      "UDP  [2001:db8::1]:443 wrr",
    ),
  );
});

Deno.test("-L -n --stats: counters, K/M/T abbreviations", () => {
  strictEqual(
    formatServiceTable(SERVICES, fmt({ stats: true })),
    lines(
      "IP Virtual Server version 1.2.1 (size=4096)",
      "Prot LocalAddress:Port               Conns   InPkts  OutPkts  InBytes OutBytes",
      "  -> RemoteAddress:Port",
      "TCP  10.0.0.99:443                       0        0        0        0        0",
      "TCP  10.0.0.100:80                      12      345      300    45678  1234567",
      "  -> 192.168.1.2:80                     12      345      300    45678  1234567",
      "  -> 192.168.1.10:8080             123456K    5000M     100T 99999999  100000K",
      "UDP  10.0.0.100:53                       0        0        0        0        0",
    ),
  );
});

Deno.test("-L -n --stats --exact: full numbers, columns widen", () => {
  const out = formatServiceTable(SERVICES, fmt({ stats: true, exact: true })).split("\n");
  strictEqual(
    out[6],
    "  -> 192.168.1.10:8080            123456789 5000000000 100000000000000 99999999 100000000",
  );
  strictEqual(
    out[4],
    "TCP  10.0.0.100:80                      12      345      300    45678  1234567",
  );
});

Deno.test("print_largenum thresholds", () => {
  const cases: [number, string][] = [
    [0, "        0"],
    [99999999, " 99999999"],
    [100000000, "  100000K"],
    [999999999, "  999999K"],
    [1000000000, "    1000M"],
    [99999999999, "   99999M"],
    [100000000000, "     100G"],
    [99999999999999, "   99999G"],
    [100000000000000, "     100T"],
  ];
  for (const [n, text] of cases) strictEqual(formatLargeNumber(n, false), text, String(n));
  strictEqual(formatLargeNumber(12345678, true), " 12345678");
  strictEqual(formatLargeNumber(123456789, true), " 123456789");
});

Deno.test("-L -n -t VIP:port: titles and that service, no version line", () => {
  strictEqual(
    formatOneService(SERVICES[1], fmt()),
    lines(
      "Prot LocalAddress:Port Scheduler Flags",
      "  -> RemoteAddress:Port           Forward Weight ActiveConn InActConn",
      "TCP  10.0.0.100:80 rr persistent 300",
      "  -> 192.168.1.2:80               FullNat 1      3          10        ",
      "  -> 192.168.1.10:8080            Masq    100    0          0         ",
    ),
  );
  strictEqual(
    formatOneService(SERVICES[2], fmt({ stats: true })),
    lines(
      "Prot LocalAddress:Port               Conns   InPkts  OutPkts  InBytes OutBytes",
      "  -> RemoteAddress:Port",
      "TCP  10.0.0.99:443                       0        0        0        0        0",
    ),
  );
});

Deno.test("-L -n -c: ipvsadm's columns with the local address before the destination", () => {
  const conns: ConnectionView[] = [
    {
      protocol: "tcp",
      method: "fullnat",
      state: "ESTABLISHED",
      expiresInMs: 90_999,
      client: { address: "203.0.113.7", port: 51234 },
      virtual: { address: "10.0.0.100", port: 80 },
      local: { address: "192.168.1.100", port: 5001 },
      real: { address: "192.168.1.2", port: 80 },
    },
    {
      protocol: "udp",
      method: "nat",
      state: "UDP",
      expiresInMs: 2_500,
      client: { address: "203.0.113.8", port: 53000 },
      virtual: { address: "10.0.0.100", port: 53 },
      local: { address: "203.0.113.8", port: 53000 },
      real: { address: "192.168.1.3", port: 53 },
    },
    {
      protocol: "tcp",
      method: "fullnat",
      state: "SYN_RECV",
      expiresInMs: 7_500_000,
      client: { address: "2001:db8::7", port: 40000 },
      virtual: { address: "2001:db8::1", port: 443 },
      local: { address: "2001:db8:1::1", port: 6000 },
      real: { address: "2001:db8:1::2", port: 443 },
    },
  ];
  strictEqual(
    formatConnections(conns),
    lines(
      "IPVS connection entries",
      "pro expire state       source             virtual            local              destination",
      "TCP 01:30  ESTABLISHED 203.0.113.7:51234  10.0.0.100:80      192.168.1.100:5001 192.168.1.2:80",
      "UDP 00:02  UDP         203.0.113.8:53000  10.0.0.100:53      203.0.113.8:53000  192.168.1.3:53",
      "TCP 125:00 SYN_RECV    [2001:db8::7]:40000 [2001:db8::1]:443  [2001:db8:1::1]:6000 [2001:db8:1::2]:443",
    ),
  );
  strictEqual(
    formatConnections([]),
    lines(
      "IPVS connection entries",
      "pro expire state       source             virtual            local              destination",
    ),
  );
});

Deno.test("-G: title once, each service with its count, then its local addresses", () => {
  const services = [SERVICES[1], SERVICES[0]];
  strictEqual(
    formatLocalAddressTable(services),
    lines(
      "VIP:VPORT            TOTAL    LADDR                CONFLICTS  CONNS     ",
      "10.0.0.100:80        2        ",
      "                              192.168.1.100        0          5         ",
      "                              192.168.1.101        3          0         ",
      "10.0.0.100:53        0        ",
    ),
  );
  strictEqual(formatLocalAddressTable([]), "");
  strictEqual(
    formatServiceLocalAddresses(SERVICES[2]),
    lines(
      "VIP:VPORT            TOTAL    LADDR                CONFLICTS  CONNS     ",
      "10.0.0.99:443        0        ",
    ),
  );
});

Deno.test("--timeout", () => {
  strictEqual(formatTimeouts(DEFAULT_TIMEOUTS), "Timeout (tcp tcpfin udp): 90 7 300\n");
  strictEqual(
    formatTimeouts({ ...DEFAULT_TIMEOUTS, tcpEstablished: 900, tcpFinWait: 120, udp: 60 }),
    "Timeout (tcp tcpfin udp): 900 120 60\n",
  );
});

const rates = (cps: number, inPps: number, outPps: number, inBps: number, outBps: number) => ({
  cps,
  inPps,
  outPps,
  inBps,
  outBps,
});
const RATED: ServiceView[] = [
  svc({ protocol: "udp", address: "10.0.0.100", port: 53, rate: rates(0, 0, 0, 0, 0) }),
  svc({
    address: "10.0.0.100",
    port: 80,
    rate: rates(12, 345, 300, 123456789, 5000),
    realServers: [
      rs({ address: "192.168.1.10", port: 80, rate: rates(123456789, 1, 2, 3, 100000000) }),
      rs({ address: "192.168.1.2", port: 80, rate: rates(7, 70, 60, 9000, 80000) }),
    ],
  }),
];

Deno.test("-L -n --rate: ipvsadm's columns; a real server's CPS/InPPS/OutPPS are never abbreviated", () => {
  strictEqual(
    formatServiceTable(RATED, fmt({ rate: true })),
    lines(
      "IP Virtual Server version 1.2.1 (size=4096)",
      "Prot LocalAddress:Port                 CPS    InPPS   OutPPS    InBPS   OutBPS",
      "  -> RemoteAddress:Port",
      "TCP  10.0.0.100:80                      12      345      300  123456K     5000",
      "  -> 192.168.1.2:80                      7       70       60     9000    80000",
      "  -> 192.168.1.10:80              123456789        1        2        3  100000K",
      "UDP  10.0.0.100:53                       0        0        0        0        0",
    ),
  );
  // --exact writes the service's numbers and the byte rates in full.
  const exact = formatServiceTable(RATED, fmt({ rate: true, exact: true })).split("\n");
  strictEqual(
    exact[3],
    "TCP  10.0.0.100:80                      12      345      300 123456789     5000",
  );
  strictEqual(
    exact[5],
    "  -> 192.168.1.10:80              123456789        1        2        3 100000000",
  );
  // --stats wins over --rate, as in ipvsadm.
  strictEqual(
    formatServiceTable(RATED, fmt({ rate: true, stats: true })).split("\n")[1],
    "Prot LocalAddress:Port               Conns   InPkts  OutPkts  InBytes OutBytes",
  );
});

Deno.test("-L -n: a persistence granularity as ipvsadm prints it (mask NETMASK; IPv6: mask LEN)", () => {
  const services = [
    svc({ address: "10.0.0.1", port: 80, persistence: 300, persistenceMask: 24 }),
    // The default (the whole address) is not printed; nor is a mask without persistence.
    svc({ address: "10.0.0.2", port: 80, persistence: 300, persistenceMask: 32 }),
    svc({ address: "10.0.0.3", port: 80, persistenceMask: 16 }),
    svc({ address: "10.0.0.4", port: 80, persistence: 60, persistenceMask: 0 }),
    svc({ address: "2001:db8::1", port: 80, persistence: 300, persistenceMask: 64 }),
    svc({ address: "2001:db8::2", port: 80, persistence: 300, persistenceMask: 128 }),
  ];
  strictEqual(
    formatServiceTable(services, fmt()).split("\n").slice(3).join("\n"),
    lines(
      "TCP  10.0.0.1:80 wrr persistent 300 mask 255.255.255.0",
      "TCP  10.0.0.2:80 wrr persistent 300",
      "TCP  10.0.0.3:80 wrr",
      "TCP  10.0.0.4:80 wrr persistent 60 mask 0.0.0.0",
      "TCP  [2001:db8::1]:80 wrr persistent 300 mask 64",
      "TCP  [2001:db8::2]:80 wrr persistent 300",
    ),
  );
});

Deno.test("-L -n --persistent-conn: ipvsadm's Weight PersistConn ActiveConn InActConn columns", () => {
  const services = [svc({
    address: "10.0.0.1",
    port: 80,
    scheduler: "rr",
    persistence: 300,
    persistenceMask: 24,
    realServers: [
      rs({ address: "192.168.1.2", port: 80, persistConns: 3, activeConns: 5, inactiveConns: 1 }),
      // A daemon from before templates were counted lists none: 0.
      rs({ address: "192.168.1.3", port: 80, weight: 0 }),
    ],
  })];
  strictEqual(
    formatServiceTable(services, fmt({ persistentConn: true })),
    lines(
      "IP Virtual Server version 1.2.1 (size=4096)",
      "Prot LocalAddress:Port            Weight    PersistConn ActiveConn InActConn ",
      "  -> RemoteAddress:Port",
      "TCP  10.0.0.1:80 rr persistent 300 mask 255.255.255.0",
      "  -> 192.168.1.2:80               1         3           5          1         ",
      "  -> 192.168.1.3:80               0         0           0          0         ",
    ),
  );
});

Deno.test("-L -n -c: a persistence template is a row as IPVS lists it; --persistent-conn titles the pe columns", () => {
  const template: ConnectionView = {
    protocol: "tcp",
    method: "fullnat",
    state: "NONE",
    expiresInMs: 299_400,
    client: { address: "203.0.113.0", port: 0 },
    virtual: { address: "10.0.0.100", port: 80 },
    local: { address: "0.0.0.0", port: 0 },
    real: { address: "192.168.1.2", port: 80 },
    template: true,
  };
  const template6: ConnectionView = {
    ...template,
    protocol: "udp",
    client: { address: "2001:db8::", port: 0 },
    virtual: { address: "2001:db8::1", port: 53 },
    local: { address: "::", port: 0 },
    real: { address: "2001:db8:1::2", port: 53 },
  };
  strictEqual(
    formatConnections([template, template6]),
    lines(
      "IPVS connection entries",
      "pro expire state       source             virtual            local              destination",
      "TCP 04:59  NONE        203.0.113.0:0      10.0.0.100:80      0.0.0.0:0          192.168.1.2:80",
      "UDP 04:59  NONE        [2001:db8::]:0     [2001:db8::1]:53   [::]:0             [2001:db8:1::2]:53",
    ),
  );
  strictEqual(
    formatConnections([template], true),
    lines(
      "IPVS connection entries",
      "pro expire state       source             virtual            local              destination        pe name          pe_data",
      "TCP 04:59  NONE        203.0.113.0:0      10.0.0.100:80      0.0.0.0:0          192.168.1.2:80",
    ),
  );
});
