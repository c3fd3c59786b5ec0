/**
 * Packet captures for end-to-end tests: `tcpdump` writing a pcap file inside a namespace, and a
 * reader that returns the IP packets of that file (Ethernet or Linux-cooked frames), ready for
 * the scapy oracle. The pcap format is small enough to read here: a 24-byte file header, then
 * per packet a 16-byte record header and the captured bytes.
 *
 * @module
 */
import { spawnIn } from "./proc.ts";
import { waitFor } from "./wait.ts";

/** A running capture. */
export interface Capture {
  /** Stops tcpdump (letting it flush) and returns the captured IP packets in order. */
  stop(): Promise<Uint8Array[]>;
}

/** Starts `tcpdump -i IFACE -w FILE FILTER...` in `netns`; resolves once it is capturing. */
export async function startCapture(
  netns: string,
  iface: string,
  filter: readonly string[],
): Promise<Capture> {
  const dir = await Deno.makeTempDir({ prefix: "fullnat-cap-" });
  const file = `${dir}/cap.pcap`;
  const child = spawnIn(
    netns,
    ["tcpdump", "-i", iface, "--immediate-mode", "-U", "-n", "-s", "256", "-w", file, ...filter],
    { stderr: "piped" },
  );
  let err = "";
  const pump = (async () => {
    const dec = new TextDecoder();
    for await (const chunk of child.stderr) err += dec.decode(chunk, { stream: true });
  })();
  // tcpdump says "listening on ..." once the socket is bound.
  await waitFor(() => err.includes("listening on"), {
    timeoutMs: 5000,
    what: `tcpdump on ${iface} in ${netns}: ${err}`,
  });
  return {
    async stop() {
      // Packets still travelling (the last ACK, a FIN) get a moment to reach the socket.
      await new Promise((r) => setTimeout(r, 100));
      try {
        child.kill("SIGINT");
      } catch { /* already gone */ }
      await child.status;
      await pump;
      try {
        return readPcap(await Deno.readFile(file));
      } finally {
        await Deno.remove(dir, { recursive: true });
      }
    },
  };
}

const LINKTYPE_ETHERNET = 1;
const LINKTYPE_LINUX_SLL = 113;
/** What tcpdump writes for `-i any` (a 20-byte cooked header). */
const LINKTYPE_LINUX_SLL2 = 276;
const LINKTYPE_RAW = 101;

/** The IP packets of a classic pcap file (either byte order, microsecond or nanosecond). */
export function readPcap(file: Uint8Array): Uint8Array[] {
  const dv = new DataView(file.buffer, file.byteOffset, file.byteLength);
  const magic = dv.getUint32(0, false);
  let little: boolean;
  if (magic === 0xa1b2c3d4 || magic === 0xa1b23c4d) little = false;
  else if (magic === 0xd4c3b2a1 || magic === 0x4d3cb2a1) little = true;
  else throw new Error(`not a pcap file (magic ${magic.toString(16)})`);
  const link = dv.getUint32(20, little);
  const skip = link === LINKTYPE_ETHERNET
    ? 14
    : link === LINKTYPE_LINUX_SLL
    ? 16
    : link === LINKTYPE_LINUX_SLL2
    ? 20
    : link === LINKTYPE_RAW
    ? 0
    : -1;
  if (skip < 0) throw new Error(`unsupported pcap link type ${link}`);
  const out: Uint8Array[] = [];
  for (let off = 24; off + 16 <= file.length;) {
    const caplen = dv.getUint32(off + 8, little);
    const start = off + 16;
    if (start + caplen > file.length) break; // truncated last record
    if (caplen > skip) out.push(file.slice(start + skip, start + caplen));
    off = start + caplen;
  }
  return out;
}
