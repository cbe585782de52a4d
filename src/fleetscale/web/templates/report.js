/* fleetscale HTML report: the timeline and its overview (uPlot, inlined above). */
(function () {
  "use strict";
  var began = window.performance ? performance.now() : 0;
  var data = JSON.parse(document.getElementById("report-data").textContent);
  var s = data.series;
  var n = s.t.length;
  var start = data.start_epoch;
  var cap = data.capacity;
  var x = new Array(n);
  for (var i = 0; i < n; i++) { x[i] = start + s.t[i]; }
  var step = n > 1 ? x[1] - x[0] : data.interval;

  // runs of intervals with ready < demanded: [first x, end x)
  var shortRuns = [];
  for (var k = 0; k < n; k++) {
    if (s.ready[k] < s.demanded[k]) {
      var j = k;
      while (j + 1 < n && s.ready[j + 1] < s.demanded[j + 1]) { j++; }
      shortRuns.push([x[k], j + 1 < n ? x[j + 1] : x[j] + step]);
      k = j;
    }
  }

  function utc(ts) { return uPlot.tzDate(new Date(ts * 1e3), "Etc/UTC"); }
  function fmtNum(v) {
    if (v == null) { return "–"; }
    var a = Math.abs(v);
    return a >= 100 ? v.toFixed(0) : a >= 10 ? v.toFixed(1) : v.toFixed(2);
  }
  var stepped = uPlot.paths.stepped({ align: 1 });
  var fDay = uPlot.fmtDate("{WWW} {MM}-{DD}"), fTime = uPlot.fmtDate("{HH}:{mm}");
  // one line: the day at midnight, the time otherwise
  function dayTicks(u, splits, ai, space, incr) {
    return splits.map(function (v) {
      var d = utc(v);
      return incr >= 86400 || (d.getHours() === 0 && d.getMinutes() === 0) ? fDay(d) : fTime(d);
    });
  }
  // time ticks in 24 h UTC; the date under the first tick of each day
  function timeTicks(u, splits, ai, space, incr) {
    return splits.map(function (v, i) {
      var d = utc(v);
      if (incr >= 86400) { return fDay(d); }
      var first = i === 0 || utc(splits[i - 1]).getDate() !== d.getDate();
      return first ? fTime(d) + "\n" + fDay(d) : fTime(d);
    });
  }

  function shade(u) {
    var ctx = u.ctx, xs = u.scales.x, top = u.bbox.top, h = u.bbox.height;
    ctx.save();
    ctx.fillStyle = "rgba(220, 38, 38, 0.16)";
    for (var r = 0; r < shortRuns.length; r++) {
      var a = shortRuns[r][0], b = shortRuns[r][1];
      if (b < xs.min || a > xs.max) { continue; }
      var left = u.valToPos(Math.max(a, xs.min), "x", true);
      var right = u.valToPos(Math.min(b, xs.max), "x", true);
      ctx.fillRect(left, top, Math.max(right - left, 1), h);
    }
    ctx.restore();
  }

  function width() { return Math.max(600, document.getElementById("timeline").clientWidth); }

  // Level of detail: with more intervals in view than pixel columns, each column shows the
  // highest load, demand and provisioned count and the lowest ready count of the intervals it
  // covers (a spike or a hole stays visible); zoomed in, every interval is drawn.
  function firstAtOrAfter(v) {
    var lo = 0, hi = n;
    while (lo < hi) { var mid = (lo + hi) >> 1; if (x[mid] < v) { lo = mid + 1; } else { hi = mid; } }
    return lo;
  }
  function view(a, b, columns) {
    var size = Math.max(1, Math.ceil((b - a) / Math.max(columns, 1)));
    if (size === 1) {
      return [x.slice(a, b), s.load_units.slice(a, b), s.demanded.slice(a, b), s.ready.slice(a, b),
              s.provisioned.slice(a, b), s.oracle_provisioned.slice(a, b)];
    }
    var out = [[], [], [], [], [], []];
    for (var c = a; c < b; c += size) {
      var e = Math.min(b, c + size);
      var ml = -Infinity, md = -Infinity, mr = Infinity, mp = -Infinity, mo = -Infinity;
      for (var q = c; q < e; q++) {
        if (s.load_units[q] > ml) { ml = s.load_units[q]; }
        if (s.demanded[q] > md) { md = s.demanded[q]; }
        if (s.ready[q] < mr) { mr = s.ready[q]; }
        if (s.provisioned[q] > mp) { mp = s.provisioned[q]; }
        if (s.oracle_provisioned[q] > mo) { mo = s.oracle_provisioned[q]; }
      }
      out[0].push(x[c]); out[1].push(ml); out[2].push(md); out[3].push(mr); out[4].push(mp); out[5].push(mo);
    }
    return out;
  }
  var busy = false, built = false;
  function detail(u) {
    if (busy || !built || n === 0) { return; }
    var xs = u.scales.x;
    var a = Math.max(0, firstAtOrAfter(xs.min) - 1), b = Math.min(n, firstAtOrAfter(xs.max) + 1);
    var min = xs.min, max = xs.max;
    busy = true;
    u.setData(view(a, b, u.bbox.width / (window.devicePixelRatio || 1)), false);
    u.setScale("x", { min: min, max: max });  // again, so the drawn window is found in the new data
    busy = false;
    var status = document.getElementById("detail");
    if (status) {
      status.textContent = b - a > u.data[0].length
        ? "zoomed out: one column per " + Math.ceil((b - a) / u.data[0].length) +
          " intervals (highest load, demand and provisioned, lowest ready); zoom in for every interval"
        : "every interval drawn (" + (b - a) + " in view)";
    }
  }
  function whole(u) { u.setScale("x", { min: x[0], max: x[n - 1] + step }); }

  var main = new uPlot({
    width: width(),
    height: 460,
    tzDate: utc,
    cursor: {
      drag: { x: true, y: false, setScale: true },
      bind: { dblclick: function (u) { return function () { whole(u); return null; }; } }
    },
    scales: { x: { time: true, auto: false },
              y: { range: function (u, lo, hi) { return [0, Math.max(1, hi * 1.05)]; } } },
    series: [
      { value: "{YYYY}-{MM}-{DD} {HH}:{mm}" },
      { label: "load (units)", stroke: "#e8871e", width: 1, paths: stepped, points: { show: false },
        value: function (u, v) { return v == null ? "–" : fmtNum(v) + " (load " + fmtNum(v * cap) + ")"; } },
      { label: "demanded", stroke: "#1d232b", width: 1.5, paths: stepped, points: { show: false } },
      { label: "ready", stroke: "#1a9e4b", width: 1.5, paths: stepped, points: { show: false } },
      { label: "provisioned", stroke: "#2f6fdf", width: 1, paths: stepped, points: { show: false } },
      { label: "oracle provisioned", stroke: "rgba(142, 68, 173, 0.8)", width: 1, dash: [6, 4], paths: stepped,
        points: { show: false } }
    ],
    axes: [
      { values: timeTicks, size: 56 },
      { label: "units (instances)", size: 60 },
      { side: 1, scale: "y", label: "load", size: 70, grid: { show: false },
        values: function (u, splits) { return splits.map(function (v) { return fmtNum(v * cap); }); } }
    ],
    hooks: {
      drawClear: [shade],
      setScale: [function (u, key) {
        if (key === "x") { detail(u); if (overview) { overview.redraw(false, false); } }
      }]
    }
  }, view(0, n, width()), document.getElementById("timeline"));

  var overview = null;
  // the worst episodes, numbered as in the list below the chart
  function marks(u) {
    var ctx = u.ctx, top = u.bbox.top, dpr = window.devicePixelRatio || 1;
    ctx.save();
    ctx.fillStyle = "#b3261e";
    ctx.font = Math.round(10 * dpr) + "px system-ui, sans-serif";
    ctx.textAlign = "center";
    for (var e = 0; e < data.episodes.length; e++) {
      var px = u.valToPos(start + data.episodes[e].start_s, "x", true);
      ctx.beginPath();
      ctx.moveTo(px - 5 * dpr, top);
      ctx.lineTo(px + 5 * dpr, top);
      ctx.lineTo(px, top + 8 * dpr);
      ctx.fill();
      ctx.fillText("#" + (e + 1), px, top + 19 * dpr);
    }
    ctx.restore();
  }
  function window_(u) {
    var xs = main.scales.x, full = xs.min <= x[0] && xs.max >= x[n - 1];
    if (full || n === 0) { return; }
    var ctx = u.ctx, top = u.bbox.top, h = u.bbox.height;
    var left = u.valToPos(xs.min, "x", true), right = u.valToPos(xs.max, "x", true);
    ctx.save();
    ctx.fillStyle = "rgba(47, 111, 223, 0.14)";
    ctx.strokeStyle = "rgba(47, 111, 223, 0.8)";
    ctx.fillRect(left, top, Math.max(right - left, 2), h);
    ctx.strokeRect(left, top, Math.max(right - left, 2), h);
    ctx.restore();
  }
  overview = new uPlot({
    width: width(),
    height: 140,
    tzDate: utc,
    legend: { show: false },
    cursor: { drag: { x: true, y: false, setScale: false }, points: { show: false },
              bind: { dblclick: function () { return function () { whole(main); return null; }; } } },
    scales: { x: { time: true }, y: { range: function (u, lo, hi) { return [0, Math.max(1, hi * 1.05)]; } } },
    series: [
      {},
      { stroke: "#e8871e", width: 1, paths: stepped, points: { show: false } },
      { stroke: "#1d232b", width: 1, paths: stepped, points: { show: false } },
      { stroke: "#1a9e4b", width: 1, paths: stepped, points: { show: false } },
      { stroke: "#2f6fdf", width: 1, paths: stepped, points: { show: false } },
      { show: false }
    ],
    axes: [{ values: dayTicks, size: 32 }, { size: 60 }],
    hooks: {
      drawClear: [shade],
      draw: [window_, marks],
      setSelect: [function (u) {
        if (u.select.width > 2) {
          main.setScale("x", { min: u.posToVal(u.select.left, "x"),
                               max: u.posToVal(u.select.left + u.select.width, "x") });
        }
        u.setSelect({ left: 0, width: 0, top: 0, height: 0 }, false);
      }]
    }
  }, view(0, n, width() / 2), document.getElementById("overview"));
  built = true;
  whole(main);

  function zoomTo(a, b) {
    var pad = Math.max((b - a) * 0.5, 3600);
    main.setScale("x", { min: Math.max(x[0], start + a - pad), max: Math.min(x[n - 1] + step, start + b + pad) });
  }
  // a link to a span: #t=FROM-TO (seconds from the start of the run)
  function fromHash() {
    var m = /^#t=(\d+(?:\.\d+)?)-(\d+(?:\.\d+)?)$/.exec(window.location.hash);
    if (m && n > 0) { main.setScale("x", { min: start + parseFloat(m[1]), max: start + parseFloat(m[2]) }); }
  }
  fromHash();
  window.addEventListener("hashchange", fromHash);
  var buttons = document.querySelectorAll("button.zoom");
  for (var z = 0; z < buttons.length; z++) {
    buttons[z].addEventListener("click", function (ev) {
      var el = ev.currentTarget;
      zoomTo(parseFloat(el.getAttribute("data-start")), parseFloat(el.getAttribute("data-end")));
      document.getElementById("timeline").scrollIntoView({ behavior: "smooth", block: "start" });
    });
  }
  window.addEventListener("resize", function () {
    main.setSize({ width: width(), height: 460 });
    overview.setSize({ width: width(), height: 140 });
    detail(main);
  });
  var took = window.performance ? Math.round(performance.now() - began) : -1;
  document.body.setAttribute("data-points", String(n));
  document.body.setAttribute("data-render-ms", String(took));
  window.fleetscaleReport = { main: main, overview: overview, points: n, renderMs: took };
})();
