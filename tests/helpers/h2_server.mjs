// SPDX-License-Identifier: MIT
// h2_server.mjs CERT KEY [MAX_STREAMS] - an HTTP/2-only TLS server on
// 127.0.0.1 for t_keepalive_http2.sh and t_keeper_http2.sh: answers every
// request 200 after 20 ms, prints "port N" once listening and, on SIGTERM,
// "sessions S streams N maxConcurrent M" (connections, requests, most
// requests in flight at once) and "perSession P" (most in flight at once on
// one connection).  MAX_STREAMS sets SETTINGS_MAX_CONCURRENT_STREAMS.
import http2 from "node:http2";
import fs from "node:fs";

const [cert, key, maxStreams] = process.argv.slice(2);
let sessions = 0, streams = 0, live = 0, maxConcurrent = 0, perSession = 0;
const srv = http2.createSecureServer({
  cert: fs.readFileSync(cert),
  key: fs.readFileSync(key),
  allowHTTP1: false,
  ...(maxStreams ? { settings: { maxConcurrentStreams: Number(maxStreams) } } : {}),
});
srv.on("session", (session) => {
  sessions++;
  session.live = 0;
});
srv.on("stream", (s) => {
  streams++;
  live++;
  maxConcurrent = Math.max(maxConcurrent, live);
  const session = s.session;
  session.live++;
  perSession = Math.max(perSession, session.live);
  s.on("close", () => {
    live--;
    session.live--;
  });
  setTimeout(() => {
    s.respond({ ":status": 200, "request-id": `h2-${streams}`, "content-length": "0" });
    s.end();
  }, 20);
});
srv.listen(0, "127.0.0.1", () => console.log(`port ${srv.address().port}`));
process.on("SIGTERM", () => {
  console.log(`sessions ${sessions} streams ${streams} maxConcurrent ${maxConcurrent}`);
  console.log(`perSession ${perSession}`);
  process.exit(0);
});
