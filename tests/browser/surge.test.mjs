// Issue 14: the consoles stay usable in a surge. A generated Tongzhou-like district (device-sim
// provision), a command-centre supervisor and one station operator in the browser, and thousands
// of waiting calls from `device-sim load` (no bots: nobody takes them). While the calls pour in,
// both pages must answer a main-thread probe (a page.evaluate round trip) within a bound, keep only
// a few rows in the DOM, and show what the server counts; then the supervisor closes a group of
// technical alarms at once while the emergencies stay in view.
//
//   SURGE_RATE=500 SURGE_SECONDS=20 PROBE_BOUND_MS=250 node --test surge.test.mjs   (the figures)

import { execFileSync } from "node:child_process";
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { Cluster, adminToken, launchBrowser, openConsole, screenshot, sleep, waitFor } from "./harness.mjs";

const RATE = Number(process.env.SURGE_RATE || 120);
const SECONDS = Number(process.env.SURGE_SECONDS || 20);
// Generous by default: CI machines are shared (and here device-sim, the dispatcher, Redis and two
// pages share them); the 250 ms is asked for with PROBE_BOUND_MS=250. The page that
// froze before this issue did not answer for over 10 s.
const PROBE_BOUND_MS = Number(process.env.PROBE_BOUND_MS || 2000);
const MAX_ROWS = 40;

let cluster, browser;

before(async () => {
  cluster = new Cluster(["--log-level", "warn"], { generated: { stations: 139, residents: 2000 } });
  await cluster.start();
  browser = await launchBrowser(cluster);
});

after(async () => {
  if (browser) await browser.close();
  if (cluster) await cluster.stop();
});

function noPageErrors(pages) {
  for (const p of pages) assert.deepEqual(p.errors || [], [], "errors on the page");
}

// Probes a page again and again until `done()`: every round trip's time, the worst, the largest
// number of list rows in the DOM.
async function probeLoop(page, done) {
  const r = { n: 0, worst: 0, sum: 0, maxRows: 0, last: null };
  while (!done()) {
    const t0 = performance.now();
    const p = await page.evaluate(() => window.anxinProbe());
    const dt = performance.now() - t0;
    r.n++; r.sum += dt; r.worst = Math.max(r.worst, dt); r.maxRows = Math.max(r.maxRows, p.rows_in_dom); r.last = p;
    await sleep(100);
  }
  return r;
}

// The open calls as the server has them (admin token).
// The truth, read from Redis itself (not through the dispatcher, whose board and overview are
// what is being checked): open calls, waiting ones, and of these the emergencies and technical.
async function serverCalls() {
  const script = `local o, w, e, t = 0, 0, 0, 0
for _, id in ipairs(redis.call('ZRANGE', 'anx:calls:open', 0, -1)) do
  local f = redis.call('HMGET', 'anx:call:' .. id, 'state', 'priority')
  if f[1] and f[1] ~= 'closed' then
    o = o + 1
    if f[1] ~= 'accepted' then
      w = w + 1
      if f[2] == '1' then e = e + 1 elseif f[2] == '3' then t = t + 1 end
    end
  end
end
return {o, w, e, t}`;
  const out = execFileSync("redis-cli", ["-s", cluster.redisSock, "EVAL", script, "0"], { encoding: "utf8" });
  const [open, waiting, emergencies, technical] = out.trim().split(/\s+/).map(Number);
  return { open, waiting, emergencies, technical };
}

// The list rows in the DOM, top to bottom: [{id, p}].
const domRows = (page) => page.$$eval("#call-list li.call-item[data-call-id]", (lis) => lis
  .map((li) => ({ id: li.dataset.callId, top: parseFloat(li.style.top), p: Number((li.className.match(/\bp(\d)\b/) || [])[1]) }))
  .sort((a, b) => a.top - b.top));

function assertUrgentFirst(rows, what) {
  assert.ok(rows.length > 0, what + ": rows shown");
  for (let i = 1; i < rows.length; i++) assert.ok(rows[i - 1].p <= rows[i].p, `${what}: ${rows[i - 1].id} (p${rows[i - 1].p}) before ${rows[i].id} (p${rows[i].p})`);
}

