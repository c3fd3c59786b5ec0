/**
 * The texts of `ipvsadm -h` and `ipvsadm -v` for fullnat's ipvsadm front end, and the one-line
 * hint ipvsadm prints after a command line it could not parse.
 *
 * @module
 */

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

/** The `-h` text: the forms and options fullnat accepts. */
export function usageText(program: string): string {
  const p = program;
  return versionText() +
    `Usage:
  ${p} -A|E -t|u service-address [-s scheduler] [-p [timeout]]
  ${p} -D -t|u service-address
  ${p} -C
  ${p} -a|e -t|u service-address -r server-address [-b|-m] [-w weight]
  ${p} -d -t|u service-address -r server-address
  ${p} -P|Q -t|u service-address -z local-address
  ${p} -G [-t|u service-address]
  ${p} -L|l [-n] [-c] [--stats [--exact]] [--timeout] [-t|u service-address]
  ${p} -Z [-t|u service-address]
  ${p} --set tcp tcpfin udp
  ${p} -h | -v

Commands:
  --add-service     -A   add a virtual service
  --edit-service    -E   change a virtual service's scheduler or persistence
  --delete-service  -D   delete a virtual service
  --clear           -C   delete every virtual service
  --add-server      -a   add a real server to a service
  --edit-server     -e   change a real server's weight or forwarding method
  --delete-server   -d   delete a real server
  --add-laddr       -P   add a FULLNAT local address to a service
  --del-laddr       -Q   delete a FULLNAT local address from a service
  --get-laddr       -G   list local addresses (of one service or of all)
  --list            -L|-l  list services, connections (-c) or timeouts (--timeout)
  --zero            -Z   zero the counters of one service or of all
  --set tcp tcpfin udp   set session timeouts in seconds (0 leaves one unchanged)
  --help            -h   show this text
  --version         -v   show the version

Options:
  --tcp-service  -t service-address   VIP:port (IPv6 as [addr]:port)
  --udp-service  -u service-address   VIP:port
  --scheduler    -s scheduler         rr or wrr (default wrr)
  --persistent   -p [timeout]         client persistence in seconds (default 300)
  --real-server  -r server-address    RS[:port] (port defaults to the service's)
  --fullnat      -b                   FULLNAT forwarding (default)
  --masquerading -m                   NAT forwarding
  --weight       -w weight            0..65535 (default 1; 0 quiesces the server)
  --laddr        -z local-address     a local address owned by this box
  --numeric      -n                   numeric output (output is always numeric here)
  --connection   -c                   list sessions
  --timeout                           list timeouts (tcp tcpfin udp)
  --stats                             list counters
  --exact                             print counters in full
  --nosort                            keep the daemon's order

Not available with fullnat: -g (direct routing) and -i (tunnelling), fwmark services,
sync daemons, thresholds, --rate, save/restore and the SNAT gateway rules.
`;
}
