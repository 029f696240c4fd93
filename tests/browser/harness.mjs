// Real processes for the browser tests, like tests/integration/test_cluster.hpp: a redis-server on
// a private unix socket, a dispatcher built in build/ on free ports, device-sim for the buttons,
// and the system's Chromium (Debian's `chromium`) driven by playwright-core. Everything lives in
// a temp dir that is removed afterwards.

import { spawn } from "node:child_process";
import { createHash, X509Certificate } from "node:crypto";
import { existsSync, mkdtempSync, rmSync, mkdirSync, openSync, readFileSync, writeFileSync } from "node:fs";
import { request as httpsRequest } from "node:https";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { chromium } from "playwright-core";

const here = path.dirname(fileURLToPath(import.meta.url));
export const repo = path.resolve(here, "../..");
export const buildDir = path.resolve(repo, process.env.BUILD_DIR || "build");
export const artifactsDir = process.env.ANXIN_BROWSER_ARTIFACTS || path.join(buildDir, "browser-artifacts");
const dispatcherBin = path.join(buildDir, "dispatcher/dispatcher");
const deviceSimBin = path.join(buildDir, "device-sim/device-sim");
export const chromiumPath = process.env.CHROMIUM || "/usr/bin/chromium";

export const adminToken = "browser-test-admin-token-0123456789";
export const password = "anxin-test-1";
export const secretOf = (dev) => (dev + "-secret-0123456789abcdef0123456789").slice(0, 40);

// A small Tongzhou-like district: three stations, four operators, a supervisor, three residents.
export function districtJson() {
  const resident = (n, name, lat, lon, dob) => ({
    id: `res-${n}`, name, address: `北京市通州区中仓街道${n}号楼`, phone: `1380000000${n}`, lat, lon,
    date_of_birth: dob, health_conditions: "高血压、心衰", medication: "呋塞米 每早 40 mg",
    gp: "赵医生, 010-60001234",
    key_holders: [{ name: "王丽", relation: "女儿", phone: "13900000001" }, { name: "陈邻居", relation: "邻居", phone: "13900000002" }],
    devices: [{ id: `dev-${n}`, secret: secretOf(`dev-${n}`), model: "wall-unit" }],
  });
  return JSON.stringify({
    stations: [
      { id: "st-a", name: "中仓街道第1养老服务驿站", area: "中仓街道", lat: 39.905, lon: 116.655 },
      { id: "st-b", name: "宋庄镇第1养老服务驿站", area: "宋庄镇", lat: 39.955, lon: 116.735 },
      { id: "st-c", name: "张家湾镇第1养老服务驿站", area: "张家湾镇", lat: 39.845, lon: 116.700 },
    ],
    operators: [
      { id: "op-a1", name: "刘芳", station_id: "st-a", password },
      { id: "op-a2", name: "张伟", station_id: "st-a", password },
      { id: "op-b1", name: "王静", station_id: "st-b", password },
      { id: "op-c1", name: "陈磊", station_id: "st-c", password },
      { id: "sup-1", name: "周强", role: "supervisor", password },
    ],
    residents: [
      resident(1, "李德顺", 39.907, 116.658, "1936-03-02"),
      resident(2, "王桂兰", 39.953, 116.731, "1941-11-20"),
      resident(3, "张秀英", 39.903, 116.651, "1939-07-15"),
    ],
  });
}

export function freePort() {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once("error", reject);
    s.listen(0, "127.0.0.1", () => { const p = s.address().port; s.close(() => resolve(p)); });
  });
}

export const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

export async function waitFor(fn, what, timeoutMs = 15000) {
  const until = Date.now() + timeoutMs;
  for (;;) {
    try { const v = await fn(); if (v) return v; } catch (e) { /* not yet */ }
    if (Date.now() > until) throw new Error("timed out waiting for " + what);
    await sleep(100);
  }
}

