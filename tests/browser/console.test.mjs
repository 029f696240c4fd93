// The web console in a real browser against real processes (see harness.mjs). Each test asserts
// what the person at the screen would see; screenshots of every view go to build/browser-artifacts.

import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { Cluster, adminToken, launchBrowser, openConsole, screenshot, waitFor } from "./harness.mjs";

let cluster, browser;

before(async () => {
  cluster = new Cluster();
  await cluster.start();
  browser = await launchBrowser(cluster);
});

after(async () => {
  if (browser) await browser.close();
  if (cluster) await cluster.stop();
});

const li = (id) => `#call-list li[data-call-id="${id}"]`;

// No script error, no CSP violation, no failed request on any page; `expected` lists the errors a
// test causes on purpose (a dispatcher that is down refuses the socket).
function noPageErrors(pages, expected = []) {
  for (const p of [].concat(pages)) {
    const errors = (p.errors || []).filter((e) => !expected.some((re) => re.test(e)));
    assert.deepEqual(errors, [], "errors on the page");
  }
}
const outage = [/WebSocket connection to .* failed/, /Failed to load resource: the server responded with a status of 503/];

test("an operator is rung, takes the call, the device is told, the colleague sees it withdrawn, the operator closes it", async (t) => {
  const a = await openConsole(browser, cluster, "op-a1");
  const b = await openConsole(browser, cluster, "op-a2");
  const sup = await openConsole(browser, cluster, "sup-1");
  try {
    assert.match(await a.textContent("#who-station"), /中仓街道第1养老服务驿站/);
    assert.equal(await a.getAttribute("#btn-status", "data-status"), "available");
    assert.equal(await a.evaluate(() => window.anxin.ringCount), 0);

    const press = cluster.press("dev-1", "fall");
    const id = await press.callId();
    await press.waitFor("OFFERED to operators at");

    // The offer appears on both operators' screens, flashing and ringing.
    await a.waitForSelector(`${li(id)}.ringing`);
    await b.waitForSelector(`${li(id)}.ringing`);
    await waitFor(() => a.evaluate(() => window.anxin.ringing && window.anxin.ringCount > 0), "ring on A");
    // The ring repeats until someone looks (one beep every 1.5 s).
    await waitFor(() => b.evaluate(() => window.anxin.ringCount >= 2), "the ring repeats on B", 5000);
    // Sound is on (the login click unlocked it), so no "click to turn the ring on" warning.
    assert.equal(await a.isVisible("#btn-sound"), false);
    assert.match(await a.textContent(li(id)), /跌倒/);
    // The wait clock ticks.
    const c1 = await a.textContent(`${li(id)} .ci-wait`);
    await waitFor(async () => (await a.textContent(`${li(id)} .ci-wait`)) !== c1, "the wait clock ticks", 3000);
    // Selecting it silences the ring and shows the resident's card with callable numbers.
    await a.click(li(id));
    await waitFor(() => a.evaluate(() => !window.anxin.ringing), "ring stops once selected");
    await a.waitForSelector("#resident h2");
    assert.match(await a.textContent("#resident"), /李德顺/);
    assert.match(await a.textContent("#resident"), /高血压/);
    assert.ok(await a.$('#resident a[href="tel:13800000001"]'), "resident's phone is a tel: link");
    assert.ok(await a.$('#resident a[href="tel:13900000001"]'), "key-holder's phone is a tel: link");
    assert.match(await a.textContent("#resident"), /电量|电量未知/);
    await screenshot(b, "operator-offer-ringing");
    await screenshot(a, "operator-offer-selected");

    // Take it with the keyboard shortcut.
    await a.keyboard.press("t");
    await a.waitForSelector(`${li(id)}.held`);
    await press.waitFor("OPERATOR ASSIGNED");
    // The colleague's screen loses it at once.
    await b.waitForSelector(li(id), { state: "detached", timeout: 5000 });
    assert.equal(await b.evaluate(() => window.anxin.ringing), false);
    await screenshot(b, "operator-colleague-withdrawn");

    // The supervisor sees it on the map and in the station table.
    await sup.click('#tabs button[data-tab="district"]');
    await sup.waitForSelector(`#map g.call-g[data-call-id="${id}"]`);
    await sup.waitForSelector('#station-rows tr.has-calls[data-station-id="st-a"]');
    assert.match(await sup.textContent('#station-rows tr[data-station-id="st-a"]'), /刘芳/);
    await screenshot(sup, "supervisor-map-and-stations");

    // Note, then close with an outcome (C).
    await a.fill("#note-text", "已电话回访，老人在厨房摔倒，意识清楚。");
    await a.click("#btn-note");
    await a.waitForSelector("#d-notes li");
    assert.match(await a.textContent("#d-notes"), /厨房摔倒/);
    await a.selectOption("#outcome", "staff_visited");
    await a.fill("#close-note", "工作人员上门扶起，无外伤。");
    await screenshot(a, "operator-call-in-hand");
    await a.click("#call-list");  // focus away from the inputs so the shortcut applies
    await a.keyboard.press("c");
    await a.waitForSelector(li(id), { state: "detached" });
    await press.waitFor("CLOSED: outcome staff_visited");

    // The day's service level counts it; search finds it with its audit trail.
    await sup.click('#tabs button[data-tab="service"]');
    await waitFor(async () => Number(await sup.textContent("#sl-calls")) >= 1, "service level counts the call");
    assert.match(await sup.textContent("#sl-share60"), /%/);
    await sup.waitForSelector("#chart-type svg rect.bar");
    assert.match(await sup.textContent("#chart-type"), /跌倒/);
    await sup.waitForSelector('#sl-stations tr[data-station-id="st-a"]');
    await screenshot(sup, "supervisor-service-level");
    await sup.click('#tabs button[data-tab="search"]');
    await sup.fill("#search-q", "李德顺");
    await sup.click('#search-form button[type="submit"]');
    await sup.click(`#search-rows tr[data-call-id="${id}"]`);
    await sup.waitForSelector("#search-detail .audit-list li");
    for (const ev of ["received", "offered", "accepted", "note", "closed"])
      assert.ok(await sup.$(`#search-detail li[data-event="${ev}"]`), "audit trail has " + ev);
    assert.match(await sup.textContent("#search-detail"), /厨房摔倒/);
    await screenshot(sup, "supervisor-search-audit");
    noPageErrors([a, b, sup]);
  } catch (e) {
    console.log(cluster.logTail());
    throw e;
  } finally {
    for (const p of [a, b, sup]) await p.context().close();
  }
});

