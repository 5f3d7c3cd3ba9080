// The container stage's front end: calls the gateway of a running stack over HTTP, as a third
// party's web or mobile front end would (Connect protocol, JSON), with tokens it mints from
// the stack's HS256 secret. Node's own fetch and crypto only: nothing to install.
//
//   node client.mjs scenario URL SECRET_FILE STATE_FILE
//       the end-to-end scenario; writes what the load needs (ids, tokens) to STATE_FILE
//   node client.mjs load URL STATE_FILE SECONDS CONCURRENCY [READY_FILE]
//       keeps CONCURRENCY idempotent calls to the questionnaires service in flight for
//       SECONDS; prints a JSON summary {calls, ok, failed, byStatus, firstFailures}; exit 1
//       when any call failed. READY_FILE is created once the first calls succeeded.
//   node client.mjs call URL STATE_FILE counselor|beneficiary Service/Method JSON
//       one call with a token of the scenario; prints the answer
//
// The bounded load never leaves this machine: URL is the stack's port on the loopback.
import { createHmac, randomUUID } from "node:crypto";
import { readFileSync, writeFileSync } from "node:fs";

const ISSUER = "boussole-local";
const AUDIENCE = "boussole";

function b64url(buf) {
  return Buffer.from(buf).toString("base64url");
}

// An HS256 token with the claims the gateway checks (iss, aud, exp, sub, role, org).
export function mint(secret, sub, role, org) {
  const now = Math.floor(Date.now() / 1000);
  const header = b64url(JSON.stringify({ alg: "HS256", typ: "JWT" }));
  const payload = b64url(
    JSON.stringify({ iss: ISSUER, aud: AUDIENCE, sub, role, org, iat: now, exp: now + 3600 }),
  );
  const sig = createHmac("sha256", secret).update(`${header}.${payload}`).digest();
  return `${header}.${payload}.${b64url(sig)}`;
}

class CallError extends Error {
  constructor(method, status, body) {
    super(`${method}: HTTP ${status} ${JSON.stringify(body)}`);
    this.status = status;
    this.body = body;
  }
}

// One Connect unary call with a JSON body. Non-idempotent methods get an Idempotency-Key.
async function call(url, token, method, body, { key, timeoutMs = 10000 } = {}) {
  const headers = {
    "Content-Type": "application/json",
    "Connect-Protocol-Version": "1",
    "Connect-Timeout-Ms": String(timeoutMs),
    Authorization: `Bearer ${token}`,
  };
  if (key) headers["Idempotency-Key"] = key;
  const res = await fetch(`${url}/boussole.v1.${method}`, {
    method: "POST",
    headers,
    body: JSON.stringify(body),
    signal: AbortSignal.timeout(timeoutMs + 5000),
  });
  const text = await res.text();
  let parsed;
  try {
    parsed = text ? JSON.parse(text) : {};
  } catch {
    parsed = { raw: text.slice(0, 200) };
  }
  if (res.status !== 200) throw new CallError(method, res.status, parsed);
  return parsed;
}

function check(cond, what) {
  if (!cond) throw new Error(`check failed: ${what}`);
  console.log(`  ok  ${what}`);
}

// The RIASEC inventory: 8 items per type (r1..r8, ...), 1 to 5, item 8 reverse-keyed. The
// answers below give, by hand (see tests/integration/questionnaires_flow_test.c):
// R 25, I 40, A 34, S 15, E 30, C 12 -> Holland code "IAE".
function riasecAnswers() {
  const value = (t, n) =>
    ({
      r: n === 8 ? 2 : 3,
      i: n === 8 ? 1 : 5,
      a: n === 8 ? 3 : n <= 4 ? 4 : 5,
      s: n === 8 ? 5 : 2,
      e: 4,
      c: 1,
    })[t];
  const out = [];
  for (const t of "riasec") for (let n = 1; n <= 8; n++) out.push({ itemId: `${t}${n}`, likert: value(t, n) });
  return out;
}

