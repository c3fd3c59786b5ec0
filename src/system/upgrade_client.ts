/**
 * The admin shell's half of `system upgrade -`: the shell runs as the admin user, who cannot
 * write a disk, so it streams the bundle (its standard input) into the socket of
 * `fullnat-upgrade.socket`, whose per-connection service (root) writes the inactive slot
 * (`fullnat-slot receive`), and relays what that says. The socket is `root:fullnat 0660`.
 *
 * @module
 */

/** The upgrade receiver's socket on the appliance. */
export const UPGRADE_SOCKET = "/run/fullnat-upgrade.sock";

/** What came back: the receiver's lines, and whether it reported a failure. */
export interface UpgradeOutcome {
  ok: boolean;
  bytesSent: number;
}

/**
 * Sends `bundle` to the receiver at `socketPath`, passing each line it answers to `line`. The
 * outcome is a failure when a line starts with `error:` or nothing at all came back.
 */
export async function streamUpgrade(
  bundle: ReadableStream<Uint8Array>,
  line: (text: string) => void,
  socketPath: string = UPGRADE_SOCKET,
): Promise<UpgradeOutcome> {
  let conn: Deno.UnixConn;
  try {
    conn = await Deno.connect({ transport: "unix", path: socketPath });
  } catch (e) {
    const why = e instanceof Error ? e.message : String(e);
    throw new Error(
      `cannot reach the upgrade receiver at ${socketPath} (${why}); is this the appliance?`,
    );
  }
  let bytesSent = 0;
  let failed = false;
  let heard = false;
  const reading = (async () => {
    const dec = new TextDecoder();
    let buf = "";
    const emit = (l: string) => {
      heard = true;
      if (l.startsWith("error:")) failed = true;
      line(l);
    };
    for await (const chunk of conn.readable) {
      buf += dec.decode(chunk, { stream: true });
      let nl: number;
      while ((nl = buf.indexOf("\n")) >= 0) {
        emit(buf.slice(0, nl));
        buf = buf.slice(nl + 1);
      }
    }
    if (buf !== "") emit(buf);
  })();
  const writer = conn.writable.getWriter();
  try {
    for await (const chunk of bundle) {
      await writer.write(chunk);
      bytesSent += chunk.length;
    }
    await conn.closeWrite();
  } catch {
    // The receiver stopped reading (it refused the bundle): its answer says why.
  }
  await reading.catch(() => {});
  try {
    conn.close();
  } catch {
    // Closed already.
  }
  return { ok: heard && !failed, bytesSent };
}