test("the page survives a dispatcher restart and shows the true state afterwards", async () => {
  const a = await openConsole(browser, cluster, "op-a1", { lang: "en" });
  const sup = await openConsole(browser, cluster, "sup-1", { lang: "en" });
  try {
    assert.match(await a.textContent("#btn-logout"), /Log out/);
    const press = cluster.press("dev-3", "sos");
    const id = await press.callId();
    await a.waitForSelector(li(id));
    await a.click(li(id));
    await a.click("#btn-take");
    await a.waitForSelector(`${li(id)}.held`);
    await press.waitFor("OPERATOR ASSIGNED");
    await sup.waitForSelector(`${li(id)}`);
    const loginsBefore = await a.evaluate(() => window.anxin.logins);

    await cluster.killDispatcher();
    // Plainly disconnected, and the (possibly stale) lists dimmed.
    await a.waitForSelector('#banner[data-kind="disconnected"]:not([hidden])');
    await a.waitForSelector("body.offline");
    assert.match(await a.textContent("#conn"), /Disconnected/);
    await sup.waitForSelector('#banner[data-kind="disconnected"]:not([hidden])');
    await screenshot(a, "operator-disconnected");

    await cluster.startDispatcher();
    // Back by itself, logged in again with the session token (no password typed), and showing
    // the call it still holds as the server says.
    await a.waitForSelector("#banner[hidden]", { state: "attached", timeout: 20000 });
    await waitFor(() => a.evaluate((n) => window.anxin.logins > n && window.anxin.connected, loginsBefore), "re-login");
    await a.waitForSelector(`${li(id)}.held`);
    assert.equal(await a.isVisible("#view-login"), false);
    await sup.waitForSelector("#banner[hidden]", { state: "attached", timeout: 20000 });
    await sup.waitForSelector(li(id));
    await screenshot(a, "operator-reconnected");

    // The state is live: closing works and the device hears it.
    await a.click(li(id));
    await a.selectOption("#outcome", "resolved_by_phone");
    await a.click("#btn-close");
    await a.waitForSelector(li(id), { state: "detached" });
    // (device-sim hung up when its dispatcher died; the record says what the device would hear.)
    await waitFor(async () => {
      const r = await cluster.http("GET", "/api/calls/" + id, undefined, adminToken);
      return r.status === 200 && JSON.parse(r.body).call.outcome === "resolved_by_phone";
    }, "the call closed in the store");
    await sup.waitForSelector(li(id), { state: "detached" });
    noPageErrors([a, sup], outage);
  } catch (e) {
    console.log(cluster.logTail());
    throw e;
  } finally {
    for (const p of [a, sup]) await p.context().close();
  }
});