export class Cluster {
  // tlsFrom: another Cluster whose certificate this one serves (the browser trusts one key).
  // generated: {stations, residents}: a district made by `device-sim provision` (Tongzhou-like)
  // instead of the small hand-written one; its devices and operators are in this.simDir.
  constructor(extraDispatcherArgs = [], { tlsFrom, generated } = {}) {
    this.dir = mkdtempSync(path.join(tmpdir(), "anxb-"));
    this.procs = [];
    this.tlsFrom = tlsFrom;
    this.generated = generated;
    this.extraArgs = tlsFrom
      ? [...extraDispatcherArgs, "--tls-cert", tlsFrom.certFile, "--tls-key", tlsFrom.keyFile]
      : extraDispatcherArgs;
  }
  async start() {
    this.devicePort = await freePort();
    this.httpPort = await freePort();
    this.redisSock = path.join(this.dir, "redis.sock");
    await this.startRedis();
    await this.startDispatcher();
    if (this.generated) return this.provisionGenerated(this.generated);
    const r = await this.http("POST", "/api/provision", districtJson(), adminToken);
    if (r.status !== 200) throw new Error("provision failed: " + r.status + " " + r.body);
  }
  async provisionGenerated({ stations = 139, residents = 2000, operatorsPerStation = 2, supervisors = 2 }) {
    this.simDir = path.join(this.dir, "sim");
    const rc = await this.run("provision", [deviceSimBin, "provision", "--http-port", String(this.httpPort),
      "--ca-file", this.caFile, "--admin-token-file", this.adminTokenFile(), "--out", this.simDir,
      "--stations", String(stations), "--residents", String(residents), "--operators-per-station", String(operatorsPerStation),
      "--supervisors", String(supervisors), "--password", password]);
    if (rc !== 0) throw new Error("device-sim provision failed:\n" + this.logTail("provision"));
  }
  // A process to its end: its exit code (output in <dir>/<name>.log).
  run(name, [bin, ...args]) {
    const p = this.spawn(name, bin, args);
    return new Promise((resolve) => p.once("exit", (code) => resolve(code)));
  }
  // `device-sim load` against this dispatcher (no bots: the calls wait); its --json result.
  async load({ devices = 2000, rate = 100, duration = 10, types = "sos,fall,low_battery" } = {}) {
    const name = "load-" + Date.now();
    const rc = await this.run(name, [deviceSimBin, "load", "--devices-file", path.join(this.simDir, "devices.csv"),
      "--devices", String(devices), "--servers", `127.0.0.1:${this.devicePort}`, "--source-ips", "0",
      "--ca-file", this.caFile, "--alarm-rate", String(rate), "--duration", String(duration), "--types", types,
      "--settle", "0", "--json"]);
    const lines = readFileSync(path.join(this.dir, name + ".log"), "utf8").split("\n").filter((l) => l.startsWith("{"));
    if (!lines.length) throw new Error(`device-sim load (exit ${rc}) printed no result:\n` + this.logTail(name));
    return JSON.parse(lines[lines.length - 1]);
  }
  // Durable (AOF, fsync always) so that a killed and restarted redis-server keeps the district.
  async startRedis() {
    this.redis = this.spawn("redis", "redis-server", ["--port", "0", "--unixsocket", this.redisSock,
      "--save", "", "--appendonly", "yes", "--appendfsync", "always", "--dir", this.dir]);
    await waitFor(() => existsSync(this.redisSock), "redis-server's socket");
  }
  async killRedis() {
    const p = this.redis;
    const gone = new Promise((r) => p.once("exit", r));
    p.kill("SIGKILL");
    await gone;
    rmSync(this.redisSock, { force: true });
  }
  spawn(name, bin, args) {
    const log = openSync(path.join(this.dir, name + ".log"), "a");
    const p = spawn(bin, args, { stdio: ["ignore", log, log], cwd: this.dir });
    this.procs.push(p);
    return p;
  }
  // The token in a file (0600), never on the command line: every local user can read that.
  adminTokenFile() {
    const file = path.join(this.dir, "admin-token");
    writeFileSync(file, adminToken + "\n", { mode: 0o600 });
    return file;
  }
  async startDispatcher() {
    mkdirSync(path.join(this.dir, "dispatcher"), { recursive: true });
    this.dispatcher = this.spawn("dispatcher", dispatcherBin, [
      "--bind", "127.0.0.1", "--device-port", String(this.devicePort), "--http-port", String(this.httpPort),
      "--redis", this.redisSock, "--data-dir", path.join(this.dir, "dispatcher"), "--admin-token-file", this.adminTokenFile(),
      "--instance", "browser-test", "--pbkdf2-iterations", "1000", "--wrap-up", "0", "--reconnect-grace", "60",
      "--tier-timeout", "30", "--escalation-limit", "120", ...this.extraArgs]);
    await waitFor(async () => (await this.http("GET", "/healthz")).status === 200, "dispatcher /healthz");
  }
  // The CA the dispatcher generated in its data directory, and its HTTPS certificate.
  get caFile() { return this.tlsFrom ? this.tlsFrom.caFile : path.join(this.dir, "dispatcher", "tls", "ca.pem"); }
  get certFile() { return this.tlsFrom ? this.tlsFrom.certFile : path.join(this.dir, "dispatcher", "tls", "server.pem"); }
  get keyFile() { return this.tlsFrom ? this.tlsFrom.keyFile : path.join(this.dir, "dispatcher", "tls", "server.key"); }
  // base64(SHA-256(SubjectPublicKeyInfo)) of the dispatcher's certificate: Chromium is told to
  // accept that one key (--ignore-certificate-errors-spki-list), nothing else.
  spki() {
    const cert = new X509Certificate(readFileSync(this.certFile));
    return createHash("sha256").update(cert.publicKey.export({ type: "spki", format: "der" })).digest("base64");
  }
  // SIGKILL: the dispatcher vanishes the way a crash or a power cut makes it vanish.
  async killDispatcher() {
    const p = this.dispatcher;
    const gone = new Promise((r) => p.once("exit", r));
    p.kill("SIGKILL");
    await gone;
  }
  // SIGSTOP / SIGCONT: the dispatcher's sockets stay open but nothing answers (a hung process, a
  // link that died without a FIN).
  freezeDispatcher() { this.dispatcher.kill("SIGSTOP"); }
  thawDispatcher() { this.dispatcher.kill("SIGCONT"); }
  // The certificate names localhost (and 127.0.0.1).
  get url() { return `https://localhost:${this.httpPort}/`; }
  // An HTTPS request verified against the dispatcher's CA.
  http(method, target, body, token) {
    return new Promise((resolve) => {
      let ca;
      try { ca = readFileSync(this.caFile); } catch (e) { resolve({ status: 0, body: String(e) }); return; }
      const headers = token ? { Authorization: "Bearer " + token } : {};
      if (body !== undefined) headers["Content-Type"] = "application/json";
      const req = httpsRequest({ host: "127.0.0.1", servername: "localhost", port: this.httpPort, path: target, method, ca, headers, timeout: 10000 }, (res) => {
        let text = "";
        res.setEncoding("utf8");
        res.on("data", (d) => { text += d; });
        res.on("end", () => resolve({ status: res.statusCode, body: text, headers: res.headers }));
      });
      req.on("error", (e) => resolve({ status: 0, body: String(e) }));
      req.on("timeout", () => req.destroy(new Error("timeout")));
      if (body !== undefined) req.write(body);
      req.end();
    });
  }
  // A resident presses: device-sim press, its output collected line by line.
  press(device, type = "sos") {
    // Over TLS, trusting the CA the dispatcher generated in its data directory.
    const p = spawn(deviceSimBin, ["press", "--host", "127.0.0.1", "--device-port", String(this.devicePort),
      "--ca-file", this.caFile, "--device", device, "--secret", secretOf(device), "--type", type, "--wait", "300"], { stdio: ["ignore", "pipe", "pipe"] });
    this.procs.push(p);
    const out = { proc: p, text: "" };
    p.stdout.on("data", (d) => { out.text += d; });
    p.stderr.on("data", (d) => { out.text += d; });
    out.waitFor = (needle, ms = 15000) => waitFor(() => out.text.includes(needle), `device-sim "${needle}" (got:\n${out.text})`, ms);
    out.callId = async () => (await waitFor(() => out.text.match(/ACK: call (\S+) stored/), "ack"))[1];
    return out;
  }
  logTail(name = "dispatcher", lines = 40) {
    try { return readFileSync(path.join(this.dir, name + ".log"), "utf8").split("\n").slice(-lines).join("\n"); } catch (e) { return ""; }
  }
  async stop() {
    for (const p of this.procs.reverse()) if (p.exitCode === null && p.signalCode === null) p.kill("SIGTERM");
    await sleep(300);
    for (const p of this.procs) if (p.exitCode === null && p.signalCode === null) p.kill("SIGKILL");
    rmSync(this.dir, { recursive: true, force: true });
  }
}

