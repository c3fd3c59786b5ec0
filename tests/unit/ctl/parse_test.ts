import { deepStrictEqual, strictEqual } from "node:assert/strict";
import { parseIpvsadm } from "../../../src/ctl/ipvsadm/parse.ts";
import type { IpvsadmCommand, ListFormat } from "../../../src/ctl/ipvsadm/command.ts";
import type { ServiceKey } from "../../../src/fullnat/types.ts";

const argv = (line: string) => line === "" ? [] : line.split(/\s+/);

function accepts(line: string, expected: IpvsadmCommand): void {
  const result = parseIpvsadm(argv(line));
  deepStrictEqual(result, { ok: true, command: expected }, line);
}

function refuses(line: string, message: string, exitCode: number): void {
  const result = parseIpvsadm(argv(line));
  deepStrictEqual(result, { ok: false, error: { message, exitCode } }, line);
}

const fmt = (over: Partial<ListFormat> = {}): ListFormat => ({
  numeric: false,
  stats: false,
  rate: false,
  exact: false,
  nosort: false,
  persistentConn: false,
  ...over,
});
const tcp80 = { protocol: "tcp", address: "10.0.0.100", port: 80 } as const;
const TRY_HELP = "Try `ipvsadm -h' or 'ipvsadm --help' for more information.";

Deno.test("add-service: short, long, glued and = forms", () => {
  const cmd: IpvsadmCommand = {
    kind: "add-service",
    service: tcp80,
    options: { scheduler: "rr", persistence: 0 },
  };
  accepts("-A -t 10.0.0.100:80 -s rr", cmd);
  accepts("--add-service --tcp-service 10.0.0.100:80 --scheduler rr", cmd);
  accepts("-A -t10.0.0.100:80 -srr", cmd);
  accepts("--add-service --tcp-service=10.0.0.100:80 --scheduler=rr", cmd);
  accepts("-At 10.0.0.100:80 -s rr", cmd);
});

Deno.test("add-service: udp, default scheduler wrr, IPv6 service", () => {
  accepts("-A -u 10.0.0.100:53", {
    kind: "add-service",
    service: { protocol: "udp", address: "10.0.0.100", port: 53 },
    options: { scheduler: "wrr", persistence: 0 },
  });
  accepts("-A -t [2001:db8::0001]:443 -s wrr", {
    kind: "add-service",
    service: { protocol: "tcp", address: "2001:db8::1", port: 443 },
    options: { scheduler: "wrr", persistence: 0 },
  });
});

Deno.test("-p: default 300 with no value, value in the next word, glued, or with =", () => {
  const withP = (persistence: number): IpvsadmCommand => ({
    kind: "add-service",
    service: tcp80,
    options: { scheduler: "rr", persistence },
  });
  accepts("-A -t 10.0.0.100:80 -s rr -p", withP(300));
  accepts("-A -t 10.0.0.100:80 -p -s rr", withP(300));
  accepts("-A -t 10.0.0.100:80 -p 600 -s rr", withP(600));
  accepts("-A -t 10.0.0.100:80 -p600 -s rr", withP(600));
  accepts("-A -t 10.0.0.100:80 --persistent=600 -s rr", withP(600));
  accepts("-A -t 10.0.0.100:80 --persistent -s rr", withP(300));
  // A persistent service may use port 0 (all ports), as in ipvsadm.
  accepts("-A -t 10.0.0.100 -s rr -p", {
    kind: "add-service",
    service: { ...tcp80, port: 0 },
    options: { scheduler: "rr", persistence: 300 },
  });
});

