// SPDX-License-Identifier: MIT
// openapi_check.mjs - validate recorded keeper responses against
// docs/openapi/keeper.yaml (t_keeper_openapi.sh).
//
//   node openapi_check.mjs DOC.yaml CASES.tsv UNPROVOKED.tsv
//
// DOC.yaml is first validated as an OpenAPI 3.1 document
// (@apidevtools/swagger-parser) and dereferenced.  CASES.tsv has one
// exchange a line: NAME METHOD PATH DIR (tab-separated; PATH as sent, with
// its query; DIR holds `status`, `headers` and `body`).  Each response must
// be documented for its operation (a method the path does not list:
// x-other-methods; a path not listed: x-unknown-paths; libmicrohttpd's own
// answers to any request: x-transport-errors, status only): its status, its
// Content-Type, its required headers, and its body must validate against
// the schema (Ajv, JSON Schema 2020-12: the schemas forbid fields they do
// not name).  Then every documented (operation, status) must have been
// seen at least once, except those in UNPROVOKED.tsv (OPERATION STATUS
// REASON), each of which must exist in the document and not have been
// seen.  Before all that the checker proves it can fail: it must refuse a
// few wrong answers made up here.  Prints "N passed, N failed"; exits 1 on
// any failure.
import fs from 'node:fs';
import path from 'node:path';
import SwaggerParser from '@apidevtools/swagger-parser';
import Ajv2020 from 'ajv/dist/2020.js';
import addFormats from 'ajv-formats';

const [docPath, casesPath, unprovokedPath] = process.argv.slice(2);
if (!docPath || !casesPath || !unprovokedPath) {
  console.error('usage: openapi_check.mjs DOC.yaml CASES.tsv UNPROVOKED.tsv');
  process.exit(2);
}

let passed = 0;
let failed = 0;
const ok = (what) => {
  passed++;
  console.log(`ok   ${what}`);
};
const fail = (what, why) => {
  failed++;
  console.log(`FAIL ${what}: ${why}`);
};

let api;
try {
  // validate() checks the document against the OpenAPI 3.1 schema and
  // resolves every $ref (also those in x- extensions)
  api = await SwaggerParser.validate(docPath);
  ok(`${path.basename(docPath)} is a valid OpenAPI ${api.openapi} document`);
} catch (e) {
  fail(`${path.basename(docPath)} is a valid OpenAPI document`, e.message);
  console.log(`${passed} passed, ${failed} failed`);
  process.exit(1);
}
if (!/^3\.1\./.test(api.openapi)) fail('OpenAPI version', `${api.openapi}, want 3.1.x`);

const ajv = new Ajv2020({ strict: true, allErrors: true });
addFormats(ajv);
const compiled = new Map();
const validator = (schema) => {
  if (!compiled.has(schema)) compiled.set(schema, ajv.compile(schema));
  return compiled.get(schema);
};
// every schema of an answer compiles (strict: no unknown keyword, no
// keyword without its type)
{
  const answers = [api['x-other-methods'], api['x-unknown-paths']];
  for (const item of Object.values(api.paths))
    for (const op of Object.values(item)) if (op && op.responses) answers.push(op.responses);
  let bad = 0;
  for (const responses of answers)
    for (const r of Object.values(responses || {})) {
      const schemas = Object.values(r.content || {}).map((m) => m.schema);
      for (const h of Object.values(r.headers || {})) schemas.push(h.schema);
      for (const s of schemas.filter(Boolean))
        try {
          validator(s);
        } catch (e) {
          bad++;
          fail('a schema compiles', e.message);
        }
    }
  if (!bad) ok(`every answer's schema compiles (${compiled.size})`);
}

const METHODS = ['get', 'put', 'post', 'delete', 'options', 'head', 'patch', 'trace'];
// path template -> regex ({callId} may hold "/": ids are opaque)
const templates = Object.keys(api.paths).map((t) => ({
  template: t,
  re: new RegExp(
    '^' + t.replace(/[.*+?^$()|[\]\\]/g, '\\$&').replace(/\{[^}]+\}/g, '(.+)') + '$',
  ),
}));

