// Orderflow analytics dashboard: polls the API every few seconds and redraws the charts.
(function () {
  "use strict";
  const params = new URLSearchParams(window.location.search);
  const refreshMs = Number(params.get("refresh") || 5000);
  const $ = (id) => document.getElementById(id);
  const state = {
    key: params.get("key") || localStorage.getItem("orderflow.analytics.key") || "",
    seller: params.get("seller") || localStorage.getItem("orderflow.analytics.seller") || "",
  };
  $("key").value = state.key;
  $("seller").value = state.seller;
  if (params.get("days")) { $("days").value = params.get("days"); }

  function isoDay(date) { return date.toISOString().slice(0, 10); }

  async function api(path) {
    const headers = { Authorization: "Bearer " + state.key };
    if (state.seller) { headers["X-Seller-Id"] = state.seller; }
    const response = await fetch(path, { headers: headers });
    const body = await response.json();
    if (!response.ok) { throw new Error(body.detail || body.title || response.status); }
    return body;
  }

  function drawSales(report) {
    const totals = report.totals.map((t) =>
      `<span>Orders <b class="total-orders">${t.orders}</b></span>` +
      `<span>Units <b>${t.units}</b></span>` +
      `<span>Revenue <b class="total-revenue">${t.revenue}</b> ${t.currency_code}</span>`);
    $("sales-totals").innerHTML = totals.join("") || "<span class='muted'>no orders</span>";
    const byCurrency = {};
    for (const point of report.series) {
      const trace = byCurrency[point.currency_code] ||
        (byCurrency[point.currency_code] = { x: [], y: [], orders: [] });
      trace.x.push(point.period);
      trace.y.push(Number(point.revenue));
      trace.orders.push(point.orders);
    }
    const traces = Object.entries(byCurrency).flatMap(([currency, t]) => [
      { x: t.x, y: t.y, name: "revenue " + currency, type: "scatter", mode: "lines+markers" },
      { x: t.x, y: t.orders, name: "orders", type: "bar", yaxis: "y2", opacity: 0.4 },
    ]);
    Plotly.react("sales-chart", traces, {
      margin: { t: 10, r: 50, b: 40, l: 50 }, height: 300,
      yaxis: { title: "revenue", rangemode: "tozero" },
      yaxis2: { title: "orders", overlaying: "y", side: "right", rangemode: "tozero",
                tickformat: "d" },
      legend: { orientation: "h" },
    }, { displayModeBar: false });
  }

  function drawHealth(report) {
    const shown = report.metrics.filter((m) => m.value !== null);
    const columns = Math.max(Math.min(shown.length, 3), 1);
    const rows = Math.max(Math.ceil(shown.length / columns), 1);
    const colors = { good: "#2e7d32", at_risk: "#f9a825", critical: "#c62828" };
    const traces = shown.map((m, i) => {
      const threshold = Number(m.target.threshold) * 100;
      // Amazon's own figure, when its report carries the metric: the delta is ours minus it
      const amazon = m.amazon && m.amazon.value !== null ? Number(m.amazon.value) * 100 : null;
      const flag = m.amazon && m.amazon.disagrees ? " ≠ Amazon" : "";
      return {
        type: "indicator", mode: amazon === null ? "gauge+number" : "gauge+number+delta",
        value: Number(m.value) * 100,
        number: { suffix: "%", valueformat: ".2f" },
        delta: amazon === null ? undefined : { reference: amazon, valueformat: ".2f", suffix: " vs Amazon" },
        title: { text: `${m.name.replace(/_/g, " ")} (${m.scope})${flag}`, font: { size: 12 } },
        domain: { row: Math.floor(i / columns), column: i % columns },
        gauge: {
          axis: { range: [0, m.target.direction === "below" ? Math.max(threshold * 3, 1) : 100] },
          bar: { color: colors[m.status] || "#607d8b" },
          threshold: { line: { color: "#c62828", width: 3 }, value: threshold },
        },
      };
    });
    Plotly.react("health-chart", traces, {
      grid: { rows: rows, columns: columns, pattern: "independent" },
      margin: { t: 30, r: 20, b: 10, l: 20 }, height: 170 * rows + 40,
    }, { displayModeBar: false });
    const missing = report.metrics.filter((m) => m.value === null);
    $("health-notes").textContent = missing
      .map((m) => {
        const amazon = m.amazon && m.amazon.value !== null
          ? `; Amazon: ${(Number(m.amazon.value) * 100).toFixed(2)}%` : "";
        return `${m.name} (${m.scope}): ${m.status}${amazon}`;
      }).join(" · ");
  }

  function drawAlerts(page) {
    $("alerts").innerHTML = "";
    for (const alert of page.items) {
      const item = document.createElement("li");
      item.textContent = `${alert.raised_at.slice(0, 16)} ${alert.message}`;
      $("alerts").appendChild(item);
    }
  }

  function drawAds(report) {
    const items = report.items.filter((i) => i.ad_order_ratio !== null);
    const several = report.currency_codes.length > 1;  // an ASIN has a bar per currency then
    const label = (i) => (several ? `${i.asin} ${i.currency_code}` : i.asin);
    Plotly.react("ads-chart", [{
      type: "bar", x: items.map(label), y: items.map((i) => Number(i.ad_order_ratio)),
      marker: { color: items.map((i) => (i.too_dependent_on_ads ? "#c62828" : "#1565c0")) },
      name: "ad-order ratio",
    }], {
      margin: { t: 10, r: 20, b: 40, l: 50 }, height: 300, yaxis: { range: [0, 1] },
      shapes: [{ type: "line", xref: "paper", x0: 0, x1: 1, y0: Number(report.threshold),
                 y1: Number(report.threshold), line: { color: "#c62828", dash: "dash" } }],
    }, { displayModeBar: false });
    const ratio = (v) => (v === null ? "n/a" : `${(Number(v) * 100).toFixed(1)}%`);
    const money = report.by_currency.map((c) =>
      `${c.currency_code}: spend ${c.spend}, ACoS ${ratio(c.acos)}, TACoS ${ratio(c.tacos)}`);
    const advice = report.items.flatMap((i) => i.recommendations.map((r) => `${label(i)}: ${r.title}`));
    $("ads-notes").textContent =
      [...money, advice.join(" · ") || "No ASIN above the threshold."].join(" · ");
  }

  function drawLag(report) {
    const groups = report.consumer_lag.groups || [];
    const bars = groups.flatMap((g) => {
      const byTopic = {};
      for (const p of g.partitions) { byTopic[p.topic] = (byTopic[p.topic] || 0) + p.lag; }
      return Object.entries(byTopic).map(([topic, lag]) => ({ label: `${g.service} · ${topic}`, lag }));
    });
    Plotly.react("lag-chart", [{
      type: "bar", orientation: "h", y: bars.map((b) => b.label), x: bars.map((b) => b.lag),
      marker: { color: "#6a1b9a" }, name: "lag",
    }], { margin: { t: 10, r: 20, b: 40, l: 220 }, height: 300, xaxis: { rangemode: "tozero" } },
    { displayModeBar: false });
    const services = Object.entries(report.services)
      .map(([name, s]) => `${name}: ${s.ready ? "ready" : "not ready"}, outbox ${s.outbox_backlog ?? "?"}`
        + progressNote(s.progress));
    const stalled = Object.values(report.services)
      .some((s) => s.progress && Object.values(s.progress.stalled || {}).some(Boolean));
    $("lag-notes").textContent = services.join(" · ");
    $("lag-notes").classList.toggle("stalled", stalled);
  }

  // A service's relay and workers: stalled roles first (no progress for STALL_SECONDS while
  // work waits: docs/operations/stall-detection.md), then what they last did.
  function progressNote(p) {
    if (!p) { return ""; }
    const parts = [];
    const stalled = Object.entries(p.stalled || {}).filter(([, yes]) => yes).map(([role]) => role);
    if (stalled.length) { parts.push(`STALLED: ${stalled.join(", ")}`); }
    if (p.outbox_oldest_unsent_age_s != null) { parts.push(`oldest unsent ${p.outbox_oldest_unsent_age_s} s`); }
    if (p.relay_last_success_s_ago != null) { parts.push(`relay round ${p.relay_last_success_s_ago} s ago`); }
    if (p.consumer_lag != null) { parts.push(`worker lag ${p.consumer_lag}`); }
    if (p.consumer_last_applied_s_ago != null) { parts.push(`applied ${p.consumer_last_applied_s_ago} s ago`); }
    return parts.length ? `, ${parts.join(", ")}` : "";
  }

  async function section(name, path, draw, notes) {
    try {
      draw(await api(path));
      return true;
    } catch (error) {
      $(notes).textContent = `${name}: ${error.message}`;
      return false;
    }
  }

  async function opsSection() {
    // Only ops keys see the platform's lag: after one refusal, stop asking.
    if (state.opsRefused) { return false; }
    const ok = await section("ops", "/v1/ops/overview", drawLag, "lag-notes");
    if (!ok && /role ops/.test($("lag-notes").textContent)) {
      state.opsRefused = true;
      $("lag-notes").textContent = "Consumer lag is shown to operators (an ops key).";
    }
    return ok;
  }

  async function refresh() {
    if (!state.key) { return; }
    const days = Number($("days").value) || 30;
    const to = new Date();
    const from = new Date(to.getTime() - (days - 1) * 86400000);
    const range = `from=${isoDay(from)}&to=${isoDay(to)}`;
    const results = await Promise.all([
      section("sales", `/v1/sales?${range}&granularity=day&group_by=none`, drawSales, "sales-totals"),
      section("account health", "/v1/account-health", drawHealth, "health-notes"),
      section("ads", `/v1/ads/summary?${range}&group_by=asin`, drawAds, "ads-notes"),
      opsSection(),
      section("alerts", "/v1/alerts?state=active&limit=10", drawAlerts, "health-notes"),
    ]);
    const ok = results.filter(Boolean).length;
    $("status").textContent = `updated ${new Date().toLocaleTimeString()} (${ok}/5 sections)`;
    document.body.dataset.refreshes = String(Number(document.body.dataset.refreshes || 0) + 1);
  }

  $("apply").addEventListener("click", () => {
    state.key = $("key").value.trim();
    state.seller = $("seller").value.trim();
    state.opsRefused = false;
    localStorage.setItem("orderflow.analytics.key", state.key);
    localStorage.setItem("orderflow.analytics.seller", state.seller);
    refresh();
  });
  refresh();
  setInterval(refresh, refreshMs);
})();
