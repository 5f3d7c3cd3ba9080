#!/usr/bin/env python3
"""Writes the committed seed corpora of the service fuzz targets into tests/fuzz/seeds/<target>/.

The seeds are the requests the integration tests send (tests/integration/gateway_scenario_test.c
and friends), the built-in instruments, and a few hostile shapes each parser must refuse.
tests/fuzz/run.sh copies them next to the generated runtime seeds. Rerun after a change of the
protos or the data files:
    tests/fuzz/seeds/make_seeds.py        (needs protoc, to pack instruments)
"""
import base64
import glob
import hashlib
import hmac
import json
import os
import shutil
import struct
import subprocess
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.abspath(os.path.join(HERE, "..", "..", ".."))
DATA = os.path.join(ROOT, "services", "questionnaires", "data", "instruments")

# The secret and "now" of fuzz_gateway_jwt.c and fuzz_gateway_request.c.
SECRET = b"fuzz-secret-0123456789abcdef0123456789abcdef"
NOW = 1780272000


def target_dir(name):
    d = os.path.join(HERE, name)
    shutil.rmtree(d, ignore_errors=True)
    os.makedirs(d)
    return d


def write(d, name, data):
    if isinstance(data, str):
        data = data.encode()
    with open(os.path.join(d, name), "wb") as f:
        f.write(data)


# ---- JSON bodies the tests send ----------------------------------------------------------------

