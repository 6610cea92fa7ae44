// rwin report (rwin read's and rwin diff's): sorts the flow or pair table
// and draws each charted flow's charts with uPlot. Everything else on the
// page is plain HTML.
"use strict";
(function () {
  // --- the flow table: a click on a heading sorts by that column ---
  var table = document.getElementById("flows");
  if (table) {
    var heads = table.tHead.rows[0].cells;
    Array.prototype.forEach.call(heads, function (th) {
      th.querySelector("button").addEventListener("click", function () {
        var col = +th.dataset.col;
        var desc = th.getAttribute("aria-sort") === "ascending";
        Array.prototype.forEach.call(heads, function (h) { h.removeAttribute("aria-sort"); });
        th.setAttribute("aria-sort", desc ? "descending" : "ascending");
        var body = table.tBodies[0];
        var rows = Array.prototype.slice.call(body.rows);
        var key = function (tr) {
          var td = tr.cells[col];
          return td.dataset.key !== undefined ? +td.dataset.key : td.textContent;
        };
        rows.sort(function (a, b) {
          var x = key(a), y = key(b);
          var c = typeof x === "number" ? x - y : String(x).localeCompare(String(y));
          return desc ? -c : c;
        });
        var frag = document.createDocumentFragment();
        rows.forEach(function (r) { frag.appendChild(r); });
        body.appendChild(frag);
      });
    });
  }

  // --- charts ---
  var charts = [];
  window.rwinCharts = charts;
  if (typeof uPlot === "undefined") return;
  var data = JSON.parse(document.getElementById("rwin-data").textContent);
  var css = getComputedStyle(document.documentElement);
  var color = function (name) { return css.getPropertyValue("--" + name).trim(); };

  var units = function (base, names) {
    return function (v) {
      if (v == null) return "-";
      var i = 0, a = Math.abs(v);
      while (a >= base && i < names.length - 1) { a /= base; v /= base; i++; }
      return (Math.round(v * 10) / 10) + " " + names[i];
    };
  };
  var fmtBytes = units(1024, ["B", "KiB", "MiB", "GiB"]);
  var fmtRate = units(1000, ["bit/s", "kbit/s", "Mbit/s", "Gbit/s"]);
  var fmtMS = function (v) { return v == null ? "-" : (Math.round(v * 100) / 100) + " ms"; };
  var axis = function (fmt) {
    return { stroke: color("fg"), grid: { stroke: color("line"), width: 1 }, ticks: { stroke: color("line") },
      size: 70, values: function (u, splits) { return splits.map(fmt); } };
  };
  var line = function (label, c, fmt, extra) {
    var s = { label: label, stroke: c, width: 1.5, value: function (u, v) { return fmt(v); } };
    for (var k in extra) s[k] = extra[k];
    return s;
  };
  var marker = function (label, c, fmt, shape) {
    return { label: label, stroke: c, fill: c, paths: function () { return null; },
      points: { show: true, size: 8, width: 1, stroke: c, fill: shape === "hollow" ? color("bg") : c },
      value: function (u, v) { return fmt(v); } };
  };
  var stepped = uPlot.paths.stepped({ align: 1 });

  // One flow's charts share a cursor (uPlot's sync) and the x range.
  var groups = {};
  var syncing = false;
  var syncX = function (u, key) {
    if (key !== "x" || syncing) return;
    syncing = true;
    (groups[u.rwinFlow] || []).forEach(function (o) {
      if (o !== u) o.setScale("x", { min: u.scales.x.min, max: u.scales.x.max });
    });
    syncing = false;
  };
  // Wheel zooms around the pointer, shift+wheel pans.
  var wheel = function (u) {
    u.over.addEventListener("wheel", function (e) {
      e.preventDefault();
      var min = u.scales.x.min, max = u.scales.x.max, r = max - min;
      if (e.shiftKey) {
        var d = r * 0.1 * Math.sign(e.deltaY || e.deltaX);
        u.setScale("x", { min: min + d, max: max + d });
        return;
      }
      var at = u.posToVal(e.offsetX, "x"), f = e.deltaY < 0 ? 0.8 : 1.25;
      u.setScale("x", { min: at - (at - min) * f, max: at + (max - at) * f });
    }, { passive: false });
  };

  var build = {
    win: function (d) {
      var s = [{}, line(d.winLabel, color("win"), fmtBytes, { paths: stepped })];
      var cols = [d.t, d.win];
      if (d.raw) {
        s.push(line("window field taken unscaled", color("raw"), fmtBytes, { dash: [6, 4], paths: stepped }));
        cols.push(d.raw);
      }
      s.push(line("bytes in flight (most, at the capture point)", color("flight"), fmtBytes, { spanGaps: true }));
      cols.push(d.inflight);
      s.push(marker("retransmission", color("mark-re"), fmtBytes));
      cols.push(d.retrans);
      s.push(marker("zero window", color("mark-zero"), fmtBytes, "hollow"));
      cols.push(d.zero);
      s.push(marker("reset", color("mark-rst"), fmtBytes));
      cols.push(d.rst);
      var ev = marker("evidence", color("mark-ev"), fmtBytes, "hollow");
      ev.value = function (u, v, si, i) { return v == null || i == null ? "-" : d.evText[i]; };
      s.push(ev);
      cols.push(d.evidence);
      return { title: "Receive window and bytes in flight", height: 220, series: s, data: cols, fmt: fmtBytes };
    },
    thr: function (d) {
      var s = [{}, line("throughput", color("thr"), fmtRate, { fill: color("thr") + "33" }),
        line("RWIN/RTT ceiling", color("ceil"), fmtRate, { paths: stepped, dash: [4, 3] })];
      var cols = [d.t, d.thr, d.ceil];
      if (d.loss > 0) {
        s.push(line("loss ceiling (Mathis, from retransmissions)", color("loss"), fmtRate, { dash: [2, 3] }));
        cols.push(d.t.map(function () { return d.loss; }));
      }
      return { title: "Throughput and ceilings", height: 180, series: s, data: cols, fmt: fmtRate };
    },
    rtt: function (d) {
      return { title: "RTT samples (capture point to receiver and back)", height: 150, fmt: fmtMS,
        series: [{}, marker("RTT min", color("rtt"), fmtMS), marker("RTT max", color("rtt"), fmtMS, "hollow")],
        data: [d.t, d.rttMin, d.rttMax] };
    },
  };

  var width = function (el) { return Math.max(320, el.clientWidth || 800); };
  document.querySelectorAll(".chart[data-chart]").forEach(function (el) {
    var parts = el.dataset.chart.split("/"); // anchor/direction/kind
    var d = data[parts[0] + "/" + parts[1]];
    if (!d) return;
    var c = build[parts[2]](d);
    // rwin diff draws each capture's view: the title says whose.
    var title = d.capture ? "Capture " + d.capture + ": " + c.title : c.title;
    var u = new uPlot({
      title: title, width: width(el), height: c.height, series: c.series,
      axes: [{ stroke: color("fg"), grid: { stroke: color("line"), width: 1 }, ticks: { stroke: color("line") } }, axis(c.fmt)],
      tzDate: function (ts) { return uPlot.tzDate(new Date(ts * 1e3), "Etc/UTC"); }, // as rwin's other output
      cursor: { sync: { key: d.flow }, drag: { x: true, y: false } },
      hooks: { setScale: [syncX] },
    }, c.data, el);
    // Both captures' charts of a diff open on the same time range.
    if (d.x0 != null && d.x1 > d.x0) u.setScale("x", { min: d.x0, max: d.x1 });
    u.rwinFlow = d.flow;
    (groups[d.flow] = groups[d.flow] || []).push(u);
    wheel(u);
    el.dataset.drawn = "true";
    charts.push(u);
  });

  // Charts follow the page's width, on screen and on paper.
  var resize = function () {
    charts.forEach(function (u) { u.setSize({ width: width(u.root.parentNode), height: u.height }); });
  };
  window.addEventListener("resize", resize);
  window.addEventListener("beforeprint", resize);
  window.addEventListener("afterprint", resize);
})();