Deno.test("-M: a netmask for an IPv4 service, a prefix length for an IPv6 one, in any order", () => {
  const withMask = (persistenceMask: number, service: ServiceKey = tcp80): IpvsadmCommand => ({
    kind: "add-service",
    service,
    options: { scheduler: "rr", persistence: 300, persistenceMask },
  });
  accepts("-A -t 10.0.0.100:80 -s rr -p 300 -M 255.255.255.0", withMask(24));
  accepts("-A -M 255.255.240.0 -t 10.0.0.100:80 -s rr -p", withMask(20));
  accepts("-A -t 10.0.0.100:80 -s rr -p --netmask=0.0.0.0", withMask(0));
  accepts("-A -t 10.0.0.100:80 -s rr -p -M 255.255.255.255", withMask(32));
  const v6 = { protocol: "tcp", address: "2001:db8::10", port: 443 } as const;
  accepts("-A -t [2001:db8::10]:443 -s rr -p 300 -M 64", withMask(64, v6));
  // Read by the service's family whatever the order: ipvsadm would read this 64 as 0.0.0.64.
  accepts("-A -M 48 -t [2001:db8::10]:443 -s rr -p", withMask(48, v6));
  accepts("-E -t 10.0.0.100:80 -M 255.255.0.0", {
    kind: "edit-service",
    service: tcp80,
    options: { persistenceMask: 16 },
  });
  refuses("-A -t 10.0.0.100:80 -p -M 24", "illegal virtual server persistent mask specified", 2);
  refuses(
    "-A -t 10.0.0.100:80 -p -M nonsense",
    "illegal virtual server persistent mask specified",
    2,
  );
  refuses(
    "-A -t 10.0.0.100:80 -p -M 255.0.255.0",
    "persistent mask 255.0.255.0 is not contiguous: fullnat keeps the granularity as a prefix " +
      "length; give a netmask such as 255.255.255.0",
    2,
  );
  refuses("-A -t [2001:db8::10]:443 -p -M 129", "illegal ipv6 netmask specified", 2);
  refuses("-A -t [2001:db8::10]:443 -p -M ffff::", "illegal ipv6 netmask specified", 2);
  refuses(
    "-A -t 10.0.0.100:80 -p -M 255.255.255.0 -M 255.255.0.0",
    "multiple 'netmask' options specified",
    2,
  );
  refuses(
    "-a -t 10.0.0.100:80 -r 1.2.3.4 -M 255.255.255.0",
    "Illegal 'netmask' option with the 'add-server' command",
    2,
  );
  refuses("-L -M 255.255.255.0", "Illegal 'netmask' option with the 'list' command", 2);
});

Deno.test("--persistent-conn: with -L, alone or with -c; not with --timeout", () => {
  accepts("-L -n --persistent-conn", {
    kind: "list-services",
    format: fmt({ numeric: true, persistentConn: true }),
  });
  accepts("-L -n -c --persistent-conn", {
    kind: "list-connections",
    format: fmt({ numeric: true, persistentConn: true }),
  });
  refuses("-L --timeout --persistent-conn", "options conflicts in the list command", 2);
  refuses(
    "-A -t 10.0.0.100:80 --persistent-conn",
    "Illegal 'persistent-conn' option with the 'add-service' command",
    2,
  );
});

Deno.test("edit-service changes only what is given", () => {
  accepts("-E -t 10.0.0.100:80 -s wrr", {
    kind: "edit-service",
    service: tcp80,
    options: { scheduler: "wrr" },
  });
  accepts("-E -t 10.0.0.100:80 -p 60", {
    kind: "edit-service",
    service: tcp80,
    options: { persistence: 60 },
  });
  accepts("--edit-service -t 10.0.0.100:80", { kind: "edit-service", service: tcp80, options: {} });
});

Deno.test("delete-service and clear", () => {
  accepts("-D -t 10.0.0.100:80", { kind: "delete-service", service: tcp80 });
  accepts("--delete-service --tcp-service 10.0.0.100:80", {
    kind: "delete-service",
    service: tcp80,
  });
  accepts("-C", { kind: "clear" });
  accepts("--clear", { kind: "clear" });
});

