// SPDX-License-Identifier: MIT
// hook_sink.mjs - a receiver for the keeper's --on-ended-url POSTs: appends
// one JSON line per request ({"method","path","body"}) to $FILE and answers
// 200.  HTTPS with $CERT and $KEY (PEM files), else HTTP.  Prints
// "listening on URL".
import fs from 'node:fs';
import http from 'node:http';
import https from 'node:https';

const file = process.env.FILE;
if (!file) throw new Error('FILE is not set');
const handler = (req, res) => {
  const chunks = [];
  req.on('data', (c) => chunks.push(c));
  req.on('end', () => {
    const body = Buffer.concat(chunks).toString('utf8');
    fs.appendFileSync(file, `${JSON.stringify({ method: req.method, path: req.url, body })}\n`);
    res.end();
  });
};
const tls = process.env.CERT && process.env.KEY;
const server = tls
  ? https.createServer({ cert: fs.readFileSync(process.env.CERT), key: fs.readFileSync(process.env.KEY) }, handler)
  : http.createServer(handler);
server.listen(0, '127.0.0.1', () => {
  console.log(`listening on ${tls ? 'https' : 'http'}://127.0.0.1:${server.address().port}`);
});
for (const sig of ['SIGTERM', 'SIGINT']) process.on(sig, () => process.exit(0));
