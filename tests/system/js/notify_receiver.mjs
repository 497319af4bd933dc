// SPDX-License-Identifier: MIT
// notify_receiver.mjs - a bot's callback endpoint written the way Microsoft's
// samples validate Graph's call notifications, on node's own http and
// `jose` (pinned in package-lock.json):
//   - read the OpenID configuration at OPENID_URL, its jwks_uri, the keys;
//   - verify "Authorization: Bearer <JWT>": RS256 by a published key, iss
//     https://graph.microsoft.com or https://api.botframework.com, aud
//     APP_ID, exp/nbf (5 min skew), a tid; answer 403 otherwise;
//   - check that the published key's x5c certificate holds the same key and
//     that kid/x5t are the certificate's SHA-1 thumbprint.
// Every request is appended to OUT as one JSON line: {path, verified, error,
// header, claims, body}.  With KEEPER_URL (+ KEEPER_TOKEN_FILE) it is the
// "bot pattern": a verified notification is forwarded to the keeper's
// POST /notifications with the control API's bearer token, and the keeper's
// status is recorded as "forwarded".
// Prints "listening on http://127.0.0.1:PORT" once ready.
import { createServer } from 'node:http';
import { appendFileSync, readFileSync } from 'node:fs';
import { createHash, X509Certificate } from 'node:crypto';
import { createRemoteJWKSet, jwtVerify, decodeProtectedHeader } from 'jose';

const { OPENID_URL, APP_ID, OUT, KEEPER_URL, KEEPER_TOKEN_FILE } = process.env;
if (!OPENID_URL || !APP_ID || !OUT) {
  console.error('notify_receiver: OPENID_URL, APP_ID and OUT are required');
  process.exit(2);
}
const keeperToken = KEEPER_TOKEN_FILE
  ? readFileSync(KEEPER_TOKEN_FILE, 'utf8').trim() : null;

const config = await (await fetch(OPENID_URL)).json();
const jwks = await (await fetch(config.jwks_uri)).json();
// Each published key: its certificate must carry the same public key, and
// x5t (and kid) must be the certificate's SHA-1 thumbprint.
const keyProblems = [];
for (const k of jwks.keys) {
  const der = Buffer.from(k.x5c[0], 'base64');
  const cert = new X509Certificate(der);
  const certJwk = cert.publicKey.export({ format: 'jwk' });
  const thumb = createHash('sha1').update(der).digest('base64url');
  if (certJwk.n !== k.n || certJwk.e !== k.e) keyProblems.push(`${k.kid}: x5c key differs`);
  if (k.x5t !== thumb || k.kid !== thumb) keyProblems.push(`${k.kid}: x5t/kid is not the thumbprint`);
}
const keySet = createRemoteJWKSet(new URL(config.jwks_uri));

async function verify(auth) {
  if (!auth || !auth.startsWith('Bearer ')) throw new Error('no bearer token');
  const token = auth.slice(7);
  const header = decodeProtectedHeader(token);
  const { payload } = await jwtVerify(token, keySet, {
    issuer: ['https://graph.microsoft.com', 'https://api.botframework.com'],
    audience: APP_ID,
    algorithms: ['RS256', 'RS384', 'RS512'],
    clockTolerance: 300,
    requiredClaims: ['exp', 'nbf', 'iat', 'tid'],
  });
  return { header, claims: payload };
}

const server = createServer((req, res) => {
  const chunks = [];
  req.on('data', (c) => chunks.push(c));
  req.on('end', async () => {
    const body = Buffer.concat(chunks).toString('utf8');
    const rec = { path: req.url, method: req.method, body, keyProblems };
    try {
      Object.assign(rec, await verify(req.headers.authorization), { verified: true });
    } catch (e) {
      rec.verified = false;
      rec.error = String(e.code || e.message);
    }
    if (rec.verified && KEEPER_URL) {
      try {
        const r = await fetch(`${KEEPER_URL}/notifications`, {
          method: 'POST',
          headers: { 'Content-Type': 'application/json', Authorization: `Bearer ${keeperToken}` },
          body,
        });
        rec.forwarded = r.status;
      } catch (e) {
        rec.forwarded = String(e.message);
      }
    }
    appendFileSync(OUT, JSON.stringify(rec) + '\n');
    res.writeHead(rec.verified ? 202 : 403).end();
  });
});
server.listen(0, '127.0.0.1', () => {
  console.log(`listening on http://127.0.0.1:${server.address().port}`);
});
for (const sig of ['SIGTERM', 'SIGINT']) process.on(sig, () => server.close(() => process.exit(0)));