Deno.test("add-server: -b, -m, default method fullnat, weight, port copied from service", () => {
  accepts("-a -t 10.0.0.100:80 -r 192.168.1.2:8080 -b -w 5", {
    kind: "add-server",
    service: tcp80,
    server: { address: "192.168.1.2", port: 8080, weight: 5, method: "fullnat" },
  });
  accepts("--add-server -t 10.0.0.100:80 --real-server 192.168.1.2 --masquerading", {
    kind: "add-server",
    service: tcp80,
    server: { address: "192.168.1.2", port: 80, weight: 1, method: "nat" },
  });
  // -g, as in ipvsadm: the real server's port is the service's, whatever -r says.
  accepts("-a -t 10.0.0.100:80 -r 192.168.1.2:8080 -g -w 2", {
    kind: "add-server",
    service: tcp80,
    server: { address: "192.168.1.2", port: 80, weight: 2, method: "dr" },
  });
  accepts("-a -t 10.0.0.100:80 -r 192.168.1.2 --gatewaying", {
    kind: "add-server",
    service: tcp80,
    server: { address: "192.168.1.2", port: 80, weight: 1, method: "dr" },
  });
  accepts("-a -t 10.0.0.100:80 -r 192.168.1.2", {
    kind: "add-server",
    service: tcp80,
    server: { address: "192.168.1.2", port: 80, weight: 1, method: "fullnat" },
  });
  accepts("-a -r 192.168.1.2 -t 10.0.0.100:80 --fullnat -w 0", {
    kind: "add-server",
    service: tcp80,
    server: { address: "192.168.1.2", port: 80, weight: 0, method: "fullnat" },
  });
  accepts("-a -t 10.0.0.100:80 -r 192.168.1.2:80 -w 65535", {
    kind: "add-server",
    service: tcp80,
    server: { address: "192.168.1.2", port: 80, weight: 65535, method: "fullnat" },
  });
  accepts("-a -t [2001:db8::1]:80 -r [2001:db8::2]:8080 -b", {
    kind: "add-server",
    service: { protocol: "tcp", address: "2001:db8::1", port: 80 },
    server: { address: "2001:db8::2", port: 8080, weight: 1, method: "fullnat" },
  });
});

Deno.test("edit-server sends only the settings given; delete-server sends the endpoint", () => {
  accepts("-e -t 10.0.0.100:80 -r 192.168.1.2:80 -w 3", {
    kind: "edit-server",
    service: tcp80,
    server: { address: "192.168.1.2", port: 80, weight: 3 },
  });
  accepts("--edit-server -t 10.0.0.100:80 -r 192.168.1.2 -m", {
    kind: "edit-server",
    service: tcp80,
    server: { address: "192.168.1.2", port: 80, method: "nat" },
  });
  accepts("-d -t 10.0.0.100:80 -r 192.168.1.2:80", {
    kind: "delete-server",
    service: tcp80,
    server: { address: "192.168.1.2", port: 80 },
  });
  accepts("--delete-server -t 10.0.0.100:80 -r 192.168.1.2", {
    kind: "delete-server",
    service: tcp80,
    server: { address: "192.168.1.2", port: 80 },
  });
});

Deno.test("list: every form", () => {
  accepts("", { kind: "list-services", format: fmt() });
  accepts("-L", { kind: "list-services", format: fmt() });
  accepts("-l", { kind: "list-services", format: fmt() });
  accepts("--list", { kind: "list-services", format: fmt() });
  accepts("-L -n", { kind: "list-services", format: fmt({ numeric: true }) });
  accepts("-Ln", { kind: "list-services", format: fmt({ numeric: true }) });
  accepts("-ln", { kind: "list-services", format: fmt({ numeric: true }) });
  accepts("-L --numeric", { kind: "list-services", format: fmt({ numeric: true }) });
  accepts("-Lnc", { kind: "list-connections", format: fmt({ numeric: true }) });
  accepts("-L -n -c", { kind: "list-connections", format: fmt({ numeric: true }) });
  accepts("-L --connection", { kind: "list-connections", format: fmt() });
  accepts("-L -n --stats", { kind: "list-services", format: fmt({ numeric: true, stats: true }) });
  accepts("-L -n --stats --exact", {
    kind: "list-services",
    format: fmt({ numeric: true, stats: true, exact: true }),
  });
  accepts("-L -n -X", { kind: "list-services", format: fmt({ numeric: true, exact: true }) });
  accepts("-L --nosort --sort", { kind: "list-services", format: fmt({ nosort: true }) });
  accepts("-L --timeout", { kind: "list-timeouts" });
  accepts("-L -n --timeout", { kind: "list-timeouts" });
  accepts("-L -n -t 10.0.0.100:80", {
    kind: "list-services",
    service: tcp80,
    format: fmt({ numeric: true }),
  });
  accepts("-Lnt 10.0.0.100:80", {
    kind: "list-services",
    service: tcp80,
    format: fmt({ numeric: true }),
  });
});

