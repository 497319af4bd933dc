// SPDX-License-Identifier: MIT
// status_page.mjs - the keeper's status page (GET /) in a real headless
// Chromium, driven by puppeteer-core (t_keeper_status_page.sh).
//
// Environment: KEEPER_URL, TOKEN (the control API's bearer token), CHROMIUM
// (the browser, /usr/bin/chromium), PROFILE (an empty directory), SHOT (the
// screenshot to write), HOOKS (JSON {callId: "delivered"|"failed"}: the
// hook outcome each ended call must show).
//
// Loads the page with the token, reads the DOM and checks it against
// GET /calls (every page of it, read before and after: the figures must
// hold for a keeper that did not change meanwhile): the counts per state,
// the live calls closest to their deadline (the at-risk ones first, the
// time left), the calls that ended last (order, reason, hook outcome),
// hostile call ids shown as text and never run, no script, no request but
// the page's own, the links; then waits for the page to refresh itself.
// Saves a screenshot.  Prints "N passed, N failed"; exits 1 on a failure.
import fs from 'node:fs';
import puppeteer from 'puppeteer-core';

const { KEEPER_URL, TOKEN, CHROMIUM, PROFILE, SHOT } = process.env;
const HOOKS = JSON.parse(process.env.HOOKS || '{}');
const auth = { Authorization: `Bearer ${TOKEN}` };
let passed = 0;
let failed = 0;
const check = (cond, what, detail = '') => {
  if (cond) {
    passed++;
    console.log(`ok   ${what}`);
  } else {
    failed++;
    console.log(`FAIL ${what}${detail ? `: ${detail}` : ''}`);
  }
};

// Every call, following the pages of GET /calls.
async function allCalls() {
  const calls = [];
  let after = null;
  for (let i = 0; i < 100; i++) {
    const q = `limit=1000${after ? `&after=${encodeURIComponent(after)}` : ''}`;
    const r = await fetch(`${KEEPER_URL}/calls?${q}`, { headers: auth });
    if (r.status !== 200) throw new Error(`GET /calls: ${r.status}`);
    const page = await r.json();
    calls.push(...page.calls);
    after = page.next;
    if (!after) return calls;
  }
  throw new Error('GET /calls: more than 100 pages');
}

const countOf = (calls, st) => calls.filter((c) => c.state === st).length;
const STATES = ['active', 'at-risk', 'ended', 'lost'];
const sameFigures = (a, b) => STATES.every((s) => countOf(a, s) === countOf(b, s));

// What the page shows (read in the browser).
const readDom = () => ({
  title: document.title,
  refresh: document.querySelector('meta[http-equiv="refresh"]')?.getAttribute('content'),
  updated: document.getElementById('updated')?.getAttribute('datetime'),
  counts: Object.fromEntries(
    [...document.querySelectorAll('[data-count]')].map((e) => [
      e.dataset.count,
      { n: Number(e.dataset.n), text: e.textContent },
    ]),
  ),
  worst: [...document.querySelectorAll('#worst tbody tr')].map((tr) => ({
    id: tr.querySelector('td.id').textContent,
    href: tr.querySelector('td.id a').getAttribute('href'),
    state: tr.querySelector('.badge').textContent,
    ms: Number(tr.querySelector('td.left').dataset.ms),
    left: tr.querySelector('td.left').textContent,
  })),
  latest: [...document.querySelectorAll('#latest tbody tr')].map((tr) => ({
    id: tr.querySelector('td.id').textContent,
    reason: tr.children[3].textContent,
    hook: tr.querySelector('td.hook .badge')?.textContent ?? null,
  })),
  scripts: document.querySelectorAll('script').length,
  images: document.querySelectorAll('img, iframe, object, embed').length,
  pwned: window.pwned === 1,
  links: [...document.querySelectorAll('footer a')].map((a) => a.getAttribute('href')),
  fleet: !!document.getElementById('fleet'),
});

