/**
 * The `fullnat` command.
 *
 *   fullnat daemon [options]   run the data path and the control socket
 *   fullnat ipvsadm ARGS...    ipvsadm syntax with the FULLNAT extensions, against the daemon
 *   fullnat status [--json]    every counter of the running daemon
 *   fullnat restart            restart the daemon in place, keeping rules and sessions
 *   fullnat service|rs|laddr|conn|stats|timeout|config|show ...   admin commands (src/shell)
 *   fullnat shell [-c CMD]     the interactive admin shell (the admin user's login shell)
 *   fullnat provision check|seed|firstboot ...   provisioning files and seed images
 *   fullnat mgmt apply|show|firewall-off         management access (sshd, host firewall)
 *
 * Client commands find the daemon through `FULLNAT_SOCKET` (default /run/fullnat/control.sock).
 *
 * @module
 */
import { Command, CommanderError, Option } from "commander";
import { ControlClient } from "./src/ctl/client.ts";
import {
  applyOffloadFlags,
  checkChainPrefix,
  type DaemonOptions,
  DEFAULT_SYNC_REFRESH_S,
  defaultDaemonOptions,
  parseIntStrict,
  parsePortRange,
} from "./src/daemon/options.ts";
import { formatStatus } from "./src/daemon/status_text.ts";
import { DEFAULT_QUEUE_BUFFER_BYTES, DEFAULT_QUEUE_MAXLEN } from "./src/nfqueue/constants.ts";
import { DEFAULT_LOCAL_PORT_RANGE, formatPortRange } from "./src/vocab/port.ts";
import {
  addAdminCommands,
  addRestartCommand,
  addShellCommand,
  oneShotRuntime,
  type Runtime,
} from "./src/shell/mod.ts";

/** Runs `fullnat ipvsadm ARGS` and returns the exit code. */
async function ipvsadm(args: string[]): Promise<number> {
  const wantsDaemon = !args.some((a) =>
    a === "-h" || a === "--help" || a === "-v" || a === "--version"
  );
  let client: ControlClient | undefined;
  try {
    // Loaded only here: an admin command's start-up does not pay for the ipvsadm front end.
    const { runIpvsadm } = await import("./src/ctl/ipvsadm/run.ts");
    const { applyThroughDaemon } = await import("./src/ctl/ipvsadm/restore.ts");
    if (wantsDaemon) client = await ControlClient.connect(defaultDaemonOptions().socket);
    const result = await runIpvsadm(args, client ?? offline, {
      program: "fullnat ipvsadm",
      write: (text) => writeAll(Deno.stdout, text),
      stdin: () => new Response(Deno.stdin.readable).text(),
      ...(client !== undefined && {
        applyDocument: applyThroughDaemon(client),
        call: (op: string, ...a: unknown[]) => client!.call(op, ...a),
      }),
    });
    if (result.stdout) await writeAll(Deno.stdout, result.stdout);
    if (result.stderr) await writeAll(Deno.stderr, result.stderr);
    return result.exitCode;
  } catch (e) {
    console.error(e instanceof Error ? e.message : String(e));
    return 1;
  } finally {
    client?.close();
  }
}

/** Help and version need no daemon; any other use of this is a bug. */
const offline = new Proxy({}, {
  get: () => () => Promise.reject(new Error("fullnat daemon connection missing")),
}) as ControlClient;

async function writeAll(w: { write(p: Uint8Array): Promise<number> }, text: string) {
  const bytes = new TextEncoder().encode(text);
  for (let off = 0; off < bytes.length;) off += await w.write(bytes.subarray(off));
}

/**
 * Builds the program. The daemon, the engine and provisioning are loaded only by the commands
 * that run them (`daemon`'s action, `provision`): an admin command's start-up does not pay for
 * them, which is most of a one-shot command's time (README "Admin shell"). `provision` is
 * added only when the first word is not another command, so help, `help provision` and the
 * suggestion for a typo still list it.
 */
