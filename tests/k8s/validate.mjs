// Offline checks of the Kubernetes manifests (deploy/k8s), run by tests/k8s/validate.sh:
//
// 1. schema: every object validates against the Kubernetes schemas of kubernetes-models
//    (types, required fields, enums);
// 2. unknown fields: kubernetes-models lets them through, so every field is also looked up in
//    the model's type declarations (a misspelt "readinessprobe" is silently ignored by the
//    API server otherwise);
// 3. what Boussole needs of them: probes on the health endpoints, requests and limits, a
//    headless Service, an HPA and a PodDisruptionBudget per Deployment, the grace period
//    matching BSL_GRACE_MS, ports matching the images, the restricted security context, the
//    NetworkPolicies, the Secrets and ConfigMaps the pods mount made by the kustomization
//    from files deploy/secrets.sh writes, one Redis configuration for compose and k8s.
//
//   node validate.mjs REPO_DIR SECRETS_SAMPLE_DIR
//
// SECRETS_SAMPLE_DIR: a directory deploy/secrets.sh just filled (the kustomization's file
// references are checked against it). Prints one line per check; exit 1 on any failure.
import { existsSync, readFileSync, readdirSync } from "node:fs";
import { createRequire } from "node:module";
import { dirname, join } from "node:path";
import { parseAllDocuments } from "yaml";

const [repo, sample] = process.argv.slice(2);
const k8s = join(repo, "deploy/k8s");
const require = createRequire(import.meta.url);
const modelsDir = dirname(require.resolve("kubernetes-models/package.json"));
const nodeModules = dirname(modelsDir);

let failures = 0;
let checks = 0;
function ok(cond, what) {
  checks++;
  if (!cond) {
    failures++;
    console.log(`FAIL ${what}`);
  }
  return cond;
}

// ---- load every document ------------------------------------------------------------------
const files = readdirSync(k8s).filter((f) => f.endsWith(".yaml") && f !== "kustomization.yaml");
const objects = [];
for (const f of files.sort()) {
  for (const doc of parseAllDocuments(readFileSync(join(k8s, f), "utf8"))) {
    if (doc.errors.length) {
      ok(false, `${f}: ${doc.errors[0].message}`);
      continue;
    }
    const obj = doc.toJS();
    if (obj) objects.push({ file: f, obj });
  }
}
console.log(`${objects.length} objects in ${files.length} files`);
const name = (o) => `${o.obj.kind}/${o.obj.metadata?.name} (${o.file})`;

// ---- 1. schema ----------------------------------------------------------------------------
function modelPath(apiVersion, kind) {
  const dir = apiVersion.includes("/") ? apiVersion : `v1`;
  return join(modelsDir, dir, kind);
}
for (const o of objects) {
  const { apiVersion, kind } = o.obj;
  const p = modelPath(apiVersion ?? "", kind ?? "");
  if (!ok(existsSync(`${p}.js`), `${name(o)}: ${apiVersion} ${kind} is a known API`)) continue;
  const mod = await import(`${p}.js`);
  try {
    new mod[kind](o.obj).validate();
    ok(true, "");
  } catch (e) {
    ok(false, `${name(o)}: ${e.message}`);
  }
}

