// The console-surge benchmark of issue 14 (`./scripts/bench.sh console-surge`): how the web console
// and the dispatcher behind it hold up while calls pile up faster than anyone takes them.
//
// One dispatcher with its embedded Redis (built in $BUILD_DIR, default build/), a Tongzhou-like
// district from `device-sim provision` (--devices residents), a supervisor (sup-1) and a station
// operator (op-001-2) logged in through the login form in headless Chromium, then
// `device-sim load --alarm-rate R --duration D --types sos,fall,low_battery` with no bots, so every
// call waits (R x D calls queued: 500/s x 20 s = 10,000). Measured:
//   - each page's main-thread round trip: every second one page.evaluate of a probe
//     (window.anxinProbe() when the console has it, and the DOM's list length either way), one
//     outstanding per page, counted as a timeout when it takes over --probe-timeout seconds;
//     p50 / p99 / max during the load and in the --after seconds after it;
//   - long tasks (PerformanceObserver 'longtask') and the longest requestAnimationFrame gap, both
//     injected at page start (addInitScript);
//   - each page's JS heap (CDP Performance.getMetrics) at the end;
//   - WebSocket frames and bytes each console received per second (CDP Network events, at the
//     browser's network layer, so a stalled page still counts what arrived), and the dispatcher's
//     own anxin_console_* counters from /metrics, whatever of them this build has;
//   - press -> ack from device-sim load, calls waiting at the end (anxin_calls gauge), page errors.
// Results: <out-dir>/<label>-r<rate>.json, and <out-dir>/../console-surge.md regenerated from every
// JSON there (so "before" and "after" runs sit side by side).
//
//   node bench/console_surge.mjs [--rate 500] [--duration 20] [--devices 2000] [--after 20]
//        [--label before] [--probe-timeout 10] [--settle 10] [--no-ws-frames] [--no-raf] [--keep]
//   node bench/console_surge.mjs --report-only     rewrite the report from the JSON files
// --no-raf: no requestAnimationFrame gap meter (it makes each page run a callback every frame);
// --no-ws-frames: no CDP Network events (the browser then sends no frame payloads to node).
//
// Needs tests/browser's playwright-core (cd tests/browser && npm ci) and Debian's chromium
// ($CHROMIUM to use another).

import { spawn, execFileSync } from "node:child_process";
import { createHash, X509Certificate } from "node:crypto";
import { existsSync, mkdtempSync, mkdirSync, readFileSync, readdirSync, rmSync, writeFileSync, openSync } from "node:fs";
import { request as httpsRequest } from "node:https";
import { cpus, loadavg, tmpdir, totalmem } from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { buildDir, freePort, launchBrowser, sleep, waitFor } from "../tests/browser/harness.mjs";

const here = path.dirname(fileURLToPath(import.meta.url));
const repo = path.resolve(here, "..");

// ---- options
const opts = { rate: 500, duration: 20, devices: 2000, after: 20, label: "run", probeTimeout: 10, settle: 10,
  wsFrames: true, raf: true, keep: false, outDir: path.join(here, "console-surge"), supervisor: "sup-1", operator: "op-001-2" };
for (let i = 2; i < process.argv.length; i++) {
  const a = process.argv[i];
  const v = () => { const x = process.argv[++i]; if (x === undefined) throw new Error(a + " needs a value"); return x; };
  if (a === "--rate") opts.rate = Number(v());
  else if (a === "--duration") opts.duration = Number(v());
  else if (a === "--devices") opts.devices = Number(v());
  else if (a === "--after") opts.after = Number(v());
  else if (a === "--label") opts.label = v();
  else if (a === "--probe-timeout") opts.probeTimeout = Number(v());
  else if (a === "--settle") opts.settle = Number(v());
  else if (a === "--out-dir") opts.outDir = path.resolve(v());
  else if (a === "--supervisor") opts.supervisor = v();
  else if (a === "--operator") opts.operator = v();
  else if (a === "--no-ws-frames") opts.wsFrames = false;
  else if (a === "--no-raf") opts.raf = false;
  else if (a === "--keep") opts.keep = true;
  else if (a === "--report-only") opts.reportOnly = true;
  else if (a === "--help" || a === "-h") {
    console.log(readFileSync(fileURLToPath(import.meta.url), "utf8").split("\n").filter((l) => l.startsWith("//")).join("\n"));
    process.exit(0);
  } else throw new Error("unknown option " + a);
}
if (!(opts.rate > 0 && opts.duration > 0 && opts.devices > 0)) throw new Error("--rate, --duration, --devices must be > 0");

const dispatcherBin = path.join(buildDir, "dispatcher/dispatcher");
const simBin = path.join(buildDir, "device-sim/device-sim");
for (const b of [dispatcherBin, simBin]) if (!existsSync(b)) throw new Error(`${b} is missing: build it first (BUILD_DIR=${buildDir})`);
const password = "anxin-bench-1";
const work = mkdtempSync(path.join(tmpdir(), "anxin-console-surge-"));
const dataDir = path.join(work, "d");
const procs = [];
const log = (...a) => console.log(`[${((Date.now() - T0) / 1000).toFixed(1).padStart(6)} s]`, ...a);
const T0 = Date.now();
const loadSamples = [];  // [wall ms, 1-min load average]
const sampleLoad = () => loadSamples.push([Date.now(), loadavg()[0]]);