test("in a surge both consoles answer at once, show the server's counts, the most urgent first, and the command centre closes a group of technical alarms", async () => {
  const sup = await openConsole(browser, cluster, "sup-1");
  const op = await openConsole(browser, cluster, "op-001-2");
  try {
    assert.equal((await sup.evaluate(() => window.anxinProbe())).role, "supervisor");
    assert.equal((await op.evaluate(() => window.anxinProbe())).role, "operator");

    // The surge, probed all along.
    let loading = true;
    const loops = Promise.all([probeLoop(sup, () => !loading), probeLoop(op, () => !loading)]);
    const started = Date.now();
    let result;
    try { result = await cluster.load({ devices: 2000, rate: RATE, duration: SECONDS }); } finally { loading = false; }
    const [ps, po] = await loops;
    console.log(`[ figure ] load ${RATE}/s for ${SECONDS} s: presses ${result.presses}, acked ${result.acked} in ${((Date.now() - started) / 1000).toFixed(1)} s`);
    console.log(`[ figure ] supervisor probe: ${ps.n} probes, mean ${(ps.sum / ps.n).toFixed(1)} ms, worst ${ps.worst.toFixed(1)} ms, rows in DOM <= ${ps.maxRows}`);
    console.log(`[ figure ] operator probe: ${po.n} probes, mean ${(po.sum / po.n).toFixed(1)} ms, worst ${po.worst.toFixed(1)} ms, rows in DOM <= ${po.maxRows}`);
    for (const [name, p] of [["supervisor", sup], ["operator", op]]) {
      const h = await p.evaluate(() => ({ apply: window.anxin.applyWorstMs, render: window.anxin.renderWorstMs, events: window.anxin.events }));
      console.log(`[ figure ] ${name} page: ${h.events} events applied, longest apply ${h.apply.toFixed(1)} ms, longest draw ${h.render.toFixed(1)} ms`);
    }
    assert.ok(result.acked > RATE * SECONDS * 0.5, "the load pressed and was acked: " + JSON.stringify(result));
    assert.ok(ps.n >= 10 && po.n >= 10, "probed all along");
    assert.ok(ps.worst < PROBE_BOUND_MS, `supervisor answered every probe within ${PROBE_BOUND_MS} ms (worst ${ps.worst.toFixed(0)} ms)`);
    assert.ok(po.worst < PROBE_BOUND_MS, `operator answered every probe within ${PROBE_BOUND_MS} ms (worst ${po.worst.toFixed(0)} ms)`);
    assert.ok(ps.maxRows <= MAX_ROWS && po.maxRows <= MAX_ROWS, "only the rows on screen are in the DOM");

    // The supervisor's counts are the server's (once routing has caught up and the summary has
    // been pushed: at most once a second).
    let srv;
    await waitFor(async () => {
      srv = await serverCalls();
      const p = await sup.evaluate(() => window.anxinProbe());
      return p.waiting === srv.waiting && p.total === srv.open;
    }, "the supervisor's counts match the server's", 60000);
    console.log(`[ figure ] server: ${srv.open} open, ${srv.waiting} waiting, ${srv.emergencies} emergencies, ${srv.technical} technical`);
    assert.ok(srv.waiting > 1000, "thousands of calls wait: " + srv.waiting);
    const sp = await sup.evaluate(() => window.anxinProbe());
    assert.equal(sp.surge, true, "the summary says surge");
    assert.ok(sp.listed <= 200 && sp.rows_in_dom <= MAX_ROWS, JSON.stringify(sp));
    await sup.waitForSelector("#surge-banner:not([hidden])");
    assert.equal(Number(await sup.textContent("#es-count")), srv.emergencies);
    assert.equal(Number(await sup.textContent('#tp-priority button[data-key="1"] .tp-n')), srv.emergencies);
    assert.equal(Number(await sup.textContent('#tp-priority button[data-key="3"] .tp-n')), srv.technical);
    assertUrgentFirst(await domRows(sup), "supervisor");
    assert.equal((await domRows(sup))[0].p, 1, "an emergency on top");
    await screenshot(sup, "surge-supervisor-triage");

    // The operator: the 20 most urgent offers, ringing, and how many more wait.
    const opp = await op.evaluate(() => window.anxinProbe());
    assert.ok(opp.offered > 20, "many calls on offer to the operator: " + JSON.stringify(opp));
    assert.ok(opp.shown <= 20 && opp.listed <= 20, JSON.stringify(opp));
    assert.equal(opp.total, opp.offered);
    assert.ok(await op.evaluate(() => window.anxin.ringing), "the operator is rung");
    await op.waitForSelector("#queue-more:not([hidden])");
    assert.match(await op.textContent("#queue-more"), new RegExp(String(opp.offered - opp.shown)));
    assertUrgentFirst(await domRows(op), "operator");
    assert.equal((await domRows(op))[0].p, 1, "an emergency on top of the operator's list");
    await screenshot(op, "surge-operator");

    // Scrolling the supervisor's list far down fetches that part of the board.
    await sup.$eval("#call-list", (l) => { l.scrollTop = l.scrollHeight / 2; });
    await waitFor(async () => {
      const rows = await domRows(sup);
      return rows.length > 0 && rows[0].top > 1000;
    }, "rows of the middle of the board");
    assert.ok((await sup.evaluate(() => window.anxinProbe())).rows_in_dom <= MAX_ROWS);
    await sup.$eval("#call-list", (l) => { l.scrollTop = 0; });

    // The map: per-station counts, not thousands of markers.
    await sup.click('#tabs button[data-tab="district"]');
    await sup.waitForSelector("#map g.cluster-g circle.cluster.em", { timeout: 20000 });
    assert.equal(await sup.$$eval("#map g.call-g", (g) => g.length), 0);
    await screenshot(sup, "surge-supervisor-map");
    await sup.click('#tabs button[data-tab="calls"]');

    // The group of technical alarms: listed alone, the emergencies still in view.
    await sup.click('#tp-priority button[data-key="3"]');
    await waitFor(async () => Number(await sup.textContent("#group-total")) === srv.technical, "the technical group listed");
    const techRows = await domRows(sup);
    assert.ok(techRows.length > 0 && techRows.every((r) => r.p === 3), "only technical calls listed");
    assert.ok(await sup.isVisible("#emergency-strip"), "the emergencies strip stays");
    assert.equal(Number(await sup.textContent("#es-count")), srv.emergencies);
    // Bulk close: outcome, note, and a confirmation naming the count.
    await sup.click("#bulk-close-open");
    await sup.waitForSelector("#bulk-close-form:not([hidden])");
    const n = Math.min(1000, srv.technical);
    assert.match(await sup.textContent("#bulk-close-confirm"), new RegExp(`\\b${n}\\b`));
    await sup.selectOption("#bulk-outcome", "technical");
    const note = "批量结案：设备电量低，已安排巡检更换电池。";
    await sup.fill("#bulk-close-note", note);
    await screenshot(sup, "surge-supervisor-bulk-confirm");
    await sup.click("#bulk-close-confirm");
    await sup.waitForSelector("#bulk-result[data-done]", { timeout: 60000 });
    const done = Number(await sup.getAttribute("#bulk-result", "data-done"));
    const refused = Number(await sup.getAttribute("#bulk-result", "data-refused"));
    console.log(`[ figure ] bulk close: ${done} closed, ${refused} refused (group of ${srv.technical})`);
    assert.equal(done + refused, n, "every call of the group answered for");
    assert.ok(done >= n - 5, "the group closed");
    await screenshot(sup, "surge-supervisor-bulk-done");
    // Each call carries the audit entry, with the note and who closed it.
    for (const { id } of techRows.slice(0, 3)) {
      const r = await cluster.http("GET", "/api/calls/" + id, undefined, adminToken);
      assert.equal(r.status, 200);
      const rec = JSON.parse(r.body);
      assert.equal(rec.call.state, "closed", id);
      assert.equal(rec.call.outcome, "technical", id);
      const closed = (rec.history || []).find((h) => h.event === "closed");
      assert.ok(closed, id + ": a closed entry in the audit trail");
      assert.match(closed.actor || "", /sup-1/);
      assert.ok(JSON.stringify(rec).includes(note), id + ": the note is on the call");
    }
    // The server and the page agree: the technical group is (nearly) empty, the emergencies wait.
    await waitFor(async () => {
      srv = await serverCalls();
      return Number(await sup.textContent("#group-total")) === srv.technical &&
        Number(await sup.textContent("#es-count")) === srv.emergencies;
    }, "the counts after the bulk close", 20000);
    assert.ok(srv.technical <= refused, "technical calls left: " + srv.technical);
    assert.ok(srv.emergencies > 0);
    // Emergencies one click away from any group.
    await sup.click("#emergency-strip");
    await waitFor(async () => { const rows = await domRows(sup); return rows.length > 0 && rows.every((r) => r.p === 1); }, "the emergencies listed");
    assert.equal(Number(await sup.textContent("#group-total")), srv.emergencies);
    // Selecting one shows its card (get_call).
    const first = (await domRows(sup))[0];
    await sup.click(`#call-list li[data-call-id="${first.id}"]`);
    await sup.waitForSelector("#resident h2");
    assert.equal(await sup.textContent("#d-id"), first.id);
    noPageErrors([sup, op]);
  } catch (e) {
    console.log(cluster.logTail());
    throw e;
  } finally {
    for (const p of [sup, op]) await p.context().close();
  }
});