// ---- 2. unknown fields, from the models' type declarations ----------------------------------
const ifaceCache = new Map();
// The properties of the first interface declared in a .d.ts file, and where their types live.
function loadIface(dts) {
  if (ifaceCache.has(dts)) return ifaceCache.get(dts);
  let result = null;
  if (existsSync(dts)) {
    const text = readFileSync(dts, "utf8");
    const imports = new Map();
    for (const m of text.matchAll(/import \{ (\w+) \} from "([^"]+)";/g)) {
      let target = m[2];
      target = target.startsWith(".") ? join(dirname(dts), target) : join(nodeModules, target);
      imports.set(m[1], target.replace(/\.js$/, "") + ".d.ts");
    }
    const m = text.match(/export interface \w+( extends TypeMeta)? \{\n([\s\S]*?)\n\}/);
    if (m) {
      const props = new Map();
      if (m[1]) {
        props.set("apiVersion", null);
        props.set("kind", null);
      }
      // Property lines are indented by 4; a map type spans lines ({ [key: string]: X; }).
      const body = m[2].replace(/\/\*\*[\s\S]*?\*\//g, "").split("\n")
        .filter((l) => l.trim() !== "").join("\n") + "\n";
      for (const pm of body.matchAll(/^ {4}"([^"]+)"\??: ([\s\S]*?);\n(?= {4}"|$)/gm)) {
        let type = pm[2].trim();
        let shape = "leaf";
        let arr = type.match(/^Array<(\w+)>$/);
        if (arr) {
          shape = "array";
          type = arr[1];
        } else if (type.startsWith("{")) {
          shape = "map";
          const v = type.match(/\]: (\w+);/);
          type = v ? v[1] : "";
        }
        props.set(pm[1], imports.has(type) ? { shape, dts: imports.get(type) } : null);
      }
      result = props;
    }
  }
  ifaceCache.set(dts, result);
  return result;
}
function strict(value, dts, path) {
  if (value === null || typeof value !== "object") return;
  const props = loadIface(dts);
  if (!props) return; // a type alias (IntOrString, Quantity, Time): nothing to look up
  for (const [k, v] of Object.entries(value)) {
    if (!ok(props.has(k), `${path}.${k}: unknown field`)) continue;
    const t = props.get(k);
    if (!t) continue;
    if (t.shape === "array" && Array.isArray(v)) v.forEach((x, i) => strict(x, t.dts, `${path}.${k}[${i}]`));
    else if (t.shape === "map" && v && typeof v === "object") {
      for (const [mk, mv] of Object.entries(v)) strict(mv, t.dts, `${path}.${k}.${mk}`);
    } else if (t.shape === "leaf") strict(v, t.dts, `${path}.${k}`);
  }
}
for (const o of objects) {
  strict(o.obj, `${modelPath(o.obj.apiVersion, o.obj.kind)}.d.ts`, name(o));
}

// ---- 3. what Boussole needs ---------------------------------------------------------------
const byKind = (k) => objects.filter((o) => o.obj.kind === k).map((o) => o.obj);
const matches = (selector, labels) =>
  Object.entries(selector ?? {}).every(([k, v]) => labels?.[k] === v);
const deployments = byKind("Deployment");
const statefulsets = byKind("StatefulSet");
const services = byKind("Service");
const hpas = byKind("HorizontalPodAutoscaler");
const pdbs = byKind("PodDisruptionBudget");
const policies = byKind("NetworkPolicy");

// The ports the images listen on, from the Dockerfile's final stages.
const dockerfile = readFileSync(join(repo, "deploy/images/Dockerfile"), "utf8");
const imagePorts = {};
for (const stage of dockerfile.split(/^FROM /m).slice(1)) {
  const target = stage.match(/^\S+ AS (\S+)/)?.[1];
  const rpc = stage.match(/BSL_LISTEN=tls\+tcp:\/\/0\.0\.0\.0:(\d+)/)?.[1];
  const admin = stage.match(/BSL_ADMIN=http:\/\/0\.0\.0\.0:(\d+)/)?.[1];
  const http = stage.match(/BSL_HTTP=http:\/\/0\.0\.0\.0:(\d+)/)?.[1];
  if (target) imagePorts[target] = { rpc: Number(rpc), admin: Number(admin ?? http), http: Number(http) };
}

const kustom = (() => {
  const doc = parseAllDocuments(readFileSync(join(k8s, "kustomization.yaml"), "utf8"))[0].toJS();
  return doc;
})();
const generated = new Set([
  ...(kustom.secretGenerator ?? []).map((g) => g.name),
  ...(kustom.configMapGenerator ?? []).map((g) => g.name),
]);

