// anxin web console: station operators and the district command centre.
//
// Talks to the dispatcher that served it: the console WebSocket /console (protocol/CONSOLE.md) for
// everything live, and the read-only HTTP API (docs/HTTP_API.md) with the session token from
// login_ok for the command centre's overview, reports and search. Plain JS, no build step, nothing
// fetched from anywhere else.
//
// Resilience: the socket reconnects by itself with backoff; on every (re)login the lists are
// cleared and rebuilt from what the server sends (held calls, offers, open calls), so the screen
// never shows a stale state. The session token (sessionStorage) logs in again without the password.
"use strict";

(() => {
  // ---------------------------------------------------------------------------------------------
  // Language
  const I18N = window.ANXIN_I18N;
  let lang = localStorage.getItem("anxin.lang") || "zh";
  if (!I18N[lang]) lang = "zh";
  function t(key, vars) {
    let s = (I18N[lang] && I18N[lang][key]) || I18N.zh[key] || key;
    if (vars) for (const k of Object.keys(vars)) s = s.split("{" + k + "}").join(String(vars[k]));
    return s;
  }
  function applyLanguage() {
    document.documentElement.lang = lang === "zh" ? "zh-CN" : "en";
    document.title = t("app_title");
    for (const el of document.querySelectorAll("[data-i18n]")) el.textContent = t(el.dataset.i18n);
    for (const el of document.querySelectorAll("[data-i18n-ph]")) el.placeholder = t(el.dataset.i18nPh);
    $("btn-lang").textContent = lang === "zh" ? "EN" : "中文";
    S.triageDirty = true;
    renderAll();
  }

  // ---------------------------------------------------------------------------------------------
  // Small helpers
  function $(id) { return document.getElementById(id); }
  function el(tag, attrs, ...children) {
    const e = document.createElement(tag);
    if (attrs) for (const [k, v] of Object.entries(attrs)) {
      if (v === undefined || v === null || v === false) continue;
      if (k === "class") e.className = v;
      else if (k === "text") e.textContent = v;
      else if (k.startsWith("on")) e.addEventListener(k.slice(2), v);
      else if (k.startsWith("data_")) e.dataset[k.slice(5)] = v;
      else e.setAttribute(k, v);
    }
    for (const c of children) if (c !== null && c !== undefined) e.append(c);
    return e;
  }
  const SVG_NS = "http://www.w3.org/2000/svg";
  function svg(tag, attrs, text) {
    const e = document.createElementNS(SVG_NS, tag);
    for (const [k, v] of Object.entries(attrs || {})) if (v !== undefined) e.setAttribute(k, v);
    if (text !== undefined) e.textContent = text;
    return e;
  }
  const num = (v) => (v === undefined || v === null || v === "" ? 0 : Number(v));
  function fmtDuration(ms) {
    const s = Math.max(0, Math.floor(ms / 1000));
    const h = Math.floor(s / 3600), m = Math.floor((s % 3600) / 60), r = s % 60;
    const mm = String(m).padStart(2, "0"), ss = String(r).padStart(2, "0");
    return h > 0 ? `${h}:${mm}:${ss}` : `${mm}:${ss}`;
  }
  function fmtTime(ms) {
    if (!num(ms)) return "";
    const d = new Date(num(ms));
    const p = (n) => String(n).padStart(2, "0");
    return `${d.getFullYear()}-${p(d.getMonth() + 1)}-${p(d.getDate())} ${p(d.getHours())}:${p(d.getMinutes())}:${p(d.getSeconds())}`;
  }
  function fmtAgo(ms) {
    const s = Math.max(0, Math.floor((now() - num(ms)) / 1000));
    if (s < 90) return t("ago_s", { n: s });
    if (s < 5400) return t("ago_m", { n: Math.round(s / 60) });
    return t("ago_h", { n: Math.round(s / 3600) });
  }
  function toast(text, bad) {
    const e = el("div", { class: "toast" + (bad ? " bad" : ""), text });
    // A surge of withdrawn offers must not stack a wall of toasts: the newest few.
    while ($("toasts").children.length >= 4) $("toasts").firstElementChild.remove();
    $("toasts").append(e);
    setTimeout(() => e.remove(), bad ? 8000 : 5000);
  }
  const typeName = (t_) => t("t_" + t_);
  const outcomeName = (o) => (o ? t("o_" + o) : "");
  const stateName = (s) => t("s_" + s);
  const statusName = (s) => (s === "disconnected" ? t("disconnected_status") : t(s));

  // Server clock: wait clocks count from the server's received_ms.
  let clockOffset = 0;
  const now = () => Date.now() + clockOffset;

  // ---------------------------------------------------------------------------------------------
  // State
  const S = {
    me: null,            // login_ok
    token: sessionStorage.getItem("anxin.token") || "",
    wantStatus: sessionStorage.getItem("anxin.status") || "available",
    status: "available",
    calls: new Map(),    // id -> {call, resident, offered, held, seen, k}: offers, held calls
    order: [],           // the entries of `calls` in list order, kept sorted by binary insertion
    // Supervisors (protocol version 2): the district at a glance and the watched window of it.
    summary: null,       // the last `summary`
    board: null,         // the last `board` for the current watch: {total, offset, lines, byId}
    boardMode: false,    // a board arrived: the list is the server's board, not `order`
    filter: { priorities: [], area: "", station_id: "", state: "" }, // the current group
    details: new Map(),  // call id -> call_detail {call, resident} (supervisors' cards)
    queue: null,         // operators: {offered, shown}
    bulk: null,          // the bulk action being confirmed: {action, n, filter}
    selected: null,
    colleagues: new Map(), // operator_id -> {status, state}
    degraded: null,      // detail when degraded
    connected: false,
    attempts: 0,
    stations: [],        // for transfers and names
    overview: null,
    tab: "calls",
    cardCache: new Map(), // call id -> {resident, history}
  };
  // What the browser tests look at (audio cannot be heard headless).
  const hooks = { ringCount: 0, ringing: false, logins: 0, applyWorstMs: 0, renderWorstMs: 0, events: 0, get connected() { return S.connected; } };
  window.anxin = hooks;

  // ---------------------------------------------------------------------------------------------
  // Ringing: a repeating two-tone beep while any offer has not been looked at.
  let audio = null, ringTimer = null;
  function ensureAudio() {
    try {
      if (!audio) audio = new (window.AudioContext || window.webkitAudioContext)();
      if (audio.state === "suspended") audio.resume();
    } catch (e) { audio = null; }
  }
  function beep() {
    hooks.ringCount++;
    document.title = (hooks.ringCount % 2 ? "🔔 " + t("new_call") + " · " : "") + t("app_title");
    // Browsers keep a page silent until it is clicked (e.g. after a reload): say so, loudly.
    $("btn-sound").hidden = !!audio && audio.state === "running";
    if (!audio) return;
    try {
      const t0 = audio.currentTime;
      for (const [i, f] of [[0, 880], [1, 660]]) {
        const o = audio.createOscillator(), g = audio.createGain();
        o.frequency.value = f;
        g.gain.setValueAtTime(0.0001, t0 + i * 0.25);
        g.gain.exponentialRampToValueAtTime(0.25, t0 + i * 0.25 + 0.02);
        g.gain.exponentialRampToValueAtTime(0.0001, t0 + i * 0.25 + 0.22);
        o.connect(g).connect(audio.destination);
        o.start(t0 + i * 0.25);
        o.stop(t0 + i * 0.25 + 0.24);
      }
    } catch (e) { /* no audio device: the flashing still shows it */ }
  }
  function updateRinging() {
    let should = false;
    for (const c of S.calls.values()) if (c.offered && !c.held && !c.seen) { should = true; break; }
    if (should && !ringTimer) {
      beep();
      ringTimer = setInterval(beep, 1500);
    } else if (!should && ringTimer) {
      clearInterval(ringTimer);
      ringTimer = null;
      document.title = t("app_title");
    }
    hooks.ringing = should;
  }

  // ---------------------------------------------------------------------------------------------
  // Connection
  let ws = null, reqSeq = 0, pendingPassword = null, reconnectTimer = null;
  function wsUrl() {
    return (location.protocol === "https:" ? "wss://" : "ws://") + location.host + "/console";
  }
  function send(body) {
    if (!ws || ws.readyState !== WebSocket.OPEN) { toast(t("disconnected", { n: S.attempts }), true); return null; }
    const req = String(++reqSeq);
    ws.send(JSON.stringify(Object.assign({ req }, body)));
    return req;
  }
  function connect() {
    clearTimeout(reconnectTimer);
    if (ws) { ws.onclose = null; ws.close(); }
    setConn("connecting");
    ws = new WebSocket(wsUrl());
    ws.onopen = () => {
      S.connected = true;
      if (pendingPassword) {
        ws.send(JSON.stringify({ req: "login", login: pendingPassword }));
      } else if (S.token) {
        ws.send(JSON.stringify({ req: "login", login: { session_token: S.token } }));
      } else {
        // Nothing to log in with (logged out meanwhile): no socket until the form is sent; the
        // server closes sockets that do not log in within 10 s.
        hangUp();
        showLogin();
        return;
      }
      setConn("ok");
    };
    ws.onmessage = (m) => {
      lastHeard = Date.now();
      let ev;
      try { ev = JSON.parse(m.data); } catch (e) { return; }
      enqueue(ev);
    };
    ws.onclose = socketClosed;
    lastHeard = Date.now();
  }
  // Closes the socket on purpose (logged out, nothing to log in with): no reconnect.
  function hangUp() {
    clearTimeout(reconnectTimer);
    if (ws) { ws.onclose = null; try { ws.close(); } catch (e) { /* already gone */ } }
    ws = null;
    S.connected = false;
    setConn("idle");
  }
  function socketClosed() {
    S.connected = false;
    ws = null;
    // After a refused login the server closes the socket: stay on the form, quietly.
    if (!pendingPassword && !S.token) { hangUp(); return; }
    S.attempts++;
    setConn("down");
    // 0.5 s, 1 s, 2 s, 4 s, then every 5 s (with jitter so a restarted server is not stormed).
    const delay = Math.min(5000, 500 * Math.pow(2, Math.min(S.attempts - 1, 4))) * (0.8 + Math.random() * 0.4);
    clearTimeout(reconnectTimer);
    reconnectTimer = setTimeout(connect, delay);
    updateRinging();
  }
  // A link that dies silently (a cable, a sleeping laptop, a NAT timeout) never fires onclose on
  // its own: ping after 10 s of silence, give the socket up after 25 s.
  let lastHeard = Date.now();
  function watchdog() {
    if (!ws) return;
    const quiet = Date.now() - lastHeard;
    // A connect that hangs (the server's port accepts but nothing answers) is given up too.
    const stuck = ws.readyState === WebSocket.CONNECTING && quiet > 10000;
    if (ws.readyState !== WebSocket.OPEN && !stuck) return;
    if (stuck || quiet > 25000) {
      const dead = ws;
      dead.onclose = null;
      try { dead.close(); } catch (e) { /* already gone */ }
      socketClosed();
    } else if (quiet > 10000) {
      ws.send(JSON.stringify({ req: "ping", ping: {} }));
    }
  }
  function setConn(kind) {
    const c = $("conn");
    c.className = "conn " + kind;
    c.dataset.state = kind;
    c.textContent = kind === "ok" ? t("connected") : kind === "connecting" ? t("connecting") : kind === "idle" ? "" : t("disconnected", { n: S.attempts });
    renderBanner();
  }
  function renderBanner() {
    const b = $("banner");
    // Logged in and not connected, including while a reconnect is being tried: the lists on screen
    // may be stale and new calls cannot arrive, so it must show the whole time.
    const down = $("conn").dataset.state !== "ok" && !!S.me;
    document.body.classList.toggle("offline", down);
    if (down) {
      b.hidden = false; b.className = "banner"; b.dataset.kind = "disconnected";
      b.textContent = t("disconnected_banner");
    } else if (S.degraded !== null) {
      b.hidden = false; b.className = "banner degraded"; b.dataset.kind = "degraded";
      b.textContent = t("degraded_banner", { detail: S.degraded });
    } else {
      b.hidden = true; b.dataset.kind = "";
    }
  }

  // ---------------------------------------------------------------------------------------------
  // The event pump: frames are queued as they arrive and applied in batches once per animation
  // frame (and by a timer as well: a hidden tab gets no frames), at most ~10 ms of them per run;
  // the screen is drawn once after each run, for what is on it. A surge of thousands of events
  // costs the page a few frames, never a frozen tab.
  const inbox = [];
  let inboxHead = 0, pumpScheduled = false, pumpTimer = null, dirty = false;
  function enqueue(ev) {
    // Version 2: a frame may hold a batch of events, applied in order.
    if (ev && ev.batch) { for (const e of ev.batch.events || []) inbox.push(e); } else inbox.push(ev);
    schedulePump();
  }
  function schedulePump() {
    if (pumpScheduled) return;
    pumpScheduled = true;
    requestAnimationFrame(pump);
    pumpTimer = setTimeout(pump, 100);
  }
  function pump() {
    if (!pumpScheduled) return;
    pumpScheduled = false;
    clearTimeout(pumpTimer);
    const t0 = performance.now();
    let n = 0;
    while (inboxHead < inbox.length) {
      const ev = inbox[inboxHead];
      inbox[inboxHead++] = undefined;
      try { onEvent(ev); } catch (e) { console.error("event not applied", e); }
      if (++n % 64 === 0 && performance.now() - t0 > 10) break;
    }
    if (inboxHead >= inbox.length) { inbox.length = 0; inboxHead = 0; }
    else schedulePump(); // the rest in the next frame, after this one is drawn
    const t1 = performance.now();
    if (dirty) { dirty = false; renderNow(); }
    updateRinging();
    const t2 = performance.now();
    // For the benchmark: the longest the page spent applying events, and drawing, in one go.
    hooks.applyWorstMs = Math.max(hooks.applyWorstMs, t1 - t0);
    hooks.renderWorstMs = Math.max(hooks.renderWorstMs, t2 - t1);
    hooks.events += n;
  }
  // Everything that changes what is shown asks for a redraw; the pump draws once per frame.
  function render() { dirty = true; schedulePump(); }

  // ---------------------------------------------------------------------------------------------
  // Events from the server
  function onEvent(ev) {
    if (!ev) return;
    if (ev.batch) { for (const e of ev.batch.events || []) onEvent(e); return; }
    if (ev.login_ok) return onLoginOk(ev.login_ok);
    if (ev.error) return onError(ev);
    if (ev.offer) return upsertCall(ev.offer.call, ev.offer.resident, { offered: true });
    if (ev.accepted) {
      const c = ev.accepted.call;
      upsertCall(c, ev.accepted.resident, { held: c.operator_id === S.me?.operator_id });
      if (ev.req && ev.req !== "" && c.operator_id === S.me?.operator_id) toast(t("accepted_ok", { id: c.id }));
      return;
    }
    if (ev.call_changed) {
      const c = ev.call_changed.call;
      if (c.state === "closed") return removeCall(c.id);
      return upsertCall(c, null, {});
    }
    if (ev.withdrawn) {
      const w = ev.withdrawn;
      const entry = S.calls.get(w.call_id);
      // A supervisor still sees an open call that is no longer on offer to them (taken by
      // someone else, rerouted); call_changed says when it closes.
      if (S.me?.role === "supervisor" && entry) {
        // With the board (version 2) the line stays on the board; the entry is only for offers
        // and held calls.
        if (S.boardMode && !entry.held) return removeCall(w.call_id);
        entry.offered = false; entry.seen = true; render(); return;
      }
      if (entry) {
        toast(w.reason === "taken" ? t("withdrawn_taken", { id: w.call_id, who: w.by_operator_id || "?" }) : t("withdrawn_other", { id: w.call_id }));
      }
      return removeCall(w.call_id);
    }
    if (ev.closed) { toast(t("closed_ok", { id: ev.closed.call_id })); S.details.delete(ev.closed.call_id); return removeCall(ev.closed.call_id); }
    if (ev.note_added) {
      const entry = S.calls.get(ev.note_added.call_id) || S.details.get(ev.note_added.call_id);
      if (entry) {
        entry.call.notes = entry.call.notes || [];
        entry.call.notes.push(ev.note_added.note);
        if (ev.req) { toast(t("note_ok")); $("note-text").value = ""; }
        render();
      }
      return;
    }
    if (ev.cancelled) {
      const entry = S.calls.get(ev.cancelled.call_id);
      if (entry) { entry.call.cancelled_ms = ev.cancelled.cancelled_ms; toast(t("cancelled_toast", { id: entry.call.id })); render(); }
      return;
    }
    if (ev.status_changed) return onStatusChanged(ev.status_changed);
    if (ev.transferred) {
      const st = stationName(ev.transferred.station_id);
      toast(t("transferred_ok", { id: ev.transferred.call_id, st }));
      return removeCall(ev.transferred.call_id);
    }
    if (ev.service_status) {
      S.degraded = ev.service_status.degraded ? (ev.service_status.detail || "") : null;
      renderBanner();
      return;
    }
    if (ev.summary) { S.summary = ev.summary; clockFrom(ev.summary.server_time_ms); S.triageDirty = true; return render(); }
    if (ev.board) return onBoard(ev.board);
    if (ev.call_detail) {
      const d = ev.call_detail;
      if (d.call?.id) {
        S.details.set(d.call.id, d);
        // Only the cards worth keeping: the selected one and a few recent.
        if (S.details.size > 50) S.details.delete(S.details.keys().next().value);
        const e = S.calls.get(d.call.id);
        if (e && !e.resident && d.resident) e.resident = d.resident;
        if (S.selected === d.call.id) render();
      }
      return;
    }
    if (ev.bulk_result) return onBulkResult(ev.bulk_result);
    if (ev.queue) { S.queue = { offered: num(ev.queue.offered), shown: num(ev.queue.shown) }; return render(); }
  }
  // The server's clock, for the wait clocks (any event that carries it).
  function clockFrom(ms) { if (num(ms)) clockOffset = num(ms) - Date.now(); }

  function onLoginOk(lo) {
    const fresh = !S.me || S.me.operator_id !== lo.operator_id;
    S.me = lo;
    hooks.logins++;
    S.attempts = 0;
    setConn("ok");
    clockOffset = num(lo.server_time_ms) - Date.now();
    S.token = lo.session_token || "";
    sessionStorage.setItem("anxin.token", S.token);
    pendingPassword = null;
    // The true state follows this login_ok: forget everything shown before it.
    S.calls.clear();
    S.order = [];
    S.board = null;
    S.boardMode = false;
    S.summary = null;
    S.queue = null;
    S.details.clear();
    S.triageDirty = true;
    S.colleagues.clear();
    S.degraded = null;
    S.status = lo.status || "available";
    if (fresh) { S.selected = null; S.tab = "calls"; }
    if (S.wantStatus === "away" && S.status !== "away") send({ set_status: { status: "away" } });
    showApp();
    loadStations();
    if (lo.role === "supervisor") {
      // The board and the summary (version 2): their size does not grow with the queue.
      if (fresh) S.filter = { priorities: [], area: "", station_id: "", state: "" };
      sendWatch(0);
      if (S.tab === "district") refreshOverview();
    }
    render();
    updateRinging();
  }

  function onError(ev) {
    const e = ev.error;
    if (ev.req === "login") {
      if (e.code === "bad_credentials") {
        // A wrong password, or a stale token (expired, revoked): back to the login form.
        S.token = ""; sessionStorage.removeItem("anxin.token");
        pendingPassword = null;
        showLogin(t("bad_credentials"));
      } else if (S.token && S.me) {
        // e.g. the store is unavailable: keep the screen, say so, try again shortly.
        S.degraded = e.message || e.code;
        renderBanner();
        setTimeout(() => { if (ws) ws.close(); }, 2000); // retried by the reconnect loop
      } else if (e.code === "busy" && pendingPassword) {
        // The server is checking other passwords: try again shortly without asking the person.
        const again = pendingPassword;
        setTimeout(() => { if (pendingPassword === again && ws && ws.readyState === WebSocket.OPEN) ws.send(JSON.stringify({ req: "login", login: again })); }, Math.max(200, num(e.retry_after_ms)));
        return;
      } else if (e.code === "rate_limited") {
        pendingPassword = null;
        showLogin(t("rate_limited", { n: Math.ceil(Math.max(1000, num(e.retry_after_ms)) / 1000) }));
      } else {
        pendingPassword = null;
        showLogin(e.message || e.code);
        setTimeout(() => { if (ws) ws.close(); }, 2000);
      }
      return;
    }
    if (e.code === "already_taken" && e.call_id) removeCall(e.call_id);
    toast(t("error", { m: e.message || e.code }), true);
  }

  function onStatusChanged(sc) {
    if (sc.operator_id === S.me?.operator_id && sc.status && sc.status !== "disconnected") {
      if (sc.status === "available" || sc.status === "away") {
        S.status = sc.status;
        if (sc.reason && sc.reason.startsWith("missed")) { S.wantStatus = sc.status; toast(sc.reason, true); }
      }
    } else {
      const prev = S.colleagues.get(sc.operator_id) || {};
      S.colleagues.set(sc.operator_id, { status: sc.status || prev.status, state: sc.state || prev.state });
    }
    if (S.overview) {
      for (const st of S.overview.stations || []) for (const o of st.operators || []) {
        if (o.id === sc.operator_id) {
          if (sc.status === "disconnected") o.present = false;
          else if (sc.status) { o.status = sc.status; o.present = sc.status !== "logged_out"; }
          if (sc.state) o.state = sc.state;
        }
      }
    }
    render();
  }

  // The list order, kept incrementally: calls in my hands first, then by priority, then oldest
  // first (then id, so the order is total). Each entry keeps the key it was inserted with, so it
  // can be found again by binary search when it changes or leaves.
  function keyOf(e) { return { h: e.held ? 0 : 1, p: num(e.call.priority) || 9, r: num(e.call.received_ms), id: e.call.id }; }
  function cmpKey(a, b) { return (a.h - b.h) || (a.p - b.p) || (a.r - b.r) || (a.id < b.id ? -1 : a.id > b.id ? 1 : 0); }
  function lowerBound(k) {
    let lo = 0, hi = S.order.length;
    while (lo < hi) { const mid = (lo + hi) >> 1; if (cmpKey(S.order[mid].k, k) < 0) lo = mid + 1; else hi = mid; }
    return lo;
  }
  function orderInsert(e) { e.k = keyOf(e); S.order.splice(lowerBound(e.k), 0, e); }
  function orderRemove(e) {
    if (!e.k) return;
    let i = lowerBound(e.k);
    if (S.order[i] !== e) i = S.order.indexOf(e); // never expected; keeps the list right regardless
    if (i >= 0) S.order.splice(i, 1);
    e.k = null;
  }
  function upsertCall(call, resident, flags) {
    if (!call || !call.id) return;
    let entry = S.calls.get(call.id);
    if (!entry) {
      entry = { call, resident: resident || null, offered: false, held: false, seen: false, k: null };
      S.calls.set(call.id, entry);
    } else {
      entry.call = call;
      if (resident) entry.resident = resident;
    }
    if (flags.offered) entry.offered = true;
    if (flags.held !== undefined) entry.held = flags.held;
    if (call.state === "accepted") {
      entry.offered = false;
      // Someone else holds it: operators drop it; supervisors keep watching it.
      if (call.operator_id !== S.me?.operator_id && S.me?.role !== "supervisor") { removeCall(call.id); return; }
    }
    if (entry.held) entry.seen = true;
    const k = keyOf(entry);
    if (!entry.k || cmpKey(k, entry.k) !== 0) { orderRemove(entry); orderInsert(entry); }
    if (!S.selected && entry.held) S.selected = call.id;
    render();
  }
  function removeCall(id) {
    const e = S.calls.get(id);
    if (e) { orderRemove(e); S.calls.delete(id); }
    if (S.selected === id && !(S.boardMode && S.board?.byId.has(id))) S.selected = null;
    render();
  }

  // ---------------------------------------------------------------------------------------------
  // Views
  function showLogin(message) {
    S.me = null;
    $("view-login").hidden = false;
    for (const v of ["view-calls", "view-district", "view-service", "view-search", "tabs", "who"]) $(v).hidden = true;
    $("login-error").hidden = !message;
    $("login-error").textContent = message || "";
    $("login-submit").disabled = false;
    renderBanner();
  }
  function showApp() {
    $("view-login").hidden = true;
    $("who").hidden = false;
    $("tabs").hidden = S.me.role !== "supervisor";
    document.body.dataset.role = S.me.role;
    showTab(S.me.role === "supervisor" ? S.tab : "calls");
  }
  function showTab(tab) {
    S.tab = tab;
    listView.height = 0; // measured again once shown
    for (const b of $("tabs").querySelectorAll("button")) b.classList.toggle("active", b.dataset.tab === tab);
    $("view-calls").hidden = tab !== "calls";
    $("view-district").hidden = tab !== "district";
    $("view-service").hidden = tab !== "service";
    $("view-search").hidden = tab !== "search";
    if (tab === "district") refreshOverview();
    if (tab === "service") loadServiceLevel();
    render();
  }

  // Escalated or long-waiting calls that nobody has taken yet: once someone has it, it is calm.
  function isHot(c) {
    if (c.state === "accepted" || c.state === "closed") return false;
    return c.at_command_centre || now() - num(c.received_ms) > 60000;
  }

  function renderNow() {
    if (!S.me) return;
    const st = $("btn-status");
    st.className = "status-toggle " + S.status;
    st.dataset.status = S.status;
    st.textContent = S.status === "away" ? t("set_available") : t("set_away");
    $("who-name").textContent = `${S.me.name} (${S.me.operator_id})`;
    $("who-station").textContent = S.me.role === "supervisor" ? t("cc") : S.me.station_name;
    renderBanner();
    renderTabCounts();
    if (S.tab === "calls") { renderTriage(); renderQueue(); renderDetail(); }
    if (S.tab === "district") renderDistrict();
  }

  // Supervisors: open calls, and in red the emergencies waiting (from the summary); without a
  // summary (a version-1 server), how many of the calls shown are escalated or waiting over 60 s.
  function renderTabCounts() {
    let open, hot;
    if (S.summary) {
      open = num(S.summary.open);
      hot = num((S.summary.by_priority || []).find((c) => c.key === "1")?.waiting);
      $("tab-hot").title = t("tab_hot_title");
    } else {
      open = S.calls.size; hot = 0;
      for (const e of S.calls.values()) if (isHot(e.call)) hot++;
      $("tab-hot").title = t("lg_call_hot");
    }
    $("tab-open").textContent = String(open);
    $("tab-hot").textContent = String(hot);
    $("tab-hot").hidden = hot === 0;
  }

  // The list is virtual: fixed row height, a spacer as tall as all the rows, and only the rows
  // on screen (plus a few) in the DOM, kept by call id and updated in place.
  const ROW_H = 84, OVERSCAN = 4;
  const rowEls = new Map(); // key (call id, or "#i" for a row not loaded yet) -> li
  // The rows to list: the board's window for supervisors (version 2), else the ordered model.
  function listModel() {
    if (S.me?.role === "supervisor" && S.boardMode && S.board) {
      const b = S.board;
      return {
        count: b.total,
        at: (i) => {
          const line = b.lines[i - b.offset];
          if (!line) return null;
          const e = S.calls.get(line.id);
          return { id: line.id, call: e ? Object.assign({}, line, { operator_id: e.call.operator_id || line.operator_id }) : line, entry: e, line: true };
        },
      };
    }
    return { count: S.order.length, at: (i) => { const e = S.order[i]; return e ? { id: e.call.id, call: e.call, entry: e } : null; } };
  }
  // The list's scroll position and height, as of the last scroll / resize: reading them from
  // the DOM after the frame's changes would force a layout of the whole page every frame.
  const listView = { top: 0, height: 0 };
  function measureList() { const l = $("call-list"); listView.top = l.scrollTop; listView.height = l.clientHeight; }
  function visibleRange(count) {
    if (!listView.height) measureList();
    const h = listView.height || 600;
    const first = Math.max(0, Math.floor(listView.top / ROW_H) - OVERSCAN);
    const last = Math.min(count, Math.ceil((listView.top + h) / ROW_H) + OVERSCAN);
    return [first, last];
  }
  function rowSub(r) {
    const c = r.call, e = r.entry;
    const name = e?.resident?.name || S.details.get(r.id)?.resident?.name;
    return [name, c.id, e?.held ? stateName("accepted") : stateName(c.state), c.station_name, c.area, c.operator_id && c.state === "accepted" && !e?.held ? c.operator_id : "", c.at_command_centre ? t("at_cc") : ""].filter(Boolean).join(" · ");
  }
  function renderQueue() {
    const list = $("call-list");
    const model = listModel();
    const spacer = list.firstElementChild;
    spacer.style.height = model.count * ROW_H + "px";
    const [first, last] = visibleRange(model.count);
    const keep = new Set();
    for (let i = first; i < last; i++) {
      const r = model.at(i);
      const key = r ? r.id : "#" + i;
      keep.add(key);
      let li = rowEls.get(key);
      if (!li) {
        li = r ? el("li", { tabindex: "0", data_callId: r.id, onclick: () => select(r.id) },
          el("span", { class: "ci-type" }), el("span", { class: "ci-wait clock" }), el("span", { class: "ci-sub" }))
          : el("li", { class: "call-item placeholder", "aria-hidden": "true" }, el("span", { class: "ci-sub", text: t("loading_rows") }));
        rowEls.set(key, li);
        list.append(li);
      }
      li.style.top = i * ROW_H + "px";
      if (!r) continue;
      const c = r.call, e = r.entry;
      const p = num(c.priority) || 3;
      const ringing = !!e && e.offered && !e.held && !e.seen;
      const held = !!e?.held;
      const cls = `call-item p${p}` + (S.selected === r.id ? " selected" : "") + (ringing ? " ringing" : "") + (held ? " held" : "") + (isHot(c) ? " hot" : "");
      if (li.className !== cls) li.className = cls;
      li.dataset.state = c.state || "";
      const typeText = `${typeName(c.alarm_type)} · ${t("p_" + p)}`;
      if (li.children[0].textContent !== typeText) li.children[0].textContent = typeText;
      const since = String(held ? num(c.accepted_ms) || num(e.call.accepted_ms) : num(c.received_ms));
      const clock = li.children[1];
      if (clock.dataset.since !== since) { clock.dataset.since = since; clock.textContent = fmtDuration(now() - num(since)); }
      const sub = rowSub(r);
      if (li.children[2].textContent !== sub) li.children[2].textContent = sub;
    }
    for (const [key, li] of rowEls) if (!keep.has(key)) { li.remove(); rowEls.delete(key); }
    const total = model.count;
    $("queue-count").textContent = String(S.me.role === "operator" && S.queue ? Math.max(total, S.queue.offered + heldCount()) : total);
    $("queue-empty").hidden = total > 0;
    const more = S.me.role === "operator" && S.queue ? S.queue.offered - S.queue.shown : 0;
    $("queue-more").hidden = more <= 0;
    $("queue-more").textContent = more > 0 ? t("more_waiting", { n: more }) : "";
    const col = $("colleagues");
    if (S.me.role === "supervisor") { if (col.firstChild) col.replaceChildren(); }
    else {
      col.replaceChildren(...[...S.colleagues.entries()].map(([id, s]) =>
        el("span", { class: "chip " + (s.state === "on_call" ? "on_call" : s.status), text: `${id} · ${statusName(s.status || "")}` })));
    }
  }
  function heldCount() { let n = 0; for (const e of S.calls.values()) if (e.held) n++; return n; }
  // Scrolling the list: draw the rows now on screen; supervisors fetch the board around them.
  function onListScroll() {
    measureList();
    render();
    if (S.me?.role === "supervisor" && S.boardMode && S.board) {
      const [first, last] = visibleRange(S.board.total);
      const b = S.board;
      const have0 = b.offset, have1 = b.offset + b.lines.length;
      if (first < have0 || (last > have1 && have1 < b.total)) sendWatch(Math.max(0, first - 60));
    }
  }

  // ---------------------------------------------------------------------------------------------
  // Supervisors: the board (the watched window) and the summary
  const WATCH_LIMIT = 200;
  let watchTimer = null, lastWatchAt = 0, wantOffset = 0;
  function watchBody(offset) {
    const f = S.filter;
    const w = { offset, limit: WATCH_LIMIT };
    if (f.priorities.length) w.priorities = f.priorities.slice();
    if (f.area) w.area = f.area;
    if (f.station_id) w.station_id = f.station_id;
    if (f.state) w.state = f.state;
    return w;
  }
  // At most one watch every 150 ms (a fast scroll sends the last position, not every one).
  function sendWatch(offset) {
    wantOffset = offset;
    const wait = lastWatchAt + 150 - Date.now();
    if (wait > 0) { if (!watchTimer) watchTimer = setTimeout(() => { watchTimer = null; sendWatch(wantOffset); }, wait); return; }
    lastWatchAt = Date.now();
    if (ws && ws.readyState === WebSocket.OPEN) send({ watch: watchBody(offset) });
  }
  function sameFilter(w) {
    const f = S.filter;
    return (w.priorities || []).map(Number).join(",") === f.priorities.join(",") && (w.area || "") === f.area &&
      (w.station_id || "") === f.station_id && (w.state || "") === f.state;
  }
  function onBoard(b) {
    clockFrom(b.server_time_ms);
    // A board for an earlier watch (the group changed meanwhile) is not this group's.
    if (!sameFilter(b.watch || {})) return;
    const lines = b.calls || [];
    S.board = { total: num(b.total), offset: num(b.watch?.offset), lines, byId: new Map(lines.map((l) => [l.id, l])) };
    S.boardMode = true;
    render();
  }
  function setFilter(f) {
    S.filter = Object.assign({ priorities: [], area: "", station_id: "", state: "" }, f);
    S.board = null; // the old group's rows are not this one's
    S.bulk = null;
    $("call-list").scrollTop = 0;
    listView.top = 0;
    S.triageDirty = true;
    sendWatch(0);
    if (S.tab !== "calls") showTab("calls");
    render();
  }
  function filterName() {
    const f = S.filter, parts = [];
    if (f.priorities.length) parts.push(f.priorities.map((p) => t("p_" + p)).join("+"));
    if (f.area) parts.push(f.area);
    if (f.station_id) parts.push(stationName(f.station_id));
    return parts.length ? parts.join(" · ") : t("all_calls");
  }
  function countOf(list, key) { return (list || []).find((c) => c.key === key); }
  // A triage list updated in place, keyed by group: its buttons stay put (and clickable) while
  // the counts change every second; nodes move only when the order changes.
  function syncTriage(ul, items, onPick, isActive) {
    const have = ul._byKey || (ul._byKey = new Map());
    const keep = new Set();
    items.forEach(([label, c], i) => {
      keep.add(c.key);
      let li = have.get(c.key);
      if (!li) {
        const b = el("button", { type: "button", class: "tp-item", data_key: c.key, onclick: () => onPick(c.key) },
          el("span", { class: "tp-name" }), el("span", { class: "tp-n" }), el("span", { class: "tp-em" }), el("span", { class: "tp-age clock" }));
        li = el("li", {}, b);
        have.set(c.key, li);
      }
      const b = li.firstChild, em = num(c.emergencies);
      b.className = "tp-item" + (isActive(c.key) ? " active" : "") + (em ? " has-em" : "");
      b.children[0].textContent = label;
      b.children[1].textContent = String(num(c.waiting));
      b.children[2].textContent = em ? t("emerg_n", { n: em }) : "";
      b.children[2].hidden = !em;
      b.children[3].dataset.since = String(num(c.oldest_received_ms));
      if (ul.children[i] !== li) ul.insertBefore(li, ul.children[i] || null);
    });
    for (const [k, li] of have) if (!keep.has(k)) { li.remove(); have.delete(k); }
  }
  function renderTriage() {
    const sup = S.me?.role === "supervisor";
    $("triage").hidden = !sup;
    document.body.classList.toggle("has-triage", sup);
    if (!sup) return;
    const sm = S.summary;
    const em = sm ? countOf(sm.by_priority, "1") : null;
    // Emergencies are never hidden: whatever the filter, this strip says how many wait.
    const emN = num(em?.waiting);
    $("es-count").textContent = String(emN);
    $("emergency-strip").classList.toggle("none", emN === 0);
    $("es-oldest").dataset.since = String(num(sm?.oldest_emergency_received_ms));
    $("surge-banner").hidden = !sm?.surge;
    // The server's reason is English (with the thresholds); in Chinese the counts are worded here.
    if (sm?.surge) $("surge-banner").textContent = sm.surge_reason && lang === "en"
      ? t("surge_banner", { reason: sm.surge_reason })
      : t("surge_banner_counts", { minute: num(sm.received_last_minute), waiting: num(sm.waiting) });
    // The group bar: what the list shows, and what can be done with it.
    const f = S.filter;
    $("group-name").textContent = filterName();
    $("group-total").textContent = S.board ? String(S.board.total) : "…";
    $("group-state").value = f.state;
    $("group-clear").hidden = !f.priorities.length && !f.area && !f.station_id && !f.state;
    const technicalGroup = f.priorities.length === 1 && f.priorities[0] === 3 && f.state === "waiting";
    const n = S.board ? S.board.total : 0;
    const bc = $("bulk-close-open"), bt = $("bulk-transfer-open");
    // Bulk close only ever on a group of waiting technical alarms (never emergencies or urgent);
    // on any other group, a button narrows it to its technical alarms first.
    if (technicalGroup) { bc.hidden = n === 0; bc.textContent = t("bulk_close_btn", { n }); bc.dataset.mode = "close"; }
    else { bc.hidden = false; bc.textContent = t("bulk_only_technical"); bc.dataset.mode = "narrow"; bc.className = "ghost"; }
    if (technicalGroup) bc.className = "danger";
    const grouped = f.state === "waiting" && (f.priorities.length || f.area || f.station_id);
    bt.hidden = !grouped || n === 0;
    bt.textContent = t("bulk_transfer_btn", { n });
    if (S.bulk) {
      const m = Math.min(S.bulk.n, 1000);
      $("bulk-close-title").textContent = t("bulk_close_title", { n: S.bulk.n }) + (S.bulk.n > 1000 ? t("bulk_max") : "");
      $("bulk-close-confirm").textContent = t("bulk_close_confirm", { n: m });
      $("bulk-transfer-title").textContent = t("bulk_transfer_title", { n: S.bulk.n }) + (S.bulk.n > 1000 ? t("bulk_max") : "");
      $("bulk-transfer-confirm").textContent = t("bulk_transfer_confirm", { n: m });
    }
    $("bulk-close-form").hidden = S.bulk?.action !== "close";
    $("bulk-transfer-form").hidden = S.bulk?.action !== "transfer";
    $("bulk-panel").hidden = !S.bulk && $("bulk-result").hidden;
    if (!S.triageDirty) return;
    S.triageDirty = false;
    if (!sm) return;
    const prio = [1, 2, 3].map((p) => countOf(sm.by_priority, String(p)) || { key: String(p), waiting: 0 });
    syncTriage($("tp-priority"), prio.map((c) => [t("p_" + c.key), c]),
      (k) => setFilter({ priorities: [Number(k)], state: "waiting" }), (k) => f.priorities.length === 1 && String(f.priorities[0]) === k);
    syncTriage($("tp-area"), (sm.by_area || []).slice(0, 30).map((c) => [c.key || "—", c]),
      (k) => setFilter({ area: k, state: "waiting" }), (k) => f.area === k);
    syncTriage($("tp-station"), (sm.by_station || []).slice(0, 40).map((c) => [c.name || stationName(c.key), c]),
      (k) => setFilter({ station_id: k, state: "waiting" }), (k) => f.station_id === k);
    const ow = $("oldest-waiting");
    ow.textContent = sm.oldest_waiting_call_id || "—";
    ow.dataset.callId = sm.oldest_waiting_call_id || "";
    $("oldest-waiting-clock").dataset.since = String(num(sm.oldest_waiting_received_ms));
    tick();
  }
  function openBulk(action) {
    const n = S.board ? S.board.total : 0;
    if (!n) return;
    S.bulk = { action, n, filter: watchBody(0) };
    delete S.bulk.filter.offset; delete S.bulk.filter.limit;
    $("bulk-result").hidden = true;
    if (action === "transfer") loadFreeStations();
    render();
  }
  async function loadFreeStations() {
    const sel = $("bulk-station");
    try { S.overview = await api("/api/overview"); } catch (e) { /* the list stays as it was */ }
    const free = (S.overview?.stations || []).map((s) => ({ s: s.station, n: (s.operators || []).filter((o) => o.present && o.status === "available").length }))
      .filter((x) => x.n > 0 && x.s.id !== S.filter.station_id);
    sel.replaceChildren(...free.map((x) => el("option", { value: x.s.id, text: t("bulk_station_free", { name: x.s.name, n: x.n }) })));
    $("bulk-transfer-confirm").disabled = free.length === 0;
    if (!free.length) sel.replaceChildren(el("option", { value: "", text: t("bulk_no_station") }));
  }
  function confirmBulk() {
    const b = S.bulk;
    if (!b) return;
    if (b.action === "close") {
      send({ bulk_close: { filter: Object.assign({}, b.filter, { priorities: [3] }), outcome: $("bulk-outcome").value, note: $("bulk-close-note").value.trim() } });
    } else {
      const station_id = $("bulk-station").value;
      if (!station_id) return;
      send({ bulk_transfer: { filter: b.filter, station_id, note: $("bulk-transfer-note").value.trim() } });
    }
    S.bulk = null;
    $("bulk-result").hidden = false;
    $("bulk-result").className = "bulk-result";
    $("bulk-result").textContent = t("bulk_pending");
    render();
  }
  function onBulkResult(r) {
    const done = (r.done_call_ids || []).length, refused = r.refused || [];
    const codes = new Map();
    for (const x of refused) codes.set(x.code, (codes.get(x.code) || 0) + 1);
    const box = $("bulk-result");
    box.hidden = false;
    box.className = "bulk-result" + (refused.length ? " partial" : " ok");
    box.dataset.done = String(done);
    box.dataset.refused = String(refused.length);
    box.textContent = t(r.action === "transfer" ? "bulk_done_transfer" : "bulk_done_close", { n: done }) +
      (refused.length ? t("bulk_refused", { n: refused.length, codes: [...codes].map(([c, n]) => `${c} ×${n}`).join(", ") }) : "");
    $("bulk-close-note").value = ""; $("bulk-transfer-note").value = "";
    render();
  }

  function select(id) {
    S.selected = id;
    const e = S.calls.get(id);
    if (e) e.seen = true;
    // Supervisors' lines carry no card: ask for it (call_detail).
    if (S.me?.role === "supervisor" && (!e || !e.resident || !S.details.has(id))) {
      if (S.boardMode) send({ get_call: { call_id: id } });
      // A version-1 server (no board): the card from the call record.
      else fetchRecord(id).then((rec) => { if (rec?.call) { S.details.set(id, { call: rec.call, resident: rec.resident }); render(); } });
    }
    scrollToRow(id);
    updateRinging();
    render();
  }
  // Brings a selected row into view (keyboard navigation, a click on the map).
  function scrollToRow(id) {
    let i = -1;
    if (S.me?.role === "supervisor" && S.boardMode && S.board) {
      const j = S.board.lines.findIndex((l) => l.id === id);
      if (j >= 0) i = S.board.offset + j;
    } else {
      const e = S.calls.get(id);
      if (e?.k) i = lowerBound(e.k);
    }
    if (i < 0) return;
    const list = $("call-list");
    if (i * ROW_H < list.scrollTop) list.scrollTop = i * ROW_H;
    else if ((i + 1) * ROW_H > list.scrollTop + list.clientHeight) list.scrollTop = (i + 1) * ROW_H - list.clientHeight;
    measureList();
  }
  // What is known of a call: the live entry (offer, held), the card from get_call, the board line.
  function cardOf(id) {
    if (!id) return null;
    const e = S.calls.get(id), d = S.details.get(id), line = S.board?.byId.get(id);
    if (!e && !d && !line) return null;
    const call = Object.assign({}, d?.call, line, e?.call);
    return { call, resident: e?.resident || d?.resident || null, held: !!e?.held, entry: e };
  }

  function renderDetail() {
    const e = cardOf(S.selected);
    $("detail-empty").hidden = !!e;
    $("detail-body").hidden = !e;
    if (!e) return;
    const c = e.call;
    const p = num(c.priority) || 3;
    $("d-type").className = "type-badge p" + p;
    $("d-type").textContent = `${typeName(c.alarm_type)} · ${t("p_" + p)}`;
    $("d-id").textContent = c.id;
    $("d-state").textContent = stateName(c.state) + (c.at_command_centre ? " · " + t("at_cc") : "");
    $("d-cancelled").hidden = !num(c.cancelled_ms);
    $("d-wait").dataset.since = String(num(c.received_ms));
    $("d-wait").dataset.until = String(num(c.accepted_ms));
    $("d-oncall-box").hidden = !num(c.accepted_ms);
    $("d-oncall").dataset.since = String(num(c.accepted_ms));
    $("d-station").textContent = (c.station_name || "") + (c.distance_km ? ` (${t("distance", { n: Number(c.distance_km).toFixed(1) })})` : "");
    $("d-operator").textContent = c.operator_id ? (c.operator_id === S.me.operator_id ? `${c.operator_id} (${t("you")})` : c.operator_id) : "—";
    const canTake = !e.held && c.state !== "accepted" && c.state !== "closed" && (S.me.role === "supervisor" || !!e.entry);
    $("btn-take").hidden = !canTake;
    $("held-actions").hidden = !e.held;
    const notesSig = c.id + ":" + (c.notes || []).length;
    if ($("d-notes").dataset.sig !== notesSig) {
      $("d-notes").dataset.sig = notesSig;
      $("d-notes").replaceChildren(...(c.notes || []).map((n) =>
        el("li", {}, el("span", { class: "muted", text: `${fmtTime(n.time_ms)} ${n.operator_id || ""}: ` }), n.text)));
    }
    const sel = $("transfer-station");
    if (sel.options.length !== S.stations.length) {
      sel.replaceChildren(...S.stations.map((s) => el("option", { value: s.id, text: s.name })));
    }
    renderResident(e);
  }

  function renderResident(e) {
    const box = $("resident");
    const r = e.resident;
    // Supervisors' cards come with call_detail (asked for on select).
    if (!r) { if (box.dataset.for !== "loading") { box.dataset.for = "loading"; box.replaceChildren(el("p", { class: "muted", text: t("loading_card") })); } return; }
    // The card only changes with a new resident record: do not rebuild it every frame.
    const sig = e.call.id + "|" + lang + "|" + (r.devices || []).map((d) => d.battery_percent + ":" + d.online).join(",");
    if (box.dataset.for === sig) return;
    box.dataset.for = sig;
    const tel = (p) => el("a", { href: "tel:" + p, text: p });
    const dl = el("dl");
    const row = (k, ...v) => dl.append(el("dt", { text: k }), el("dd", {}, ...v));
    row(t("phone"), r.phone ? tel(r.phone) : "—");
    row(t("address"), r.address || "—");
    row(t("key_holders"), el("ol", {}, ...(r.key_holders || []).map((k) =>
      el("li", {}, `${k.name}${k.relation ? " (" + k.relation + ")" : ""} `, k.phone ? tel(k.phone) : ""))));
    row(t("health"), el("span", { class: r.health_conditions ? "health" : "", text: r.health_conditions || "—" }));
    row(t("medication"), r.medication || "—");
    row(t("gp"), gpNode(r.gp));
    row(t("devices"), el("ul", {}, ...(r.devices || []).map((d) => el("li", {
      text: `${d.id}${d.model ? " " + d.model : ""} · ${num(d.battery_percent) >= 0 && d.battery_percent !== undefined ? t("battery", { n: num(d.battery_percent) }) : t("battery_unknown")} · ${d.online ? t("online") : t("offline")}${num(d.last_seen_ms) ? " · " + t("last_heartbeat", { t: fmtAgo(d.last_seen_ms) }) : ""}${num(d.sequence_collisions) + num(d.counter_resets) > 0 ? " · ⚠ " + t("counter_lost", { n: num(d.sequence_collisions) + num(d.counter_resets) }) : ""}`,
    }))));
    const recent = r.recent_calls || [];
    row(t("recent_calls"), recent.length ? el("ul", {}, ...recent.map((rc) =>
      el("li", { text: `${fmtTime(rc.received_ms)} ${typeName(rc.alarm_type)} · ${stateName(rc.state)}${rc.outcome ? " · " + outcomeName(rc.outcome) : ""}` }))) : t("no_recent"));
    const age = num(r.age) ? t("age", { n: r.age }) : "";
    box.replaceChildren(el("h2", {}, r.name || r.id, el("span", { class: "muted", text: age })), dl);
  }
  function gpNode(gp) {
    if (!gp) return "—";
    // "Dr. Zhao, 010-60001234": make the number callable.
    const m = gp.match(/(\+?[\d][\d\- ]{5,}\d)/);
    if (!m) return gp;
    const i = gp.indexOf(m[1]);
    return el("span", {}, gp.slice(0, i), el("a", { href: "tel:" + m[1].replace(/[ -]/g, ""), text: m[1] }), gp.slice(i + m[1].length));
  }

  // ONE timer drives every wait clock, once a second: only the clocks in the DOM (the rows on
  // screen, the card, the triage panels), and the rows' "hot" mark (waiting over 60 s).
  function tick() {
    for (const c of document.querySelectorAll(".clock")) {
      const since = num(c.dataset.since), until = num(c.dataset.until);
      const text = since ? fmtDuration((until || now()) - since) : "";
      if (c.textContent !== text) c.textContent = text;
    }
    for (const li of rowEls.values()) {
      const id = li.dataset.callId;
      const card = id && (S.calls.get(id)?.call || S.board?.byId.get(id));
      if (card) li.classList.toggle("hot", isHot(card));
    }
  }

  // ---------------------------------------------------------------------------------------------
  // Actions
  function take(id) {
    id = id || S.selected;
    const card = cardOf(id);
    if (!card || card.held) return;
    // Operators take what is offered to them; supervisors any waiting call.
    if (!card.entry && S.me?.role !== "supervisor") return;
    if (card.entry) card.entry.seen = true;
    updateRinging();
    send({ accept: { call_id: id } });
  }
  function closeSelected() {
    const e = S.calls.get(S.selected);
    if (!e || !e.held) return;
    const outcome = $("outcome").value;
    if (!outcome) { toast(t("choose_outcome_first"), true); $("outcome").focus(); return; }
    send({ close: { call_id: e.call.id, outcome, note: $("close-note").value.trim() } });
    $("outcome").value = ""; $("close-note").value = "";
  }
  function addNote() {
    const e = S.calls.get(S.selected);
    const text = $("note-text").value.trim();
    if (!e || !text) { $("note-text").focus(); return; }
    send({ add_note: { call_id: e.call.id, text } });
  }
  function transfer() {
    const e = S.calls.get(S.selected);
    const station_id = $("transfer-station").value;
    if (!e || !station_id) return;
    send({ transfer: { call_id: e.call.id, station_id, note: $("note-text").value.trim() } });
  }

  function onKey(ev) {
    if (!S.me || S.tab !== "calls") return;
    const typing = ["INPUT", "TEXTAREA", "SELECT"].includes(document.activeElement?.tagName);
    if (typing) {
      if (ev.key === "Enter" && document.activeElement === $("note-text")) { ev.preventDefault(); addNote(); }
      if (ev.key === "Enter" && document.activeElement === $("close-note")) { ev.preventDefault(); closeSelected(); }
      if (ev.key === "Escape") document.activeElement.blur();
      return;
    }
    if (ev.ctrlKey || ev.metaKey || ev.altKey) return;
    // Enter on a focused button or link is that button's click, not "take".
    if (ev.key === "Enter" && ["BUTTON", "A"].includes(document.activeElement?.tagName)) return;
    // The rows loaded (the ordered model, or the board's window), in list order.
    const calls = S.me.role === "supervisor" && S.boardMode && S.board
      ? S.board.lines.map((l) => ({ call: l, held: !!S.calls.get(l.id)?.held }))
      : S.order;
    const k = ev.key.toLowerCase();
    if (k === "t" || ev.key === "Enter") {
      // The call with the keyboard focus, else the selected one, else the first waiting one.
      let id = document.activeElement?.dataset?.callId || S.selected;
      const cur = id && cardOf(id);
      if (!cur || cur.held || cur.call.state === "accepted") id = calls.find((c) => !c.held && c.call.state !== "accepted")?.call.id;
      if (id) { select(id); take(id); }
      ev.preventDefault();
    } else if (k === "c") {
      closeSelected(); ev.preventDefault();
    } else if (k === "n") {
      $("note-text").focus(); ev.preventDefault();
    } else if (ev.key === "ArrowDown" || ev.key === "ArrowUp") {
      if (!calls.length) return;
      let i = calls.findIndex((c) => c.call.id === S.selected);
      i = ev.key === "ArrowDown" ? Math.min(calls.length - 1, i + 1) : Math.max(0, i - 1);
      select(calls[i].call.id);
      ev.preventDefault();
    }
  }

  // ---------------------------------------------------------------------------------------------
  // HTTP API (session token, read-only)
  async function api(path) {
    const r = await fetch(path, { headers: { Authorization: "Bearer " + S.token }, cache: "no-store" });
    if (!r.ok) throw new Error(`${r.status} ${path}`);
    return r.json();
  }
  function stationName(id) {
    if (id === "@cc") return t("cc");
    return S.stations.find((s) => s.id === id)?.name || id;
  }
  async function loadStations() {
    try { S.stations = (await api("/api/stations")).stations || []; render(); } catch (e) { /* retried at next login */ }
  }
  const recordsInFlight = new Map();
  function fetchRecord(id) {
    if (S.me?.role !== "supervisor") return Promise.resolve(null);
    if (S.cardCache.has(id)) return Promise.resolve(S.cardCache.get(id));
    if (!recordsInFlight.has(id)) {
      recordsInFlight.set(id, api("/api/calls/" + encodeURIComponent(id))
        .then((rec) => { S.cardCache.set(id, rec); return rec; })
        .catch(() => null)
        .finally(() => setTimeout(() => recordsInFlight.delete(id), 5000)));
    }
    return recordsInFlight.get(id);
  }

  // ---------------------------------------------------------------------------------------------
  // Command centre: map and stations
  // The overview (stations, their operators, the open calls) while the map tab is shown; the
  // residents' homes are read from call records only for a handful of calls (a surge is drawn as
  // per-station counts, not thousands of markers), and each record once.
  const MAP_CALLS_MAX = 40;
  let overviewBusy = false;
  async function refreshOverview() {
    if (S.me?.role !== "supervisor" || overviewBusy) return;
    overviewBusy = true;
    try {
      S.overview = await api("/api/overview");
      const open = S.overview.open_calls || [];
      if (open.length <= MAP_CALLS_MAX) {
        const missing = open.filter((c) => !S.cardCache.has(c.id) && !S.details.get(c.id)?.resident);
        await Promise.all(missing.map((c) => fetchRecord(c.id)));
      }
      if (S.tab === "district") render();
    } catch (e) { /* shown as disconnected or degraded elsewhere; retried by the poll */ }
    overviewBusy = false;
  }

  function openCallsNow() {
    // Without a board (a version-1 server) the live list is fresher than the last overview poll.
    if (S.me?.role === "supervisor" && !S.boardMode) return S.order.map((e) => e.call);
    return S.overview?.open_calls || [];
  }

  // Waiting calls per station: the summary's counts (version 2), else counted from the calls.
  function stationCounts(calls) {
    const m = new Map();
    if (S.summary) {
      for (const c of S.summary.by_station || []) m.set(c.key, { waiting: num(c.waiting), emergencies: num(c.emergencies), oldest: num(c.oldest_received_ms) });
      return m;
    }
    for (const c of calls) {
      if (c.state === "accepted") continue;
      const k = c.station_id || "@cc";
      const x = m.get(k) || { waiting: 0, emergencies: 0, oldest: 0 };
      x.waiting++;
      if (num(c.priority) === 1) x.emergencies++;
      if (!x.oldest || num(c.received_ms) < x.oldest) x.oldest = num(c.received_ms);
      m.set(k, x);
    }
    return m;
  }

  function renderDistrict() {
    const ov = S.overview;
    if (!ov) return;
    const calls = openCallsNow();
    const counts = stationCounts(calls);
    renderMap(ov, calls, counts);
    const filter = $("station-filter").value.trim().toLowerCase();
    const byStation = new Map();
    for (const c of calls) {
      const k = c.at_command_centre && !c.station_id ? "@cc" : c.station_id;
      if (!byStation.has(k)) byStation.set(k, []);
      byStation.get(k).push(c);
    }
    const chip = (o) => el("span", {
      class: "chip " + (!o.present ? "absent" : o.state === "on_call" ? "on_call" : o.status),
      title: `${o.id} · ${o.present ? statusName(o.status) : statusName("logged_out")} · ${t(o.state || "idle")}`,
      text: `${o.name || o.id} · ${o.present ? (o.state === "on_call" ? t("on_call") : statusName(o.status)) : "—"}`,
    });
    // A few lines per place, and how many more: a surge must not bury the table in text.
    const callLines = (list) => {
      const shown = list.slice(0, 4).map((c) => el("div", { class: isHot(c) ? "error" : "", data_callId: c.id, text: `${c.id} ${typeName(c.alarm_type)} ${stateName(c.state)}` }));
      if (list.length > 4) shown.push(el("div", { class: "muted", text: t("waiting_n", { n: list.length }) }));
      return shown;
    };
    // Calls waiting at the command centre itself (no station could take them).
    const atCc = byStation.get("@cc") || [];
    $("cc-ops").replaceChildren(
      el("div", {}, el("strong", { text: t("supervisors") + "：" }), ...(ov.supervisors || []).filter((o) => o.present).map(chip)),
      ...callLines(atCc.map((c) => Object.assign({}, c, { id: c.id }))).map((d) => { if (d.dataset.callId) d.textContent = `${t("cc")}: ${d.textContent}`; return d; }));
    const nOpen = (s) => (byStation.get(s.station.id)?.length || (s.open_call_ids || []).length || 0);
    const rows = (ov.stations || []).filter((s) => !filter || (s.station.name + s.station.area + s.station.id).toLowerCase().includes(filter))
      .sort((a, b) => (counts.get(b.station.id)?.emergencies || 0) - (counts.get(a.station.id)?.emergencies || 0) || nOpen(b) - nOpen(a) || a.station.id.localeCompare(b.station.id));
    $("station-rows").replaceChildren(...rows.map((s) => {
      const open = byStation.get(s.station.id) || [];
      const n = nOpen(s);
      return el("tr", { class: n ? "has-calls" : "", data_stationId: s.station.id },
        el("td", {}, el("div", { text: s.station.name }), el("div", { class: "muted", text: s.station.area || "" })),
        el("td", {}, ...(s.operators || []).map(chip)),
        el("td", {}, ...(open.length ? callLines(open) : n ? [el("div", { text: t("waiting_n", { n }) })] : [])));
    }));
  }

  function renderMap(ov, calls, counts) {
    const box = $("map");
    const W = 800, H = 600, pad = 40;
    const stations = (ov.stations || []).map((s) => s.station);
    // Few calls: each one, at the resident's home when known. Many: per-station aggregates.
    const clustered = calls.length > MAP_CALLS_MAX;
    const homes = new Map();
    if (!clustered) for (const c of calls) {
      const r = S.cardCache.get(c.id)?.resident || S.calls.get(c.id)?.resident || S.details.get(c.id)?.resident;
      if (r && (r.lat || r.lon)) homes.set(c.id, [num(r.lat), num(r.lon)]);
    }
    const pts = stations.map((s) => [num(s.lat), num(s.lon)]).concat([...homes.values()]);
    if (!pts.length) { box.replaceChildren(); return; }
    // Web Mercator, so an optional tile layer lines up.
    const mx = (lon) => (lon + 180) / 360;
    const my = (lat) => { const s = Math.sin(lat * Math.PI / 180); return 0.5 - Math.log((1 + s) / (1 - s)) / (4 * Math.PI); };
    let x0 = Infinity, x1 = -Infinity, y0 = Infinity, y1 = -Infinity;
    for (const [la, lo] of pts) { x0 = Math.min(x0, mx(lo)); x1 = Math.max(x1, mx(lo)); y0 = Math.min(y0, my(la)); y1 = Math.max(y1, my(la)); }
    const span = Math.max(x1 - x0, (y1 - y0) * W / H, 1e-6);
    const scale = (W - 2 * pad) / span;
    const cx = (x0 + x1) / 2, cy = (y0 + y1) / 2;
    const px = (lon) => W / 2 + (mx(lon) - cx) * scale;
    const py = (lat) => H / 2 + (my(lat) - cy) * scale;
    const root = svg("svg", { viewBox: `0 0 ${W} ${H}`, role: "img", "aria-label": t("map_title") });
    // Optional tiles (e.g. an intranet tile server): drawn under everything.
    if (ov.map_tile_url) {
      const z = Math.max(0, Math.min(18, Math.floor(Math.log2(scale / 256))));
      const n = Math.pow(2, z), size = scale / n;
      const wx0 = cx - W / 2 / scale, wy0 = cy - H / 2 / scale;
      for (let tx = Math.floor(wx0 * n); tx <= Math.floor((wx0 + W / scale) * n); tx++)
        for (let ty = Math.floor(wy0 * n); ty <= Math.floor((wy0 + H / scale) * n); ty++) {
          const href = ov.map_tile_url.replace("{z}", z).replace("{x}", tx).replace("{y}", ty);
          root.append(svg("image", { href, x: W / 2 + (tx / n - cx) * scale, y: H / 2 + (ty / n - cy) * scale, width: size + 0.5, height: size + 0.5 }));
        }
    }
    // Graticule every 0.05° (about 4–5 km here) so distances can be judged without a base map.
    const lonAt = (x) => ((cx + (x - W / 2) / scale) * 360) - 180;
    const latAt = (y) => Math.atan(Math.sinh(Math.PI * (1 - 2 * (cy + (y - H / 2) / scale)))) * 180 / Math.PI;
    for (let lon = Math.ceil(lonAt(0) * 20) / 20; lon <= lonAt(W); lon += 0.05)
      root.append(svg("line", { class: "graticule", x1: px(lon), y1: 0, x2: px(lon), y2: H }));
    for (let lat = Math.ceil(latAt(H) * 20) / 20; lat <= latAt(0); lat += 0.05)
      root.append(svg("line", { class: "graticule", x1: 0, y1: py(lat), x2: W, y2: py(lat) }));
    const staffed = new Set((ov.stations || []).filter((s) => (s.operators || []).some((o) => o.present && o.status === "available")).map((s) => s.station.id));
    const stationXY = new Map();
    for (const s of stations) {
      const x = px(num(s.lon)), y = py(num(s.lat));
      stationXY.set(s.id, [x, y]);
      const g = svg("g", { class: "station-g", "data-station-id": s.id });
      g.append(svg("title", {}, `${s.name} (${s.area || ""})`));
      g.append(svg("rect", { class: "station " + (staffed.has(s.id) ? "ok" : "none"), x: x - 5, y: y - 5, width: 10, height: 10, rx: 2 }));
      root.append(g);
    }
    if (clustered) {
      // One marker per station: its waiting calls (area ∝ count), red with emergencies; a click
      // shows that station's waiting calls on the board.
      const max = Math.max(1, ...[...counts.values()].map((x) => x.waiting));
      const order = [...counts.entries()].filter(([, x]) => x.waiting > 0).sort((a, b) => a[1].emergencies - b[1].emergencies);
      for (const [id, x] of order) {
        const xy = stationXY.get(id) || [W - 30, 30];
        const r = 9 + 26 * Math.sqrt(x.waiting / max);
        const name = stationName(id);
        const g = svg("g", { class: "cluster-g", "data-station-id": id });
        g.addEventListener("click", () => setFilter({ station_id: id === "@cc" ? "" : id, state: "waiting" }));
        g.append(svg("title", {}, t("cluster_title", { name, n: x.waiting, e: x.emergencies })));
        g.append(svg("circle", { class: "cluster" + (x.emergencies ? " em" : ""), cx: xy[0], cy: xy[1], r }));
        g.append(svg("text", { class: "cluster-n", x: xy[0], y: xy[1] + 4, "text-anchor": "middle" }, String(x.waiting)));
        root.append(g);
      }
      box.replaceChildren(root);
      return;
    }
    // Labels for the calls that matter most; every call has its tooltip and opens on click.
    const labelled = new Set([...calls].sort((x, y) => (isHot(y) - isHot(x)) || (num(x.priority) - num(y.priority)))
      .slice(0, 12).map((c) => c.id));
    for (const c of calls) {
      const home = homes.get(c.id);
      const st = stationXY.get(c.station_id);
      const [x, y] = home ? [px(home[1]), py(home[0])] : st ? [st[0] + 12, st[1] - 12] : [W - 30, 30];
      if (st && home) root.append(svg("line", { class: "link", x1: x, y1: y, x2: st[0], y2: st[1] }));
      const g = svg("g", { class: "call-g", "data-call-id": c.id });
      g.addEventListener("click", () => { showTab("calls"); select(c.id); });
      g.append(svg("title", {}, `${c.id} ${typeName(c.alarm_type)} · ${stateName(c.state)} · ${c.station_name || ""}`));
      g.append(svg("circle", { class: `call p${num(c.priority) || 3}` + (isHot(c) ? " hot" : ""), "data-call-id": c.id, cx: x, cy: y, r: isHot(c) ? 11 : 8 }));
      if (labelled.has(c.id)) g.append(svg("text", { class: "call-label", x: x + 13, y: y + 4 }, `${typeName(c.alarm_type)} ${c.id}`));
      root.append(g);
    }
    box.replaceChildren(root);
  }

  // ---------------------------------------------------------------------------------------------
  // Command centre: service level
  function dayStart() { const d = new Date(); d.setHours(0, 0, 0, 0); return d.getTime(); }
  async function loadServiceLevel() {
    if (S.me?.role !== "supervisor") return;
    const from = dayStart(), to = now() + 1000;
    let rep, list;
    try {
      [rep, list] = await Promise.all([api(`/api/reports?from=${from}&to=${to}`), api(`/api/calls?from=${from}&to=${to}&limit=5000`)]);
    } catch (e) { return; }
    $("sl-range").textContent = `${fmtTime(from)} – ${fmtTime(to).slice(11)}`;
    $("sl-calls").textContent = String(num(rep.calls));
    $("sl-answered").textContent = String(num(rep.answered));
    const pct = (v) => (num(rep.calls) ? (100 * num(v)).toFixed(1) + "%" : "–");
    $("sl-share60").textContent = pct(rep.share_within_60s);
    $("sl-share60").className = "kpi-v " + (num(rep.calls) ? (num(rep.share_within_60s) >= 0.975 ? "good" : "bad") : "");
    $("sl-share180").textContent = pct(rep.share_within_180s);
    $("sl-share180").className = "kpi-v " + (num(rep.calls) ? (num(rep.share_within_180s) >= 0.99 ? "good" : "bad") : "");
    barChart($("chart-hist"), (rep.answer_time_histogram || []).map((r) => [r.key === "unanswered" ? t("s_offered") : r.key, num(r.calls), r.key === "unanswered" || r.key.startsWith(">")]));
    barChart($("chart-type"), (rep.by_type || []).map((r) => [typeName(r.key), num(r.calls)]));
    barChart($("chart-outcome"), (rep.by_outcome || []).map((r) => [r.key ? outcomeName(r.key) || r.key : "—", num(r.calls)]));
    // Per station: shares computed from the day's calls.
    const per = new Map();
    for (const c of list.calls || []) {
      const k = c.station_id || "@cc";
      const p = per.get(k) || { calls: 0, answered: 0, in60: 0, in180: 0 };
      p.calls++;
      if (num(c.accepted_ms)) {
        p.answered++;
        const w = num(c.accepted_ms) - num(c.received_ms);
        if (w <= 60000) p.in60++;
        if (w <= 180000) p.in180++;
      }
      per.set(k, p);
    }
    const share = (a, b) => (b ? Math.round((100 * a) / b) + "%" : "–");
    $("sl-stations").replaceChildren(...[...per.entries()].sort((a, b) => b[1].calls - a[1].calls).map(([id, p]) =>
      el("tr", { data_stationId: id }, el("td", { text: stationName(id) }), el("td", { text: String(p.calls) }), el("td", { text: String(p.answered) }),
        el("td", { class: p.in60 < p.calls ? "error" : "", text: share(p.in60, p.calls) }), el("td", { text: share(p.in180, p.calls) }))));
  }
  function barChart(box, rows) {
    const W = 360, rowH = 24, labelW = 120;
    const H = Math.max(rowH, rows.length * rowH) + 4;
    const max = Math.max(1, ...rows.map((r) => r[1]));
    const root = svg("svg", { viewBox: `0 0 ${W} ${H}`, role: "img" });
    rows.forEach(([label, v, bad], i) => {
      const y = i * rowH + 2, w = ((W - labelW - 40) * v) / max;
      root.append(svg("text", { x: labelW - 6, y: y + 16, "text-anchor": "end" }, label));
      root.append(svg("rect", { class: "bar" + (bad ? " bad" : ""), x: labelW, y: y + 3, width: Math.max(v ? 2 : 0, w), height: rowH - 8, rx: 3 }));
      root.append(svg("text", { x: labelW + w + 6, y: y + 16 }, String(v)));
    });
    box.replaceChildren(root);
  }

  // ---------------------------------------------------------------------------------------------
  // Command centre: search and audit trail
  // A page of results at a time: the server looks at a bounded slice of the range per request and
  // returns a cursor for the rest ("More" fetches the next page and appends it).
  async function search(ev, more = false) {
    ev?.preventDefault();
    let params;
    if (more && S.searchNext) {
      params = new URLSearchParams(S.searchParams);
      params.set("cursor", S.searchNext);
    } else {
      const q = $("search-q").value.trim();
      params = new URLSearchParams({ q, limit: "200" });
      // Days are the operator's local days (Beijing), not UTC ones; by default the last 7 days.
      const localDay = (v) => new Date(v + "T00:00:00").getTime();
      params.set("from", String($("search-from").value ? localDay($("search-from").value) : now() - 7 * 86400000));
      params.set("to", String(now() + 1000));
      if ($("search-to").value) {
        const end = new Date(localDay($("search-to").value));
        end.setDate(end.getDate() + 1);
        params.set("to", String(end.getTime()));
      }
      S.searchParams = params.toString();
      S.searchShown = 0;
    }
    let list;
    try { list = await api("/api/calls?" + params.toString()); } catch (e) { toast(String(e.message), true); return; }
    const rows = (list.calls || []).map((c) => el("tr", { data_callId: c.id, onclick: (e) => showAudit(c.id, e.currentTarget) },
      el("td", { text: fmtTime(c.received_ms) }), el("td", { text: `${c.id} ${typeName(c.alarm_type)}` }),
      el("td", { text: c.resident_name || c.resident_id }), el("td", { text: c.station_name || stationName(c.station_id) }),
      el("td", { text: stateName(c.state) }), el("td", { text: outcomeName(c.outcome) })));
    if (more) $("search-rows").append(...rows); else $("search-rows").replaceChildren(...rows);
    S.searchShown = (more ? S.searchShown : 0) + rows.length;
    S.searchNext = list.next_cursor || "";
    $("search-more").hidden = !S.searchNext;
    $("search-summary").textContent = t(S.searchNext ? "search_summary_more" : "search_summary", { k: S.searchShown });
  }
  async function showAudit(id, row) {
    for (const r of $("search-rows").querySelectorAll("tr")) r.classList.toggle("selected", r === row);
    let rec;
    S.cardCache.delete(id);
    try { rec = await api("/api/calls/" + encodeURIComponent(id)); } catch (e) { toast(String(e.message), true); return; }
    const c = rec.call || {}, r = rec.resident || {};
    const box = $("search-detail");
    box.hidden = false;
    box.replaceChildren(
      el("h2", { text: `${c.id} · ${typeName(c.alarm_type)} · ${stateName(c.state)}` }),
      el("p", { text: `${r.name || ""} · ${r.address || ""}` }),
      el("p", { class: "muted", text: `${c.station_name || ""} · ${c.operator_id || ""} · ${outcomeName(c.outcome)}` }),
      el("h3", { text: t("audit_trail") }),
      el("ol", { class: "audit-list" }, ...(rec.history || []).map((h) => el("li", { data_event: h.event },
        el("span", { class: "mono", text: fmtTime(h.time_ms) + " " }), el("strong", { text: I18N[lang]["ev_" + h.event] || h.event }), ` ${h.actor || ""} ${h.detail || ""} `,
        el("span", { class: "muted", text: h.instance ? `@${h.instance}` : "" })))));
  }

  // ---------------------------------------------------------------------------------------------
  // Wiring
  function renderAll() { if (S.me) { render(); if (S.tab === "service") loadServiceLevel(); } }
  function init() {
    $("login-form").addEventListener("submit", (ev) => {
      ev.preventDefault();
      ensureAudio(); // a user gesture: the browser lets the page make sound from now on
      pendingPassword = { operator_id: $("login-op").value.trim(), password: $("login-pw").value };
      $("login-pw").value = "";
      $("login-submit").disabled = true;
      $("login-error").hidden = true;
      if (ws && ws.readyState === WebSocket.OPEN) ws.send(JSON.stringify({ req: "login", login: pendingPassword }));
      else connect();
    });
    $("btn-logout").addEventListener("click", () => {
      send({ logout: {} });
      S.token = ""; sessionStorage.removeItem("anxin.token"); sessionStorage.removeItem("anxin.status");
      pendingPassword = null;
      hangUp(); // the logout is sent before the close
      S.wantStatus = "available";
      S.calls.clear(); S.order = []; S.board = null; S.boardMode = false; S.summary = null; S.queue = null;
      S.selected = null; S.overview = null;
      updateRinging();
      showLogin();
    });
    $("btn-status").addEventListener("click", () => {
      const next = S.status === "away" ? "available" : "away";
      S.wantStatus = next;
      sessionStorage.setItem("anxin.status", next);
      send({ set_status: { status: next } });
    });
    $("btn-lang").addEventListener("click", () => {
      lang = lang === "zh" ? "en" : "zh";
      localStorage.setItem("anxin.lang", lang);
      applyLanguage();
    });
    $("btn-take").addEventListener("click", () => take());
    $("btn-sound").addEventListener("click", () => { ensureAudio(); setTimeout(() => { $("btn-sound").hidden = !!audio && audio.state === "running"; }, 200); });
    $("btn-close").addEventListener("click", closeSelected);
    $("btn-note").addEventListener("click", addNote);
    $("btn-transfer").addEventListener("click", transfer);
    for (const b of $("tabs").querySelectorAll("button")) b.addEventListener("click", () => showTab(b.dataset.tab));
    $("station-filter").addEventListener("input", renderDistrict);
    $("btn-sl-refresh").addEventListener("click", loadServiceLevel);
    $("search-form").addEventListener("submit", (e) => search(e));
    $("search-more").addEventListener("click", (e) => search(e, true));
    document.addEventListener("keydown", onKey);
    // Any click may unlock audio (browsers need a gesture after a reload).
    document.addEventListener("click", ensureAudio);
    setInterval(() => { tick(); if (S.me) renderTabCounts(); }, 1000);
    $("call-list").addEventListener("scroll", onListScroll, { passive: true });
    window.addEventListener("resize", () => { listView.height = 0; render(); });
    $("emergency-strip").addEventListener("click", () => setFilter({ priorities: [1], state: "waiting" }));
    $("oldest-waiting").addEventListener("click", (e) => { const id = e.currentTarget.dataset.callId; if (id) { setFilter({}); select(id); } });
    $("group-clear").addEventListener("click", () => setFilter({}));
    $("group-state").addEventListener("change", (e) => setFilter(Object.assign({}, S.filter, { state: e.target.value })));
    $("bulk-close-open").addEventListener("click", (e) => {
      if (e.currentTarget.dataset.mode === "narrow") setFilter(Object.assign({}, S.filter, { priorities: [3], state: "waiting" }));
      else openBulk("close");
    });
    $("bulk-transfer-open").addEventListener("click", () => openBulk("transfer"));
    $("bulk-close-confirm").addEventListener("click", confirmBulk);
    $("bulk-transfer-confirm").addEventListener("click", confirmBulk);
    for (const b of ["bulk-cancel", "bulk-cancel2"]) $(b).addEventListener("click", () => { S.bulk = null; render(); });
    // For the tests and the benchmark: what the page holds, answered from the main thread.
    window.anxinProbe = () => {
      const sup = S.me?.role === "supervisor";
      let waiting = 0;
      if (sup && S.summary) waiting = num(S.summary.waiting);
      else for (const e of S.calls.values()) if (!e.held && e.call.state !== "accepted") waiting++;
      return {
        role: S.me?.role || "",
        listed: sup && S.boardMode ? (S.board?.lines.length || 0) : S.calls.size,
        total: sup && S.boardMode ? (S.board?.total || 0) : S.queue ? S.queue.offered : S.order.length,
        rows_in_dom: rowEls.size,
        waiting,
        offered: S.queue ? S.queue.offered : 0,
        shown: S.queue ? S.queue.shown : 0,
        surge: !!S.summary?.surge,
      };
    };
    setInterval(watchdog, 5000);
    setInterval(() => { if (S.connected && S.me?.role === "supervisor") { if (S.tab === "district") refreshOverview(); if (S.tab === "service") loadServiceLevel(); } }, 5000);
    applyLanguage();
    if (S.token) { setConn("connecting"); connect(); } else { setConn("idle"); showLogin(); }
  }
  init();
})();