function run(name, bin, args) {
  const out = openSync(path.join(work, name + ".log"), "a");
  const p = spawn(bin, args, { stdio: ["ignore", out, out] });
  procs.push(p);
  return p;
}

function https(port, target, token) {
  return new Promise((resolve) => {
    let ca;
    try { ca = readFileSync(path.join(dataDir, "tls/ca.pem")); } catch (e) { resolve({ status: 0, body: String(e) }); return; }
    const req = httpsRequest({ host: "127.0.0.1", servername: "localhost", port, path: target, method: "GET", ca,
      headers: token ? { Authorization: "Bearer " + token } : {}, timeout: 5000 }, (res) => {
      let text = "";
      res.setEncoding("utf8");
      res.on("data", (d) => { text += d; });
      res.on("end", () => resolve({ status: res.statusCode, body: text }));
    });
    req.on("error", (e) => resolve({ status: 0, body: String(e) }));
    req.on("timeout", () => req.destroy(new Error("timeout")));
    req.end();
  });
}

// Prometheus text -> { "name{labels}": value }
function parseMetrics(text) {
  const m = {};
  for (const line of text.split("\n")) {
    if (!line.startsWith("anxin_")) continue;
    const sp = line.lastIndexOf(" ");
    const v = Number(line.slice(sp + 1));
    if (!Number.isNaN(v)) m[line.slice(0, sp)] = v;
  }
  return m;
}

// ---- what runs in each page from its first script on
function pageInit(raf) {
  const B = { longtasks: [], ltCount: 0, ltTotal: 0, ltMax: 0, frames: 0, rafMax: 0, rafMaxAt: 0, rafGaps: [], origin: performance.timeOrigin };
  window.__anxinBench = B;
  try {
    new PerformanceObserver((list) => {
      for (const e of list.getEntries()) {
        B.ltCount++; B.ltTotal += e.duration;
        if (e.duration > B.ltMax) B.ltMax = e.duration;
        if (B.longtasks.length < 20000) B.longtasks.push([Math.round(e.startTime), Math.round(e.duration)]);
      }
    }).observe({ type: "longtask", buffered: true });
    B.ltObserver = true;
  } catch (e) { B.ltObserver = String(e); }
  // Long animation frames: the five longest, with the scripts that ran in them (what was busy).
  B.loaf = [];
  try {
    new PerformanceObserver((list) => {
      for (const e of list.getEntries()) {
        if (B.loaf.length >= 5 && e.duration <= B.loaf[B.loaf.length - 1].duration) continue;
        B.loaf.push({ start: Math.round(e.startTime), duration: Math.round(e.duration), blocking: Math.round(e.blockingDuration || 0),
          render: Math.round(e.renderStart ? e.startTime + e.duration - e.renderStart : 0),
          scripts: (e.scripts || []).slice().sort((a, b) => b.duration - a.duration).slice(0, 3)
            .map((x) => `${x.invoker || x.invokerType} ${x.sourceFunctionName || ""}@${(x.sourceURL || "").split("/").pop()}:${x.sourceCharPosition} ${Math.round(x.duration)} ms (layout ${Math.round(x.forcedStyleAndLayoutDuration || 0)})`) });
        B.loaf.sort((a, b) => b.duration - a.duration);
        B.loaf.length = Math.min(B.loaf.length, 5);
      }
    }).observe({ type: "long-animation-frame", buffered: true });
  } catch (e) { B.loaf = String(e); }
  let last = 0;
  const frame = (t) => {
    if (last) {
      const gap = t - last;
      if (gap > B.rafMax) { B.rafMax = gap; B.rafMaxAt = t; }
      if (gap > 50 && B.rafGaps.length < 20000) B.rafGaps.push([Math.round(last), Math.round(gap)]);
    }
    last = t; B.frames++;
    requestAnimationFrame(frame);
  };
  if (raf) requestAnimationFrame(frame);
}

// The probe: the console's own (window.anxinProbe, issue 14) when there, the DOM count always.
function probe() {
  let p = null;
  if (typeof window.anxinProbe === "function") {
    try { p = window.anxinProbe(); } catch (e) { p = { error: String(e) }; }
  }
  const q = document.getElementById("queue-count");
  // The page's frame meters so far, new entries only: a page that stops answering keeps what it
  // measured up to its last answer.
  const B = window.__anxinBench;
  let meters = null;
  if (B) {
    meters = { ltCount: B.ltCount, ltTotal: B.ltTotal, ltMax: B.ltMax, frames: B.frames, rafMax: B.rafMax, origin: B.origin, ltObserver: B.ltObserver,
      loaf: B.loaf, longtasks: B.longtasks.slice(B.ltSent || 0), rafGaps: B.rafGaps.slice(B.gapsSent || 0) };
    B.ltSent = B.longtasks.length; B.gapsSent = B.rafGaps.length;
  }
  const conn = document.getElementById("conn");
  return { probe: p, dom_items: document.querySelectorAll("#call-list > li").length, queue_count: q ? q.textContent : null,
    conn: conn ? (conn.className + " " + conn.textContent).trim().slice(0, 80) : null, meters };
}

