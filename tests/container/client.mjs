// The container stage's front end: calls the gateway of a running stack over HTTP, as a third
// party's web or mobile front end would (Connect protocol, JSON), with tokens it mints from
// the stack's HS256 secret. Node's own fetch and crypto only: nothing to install.
//
//   node client.mjs scenario URL SECRET_FILE STATE_FILE
//       the end-to-end scenario; writes what the load needs (ids, tokens) to STATE_FILE
//   node client.mjs load URL STATE_FILE SECONDS CONCURRENCY [READY_FILE [STOP_FILE]]
//       keeps CONCURRENCY idempotent calls to the questionnaires service in flight for at most
//       SECONDS, or until STOP_FILE exists; prints a JSON summary {calls, ok, failed,
//       byStatus, firstFailures, maxMs}; exit 1 when any call failed. READY_FILE is created
//       once the first calls succeeded.
//   node client.mjs call URL STATE_FILE counselor|beneficiary Service/Method JSON
//       one call with a token of the scenario; prints the answer
//
// The bounded load never leaves this machine: URL is the stack's port on the loopback.
import { createHmac, randomUUID } from "node:crypto";
import { existsSync, readFileSync, writeFileSync } from "node:fs";

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
    JSON.stringify({ iss: ISSUER, aud: AUDIENCE, sub, role, ...(org ? { org } : {}), iat: now,
      exp: now + 3600 }),
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
  };
  if (token) headers.Authorization = `Bearer ${token}`;
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

const day = (d) => new Date(Date.now() + d * 86400000).toISOString().slice(0, 10);
const inDays = (d) => new Date(Date.now() + d * 86400000).toISOString().replace(/\.\d+Z$/, "Z");

// Expects a refusal with one of the HTTP statuses given.
async function refused(what, statuses, promise) {
  try {
    await promise;
  } catch (e) {
    if (!(e instanceof CallError)) throw e;
    check(statuses.includes(e.status), `${what} (HTTP ${e.status})`);
    return e.body;
  }
  check(false, `${what}: it was accepted`);
}