test("a dispatcher that loses Redis says so on the page, and the page works again once Redis is back", async () => {
  const a = await openConsole(browser, cluster, "op-a1");
  try {
    await cluster.killRedis();
    await a.waitForSelector('#banner[data-kind="degraded"]:not([hidden])', { timeout: 15000 });
    assert.match(await a.textContent("#banner"), /服务降级/);
    await screenshot(a, "operator-degraded");
    await cluster.startRedis();
    await a.waitForSelector("#banner[hidden]", { state: "attached", timeout: 20000 });
    // Calls flow again: rung, taken, closed.
    const press = cluster.press("dev-1", "medical");
    const id = await press.callId();
    await a.waitForSelector(`${li(id)}.ringing`);
    await a.click(li(id));
    await a.keyboard.press("Enter");
    await press.waitFor("OPERATOR ASSIGNED");
    await a.selectOption("#outcome", "family_contacted");
    await a.click("#btn-close");
    await press.waitFor("CLOSED: outcome family_contacted");
    noPageErrors(a, outage);
  } catch (e) {
    console.log(cluster.logTail());
    throw e;
  } finally {
    await a.context().close();
  }
});

test("a call nobody at a station can take reaches the command centre, stands out there, and a supervisor takes it", async () => {
  const sup = await openConsole(browser, cluster, "sup-1");
  try {
    // No station operator is logged in now: the call goes straight to the command centre.
    const press = cluster.press("dev-2", "sos");
    const id = await press.callId();
    await sup.waitForSelector(`${li(id)}.ringing.hot`);
    await waitFor(() => sup.evaluate(() => window.anxin.ringing), "the command centre is rung");
    // The red count is the emergencies waiting, from the summary (pushed at most once a second).
    await waitFor(async () => (await sup.textContent("#tab-hot")) === "1", "one emergency waiting on the tab", 5000);
    assert.match(await sup.textContent(li(id)), /已升级至指挥中心/);
    await sup.click('#tabs button[data-tab="district"]');
    await sup.waitForSelector(`#map circle.call.hot[data-call-id="${id}"]`);
    await sup.waitForSelector(`#cc-ops .error[data-call-id="${id}"]`);  // listed at the command centre
    await screenshot(sup, "supervisor-escalated-call-on-map");
    // Clicking the call on the map opens it.
    await sup.click(`#map g.call-g[data-call-id="${id}"] circle`);
    await sup.waitForSelector(`${li(id)}.selected`);
    await sup.waitForSelector("#resident h2");
    assert.match(await sup.textContent("#resident"), /王桂兰/);
    await screenshot(sup, "supervisor-escalated-call");
    await sup.keyboard.press("t");
    await press.waitFor("OPERATOR ASSIGNED");
    await sup.waitForSelector(`${li(id)}.held`);
    await sup.selectOption("#outcome", "ambulance_called");
    await sup.click("#btn-close");
    await press.waitFor("CLOSED: outcome ambulance_called");
    await sup.waitForSelector(li(id), { state: "detached" });
    noPageErrors(sup);
  } catch (e) {
    console.log(cluster.logTail());
    throw e;
  } finally {
    await sup.context().close();
  }
});

test("an operator transfers a call to another station, switches status and language", async () => {
  const a = await openConsole(browser, cluster, "op-a1");
  const b = await openConsole(browser, cluster, "op-b1");
  try {
    // Away and back: the server confirms each.
    await a.click("#btn-status");
    await a.waitForSelector('#btn-status[data-status="away"]');
    await a.click("#btn-status");
    await a.waitForSelector('#btn-status[data-status="available"]');
    // English and back.
    await a.click("#btn-lang");
    assert.match(await a.textContent("#btn-logout"), /Log out/);
    assert.equal(await a.getAttribute("html", "lang"), "en");
    await a.click("#btn-lang");
    assert.match(await a.textContent("#btn-logout"), /退出/);

    // A reload keeps the session (the token, not the password) but browsers keep a reloaded page
    // silent until it is clicked: the page says so when it rings.
    await b.reload();
    await b.waitForSelector("#who:not([hidden])");
    assert.equal(await b.isVisible("#view-login"), false);

    const press = cluster.press("dev-3", "inactivity");
    const id = await press.callId();
    await a.waitForSelector(li(id));
    await a.click(li(id));
    await a.click("#btn-take");
    await a.waitForSelector(`${li(id)}.held`);
    await a.fill("#note-text", "老人在宋庄女儿家，请宋庄驿站上门。");
    await a.selectOption("#transfer-station", "st-b");
    await a.click("#btn-transfer");
    await a.waitForSelector(li(id), { state: "detached" });
    // The other station is rung, with the note on the call.
    await b.waitForSelector(`${li(id)}.ringing`);
    await b.waitForSelector("#btn-sound:not([hidden])");
    await b.click("#btn-sound");
    await b.waitForSelector("#btn-sound", { state: "hidden" });
    await b.click(li(id));
    await b.waitForSelector("#d-notes li");
    assert.match(await b.textContent("#d-notes"), /宋庄驿站上门/);
    await b.keyboard.press("t");
    await b.waitForSelector(`${li(id)}.held`);
    await b.selectOption("#outcome", "staff_visited");
    await b.click("#btn-close");
    await press.waitFor("CLOSED: outcome staff_visited");
    noPageErrors([a, b]);
  } catch (e) {
    console.log(cluster.logTail());
    throw e;
  } finally {
    for (const p of [a, b]) await p.context().close();
  }
});