// --no-sandbox: Chromium refuses to start as root with its sandbox (it
// needs an unprivileged user namespace); the tests run as root in CI.
const browser = await puppeteer.launch({
  executablePath: CHROMIUM,
  headless: true,
  userDataDir: PROFILE,
  args: ['--no-sandbox', '--disable-gpu', '--disable-dev-shm-usage', '--no-first-run'],
});
try {
  const page = await browser.newPage();
  await page.setViewport({ width: 1280, height: 900 });
  await page.setExtraHTTPHeaders(auth);
  const requests = [];
  page.on('request', (r) => requests.push(r.url()));

  // Load until GET /calls and the page agree on a keeper at rest and every
  // hook outcome is recorded (hooks finish after the ends: bounded wait).
  let dom;
  let calls;
  let loadedAt;
  let response;
  let settled = false;
  for (let i = 0; i < 20 && !settled; i++) {
    if (i) await new Promise((r) => setTimeout(r, 1000));
    const before = await allCalls();
    loadedAt = Date.now();
    response = await page.goto(`${KEEPER_URL}/`, { waitUntil: 'load', timeout: 30000 });
    dom = await page.evaluate(readDom);
    calls = await allCalls();
    const hooksDone = dom.latest.every((r) => !(r.id in HOOKS) || r.hook === HOOKS[r.id]);
    settled = sameFigures(before, calls) && hooksDone;
  }
  check(settled, 'the keeper came to rest with every hook outcome recorded (within 20 loads)');
  check(response.status() === 200, `GET / answers 200 (${response.status()})`);
  const h = response.headers();
  check(/^text\/html/.test(h['content-type']), `text/html (${h['content-type']})`);
  check(/default-src 'none'/.test(h['content-security-policy'] || ''), 'a Content-Security-Policy without scripts');
  check(dom.refresh === '10', `it refreshes itself every 10 s (${dom.refresh})`);

  // counts per state
  for (const st of STATES) {
    const want = countOf(calls, st);
    const got = dom.counts[st];
    check(got && got.n === want, `${st}: the page shows ${got?.n}, GET /calls has ${want}`);
  }

  // the live calls closest to their deadline, at-risk first
  const live = calls
    .filter((c) => c.state === 'active' || c.state === 'at-risk')
    .sort((a, b) => Date.parse(a.deadline) - Date.parse(b.deadline));
  check(dom.worst.length === Math.min(25, live.length), `${dom.worst.length} live rows (of ${live.length})`);
  const atRisk = live.filter((c) => c.state === 'at-risk').map((c) => c.callId);
  const firstIds = dom.worst.slice(0, atRisk.length).map((r) => r.id);
  check(
    atRisk.length > 0 && JSON.stringify([...firstIds].sort()) === JSON.stringify([...atRisk].sort()),
    `the ${atRisk.length} at-risk calls come first`,
    `${JSON.stringify(firstIds)} vs ${JSON.stringify(atRisk)}`,
  );
  check(dom.worst.every((r, i) => i === 0 || dom.worst[i - 1].ms <= r.ms), 'rows by time to deadline');
  const byId = new Map(calls.map((c) => [c.callId, c]));
  for (const r of dom.worst) {
    const c = byId.get(r.id);
    const want = c ? Date.parse(c.deadline) - loadedAt : NaN;
    check(
      c && r.state === c.state && Math.abs(r.ms - want) < 5000 && /^\d+(h|m|s)/.test(r.left),
      `live ${JSON.stringify(r.id)}: ${r.state}, deadline in ${r.left}`,
      c ? `GET /calls: ${c.state}, ${want} ms` : 'not in GET /calls',
    );
    check(r.href === `/calls/${encodeURIComponent(r.id).replace(/[!'()*]/g, (x) => '%' + x.charCodeAt(0).toString(16).toUpperCase())}`,
      `its link is /calls/ + the id percent-encoded (${r.href.slice(0, 60)})`);
  }

  // the calls that ended last, newest first
  const ended = calls
    .filter((c) => c.state === 'ended' || c.state === 'lost')
    .sort((a, b) => Date.parse(b.ended) - Date.parse(a.ended));
  check(dom.latest.length === Math.min(25, ended.length), `${dom.latest.length} ended rows (of ${ended.length})`);
  check(
    JSON.stringify(dom.latest.map((r) => r.id).sort()) ===
      JSON.stringify(ended.slice(0, 25).map((c) => c.callId).sort()),
    'the calls that ended last',
  );
  check(
    dom.latest.every((r, i) => i === 0 || Date.parse(byId.get(dom.latest[i - 1].id).ended) >= Date.parse(byId.get(r.id).ended)),
    'newest first',
  );
  for (const r of dom.latest) {
    const c = byId.get(r.id);
    check(c && r.reason === c.reason, `ended ${JSON.stringify(r.id)}: reason ${r.reason} (GET /calls: ${c?.reason})`);
    if (r.id in HOOKS) check(r.hook === HOOKS[r.id], `ended ${JSON.stringify(r.id)}: hook ${r.hook} (want ${HOOKS[r.id]})`);
  }

  // hostile ids are text
  check(dom.scripts === 0 && dom.images === 0, `no script, image or frame in the DOM (${dom.scripts}, ${dom.images})`);
  check(!dom.pwned && !/pwned/.test(dom.title), 'no id ran as markup');
  const hostile = calls.filter((c) => /[<>"'&]/.test(c.callId)).map((c) => c.callId);
  const shown = new Set([...dom.worst, ...dom.latest].map((r) => r.id));
  check(hostile.length > 0 && hostile.every((id) => shown.has(id)), `${hostile.length} hostile ids shown as they are`);

  // nothing external, the links
  check(requests.every((u) => u === `${KEEPER_URL}/`), `the page's only requests are itself (${[...new Set(requests)].join(' ')})`);
  for (const l of ['/metrics', '/openapi.yaml']) {
    const r = await fetch(`${KEEPER_URL}${l}`, { headers: auth });
    check(dom.links.includes(l) && r.status === 200, `it links ${l} (${r.status})`);
  }
  check(!dom.fleet, 'no fleet section without fleet mode');

  await page.screenshot({ path: SHOT, fullPage: true });
  check(fs.statSync(SHOT).size > 10000, `screenshot ${SHOT}`);

  // it refreshes itself (meta refresh, with the token again)
  const n = requests.length;
  const nav = await page.waitForNavigation({ timeout: 25000 }).catch((e) => e);
  const again = nav instanceof Error ? null : await page.evaluate(readDom);
  check(
    again && again.updated && requests.length > n && response.status() === 200 && Date.parse(again.updated) > Date.parse(dom.updated),
    `it reloaded itself (updated ${dom.updated} -> ${again?.updated})`,
    nav instanceof Error ? nav.message : '',
  );
} catch (e) {
  check(false, 'the browser run', e.stack);
} finally {
  await browser.close();
}
console.log(`${passed} passed, ${failed} failed`);
process.exit(failed ? 1 : 0);
