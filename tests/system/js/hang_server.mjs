// SPDX-License-Identifier: MIT
// hang_server.mjs - an HTTP server that accepts requests and never answers
// (a key server that hangs).  Prints "listening on http://127.0.0.1:PORT".
import { createServer } from 'node:http';

const server = createServer(() => {});
server.listen(0, '127.0.0.1', () => {
  console.log(`listening on http://127.0.0.1:${server.address().port}`);
});
for (const sig of ['SIGTERM', 'SIGINT']) process.on(sig, () => process.exit(0));