// A browser that trusts `cluster`'s dispatcher certificate (and no other untrusted one).
export async function launchBrowser(cluster) {
  return chromium.launch({
    executablePath: chromiumPath,
    // --no-sandbox: CI runs as root, where Chromium's sandbox cannot start.
    args: ["--no-sandbox", "--autoplay-policy=no-user-gesture-required", "--disable-dev-shm-usage",
      "--ignore-certificate-errors-spki-list=" + cluster.spki()],
  });
}

// A console page logged in as `op` (through the login form, as a person would).
export async function openConsole(browser, cluster, op, { lang } = {}) {
  const context = await browser.newContext({ viewport: { width: 1440, height: 900 }, locale: "zh-CN" });
  const page = await context.newPage();
  // Script errors and console errors (a CSP violation, a failed request) fail the test.
  page.on("pageerror", (e) => { page.errors = (page.errors || []).concat(String(e)); });
  page.on("console", (m) => { if (m.type() === "error") page.errors = (page.errors || []).concat(m.text()); });
  if (lang) await page.addInitScript((l) => localStorage.setItem("anxin.lang", l), lang);
  await page.goto(cluster.url);
  await page.fill("#login-op", op);
  await page.fill("#login-pw", password);
  await page.click("#login-submit");
  await page.waitForSelector("#who:not([hidden])");
  return page;
}

export async function screenshot(page, name) {
  mkdirSync(artifactsDir, { recursive: true });
  const file = path.join(artifactsDir, name + ".png");
  await page.screenshot({ path: file, fullPage: true });
  console.log("screenshot: " + file);
  return file;
}
