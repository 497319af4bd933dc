// SPDX-License-Identifier: MIT
// forge_token.mjs KEY.pem KID CASE APP TENANT - prints a notification bearer
// token made with `jose`, as Graph signs them (RS256, kid/x5t, iss
// https://api.botframework.com, aud APP, tid TENANT, iat/nbf now, exp +1 h),
// or one of the ways a forged or stale one goes wrong:
//   valid, graph-iss, rs512, tampered (claims changed after signing),
//   wrong-aud, wrong-iss, expired, no-tid, unknown-kid, alg-none,
//   hs256-pubkey (HS256 keyed with the public key's PEM).
import { readFileSync } from 'node:fs';
import { createPrivateKey, createPublicKey } from 'node:crypto';
import { SignJWT, base64url } from 'jose';

const [keyFile, kid, kase, app, tenant] = process.argv.slice(2);
const key = createPrivateKey(readFileSync(keyFile, 'utf8'));
const now = Math.floor(Date.now() / 1000);
const claims = { iss: 'https://api.botframework.com', aud: app, tid: tenant,
  iat: now, nbf: now, exp: now + 3600 };
const header = { alg: 'RS256', typ: 'JWT', kid, x5t: kid };
const enc = (o) => base64url.encode(JSON.stringify(o));
switch (kase) {
  case 'valid': case 'tampered': break;
  case 'graph-iss': claims.iss = 'https://graph.microsoft.com'; break;
  case 'rs512': header.alg = 'RS512'; break;
  case 'wrong-aud': claims.aud = 'someone-else'; break;
  case 'wrong-iss': claims.iss = 'https://login.microsoftonline.com/x/v2.0'; break;
  case 'expired': claims.iat = claims.nbf = now - 7200; claims.exp = now - 3600; break;
  case 'no-tid': delete claims.tid; break;
  case 'unknown-kid': header.kid = header.x5t = `rotated-${kid}`; break;
  case 'alg-none':
    console.log(`${enc({ alg: 'none', typ: 'JWT', kid })}.${enc(claims)}.`);
    process.exit(0);
  case 'hs256-pubkey': {
    const pem = createPublicKey(key).export({ type: 'spki', format: 'pem' });
    console.log(await new SignJWT(claims).setProtectedHeader({ alg: 'HS256', typ: 'JWT', kid })
      .sign(new TextEncoder().encode(pem)));
    process.exit(0);
  }
  default:
    console.error(`forge_token: unknown case ${kase}`);
    process.exit(2);
}
let token = await new SignJWT(claims).setProtectedHeader(header).sign(key);
if (kase === 'tampered') {
  const [h, , s] = token.split('.');
  token = `${h}.${enc({ ...claims, tid: 'tenant-evil' })}.${s}`;
}
console.log(token);