BILAN = "01jbilan0000000000000000ab"
BODIES = [
    ("boussole.v1.CreateBilanRequest",
     {"beneficiaryId": "b-lea", "organisationId": "org-lumiere", "funding": "FUNDING_CPF",
      "plannedHours": 24, "startDate": "2026-01-05", "endDate": "2026-04-05"}),
    ("boussole.v1.GetBilanRequest", {"id": BILAN}),
    ("boussole.v1.ListBilansRequest",
     {"counselorId": "c-marie", "page": {"pageSize": 20, "pageToken": "abc"}}),
    ("boussole.v1.RecordIntakeRequest",
     {"intake": {"bilanId": BILAN, "currentSituation": "Assistante de direction depuis douze ans.",
                 "reasons": "Un métier plus concret.", "expectations": "Y voir clair."}}),
    ("boussole.v1.SetRoadmapRequest",
     {"bilanId": BILAN, "steps": [
         {"phase": "PHASE_PRELIMINARY", "title": "Entretien d'accueil",
          "tools": ["ROADMAP_TOOL_INTERVIEW"], "plannedDate": "2026-01-10",
          "status": "ROADMAP_STEP_STATUS_DONE"},
         {"phase": "PHASE_INVESTIGATION", "title": "Inventaire d'intérêts",
          "tools": ["ROADMAP_TOOL_QUESTIONNAIRE", "ROADMAP_TOOL_JOB_RESEARCH"],
          "plannedDate": "2026-02-01", "status": "ROADMAP_STEP_STATUS_PLANNED"}]}),
    ("boussole.v1.AdvancePhaseRequest", {"id": BILAN, "target": "PHASE_INVESTIGATION"}),
    ("boussole.v1.AddExperienceRequest",
     {"experience": {"bilanId": BILAN, "kind": "EXPERIENCE_KIND_JOB",
                     "title": "Assistante de direction", "periodStart": "2013-09-01",
                     "periodEnd": "2025-06-30", "description": "Agenda de trois directeurs.",
                     "skills": ["Organisation", "Rédaction"]}}),
    ("boussole.v1.AddCareerLeadRequest",
     {"lead": {"bilanId": BILAN, "title": "Conductrice de bus urbain",
               "path": "CAREER_PATH_RECONVERSION", "status": "CAREER_LEAD_STATUS_EXPLORING"}}),
    ("boussole.v1.UpdateCareerLeadRequest",
     {"lead": {"id": "01jlead00000000000000000ab", "bilanId": BILAN, "title": "Conductrice",
               "path": "CAREER_PATH_RECONVERSION", "status": "CAREER_LEAD_STATUS_RETAINED",
               "statusReason": "Autonomie.", "version": "1"}}),
    ("boussole.v1.ScheduleMeetingRequest",
     {"bilanId": BILAN, "startTime": "2026-02-03T09:30:00Z", "durationMinutes": 90,
      "mode": "MEETING_MODE_REMOTE", "phase": "PHASE_INVESTIGATION"}),
    ("boussole.v1.AssignInstrumentRequest",
     {"bilanId": BILAN, "instrumentId": "riasec", "dueDate": "2026-03-01"}),
    ("boussole.v1.SaveAnswersRequest",
     {"bilanId": BILAN, "assignmentId": "01jasg000000000000000000ab",
      "answers": [{"itemId": "r1", "likert": 5}, {"itemId": "classement",
                                                   "ranking": {"values": ["a", "b"]}},
                  {"itemId": "moteur", "text": "Être utile."}, {"itemId": "n", "number": 1.5e3}],
      "clearItemIds": ["i2"]}),
    ("boussole.v1.MatchOccupationsRequest",
     {"profile": {"r": 80, "i": 20.5, "a": 0, "s": 1e-9, "e": 100, "c": 33.3}, "limit": 20}),
    ("boussole.v1.CreateInstrumentRequest",
     {"instrument": {"id": "mon-test", "version": 1, "language": "fr",
                     "purpose": "INSTRUMENT_PURPOSE_OTHER", "title": "Test",
                     "sections": [{"id": "s", "title": "S"}],
                     "scales": [{"id": "x", "name": "X",
                                 "interpretation": [{"from": 0, "text": "bas"},
                                                    {"from": 50.5, "text": "haut"}]}],
                     "items": [{"id": "q1", "kind": "ITEM_KIND_NUMERIC", "sectionId": "s",
                                "text": "Combien ?", "scales": ["x"], "numericMin": -1e9,
                                "numericMax": 1e9, "integerOnly": True}]}}),
    ("boussole.v1.SaveSynthesisRevisionRequest",
     {"bilanId": BILAN, "baseRevision": "3",
      "sections": ["SYNTHESIS_SECTION_COVER", "SYNTHESIS_SECTION_SKILLS"],
      "content": {"cover": {"beneficiaryName": "Léa Dubois", "counselorName": "Marie Lefèvre"},
                  "skills": "Organisation rigoureuse.",
                  "actionPlan": [{"title": "Permis D", "targetDate": "2027-03-01",
                                  "training": "Titre pro", "resources": "CPF"}]},
      "changeNote": "Rédaction"}),
    ("boussole.v1.CreateSynthesisGrantRequest",
     {"bilanId": BILAN, "kind": "SYNTHESIS_THIRD_PARTY_KIND_CEP", "thirdPartyName": "APEC",
      "sections": ["SYNTHESIS_SECTION_SKILLS"], "granteeId": "t-apec",
      "expireTime": "2026-07-01T00:00:00.123456789Z", "note": "Avant le rendez-vous"}),
    ("boussole.v1.GetSharedSynthesisRequest", {"shareToken": "a" * 64}),
    ("boussole.v1.InviteRelativeRequest",
     {"bilanId": BILAN, "relative": {"name": "Paul", "relation": "ami", "contact": "p@x.fr"},
      "expiresInDays": 14}),
    ("boussole.v1.SubmitFeedbackRequest",
     {"token": "b" * 64, "answers": [{"itemId": "relationnel-1", "likert": 4}],
      "agreeToBeNamed": True}),
    ("boussole.v1.HealthCheckRequest", {"service": "boussole.v1.SessionService"}),
    ("boussole.v1.Bilan",
     {"id": BILAN, "beneficiaryId": "b-lea", "version": "18446744073709551615",
      "createTime": "1970-01-01T00:00:00Z", "updateTime": "9999-12-31T23:59:59.999999999Z",
      "plannedHours": 24}),
    ("boussole.v1.RpcResponse",
     {"requestId": "r", "code": "CODE_NOT_FOUND", "message": "nope", "payload": "AAEC/w==",
      "details": [{"fieldViolation": {"field": "id", "description": "bad"}},
                  {"retryInfo": {"retryDelayMs": 1000}}], "retryElsewhere": True}),
    ("google.protobuf.UninterpretedOption",
     {"name": [{"namePart": "x", "isExtension": True}], "identifierValue": "i",
      "positiveIntValue": "18446744073709551615", "negativeIntValue": "-9223372036854775808",
      "doubleValue": "-Infinity", "stringValue": "_-8=", "aggregateValue": "\u00e9\U0001F600"}),
    ("google.protobuf.FieldDescriptorProto",
     {"name": "f", "number": 2147483647, "label": "LABEL_REPEATED", "type": 9,
      "jsonName": "f", "options": {"packed": True, "deprecated": False}, "proto3Optional": None}),
]

