/**
 * Listings laid out byte for byte as the FULLNAT ipvsadm prints them, so scripts that parse
 * `ipvsadm -L -n` output keep working: the same headers, column widths, padding (including
 * the trailing spaces of left-aligned last columns), truncation and number abbreviations.
 *
 * Addresses are always printed numerically: fullnat never resolves names, with or without -n.
 * `-S` prints the same table as commands (ipvsadm's "rule" format) that `-R` reads back.
 *
 * @module
 */

import { DEFAULT_TUNNEL_TYPE } from "../../vocab/tunnel_type.ts";
import type {
  ConnectionView,
  ForwardMethod,
  Rates,
  RealServerView,
  ServiceView,
  Stats,
  Timeouts,
} from "../../fullnat/types.ts";
import {
  compareAddresses,
  formatEndpoint,
  forwardMethodEntry,
  fullPersistenceMask,
  isIpv6,
  prefixLengthNetmask,
  protocolEntry,
  protocolNumber,
} from "../../vocab/mod.ts";
import type { ListFormat } from "./command.ts";
import { CONN_TAB_SIZE, IPVS_VERSION } from "./usage.ts";

/** printf("%-Ns"): pad on the right, never truncate. */
const left = (text: string | number, width: number): string => String(text).padEnd(width);
/** printf("%Ns"): pad on the left, never truncate. */
const right = (text: string | number, width: number): string => String(text).padStart(width);

/** The first line of a full listing. */
export function versionHeader(): string {
  return `IP Virtual Server version ${IPVS_VERSION} (size=${CONN_TAB_SIZE})\n`;
}

/**
 * ipvsadm's print_largenum: a 9-character right-aligned column; past 8 digits the number is
 * shown in thousands, millions, ... with a K/M/G/T suffix, unless `--exact` asks for it in full
 * (then the column widens to the number's length plus one).
 */
export function formatLargeNumber(value: number, exact: boolean): string {
  const n = Math.max(0, Math.floor(value));
  if (exact) {
    const digits = String(n);
    return right(digits, digits.length <= 8 ? 9 : digits.length + 1);
  }
  if (n < 1e8) return right(n, 9);
  if (n < 1e9) return right(Math.floor(n / 1e3), 8) + "K";
  if (n < 1e11) return right(Math.floor(n / 1e6), 8) + "M";
  if (n < 1e14) return right(Math.floor(n / 1e9), 8) + "G";
  return right(Math.floor(n / 1e12), 8) + "T";
}

function statsColumns(stats: Stats, exact: boolean): string {
  return [stats.conns, stats.inPackets, stats.outPackets, stats.inBytes, stats.outBytes]
    .map((n) => formatLargeNumber(n, exact)).join("");
}

/** What a service or real server shows under `--rate` when nothing estimated its rates yet. */
const NO_RATES: Rates = { cps: 0, inPps: 0, outPps: 0, inBps: 0, outBps: 0 };

/** A service's `--rate` columns: every one through print_largenum. */
function serviceRateColumns(rate: Rates, exact: boolean): string {
  return [rate.cps, rate.inPps, rate.outPps, rate.inBps, rate.outBps]
    .map((n) => formatLargeNumber(n, exact)).join("");
}

/**
 * A real server's `--rate` columns. ipvsadm prints its CPS, InPPS and OutPPS with a plain
 * `%8u` (never abbreviated, widening past 8 digits) and only the byte rates through
 * print_largenum, unlike the service line; kept so the columns line up as they do there.
 */
function serverRateColumns(rate: Rates, exact: boolean): string {
  return [rate.cps, rate.inPps, rate.outPps].map((n) => " " + right(Math.floor(n), 8)).join("") +
    formatLargeNumber(rate.inBps, exact) + formatLargeNumber(rate.outBps, exact);
}

/** The Forward column: "FullNat" for -b as the FULLNAT ipvsadm names it, "Masq" for -m. */
export function forwardName(method: ForwardMethod): string {
  return forwardMethodEntry(method).display;
}

