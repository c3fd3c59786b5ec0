/**
 * The texts of `ipvsadm -h` and `ipvsadm -v` for fullnat's ipvsadm front end, and the one-line
 * hint ipvsadm prints after a command line it could not parse.
 *
 * @module
 */
import {
  andList,
  DEFAULT_FORWARD_METHOD,
  DEFAULT_SCHEDULER,
  DEFAULT_WEIGHT,
  FORWARD_METHOD_TABLE,
  PROTOCOL_TABLE,
  SCHEDULER_CHOICES,
  SCHEDULER_FLAGS,
  WEIGHT_MAX,
  WEIGHT_MIN,
} from "../../vocab/mod.ts";

/** ipvsadm release whose command syntax this front end follows (first two words of `-v`). */
export const IPVSADM_VERSION = "v1.26";
/** IPVS version fullnat reports in listings, as the FULLNAT kernel does. */
export const IPVS_VERSION = "1.2.1";
/** Connection table size reported in the listing header. */
export const CONN_TAB_SIZE = 4096;

/** The `-v` line. Scripts read its second word, so that stays ipvsadm's version. */
export function versionText(): string {
  return `ipvsadm ${IPVSADM_VERSION} (fullnat front end, IPVS v${IPVS_VERSION} syntax)\n`;
}

/** ipvsadm's hint after a command line it could not make sense of (exit status 255). */
export function tryHelpText(program: string): string {
  return `Try \`${program} -h' or '${program} --help' for more information.\n`;
}

/** One line of the Options list: long name, short name with its value, what it does. */
function optionLine(long: string, short: string, text: string): string {
  return `  ${`--${long}`.padEnd(15)}${short.padEnd(21)}${text}\n`;
}

/** `t|u`: the service options, one per protocol. */
const SERVICE_FLAGS = PROTOCOL_TABLE.map((p) => p.ipvsadm.short).join("|");

/** -t, -u: VIP:port, the IPv6 spelling said once. */
function protocolOptions(): string {
  return PROTOCOL_TABLE.map((p, i) =>
    optionLine(
      p.ipvsadm.long,
      `-${p.ipvsadm.short} service-address`,
      i === 0 ? "VIP:port (IPv6 as [addr]:port)" : "VIP:port",
    )
  ).join("");
}

/** -b, -m: the implemented methods, the default marked. */
function methodOptions(): string {
  return FORWARD_METHOD_TABLE.filter((m) => m.supported).map((m) =>
    optionLine(
      m.ipvsadm.long,
      `-${m.ipvsadm.short}`,
      `${m.title} forwarding${m.name === DEFAULT_FORWARD_METHOD ? " (default)" : ""}`,
    )
  ).join("");
}

/** `-g (direct routing) and -i (tunnelling)`: the methods ipvsadm names that are refused. */
/** What ipvsadm does that fullnat refuses (every forwarding method is implemented now). */
const NOT_AVAILABLE = andList([
  ...FORWARD_METHOD_TABLE.filter((m) => !m.supported).map((m) =>
    `-${m.ipvsadm.short} (${m.title})`
  ),
  "fwmark services",
  "the SNAT gateway rules",
]);