Deno.test("zero, --set, local addresses, help, version", () => {
  accepts("-Z", { kind: "zero" });
  accepts("-Z -t 10.0.0.100:80", { kind: "zero", service: tcp80 });
  accepts("--zero --udp-service 10.0.0.100:80", {
    kind: "zero",
    service: { ...tcp80, protocol: "udp" },
  });
  accepts("--set 90 7 300", {
    kind: "set-timeouts",
    timeouts: { tcpEstablished: 90, tcpFinWait: 7, udp: 300 },
  });
  // 0 leaves a timeout unchanged, as in IPVS.
  accepts("--set 0 10 0", { kind: "set-timeouts", timeouts: { tcpFinWait: 10 } });
  accepts("-P -t 10.0.0.100:80 -z 192.168.1.100", {
    kind: "add-laddr",
    service: tcp80,
    address: "192.168.1.100",
  });
  accepts("--add-laddr -t 10.0.0.100:80 --laddr 192.168.1.100", {
    kind: "add-laddr",
    service: tcp80,
    address: "192.168.1.100",
  });
  accepts("-Q -t 10.0.0.100:80 -z 192.168.1.100", {
    kind: "delete-laddr",
    service: tcp80,
    address: "192.168.1.100",
  });
  accepts("--del-laddr -t 10.0.0.100:80 -z [2001:db8::9]:0", {
    kind: "delete-laddr",
    service: tcp80,
    address: "2001:db8::9",
  });
  accepts("-G", { kind: "get-laddr" });
  accepts("--get-laddr -t 10.0.0.100:80", { kind: "get-laddr", service: tcp80 });
  accepts("-h", { kind: "help" });
  accepts("--help", { kind: "help" });
  accepts("-v", { kind: "version" });
  accepts("--version", { kind: "version" });
});

Deno.test("refusals before any option is understood: try-help, exit 255", () => {
  refuses("-n -L", TRY_HELP, 255);
  refuses("-t 10.0.0.100:80", TRY_HELP, 255);
  refuses("list", TRY_HELP, 255);
  refuses("--bogus", TRY_HELP, 255);
  refuses("-q", TRY_HELP, 255);
  refuses("--list=yes", TRY_HELP, 255);
  const custom = parseIpvsadm(["-n"], "/sbin/ipvsadm");
  deepStrictEqual(custom, {
    ok: false,
    error: {
      message: "Try `/sbin/ipvsadm -h' or '/sbin/ipvsadm --help' for more information.",
      exitCode: 255,
    },
  });
});

Deno.test("popt errors after the command: exit 255", () => {
  refuses("-L --bogus", "--bogus: unknown option", 255);
  refuses("-Lq", "-Lq: unknown option", 255);
  refuses("-A -t", "-t: missing argument", 255);
  refuses("-Lt", "-Lt: missing argument", 255);
  refuses("-A --tcp-service", "--tcp-service: missing argument", 255);
  refuses("-L --numeric=1", "--numeric=1: option does not take an argument", 255);
});

Deno.test("value errors: exit 2 with ipvsadm's messages", () => {
  const badVip = "illegal virtual server address[:port] specified";
  for (
    const vip of [
      "80",
      "10.0.0.256:80",
      "10.0.0.1:65536",
      "10.0.0.1:http",
      "www.example.com:80",
      "[::1]",
      "[::1]80",
      "010.0.0.1:80",
      "10.0.0.1:",
    ]
  ) {
    refuses(`-A -t ${vip}`, badVip, 2);
  }
  refuses("-a -t 10.0.0.100:80 -r 10.0.0", "illegal real server address[:port] specified", 2);
  refuses("-a -t 10.0.0.100:80 -r 1.2.3.4 -w 65536", "illegal weight specified", 2);
  refuses("-a -t 10.0.0.100:80 -r 1.2.3.4 -w -1", "illegal weight specified", 2);
  refuses("-a -t 10.0.0.100:80 -r 1.2.3.4 -w x", "illegal weight specified", 2);
  refuses("-P -t 10.0.0.100:80 -z nothere", "illegal local address", 2);
  refuses("-A -t 10.0.0.100:80 -p 0", "invalid timeout value `0' specified", 2);
  refuses("-A -t 10.0.0.100:80 -p 2678401", "invalid timeout value `2678401' specified", 2);
  refuses("-A -t 10.0.0.100:80 -p abc", "invalid timeout value `abc' specified", 2);
  refuses("--set 90 7", "--set option requires 3 timeout values", 2);
  refuses("--set 90 x 300", "invalid timeout value `x' specified", 2);
  refuses("--set 90 7 300 5", "unexpected argument 5", 2);
  refuses("-A -t 10.0.0.100:80 extra", "unexpected argument extra", 2);
});