HOSTILE_JSON = [
    ("boussole.v1.CreateBilanRequest", "[" * 40 + "]" * 40),
    ("boussole.v1.CreateBilanRequest", '{"plannedHours": 1e400}'),
    ("boussole.v1.CreateBilanRequest", '{"plannedHours": 4294967296}'),
    ("boussole.v1.CreateBilanRequest", '{"plannedHours": "12", "plannedHours": 13}'),
    ("boussole.v1.CreateBilanRequest", '{"funding": "FUNDING_LOTTERY"}'),
    ("boussole.v1.CreateBilanRequest", '{"funding": 99}'),
    ("boussole.v1.CreateBilanRequest", '{"beneficiaryId": "b-\\u0000x"}'),
    ("boussole.v1.CreateBilanRequest", b'{"beneficiaryId": "\xc3\x28"}'),
    ("boussole.v1.CreateBilanRequest", '{"beneficiary_id": "b", "beneficiaryId": "c"}'),
    ("boussole.v1.GetBilanRequest", '{"id": "{x}*\\n "}'),
    ("boussole.v1.Bilan", '{"createTime": "2026-02-30T00:00:00Z"}'),
    ("boussole.v1.Bilan", '{"createTime": "10000-01-01T00:00:00Z"}'),
    ("boussole.v1.Bilan", '{"version": "-1"}'),
    ("boussole.v1.RpcResponse", '{"payload": "***"}'),
    ("boussole.v1.RpcResponse", '{"details": [null, {"fieldViolation": {}, "retryInfo": {}}]}'),
    ("google.protobuf.UninterpretedOption", '{"doubleValue": "NaN", "positiveIntValue": 1e19}'),
    ("google.protobuf.UninterpretedOption", '{"stringValue": "YQ", "negativeIntValue": "1.0"}'),
    # proto2 presence of a field set to its default (found by the fuzzer: the JSON mapping
    # does not carry it, so the harness compares texts for proto2 types).
    ("google.protobuf.UninterpretedOption",
     '{"name": [{"namePart": "x", "isExtension": true}], "identifierValue": ""}'),
    ("boussole.v1.RecordIntakeRequest",
     '{"intake": {"bilanId": "x", "reasons": "\\ud83d\\ude00 \\u00e9 \\ud800"}}'),
]


def json_seeds():
    d = target_dir("fuzz_gateway_json")
    n = 0
    for t, body in BODIES:
        write(d, "seed-%03d" % n, t.encode() + b"\n" + json.dumps(body, ensure_ascii=False).encode())
        n += 1
    for t, text in HOSTILE_JSON:
        if isinstance(text, str):
            text = text.encode()
        write(d, "seed-%03d" % n, t.encode() + b"\n" + text)
        n += 1


# ---- tokens -------------------------------------------------------------------------------------

def b64url(b):
    return base64.urlsafe_b64encode(b).rstrip(b"=")


def token(header, claims, secret=SECRET):
    h = b64url(json.dumps(header).encode())
    c = b64url(json.dumps(claims).encode())
    sig = b64url(hmac.new(secret, h + b"." + c, hashlib.sha256).digest())
    return h + b"." + c + b"." + sig


CLAIMS = {"sub": "b-lea", "role": "beneficiary", "org": "org-lumiere", "iss": "boussole-local",
          "aud": "boussole", "iat": NOW - 60, "exp": NOW + 3600}