async function scenario(url, secretFile, stateFile) {
  const secret = readFileSync(secretFile);
  const run = randomUUID().slice(0, 8);
  const org = "org-lumiere";
  const counselorId = `c-marie-${run}`;
  const beneficiaryId = `b-lea-${run}`;
  const counselor = mint(secret, counselorId, "counselor", org);
  const beneficiary = mint(secret, beneficiaryId, "beneficiary", org);
  const stranger = mint(secret, `c-other-${run}`, "counselor", "org-other");

  console.log("scenario: a counselor opens a bilan, the beneficiary answers RIASEC");
  const bilan = await call(
    url,
    counselor,
    "SessionService/CreateBilan",
    {
      beneficiaryId,
      counselorId,
      organisationId: org,
      funding: "FUNDING_CPF",
      plannedHours: 24,
      startDate: "2026-12-01",
      endDate: "2027-02-28",
    },
    { key: `bilan-${run}` },
  );
  check(bilan.id && bilan.status === "BILAN_STATUS_ACTIVE", `CreateBilan -> ${bilan.id}, active`);
  const again = await call(url, counselor, "SessionService/CreateBilan", {
    beneficiaryId, counselorId, organisationId: org, funding: "FUNDING_CPF", plannedHours: 24,
    startDate: "2026-12-01", endDate: "2027-02-28",
  }, { key: `bilan-${run}` });
  check(again.id === bilan.id, "CreateBilan again with the same Idempotency-Key -> the same bilan");
  const read = await call(url, beneficiary, "SessionService/GetBilan", { id: bilan.id });
  check(read.id === bilan.id, "the beneficiary reads the bilan");
  try {
    await call(url, stranger, "SessionService/GetBilan", { id: bilan.id });
    check(false, "a counselor of another organisation is refused");
  } catch (e) {
    check(e.status === 404 || e.status === 403, `a counselor of another organisation is refused (HTTP ${e.status})`);
  }
  try {
    await call(url, "not-a-token", "SessionService/GetBilan", { id: bilan.id });
    check(false, "a bad token is refused");
  } catch (e) {
    check(e.status === 401, "a bad token is refused (HTTP 401)");
  }

  const instrument = await call(url, counselor, "QuestionnaireService/GetInstrument", { id: "riasec" });
  check(instrument.id === "riasec", "GetInstrument riasec (built-in data files in the image)");
  const asg = await call(
    url,
    counselor,
    "QuestionnaireService/AssignInstrument",
    { bilanId: bilan.id, instrumentId: "riasec", dueDate: "2027-01-15" },
    { key: `asg-${run}` },
  );
  check(asg.id && asg.status === "ASSIGNMENT_STATUS_ASSIGNED", `AssignInstrument -> ${asg.id}`);
  const answers = riasecAnswers();
  try {
    await call(url, beneficiary, "QuestionnaireService/SaveAnswers", {
      bilanId: bilan.id, assignmentId: asg.id, answers: [{ itemId: "r1", likert: 9 }],
    });
    check(false, "an answer out of range is refused");
  } catch (e) {
    check(e.status === 400 && /answers\[0\]/.test(JSON.stringify(e.body)),
      "an answer out of range is refused, naming the field (HTTP 400)");
  }
  await call(url, beneficiary, "QuestionnaireService/SaveAnswers", {
    bilanId: bilan.id, assignmentId: asg.id, answers: answers.slice(0, 24),
  });
  await call(url, beneficiary, "QuestionnaireService/SaveAnswers", {
    bilanId: bilan.id, assignmentId: asg.id, answers: answers.slice(24),
  });
  check(true, "SaveAnswers: 48 answers in two drafts");
  const results = await call(url, beneficiary, "QuestionnaireService/SubmitAnswers", {
    bilanId: bilan.id, assignmentId: asg.id,
  });
  check(results.hollandCode === "IAE", `SubmitAnswers -> Holland code ${results.hollandCode} (IAE by hand)`);
  const seen = await call(url, counselor, "QuestionnaireService/GetResults", {
    bilanId: bilan.id, assignmentId: asg.id,
  });
  check(seen.hollandCode === "IAE", "the counselor reads the results");

  // A second assignment, left open, for the load: SaveAnswers on it is idempotent.
  const loadAsg = await call(
    url,
    counselor,
    "QuestionnaireService/AssignInstrument",
    { bilanId: bilan.id, instrumentId: "riasec", dueDate: "2027-01-20" },
    { key: `asg-load-${run}` },
  );
  writeFileSync(
    stateFile,
    JSON.stringify({ bilan: bilan.id, assignment: loadAsg.id, counselor, beneficiary }),
  );
  console.log("scenario: passed");
}

// The idempotent calls the load sends, in turn: two reads (no side effects) and an
// idempotent write.
function loadCalls(st) {
  const answers = riasecAnswers();
  let i = 0;
  return () => {
    const k = i++ % 3;
    if (k === 0) return [st.counselor, "QuestionnaireService/GetInstrument", { id: "riasec" }];
    if (k === 1)
      return [st.beneficiary, "QuestionnaireService/SaveAnswers", {
        bilanId: st.bilan, assignmentId: st.assignment, answers: [answers[i % answers.length]],
      }];
    return [st.beneficiary, "QuestionnaireService/GetAnswers", { bilanId: st.bilan, assignmentId: st.assignment }];
  };
}

async function load(url, stateFile, seconds, concurrency, readyFile) {
  const st = JSON.parse(readFileSync(stateFile, "utf8"));
  const next = loadCalls(st);
  const end = Date.now() + seconds * 1000;
  const summary = { calls: 0, ok: 0, failed: 0, byStatus: {}, firstFailures: [], maxMs: 0 };
  let ready = false;
  async function worker() {
    while (Date.now() < end) {
      const [token, method, body] = next();
      const t0 = Date.now();
      summary.calls++;
      try {
        await call(url, token, method, body, { timeoutMs: 10000 });
        summary.ok++;
        summary.byStatus[200] = (summary.byStatus[200] || 0) + 1;
        if (!ready && readyFile && summary.ok >= concurrency) {
          ready = true;
          writeFileSync(readyFile, "ready\n");
        }
      } catch (e) {
        summary.failed++;
        const s = e.status ?? "error";
        summary.byStatus[s] = (summary.byStatus[s] || 0) + 1;
        if (summary.firstFailures.length < 5) summary.firstFailures.push(e.message);
      }
      summary.maxMs = Math.max(summary.maxMs, Date.now() - t0);
    }
  }
  await Promise.all(Array.from({ length: concurrency }, worker));
  console.log(JSON.stringify(summary));
  if (summary.failed > 0 || summary.ok === 0) process.exit(1);
}

async function one(url, stateFile, who, method, json) {
  const st = JSON.parse(readFileSync(stateFile, "utf8"));
  if (!["counselor", "beneficiary"].includes(who)) throw new Error(`unknown caller ${who}`);
  console.log(JSON.stringify(await call(url, st[who], method, JSON.parse(json))));
}

const [cmd, ...args] = process.argv.slice(2);
try {
  if (cmd === "scenario") await scenario(args[0], args[1], args[2]);
  else if (cmd === "load") await load(args[0], args[1], Number(args[2]), Number(args[3]), args[4]);
  else if (cmd === "call") await one(...args);
  else {
    console.error("usage: client.mjs scenario|load|call ... (see the top of the file)");
    process.exit(2);
  }
} catch (e) {
  console.error(`client.mjs ${cmd}: ${e.message}`);
  process.exit(1);
}