// The meters accumulated from a page's answers.
function merge(P, m) {
  if (!m) return;
  const A = P.meters || (P.meters = { longtasks: [], rafGaps: [] });
  A.longtasks.push(...m.longtasks); A.rafGaps.push(...m.rafGaps);
  Object.assign(A, { ltCount: m.ltCount, ltTotal: m.ltTotal, ltMax: m.ltMax, frames: m.frames, rafMax: m.rafMax, origin: m.origin, ltObserver: m.ltObserver, loaf: m.loaf, at: Date.now() });
}

async function openPage(browser, dispatcherUrl, who) {
  const context = await browser.newContext({ viewport: { width: 1440, height: 900 }, locale: "zh-CN" });
  const page = await context.newPage();
  const P = { who, page, errors: [], probes: [], outstanding: null, timeouts: 0, ws: { frames: 0, bytes: 0, perSecond: new Map(), closed: 0 }, last: null };
  page.on("pageerror", (e) => P.errors.push(String(e).slice(0, 300)));
  page.on("console", (m) => { if (m.type() === "error") P.errors.push(m.text().slice(0, 300)); });
  page.on("crash", () => P.errors.push("page crashed"));
  await page.addInitScript(pageInit, opts.raf);
  P.cdp = await context.newCDPSession(page);
  await P.cdp.send("Performance.enable");
  if (opts.wsFrames) {
    await P.cdp.send("Network.enable", { maxTotalBufferSize: 0, maxResourceBufferSize: 0 });
    P.cdp.on("Network.webSocketFrameReceived", (e) => {
      const d = e.response.payloadData || "";
      const bytes = e.response.opcode === 1 ? Buffer.byteLength(d, "utf8") : Math.floor(d.length * 3 / 4);
      const sec = Math.floor(Date.now() / 1000);
      const s = P.ws.perSecond.get(sec) || [0, 0];
      s[0]++; s[1] += bytes;
      P.ws.perSecond.set(sec, s);
      P.ws.frames++; P.ws.bytes += bytes;
    });
    P.cdp.on("Network.webSocketClosed", () => { P.ws.closed++; });
    P.cdp.on("Network.webSocketCreated", () => { P.ws.opened = (P.ws.opened || 0) + 1; });
  }
  await page.goto(dispatcherUrl);
  await page.fill("#login-op", who);
  await page.fill("#login-pw", password);
  await page.click("#login-submit");
  await page.waitForSelector("#who:not([hidden])");
  return P;
}

// One probe outstanding per page; a probe over the timeout counts once as a timeout and its round
// trip is recorded when it does come back (or, censored, at the end).
function probeTick(P) {
  const now = Date.now();
  if (P.outstanding) {
    if (!P.outstanding.timedOut && now - P.outstanding.sent > opts.probeTimeout * 1000) { P.outstanding.timedOut = true; P.timeouts++; }
    return;
  }
  const o = { sent: now, timedOut: false };
  P.outstanding = o;
  P.page.evaluate(probe).then((r) => {
    o.rtt = Date.now() - o.sent; merge(P, r.meters); delete r.meters; o.result = r; P.last = { at: Date.now(), ...r };
  }, (e) => { o.rtt = Date.now() - o.sent; o.error = String(e).slice(0, 200); }).finally(() => {
    P.probes.push(o);
    if (P.outstanding === o) P.outstanding = null;
  });
}

const pct = (xs, p) => {
  if (!xs.length) return null;
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.ceil((p / 100) * s.length) - 1)];
};
const within = (t, a, b) => t >= a && t < b;