/** "TCP  VIP:port", cut at 33 characters for IPv4 as ipvsadm does. */
function serviceName(service: ServiceView): string {
  const name = `${protocolEntry(service.protocol).display}  ${
    formatEndpoint(service.address, service.port)
  }`;
  return isIpv6(service.address) ? name : name.slice(0, 33);
}

/** "RS:port", cut at 28 characters for IPv4 as ipvsadm does. */
function serverName(service: ServiceView, server: RealServerView): string {
  const name = formatEndpoint(server.address, server.port);
  return isIpv6(service.address) ? name : name.slice(0, 28);
}

function titleLines(format: ListFormat): string {
  if (format.stats || format.rate) {
    const names = format.stats
      ? ["Conns", "InPkts", "OutPkts", "InBytes", "OutBytes"]
      : ["CPS", "InPPS", "OutPPS", "InBPS", "OutBPS"];
    const columns = names.map((c) => " " + right(c, 8)).join("");
    return `${left("Prot LocalAddress:Port", 33)}${columns}\n  -> RemoteAddress:Port\n`;
  }
  if (format.persistentConn) {
    return `${left("Prot LocalAddress:Port", 33)} ${left("Weight", 9)} ${
      left("PersistConn", 11)
    } ` +
      `${left("ActiveConn", 10)} ${left("InActConn", 10)}\n  -> RemoteAddress:Port\n`;
  }
  if (format.thresholds) {
    const columns = ["Uthreshold", "Lthreshold", "ActiveConn", "InActConn"]
      .map((c) => " " + left(c, 10)).join("");
    return `${left("Prot LocalAddress:Port", 33)}${columns}\n  -> RemoteAddress:Port\n`;
  }
  if (format.tunInfo) {
    return "Prot LocalAddress:Port Scheduler Flags\n" +
      "  -> RemoteAddress:Port           Forward TunnelInfo    Weight ActiveConn InActConn\n";
  }
  return "Prot LocalAddress:Port Scheduler Flags\n" +
    "  -> RemoteAddress:Port           Forward Weight ActiveConn InActConn\n";
}

/**
 * ipvsadm 1.31's TunnelInfo column (`fwd_tun_info`): `ipip`, `gue:PORT:-c` (`+c` with a
 * checksum), `gre:-c`; `n/a` for servers that are not tunnelled.
 */
function tunnelInfo(server: RealServerView): string {
  if (server.method !== "tunnel") return "n/a";
  const type = server.tunnelType ?? DEFAULT_TUNNEL_TYPE;
  const csum = server.tunnelChecksum ? "+c" : "-c";
  if (type === "gue") return `gue:${server.tunnelPort ?? 0}:${csum}`;
  return type === "gre" ? `gre:${csum}` : type;
}

/** ipvsadm 1.31's `--tun-type ...` of a tunnelled server's `-a` rule (`print_tunnel_rule`). */
function ruleTunnel(server: RealServerView): string {
  if (server.method !== "tunnel") return "";
  const type = server.tunnelType ?? DEFAULT_TUNNEL_TYPE;
  const csum = server.tunnelChecksum ? "--tun-csum" : "--tun-nocsum";
  if (type === "gue") return ` --tun-type gue --tun-port ${server.tunnelPort ?? 0} ${csum}`;
  return type === "gre" ? ` --tun-type gre ${csum}` : ` --tun-type ${type}`;
}

function sortedServers(
  service: ServiceView,
  format: ListFormat,
  servers: readonly RealServerView[] = service.realServers,
): RealServerView[] {
  if (format.nosort) return [...servers];
  return [...servers].sort((a, b) => compareAddresses(a.address, b.address) || a.port - b.port);
}

/**
 * The servers `-L` shows, as IPVS would hold them under keepalived: a server its health checks
 * took out (without inhibit_on_failure) or the sorry server displaced is left out, the others
 * show the weight they are scheduled by (0 while down and inhibited), and the sorry server is
 * listed while it stands in. `-S` writes the configuration instead (every server, its
 * configured weight, no sorry server).
 */
function listedServers(service: ServiceView): RealServerView[] {
  const out = service.realServers.filter((r) => r.listed !== false)
    .map((r) => ({ ...r, weight: r.currentWeight ?? r.weight }));
  const sorry = service.sorryServer;
  if (sorry?.active) out.push({ ...sorry, weight: sorry.currentWeight });
  return out;
}

