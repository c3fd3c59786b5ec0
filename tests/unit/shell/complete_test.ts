import assert from "node:assert/strict";
import { completeLine, type KnownService } from "../../../src/shell/complete.ts";
import { createContext } from "../../../src/shell/runtime.ts";
import { type CommandSpec, describeTree } from "../../../src/shell/spec.ts";
import { buildShellTree } from "../../../src/shell/tree.ts";

/** The real shell tree, described. */
const TREE: CommandSpec = describeTree(
  buildShellTree(createContext({ mode: "shell", socket: "unused" })),
);

const NAMES: KnownService[] = [
  {
    protocol: "tcp",
    address: "198.51.100.10",
    port: 80,
    realServers: [{ address: "203.0.113.11", port: 80 }, { address: "203.0.113.12", port: 8080 }],
    localAddresses: ["203.0.113.201", "203.0.113.202"],
  },
  {
    protocol: "tcp",
    address: "198.51.100.11",
    port: 443,
    realServers: [{ address: "203.0.113.13", port: 443 }],
    localAddresses: [],
  },
  { protocol: "udp", address: "198.51.100.10", port: 53, realServers: [], localAddresses: [] },
];

const offers = (line: string, names = NAMES) => completeLine(line, TREE, names).candidates;

Deno.test("completeLine() offers commands, then verbs, by prefix", () => {
  assert.deepEqual(offers(""), [
    "capture",
    "config",
    "conn",
    "daemon",
    "dns",
    "exit",
    "help",
    "interface",
    "ipvsadm",
    "laddr",
    "ntp",
    "ping",
    "quit",
    "reboot",
    "route",
    "rs",
    "service",
    "show",
    "shutdown",
    "stats",
    "status",
    "sync",
    "system",
    "timeout",
    "traceroute",
    "tunable",
  ]);
  assert.deepEqual(offers("s"), [
    "service",
    "show",
    "shutdown",
    "stats",
    "status",
    "sync",
    "system",
  ]);
  assert.deepEqual(offers("capture "), ["delete", "list", "show", "start", "stop"]);
  assert.deepEqual(offers("config "), [
    "apply",
    "check",
    "confirm",
    "export",
    "history",
    "import",
    "rollback",
    "show",
  ]);
  assert.deepEqual(offers("config apply x --"), ["--confirm-within", "--dry-run", "--help"]);
  assert.deepEqual(offers("show log --unit "), ["all", "daemon", "keepalived", "provision"]);
  assert.deepEqual(offers("reboot "), ["--help", "--yes"]);
  assert.deepEqual(offers("sync "), ["show", "start", "stop"]);
  assert.deepEqual(completeLine("se", TREE, NAMES), { candidates: ["service"], word: "se" });
  assert.deepEqual(offers("service "), ["add", "delete", "edit", "list", "show"]);
  assert.deepEqual(offers("show c"), ["connections"]);
  assert.deepEqual(offers("show "), [
    "arp",
    "connections",
    "firewall",
    "health",
    "interfaces",
    "log",
    "routes",
    "services",
    "stats",
    "timeouts",
    "version",
  ]);
  assert.deepEqual(offers("interface "), ["address", "list", "set", "show"]);
  assert.deepEqual(offers("interface address "), ["add", "delete"]);
  assert.deepEqual(offers("interface set eth1 "), ["--down", "--help", "--mtu", "--up"]);
  assert.deepEqual(offers("route "), ["add", "delete", "list"]);
  assert.deepEqual(offers("route add default "), ["--dev", "--help", "--metric", "--via"]);
  assert.deepEqual(offers("dns set "), ["--help", "--search"]);
  assert.deepEqual(offers("d"), ["daemon", "dns"]);
  assert.deepEqual(offers("daemon "), ["restart"]);
  assert.deepEqual(offers("daemon restart "), ["--help", "--wait"]);
  assert.deepEqual(offers("help ser"), ["service"]);
  assert.deepEqual(offers("help rs "), [
    "add",
    "check",
    "delete",
    "drain",
    "drains",
    "edit",
    "health",
    "list",
  ]);
  assert.deepEqual(offers("tunable set "), ["expire-nodest-conn", "expire-quiescent-template"]);
  assert.deepEqual(offers("tunable set expire-quiescent-template "), ["off", "on"]);
  assert.deepEqual(offers("rs check "), ["add", "delete", "list"]);
  assert.deepEqual(offers("show h"), ["health"]);
  assert.deepEqual(offers("bogus "), []);
  assert.deepEqual(offers("service bogus "), []);
});

