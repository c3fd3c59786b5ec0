/**
 * A TypeScript server for the TOA tests, meant to run under the shim (LD_PRELOAD): it reports
 * the peer address Deno gives it, through both of Deno's server APIs.
 *
 *   deno run --allow-net remote_addr_server.ts HOST HTTP_PORT TCP_PORT
 *
 * - `Deno.serve` on HTTP_PORT answers every request with `remote ADDR:PORT\n` from
 *   `info.remoteAddr`;
 * - `Deno.listen` on TCP_PORT writes `remote ADDR:PORT\n` from `conn.remoteAddr` and closes.
 *
 * @module
 */
const [host, httpPort, tcpPort] = Deno.args;
if (host === undefined || !Number(httpPort) || !Number(tcpPort)) {
  console.error("usage: remote_addr_server.ts HOST HTTP_PORT TCP_PORT");
  Deno.exit(2);
}

function describe(addr: Deno.Addr): string {
  if (addr.transport !== "tcp") return `non-tcp ${addr.transport}`;
  return `remote ${addr.hostname}:${addr.port}\n`;
}

Deno.serve(
  { hostname: host, port: Number(httpPort), onListen() {} },
  (_req, info) => new Response(describe(info.remoteAddr)),
);

const listener = Deno.listen({ hostname: host, port: Number(tcpPort) });
for await (const conn of listener) {
  const text = new TextEncoder().encode(describe(conn.remoteAddr));
  conn.write(text).finally(() => conn.close());
}