/**
 * The persistence granularity as ipvsadm prints it (`mask` in `-L`, `-M` in `-S`): a dotted
 * netmask for IPv4, the prefix length for IPv6; nothing at the default (the whole address).
 */
function netmaskText(service: ServiceView): string | undefined {
  const v6 = isIpv6(service.address);
  const mask = service.persistenceMask ?? fullPersistenceMask(v6);
  if (mask === fullPersistenceMask(v6)) return undefined;
  return v6 ? String(mask) : prefixLengthNetmask(mask);
}

function serviceEntry(service: ServiceView, format: ListFormat): string {
  const name = serviceName(service);
  let out: string;
  if (format.stats) {
    out = left(name, 33) + statsColumns(service.stats, format.exact) + "\n";
  } else if (format.rate) {
    out = left(name, 33) + serviceRateColumns(service.rate ?? NO_RATES, format.exact) + "\n";
  } else {
    out = `${name} ${service.scheduler}`;
    // As ipvsadm prints IPVS's scheduler flag bits: ` (sh-fallback,sh-port)`.
    const flags = service.schedulerFlags ?? [];
    if (flags.length > 0) out += ` (${flags.join(",")})`;
    if (service.persistence > 0) {
      out += ` persistent ${service.persistence}`;
      const mask = netmaskText(service);
      if (mask !== undefined) out += ` mask ${mask}`;
    }
    // As mainline ipvsadm marks IP_VS_SVC_F_ONEPACKET.
    if (service.onePacket) out += " ops";
    // As Alibaba's ipvsadm marks IP_VS_SVC_F_SYNPROXY.
    if (service.synProxy) out += " synproxy";
    out += "\n";
  }
  for (const server of sortedServers(service, format, listedServers(service))) {
    const dname = serverName(service, server);
    if (format.stats) {
      out += `  -> ${left(dname, 28)}${statsColumns(server.stats, format.exact)}\n`;
    } else if (format.rate) {
      out += `  -> ${left(dname, 28)}${serverRateColumns(server.rate ?? NO_RATES, format.exact)}\n`;
    } else if (format.persistentConn) {
      out += `  -> ${left(dname, 28)} ${left(server.weight, 9)} ` +
        `${left(server.persistConns ?? 0, 11)} ${left(server.activeConns, 10)} ` +
        `${left(server.inactiveConns, 10)}\n`;
    } else if (format.thresholds) {
      out += `  -> ${left(dname, 28)} ${left(server.upperThreshold ?? 0, 10)} ` +
        `${left(server.lowerThreshold ?? 0, 10)} ${left(server.activeConns, 10)} ` +
        `${left(server.inactiveConns, 10)}\n`;
    } else if (format.tunInfo) {
      out += `  -> ${left(dname, 28)} ${left(forwardName(server.method), 7)} ` +
        `${left(tunnelInfo(server), 13)} ${left(server.weight, 6)} ` +
        `${left(server.activeConns, 10)} ${left(server.inactiveConns, 10)}\n`;
    } else {
      out += `  -> ${left(dname, 28)} ${left(forwardName(server.method), 7)} ` +
        `${left(server.weight, 6)} ${left(server.activeConns, 10)} ` +
        `${left(server.inactiveConns, 10)}\n`;
    }
  }
  return out;
}

/** ipvsadm's service order: IPv4 before IPv6, by protocol number, then address, then port. */
function compareServices(a: ServiceView, b: ServiceView): number {
  const fa = isIpv6(a.address) ? 1 : 0;
  const fb = isIpv6(b.address) ? 1 : 0;
  return fa - fb || protocolNumber(a.protocol) - protocolNumber(b.protocol) ||
    compareAddresses(a.address, b.address) || a.port - b.port;
}

/** `ipvsadm -L -n [--stats]`: the version line, the column titles, every service. */
export function formatServiceTable(services: readonly ServiceView[], format: ListFormat): string {
  const ordered = format.nosort ? services : [...services].sort(compareServices);
  return versionHeader() + titleLines(format) +
    ordered.map((s) => serviceEntry(s, format)).join("");
}