Deno.test("completeLine() offers protocols, then the daemon's VIPs of that protocol", () => {
  assert.deepEqual(offers("service show "), ["tcp", "udp"]);
  assert.deepEqual(offers("service show t"), ["tcp"]);
  assert.deepEqual(offers("service show tcp "), ["198.51.100.10:80", "198.51.100.11:443"]);
  assert.deepEqual(offers("service show tcp 198.51.100.11"), ["198.51.100.11:443"]);
  assert.deepEqual(offers("service show udp "), ["198.51.100.10:53"]);
  // The alias `del` works like `delete`.
  assert.deepEqual(offers("service del udp 1"), ["198.51.100.10:53"]);
  // Without names from the daemon there is nothing to offer but the options.
  assert.deepEqual(offers("service show tcp ", []), ["--help", "--json"]);
});

Deno.test("completeLine() offers a service's real servers and local addresses where they exist", () => {
  assert.deepEqual(offers("rs delete tcp 198.51.100.10:80 "), [
    "203.0.113.11:80",
    "203.0.113.12:8080",
  ]);
  assert.deepEqual(offers("rs edit tcp 198.51.100.11:443 203"), ["203.0.113.13:443"]);
  assert.deepEqual(offers("laddr delete tcp 198.51.100.10:80 203.0.113.20"), [
    "203.0.113.201",
    "203.0.113.202",
  ]);
  // Adding takes a new address: existing ones are not offered, options are.
  assert.deepEqual(offers("rs add tcp 198.51.100.10:80 "), [
    "--help",
    "--inhibit-on-failure",
    "--lower-threshold",
    "--method",
    "--tunnel-checksum",
    "--tunnel-port",
    "--tunnel-type",
    "--upper-threshold",
    "--weight",
  ]);
  // A check goes to an existing server.
  assert.deepEqual(offers("rs check add tcp 198.51.100.10:80 203.0.113.1"), [
    "203.0.113.11:80",
    "203.0.113.12:8080",
  ]);
  // A drain names an existing server.
  assert.deepEqual(offers("rs drain tcp 198.51.100.10:80 "), [
    "203.0.113.11:80",
    "203.0.113.12:8080",
  ]);
  // All arguments given: only options remain.
  assert.deepEqual(offers("rs delete tcp 198.51.100.10:80 203.0.113.11:80 "), ["--help"]);
});

Deno.test("completeLine() offers options not yet used, and the choices of an option's value", () => {
  assert.deepEqual(offers("service add tcp 198.51.100.20:80 --s"), [
    "--sched-flags",
    "--scheduler",
    "--sorry-method",
    "--sorry-server",
    "--source-rate",
    "--source-sessions",
    "--strip-timestamps",
    "--syn-proxy",
  ]);
  assert.deepEqual(offers("service add tcp 198.51.100.20:80 --no-"), [
    "--no-clamp-mss",
    "--no-one-packet",
    "--no-strip-timestamps",
    "--no-syn-proxy",
    "--no-toa",
  ]);
  assert.deepEqual(offers("service add tcp 198.51.100.20:80 -s "), [
    "dh",
    "lc",
    "mh",
    "rr",
    "sh",
    "wlc",
    "wrr",
  ]);
  assert.deepEqual(offers("service add tcp 198.51.100.20:80 -b mh-"), ["mh-fallback", "mh-port"]);
  assert.deepEqual(offers("service add tcp 198.51.100.20:80 --scheduler w"), ["wlc", "wrr"]);
  assert.deepEqual(offers("rs add tcp 198.51.100.10:80 203.0.113.9:80 -m "), [
    "dr",
    "fullnat",
    "nat",
    "tunnel",
  ]);
  assert.deepEqual(offers("rs add tcp 198.51.100.10:80 203.0.113.9:80 --weight 3 --"), [
    "--help",
    "--inhibit-on-failure",
    "--lower-threshold",
    "--method",
    "--tunnel-checksum",
    "--tunnel-port",
    "--tunnel-type",
    "--upper-threshold",
  ]);
  assert.deepEqual(offers("tunable set "), ["expire-nodest-conn", "expire-quiescent-template"]);
  assert.deepEqual(offers("rs edit tcp 198.51.100.10:80 203.0.113.11:80 --inhibit-on-failure "), [
    "off",
    "on",
  ]);
  assert.deepEqual(offers("rs check add tcp 198.51.100.10:80 203.0.113.11:80 --type "), [
    "http",
    "https",
    "misc",
    "tcp",
  ]);
  assert.deepEqual(offers("service edit tcp 198.51.100.10:80 --so"), [
    "--sorry-method",
    "--sorry-server",
    "--source-rate",
    "--source-sessions",
  ]);
  assert.deepEqual(offers("conn list --protocol "), ["tcp", "udp"]);
  assert.deepEqual(offers("timeout set --tcp-e"), ["--tcp-established"]);
  // An option's value is not mistaken for a positional argument.
  assert.deepEqual(offers("service edit -s rr tcp "), ["198.51.100.10:80", "198.51.100.11:443"]);
});

Deno.test("completeLine() offers nothing after shell syntax or inside ipvsadm", () => {
  assert.deepEqual(offers("service list | s"), []);
  assert.deepEqual(offers("!s"), []);
  assert.deepEqual(offers("ipvsadm -"), []);
});