// What the document says about METHOD PATH: {key, responses}.
function lookup(method, rawPath) {
  const p = rawPath.split('?')[0];
  const t = templates.find((x) => x.re.test(p));
  if (!t) return { key: 'x-unknown-paths', responses: api['x-unknown-paths'] };
  const op = api.paths[t.template][method.toLowerCase()];
  if (!op) return { key: 'x-other-methods', responses: api['x-other-methods'] };
  return { key: op.operationId, responses: op.responses };
}

const norm = (ct) => (ct || '').toLowerCase().replace(/\s+/g, '');

// Problems with one answer (empty array: conforms).
function problems(method, rawPath, status, headers, body) {
  const { key, responses } = lookup(method, rawPath);
  const out = [];
  if (!responses) return { key, out: [`nothing documented for ${key}`] };
  const r = responses[String(status)];
  // libmicrohttpd's own answers (no Content-Type, an HTML body of its own)
  if (!r && api['x-transport-errors']?.[String(status)])
    return { key: 'x-transport-errors', out: [] };
  if (!r) {
    out.push(`status ${status} is not documented for ${key} (documented: ${Object.keys(responses).join(' ')})`);
    return { key, out };
  }
  for (const [name, h] of Object.entries(r.headers || {})) {
    const v = headers[name.toLowerCase()];
    if (v === undefined) {
      if (h.required) out.push(`header ${name} missing`);
      continue;
    }
    const v2 = validator(h.schema);
    if (!v2(v)) out.push(`header ${name}: ${ajv.errorsText(v2.errors)}`);
  }
  const head = method.toUpperCase() === 'HEAD';
  if (!r.content) {
    if (body.length && !head) out.push(`a body (${body.length} bytes) where none is documented`);
    return { key, out };
  }
  const ct = headers['content-type'];
  const media = Object.keys(r.content).find((m) => norm(m) === norm(ct));
  if (!media) {
    out.push(`Content-Type ${ct} is not documented (documented: ${Object.keys(r.content).join(', ')})`);
    return { key, out };
  }
  if (head) return { key, out };
  const schema = r.content[media].schema;
  let value;
  if (norm(media).startsWith('application/json')) {
    try {
      value = JSON.parse(body.toString('utf8'));
    } catch (e) {
      out.push(`body is not JSON: ${e.message}`);
      return { key, out };
    }
  } else {
    value = new TextDecoder('utf-8', { fatal: true }).decode(body);
  }
  if (schema) {
    const v = validator(schema);
    if (!v(value)) out.push(`body: ${ajv.errorsText(v.errors)} in ${JSON.stringify(value).slice(0, 300)}`);
  }
  return { key, out };
}

