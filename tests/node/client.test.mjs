// A front end's view of the gateway: a stock Connect client (@connectrpc/connect-node) with
// code generated from proto/ by @bufbuild/protoc-gen-es, in JSON and in binary, over HTTP/1.1.
//
// Driven by tests/integration/gateway_node_test.c, which starts redis, sessions and the
// gateway and passes, in the environment:
//   GATEWAY_URL, ES256_GATEWAY_URL, TOKEN_COUNSELOR, TOKEN_BENEFICIARY, ES256_PRIVATE_KEY
// Exits 0 when every check passed.
import assert from "node:assert/strict";
import { createSign, createPrivateKey } from "node:crypto";
import { readFileSync } from "node:fs";

import { createClient, ConnectError, Code } from "@connectrpc/connect";
import { createConnectTransport } from "@connectrpc/connect-node";

import { SessionService, Funding, Phase, BilanStatus } from "./gen/boussole/v1/sessions_pb.js";
import {
  Health,
  ServingStatus,
  FieldViolationSchema,
} from "./gen/boussole/v1/rpc_pb.js";

const env = (name) => {
  const v = process.env[name];
  if (!v) throw new Error(`${name} is not set`);
  return v;
};

function bearer(token) {
  return (next) => async (req) => {
    if (token) req.header.set("authorization", `Bearer ${token}`);
    return next(req);
  };
}

function client(service, { url = env("GATEWAY_URL"), token, binary = false, get = false } = {}) {
  const transport = createConnectTransport({
    baseUrl: url,
    httpVersion: "1.1",
    useBinaryFormat: binary,
    useHttpGet: get,
    interceptors: [bearer(token)],
  });
  return createClient(service, transport);
}

async function refused(promise, code, what) {
  try {
    await promise;
  } catch (e) {
    assert.ok(e instanceof ConnectError, `${what}: not a ConnectError: ${e}`);
    assert.equal(e.code, code, `${what}: ${Code[e.code]} (${e.rawMessage}), want ${Code[code]}`);
    return e;
  }
  assert.fail(`${what}: no error`);
}

async function codec(binary) {
  const name = binary ? "binary" : "JSON";
  const counselor = client(SessionService, { token: env("TOKEN_COUNSELOR"), binary });
  const beneficiary = client(SessionService, { token: env("TOKEN_BENEFICIARY"), binary });

  // Create a bilan, read it back.
  const created = await counselor.createBilan({
    beneficiaryId: "b-node",
    organisationId: "org-lumiere",
    funding: Funding.EMPLOYER_PLAN,
    plannedHours: 18,
    startDate: "2026-12-01",
    endDate: "2027-03-31",
  });
  assert.match(created.id, /^[0-9a-z]{26}$/);
  assert.equal(created.counselorId, "c-node");
  assert.equal(created.phase, Phase.PRELIMINARY);
  assert.equal(created.status, BilanStatus.ACTIVE);
  assert.equal(created.funding, Funding.EMPLOYER_PLAN);
  assert.equal(created.version, 1n); // uint64: a string in JSON, a bigint here
  assert.ok(created.createTime && created.createTime.seconds > 1700000000n);

  const read = await beneficiary.getBilan({ id: created.id });
  assert.equal(read.id, created.id);
  assert.equal(read.beneficiaryId, "b-node");
  assert.equal(read.plannedHours, 18);
  assert.equal(read.endDate, "2027-03-31");
  assert.equal(read.createTime.seconds, created.createTime.seconds);
  assert.equal(read.createTime.nanos, created.createTime.nanos);

  // A bad request: a proper error, with the field it is about in a typed detail.
  const bad = await refused(beneficiary.getBilan({ id: "not-an-id" }), Code.InvalidArgument,
                            `${name} bad id`);
  const violations = bad.findDetails(FieldViolationSchema);
  assert.equal(violations.length, 1, `${name}: a FieldViolation detail`);
  assert.equal(violations[0].field, "id");
  const outOfRange = await refused(
    counselor.createBilan({
      beneficiaryId: "b-node",
      organisationId: "org-lumiere",
      funding: Funding.CPF,
      plannedHours: 99,
      startDate: "2026-12-01",
      endDate: "2027-03-31",
    }),
    Code.InvalidArgument,
    `${name} 99 hours`,
  );
  assert.match(outOfRange.rawMessage, /planned_hours/);

  await refused(beneficiary.getBilan({ id: "a".repeat(26) }), Code.NotFound, `${name} unknown`);
  await refused(client(SessionService, { binary }).getBilan({ id: created.id }),
                Code.Unauthenticated, `${name} without a token`);
  await refused(client(SessionService, { binary, token: "x.y.z" }).getBilan({ id: created.id }),
                Code.Unauthenticated, `${name} with a bad token`);
  console.log(`ok - ${name}: create, read back, errors`);
  return created.id;
}

async function httpGet(id) {
  // Side-effect-free methods may be called with GET (connect-es picks it with useHttpGet).
  for (const binary of [false, true]) {
    const c = client(SessionService, { token: env("TOKEN_BENEFICIARY"), binary, get: true });
    const b = await c.getBilan({ id });
    assert.equal(b.id, id);
  }
  console.log("ok - GET for a side-effect-free method, both codecs");
}

async function health() {
  const h = await client(Health).check({});
  assert.equal(h.status, ServingStatus.SERVING);
  console.log("ok - Health/Check without a token");
}

// An ES256 token signed here, by Node's own crypto, checked by the gateway's libjwt: the two
// implementations agree on the JWS form (raw r||s signatures).
function es256Token(claims, keyPem) {
  const b64url = (b) => Buffer.from(b).toString("base64url");
  const head = b64url(JSON.stringify({ alg: "ES256", typ: "JWT" }));
  const body = b64url(JSON.stringify(claims));
  const signer = createSign("SHA256");
  signer.update(`${head}.${body}`);
  const sig = signer.sign({ key: createPrivateKey(keyPem), dsaEncoding: "ieee-p1363" });
  return `${head}.${body}.${b64url(sig)}`;
}

async function foreignSigner(id) {
  const key = readFileSync(env("ES256_PRIVATE_KEY"), "utf8");
  const now = Math.floor(Date.now() / 1000);
  const token = es256Token(
    { sub: "b-node", role: "beneficiary", iss: "boussole-local", aud: "boussole", iat: now,
      exp: now + 300 },
    key,
  );
  const url = env("ES256_GATEWAY_URL");
  const b = await client(SessionService, { url, token }).getBilan({ id });
  assert.equal(b.beneficiaryId, "b-node");
  const [h, , s] = token.split(".");
  const forged = `${h}.${Buffer.from(JSON.stringify({ sub: "c-node", role: "admin",
    iss: "boussole-local", aud: "boussole", exp: now + 300 })).toString("base64url")}.${s}`;
  await refused(client(SessionService, { url, token: forged }).getBilan({ id }),
                Code.Unauthenticated, "forged ES256 payload");
  console.log("ok - ES256 token signed by Node's crypto, verified by the gateway");
}

try {
  const id = await codec(false);
  await codec(true);
  await httpGet(id);
  await health();
  await foreignSigner(id);
  console.log("all node client checks passed");
} catch (e) {
  console.error("FAILED:", e);
  process.exit(1);
}
