/* fleetscale dashboard: plain JavaScript over the JSON API, uPlot for the chart.
 *
 * Polls the API every POLL_MS without reloading the page; when the controller is away
 * (a restart) it says so and keeps polling, so it reconnects by itself. The series is
 * fetched once for the window, then only what is new (since=the last point).
 * The bearer token is asked once, when first needed, and kept in sessionStorage only.
 * Everything the API returns is inserted as text (textContent), never as HTML.
 */
(function () {
  "use strict";

  var POLL_MS = 2000;
  var WINDOW_S = 3 * 3600;
  var TOKEN_KEY = "fleetscale.token";

  var state = {
    pool: null,          // the selected pool's name
    cols: null,          // [t, load, demanded, ready, provisioned] arrays of the chart
    markers: new Map(),  // t -> decision marker {t, direction, current, desired, reason}
    lastT: null,
    chart: null,
    connected: null,
    polls: 0,            // successful refreshes
    lastError: null,
    asking: null,        // the token dialog's pending promise
  };
  window.fleetscale = state;  // for people debugging and for the browser tests

  function $(sel) { return document.querySelector(sel); }
  function el(tag, text, cls) {
    var e = document.createElement(tag);
    if (text !== undefined && text !== null) e.textContent = String(text);
    if (cls) e.className = cls;
    return e;
  }
  function clear(node) { while (node.firstChild) node.removeChild(node.firstChild); }

  // --- token ---------------------------------------------------------------------------

  function token() { return sessionStorage.getItem(TOKEN_KEY); }

  function showTokenState() {
    var has = !!token();
    $("#token-state").textContent = has ? "token set (this tab)" : "no token";
    $("#token-forget").hidden = !has;
  }

  function askToken() {
    if (state.asking) return state.asking;
    var dialog = $("#token-dialog");
    state.asking = new Promise(function (resolve) {
      function done() {
        dialog.removeEventListener("close", done);
        var value = dialog.returnValue === "save" ? $("#token-input").value.trim() : "";
        $("#token-input").value = "";
        if (value) sessionStorage.setItem(TOKEN_KEY, value);
        showTokenState();
        state.asking = null;
        resolve(value || null);
      }
      dialog.addEventListener("close", done);
      dialog.showModal();
      $("#token-input").focus();
    });
    return state.asking;
  }

  // --- the API -------------------------------------------------------------------------

  function HttpError(status, body) {
    this.status = status;
    this.body = body || {};
    this.message = (body && body.error) || ("HTTP " + status);
  }

  function api(path, options) {
    options = options || {};
    var headers = {"Accept": "application/json"};
    if (options.body !== undefined) headers["Content-Type"] = "application/json";
    var t = token();
    if (t) headers["Authorization"] = "Bearer " + t;
    return fetch(path, {
      method: options.method || "GET", headers: headers, cache: "no-store",
      body: options.body !== undefined ? JSON.stringify(options.body) : undefined,
    }).then(function (res) {
      return res.json().catch(function () { return {}; }).then(function (body) {
        if (!res.ok) throw new HttpError(res.status, body);
        return body;
      });
    });
  }

  function poolPath(pool, rest) { return "/api/pools/" + encodeURIComponent(pool) + (rest || ""); }

  // --- formatting ----------------------------------------------------------------------

  function fmtTime(iso) { return iso ? new Date(iso).toLocaleString() : "–"; }
  function fmtNum(x) { return x === null || x === undefined ? "–" : (Math.round(x * 100) / 100).toString(); }
  function fmtAge(s) {
    if (s === null || s === undefined) return "–";
    if (s < 90) return Math.round(s) + " s";
    if (s < 5400) return Math.round(s / 60) + " min";
    return Math.floor(s / 3600) + " h " + Math.round((s % 3600) / 60) + " min";
  }
  function operatorText(p) {
    var parts = [];
    if (p.paused.length) parts.push("paused " + p.paused.join("+"));
    if (p.held) parts.push("held at " + p.held.units + " until " + fmtTime(p.held.until));
    return parts.join("; ") || "–";
  }

  // --- pools ---------------------------------------------------------------------------

  function renderPools(list) {
    var body = $("#pools tbody");
    clear(body);
    list.pools.forEach(function (p) {
      var tr = el("tr");
      tr.dataset.pool = p.name;
      if (p.name === state.pool) tr.className = "selected";
      tr.appendChild(el("td", p.name));
      tr.appendChild(el("td", p.desired === null ? "–" : p.desired));
      tr.appendChild(el("td", p.ready));
      tr.appendChild(el("td", p.booting));
      tr.appendChild(el("td", p.draining));
      tr.appendChild(el("td", fmtNum(p.load)));
      var d = el("td", p.direction ? p.direction.toUpperCase() + ": " + (p.reason || "") : "no decision",
                 "reason dir-" + (p.direction || "hold"));
      tr.appendChild(d);
      tr.appendChild(el("td", operatorText(p)));
      tr.appendChild(el("td", p.errors.length ? p.errors.length + " error(s)" : "–", p.errors.length ? "errors" : ""));
      tr.addEventListener("click", function () { location.hash = "pool=" + encodeURIComponent(p.name); });
      body.appendChild(tr);
    });
    if (!state.pool && list.pools.length) location.hash = "pool=" + encodeURIComponent(list.pools[0].name);
  }

  function renderPool(detail) {
    var p = detail.pool;
    $("#pool-title").textContent = p.name + (p.dry_run ? " (dry run)" : "");
    var parts = [
      "desired " + (p.desired === null ? "–" : p.desired),
      p.ready + " ready (" + p.ready_units + " units), " + p.booting + " booting, " + p.draining + " draining",
      "load " + fmtNum(p.load) + (p.demanded !== null ? " (needs " + p.demanded + " units)" : ""),
      "bounds " + (p.min === null ? "?" : p.min) + "–" + (p.max === null ? "?" : p.max),
      "operator: " + operatorText(p),
      "as of " + fmtTime(p.as_of),
    ];
    if (p.owner) parts.push("owner " + p.owner + " (token " + p.owner_token + ")");
    $("#pool-summary").textContent = parts.join(" · ");
    var errs = $("#pool-errors");
    errs.hidden = !p.errors.length;
    errs.textContent = p.errors.length ? "last cycle: " + p.errors.join("; ") : "";
    var units = $("#hold-units");
    if (p.min !== null) units.min = p.min;
    if (p.max !== null) units.max = p.max;
    if (!units.value && p.desired !== null) units.value = p.desired;
    var ul = $("#actions");
    clear(ul);
    detail.operator_actions.slice().reverse().forEach(function (a) {
      ul.appendChild(el("li", fmtTime(a.at) + " — " + a.action + " (" + a.detail + ") by " + a.who +
                              ": " + (a.reason || "no reason given")));
    });
    if (!detail.operator_actions.length) ul.appendChild(el("li", "none", "muted"));
  }

  function renderInstances(list) {
    var body = $("#instances tbody");
    clear(body);
    list.instances.forEach(function (i) {
      var tr = el("tr");
      tr.dataset.id = i.id;
      tr.appendChild(el("td", i.id));
      tr.appendChild(el("td", i.type + (i.weight !== 1 ? " ×" + i.weight : "")));
      tr.appendChild(el("td", i.state, "state-" + i.state));
      tr.appendChild(el("td", i.sessions === null ? "–" : i.sessions));
      tr.appendChild(el("td", fmtAge(i.age_seconds)));
      tr.appendChild(el("td", i.address || "–"));
      body.appendChild(tr);
    });
    $("#instances-count").textContent = "(" + list.instances.length + ", as of " + fmtTime(list.as_of) + ")";
  }

  function renderDecisions(page) {
    var ol = $("#decisions");
    clear(ol);
    page.decisions.forEach(function (d) {
      var li = el("li");
      li.dataset.cycle = d.cycle_id;
      var head = d.direction ? d.direction.toUpperCase() + " " + d.current + " → " + d.desired : "NO DECISION";
      li.appendChild(el("div", fmtTime(d.started_at) + "  " + head + (d.dry_run ? "  [dry run]" : ""),
                        "head dir-" + (d.direction || "hold")));
      if (d.reason) li.appendChild(el("div", "why: " + d.reason));
      d.proposals.forEach(function (p) {
        li.appendChild(el("div", "policy " + p.policy + ": " + (p.desired === null ? "abstains" : "wants " + p.desired) +
                                  " — " + p.reason, "props"));
      });
      if (d.steps.length) li.appendChild(el("div", "governor: " + d.steps.join("; "), "steps"));
      li.appendChild(el("div", "plan: " + d.plan, "steps"));
      d.outcome.forEach(function (o) { li.appendChild(el("div", "done: " + o, "steps")); });
      d.errors.forEach(function (e) { li.appendChild(el("div", "error: " + e, "errors")); });
      ol.appendChild(li);
    });
  }

  // --- chart ---------------------------------------------------------------------------

  function chartData() {
    var c = state.cols;
    var marks = c[0].map(function (t, i) {
      var m = state.markers.get(t);
      return m ? m.desired : null;
    });
    return [c[0], c[1], c[2], c[3], c[4], marks];
  }

  function mergeSeries(s) {
    if (!state.cols) state.cols = [[], [], [], [], []];
    var c = state.cols;
    for (var i = 0; i < s.t.length; i++) {
      if (state.lastT !== null && s.t[i] <= state.lastT) continue;
      c[0].push(s.t[i]); c[1].push(s.load[i]); c[2].push(s.demanded[i]);
      c[3].push(s.ready[i]); c[4].push(s.provisioned[i]);
      state.lastT = s.t[i];
    }
    s.markers.forEach(function (m) { state.markers.set(m.t, m); });
    var cut = 0;
    while (cut < c[0].length && c[0][cut] < state.lastT - WINDOW_S) cut++;
    if (cut) {
      c.forEach(function (col) { col.splice(0, cut); });
      state.markers.forEach(function (m, t) { if (t < c[0][0]) state.markers.delete(t); });
    }
  }

  function stepped() { return uPlot.paths.stepped({align: 1}); }

  function makeChart() {
    var box = $("#chart-box");
    var opts = {
      width: Math.max(300, box.clientWidth - 16), height: 300,
      scales: {
        x: {time: true},
        units: {range: function (u, min, max) { return [0, Math.max(1, max || 0) * 1.1]; }},
        load: {range: function (u, min, max) { return [0, Math.max(1e-9, max || 0) * 1.1 || 1]; }},
      },
      series: [
        {},
        {label: "load", scale: "load", stroke: "#9ca3af", fill: "rgba(156,163,175,0.18)", width: 1,
         points: {show: false}, value: function (u, v) { return fmtNum(v); }},
        {label: "demanded", scale: "units", stroke: "#111827", width: 1.5, paths: stepped(), points: {show: false}},
        {label: "ready", scale: "units", stroke: "#16a34a", width: 2, paths: stepped(), points: {show: false}},
        {label: "provisioned", scale: "units", stroke: "#2563eb", width: 1, dash: [5, 3], paths: stepped(),
         points: {show: false}},
        {label: "decision", scale: "units", stroke: "#dc2626", width: 0, paths: function () { return null; },
         points: {show: true, size: 9, fill: "#dc2626", stroke: "#7f1d1d"}},
      ],
      axes: [
        {},
        {scale: "units", label: "units"},
        {scale: "load", side: 1, label: "load", grid: {show: false}},
      ],
      hooks: {setCursor: [showTip]},
    };
    state.chart = new uPlot(opts, chartData(), $("#chart"));
  }

  function showTip(u) {
    var tip = $("#tip");
    var left = u.cursor.left;
    if (left === undefined || left < 0) { tip.hidden = true; return; }
    var best = null, bestDist = 12;
    state.markers.forEach(function (m) {
      var d = Math.abs(u.valToPos(m.t, "x") - left);
      if (d < bestDist) { best = m; bestDist = d; }
    });
    if (!best) { tip.hidden = true; return; }
    tip.textContent = new Date(best.t * 1000).toLocaleTimeString() + "  " + best.direction.toUpperCase() + " " +
                      best.current + " → " + best.desired + ": " + best.reason;
    tip.hidden = false;
    var x = u.over.offsetLeft + u.valToPos(best.t, "x");
    tip.style.left = Math.min(x + 12, u.over.offsetLeft + u.over.clientWidth - 260) + "px";
    tip.style.top = (u.over.offsetTop + 8) + "px";
  }

  function drawChart() {
    if (!state.cols) return;
    if (!state.chart) makeChart(); else state.chart.setData(chartData());
  }

  // --- refresh loop ----------------------------------------------------------------------

  function setStatus(ok, text) {
    var s = $("#status");
    s.dataset.state = ok ? "live" : "down";
    s.textContent = text;
    state.connected = ok;
  }

  function refreshPool(pool) {
    var since = state.lastT === null ? String(WINDOW_S) + "s" : new Date(state.lastT * 1000).toISOString();
    return Promise.all([
      api(poolPath(pool)), api(poolPath(pool, "/instances")), api(poolPath(pool, "/decisions?limit=15")),
      api(poolPath(pool, "/series?since=" + encodeURIComponent(since))),
    ]).then(function (r) {
      if (pool !== state.pool) return;  // the selection changed meanwhile
      renderPool(r[0]); renderInstances(r[1]); renderDecisions(r[2]);
      mergeSeries(r[3]); drawChart();
    });
  }

  function refresh() {
    return api("/api/pools").then(function (list) {
      renderPools(list);
      return state.pool ? refreshPool(state.pool) : null;
    }).then(function () {
      state.polls += 1;
      state.lastError = null;
      setStatus(true, "live · updated " + new Date().toLocaleTimeString());
    }).catch(function (err) {
      state.lastError = String(err && err.message || err);
      if (err instanceof HttpError && err.status === 401) {
        setStatus(false, "a token is needed to read");
        if (token()) sessionStorage.removeItem(TOKEN_KEY);
        return askToken();
      }
      if (err instanceof HttpError && err.status === 404 && state.pool) {
        location.hash = "";
        return null;
      }
      setStatus(false, "disconnected · retrying (" + state.lastError + ")");
      return null;
    });
  }

  function loop() {
    refresh().then(function () { setTimeout(loop, POLL_MS); });
  }

  function selectFromHash() {
    var m = /pool=([^&]+)/.exec(location.hash);
    var pool = m ? decodeURIComponent(m[1]) : null;
    if (pool === state.pool) return;
    state.pool = pool;
    state.cols = null; state.lastT = null; state.markers = new Map();
    if (state.chart) { state.chart.destroy(); state.chart = null; }
    $("#hold-units").value = "";
    $("#pool-view").hidden = !pool;
    if (pool) refresh();
  }

  // --- operator controls -----------------------------------------------------------------

  function act(action) {
    var pool = state.pool;
    var out = $("#control-result");
    var reason = $("#reason").value.trim();
    var body = {reason: reason};
    if (action === "pause" && $("#pause-direction").value) body.direction = $("#pause-direction").value;
    if (action === "hold") {
      body.units = parseInt($("#hold-units").value, 10);
      body.until = $("#hold-until").value.trim();
    }
    out.className = "result";
    out.textContent = action + "…";
    var ready = token() ? Promise.resolve(token()) : askToken();
    return ready.then(function (t) {
      if (!t) { out.textContent = "cancelled: no token"; return null; }
      return api(poolPath(pool, "/" + action), {method: "POST", body: body}).then(function (r) {
        out.textContent = "done: " + r.action.action + " (" + r.action.detail + ") by " + r.action.who;
        return refresh();
      });
    }).catch(function (err) {
      out.className = "result error";
      out.textContent = "refused: " + (err && err.message || err);
      if (err instanceof HttpError && (err.status === 401 || err.status === 403) && err.body.field === "Authorization") {
        sessionStorage.removeItem(TOKEN_KEY);
        showTokenState();
      }
    });
  }

  // --- start -----------------------------------------------------------------------------

  document.addEventListener("DOMContentLoaded", function () {
    ["pause", "resume", "hold"].forEach(function (a) {
      $("#" + a).addEventListener("click", function () { act(a); });
    });
    $("#token-forget").addEventListener("click", function () {
      sessionStorage.removeItem(TOKEN_KEY);
      showTokenState();
    });
    window.addEventListener("hashchange", selectFromHash);
    window.addEventListener("resize", function () {
      if (state.chart) state.chart.setSize({width: Math.max(300, $("#chart-box").clientWidth - 16), height: 300});
    });
    showTokenState();
    selectFromHash();
    loop();
  });
})();