/** The `-h` text: the forms and options fullnat accepts. */
export function usageText(program: string): string {
  const p = program;
  const tu = SERVICE_FLAGS;
  return versionText() +
    `Usage:
  ${p} -A|E -${tu} service-address [-s scheduler] [-b sched-flags] [-p [timeout]] [-M netmask]
        [-o] [-V timeout]
  ${p} -D -${tu} service-address
  ${p} -C
  ${p} -R
  ${p} -S [-n]
  ${p} -a|e -${tu} service-address -r server-address [-b|-m|-g|-i] [-w weight] [-x upper] [-y lower]
        [--tun-type ipip|gue|gre [--tun-port port] [--tun-nocsum|--tun-csum]]
  ${p} -d -${tu} service-address -r server-address
  ${p} -P|Q -${tu} service-address -z local-address
  ${p} -G [-${tu} service-address]
  ${p} -L|l [-n] [-c] [--stats|--rate [--exact]|--thresholds|--tun-info] [--persistent-conn]
        [--timeout]
        [-${tu} service-address]
  ${p} -Z [-${tu} service-address]
  ${p} --set tcp tcpfin udp
  ${p} -h | -v

Commands:
  --add-service     -A   add a virtual service
  --edit-service    -E   change a virtual service's scheduler or persistence
  --delete-service  -D   delete a virtual service
  --clear           -C   delete every virtual service
  --restore         -R   read rules (as -S prints them) from stdin; all or nothing
  --save            -S   print the rules, as commands -R reads
  --add-server      -a   add a real server to a service
  --edit-server     -e   change a real server's weight or forwarding method
  --delete-server   -d   delete a real server
  --add-laddr       -P   add a FULLNAT local address to a service
  --del-laddr       -Q   delete a FULLNAT local address from a service
  --get-laddr       -G   list local addresses (of one service or of all)
  --list            -L|-l  list services, connections (-c) or timeouts (--timeout)
  --zero            -Z   zero the counters of one service or of all
  --set tcp tcpfin udp   set session timeouts in seconds (0 leaves one unchanged)
  --start-daemon state   start the master or backup session sync daemon
  --stop-daemon state    stop the master or backup session sync daemon
  --help            -h   show this text
  --version         -v   show the version

Options:
${protocolOptions()}${
      optionLine("scheduler", "-s scheduler", `${SCHEDULER_CHOICES} (default ${DEFAULT_SCHEDULER})`)
    }${
      optionLine("sched-flags", "-b flags", `with -A|E: ${SCHEDULER_FLAGS.join(",")} (of sh, mh)`)
    }  --persistent   -p [timeout]         client persistence in seconds (default 300)
  --netmask      -M netmask           persistence granularity: 255.255.255.0 (IPv6: 64)
  --real-server  -r server-address    RS[:port] (port defaults to the service's)
${methodOptions()}${
      optionLine(
        "weight",
        "-w weight",
        `${WEIGHT_MIN}..${WEIGHT_MAX} (default ${DEFAULT_WEIGHT}; 0 quiesces the server)`,
      )
    }  --u-threshold  -x uthreshold        upper threshold of connections (0: none)
  --l-threshold  -y lthreshold        lower threshold of connections (0: 3/4 of upper)
  --tun-type     ipip|gue|gre         a tunnel server's encapsulation (-i; default ipip)
  --tun-port     port                 the UDP port of a gue tunnel (required for gue)
  --tun-nocsum                        no checksum in the gue or gre header (the default)
  --tun-csum                          a checksum in the gue or gre header
  --ops          -o                   one-packet scheduling (UDP services only)
  --vsestablish-timeout -V timeout    the service's own ESTABLISHED timeout in seconds
  --source-rate n                     new connections per second per client address (0: none)
  --source-sessions n                 open sessions per client address (0: none)
  --synproxy     -j enable|disable    answer SYNs with cookies (TCP, FULLNAT servers)
  --laddr        -z local-address     a local address owned by this box
  --numeric      -n                   numeric output (output is always numeric here)
  --connection   -c                   list sessions
  --timeout                           list timeouts (tcp tcpfin udp)
  --stats                             list counters
  --rate                              list rates per second (2 s moving average)
  --persistent-conn                   list persistence templates per real server
  --exact                             print counters in full
  --nosort                            keep the daemon's order
  --thresholds                        list real servers' connection thresholds
  --tun-info                          list real servers' tunnel encapsulation
  --daemon                            list the session sync daemons
  --mcast-interface interface         sync daemon's interface (required to start one)
  --syncid sid                        sync daemon's syncid, 0-255 (default 0: a backup takes all)
  --sync-maxlen length                largest sync message (default: MTU less IP and UDP headers)
  --mcast-group address               group (default 224.0.0.81), or the peer's unicast address
  --mcast-port port                   UDP port (default 8848)
  --mcast-ttl ttl                     multicast TTL (default 1)

Not available with fullnat: ${NOT_AVAILABLE}.
`;
}
