// SPDX-License-Identifier: MIT
// h2_server.mjs CERT KEY - an HTTP/2-only TLS server on 127.0.0.1 for
// t_keepalive_http2.sh: answers every request 200 after 20 ms, prints
// "port N" once listening and, on SIGTERM, "sessions S streams N
// maxConcurrent M" (connections, requests, most requests in flight at once).
import http2 from "node:http2";
import fs from "node:fs";

const [cert, key] = process.argv.slice(2);
let sessions = 0, streams = 0, live = 0, maxConcurrent = 0;
const srv = http2.createSecureServer({
  cert: fs.readFileSync(cert),
  key: fs.readFileSync(key),
  allowHTTP1: false,
});
srv.on("session", () => sessions++);
srv.on("stream", (s) => {
  streams++;
  live++;
  maxConcurrent = Math.max(maxConcurrent, live);
  s.on("close", () => live--);
  setTimeout(() => {
    s.respond({ ":status": 200, "request-id": `h2-${streams}`, "content-length": "0" });
    s.end();
  }, 20);
});
srv.listen(0, "127.0.0.1", () => console.log(`port ${srv.address().port}`));
process.on("SIGTERM", () => {
  console.log(`sessions ${sessions} streams ${streams} maxConcurrent ${maxConcurrent}`);
  process.exit(0);
});
