/**
 * Tells how an idle TCP connection ends, for the reset-on-expiry tests. Run as
 * `deno run -A idle_probe.ts MODE HOST PORT [WAIT_MS]` inside a namespace:
 *
 * - `server`: accepts connections, greets each with `hello\n`, then waits; prints one line per
 *   connection, `server reset` / `server eof` / `server error <name>`, when it ends.
 * - `client`: connects, reads the greeting, then waits up to WAIT_MS for the connection to
 *   end; prints `client reset`, `client eof`, `client timeout` or `client error <name>`.
 *
 * @module
 */

/** How a wait on an idle connection ended. */
export type IdleOutcome = "reset" | "eof" | "timeout" | `error ${string}`;

async function waitEnd(conn: Deno.Conn): Promise<IdleOutcome> {
  const buf = new Uint8Array(64);
  try {
    for (;;) {
      const n = await conn.read(buf);
      if (n === null) return "eof";
    }
  } catch (e) {
    if (e instanceof Deno.errors.ConnectionReset) return "reset";
    return `error ${e instanceof Error ? e.name : String(e)}`;
  }
}

async function main([mode, host, portText, waitText]: string[]): Promise<void> {
  const port = Number(portText);
  if (mode === "server") {
    const listener = Deno.listen({ hostname: host, port });
    console.log("listening");
    for await (const conn of listener) {
      (async () => {
        await conn.write(new TextEncoder().encode("hello\n"));
        console.log(`server ${await waitEnd(conn)}`);
        try {
          conn.close();
        } catch { /* closed */ }
      })();
    }
  } else if (mode === "client") {
    const conn = await Deno.connect({ hostname: host, port });
    const greet = new Uint8Array(6);
    let got = 0;
    while (got < 6) {
      const n = await conn.read(greet.subarray(got));
      if (n === null) break;
      got += n;
    }
    if (got !== 6) throw new Error("no greeting");
    console.log("connected");
    let timer: ReturnType<typeof setTimeout> | undefined;
    const outcome = await Promise.race([
      waitEnd(conn),
      new Promise<IdleOutcome>((r) => timer = setTimeout(() => r("timeout"), Number(waitText))),
    ]);
    clearTimeout(timer);
    console.log(`client ${outcome}`);
    try {
      conn.close();
    } catch { /* closed */ }
  } else throw new Error(`unknown mode ${mode}`);
}

if (import.meta.main) await main(Deno.args);