def jwt_seeds():
    d = target_dir("fuzz_gateway_jwt")
    hs = {"alg": "HS256", "typ": "JWT"}
    raw = [
        token(hs, CLAIMS),
        token(hs, dict(CLAIMS, exp=NOW - 3600)),
        token(hs, dict(CLAIMS, nbf=NOW + 3600)),
        token(hs, dict(CLAIMS, aud=["x", "boussole"])),
        token(hs, dict(CLAIMS, role="service")),
        token(hs, CLAIMS, secret=b"another-secret-0123456789abcdef0123456789"),
        token({"alg": "none"}, CLAIMS)[: token({"alg": "none"}, CLAIMS).rfind(b".") + 1],
        token({"alg": "HS512"}, CLAIMS),
        b"a.b.c",
        b"..",
        b"eyJ" * 3000,
    ]
    n = 0
    for t in raw:
        write(d, "seed-%03d" % n, b"\x00" + t)
        n += 1
    pairs = [
        (hs, CLAIMS),
        (hs, dict(CLAIMS, org=None)),
        (hs, dict(CLAIMS, org="")),
        (hs, dict(CLAIMS, role="counselor", sub="c-marie")),
        (hs, dict(CLAIMS, exp=1e300)),
        (hs, dict(CLAIMS, exp="soon")),
        (hs, dict(CLAIMS, sub="b lea\n{x}*")),
        (dict(hs, crit=["exp"]), CLAIMS),
        (dict(hs, typ="JOSE"), CLAIMS),
        ({"alg": "HS256", "kid": "../../etc/passwd"}, dict(CLAIMS, aud=[])),
    ]
    for h, c in pairs:
        write(d, "seed-%03d" % n, b"\x01" + json.dumps(h).encode() + b"\n" + json.dumps(c).encode())
        n += 1


# ---- HTTP requests ------------------------------------------------------------------------------

def request_seeds():
    d = target_dir("fuzz_gateway_request")
    reqs = []

    def post(method, body, auth="@c", mode=0, extra=(), ctype="application/json"):
        lines = ["POST /boussole.v1.%s" % method, "Content-Type: " + ctype,
                 "Connect-Protocol-Version: 1"]
        if auth:
            lines.append("Authorization: Bearer " + auth)
        lines += list(extra)
        text = ("\n".join(lines) + "\n\n").encode()
        if isinstance(body, str):
            body = body.encode()
        reqs.append(bytes([mode]) + text + body)

    for t, body in BODIES:
        if not t.endswith("Request") or t == "boussole.v1.HealthCheckRequest":
            continue
        short = t.split(".")[-1][: -len("Request")]
        svc = ("SessionService" if short in (
            "CreateBilan", "GetBilan", "ListBilans", "RecordIntake", "SetRoadmap", "AdvancePhase",
            "AddExperience", "AddCareerLead", "UpdateCareerLead", "ScheduleMeeting")
            else "SynthesisService" if "Synthes" in short
            else "QuestionnaireService")
        post("%s/%s" % (svc, short), json.dumps(body, ensure_ascii=False))
    post("SessionService/GetBilan", '{"id":"%s"}' % BILAN, mode=5)
    post("SessionService/GetBilan", '{"id":"%s"}' % BILAN, mode=14 | 0x20)
    post("SessionService/GetBilan", '{"id":"%s"}' % BILAN, mode=3 | 0x40)
    post("SessionService/GetBilan", '{"id":"%s"}' % BILAN, mode=0x80)
    post("SessionService/CreateBilan", '{"beneficiaryId":"b-lea"}', auth="@a",
         extra=["Idempotency-Key: key-1", "X-Request-Id: rid.1:2-3",
                "Traceparent: 00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01",
                "Connect-Timeout-Ms: 2500", "Origin: https://app.example.org"])
    post("SessionService/GetBilan", b"\x0a\x1a" + BILAN.encode(), ctype="application/proto",
         mode=0x80)
    post("SessionService/GetBilan", b"\x0a\xff\xff\xff\xff\x0f", ctype="application/proto")
    post("SessionService/GetBilan", "{}", ctype="text/plain")
    post("SessionService/GetBilan", "{}", ctype="application/json; charset=latin1")
    post("SessionService/GetBilan", "{}", extra=["Content-Encoding: gzip"])
    post("SessionService/GetBilan", "{}", extra=["Connect-Timeout-Ms: 0"])
    post("SessionService/GetBilan", "{}", extra=["Connect-Timeout-Ms: 99999999999"])
    post("SessionService/GetBilan", "{}", auth=None)
    post("SessionService/GetBilan", "{}", auth="@t", extra=["Connect-Protocol-Version: 2"])
    post("SessionService/GetBilanAccess", '{"bilanId":"x"}')
    post("SynthesisService/GetSharedSynthesis", '{"shareToken":"%s"}' % ("0" * 64), auth=None)
    post("Health/Check", "{}", auth=None)
    post("Health/Check", '{"service":"boussole.v1.SessionService"}', auth=None)
    post("Reflection/ListServices", "{}", auth="@b")
    reqs.append(b"\x00GET /boussole.v1.SessionService/GetBilan?connect=v1&encoding=json&message="
                b"%7B%22id%22%3A%22" + BILAN.encode() + b"%22%7D\nAuthorization: Bearer @b\n\n")
    reqs.append(b"\x00GET /boussole.v1.SessionService/GetBilan?connect=v1&encoding=proto&base64=1"
                b"&message=ChoxMjM0\nAuthorization: Bearer @b\n\n")
    reqs.append(b"\x00GET /boussole.v1.SessionService/CreateBilan?encoding=json&message=%7B%7D\n\n")
    reqs.append(b"\x00GET /healthz\n\n")
    reqs.append(b"\x00GET /readyz\n\n")
    reqs.append(b"\x00GET /metrics\n\n")
    reqs.append(b"\x00GET /openapi.json\n\n")
    reqs.append(b"\x00OPTIONS /boussole.v1.SessionService/GetBilan\nOrigin: https://app.example.org"
                b"\nAccess-Control-Request-Method: POST\nAccess-Control-Request-Headers: "
                b"content-type, authorization, connect-protocol-version\n\n")
    reqs.append(b"\x00PUT /boussole.v1.SessionService/GetBilan\n\n")
    reqs.append(b"\x00POST /boussole.v1.SessionService/\n\n")
    reqs.append(b"\x00POST /%00/\xff\n\n")
    for i, r in enumerate(reqs):
        write(d, "seed-%03d" % i, r)


