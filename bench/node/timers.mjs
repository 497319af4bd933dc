// SPDX-License-Identifier: MIT
// timers.mjs - the peer of bench/keeper.sh: the comms samples' pattern (one
// timer per call, each firing a keepAlive and waiting for it), with Node's
// built-in fetch.  No store, no retries, no cleanup: what the samples do.
//   node timers.mjs BASE_URL IDS_FILE INTERVAL_MS SECONDS
// Token from MGCALL_ACCESS_TOKEN.  Prints one JSON line of figures.
import { readFileSync } from "node:fs";

const [base, idsFile, intervalArg, secondsArg] = process.argv.slice(2);
const interval = Number(intervalArg), seconds = Number(secondsArg);
const token = process.env.MGCALL_ACCESS_TOKEN;
const ids = readFileSync(idsFile, "utf8").split("\n").filter(Boolean);
const late = [];
let ok = 0, failed = 0, peakRss = 0;
const warmupEnd = Date.now() + Math.min(10000, (seconds * 1000) / 5);
const cpu0 = process.cpuUsage();

for (const id of ids) {
  // spread the first firing over one interval, like calls started over time
  let due = Date.now() + Math.random() * interval;
  const fire = async () => {
    const now = Date.now();
    if (now > warmupEnd) late.push(now - due);
    due += interval;
    try {
      const r = await fetch(`${base}/v1.0/communications/calls/${encodeURIComponent(id)}/keepAlive`,
        { method: "POST", headers: { Authorization: `Bearer ${token}`, "Content-Length": "0" } });
      await r.arrayBuffer();
      if (r.status === 200) ok++; else failed++;
    } catch { failed++; }
    setTimeout(fire, Math.max(0, due - Date.now())); // one timer per call
  };
  setTimeout(fire, due - Date.now());
}
let rssErrors = 0;
const sampler = setInterval(() => {
  // memoryUsage() opens a file: with every descriptor taken by sockets it
  // throws EMFILE; count that instead of dying before the figures
  try { peakRss = Math.max(peakRss, process.memoryUsage().rss); } catch { rssErrors++; }
}, 1000);
setTimeout(() => {
  clearInterval(sampler);
  const cpu = process.cpuUsage(cpu0);
  late.sort((a, b) => a - b);
  const p = (q) => (late.length ? late[Math.min(late.length - 1, Math.floor(q * late.length))] : 0);
  console.log(JSON.stringify({
    keepAlives: ok, failed, p50LatenessMs: p(0.5), p99LatenessMs: p(0.99),
    maxLatenessMs: late.length ? late[late.length - 1] : 0,
    peakRssBytes: peakRss, rssSampleErrors: rssErrors, cpuMs: Math.round((cpu.user + cpu.system) / 1000),
  }));
  process.exit(0);
}, seconds * 1000);