// ---- the checker must be able to fail ----
const call = {
  callId: 'x',
  tenantId: null,
  state: 'active',
  reason: null,
  added: '2026-01-01T00:00:00.000Z',
  startedAt: null,
  lastSuccess: null,
  nextDue: '2026-01-01T00:15:00.000Z',
  deadline: '2026-01-01T00:45:00.000Z',
  ended: null,
  consecutiveFailures: 0,
  lastError: null,
};
const J = { 'content-type': 'application/json' };
const buf = (o) => Buffer.from(JSON.stringify(o));
const mustPass = [['a made-up call', 'GET', '/calls/x', 200, J, buf(call)]];
const mustFail = [
  ['a call with a field the schema does not name', 'GET', '/calls/x', 200, J, buf({ ...call, extra: 1 })],
  ['a call without lastError', 'GET', '/calls/x', 200, J, buf({ ...call, lastError: undefined })],
  ['a call in an unknown state', 'GET', '/calls/x', 200, J, buf({ ...call, state: 'sleeping' })],
  ['a time without milliseconds', 'GET', '/calls/x', 200, J, buf({ ...call, added: '2026-01-01T00:00:00Z' })],
  ['an undocumented status', 'GET', '/calls/x', 418, J, buf({ error: { code: 'internal', message: 'x' } })],
  ['an error with another code', 'GET', '/calls/x', 404, J, buf({ error: { code: 'badRequest', message: 'x' } })],
  ['a 401 without WWW-Authenticate', 'GET', '/calls', 401, J, buf({ error: { code: 'unauthorized', message: 'x' } })],
  ['an undocumented Content-Type', 'GET', '/calls/x', 200, { 'content-type': 'text/html' }, buf(call)],
  ['a body on a 204', 'DELETE', '/calls/x', 204, {}, Buffer.from('x')],
];
for (const [what, ...a] of mustPass) {
  const { out } = problems(...a);
  if (out.length) fail(`self-test: ${what} conforms`, out.join('; '));
  else ok(`self-test: ${what} conforms`);
}
for (const [what, ...a] of mustFail) {
  const { out } = problems(...a);
  if (out.length) ok(`self-test: ${what} is refused (${out[0].slice(0, 80)})`);
  else fail(`self-test: ${what} is refused`, 'the checker accepted it');
}

// ---- the recorded exchanges ----
const seen = new Set();
const cases = fs.readFileSync(casesPath, 'utf8').split('\n').filter(Boolean);
for (const line of cases) {
  const [name, method, rawPath, dir] = line.split('\t');
  const status = Number(fs.readFileSync(path.join(dir, 'status'), 'utf8').trim());
  const headers = {};
  // the last block of headers (curl -D also keeps a "100 Continue")
  const blocks = fs.readFileSync(path.join(dir, 'headers'), 'latin1').split(/\r?\n\r?\n/).filter((b) => b.trim());
  for (const l of (blocks.at(-1) || '').split(/\r?\n/).slice(1)) {
    const i = l.indexOf(':');
    if (i > 0) headers[l.slice(0, i).trim().toLowerCase()] = l.slice(i + 1).trim();
  }
  const body = fs.readFileSync(path.join(dir, 'body'));
  const what = `${name}: ${method} ${rawPath.slice(0, 60)} -> ${status}`;
  if (!status) {
    fail(what, 'no answer');
    continue;
  }
  const { key, out } = problems(method, rawPath, status, headers, body);
  seen.add(`${key} ${status}`);
  if (out.length) fail(what, out.join('; '));
  else ok(`${what} (${key})`);
}

// ---- every documented answer was seen, or is listed as not provoked ----
const documented = new Set();
for (const t of Object.keys(api.paths))
  for (const m of METHODS) {
    const op = api.paths[t][m];
    if (op) for (const s of Object.keys(op.responses)) documented.add(`${op.operationId} ${s}`);
  }
for (const k of ['x-other-methods', 'x-unknown-paths', 'x-transport-errors'])
  for (const s of Object.keys(api[k])) documented.add(`${k} ${s}`);
const unprovoked = new Map();
for (const line of fs.readFileSync(unprovokedPath, 'utf8').split('\n')) {
  if (!line.trim() || line.startsWith('#')) continue;
  const [op, status, ...why] = line.split(/\s+/);
  unprovoked.set(`${op} ${status}`, why.join(' '));
}
for (const [k, why] of unprovoked) {
  if (!documented.has(k)) fail(`not provoked: ${k}`, 'not in the document (stale entry)');
  else if (seen.has(k)) fail(`not provoked: ${k}`, 'it was seen: remove it from the list');
}
for (const k of [...documented].sort()) {
  if (seen.has(k)) ok(`documented ${k} was seen`);
  else if (unprovoked.has(k)) ok(`documented ${k} not provoked here: ${unprovoked.get(k)}`);
  else fail(`documented ${k}`, 'never seen in this run (provoke it, or list it with the reason)');
}
console.log(`${passed} passed, ${failed} failed`);
process.exit(failed ? 1 : 0);