# ---- raw HTTP (fuzz_gateway_http) --------------------------------------------------------------

def http_seeds():
    d = target_dir("fuzz_gateway_http")

    def req(method, path, headers, body=b"", mode=0):
        h = "".join("%s\r\n" % x for x in headers)
        if isinstance(body, str):
            body = body.encode()
        return bytes([mode]) + ("%s %s HTTP/1.1\r\nHost: x\r\n%s\r\n" % (method, path, h)).encode() + body

    rpc = "/boussole.v1.SessionService/GetBilan"
    j = '{"id":"%s"}' % BILAN
    common = ["Content-Type: application/json", "Connect-Protocol-Version: 1",
              "Authorization: Bearer @c"]
    seeds = [
        req("POST", rpc, common + ["Content-Length: %d" % len(j)], j),
        req("POST", rpc, common + ["Transfer-Encoding: chunked"],
            "5\r\n{\"id\"\r\n%x\r\n%s\r\n0\r\nX-Trailer: 1\r\n\r\n" % (len(j) - 5, j[5:])),
        req("POST", rpc, common + ["Content-Length: %d" % len(j), "Expect: 100-continue"], j),
        req("POST", rpc, common + ["Content-Length: %d" % len(j)], j) +
        req("POST", rpc, common + ["Content-Length: %d" % len(j)], j)[1:] +
        req("GET", "/healthz", [])[1:],
        req("POST", rpc, common + ["Content-Length: 5", "Transfer-Encoding: chunked"], "5\r\n{}{}{\r\n0\r\n\r\n"),
        req("POST", rpc, common + ["Transfer-Encoding: chunked"], "zz\r\n{}\r\n0\r\n\r\n"),
        req("POST", rpc, common + ["Transfer-Encoding: chunked"], "ffffffffffffffff\r\n"),
        req("POST", rpc, common + ["Content-Length: 99999999999"], "{}"),
        req("POST", rpc, common + ["Content-Length: 100"], "{\"id\":"),
        req("POST", "/boussole.v1.SessionService/CreateBilan", common + ["Idempotency-Key: k-1",
            "Connect-Timeout-Ms: 3000", "X-Request-Id: r-1", "Content-Length: 2"], "{}", mode=0x80),
        req("GET", "/boussole.v1.SessionService/GetBilan?connect=v1&encoding=json&message=%7B%7D",
            ["Authorization: Bearer @b"], mode=5),
        req("OPTIONS", rpc, ["Origin: https://app.example.org", "Access-Control-Request-Method: POST"]),
        req("GET", "/metrics", []),
        req("GET", "/openapi.json", []),
        b"\x00GET / HTTP/1.0\r\n\r\n",
        b"\x00\x16\x03\x01\x00\xa5\x01\x00\x00\xa1\x03\x03",
    ]
    for i, r in enumerate(seeds):
        write(d, "seed-%03d" % i, r)


