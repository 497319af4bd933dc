// SPDX-License-Identifier: MIT
// h2_goaway_server.mjs CERT KEY MODE [N] - an HTTP/2 server on 127.0.0.1
// (TLS, ALPN h2) that answers each request with exactly the frames a test
// needs, for t_keepalive_http2_exact.sh: node's http2 module cannot send a
// GOAWAY below a stream it has, so this writes the few frames itself (no
// HPACK beyond one static-table index, no flow control: requests have no
// body).  Modes, per request (a HEADERS frame on stream S):
//   refuse N    the first N requests: GOAWAY last-stream-id 0 (S was not
//               processed) and the connection closes; later ones: 200
//   processed   GOAWAY INTERNAL_ERROR last-stream-id S (S was processed),
//               then the connection closes with no answer
// Prints "port P" once listening; on SIGTERM "requests R connections C".
import tls from "node:tls";
import fs from "node:fs";

const [cert, key, mode, n] = process.argv.slice(2);
const refuse = Number(n || 0);
let requests = 0, connections = 0;
const frame = (type, flags, id, payload = Buffer.alloc(0)) => {
  const h = Buffer.alloc(9);
  h.writeUIntBE(payload.length, 0, 3);
  h[3] = type;
  h[4] = flags;
  h.writeUInt32BE(id, 5);
  return Buffer.concat([h, payload]);
};
const goaway = (last, code) => {
  const p = Buffer.alloc(8);
  p.writeUInt32BE(last, 0);
  p.writeUInt32BE(code, 4);
  return frame(7, 0, 0, p);
};
const srv = tls.createServer(
  { cert: fs.readFileSync(cert), key: fs.readFileSync(key), ALPNProtocols: ["h2"] },
  (sock) => {
    connections++;
    let buf = Buffer.alloc(0), preface = false;
    sock.on("error", () => {});
    sock.write(frame(4, 0, 0)); // SETTINGS, none changed
    sock.on("data", (d) => {
      buf = Buffer.concat([buf, d]);
      if (!preface) {
        if (buf.length < 24) return;
        buf = buf.subarray(24);
        preface = true;
      }
      while (buf.length >= 9) {
        const len = buf.readUIntBE(0, 3), type = buf[3], flags = buf[4];
        const id = buf.readUInt32BE(5) & 0x7fffffff;
        if (buf.length < 9 + len) return;
        buf = buf.subarray(9 + len);
        if (type === 4 && !(flags & 1)) sock.write(frame(4, 1, 0)); // SETTINGS ACK
        if (type !== 1) continue; // HEADERS: a request
        requests++;
        if (mode === "refuse" && requests <= refuse) {
          sock.end(goaway(0, 0));
        } else if (mode === "processed") {
          sock.end(goaway(id, 2));
        } else {
          // :status 200 (static table index 8), END_STREAM | END_HEADERS
          sock.write(frame(1, 0x5, id, Buffer.from([0x88])));
        }
      }
    });
  },
);
srv.listen(0, "127.0.0.1", () => console.log(`port ${srv.address().port}`));
process.on("SIGTERM", () => {
  console.log(`requests ${requests} connections ${connections}`);
  process.exit(0);
});
