/* The usage dashboard: fetch the staff-only JSON and draw it with the local Chart.js.
 * Costs arrive as decimal strings and are turned into numbers only for drawing; labels are
 * inserted as text, never as HTML. */
(function () {
  "use strict";

  const PALETTE = ["#4e79a7", "#f28e2b", "#e15759", "#76b7b2", "#59a14f",
                   "#edc948", "#b07aa1", "#ff9da7", "#9c755f", "#bab0ac"];
  const TOKEN_LABELS = {
    input_tokens: "input", cached_input_tokens: "cached input", cache_write_tokens: "cache write",
    output_tokens: "output", reasoning_tokens: "reasoning",
  };
  const charts = {};

  function colour(i) { return PALETTE[i % PALETTE.length]; }
  // Cents at least; below a dollar up to a millionth, so a cheap call never shows as $0.
  function usd(value) {
    const n = Number(value);
    return "$" + n.toLocaleString(undefined, {
      minimumFractionDigits: 2, maximumFractionDigits: Math.abs(n) < 1 ? 6 : 4,
    });
  }

  function draw(id, config) {
    if (charts[id]) { charts[id].destroy(); }
    charts[id] = new window.Chart(document.getElementById(id), config);
  }

  function setStatus(text, isError) {
    const status = document.getElementById("usage-status");
    status.textContent = text;
    status.classList.toggle("error", Boolean(isError));
  }

  function renderTotals(totals) {
    const box = document.getElementById("usage-totals");
    box.replaceChildren();
    const items = [
      ["Cost", usd(totals.cost)], ["Requests", totals.requests.toLocaleString()],
      ["Errors", (totals.error_rate * 100).toFixed(1) + " %"],
      ["Tokens", totals.total_tokens.toLocaleString()],
      ["Mean latency", totals.latency_ms_mean === null ? "–" : totals.latency_ms_mean + " ms"],
      ["p95 latency", totals.latency_ms_p95 === null ? "–" : "≤ " + totals.latency_ms_p95 + " ms"],
      ["Unpriced calls", totals.unpriced_calls.toLocaleString()],
      ["Saved by cache", usd(totals.saved_cost)],
    ];
    for (const [label, value] of items) {
      const card = document.createElement("div");
      card.className = "usage-total";
      const l = document.createElement("div"); l.className = "label"; l.textContent = label;
      const v = document.createElement("div"); v.className = "value"; v.textContent = value;
      card.append(l, v);
      box.append(card);
    }
  }

  function renderBudgets(budgets) {
    const body = document.querySelector("#usage-budgets tbody");
    body.replaceChildren();
    if (!budgets.length) {
      const row = body.insertRow();
      const cell = row.insertCell();
      cell.colSpan = 8;
      cell.textContent = "No active budgets.";
      return;
    }
    for (const b of budgets) {
      const row = body.insertRow();
      const cells = [b.name, b.scope, b.period, usd(b.limit), usd(b.spent), usd(b.reserved),
                     b.percent.toFixed(1) + " %", new Date(b.resets_at).toLocaleString()];
      cells.forEach((text, i) => {
        const cell = row.insertCell();
        cell.textContent = text;
        if (i === 6 && b.percent >= 100) { cell.className = "over"; }
      });
    }
  }

  function render(data) {
    const days = data.days;
    renderTotals(data.totals);
    draw("chart-cost", {
      type: "bar",
      data: {
        labels: days,
        datasets: data.cost_by_provider.map((p, i) => ({
          label: p.provider, data: p.cost.map(Number), backgroundColor: colour(i),
        })),
      },
      options: {responsive: true, scales: {x: {stacked: true}, y: {stacked: true, beginAtZero: true}}},
    });
    draw("chart-tokens", {
      type: "line",
      data: {
        labels: days,
        datasets: Object.entries(data.tokens_by_day).map(([name, series], i) => ({
          label: TOKEN_LABELS[name] || name, data: series, borderColor: colour(i),
          backgroundColor: colour(i), tension: 0.2,
        })),
      },
      options: {responsive: true, scales: {y: {beginAtZero: true}}},
    });
    draw("chart-models", {
      type: "bar",
      data: {
        labels: data.models.map((m) => m.group),
        datasets: [
          {label: "requests", data: data.models.map((m) => m.requests),
           backgroundColor: colour(0), yAxisID: "y"},
          {label: "error rate (%)", data: data.models.map((m) => m.error_rate * 100),
           backgroundColor: colour(2), yAxisID: "rate"},
        ],
      },
      options: {
        responsive: true,
        scales: {
          y: {beginAtZero: true, position: "left"},
          rate: {beginAtZero: true, max: 100, position: "right", grid: {drawOnChartArea: false}},
        },
      },
    });
    draw("chart-consumers", {
      type: "bar",
      data: {
        labels: data.top_consumers.map((c) => c.group),
        datasets: [{label: "cost (USD)", data: data.top_consumers.map((c) => Number(c.cost)),
                    backgroundColor: colour(4)}],
      },
      options: {indexAxis: "y", responsive: true, scales: {x: {beginAtZero: true}}},
    });
    renderBudgets(data.budgets);
  }

  async function load(root, form) {
    const params = new URLSearchParams(new FormData(form));
    setStatus("Loading…");
    try {
      const response = await fetch(root.dataset.url + "?" + params.toString(), {
        credentials: "same-origin", headers: {Accept: "application/json"},
      });
      const body = await response.json();
      if (!response.ok) {
        setStatus((body.error && body.error.message) || "The figures could not be loaded.", true);
        return;
      }
      render(body);
      setStatus(`${body.since} to ${body.until}`);
    } catch (err) {
      setStatus("The figures could not be loaded.", true);
    }
  }

  document.addEventListener("DOMContentLoaded", function () {
    const root = document.getElementById("usage-dashboard");
    const form = document.getElementById("usage-filters");
    if (!root || !form) { return; }
    form.addEventListener("submit", function (event) {
      event.preventDefault();
      const params = new URLSearchParams(new FormData(form));
      window.history.replaceState(null, "", "?" + params.toString());
      load(root, form);
    });
    load(root, form);
  });
})();