Deno.test("command/option table: ipvsadm's messages, exit 2", () => {
  refuses("-L -A", "multiple commands specified", 2);
  refuses(
    "-A -t 10.0.0.100:80 -t 10.0.0.101:80",
    "multiple 'service-address' options specified",
    2,
  );
  refuses(
    "-A -t 10.0.0.100:80 -u 10.0.0.101:80",
    "multiple 'service-address' options specified",
    2,
  );
  refuses(
    "-a -t 10.0.0.100:80 -r 1.2.3.4 -b -m",
    "multiple 'forwarding-method' options specified",
    2,
  );
  refuses(
    "-A -s rr",
    "You need to supply the 'service-address' option for the 'add-service' command",
    2,
  );
  refuses(
    "-a -t 10.0.0.100:80",
    "You need to supply the 'real-server' option for the 'add-server' command",
    2,
  );
  refuses(
    "-P -t 10.0.0.100:80",
    "You need to supply the 'local-address' option for the 'add-laddr' command",
    2,
  );
  refuses(
    "-Q -z 1.2.3.4",
    "You need to supply the 'service-address' option for the 'del-laddr' command",
    2,
  );
  refuses("-A -t 10.0.0.100:80 -n", "Illegal 'numeric' option with the 'add-service' command", 2);
  refuses("-A -t 10.0.0.100:80 -w 1", "Illegal 'weight' option with the 'add-service' command", 2);
  refuses(
    "-E -t 10.0.0.100:80 -r 1.2.3.4",
    "Illegal 'real-server' option with the 'edit-service' command",
    2,
  );
  refuses(
    "-D -t 10.0.0.100:80 -s rr",
    "Illegal 'scheduler' option with the 'delete-service' command",
    2,
  );
  refuses("-C -t 10.0.0.100:80", "Illegal 'service-address' option with the 'flush' command", 2);
  refuses(
    "-a -t 10.0.0.100:80 -r 1.2.3.4 -s rr",
    "Illegal 'scheduler' option with the 'add-server' command",
    2,
  );
  refuses(
    "-d -t 10.0.0.100:80 -r 1.2.3.4 -w 3",
    "Illegal 'weight' option with the 'delete-server' command",
    2,
  );
  refuses(
    "-d -t 10.0.0.100:80 -r 1.2.3.4 -b",
    "Illegal 'forwarding-method' option with the 'delete-server' command",
    2,
  );
  refuses("-L -s rr", "Illegal 'scheduler' option with the 'list' command", 2);
  refuses("-L -z 1.2.3.4", "Illegal 'local-address' option with the 'list' command", 2);
  refuses("-Z -n", "Illegal 'numeric' option with the 'zero' command", 2);
  refuses("--set 1 2 3 -n", "Illegal 'numeric' option with the 'set' command", 2);
  refuses("-G -n", "Illegal 'numeric' option with the 'get-laddr' command", 2);
  refuses(
    "-P -t 10.0.0.100:80 -z 1.2.3.4 -n",
    "Illegal 'numeric' option with the 'add-laddr' command",
    2,
  );
  refuses(
    "-L -c -t 10.0.0.100:80",
    "The option 'service-address' conflicts with 'connection' option in the 'list' command",
    2,
  );
  refuses(
    "-L -c --timeout",
    "The option 'timeout' conflicts with 'connection' option in the 'list' command",
    2,
  );
  refuses("-L -c --stats", "options conflicts in the list command", 2);
  refuses("-L --timeout --stats", "options conflicts in the list command", 2);
  refuses("-A -t 10.0.0.100 -s rr", "Zero port specified for non-persistent service", 2);
  refuses("-E -t 10.0.0.100:0 -s rr", "Zero port specified for non-persistent service", 2);
});

