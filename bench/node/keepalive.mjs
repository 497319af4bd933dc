// SPDX-License-Identifier: MIT
// keepalive.mjs - the peer of bench/keep_alive.sh: keepAlive with the
// Microsoft Graph JavaScript client (@microsoft/microsoft-graph-client),
// as a Node user would write it.
//   node keepalive.mjs BASE_URL ID           one keepAlive, exit 0 on 200
//   node keepalive.mjs BASE_URL - CONCURRENCY   ids from stdin, N at a time
// The token comes from MGCALL_ACCESS_TOKEN; NODE_EXTRA_CA_CERTS trusts the
// emulator's CA.
import { Client } from "@microsoft/microsoft-graph-client";
import { createInterface } from "node:readline";

const [base, id, concurrency] = process.argv.slice(2);
const token = process.env.MGCALL_ACCESS_TOKEN;
const client = Client.init({
  baseUrl: base,
  defaultVersion: "v1.0",
  customHosts: new Set([new URL(base).hostname]),
  authProvider: (done) => done(null, token),
});
const keepAlive = (callId) =>
  client.api(`/communications/calls/${encodeURIComponent(callId)}/keepAlive`).post();

if (id !== "-") {
  await keepAlive(id);
} else {
  const ids = [];
  for await (const line of createInterface({ input: process.stdin })) if (line) ids.push(line);
  let next = 0, failed = 0;
  const worker = async () => {
    while (next < ids.length) {
      const i = next++;
      try { await keepAlive(ids[i]); } catch { failed++; }
    }
  };
  await Promise.all(Array.from({ length: Number(concurrency) || 16 }, worker));
  if (failed) { console.error(`${failed} failed`); process.exit(1); }
}