for (const d of [...deployments, ...statefulsets]) {
  const n = `${d.kind}/${d.metadata.name}`;
  const spec = d.spec.template.spec;
  const labels = d.spec.template.metadata.labels;
  ok(matches(d.spec.selector.matchLabels, labels), `${n}: the selector matches the pod labels`);
  ok(spec.automountServiceAccountToken === false, `${n}: no service account token mounted`);
  const psc = spec.securityContext ?? {};
  ok(psc.runAsNonRoot === true && psc.seccompProfile?.type === "RuntimeDefault",
    `${n}: runs as non-root with the RuntimeDefault seccomp profile`);
  for (const c of spec.containers) {
    const cn = `${n} container ${c.name}`;
    const sc = c.securityContext ?? {};
    ok(sc.allowPrivilegeEscalation === false && sc.readOnlyRootFilesystem === true &&
        (sc.capabilities?.drop ?? []).includes("ALL"),
      `${cn}: no privilege escalation, read-only root, every capability dropped`);
    ok(c.resources?.requests?.cpu && c.resources?.requests?.memory && c.resources?.limits?.memory,
      `${cn}: cpu and memory requests, a memory limit`);
    ok(c.readinessProbe && c.livenessProbe, `${cn}: readiness and liveness probes`);
    const portNames = new Set((c.ports ?? []).map((p) => p.name));
    for (const probe of [c.readinessProbe, c.livenessProbe].filter(Boolean)) {
      const port = probe.httpGet?.port ?? probe.tcpSocket?.port;
      if (port !== undefined) ok(portNames.has(port) || typeof port === "number", `${cn}: probe port ${port} is declared`);
    }
    // Volumes and env that refer to Secrets and ConfigMaps the kustomization makes.
    for (const v of spec.volumes ?? []) {
      const refs = [v.secret?.secretName, v.configMap?.name,
        ...(v.projected?.sources ?? []).map((s) => s.secret?.name ?? s.configMap?.name)].filter(Boolean);
      for (const r of refs) ok(generated.has(r), `${n}: volume ${v.name} uses ${r}, made by the kustomization`);
    }
    for (const e of c.envFrom ?? []) {
      const r = e.secretRef?.name ?? e.configMapRef?.name;
      ok(generated.has(r), `${n}: envFrom ${r}, made by the kustomization`);
    }
  }
  if (d.kind === "StatefulSet") {
    ok((d.spec.volumeClaimTemplates ?? []).length > 0, `${n}: a persistent volume claim template`);
    // Redis: maxmemory under the container's memory limit (noeviction then refuses writes
    // rather than the pod being killed).
    const bytes = (q) => {
      const m = String(q ?? "").match(/^(\d+)(Ki|Mi|Gi|kb|mb|gb)?$/i);
      if (!m) return NaN;
      const unit = { ki: 1024, mi: 1024 ** 2, gi: 1024 ** 3, kb: 1024, mb: 1024 ** 2, gb: 1024 ** 3 };
      return Number(m[1]) * (m[2] ? unit[m[2].toLowerCase()] : 1);
    };
    const cmd = spec.containers[0].command ?? [];
    const maxmem = bytes(cmd[cmd.indexOf("--maxmemory") + 1]);
    const limit = bytes(spec.containers[0].resources?.limits?.memory);
    ok(cmd.includes("--maxmemory") && maxmem > 0 && maxmem <= 0.8 * limit,
      `${n}: Redis maxmemory ${maxmem} bytes is at most 80% of the memory limit ${limit}`);
    const svc = services.find((s) => s.metadata.name === d.spec.serviceName);
    ok(svc && svc.spec.clusterIP === "None" && matches(svc.spec.selector, labels),
      `${n}: its headless Service ${d.spec.serviceName} selects it`);
    continue;
  }
  // Deployments: the Boussole processes.
  const c = spec.containers[0];
  const component = labels["app.kubernetes.io/component"];
  const ports = imagePorts[d.metadata.name];
  ok(ports, `${n}: an image stage of the same name in deploy/images/Dockerfile`);
  const cport = (pn) => (c.ports ?? []).find((p) => p.name === pn)?.containerPort;
  if (component === "service") {
    ok(cport("rpc") === ports?.rpc && cport("admin") === ports?.admin,
      `${n}: container ports rpc ${cport("rpc")} and admin ${cport("admin")} are the image's (${ports?.rpc}, ${ports?.admin})`);
    const svc = services.find((s) => matches(s.spec.selector, labels));
    ok(svc && svc.spec.clusterIP === "None" && svc.metadata.name === d.metadata.name &&
        svc.spec.ports.some((p) => p.port === ports?.rpc),
      `${n}: a headless Service named ${d.metadata.name} on the RPC port (callers dial every replica)`);
  } else {
    ok(cport("http") === ports?.http, `${n}: container port http is the image's ${ports?.http}`);
    ok(services.some((s) => matches(s.spec.selector, labels)), `${n}: a Service selects it`);
  }
  // A service is ready when its Redis answers and it is not draining (/readyz). The gateway's
  // /readyz asks every backend: as a readiness probe it would take every gateway out at once
  // when one service is down, so its readiness is /healthz.
  const readyPath = component === "gateway" ? "/healthz" : "/readyz";
  ok(c.readinessProbe?.httpGet?.path === readyPath && c.livenessProbe?.httpGet?.path === "/healthz",
    `${n}: readiness on ${readyPath}, liveness on /healthz`);
  const grace = Number((c.env ?? []).find((e) => e.name === "BSL_GRACE_MS")?.value);
  const tgps = spec.terminationGracePeriodSeconds;
  ok(grace > 0 && tgps >= grace / 1000 + 5 && tgps <= grace / 1000 + 15,
    `${n}: terminationGracePeriodSeconds ${tgps} = BSL_GRACE_MS ${grace} ms + 5..15 s to exit`);
  ok(d.spec.replicas === undefined, `${n}: no fixed replicas (the HPA owns the count)`);
  ok(d.spec.strategy?.rollingUpdate?.maxUnavailable === 0, `${n}: rolling updates keep every replica until the new one is ready`);
  const hpa = hpas.find((h) => h.spec.scaleTargetRef.kind === "Deployment" && h.spec.scaleTargetRef.name === d.metadata.name);
  ok(hpa && hpa.spec.minReplicas >= 1 && hpa.spec.maxReplicas > hpa.spec.minReplicas,
    `${n}: a HorizontalPodAutoscaler (${hpa?.spec.minReplicas}..${hpa?.spec.maxReplicas})`);
  ok(pdbs.some((p) => matches(p.spec.selector.matchLabels, labels)), `${n}: a PodDisruptionBudget`);
}