# ---- instruments --------------------------------------------------------------------------------

KINDS = {"likert": "ITEM_KIND_LIKERT", "single_choice": "ITEM_KIND_SINGLE_CHOICE",
         "multiple_choice": "ITEM_KIND_MULTIPLE_CHOICE", "ranking": "ITEM_KIND_RANKING",
         "numeric": "ITEM_KIND_NUMERIC", "free_text": "ITEM_KIND_FREE_TEXT"}
PURPOSES = {"interests": 1, "values": 2, "skills": 3, "relatives_feedback": 4, "satisfaction": 5,
            "other": 6}


def q(s):
    return json.dumps(s, ensure_ascii=False)


def instrument_text(d):
    """The data file as protobuf text format, presets expanded as the loader does."""
    out = ['id: %s' % q(d["id"]), 'version: %d' % d["version"], 'language: %s' % q(d["language"]),
           'purpose: %d' % PURPOSES[d["purpose"]], 'title: %s' % q(d["title"])]
    for k in ("description", "instructions"):
        if k in d:
            out.append('%s: %s' % (k, q(d[k])))
    for s in d.get("sections", []):
        out.append('sections { id: %s title: %s%s }' % (
            q(s["id"]), q(s.get("title", "")),
            (' instructions: %s' % q(s["instructions"])) if "instructions" in s else ""))
    presets = d.get("likert_presets", {})
    for it in d["items"]:
        f = ['id: %s' % q(it["id"]), 'kind: %s' % KINDS[it["kind"]],
             'section_id: %s' % q(it.get("section", "")), 'text: %s' % q(it["text"]),
             'required: %s' % ("true" if it.get("required", True) else "false")]
        f += ['scales: %s' % q(s) for s in it.get("scales", [])]
        if it.get("reverse"):
            f.append("reverse_keyed: true")
        p = presets.get(it.get("likert"), {}) if "likert" in it else {}
        lmin = it.get("likert_min", p.get("min"))
        lmax = it.get("likert_max", p.get("max"))
        if lmin is not None:
            f.append("likert_min: %d likert_max: %d" % (lmin, lmax))
        f += ['likert_labels: %s' % q(l) for l in it.get("likert_labels", p.get("labels", []))]
        for c in it.get("choices", []):
            f.append('choices { value: %s label: %s score: %d %s}' % (
                q(c["value"]), q(c.get("label", "")), c.get("score", 0),
                "".join('scales: %s ' % q(s) for s in c.get("scales", []))))
        for k, pk in (("min_selected", "min_selected"), ("max_selected", "max_selected"),
                      ("max_length", "max_length")):
            if k in it:
                f.append("%s: %d" % (pk, it[k]))
        for k in ("numeric_min", "numeric_max"):
            if k in it:
                f.append("%s: %r" % (k, float(it[k])))
        if it.get("integer_only"):
            f.append("integer_only: true")
        out.append("items { %s }" % " ".join(f))
    for s in d.get("scales", []):
        bands = "".join(' interpretation { from: %r text: %s }' % (float(b["from"]), q(b["text"]))
                        for b in s.get("interpretation", []))
        out.append('scales { id: %s name: %s description: %s%s }' % (
            q(s["id"]), q(s.get("name", "")), q(s.get("description", "")), bands))
    if d.get("scoring", {}).get("holland_code"):
        out.append("scoring { holland_code: true }")
    out.append("builtin: true status: 1")
    return "\n".join(out)