Deno.test("-i (tunnelling) is accepted and, as in ipvsadm, serves the service's port", () => {
  const server = { address: "1.2.3.4", port: 80, weight: 1, method: "tunnel" } as const;
  accepts("-a -t 10.0.0.100:80 -r 1.2.3.4 -i", { kind: "add-server", service: tcp80, server });
  accepts("-a -t 10.0.0.100:80 -r 1.2.3.4:8080 --ipip", {
    kind: "add-server",
    service: tcp80,
    server,
  });
  accepts("-e -t 10.0.0.100:80 -r 1.2.3.4:8080 -i -w 3", {
    kind: "edit-server",
    service: tcp80,
    server: { address: "1.2.3.4", port: 80, weight: 3, method: "tunnel" },
  });
});

Deno.test("--tun-type, --tun-port, --tun-csum: ipvsadm 1.31's tunnel options and its refusals", () => {
  const base = { address: "1.2.3.4", port: 80, weight: 1, method: "tunnel" } as const;
  accepts("-a -t 10.0.0.100:80 -r 1.2.3.4 -i --tun-type gue --tun-port 6080", {
    kind: "add-server",
    service: tcp80,
    server: { ...base, tunnelType: "gue", tunnelPort: 6080 },
  });
  accepts("-a -t 10.0.0.100:80 -r 1.2.3.4 -i --tun-type=gre --tun-csum", {
    kind: "add-server",
    service: tcp80,
    server: { ...base, tunnelType: "gre", tunnelChecksum: true },
  });
  accepts("-e -t 10.0.0.100:80 -r 1.2.3.4 -i --tun-type gue --tun-port 6080 --tun-nocsum", {
    kind: "edit-server",
    service: tcp80,
    server: {
      address: "1.2.3.4",
      port: 80,
      method: "tunnel",
      tunnelType: "gue",
      tunnelPort: 6080,
      tunnelChecksum: false,
    },
  });
  accepts("-L -n --tun-info", {
    kind: "list-services",
    format: fmt({ numeric: true, tunInfo: true }),
  });
  const a = "-a -t 10.0.0.100:80 -r 1.2.3.4";
  refuses(`${a} -b --tun-type gue --tun-port 1`, "Tunnel options conflict with forward method", 2);
  refuses(`${a} -g --tun-csum`, "Tunnel options conflict with forward method", 2);
  refuses(
    `${a} -i --tun-type gue`,
    "You need to supply the 'tun-port' option for the 'gue' tunnel type",
    2,
  );
  refuses(`${a} -i --tun-port 6080`, "Illegal 'tun-port' option with the 'ipip' tunnel type", 2);
  refuses(`${a} -i --tun-csum`, "Illegal 'tun-csum' option with the 'ipip' tunnel type", 2);
  refuses(
    `${a} -i --tun-type gre --tun-port 1`,
    "Illegal 'tun-port' option with the 'gre' tunnel type",
    2,
  );
  refuses(
    `${a} -i --tun-type gre --tun-csum --tun-nocsum`,
    "The option 'tun-csum' conflicts with the 'tun-nocsum' option in the 'gre' tunnel type",
    2,
  );
  refuses(`${a} -i --tun-type vxlan`, "illegal tunnel type specified", 2);
  refuses(`${a} -i --tun-type gue --tun-port 0`, "illegal tunnel port specified", 2);
  refuses(
    `${a} -i --tun-type gue --tun-port 6080 --tun-remcsum`,
    "remote checksum offload (--tun-remcsum) is not supported by fullnat: the queue hands it packets whose checksums are complete; use --tun-csum or --tun-nocsum",
    2,
  );
  refuses(
    "-A -t 10.0.0.100:80 --tun-type gue",
    "Illegal 'tun-type' option with the 'add-service' command",
    2,
  );
  refuses(`${a} -i --tun-info`, "Illegal 'tun-info' option with the 'add-server' command", 2);
});