// A bilan from start to shared synthesis, through the gateway only, as a front end would do
// it (the same story as tests/integration/gateway_scenario_test.c, here against the
// containers): the counselor opens the bilan; the beneficiary's intake, the counselor's
// roadmap; investigation: an experience, a career lead researched and retained, the RIASEC
// inventory assigned, answered and scored; conclusion: the counselor drafts the synthesis and
// submits it, the beneficiary adds observations and approves it; its PDF is rendered (fonts
// in the syntheses image); the beneficiary grants a third party two sections, which it reads
// (and only them); the grant is revoked and the third party is refused; the same with an
// anonymous share link.
async function scenario(url, secretFile, stateFile) {
  const secret = readFileSync(secretFile);
  const run = randomUUID().slice(0, 8);
  const org = "org-lumiere";
  const counselorId = `c-marie-${run}`;
  const beneficiaryId = `b-lea-${run}`;
  const thirdPartyId = `t-apec-${run}`;
  const counselor = mint(secret, counselorId, "counselor", org);
  const beneficiary = mint(secret, beneficiaryId, "beneficiary", "");
  const thirdParty = mint(secret, thirdPartyId, "third_party", "");
  const stranger = mint(secret, `c-other-${run}`, "counselor", "org-other");
  const c = (method, body, opts) => call(url, counselor, method, body, opts);
  const b = (method, body, opts) => call(url, beneficiary, method, body, opts);
  const t = (method, body) => call(url, thirdParty, method, body);

  console.log("scenario: preliminary phase");
  const bilan = await c("SessionService/CreateBilan", {
    beneficiaryId, organisationId: org, funding: "FUNDING_CPF", plannedHours: 24,
    startDate: day(-30), endDate: day(60),
  }, { key: `bilan-${run}` });
  check(bilan.id && bilan.phase === "PHASE_PRELIMINARY", `CreateBilan -> ${bilan.id}, preliminary`);
  const again = await c("SessionService/CreateBilan", {
    beneficiaryId, organisationId: org, funding: "FUNDING_CPF", plannedHours: 24,
    startDate: day(-30), endDate: day(60),
  }, { key: `bilan-${run}` });
  check(again.id === bilan.id, "CreateBilan again with the same Idempotency-Key -> the same bilan");
  await refused("a counselor of another organisation cannot read it", [403, 404],
    call(url, stranger, "SessionService/GetBilan", { id: bilan.id }));
  await refused("a bad token is refused", [401],
    call(url, "not-a-token", "SessionService/GetBilan", { id: bilan.id }));
  await b("SessionService/RecordIntake", { intake: {
    bilanId: bilan.id,
    currentSituation: "Assistante de direction depuis douze ans, en poste à Lyon.",
    reasons: "Je voudrais un métier plus concret, au contact des gens.",
    expectations: "Y voir clair sur mes compétences et choisir une formation.",
  } });
  check(true, "the beneficiary records her intake");
  await c("SessionService/SetRoadmap", { bilanId: bilan.id, steps: [
    { phase: "PHASE_PRELIMINARY", title: "Entretien d'accueil", tools: ["ROADMAP_TOOL_INTERVIEW"],
      plannedDate: day(-25), status: "ROADMAP_STEP_STATUS_DONE" },
    { phase: "PHASE_INVESTIGATION", title: "Inventaire d'intérêts et enquêtes métier",
      tools: ["ROADMAP_TOOL_QUESTIONNAIRE", "ROADMAP_TOOL_JOB_RESEARCH"], plannedDate: day(-5),
      status: "ROADMAP_STEP_STATUS_DONE" },
  ] });
  check(true, "the counselor sets the roadmap");
  let phase = await c("SessionService/AdvancePhase", { id: bilan.id, target: "PHASE_INVESTIGATION" });
  check(phase.phase === "PHASE_INVESTIGATION", "AdvancePhase -> investigation");

  console.log("scenario: investigation");
  await b("SessionService/AddExperience", { experience: {
    bilanId: bilan.id, kind: "EXPERIENCE_KIND_JOB", title: "Assistante de direction",
    periodStart: "2013-09-01", periodEnd: "2025-06-30", description: "Agenda de trois directeurs.",
    skills: ["Organisation", "Rédaction"],
  } });
  const lead = await b("SessionService/AddCareerLead", { lead: {
    bilanId: bilan.id, title: "Conductrice de bus urbain", path: "CAREER_PATH_RECONVERSION",
    status: "CAREER_LEAD_STATUS_EXPLORING",
  } });
  await b("SessionService/AddLeadResearch", { bilanId: bilan.id, research: {
    leadId: lead.id, kind: "RESEARCH_KIND_TESTIMONY", title: "Rencontre avec une conductrice",
    notes: "Horaires décalés, beaucoup d'autonomie.", date: day(-3),
  } });
  await c("SessionService/UpdateCareerLead", { lead: {
    id: lead.id, bilanId: bilan.id, title: "Conductrice de bus urbain",
    path: "CAREER_PATH_RECONVERSION", status: "CAREER_LEAD_STATUS_RETAINED",
    statusReason: "Autonomie et concret.", version: "1",
  } });
  check(true, "an experience, a career lead researched and retained");
  const instrument = await c("QuestionnaireService/GetInstrument", { id: "riasec" });
  check(instrument.id === "riasec", "GetInstrument riasec (the data files in the image)");
  const asg = await c("QuestionnaireService/AssignInstrument",
    { bilanId: bilan.id, instrumentId: "riasec" }, { key: `asg-${run}` });
  check(asg.id && asg.status === "ASSIGNMENT_STATUS_ASSIGNED", `AssignInstrument -> ${asg.id}`);
  const body = await refused("an answer out of range is refused", [400],
    b("QuestionnaireService/SaveAnswers",
      { bilanId: bilan.id, assignmentId: asg.id, answers: [{ itemId: "r1", likert: 9 }] }));
  check(/answers\[0\]/.test(JSON.stringify(body)), "the refusal names the field answers[0]");
  const answers = riasecAnswers();
  await b("QuestionnaireService/SaveAnswers",
    { bilanId: bilan.id, assignmentId: asg.id, answers: answers.slice(0, 24) });
  await b("QuestionnaireService/SaveAnswers",
    { bilanId: bilan.id, assignmentId: asg.id, answers: answers.slice(24) });
  const results = await b("QuestionnaireService/SubmitAnswers", { bilanId: bilan.id, assignmentId: asg.id });
  check(results.hollandCode === "IAE", `48 answers submitted -> Holland code ${results.hollandCode} (IAE by hand)`);

  console.log("scenario: conclusion and synthesis");
  phase = await c("SessionService/AdvancePhase", { id: bilan.id, target: "PHASE_CONCLUSION" });
  check(phase.phase === "PHASE_CONCLUSION", "AdvancePhase -> conclusion");
  await c("SynthesisService/DraftSynthesis", { bilanId: bilan.id }, { key: `draft-${run}` });
  let syn = await c("SynthesisService/GetSynthesis", { bilanId: bilan.id });
  syn = await c("SynthesisService/SaveSynthesisRevision", {
    bilanId: bilan.id, baseRevision: syn.currentRevision,
    sections: ["SYNTHESIS_SECTION_COVER", "SYNTHESIS_SECTION_SKILLS", "SYNTHESIS_SECTION_STRENGTHS",
      "SYNTHESIS_SECTION_AREAS_TO_IMPROVE", "SYNTHESIS_SECTION_ACTION_PLAN", "SYNTHESIS_SECTION_FOLLOW_UP"],
    content: {
      cover: { beneficiaryName: "Léa Dubois", counselorName: "Marie Lefèvre",
        organisationName: "Centre de bilans Lumière" },
      skills: "Organisation rigoureuse, écoute, rédaction.",
      strengths: "Fiabilité, sens du service.",
      areasToImprove: "Prise de parole en public.",
      actionPlan: [{ title: "S'inscrire à la formation au permis D", targetDate: "2027-03-01",
        training: "Titre professionnel conducteur de voyageurs", resources: "CPF" }],
      followUp: "Entretien de suivi dans six mois.",
    },
    changeNote: "Rédaction",
  }, { key: `rev1-${run}` });
  syn = await b("SynthesisService/SaveSynthesisRevision", {
    bilanId: bilan.id, baseRevision: syn.currentRevision,
    content: { beneficiaryObservations: "Je valide ce projet avec enthousiasme." },
  }, { key: `rev2-${run}` });
  await c("SynthesisService/SubmitSynthesis", { bilanId: bilan.id, baseRevision: syn.currentRevision });
  const final = await b("SynthesisService/ApproveSynthesis", { bilanId: bilan.id, revision: syn.currentRevision });
  check(final.status === "SYNTHESIS_STATUS_FINAL", "drafted, written, observed, submitted, approved: final");
  const pdf = await b("SynthesisService/RenderSynthesis", { bilanId: bilan.id, format: "SYNTHESIS_FORMAT_PDF" });
  const bytes = Buffer.from(pdf.data ?? "", "base64");
  check(bytes.subarray(0, 5).toString() === "%PDF-" && bytes.includes("DejaVu"),
    `RenderSynthesis: a ${bytes.length}-byte PDF with its DejaVu fonts embedded`);

  console.log("scenario: sharing");
  await refused("the third party has nothing to read yet", [404],
    t("SynthesisService/GetGrantedSynthesis", { bilanId: bilan.id }));
  const grant = await b("SynthesisService/CreateSynthesisGrant", {
    bilanId: bilan.id, kind: "SYNTHESIS_THIRD_PARTY_KIND_CEP", thirdPartyName: "Conseillère CEP de l'APEC",
    sections: ["SYNTHESIS_SECTION_SKILLS", "SYNTHESIS_SECTION_ACTION_PLAN"], granteeId: thirdPartyId,
    expireTime: inDays(30), note: "Avant le rendez-vous",
  }, { key: `grant-${run}` });
  const shared = JSON.stringify(await t("SynthesisService/GetGrantedSynthesis", { bilanId: bilan.id }));
  check(shared.includes("Organisation rigoureuse, écoute, rédaction.") && shared.includes("permis D") &&
    !shared.includes("Fiabilité") && !shared.includes("Je valide ce projet"),
    "the third party reads the two sections granted, and only them");
  await refused("the third party cannot read the rest of the bilan", [404],
    t("SessionService/GetBilan", { id: bilan.id }));
  await b("SynthesisService/RevokeSynthesisGrant", { bilanId: bilan.id, grantId: grant.grant.id });
  await refused("after the revocation the third party is refused", [404],
    t("SynthesisService/GetGrantedSynthesis", { bilanId: bilan.id }));
  const link = await b("SynthesisService/CreateSynthesisGrant", {
    bilanId: bilan.id, kind: "SYNTHESIS_THIRD_PARTY_KIND_EMPLOYER", thirdPartyName: "Employeur",
    sections: ["SYNTHESIS_SECTION_ACTION_PLAN"], expireTime: inDays(7),
  }, { key: `link-${run}` });
  const viaLink = JSON.stringify(await call(url, null, "SynthesisService/GetSharedSynthesis",
    { shareToken: link.shareToken }));
  check(viaLink.includes("permis D") && !viaLink.includes("Organisation rigoureuse"),
    "a share link opens the action plan, without any bearer token");
  await b("SynthesisService/RevokeSynthesisGrant", { bilanId: bilan.id, grantId: link.grant.id });
  await refused("the revoked share link is refused", [403],
    call(url, null, "SynthesisService/GetSharedSynthesis", { shareToken: link.shareToken }));

  // A second bilan for the load: an open assignment on which SaveAnswers is idempotent.
  const loadBilan = await c("SessionService/CreateBilan", {
    beneficiaryId, organisationId: org, funding: "FUNDING_CPF", plannedHours: 24,
    startDate: day(-1), endDate: day(90),
  }, { key: `bilan-load-${run}` });
  const loadAsg = await c("QuestionnaireService/AssignInstrument",
    { bilanId: loadBilan.id, instrumentId: "riasec" }, { key: `asg-load-${run}` });
  writeFileSync(stateFile, JSON.stringify({
    bilan: bilan.id, loadBilan: loadBilan.id, assignment: loadAsg.id, counselor, beneficiary,
  }));
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
        bilanId: st.loadBilan, assignmentId: st.assignment, answers: [answers[i % answers.length]],
      }];
    return [st.beneficiary, "QuestionnaireService/GetAnswers", { bilanId: st.loadBilan, assignmentId: st.assignment }];
  };
}

async function load(url, stateFile, seconds, concurrency, readyFile, stopFile) {
  const st = JSON.parse(readFileSync(stateFile, "utf8"));
  const next = loadCalls(st);
  let end = Date.now() + seconds * 1000;
  // The caller may end the load early by creating STOP_FILE (once what it measures is done).
  const watch = setInterval(() => {
    if (stopFile && existsSync(stopFile)) end = 0;
  }, 100);
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
  clearInterval(watch);
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
  else if (cmd === "load") await load(args[0], args[1], Number(args[2]), Number(args[3]), args[4], args[5]);
  else if (cmd === "call") await one(...args);
  else {
    console.error("usage: client.mjs scenario|load|call ... (see the top of the file)");
    process.exit(2);
  }
} catch (e) {
  console.error(`client.mjs ${cmd}: ${e.message}`);
  process.exit(1);
}