async function main() {
  log(`console surge: ${opts.rate} alarms/s for ${opts.duration} s, ${opts.devices} residents, binaries in ${buildDir}; work ${work}`);
  sampleLoad();
  const devicePort = await freePort();
  const httpPort = await freePort();
  const dispatcher = run("dispatcher", dispatcherBin, ["--bind", "127.0.0.1", "--data-dir", dataDir, "--device-port", String(devicePort),
    "--http-port", String(httpPort), "--pbkdf2-iterations", "1000", "--log-level", "warn"]);
  let dispatcherExit = null;
  dispatcher.on("exit", (code, sig) => { dispatcherExit = sig || code; });
  await waitFor(async () => (await https(httpPort, "/healthz")).status === 200, "dispatcher /healthz", 60000);
  const token = readFileSync(path.join(dataDir, "admin-token"), "utf8").trim();
  const ca = path.join(dataDir, "tls/ca.pem");
  const simDir = path.join(work, "sim");
  execFileSync(simBin, ["provision", "--http-port", String(httpPort), "--ca-file", ca, "--admin-token-file", path.join(dataDir, "admin-token"),
    "--out", simDir, "--residents", String(opts.devices), "--password", password], { stdio: ["ignore", "ignore", "inherit"] });
  log("provisioned");

  const spki = () => createHash("sha256").update(new X509Certificate(readFileSync(path.join(dataDir, "tls/server.pem")))
    .publicKey.export({ type: "spki", format: "der" })).digest("base64");
  const browser = await launchBrowser({ spki });
  const url = `https://localhost:${httpPort}/`;
  const pages = [await openPage(browser, url, opts.supervisor), await openPage(browser, url, opts.operator)];
  log(`logged in: ${pages.map((p) => p.who).join(", ")}`);

  // Sampling: probes, /metrics and the load average every second from here to the end.
  const metrics = [];  // [wall ms, parsed]
  let sampling = true;
  const sampler = (async () => {
    while (sampling) {
      const t = Date.now();
      for (const P of pages) probeTick(P);
      sampleLoad();
      https(httpPort, "/metrics", token).then((r) => { if (r.status === 200) metrics.push([Date.now(), parseMetrics(r.body)]); });
      await sleep(Math.max(0, 1000 - (Date.now() - t)));
    }
  })();
  await sleep(3000);  // a quiet baseline

  const loadArgs = ["load", "--device-port", String(devicePort), "--http-port", String(httpPort),
    "--devices-file", path.join(simDir, "devices.csv"), "--operators-file", path.join(simDir, "operators.csv"),
    "--devices", String(opts.devices), "--alarm-rate", String(opts.rate), "--duration", String(opts.duration),
    "--types", "sos,fall,low_battery", "--ca-file", ca, "--redis", path.join(dataDir, "redis.sock"),
    "--settle", String(opts.settle), "--json"];
  log("device-sim " + loadArgs.join(" "));
  const loadStarted = Date.now();
  let loadOut = "";
  const sim = spawn(simBin, loadArgs, { stdio: ["ignore", "pipe", "pipe"] });
  procs.push(sim);
  sim.stdout.on("data", (d) => { loadOut += d; });
  let simErr = "";
  sim.stderr.on("data", (d) => { simErr += d; });
  const simDone = new Promise((r) => sim.on("exit", r));
  // Progress while it runs.
  let lastShown = 0;
  while (sim.exitCode === null && sim.signalCode === null) {
    await Promise.race([simDone, sleep(5000)]);
    if (Date.now() - lastShown >= 5000) {
      lastShown = Date.now();
      const m = metrics.length ? metrics[metrics.length - 1][1] : {};
      log(`alarms received ${m.anxin_alarms_received_total ?? "?"}; ` + pages.map((P) =>
        `${P.who}: ${P.last ? `dom ${P.last.dom_items}${P.last.probe ? ` listed ${P.last.probe.listed}` : ""} (${((Date.now() - P.last.at) / 1000).toFixed(0)} s ago)` : "no answer yet"}, timeouts ${P.timeouts}`).join("; "));
    }
  }
  const loadExited = Date.now();
  metrics.sort((a, b) => a[0] - b[0]);
  // The load window: from the first to the last second in which the dispatcher received alarms.
  const recv = metrics.map(([t, m]) => [t, m.anxin_alarms_received_total ?? 0]);
  let alarmsFrom = null, alarmsTo = null;
  for (let i = 1; i < recv.length; i++) if (recv[i][1] > recv[i - 1][1]) { alarmsFrom ??= recv[i - 1][0]; alarmsTo = recv[i][0]; }
  alarmsFrom ??= loadStarted; alarmsTo ??= loadExited;
  const afterUntil = Math.max(alarmsTo + opts.after * 1000, loadExited + 3000);
  log(`device-sim exited (${sim.exitCode ?? sim.signalCode}); alarms from +${((alarmsFrom - T0) / 1000).toFixed(1)} s to +${((alarmsTo - T0) / 1000).toFixed(1)} s; sampling until +${((afterUntil - T0) / 1000).toFixed(1)} s`);
  while (Date.now() < afterUntil) await sleep(500);
  sampling = false;
  await sampler;
  const ended = Date.now();

  // End of run: heap and counters (each with a timeout: a stalled page may not answer).
  const withTimeout = (p, ms) => Promise.race([p, sleep(ms).then(() => { throw new Error("no answer in " + ms + " ms"); })]);
  const endState = await Promise.all(pages.map(async (P) => {
    const s = { who: P.who };
    try {
      const { metrics: pm } = await withTimeout(P.cdp.send("Performance.getMetrics"), 30000);
      for (const m of pm) if (["JSHeapUsedSize", "JSHeapTotalSize", "Nodes", "ScriptDuration", "LayoutDuration", "RecalcStyleDuration", "TaskDuration", "LayoutCount"].includes(m.name)) s[m.name] = m.value;
    } catch (e) { s.metricsError = String(e); }
    try {
      const r = await withTimeout(P.page.evaluate(probe), 30000);
      merge(P, r.meters); delete r.meters; s.final = r;
    } catch (e) { s.finalError = "final probe: " + String(e.message || e); }
    s.bench = P.meters;
    s.metersUpTo = P.meters ? P.meters.at : null;
    // A probe still outstanding: its round trip so far (censored).
    if (P.outstanding && P.outstanding.rtt === undefined) P.probes.push({ sent: P.outstanding.sent, rtt: ended - P.outstanding.sent, timedOut: P.outstanding.timedOut, censored: true });
    return s;
  }));
  sampleLoad();
  const finalMetrics = parseMetrics((await https(httpPort, "/metrics", token)).body || "");

  // ---- summarise
  let load = null;
  try { load = JSON.parse(loadOut.trim().split("\n").pop()); } catch (e) { load = { error: "device-sim printed no result", stderr: simErr.slice(-500) }; }
  const phases = { load: [alarmsFrom, alarmsTo], after: [alarmsTo, afterUntil] };
  const result = {
    label: opts.label, rate: opts.rate, duration: opts.duration, devices: opts.devices, after_s: opts.after, probe_timeout_s: opts.probeTimeout,
    date: new Date(T0).toISOString(), commit: gitHead(), build_dir: path.relative(repo, buildDir) || buildDir, build_type: buildType(),
    machine: `${cpus().length} cores, ${(totalmem() / 2 ** 30).toFixed(0)} GiB`,
    loadavg: { start: loadSamples[0][1], max: Math.max(...loadSamples.map((x) => x[1])), end: loadSamples[loadSamples.length - 1][1] },
    uptime_end: uptime(),
    metrics_samples: metrics.length, alarms_window_s: (alarmsTo - alarmsFrom) / 1000, ended_s: (ended - alarmsFrom) / 1000,
    dispatcher: dispatcherExit === null ? "survived" : `DIED (${dispatcherExit})`,
    device_sim: load,
    calls_end: Object.fromEntries(Object.entries(finalMetrics).filter(([k]) => k.startsWith("anxin_calls{")).map(([k, v]) => [k.replace(/^anxin_calls\{state="(\w+)"\}$/, "$1"), v])),
    pages: [], server_console_metrics: serverConsoleMetrics(metrics, finalMetrics, phases),
    // [s since the alarms began, consoles connected] each time the dispatcher's count changed
    console_connections: metrics.reduce((acc, [t, m]) => { const v = m.anxin_console_connections;
      if (v !== undefined && (!acc.length || acc[acc.length - 1][1] !== v)) acc.push([Math.round((t - alarmsFrom) / 100) / 10, v]); return acc; }, []),
  };
  for (const [i, P] of pages.entries()) {
    const s = endState[i];
    const pr = {};
    for (const [ph, [a, b]] of Object.entries(phases)) {
      // Every probe outstanding at some time in the phase counts in it (a probe sent during the
      // load and answered 40 s later is also the "after" phase's round trip).
      const inPh = P.probes.filter((o) => o.sent < b && o.sent + o.rtt >= a);
      const xs = inPh.map((o) => o.rtt);
      pr[ph] = { n: xs.length, p50_ms: pct(xs, 50), p99_ms: pct(xs, 99), max_ms: xs.length ? Math.max(...xs) : null,
        timeouts: inPh.filter((o) => o.timedOut).length, unanswered_at_end: inPh.some((o) => o.censored) };
    }
    const lastOk = [...P.probes].reverse().find((o) => o.result);
    const b = s.bench;
    const toWall = (t) => (b ? b.origin + t : 0);
    const ltIn = (a, z) => (b ? b.longtasks.filter(([t]) => within(toWall(t), a, z)) : []);
    const gapIn = (a, z) => (b ? b.rafGaps.filter(([t]) => within(toWall(t), a, z)) : []);
    const phaseFrames = {};
    for (const [ph, [a, z]] of Object.entries(phases)) {
      const lt = ltIn(a, z), gp = gapIn(a, z);
      phaseFrames[ph] = { longtasks: lt.length, longtask_total_ms: lt.reduce((x, [, d]) => x + d, 0), longtask_max_ms: lt.length ? Math.max(...lt.map(([, d]) => d)) : 0,
        raf_max_gap_ms: gp.length ? Math.max(...gp.map(([, d]) => d)) : (b ? "<50" : null) };
    }
    const wsSec = [...P.ws.perSecond.entries()];
    const wsIn = (a, z) => { const xs = wsSec.filter(([s]) => within(s * 1000, a, z)); const n = Math.max(1, (z - a) / 1000);
      return { frames_per_s: xs.reduce((x, [, v]) => x + v[0], 0) / n, bytes_per_s: xs.reduce((x, [, v]) => x + v[1], 0) / n,
        max_frames_in_a_second: xs.length ? Math.max(...xs.map(([, v]) => v[0])) : 0, max_bytes_in_a_second: xs.length ? Math.max(...xs.map(([, v]) => v[1])) : 0 }; };
    result.pages.push({
      who: P.who, probe_method: lastOk?.result?.probe ? "window.anxinProbe() + DOM" : "DOM (#call-list > li)",
      probes: pr, probes_total: P.probes.length, timeouts_total: P.timeouts,
      last_answer: lastOk ? { at_s: (lastOk.sent + lastOk.rtt - alarmsFrom) / 1000, ...lastOk.result } : null,
      meters_up_to_s: s.metersUpTo ? (s.metersUpTo - alarmsFrom) / 1000 : null,
      ws_connections_opened: opts.wsFrames ? P.ws.opened : null,
      final: s.final ?? s.finalError,
      longest_animation_frames: b ? b.loaf : null,
      frames: { ...phaseFrames, run_longtasks: b ? b.ltCount : null, run_longtask_max_ms: b ? b.ltMax : null, run_raf_max_gap_ms: b ? Math.round(b.rafMax) : null, raf_frames: b ? b.frames : null, longtask_observer: b ? b.ltObserver : null },
      heap_used_mb: s.JSHeapUsedSize !== undefined ? s.JSHeapUsedSize / 2 ** 20 : null, heap_total_mb: s.JSHeapTotalSize !== undefined ? s.JSHeapTotalSize / 2 ** 20 : null,
      dom_nodes: s.Nodes ?? null, script_s: s.ScriptDuration ?? null, layout_s: s.LayoutDuration ?? null, style_s: s.RecalcStyleDuration ?? null, task_s: s.TaskDuration ?? null,
      end_errors: [s.metricsError, s.benchError, s.finalError].filter(Boolean),
      ws: opts.wsFrames ? { frames: P.ws.frames, bytes: P.ws.bytes, closed: P.ws.closed, load: wsIn(...phases.load), after: wsIn(...phases.after) } : null,
      // [s since the alarms began (sent), round trip ms, list items in the DOM, probe's listed]
      series: P.probes.map((o) => [Math.round((o.sent - alarmsFrom) / 100) / 10, o.rtt, o.result?.dom_items ?? null, o.result?.probe?.listed ?? null]),
      page_errors: P.errors.length, page_error_samples: [...new Set(P.errors)].slice(0, 5),
    });
  }
  await browser.close().catch(() => {});
  mkdirSync(opts.outDir, { recursive: true });
  const file = path.join(opts.outDir, `${opts.label}-r${opts.rate}.json`);
  writeFileSync(file, JSON.stringify(result, null, 1) + "\n");
  const md = path.join(path.dirname(opts.outDir), "console-surge.md");
  writeReport(opts.outDir, md);
  console.log("\n" + runTable([result]) + "\n" + runDetail(result));
  log(`wrote ${path.relative(repo, file)} and ${path.relative(repo, md)}`);
}