// NetworkPolicies: closed by default; only the gateway is open to the world; Redis only to
// the services.
const deny = policies.find((p) => Object.keys(p.spec.podSelector ?? {}).length === 0 &&
  (p.spec.podSelector.matchLabels === undefined) && !p.spec.ingress && !p.spec.egress);
ok(deny && deny.spec.policyTypes.includes("Ingress") && deny.spec.policyTypes.includes("Egress"),
  "NetworkPolicy: a default deny of all ingress and egress");
const podsOf = (p) => [...deployments, ...statefulsets].filter((w) =>
  matches(p.spec.podSelector?.matchLabels, w.spec.template.metadata.labels));
for (const p of policies) ok(podsOf(p).length > 0, `NetworkPolicy/${p.metadata.name} selects some pods`);
for (const w of [...deployments, ...statefulsets]) {
  const labels = w.spec.template.metadata.labels;
  const ingress = policies.filter((p) => matches(p.spec.podSelector?.matchLabels, labels))
    .flatMap((p) => p.spec.ingress ?? []);
  const open = ingress.filter((r) => !r.from);
  const comp = labels["app.kubernetes.io/component"];
  if (comp === "gateway") {
    ok(open.length > 0, `${w.kind}/${w.metadata.name}: reachable from outside`);
  } else {
    ok(open.length === 0, `${w.kind}/${w.metadata.name}: not reachable from outside the namespace's rules`);
  }
  if (comp === "datastore") {
    const from = ingress.flatMap((r) => r.from ?? []);
    ok(from.length > 0 && from.every((f) => f.podSelector?.matchLabels?.["app.kubernetes.io/component"] === "service"),
      `${w.kind}/${w.metadata.name}: only the services reach it`);
  }
  if (comp === "service") {
    const port = imagePorts[w.metadata.name]?.rpc;
    ok(ingress.some((r) => (r.ports ?? []).some((p) => p.port === port) &&
        (r.from ?? []).some((f) => f.podSelector?.matchLabels?.["app.kubernetes.io/component"] === "gateway")),
      `${w.kind}/${w.metadata.name}: the gateway reaches its RPC port ${port}`);
  }
}

// The kustomization: its resources exist, its generated files are those deploy/secrets.sh
// writes, redis.conf is the compose stack's.
for (const r of kustom.resources) ok(existsSync(join(k8s, r)), `kustomization: resource ${r} exists`);
ok(files.every((f) => kustom.resources.includes(f)), "kustomization: lists every manifest");
for (const g of kustom.secretGenerator ?? []) {
  for (const spec of [...(g.files ?? []), ...(g.envs ?? [])]) {
    const path = spec.includes("=") ? spec.split("=")[1] : spec;
    ok(path.startsWith("secrets/") && existsSync(join(sample, path.slice("secrets/".length))),
      `kustomization: ${g.name} from ${path}, which deploy/secrets.sh writes`);
  }
}
ok(readFileSync(join(k8s, "redis.conf"), "utf8") === readFileSync(join(repo, "deploy/compose/redis.conf"), "utf8"),
  "redis.conf: the same for Kubernetes and compose");

console.log(`k8s: ${checks - failures} passed, ${failures} failed`);
process.exit(failures ? 1 : 0);