/** `-t VIP:port`, `-u [VIP6]:port`: how a rule names its service. */
function ruleService(service: ServiceView): string {
  return `-${protocolEntry(service.protocol).ipvsadm.short} ${
    formatEndpoint(service.address, service.port)
  }`;
}

/**
 * The scheduler part of an `-A` rule, the one place that says how a service's scheduling is
 * written back: `-s NAME`, then `-p TIMEOUT` when persistent (with `-M NETMASK` when its
 * granularity is not the whole address), then `-b FLAGS` when the scheduler has flags set.
 * Mainline ipvsadm's print_service_entry writes `-M` right after `-p`, and `-b` after them,
 * with the flags comma-separated in the order it tests them (fallback, then port), which is
 * the vocabulary's table order that listings already come in.
 *
 * An mh service's table size is not written: ipvsadm has no word for it (IPVS fixes the size
 * for the whole kernel at build time, `CONFIG_IP_VS_MH_TAB_INDEX`), and a word of fullnat's own
 * would make the rules unreadable to ipvsadm. A service restored as new gets the default size;
 * the configuration document (`config export`) keeps it.
 */
function ruleScheduling(service: ServiceView): string {
  let out = ` -s ${service.scheduler}`;
  if (service.persistence > 0) {
    out += ` -p ${service.persistence}`;
    const mask = netmaskText(service);
    if (mask !== undefined) out += ` -M ${mask}`;
  }
  const flags = service.schedulerFlags ?? [];
  if (flags.length > 0) out += ` -b ${flags.join(",")}`;
  // Mainline ipvsadm's -o; Alibaba's later release's -V, the only per-service timeout an
  // ipvsadm can say (the others stay in the configuration document).
  if (service.onePacket) out += " -o";
  const est = service.timeouts?.tcpEstablished;
  if (est !== undefined) out += ` -V ${est}`;
  // fullnat's own per-source limits (its allow and deny lists are in the config document only).
  if (service.sourceRate) out += ` --source-rate ${service.sourceRate}`;
  if (service.sourceSessions) out += ` --source-sessions ${service.sourceSessions}`;
  if (service.synProxy) out += " -j enable";
  return out;
}

/** `-x N -y N` of an `-a` rule, each when set (mainline ipvsadm's print of the thresholds). */
function ruleThresholds(server: RealServerView): string {
  const u = server.upperThreshold ?? 0;
  const l = server.lowerThreshold ?? 0;
  return (u > 0 ? ` -x ${u}` : "") + (l > 0 ? ` -y ${l}` : "");
}

/**
 * `ipvsadm -S [-n]`: one `-A` line per service, each followed by its real servers' `-a` lines
 * (`-b` FULLNAT, `-m` NAT, as the FULLNAT ipvsadm's fwd_switch), in the `-L` order; then, as
 * Alibaba's ipvsadm prints them after the whole table, one `-P ... -z LADDR` line per local
 * address, services in the same order and each one's addresses in the order they were added
 * (the order they are used in). Nothing for an empty table.
 */
export function formatRules(services: readonly ServiceView[], format: ListFormat): string {
  const ordered = format.nosort ? services : [...services].sort(compareServices);
  let out = "";
  for (const service of ordered) {
    const name = ruleService(service);
    out += `-A ${name}${ruleScheduling(service)}\n`;
    for (const server of sortedServers(service, format)) {
      out += `-a ${name} -r ${formatEndpoint(server.address, server.port)} ` +
        `-${forwardMethodEntry(server.method).ipvsadm.short} -w ${server.weight}` +
        `${ruleTunnel(server)}${ruleThresholds(server)}\n`;
    }
  }
  for (const service of ordered) {
    const name = ruleService(service);
    for (const l of service.localAddresses) out += `-P ${name} -z ${l.address}\n`;
  }
  return out;
}

/** `ipvsadm -L -n -t VIP:port`: the column titles and that one service (no version line). */
export function formatOneService(service: ServiceView, format: ListFormat): string {
  return titleLines(format) + serviceEntry(service, format);
}

