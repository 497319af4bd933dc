// SPDX-License-Identifier: MIT
// h2_client.mjs - Node's own HTTP/2 client (node:http2) against mgcall
// emulator on TLS, h2 by ALPN: Microsoft's JavaScript SDKs (compat.js) speak
// HTTP/1.1, so this is the Node client of the emulator's HTTP/2 side.  On one
// session: a token (client secret), a call created, 20 keepAlives as
// concurrent streams, the call read, deleted, then 404 itemNotFound; a bad
// token gets 401 with WWW-Authenticate.
// Run by tests/system/t_emulator_js.sh with EMU_URL (https), EMU_CA (the test
// CA), TENANT, CLIENT_ID, CLIENT_SECRET, CALLBACK_URI.
// Prints "ok: ..." and "FAIL: ..." lines; exits 1 on any failure.
import fs from 'node:fs';
import http2 from 'node:http2';

const env = (name) => {
  const v = process.env[name];
  if (!v) throw new Error(`${name} is not set`);
  return v;
};
let failures = 0;
const check = (cond, what) => {
  if (cond) console.log(`ok: ${what}`);
  else {
    console.error(`FAIL: ${what}`);
    failures++;
  }
};

// One request on the session: resolves {status, headers, body}; rejects on
// a stream error or after 20 s.
function request(session, headers, body) {
  return new Promise((resolve, reject) => {
    const stream = session.request(headers, { endStream: body === undefined });
    const timer = setTimeout(() => {
      stream.close(http2.constants.NGHTTP2_CANCEL);
      reject(new Error(`${headers[':method']} ${headers[':path']}: no answer in 20 s`));
    }, 20000);
    let answer = {};
    const chunks = [];
    stream.on('response', (h) => { answer = h; });
    stream.on('data', (c) => chunks.push(c));
    stream.on('end', () => {
      clearTimeout(timer);
      resolve({ status: answer[':status'], headers: answer, body: Buffer.concat(chunks).toString('utf8') });
    });
    stream.on('error', (e) => {
      clearTimeout(timer);
      reject(e);
    });
    if (body !== undefined) stream.end(body);
  });
}

async function main() {
  const base = env('EMU_URL');
  const tenant = env('TENANT');
  const session = http2.connect(base, { ca: fs.readFileSync(env('EMU_CA')) });
  session.on('error', (e) => console.error(`FAIL: session: ${e.message}`));
  await new Promise((resolve, reject) => {
    session.once('connect', resolve);
    session.once('error', reject);
  });
  check(session.alpnProtocol === 'h2', `node:http2: h2 by ALPN (got ${session.alpnProtocol})`);

  const form = new URLSearchParams({
    grant_type: 'client_credentials',
    client_id: env('CLIENT_ID'),
    client_secret: env('CLIENT_SECRET'),
    scope: 'https://graph.microsoft.com/.default',
  }).toString();
  const tok = await request(session, {
    ':method': 'POST',
    ':path': `/${tenant}/oauth2/v2.0/token`,
    'content-type': 'application/x-www-form-urlencoded',
  }, form);
  const token = tok.status === 200 ? JSON.parse(tok.body).access_token : null;
  check(token, `node:http2: token by client secret (status ${tok.status})`);
  const auth = { authorization: `Bearer ${token}` };

  const created = await request(session, {
    ':method': 'POST',
    ':path': '/v1.0/communications/calls',
    'content-type': 'application/json',
    ...auth,
  }, JSON.stringify({
    '@odata.type': '#microsoft.graph.call',
    callbackUri: env('CALLBACK_URI'),
    requestedModalities: ['audio'],
    mediaConfig: { '@odata.type': '#microsoft.graph.serviceHostedMediaConfig' },
    source: { identity: { application: { id: env('CLIENT_ID') } } },
    targets: [{ identity: { user: { id: '8b081ef6-4792-4def-b2c9-c363a1bf41d5' } } }],
    tenantId: tenant,
  }));
  const call = created.status === 201 ? JSON.parse(created.body) : {};
  check(call.id && created.headers.location, `node:http2: call created, 201 + Location (status ${created.status})`);

  const keepAlive = (i) => request(session, {
    ':method': 'POST',
    ':path': `/v1.0/communications/calls/${call.id}/keepAlive`,
    'client-request-id': `00000000-0000-4000-8000-${String(i).padStart(12, '0')}`,
    ...auth,
  }, '');
  const kas = await Promise.all(Array.from({ length: 20 }, (_, i) => keepAlive(i)));
  check(kas.every((r) => r.status === 200 && r.body === ''), `node:http2: 20 concurrent keepAlives 200, empty (${kas.map((r) => r.status).join(',')})`);
  check(kas.every((r, i) => r.headers['client-request-id'] === `00000000-0000-4000-8000-${String(i).padStart(12, '0')}` && r.headers['request-id']),
    'node:http2: each keepAlive echoes its client-request-id and has a request-id');

  const got = await request(session, { ':method': 'GET', ':path': `/v1.0/communications/calls/${call.id}`, ...auth });
  check(got.status === 200 && JSON.parse(got.body).id === call.id, `node:http2: get the call (status ${got.status})`);
  const del = await request(session, { ':method': 'DELETE', ':path': `/v1.0/communications/calls/${call.id}`, ...auth });
  check(del.status === 204, `node:http2: delete 204 (got ${del.status})`);
  const gone = await keepAlive(99);
  let code = null;
  try { code = JSON.parse(gone.body).error.code; } catch (e) { /* checked below */ }
  check(gone.status === 404 && code === 'itemNotFound', `node:http2: keepAlive after delete 404 itemNotFound (got ${gone.status} ${code})`);
  const bad = await request(session, {
    ':method': 'POST',
    ':path': `/v1.0/communications/calls/${call.id}/keepAlive`,
    authorization: 'Bearer not-a-token',
  }, '');
  check(bad.status === 401 && bad.headers['www-authenticate'], `node:http2: bad token 401 with WWW-Authenticate (got ${bad.status})`);
  session.close();
}

main().then(
  () => process.exit(failures ? 1 : 0),
  (e) => {
    console.error(`FAIL: ${e && e.stack ? e.stack : e}`);
    process.exit(1);
  },
);
