// SPDX-License-Identifier: MIT
// status_page.mjs - the keeper's status page (GET /) in a real headless
// Chromium, driven by puppeteer-core (t_keeper_status_page.sh).
//
// Environment: KEEPER_URL, TOKEN (the control API's bearer token), CHROMIUM
// (the browser, /usr/bin/chromium), PROFILE (an empty directory), SHOT (the
// screenshot to write), HOOKS (JSON {callId: "delivered"|"failed"}: the
// hook outcome each ended call must show); in fleet mode FLEET_URLS, the
// control APIs of every keeper of the fleet, KEEPER_URL's first
// (t_fleet_status_page.sh).
//
// Loads the page with the token, reads the DOM and checks it against
// GET /calls (every page of it, read before and after: the figures must
// hold for a keeper that did not change meanwhile): the counts per state,
// the live calls closest to their deadline (the at-risk ones first, the
// time left), the calls that ended last (order, reason, hook outcome),
// hostile call ids shown as text and never run, no script, no request but
// the page's own, the links; then waits for the page to refresh itself.
// In fleet mode it loads every keeper's page: each shows the live calls it
// holds and the ends it made (their sums are the fleet's figures), the
// same last ends of the whole fleet, and the members as GET /fleet has
// them.  Saves a screenshot of KEEPER_URL's page.  Prints "N passed, N
// failed"; exits 1 on a failure.
import fs from 'node:fs';
import puppeteer from 'puppeteer-core';

const { KEEPER_URL, TOKEN, CHROMIUM, PROFILE, SHOT } = process.env;
const HOOKS = JSON.parse(process.env.HOOKS || '{}');
const FLEET = !!process.env.FLEET_URLS;
const URLS = FLEET ? process.env.FLEET_URLS.split(/\s+/).filter(Boolean) : [KEEPER_URL];
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

// Every call, following the pages of GET /calls of the keeper at url.
async function allCalls(url) {
  const calls = [];
  let after = null;
  for (let i = 0; i < 100; i++) {
    const q = `limit=1000${after ? `&after=${encodeURIComponent(after)}` : ''}`;
    const r = await fetch(`${url}/calls?${q}`, { headers: auth });
    if (r.status !== 200) throw new Error(`GET ${url}/calls: ${r.status}`);
    const page = await r.json();
    calls.push(...page.calls);
    after = page.next;
    if (!after) return calls;
  }
  throw new Error('GET /calls: more than 100 pages');
}