Deno.test("what fullnat cannot do is refused by name", () => {
  // The table check comes first, as in ipvsadm.
  refuses(
    "-A -t 10.0.0.100:80 -g",
    "Illegal 'forwarding-method' option with the 'add-service' command",
    2,
  );
  refuses(
    "-A -t 10.0.0.100:80 -s sed",
    "scheduler 'sed' not supported by fullnat: use -s rr, -s wrr, -s lc, -s wlc, -s dh, -s sh or -s mh",
    2,
  );
  refuses(
    "-E -t 10.0.0.100:80 -s fo",
    "scheduler 'fo' not supported by fullnat: use -s rr, -s wrr, -s lc, -s wlc, -s dh, -s sh or -s mh",
    2,
  );
  refuses("-A -t 10.0.0.100:80 -s nonesuch", "Scheduler or persistence engine not found", 255);
  refuses("-A -f 1", "option -f (--fwmark-service) is not supported by fullnat", 2);
  refuses(
    "-A -t 10.0.0.100:80 --mcast-interface eth0",
    "Illegal 'mcast-interface' option with the 'add-service' command",
    2,
  );
  refuses("-A -t 10.0.0.100:80 --pe sip", "option --pe is not supported by fullnat", 2);
});

Deno.test("errors are reported in argument order", () => {
  // The bad address comes before the unknown option, so its message wins.
  refuses("-A -t bad --bogus", "illegal virtual server address[:port] specified", 2);
  refuses("-A --bogus -t bad", "--bogus: unknown option", 255);
  const result = parseIpvsadm(["-h", "--bogus"]);
  strictEqual(result.ok, true);
});

Deno.test("-b / --sched-flags with -A and -E: mainline ipvsadm's scheduler flags; with -a still --fullnat", () => {
  accepts("-A -t 10.0.0.100:80 -s sh -b sh-fallback,sh-port", {
    kind: "add-service",
    service: tcp80,
    options: { scheduler: "sh", schedulerFlags: ["sh-fallback", "sh-port"], persistence: 0 },
  });
  accepts("-A -t 10.0.0.100:80 -s mh --sched-flags=mh-port -p 60", {
    kind: "add-service",
    service: tcp80,
    options: { scheduler: "mh", schedulerFlags: ["mh-port"], persistence: 60 },
  });
  accepts("-At 10.0.0.100:80 -bsh-port -s sh", {
    kind: "add-service",
    service: tcp80,
    options: { scheduler: "sh", schedulerFlags: ["sh-port"], persistence: 0 },
  });
  // -E without -s: the daemon knows the service's scheduler and checks the fit.
  accepts("-E -t 10.0.0.100:80 -b mh-fallback", {
    kind: "edit-service",
    service: tcp80,
    options: { schedulerFlags: ["mh-fallback"] },
  });
  accepts("-a -t 10.0.0.100:80 -r 1.2.3.4:80 -b -w 2", {
    kind: "add-server",
    service: tcp80,
    server: { address: "1.2.3.4", port: 80, weight: 2, method: "fullnat" },
  });
});

Deno.test("-b refusals: ipvsadm's messages for unknown and incompatible flags, ours for flag-1..3", () => {
  refuses("-A -t 10.0.0.100:80 -s sh -b sh-turbo", "invalid scheduler flag `sh-turbo'", 2);
  refuses("-A -t 10.0.0.100:80 -s rr -b sh-port", "incompatible scheduler flag `sh-port'", 2);
  refuses("-E -t 10.0.0.100:80 -s sh -b mh-port", "incompatible scheduler flag `mh-port'", 2);
  // -A without -s schedules with the default (wrr), which takes no flags.
  refuses("-A -t 10.0.0.100:80 -b sh-port", "incompatible scheduler flag `sh-port'", 2);
  refuses(
    "-A -t 10.0.0.100:80 -s sh -b flag-1",
    "scheduler flag 'flag-1' not supported by fullnat: use sh-fallback, sh-port, mh-fallback or mh-port",
    2,
  );
  refuses("-A -t 10.0.0.100:80 -s sh -b", "-b: missing argument", 255);
  refuses(
    "-D -t 10.0.0.100:80 --sched-flags sh-port",
    "Illegal 'sched-flags' option with the 'delete-service' command",
    2,
  );
  refuses(
    "-A -t 10.0.0.100:80 -s sh -b sh-port -b sh-port",
    "multiple 'sched-flags' options specified",
    2,
  );
});