async function program(admin: Runtime, first: string | undefined): Promise<Command> {
  const cmd = new Command("fullnat")
    .description("LVS FULLNAT load balancer on NFQUEUE")
    .exitOverride()
    .showHelpAfterError();

  cmd.command("daemon")
    .description("run the data path (NFQUEUE loop, iptables diversion) and the control socket")
    .option("--socket <path>", "control socket (env FULLNAT_SOCKET)")
    .option("--queue <n>", "NFQUEUE number (env FULLNAT_QUEUE)")
    .option(
      "--chain-prefix <name>",
      "prefix of the iptables chains it owns (env FULLNAT_CHAIN_PREFIX)",
    )
    .option("--fail-open", "let diverted traffic through unrewritten while no daemon runs")
    .option("--max-sessions <n>", "session table capacity", "1048576")
    .option(
      "--local-ports <low-high>",
      "local ports per local address",
      formatPortRange(DEFAULT_LOCAL_PORT_RANGE),
    )
    .addOption(
      new Option("--reject <policy>", "answer refused connection attempts").choices([
        "reset",
        "drop",
      ]).default("reset"),
    )
    .addOption(
      new Option(
        "--lost-session <policy>",
        "answer a TCP segment (not a SYN) to a service that matches no session, e.g. of a " +
          "session lost with a refused table: reset tells the client at once, drop leaves " +
          "it retrying until its own timeout",
      ).choices(["reset", "drop"]).default("reset"),
    )
    .option("--no-sysctl", "leave kernel settings alone")
    .option(
      "--workers <n>",
      "packet workers (1-64), each with its own queue (--queue + i) and local port slice",
      "1",
    )
    .option("--no-expiry-reset", "do not reset both ends of ESTABLISHED sessions that expire")
    .option(
      "--mtu <bytes>",
      "MTU towards the real servers: client segments that TOA would grow past it get none " +
        "(or a frag-needed / packet-too-big when they forbid fragmentation)",
      "1500",
    )
    .option(
      "--tunnel-source <address>",
      "address of this box that tunnelled (-i) packets leave from, one IPv4 and/or one " +
        "IPv6 (repeat the option); the real servers' tunnel devices receive from it",
      (v: string, all: string[]) => [...all, v],
      [] as string[],
    )
    .option(
      "--queue-maxlen <packets>",
      "packets each queue holds while its worker is busy; a burst past it is dropped " +
        "(counted as queueDropped)",
      String(DEFAULT_QUEUE_MAXLEN),
    )
    .option(
      "--queue-buffer <MiB>",
      "receive buffer of each queue's socket; a burst past it is dropped (userDropped)",
      String(DEFAULT_QUEUE_BUFFER_BYTES >> 20),
    )
    .option(
      "--state-dir <dir>",
      "where the configuration is kept and restored from (env FULLNAT_STATE_DIR, default /var/lib/fullnat)",
    )
    .option("--no-persist", "keep no configuration: start empty, save nothing")
    .option(
      "--run-dir <dir>",
      "where the live sessions are kept, so a restart, crash or upgrade loses none " +
        "(env FULLNAT_RUN_DIR, default /run/fullnat)",
    )
    .option(
      "--no-run-dir",
      "keep the sessions in process memory: a restart of the daemon ends every connection",
    )
    .option(
      "--sync-key-file <file>",
      "shared key (16 bytes or more) that signs session-sync messages and that received ones " +
        "must carry (env FULLNAT_SYNC_KEY_FILE; default: unsigned, as IPVS)",
    )
    .option(
      "--sync-refresh <seconds>",
      "a master sync daemon sends each session of its own again at least this often, so a " +
        "peer that was away learns the sessions made meanwhile (0: only on change, as IPVS)",
      String(DEFAULT_SYNC_REFRESH_S),
    )
    .option(
      "--manage-host-network",
      "apply the configuration's network section to this box's interfaces and put the " +
        "services' VIPs and local addresses on them (the appliance's unit sets it; without it " +
        "no interface is touched)",
    )
    .option(
      "--host-network-dir <dir>",
      "write the network section as systemd-networkd files into DIR (e.g. /etc/systemd/network; " +
        "resolved and timesyncd drop-ins beside it) so the box's network comes up at boot",
    )
    .option(
      "--keepalived-conf <file>",
      "keepalived's configuration: the addresses it floats are never bound by the daemon",
    )
    .addOption(
      new Option(
        "--offload <mode>",
        "kernel fast path: established hands established FULLNAT/NAT TCP sessions to the " +
          "kernel's conntrack (needs the ctnetlink module); replaces the saved configuration's " +
          "tunable offload (default: the saved one, else off)",
      ).choices(["off", "established"]),
    )
    .option(
      "--offload-min-bytes <bytes>",
      "bytes a session must have carried (both ways) before the fast path takes it",
      "0",
    )
    .action(async (o) => {
      const d: DaemonOptions = defaultDaemonOptions();
      if (o.socket) d.socket = o.socket;
      if (o.queue !== undefined) d.queue = parseIntStrict(o.queue, "--queue", 0, 65535);
      if (o.chainPrefix) d.chainPrefix = o.chainPrefix;
      checkChainPrefix(d.chainPrefix);
      d.failOpen = Boolean(o.failOpen);
      d.maxSessions = parseIntStrict(o.maxSessions, "--max-sessions", 1, 1 << 24);
      d.localPorts = parsePortRange(o.localPorts);
      d.rejectWithReset = o.reject === "reset";
      d.noSessionPolicy = o.lostSession === "drop" ? "drop" : "reset";
      d.skipSysctl = o.sysctl === false;
      d.workers = parseIntStrict(o.workers, "--workers", 1, 64);
      d.expiryReset = o.expiryReset !== false;
      d.mtu = parseIntStrict(o.mtu, "--mtu", 576, 65535);
      d.tunnelSources = o.tunnelSource;
      const { parseTunnelSources } = await import("./src/fullnat/engine.ts");
      parseTunnelSources(d.tunnelSources);
      d.queueMaxLen = parseIntStrict(o.queueMaxlen, "--queue-maxlen", 1, 1 << 24);
      d.queueBufferBytes = parseIntStrict(o.queueBuffer, "--queue-buffer", 1, 1024) << 20;
      if (o.stateDir) d.stateDir = o.stateDir;
      if (o.persist === false) d.stateDir = null;
      if (o.runDir) d.runDir = o.runDir;
      if (o.runDir === false) d.runDir = null;
      if (o.syncKeyFile) d.syncKeyFile = o.syncKeyFile;
      d.syncRefreshMs = parseIntStrict(o.syncRefresh, "--sync-refresh", 0, 3600) * 1000;
      applyOffloadFlags(d, o.offload, o.offloadMinBytes);
      d.manageHostNetwork = o.manageHostNetwork === true;
      if (o.hostNetworkDir) d.hostNetworkDir = o.hostNetworkDir;
      if (o.keepalivedConf) d.keepalivedConf = o.keepalivedConf;
      const { runDaemon } = await import("./src/daemon/daemon.ts");
      await runDaemon(d);
    });

  cmd.command("status")
    .description("show every counter of the running daemon")
    .option("--json", "machine-readable output")
    .action(async (o) => {
      const client = await ControlClient.connect(defaultDaemonOptions().socket);
      try {
        const report = await client.call("status");
        console.log(o.json ? JSON.stringify(report, null, 2) : formatStatus(report as never));
      } finally {
        client.close();
      }
    });

  // The same command as the shell's `daemon restart` (src/shell/commands/daemon.ts).
  addRestartCommand(admin, cmd, "restart");

  cmd.command("ipvsadm")
    .description(
      "ipvsadm syntax with the FULLNAT extensions (-b, -P/-Q/-G -z); see 'fullnat ipvsadm -h'",
    )
    .allowUnknownOption()
    .helpOption(false)
    .argument("[args...]");
  // Where `provision` and `mgmt` go in the help's list, if they are added below.
  const provisionAt = cmd.commands.length;
  // service, rs, laddr, conn, stats, timeout, config, show, shell: src/shell.
  addShellCommand(addAdminCommands(cmd, admin), admin);
  const known = cmd.commands.flatMap((c) => [c.name(), ...c.aliases()]);
  if (first === undefined || !known.includes(first)) {
    const [{ registerProvision }, { registerMgmt }] = await Promise.all([
      import("./src/provision/cli.ts"),
      import("./src/mgmt/cli.ts"),
    ]);
    registerProvision(cmd);
    registerMgmt(cmd);
    const commands = cmd.commands as Command[];
    commands.splice(provisionAt, 0, ...commands.splice(-2));
  }
  return cmd;
}

/** Entry point; returns the process exit code. */
export async function main(argv: string[]): Promise<number> {
  // ipvsadm's own option syntax must reach its parser untouched.
  if (argv[0] === "ipvsadm") return await ipvsadm(argv.slice(1));
  const admin = oneShotRuntime();
  try {
    await (await program(admin, argv[0])).parseAsync(argv, { from: "user" });
    return admin.exitCode;
  } catch (e) {
    if (e instanceof CommanderError) return e.exitCode === 0 ? 0 : 2;
    console.error(`fullnat: ${e instanceof Error ? e.message : String(e)}`);
    return 1;
  } finally {
    await admin.close();
  }
}

if (import.meta.main) Deno.exit(await main(Deno.args));