// The dispatcher's anxin_console_* series (logins aside): counters as totals and per second over
// the load window, gauges as the highest value seen; per console = divided by the consoles open.
function serverConsoleMetrics(samples, finalM, phases) {
  const skip = /login|bad_requests/;
  const names = new Set();
  for (const [, m] of samples) for (const k of Object.keys(m)) if (k.startsWith("anxin_console_") && !skip.test(k)) names.add(k);
  const out = {};
  const [a, b] = phases.load;
  const inLoad = samples.filter(([t]) => t >= a - 1500 && t <= b + 1500);
  const consoles = Math.max(1, ...inLoad.map(([, m]) => m.anxin_console_connections ?? 0));
  for (const k of [...names].sort()) {
    const vals = samples.map(([, m]) => m[k]).filter((v) => v !== undefined);
    if (/_total(\{|$)/.test(k)) {
      const lv = inLoad.map(([t, m]) => [t, m[k]]).filter(([, v]) => v !== undefined);
      let maxRate = 0;
      for (let i = 1; i < lv.length; i++) maxRate = Math.max(maxRate, (lv[i][1] - lv[i - 1][1]) / ((lv[i][0] - lv[i - 1][0]) / 1000));
      const perS = lv.length > 1 ? (lv[lv.length - 1][1] - lv[0][1]) / ((lv[lv.length - 1][0] - lv[0][0]) / 1000) : null;
      out[k] = { type: "counter", run_delta: (finalM[k] ?? vals[vals.length - 1]) - vals[0], load_per_s: perS, load_max_per_s: maxRate,
        per_console_per_s: perS === null ? null : perS / consoles, consoles };
    } else {
      out[k] = { type: "gauge", max: Math.max(...vals), end: finalM[k] ?? vals[vals.length - 1] };
    }
  }
  return out;
}

// The code under test: the last commit that changed the server, the console or the simulator.
function gitHead() { try { return execFileSync("git", ["-C", repo, "log", "-1", "--format=%h", "--", "dispatcher", "web", "device-sim", "protocol"], { encoding: "utf8" }).trim(); } catch (e) { return "?"; } }
function buildType() { try { return (readFileSync(path.join(buildDir, "CMakeCache.txt"), "utf8").match(/^CMAKE_BUILD_TYPE:\w+=(.*)$/m) || [])[1] || "?"; } catch (e) { return "?"; } }
function uptime() { try { return execFileSync("uptime", { encoding: "utf8" }).trim(); } catch (e) { return "?"; } }

// ---- the report
const f = (x, d = 0) => (x === null || x === undefined ? "–" : typeof x === "number" ? x.toFixed(d) : String(x));
const ms = (x) => (x === null || x === undefined ? "–" : x >= 10000 ? (x / 1000).toFixed(1) + " s" : x.toFixed(0));
function runTable(results) {
  const rows = ["| run | rate × s | load avg (start/max/end) | page | round trip during load p50 / p99 / max ms (timeouts of probes; ≥: still unanswered at the end) | after load | longest long task / rAF gap ms | heap MB | WS frames/s (max) | WS KB/s (max) | page errors |",
    "|---|---|---|---|---|---|---|---|---|---|---|"];
  for (const r of results) {
    for (const p of r.pages) {
      const pl = p.probes.load, pa = p.probes.after;
      rows.push(`| ${r.label} (${r.commit}) | ${r.rate} × ${r.duration} | ${f(r.loadavg.start, 2)} / ${f(r.loadavg.max, 2)} / ${f(r.loadavg.end, 2)} | ${p.who} | ` +
        `${ms(pl.p50_ms)} / ${ms(pl.p99_ms)} / ${pl.unanswered_at_end ? "≥" : ""}${ms(pl.max_ms)} (${pl.timeouts} of ${pl.n}) | ${ms(pa.p50_ms)} / ${ms(pa.p99_ms)} / ${pa.unanswered_at_end ? "≥" : ""}${ms(pa.max_ms)} (${pa.timeouts} of ${pa.n}) | ` +
        `${f(p.frames.run_longtask_max_ms)} / ${f(p.frames.run_raf_max_gap_ms)} | ${f(p.heap_used_mb, 1)} | ` +
        `${p.ws ? `${f(p.ws.load.frames_per_s, 1)} (${p.ws.load.max_frames_in_a_second})` : "–"} | ${p.ws ? `${f(p.ws.load.bytes_per_s / 1024, 1)} (${f(p.ws.load.max_bytes_in_a_second / 1024, 1)})` : "–"} | ${p.page_errors} |`);
    }
  }
  const rows2 = ["| run | rate × s | presses / acked | press → ack p50 / p99 / max ms | calls waiting at end (received / offered / accepted) | dispatcher → each console during the load: frames/s, KB/s (busiest second: frames, KB) | consoles connected at the end | dispatcher |", "|---|---|---|---|---|---|---|---|"];
  for (const r of results) {
    const d = r.device_sim || {}, a = d.ack || {};
    rows2.push(`| ${r.label} (${r.commit}) | ${r.rate} × ${r.duration} | ${f(d.presses)} / ${f(d.acked)} | ${f(a.p50_ms, 1)} / ${f(a.p99_ms, 1)} / ${f(a.max_ms, 1)} | ` +
      `${f(r.calls_end.received)} / ${f(r.calls_end.offered)} / ${f(r.calls_end.accepted)} | ${serverPerConsole(r.server_console_metrics)} | ${f(r.server_console_metrics?.anxin_console_connections?.end)} | ${r.dispatcher} |`);
  }
  return rows.join("\n") + "\n\n" + rows2.join("\n");
}
function serverPerConsole(sm) {
  const fr = sm?.anxin_console_frames_sent_total, by = sm?.anxin_console_bytes_sent_total;
  if (!fr && !by) return "(no anxin_console_frames/bytes counters in this build)";
  const mf = sm.anxin_console_max_frames_per_second, mb = sm.anxin_console_max_bytes_per_second;
  return `${f(fr?.per_console_per_s, 1)}, ${f(by ? by.per_console_per_s / 1024 : null, 1)} (${f(mf?.max)}, ${f(mb ? mb.max / 1024 : null, 1)})`;
}
function runDetail(r) {
  const L = [`### ${r.label}, ${r.rate} alarms/s × ${r.duration} s (${r.date}, commit ${r.commit}, ${r.build_dir} ${r.build_type})`, "",
    `Machine ${r.machine}; load average ${f(r.loadavg.start, 2)} at the start, ${f(r.loadavg.max, 2)} at most, ${f(r.loadavg.end, 2)} at the end (\`${r.uptime_end}\`). ` +
    `Alarms reached the dispatcher over ${f(r.alarms_window_s, 1)} s (times below: seconds since they began; the run ended at +${f(r.ended_s, 1)} s); the dispatcher ${r.dispatcher}. ` +
    `Consoles connected (dispatcher's gauge, at each change): ${(r.console_connections || []).map(([t, v]) => `${v} at ${t >= 0 ? "+" : ""}${t} s`).join(", ")}.`, ""];
  for (const p of r.pages) {
    const fr = p.frames;
    L.push(`- **${p.who}** (probe: ${p.probe_method}): ${p.probes_total} probes, ${p.timeouts_total} over ${r.probe_timeout_s} s. ` +
      `Long tasks: ${f(fr.run_longtasks)} over the run, longest ${f(fr.run_longtask_max_ms)} ms; during the load ${fr.load.longtasks} (${f(fr.load.longtask_total_ms)} ms in all, longest ${f(fr.load.longtask_max_ms)} ms), after ${fr.after.longtasks} (longest ${f(fr.after.longtask_max_ms)} ms). ` +
      `Longest rAF gap ${f(fr.run_raf_max_gap_ms)} ms (during the load ${f(fr.load.raf_max_gap_ms)}, after ${f(fr.after.raf_max_gap_ms)}); ${f(fr.raf_frames)} frames. ` +
      `Heap ${f(p.heap_used_mb, 1)} MB used of ${f(p.heap_total_mb, 1)} MB, ${f(p.dom_nodes)} DOM nodes; renderer time script ${f(p.script_s, 1)} s, layout ${f(p.layout_s, 1)} s, style ${f(p.style_s, 1)} s, tasks ${f(p.task_s, 1)} s. ` +
      (p.ws ? `WebSocket: ${p.ws.frames} frames, ${f(p.ws.bytes / 2 ** 20, 1)} MB received (${f(p.ws.after.frames_per_s, 1)} frames/s, ${f(p.ws.after.bytes_per_s / 1024, 1)} KB/s after the load)${p.ws.closed ? `, closed ${p.ws.closed}×` : ""}. ` : "") +
      (Array.isArray(p.longest_animation_frames) && p.longest_animation_frames.length ? `Longest animation frame ${p.longest_animation_frames[0].duration} ms (blocking ${p.longest_animation_frames[0].blocking} ms, rendering ${p.longest_animation_frames[0].render} ms; scripts: ${p.longest_animation_frames[0].scripts.map((x) => "`" + x.replace(/[`|]/g, " ") + "`").join(", ") || "none attributed"}). ` : "") +
      `Frame meters up to +${f(p.meters_up_to_s, 1)} s. WebSocket connections opened: ${f(p.ws_connections_opened)}. ` +
      `Last probe answer ${p.last_answer ? `at +${f(p.last_answer.at_s, 1)} s: ${p.last_answer.dom_items} list items, status "${p.last_answer.conn}"${p.last_answer.probe ? `, probe ${JSON.stringify(p.last_answer.probe).slice(0, 200)}` : ""}` : "none"}. ` +
      `Page errors: ${p.page_errors}${p.page_error_samples.length ? ` (${p.page_error_samples.map((e) => "`" + e.replace(/[`|\n]/g, " ").slice(0, 120) + "`").join(", ")})` : ""}` +
      (p.end_errors.length ? `; at the end: ${p.end_errors.join("; ")}` : "") + ".");
  }
  const sm = Object.entries(r.server_console_metrics);
  if (sm.length) {
    L.push("", "Dispatcher `/metrics` (anxin_console_*, logins aside; sampled every second; per console = divided by the most consoles connected during the load):", "",
      "| series | run total | per second during the load | per console per second | highest second / gauge max | end |", "|---|---|---|---|---|---|");
    for (const [k, v] of sm) L.push(v.type === "counter" ? `| \`${k}\` | ${f(v.run_delta)} | ${f(v.load_per_s, 1)} | ${f(v.per_console_per_s, 1)} | ${f(v.load_max_per_s, 1)} | |` : `| \`${k}\` | | | | ${f(v.max)} | ${f(v.end)} |`);
  }
  const d = r.device_sim || {};
  L.push("", `device-sim load: ${d.error ? d.error : `presses ${d.presses}, acked ${d.acked}, unacked ${d.unacked}, lost ${d.lost}, calls open ${d.calls_open}, never offered ${d.never_offered}; press → ack p99 ${f(d.ack?.p99_ms, 1)} ms (max ${f(d.ack?.max_ms, 1)})`}.`, "");
  return L.join("\n");
}
function writeReport(dir, mdFile) {
  const results = readdirSync(dir).filter((n) => n.endsWith(".json")).map((n) => JSON.parse(readFileSync(path.join(dir, n), "utf8")))
    .sort((a, b) => a.date.localeCompare(b.date));
  // Runs of a label together (labels in the order they were first run), by rate.
  const first = {};
  for (const r of results) first[r.label] ??= r.date;
  results.sort((a, b) => first[a.label].localeCompare(first[b.label]) || a.rate - b.rate);
  const head = `# Console surge (issue 14)

\`./scripts/bench.sh console-surge [--rate R] [--duration S] [--devices N] [--label L]\` (\`bench/console_surge.mjs\`):
one dispatcher with its embedded Redis, ${"`device-sim provision`"}'s district, a supervisor (sup-1) and a station
operator (op-001-2) logged in to the web console in headless Chromium, then \`device-sim load --alarm-rate R
--duration S --types sos,fall,low_battery\` with no operator taking calls, so every call waits (500/s × 20 s:
10,000 calls). Every second each page gets one \`page.evaluate\` probe (\`window.anxinProbe()\` when the console has
it, the number of \`#call-list > li\` always), one outstanding at a time: its round trip is the page's
main-thread latency; a probe over 10 s counts as a timeout (and its round trip is recorded when it returns, or
at the end). "During load" = from the first to the last second the dispatcher received alarms; "after" = the
20 s after that. Long tasks (PerformanceObserver) and requestAnimationFrame gaps are measured inside each page
from its first script; the heap is CDP \`Performance.getMetrics\` at the end; WebSocket frames and bytes are what
each console's connection received (CDP Network events, the browser's network layer); the dispatcher's own
\`anxin_console_*\` series from \`/metrics\` where the build has them. The machine is a shared 2-core VM: the load
average is noted with every run. Raw results: \`bench/console-surge/*.json\`.
`;
  // Observations written by hand (bench/console-surge/NOTES.md) go under the method.
  const notesFile = path.join(dir, "NOTES.md");
  const notes = existsSync(notesFile) ? "\n" + readFileSync(notesFile, "utf8").trim() + "\n" : "";
  writeFileSync(mdFile, head + notes + "\n## Summary\n\n" + runTable(results) + "\n\n## Runs\n\n" + results.map(runDetail).join("\n"));
}

const cleanup = () => {
  for (const p of procs.reverse()) if (p.exitCode === null && p.signalCode === null) p.kill("SIGTERM");
};
process.on("SIGINT", () => { cleanup(); process.exit(130); });
process.on("SIGTERM", () => { cleanup(); process.exit(143); });
if (opts.reportOnly) {
  writeReport(opts.outDir, path.join(path.dirname(opts.outDir), "console-surge.md"));
  rmSync(work, { recursive: true, force: true });
  process.exit(0);
}
try {
  await main();
} finally {
  cleanup();
  await sleep(500);
  for (const p of procs) if (p.exitCode === null && p.signalCode === null) p.kill("SIGKILL");
  if (!opts.keep) rmSync(work, { recursive: true, force: true });
  else console.log("kept " + work);
}
process.exit(0);