test("with --map-tile-url the map draws the tiles under the district, aligned with the coordinates", async () => {
  // The same certificate as the first cluster's, which the browser was told to trust.
  const tiled = new Cluster(["--map-tile-url", "http://tiles.invalid/{z}/{x}/{y}.png"], { tlsFrom: cluster });
  let sup;
  try {
    await tiled.start();
    sup = await openConsole(browser, tiled, "sup-1");
    await sup.click('#tabs button[data-tab="district"]');
    await sup.waitForSelector('#map g.station-g[data-station-id="st-a"]');
    const images = await sup.$$eval("#map image", (imgs) => imgs.map((i) =>
      ({ href: i.getAttribute("href"), x: +i.getAttribute("x"), y: +i.getAttribute("y"), w: +i.getAttribute("width") })));
    const tiles = images.map((i) => i.href);
    assert.ok(tiles.length > 0, "tiles drawn");
    // The tile that covers st-a (39.905 N, 116.655 E) by the Web Mercator tile maths is drawn
    // where the station's marker is.
    const st = await sup.$eval('#map g.station-g[data-station-id="st-a"] rect', (r) => ({ x: +r.getAttribute("x") + 5, y: +r.getAttribute("y") + 5 }));
    const covers = images.some(({ href, x: ix, y: iy, w }) => {
      if (!(ix <= st.x && st.x <= ix + w && iy <= st.y && st.y <= iy + w)) return false;
      const [z, x, y] = href.match(/(\d+)\/(\d+)\/(\d+)\.png$/).slice(1).map(Number);
      const n = 2 ** z;
      const lon0 = (x / n) * 360 - 180, lon1 = ((x + 1) / n) * 360 - 180;
      const lat = (t) => (Math.atan(Math.sinh(Math.PI * (1 - (2 * t) / n))) * 180) / Math.PI;
      return lon0 <= 116.655 && 116.655 < lon1 && lat(y + 1) <= 39.905 && 39.905 < lat(y);
    });
    assert.ok(covers, "a tile covers station st-a: " + tiles.join(" "));
    noPageErrors(sup, [/Failed to load resource: net::ERR_/]);
  } finally {
    if (sup) await sup.context().close();
    await tiled.stop();
  }
});

test("a connection that goes silent without closing is noticed and replaced", async () => {
  const a = await openConsole(browser, cluster, "op-a1");
  try {
    const logins = await a.evaluate(() => window.anxin.logins);
    cluster.freezeDispatcher();
    // The page pings after 10 s of silence and gives the socket up after 25 s.
    await a.waitForSelector('#banner[data-kind="disconnected"]:not([hidden])', { timeout: 40000 });
    cluster.thawDispatcher();
    await a.waitForSelector("#banner[hidden]", { state: "attached", timeout: 45000 });
    await waitFor(() => a.evaluate((n) => window.anxin.logins > n, logins), "logged in again");
    assert.equal(await a.isVisible("#view-login"), false);
    noPageErrors(a, outage);
  } finally {
    cluster.thawDispatcher();
    await a.context().close();
  }
});

test("the console is served over HTTPS with HSTS and a strict CSP; plaintext on the port is redirected", async () => {
  const page = await openConsole(browser, cluster, "op-b1");
  try {
    assert.equal(await page.evaluate(() => location.protocol), "https:");
    // The console's socket is wss:// to the same origin.
    assert.ok(await page.evaluate(() => window.anxin.logins >= 1), "logged in over wss");
    const r = await cluster.http("GET", "/");
    assert.equal(r.status, 200);
    assert.match(r.headers["strict-transport-security"], /max-age=\d+/);
    assert.match(r.headers["content-security-policy"], /connect-src 'self';/);
    // A browser told http:// gets a redirect to the same address over HTTPS, not a TLS alert.
    const plain = await new Promise((resolve, reject) => {
      import("node:http").then(({ request }) => {
        const req = request({ host: "127.0.0.1", port: cluster.httpPort, path: "/index.html", headers: { Host: `localhost:${cluster.httpPort}` } },
          (res) => { res.resume(); resolve(res); });
        req.on("error", reject);
        req.end();
      });
    });
    assert.equal(plain.statusCode, 301);
    assert.equal(plain.headers.location, `https://localhost:${cluster.httpPort}/index.html`);
    noPageErrors(page);
  } finally {
    await page.context().close();
  }
});