def encode(msg_type, text):
    p = subprocess.run(["protoc", "-I", os.path.join(ROOT, "proto"),
                        "--encode=" + msg_type, "boussole/v1/questionnaires.proto"],
                       input=text.encode(), capture_output=True, check=False)
    if p.returncode != 0:
        sys.exit("protoc --encode %s: %s" % (msg_type, p.stderr.decode()))
    return p.stdout


def varint(n):
    out = b""
    n &= (1 << 64) - 1
    while True:
        b = n & 0x7F
        n >>= 7
        if n:
            out += bytes([b | 0x80])
        else:
            return out + bytes([b])


def ld(field, payload):
    if isinstance(payload, str):
        payload = payload.encode()
    return varint(field << 3 | 2) + varint(len(payload)) + payload


def answer(it, high):
    a = ld(1, it["id"])
    k = it["kind"]
    if k == "likert":
        return a + varint(2 << 3) + varint(5 if high else 1)
    if k == "single_choice":
        return a + ld(3, it["choices"][-1 if high else 0]["value"])
    if k in ("multiple_choice", "ranking"):
        vals = [c["value"] for c in it["choices"]]
        if high:
            vals.reverse()
        if k == "multiple_choice":
            vals = vals[: max(it.get("min_selected", 1), 1)]
        return a + ld(4 if k == "multiple_choice" else 5, b"".join(ld(1, v) for v in vals))
    if k == "numeric":
        return a + varint(6 << 3 | 1) + struct.pack("<d", float(it.get("numeric_max" if high
                                                                        else "numeric_min", 0)))
    return a + ld(7, "Une réponse libre, avec des accents : é à ç.")


def instrument_seeds():
    files = sorted(glob.glob(os.path.join(DATA, "*.json")))
    dc = target_dir("fuzz_qn_instrument")
    dj = target_dir("fuzz_qn_instrument_json")
    da = target_dir("fuzz_qn_answers")
    for i, path in enumerate(files):
        d = json.load(open(path))
        name = os.path.splitext(os.path.basename(path))[0]
        write(dc, "builtin-" + name, encode("boussole.v1.Instrument", instrument_text(d)))
        shutil.copy(path, os.path.join(dj, "builtin-" + name))
        for high in (False, True):
            recs = b""
            for it in d["items"]:
                a = answer(it, high)
                if len(a) < 256 and len(recs) < 60000:
                    recs += bytes([len(a)]) + a
            write(da, "builtin-%s-%s" % (name, "high" if high else "low"), bytes([i]) + recs)
        # Out of range, unknown item, wrong kind.
        it = d["items"][0]
        bad = [ld(1, it["id"]) + varint(2 << 3) + varint(99), ld(1, "nope") + varint(2 << 3) + b"\x01",
               ld(1, it["id"]) + ld(7, "")]
        write(da, "builtin-%s-bad" % name, bytes([i]) + b"".join(bytes([len(b)]) + b for b in bad))
    small = {"id": "mini", "version": 1, "language": "fr", "purpose": "other", "title": "Mini",
             "sections": [{"id": "s", "title": "S"}],
             "scales": [{"id": "x", "name": "X", "interpretation": [{"from": 0, "text": "t"}]}],
             "items": [{"id": "n", "section": "s", "kind": "numeric", "text": "N",
                        "scales": ["x"], "numeric_min": -1e9, "numeric_max": 1e9},
                       {"id": "m", "section": "s", "kind": "multiple_choice", "text": "M",
                        "min_selected": 0, "max_selected": 2, "choices": [
                            {"value": "a", "label": "A", "score": -3, "scales": ["x"]},
                            {"value": "b", "label": "B", "score": 7}], "scales": ["x"]}]}
    write(dj, "mini", json.dumps(small))
    write(dc, "mini", encode("boussole.v1.Instrument", instrument_text(small)))
    write(dj, "broken-truncated", json.dumps(small)[:80])
    write(dj, "broken-duplicate", '{"id": "a", "id": "b"}')
    write(dj, "broken-nested", "[" * 5000)
    write(dj, "broken-type", '{"id": 7, "version": "1"}')


if __name__ == "__main__":
    json_seeds()
    jwt_seeds()
    request_seeds()
    http_seeds()
    instrument_seeds()
