/**
 * A tiny HTTP server for the end-to-end tests: serves one file at every path.
 *
 *   deno run -A blob_server.ts HOST PORT FILE
 *
 * (python's http.server resolves its bind address's hostname at start, which stalls in a
 * namespace without DNS.)
 *
 * @module
 */

const [hostname, port, file] = Deno.args;
const body = await Deno.readFile(file);
Deno.serve({ hostname, port: Number(port), onListen() {} }, () => new Response(body));
