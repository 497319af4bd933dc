// SPDX-License-Identifier: MIT
// compat.js - Microsoft's own JavaScript clients against mgcall emulator,
// unchanged: MSAL Node acquires app-only tokens (client secret, then
// certificate), the Microsoft Graph JavaScript client creates a call, keeps
// it alive, deletes it and sees 404 (itemNotFound) afterwards.
// Run by tests/system/t_emulator_js.sh with:
//   EMU_URL (https), TENANT, CLIENT_ID, CLIENT_SECRET (a throwaway secret of
//   the test's emulator), CERT_CLIENT_ID, CERT_PEM, CERT_KEY, CALLBACK_URI,
//   NODE_EXTRA_CA_CERTS = the test CA.
// Prints "ok: ..." lines and "FAIL: ..." lines; exits 1 on any failure.
'use strict';
const fs = require('fs');
const crypto = require('crypto');
const msal = require('@azure/msal-node');
const { Client } = require('@microsoft/microsoft-graph-client');

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

const claims = (jwt) =>
  JSON.parse(Buffer.from(jwt.split('.')[1], 'base64url').toString('utf8'));

async function main() {
  const base = env('EMU_URL');
  const url = new URL(base);
  const tenant = env('TENANT');
  const authority = `${base}/${tenant}`;
  const scopes = ['https://graph.microsoft.com/.default'];

  // --- MSAL Node, client secret ---------------------------------------
  const secretApp = new msal.ConfidentialClientApplication({
    auth: {
      clientId: env('CLIENT_ID'),
      clientSecret: env('CLIENT_SECRET'),
      authority,
      knownAuthorities: [url.host],
    },
  });
  const bySecret = await secretApp.acquireTokenByClientCredential({ scopes });
  check(bySecret && bySecret.accessToken, 'msal-node: token by client secret');
  const c1 = claims(bySecret.accessToken);
  check(c1.aud === 'https://graph.microsoft.com', 'msal-node: aud is Graph');
  check(c1.tid === tenant && c1.appid === env('CLIENT_ID'), 'msal-node: tid and appid');

  // --- MSAL Node, certificate (PS256 client assertion) ---------------------
  const pem = fs.readFileSync(env('CERT_PEM'), 'utf8');
  const der = new crypto.X509Certificate(pem).raw;
  const certApp = new msal.ConfidentialClientApplication({
    auth: {
      clientId: env('CERT_CLIENT_ID'),
      authority,
      knownAuthorities: [url.host],
      clientCertificate: {
        thumbprintSha256: crypto.createHash('sha256').update(der).digest('hex'),
        privateKey: fs.readFileSync(env('CERT_KEY'), 'utf8'),
      },
    },
  });
  const byCert = await certApp.acquireTokenByClientCredential({ scopes });
  check(byCert && claims(byCert.accessToken).appid === env('CERT_CLIENT_ID'),
    'msal-node: token by certificate');

  // --- Microsoft Graph JavaScript client ---------------------------------
  const client = Client.init({
    baseUrl: base,
    defaultVersion: 'v1.0',
    customHosts: new Set([url.hostname]),
    authProvider: (done) => done(null, bySecret.accessToken),
  });
  const call = await client.api('/communications/calls').post({
    '@odata.type': '#microsoft.graph.call',
    callbackUri: env('CALLBACK_URI'),
    requestedModalities: ['audio'],
    mediaConfig: { '@odata.type': '#microsoft.graph.serviceHostedMediaConfig' },
    source: { identity: { application: { id: env('CLIENT_ID') } } },
    targets: [{ identity: { user: { id: '8b081ef6-4792-4def-b2c9-c363a1bf41d5' } } }],
    tenantId: tenant,
  });
  check(call && call.id && call.state === 'establishing', 'graph client: call created');
  const got = await client.api(`/communications/calls/${call.id}`).get();
  check(got.id === call.id, 'graph client: get the call');
  const ka = await client.api(`/communications/calls/${call.id}/keepAlive`).post();
  check(ka === undefined || ka === null || ka === '', 'graph client: keepAlive 200, empty');
  const kaBeta = await client.api(`/communications/calls/${call.id}/keepAlive`)
    .version('beta').post();
  check(kaBeta === undefined || kaBeta === null || kaBeta === '', 'graph client: keepAlive on beta');
  await client.api(`/communications/calls/${call.id}`).delete();
  check(true, 'graph client: delete');
  try {
    await client.api(`/communications/calls/${call.id}/keepAlive`).post();
    check(false, 'graph client: keepAlive after delete must fail');
  } catch (e) {
    check(e.statusCode === 404, `graph client: 404 after delete (got ${e.statusCode})`);
    check(e.code === 'itemNotFound', `graph client: error code itemNotFound (got ${e.code})`);
  }
  // A tampered token is refused with 401 InvalidAuthenticationToken.
  const bad = bySecret.accessToken.slice(0, -2) +
    (bySecret.accessToken.endsWith('AA') ? 'BB' : 'AA');
  const badClient = Client.init({
    baseUrl: base,
    customHosts: new Set([url.hostname]),
    authProvider: (done) => done(null, bad),
  });
  try {
    await badClient.api('/communications/calls').post({ callbackUri: env('CALLBACK_URI') });
    check(false, 'graph client: tampered token must fail');
  } catch (e) {
    check(e.statusCode === 401 && e.code === 'InvalidAuthenticationToken',
      `graph client: tampered token 401 InvalidAuthenticationToken (got ${e.statusCode} ${e.code})`);
  }
}

main().then(
  () => process.exit(failures ? 1 : 0),
  (e) => {
    console.error(`FAIL: ${e && e.stack ? e.stack : e}`);
    process.exit(1);
  },
);