Deno.test("-S [-n], -R and -L --rate parse; what ipvsadm refuses with them is refused", () => {
  accepts("-S", { kind: "save", format: fmt() });
  accepts("--save -n", { kind: "save", format: fmt({ numeric: true }) });
  accepts("-Sn", { kind: "save", format: fmt({ numeric: true }) });
  accepts("-R", { kind: "restore" });
  accepts("--restore", { kind: "restore" });
  accepts("-L -n --rate", { kind: "list-services", format: fmt({ numeric: true, rate: true }) });
  accepts("-L --rate -t 10.0.0.100:80", {
    kind: "list-services",
    service: tcp80,
    format: fmt({ rate: true }),
  });
  // ipvsadm's table: -S takes only -n, -R takes nothing.
  refuses("-S -t 10.0.0.100:80", "Illegal 'service-address' option with the 'save' command", 2);
  refuses("-S --stats", "Illegal 'stats' option with the 'save' command", 2);
  refuses("-R -n", "Illegal 'numeric' option with the 'restore' command", 2);
  refuses("-R rules.txt", "unexpected argument rules.txt", 2);
  refuses("-S -R", "multiple commands specified", 2);
  refuses("-L -c --rate", "options conflicts in the list command", 2);
  refuses("-L --timeout --rate", "options conflicts in the list command", 2);
});

Deno.test("sync daemons: ipvsadm's --start-daemon, --stop-daemon and -L --daemon", () => {
  deepStrictEqual(parseIpvsadm(argv("--start-daemon master --mcast-interface eth0")), {
    ok: true,
    command: {
      kind: "start-daemon",
      spec: {
        role: "master",
        mcastInterface: "eth0",
        syncid: 0,
        maxlen: 0,
        group: "224.0.0.81",
        port: 8848,
        ttl: 1,
      },
    },
  });
  deepStrictEqual(
    parseIpvsadm(argv(
      "--start-daemon backup --mcast-interface=eth1 --syncid 9 --sync-maxlen 1400 " +
        "--mcast-group 10.0.0.2 --mcast-port 9000 --mcast-ttl 3",
    )),
    {
      ok: true,
      command: {
        kind: "start-daemon",
        spec: {
          role: "backup",
          mcastInterface: "eth1",
          syncid: 9,
          maxlen: 1400,
          group: "10.0.0.2",
          port: 9000,
          ttl: 3,
        },
      },
    },
  );
  deepStrictEqual(parseIpvsadm(argv("--stop-daemon backup")), {
    ok: true,
    command: { kind: "stop-daemon", role: "backup" },
  });
  deepStrictEqual(parseIpvsadm(argv("-L --daemon")), {
    ok: true,
    command: { kind: "list-daemon" },
  });
  refuses(
    "--start-daemon primary --mcast-interface eth0",
    "illegal start-daemon parameter specified",
    2,
  );
  refuses("--stop-daemon both", "illegal stop_daemon parameter specified", 2);
  refuses(
    "--start-daemon master",
    "You need to supply the 'mcast-interface' option for the 'start-daemon' command",
    2,
  );
  refuses(
    "--start-daemon master --mcast-interface eth0 --syncid 256",
    "illegal syncid specified",
    2,
  );
  refuses(
    "--start-daemon master --mcast-interface eth0 --mcast-ttl 0",
    "illegal mcast-ttl specified",
    2,
  );
  refuses(
    "--start-daemon master --mcast-interface eth0 --mcast-port x",
    "illegal mcast-port specified",
    2,
  );
  refuses(
    "--start-daemon master --mcast-interface eth0 --mcast-group nowhere",
    "illegal mcast-group specified",
    2,
  );
  refuses(
    "--start-daemon master --mcast-interface eth0 -n",
    "Illegal 'numeric' option with the 'start-daemon' command",
    2,
  );
  refuses(
    "--stop-daemon master --mcast-interface eth0",
    "Illegal 'mcast-interface' option with the 'stop-daemon' command",
    2,
  );
  refuses(
    "-L -c --daemon",
    "The option 'daemon' conflicts with 'connection' option in the 'list' command",
    2,
  );
});