// The fleet's calls from every keeper's GET /calls: the store's rows, with
// the live state (at-risk) of the keeper holding a call.
const merge = (lists) => {
  const m = new Map();
  for (const list of lists)
    for (const c of list) if (!m.has(c.callId) || c.state === 'at-risk') m.set(c.callId, c);
  return [...m.values()];
};

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
  members: [...document.querySelectorAll('#fleet tbody tr')].map((tr) => ({
    node: tr.children[0].firstChild.textContent.trim(),
    self: !!tr.children[0].querySelector('.badge'),
    api: tr.children[1].textContent,
    shards: Number(tr.children[3].textContent),
    calls: Number(tr.children[4].textContent),
  })),
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

  // Load every keeper's page until GET /calls and the pages agree on a
  // fleet at rest and every hook outcome is recorded (hooks finish after
  // the ends: bounded wait).
  let doms;
  let lists;
  let calls;
  let loadedAt;
  let responses;
  let settled = false;
  for (let i = 0; i < 20 && !settled; i++) {
    if (i) await new Promise((r) => setTimeout(r, 1000));
    const before = merge(await Promise.all(URLS.map(allCalls)));
    loadedAt = [];
    responses = [];
    doms = [];
    for (const url of URLS) {
      loadedAt.push(Date.now());
      responses.push(await page.goto(`${url}/`, { waitUntil: 'load', timeout: 30000 }));
      doms.push(await page.evaluate(readDom));
    }
    lists = await Promise.all(URLS.map(allCalls));
    calls = merge(lists);
    const hooksDone = doms.every((d) => d.latest.every((r) => !(r.id in HOOKS) || r.hook === HOOKS[r.id]));
    const sum = (st) => doms.reduce((n, d) => n + (d.counts[st]?.n ?? 0), 0);
    settled = sameFigures(before, calls) && hooksDone && STATES.every((st) => sum(st) === countOf(calls, st));
  }
  check(settled, 'the keepers came to rest with every hook outcome recorded (within 20 loads)');
  const byId = new Map(calls.map((c) => [c.callId, c]));
  const ended = calls
    .filter((c) => c.state === 'ended' || c.state === 'lost')
    .sort((a, b) => Date.parse(b.ended) - Date.parse(a.ended));
  const atRisk = calls.filter((c) => c.state === 'at-risk').map((c) => c.callId);
  const fleet = FLEET ? await (await fetch(`${KEEPER_URL}/fleet`, { headers: auth })).json() : null;

  for (const [k, url] of URLS.entries()) {
    const dom = doms[k];
    const response = responses[k];
    const on = FLEET ? ` (${url})` : '';
    check(response.status() === 200, `GET / answers 200 (${response.status()})${on}`);
    const h = response.headers();
    check(/^text\/html/.test(h['content-type']), `text/html (${h['content-type']})${on}`);
    check(/default-src 'none'/.test(h['content-security-policy'] || ''), `a Content-Security-Policy without scripts${on}`);
    check(dom.refresh === '10', `it refreshes itself every 10 s (${dom.refresh})${on}`);

    // the live calls this keeper holds closest to their deadline, at-risk
    // first (checked against its own GET /calls: the live fields)
    const mine = new Map(lists[k].map((c) => [c.callId, c]));
    const held = dom.counts.active.n + dom.counts['at-risk'].n;
    check(dom.worst.length === Math.min(25, held), `${dom.worst.length} live rows (of ${held})${on}`);
    const firstRisk = dom.worst.slice(0, dom.counts['at-risk'].n);
    check(
      firstRisk.every((r) => r.state === 'at-risk' && atRisk.includes(r.id)),
      `its ${dom.counts['at-risk'].n} at-risk calls come first${on}`,
      JSON.stringify(dom.worst.map((r) => [r.id, r.state])),
    );
    check(dom.worst.every((r, i) => i === 0 || dom.worst[i - 1].ms <= r.ms), `rows by time to deadline${on}`);
    for (const r of dom.worst) {
      const c = mine.get(r.id);
      const want = c ? Date.parse(c.deadline) - loadedAt[k] : NaN;
      check(
        c && r.state === c.state && Math.abs(r.ms - want) < 5000 && /^\d+(h|m|s)/.test(r.left),
        `live ${JSON.stringify(r.id)}: ${r.state}, deadline in ${r.left}${on}`,
        c ? `GET /calls: ${c.state}, ${want} ms` : 'not in GET /calls',
      );
      check(r.href === `/calls/${encodeURIComponent(r.id).replace(/[!'()*]/g, (x) => '%' + x.charCodeAt(0).toString(16).toUpperCase())}`,
        `its link is /calls/ + the id percent-encoded (${r.href.slice(0, 60)})`);
    }

    // the calls that ended last (in the whole fleet), newest first
    check(dom.latest.length === Math.min(25, ended.length), `${dom.latest.length} ended rows (of ${ended.length})${on}`);
    check(
      JSON.stringify(dom.latest.map((r) => r.id).sort()) ===
        JSON.stringify(ended.slice(0, 25).map((c) => c.callId).sort()),
      `the calls that ended last${on}`,
    );
    check(
      dom.latest.every((r, i) => i === 0 || Date.parse(byId.get(dom.latest[i - 1].id).ended) >= Date.parse(byId.get(r.id).ended)),
      `newest first${on}`,
    );
    for (const r of dom.latest) {
      const c = byId.get(r.id);
      check(c && r.reason === c.reason, `ended ${JSON.stringify(r.id)}: reason ${r.reason} (GET /calls: ${c?.reason})${on}`);
      if (r.id in HOOKS) check(r.hook === HOOKS[r.id], `ended ${JSON.stringify(r.id)}: hook ${r.hook} (want ${HOOKS[r.id]})${on}`);
    }

    // hostile ids are text
    check(dom.scripts === 0 && dom.images === 0, `no script, image or frame in the DOM (${dom.scripts}, ${dom.images})${on}`);
    check(!dom.pwned && !/pwned/.test(dom.title), `no id ran as markup${on}`);

    if (!FLEET) {
      check(!dom.fleet, 'no fleet section without fleet mode');
      continue;
    }
    // the members, as GET /fleet has them; this keeper marked
    const want = fleet.members.map((m) => m.nodeId).sort();
    check(
      JSON.stringify(dom.members.map((m) => m.node).sort()) === JSON.stringify(want),
      `the fleet's members ${JSON.stringify(want)}${on}`,
      JSON.stringify(dom.members),
    );
    const self = dom.members.filter((m) => m.self);
    check(self.length === 1 && self[0].api === url, `one row is this keeper (${self[0]?.node}, ${self[0]?.api})${on}`);
    check(
      dom.members.reduce((n, m) => n + m.shards, 0) === fleet.shards,
      `the members hold the ${fleet.shards} shards${on}`,
      JSON.stringify(dom.members.map((m) => m.shards)),
    );
  }

  // counts per state: each keeper counts the live calls it holds and the
  // ends it made; together, the fleet's
  for (const st of STATES) {
    const want = countOf(calls, st);
    const got = doms.map((d) => d.counts[st]?.n);
    const sum = got.reduce((n, x) => n + (x ?? NaN), 0);
    check(sum === want, `${st}: the page${FLEET ? 's show' : ' shows'} ${got.join(' + ')}, GET /calls has ${want}`);
  }
  check(atRisk.length > 0 && doms.every((d) => d.worst.length <= 25), `${atRisk.length} calls at risk`);
  const shown = new Set(doms.flatMap((d) => [...d.worst, ...d.latest].map((r) => r.id)));
  const hostile = calls.filter((c) => /[<>"'&]/.test(c.callId)).map((c) => c.callId);
  check(hostile.length > 0 && hostile.every((id) => shown.has(id)), `${hostile.length} hostile ids shown as they are`);
  check(atRisk.every((id) => shown.has(id)), 'every call at risk is on a page');

  // nothing external, the links
  check(requests.every((u) => URLS.some((url) => u === `${url}/`)), `the pages' only requests are themselves (${[...new Set(requests)].join(' ')})`);
  const dom = doms[0];
  for (const l of ['/metrics', '/openapi.yaml']) {
    const r = await fetch(`${KEEPER_URL}${l}`, { headers: auth });
    check(dom.links.includes(l) && r.status === 200, `it links ${l} (${r.status})`);
  }

  if (URLS.length > 1) {
    await page.goto(`${KEEPER_URL}/`, { waitUntil: 'load', timeout: 30000 });
    doms[0] = await page.evaluate(readDom);
  }
  const response = responses[0];
  await page.screenshot({ path: SHOT, fullPage: true });
  check(fs.statSync(SHOT).size > 10000, `screenshot ${SHOT}`);

  // it refreshes itself (meta refresh, with the token again)
  const n = requests.length;
  const nav = await page.waitForNavigation({ timeout: 25000 }).catch((e) => e);
  const again = nav instanceof Error ? null : await page.evaluate(readDom);
  check(
    again && again.updated && requests.length > n && response.status() === 200 && Date.parse(again.updated) > Date.parse(doms[0].updated),
    `it reloaded itself (updated ${doms[0].updated} -> ${again?.updated})`,
    nav instanceof Error ? nav.message : '',
  );
} catch (e) {
  check(false, 'the browser run', e.stack);
} finally {
  await browser.close();
}
console.log(`${passed} passed, ${failed} failed`);
process.exit(failed ? 1 : 0);