/** Seconds left as ipvsadm prints them: "mm:ss", minutes zero-padded to at least two digits. */
function expireText(ms: number): string {
  const seconds = Math.max(0, Math.floor(ms / 1000));
  const two = (n: number) => String(n).padStart(2, "0");
  return `${two(Math.floor(seconds / 60))}:${two(seconds % 60)}`;
}

/**
 * `ipvsadm -L -n -c`. ipvsadm's layout (`%-3s %-6s %-11s %-18s %-18s %s`) with the session's
 * local address as a fourth address column between virtual and destination: the order of the
 * FULLNAT kernel's /proc/net/ip_vs_conn (FromIP, ToIP, LocalIP, DestIP) and of DPVS's ipvsadm.
 * Persistence templates are rows too, as IPVS lists them: state `NONE`, the masked client with
 * port 0, no local endpoint (`0.0.0.0:0`).
 */
export function formatConnections(
  connections: readonly ConnectionView[],
  persistentConn = false,
): string {
  return connectionsTitle(persistentConn) + formatConnectionRows(connections);
}

/**
 * The title lines of {@linkcode formatConnections}, for a listing printed as it streams. With
 * `--persistent-conn` ipvsadm titles two more columns, for a persistence engine's name and
 * data; fullnat has no persistence engines, so, as ipvsadm does for rows without them, no row
 * fills them.
 */
export function connectionsTitle(persistentConn = false): string {
  return "IPVS connection entries\n" +
    `pro expire ${left("state", 11)} ${left("source", 18)} ${left("virtual", 18)} ` +
    (persistentConn
      ? `${left("local", 18)} ${left("destination", 18)} ${left("pe name", 16)} pe_data\n`
      : `${left("local", 18)} destination\n`);
}

/** The rows of {@linkcode formatConnections}, one line each. */
export function formatConnectionRows(connections: readonly ConnectionView[]): string {
  let out = "";
  for (const c of connections) {
    out += `${left(protocolEntry(c.protocol).display, 3)} ${left(expireText(c.expiresInMs), 6)} ` +
      `${left(c.state, 11)} ${left(formatEndpoint(c.client.address, c.client.port), 18)} ` +
      `${left(formatEndpoint(c.virtual.address, c.virtual.port), 18)} ` +
      `${left(formatEndpoint(c.local.address, c.local.port), 18)} ` +
      `${formatEndpoint(c.real.address, c.real.port)}\n`;
  }
  return out;
}

function laddrTitle(): string {
  return `${left("VIP:VPORT", 20)} ${left("TOTAL", 8)} ${left("LADDR", 20)} ` +
    `${left("CONFLICTS", 10)} ${left("CONNS", 10)}\n`;
}

function laddrEntry(service: ServiceView): string {
  let out = `${left(formatEndpoint(service.address, service.port), 20)} ` +
    `${left(service.localAddresses.length, 8)} \n`;
  for (const l of service.localAddresses) {
    out += `${left("", 20)} ${left("", 8)} ${left(l.address, 20)} ` +
      `${left(l.portConflicts, 10)} ${left(l.conns, 10)}\n`;
  }
  return out;
}

/**
 * `ipvsadm -G`: the title once, then each service ("VIP:port  count") followed by its local
 * addresses, in the daemon's order as the FULLNAT ipvsadm leaves them. No services: no output.
 */
export function formatLocalAddressTable(services: readonly ServiceView[]): string {
  if (services.length === 0) return "";
  return laddrTitle() + services.map(laddrEntry).join("");
}

/** `ipvsadm -G -t VIP:port`: the title and that one service's local addresses. */
export function formatServiceLocalAddresses(service: ServiceView): string {
  return laddrTitle() + laddrEntry(service);
}

/** `ipvsadm -L --timeout`: ESTABLISHED, FIN_WAIT and UDP timeouts in seconds. */
export function formatTimeouts(timeouts: Timeouts): string {
  return `Timeout (tcp tcpfin udp): ${timeouts.tcpEstablished} ${timeouts.tcpFinWait} ${timeouts.udp}\n`;
}
