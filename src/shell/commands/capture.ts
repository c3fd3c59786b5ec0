/**
 * `capture start|stop|list|show|delete`: packet captures the daemon runs (tcpdump needs root;
 * src/daemon/capture.ts), bounded in packets, size and time, kept as files in the daemon's
 * capture directory. `capture show FILE` writes the pcap to standard output byte for byte,
 * read here from the file (the admin's group may read it), so
 * `ssh admin@box 'capture show FILE' > x.pcap` fetches it; on a terminal it refuses.
 *
 * @module
 */
import { type Command, InvalidArgumentError } from "commander";
import { action, jsonOption, leaf, printJson } from "../command_kit.ts";
import type { CommandContext } from "../context.ts";
import { callOptional, UsageError } from "../errors.ts";
import { parseInterface } from "../run_program.ts";
import { renderTable } from "../table.ts";
import { wholeNumberParser } from "../values.ts";
import { CAPTURE_LIMITS, type CaptureFile } from "../../daemon/capture.ts";

/** A capture file name as the shell takes it: no directories, `.pcap` added when missing. */
export function parseCaptureName(text: string): string {
  const name = text.endsWith(".pcap") ? text : `${text}.pcap`;
  if (!/^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$/.test(name) || name.includes("..")) {
    throw new InvalidArgumentError(
      `'${text}' is not a capture file name: letters, digits, '_', '.', '-' and no ` +
        `directories (see capture list)`,
    );
  }
  return name;
}

function fileLine(f: CaptureFile): string {
  const what = f.running ? "running" : f.ended ? `ended (${f.ended})` : "stored";
  return `${f.name}: ${what}, ${f.packets ?? "?"} packet(s), ${f.bytes} bytes`;
}

function filesTable(files: CaptureFile[]): string {
  return renderTable(
    [
      { title: "FILE" },
      { title: "BYTES", numeric: true },
      { title: "PACKETS", numeric: true },
      { title: "STATE" },
      { title: "INTERFACE" },
      { title: "FILTER" },
    ],
    files.map((f) => [
      f.name,
      f.bytes,
      f.packets ?? "",
      f.running ? "running" : f.ended ?? "stored",
      f.interface ?? "",
      f.filter ?? "",
    ]),
    "no capture files",
  );
}

/** Adds `capture`. */
export function addCaptureCommands(ctx: CommandContext, root: Command): void {
  const capture = root.command("capture").description(
    "packet captures (tcpdump) to files: start, stop, list, show, delete",
  );
  const call = async (
    control: () => Promise<{ call(op: string, ...a: unknown[]): Promise<unknown> }>,
    op: string,
    ...args: unknown[]
  ) => {
    const c = await control();
    return await callOptional(c.call.bind(c), "'capture'", op, ...args);
  };

  leaf(ctx, capture, "start", "capture packets on an interface to a file (one at a time)")
    .argument("[filter...]", "BPF filter, e.g. tcp port 80 and host 192.0.2.10 (default: all)")
    .requiredOption(
      "-i, --interface <name>",
      "interface to capture on (any: all)",
      (v) => v === "any" ? v : parseInterface(v),
    )
    .option("--name <file>", "file name (default INTERFACE-TIME.pcap)", parseCaptureName)
    .option(
      "-c, --count <packets>",
      `stop after this many packets (default ${CAPTURE_LIMITS.defaultPackets})`,
      wholeNumberParser("number of packets", 1, CAPTURE_LIMITS.maxPackets),
    )
    .option(
      "--size <MB>",
      `stop before the file passes this size (default ${CAPTURE_LIMITS.defaultMegabytes})`,
      wholeNumberParser("size in MB", 1, CAPTURE_LIMITS.maxMegabytes),
    )
    .option(
      "--duration <seconds>",
      `stop after this long (default ${CAPTURE_LIMITS.defaultSeconds})`,
      wholeNumberParser("number of seconds", 1, CAPTURE_LIMITS.maxSeconds),
    )
    .action(action(ctx, async ({ args, opts, control }) => {
      const filter = (args[0] as string[] | undefined) ?? [];
      const f = await call(control, "captureStart", {
        interface: opts.interface,
        filter: filter.flatMap((w) => w.split(/\s+/).filter((x) => x !== "")),
        ...(opts.name !== undefined && { name: opts.name }),
        ...(opts.count !== undefined && { packets: opts.count }),
        ...(opts.size !== undefined && { megabytes: opts.size }),
        ...(opts.duration !== undefined && { seconds: opts.duration }),
      }) as CaptureFile;
      ctx.io.out(
        `capturing on ${f.interface} to ${f.name}; 'capture stop' ends it, ` +
          `'capture show ${f.name} > file.pcap' (over ssh) fetches it`,
      );
    }));

  leaf(ctx, capture, "stop", "stop the running capture")
    .argument("[file]", "the running capture's file", parseCaptureName)
    .action(action(ctx, async ({ args, control }) => {
      const f = await call(control, "captureStop", ...(args[0] ? [args[0]] : [])) as CaptureFile;
      ctx.io.out(fileLine(f));
    }));

  jsonOption(leaf(ctx, capture, "list", "the capture files")).action(
    action(ctx, async ({ opts, control }) => {
      const l = await call(control, "captureList") as { files: CaptureFile[] };
      if (opts.json) printJson(ctx, l.files);
      else ctx.io.out(filesTable(l.files));
    }),
  );

  leaf(ctx, capture, "show", "write a capture file (pcap) to standard output, unchanged")
    .argument("<file>", "capture file name (see capture list)", parseCaptureName)
    .action(action(ctx, async ({ args, control }) => {
      const name = args[0] as string;
      const write = ctx.io.bytes?.bind(ctx.io);
      if (write === undefined || ctx.host.stdoutIsTerminal()) {
        throw new UsageError(
          `${name} is binary (pcap): send it to a file, e.g. ` +
            `ssh admin@box 'capture show ${name}' > ${name}`,
        );
      }
      const l = await call(control, "captureList") as { dir: string; files: CaptureFile[] };
      if (!l.files.some((f) => f.name === name)) {
        throw new UsageError(`there is no capture file ${name} (see capture list)`);
      }
      for await (const chunk of await ctx.host.openRead(`${l.dir}/${name}`)) {
        await write(chunk, "out");
      }
    }));

  leaf(ctx, capture, "delete", "delete a capture file")
    .argument("<file>", "capture file name (see capture list)", parseCaptureName)
    .action(action(ctx, async ({ args, control }) => {
      await call(control, "captureDelete", args[0]);
      ctx.io.out(`deleted ${args[0]}`);
    }));
}
