// The status page: draws GET /api/grid and polls it every 2 s. No build step, no library.
"use strict";

const STATES = ["succeeded", "empty", "partial", "running", "stalled", "waiting", "failed", "dead", "cancelled", "none"];
const POLL_MS = 2000;
let selected = null; // "phase/job date" of the cell whose details are shown
let last = null;

function el(tag, attrs, text) {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) e.setAttribute(k, v);
  if (text !== undefined) e.textContent = text;
  return e;
}

function duration(ns) {
  let s = Math.round(ns / 1e9);
  if (s < 60) return s + "s";
  const m = Math.floor(s / 60); s %= 60;
  if (m < 60) return m + "m" + String(s).padStart(2, "0") + "s";
  return Math.floor(m / 60) + "h" + String(m % 60).padStart(2, "0") + "m";
}

// hover is a cell's title: the last error of a failed or dead date, else what it holds.
function hover(c, job) {
  if ((c.class === "failed" || c.class === "dead") && c.last_error) return c.last_error;
  const parts = [c.job + " " + c.date + ": " + c.class];
  if (c.state && c.class !== "none") {
    if (job.unit === "objects") parts.push((c.objects || 0) + " objects");
    else parts.push(c.rows + " rows" + (c.expected_rows ? " of ~" + c.expected_rows + " expected from the date's games" : ""));
    parts.push("attempt " + c.attempts);
  }
  if (c.rows_low) parts.push("LOW: at most half the rows its games call for");
  if (c.stalled_for) parts.push("lease lapsed " + duration(c.stalled_for) + " ago; the reconciler re-sends it");
  if (c.waits_for && c.waits_for.length) parts.push("waiting for " + c.waits_for.join(", "));
  if (c.incomplete && c.incomplete.length) parts.push("missing " + c.incomplete.join(", "));
  if (c.last_error) parts.push(c.last_error);
  return parts.join("; ");
}

function label(c, job) {
  if (c.class === "none") return "–";
  if (c.state === "partial" && job.unit === "objects") return "partial " + (c.objects || 0) + " obj";
  if (job.unit === "rows" && c.expected_rows && (c.state === "succeeded" || c.state === "empty")) {
    return c.rows + "/" + c.expected_rows;
  }
  return c.label;
}

function drawHeader(p) {
  const thead = document.querySelector("#grid thead");
  thead.textContent = "";
  const phases = el("tr"), jobs = el("tr");
  phases.append(el("th"));
  jobs.append(el("th", {}, "date"));
  let i = 0;
  while (i < p.jobs.length) {
    let j = i;
    while (j < p.jobs.length && p.jobs[j].phase === p.jobs[i].phase) j++;
    phases.append(el("th", { class: "phase", colspan: j - i }, p.jobs[i].phase));
    i = j;
  }
  for (const j of p.jobs) jobs.append(el("th", { class: "job", title: j.ref + " (" + j.unit + ")" }, j.job));
  thead.append(phases, jobs);
}

function drawGrid(p) {
  const key = p.jobs.map(j => j.ref).join(",") + "|" + p.dates.join(",");
  if (!last || last.key !== key) drawHeader(p);
  const tbody = document.querySelector("#grid tbody");
  tbody.textContent = "";
  p.dates.forEach((d, i) => {
    const tr = el("tr");
    tr.append(el("th", {}, d));
    p.jobs.forEach((job, j) => {
      const c = p.cells[i * p.jobs.length + j];
      const td = el("td", {
        class: "cell state-" + c.class + (c.rows_low ? " low" : ""),
        "data-job": job.ref, "data-date": d, "data-state": c.class, title: hover(c, job),
      }, label(c, job));
      const id = job.ref + " " + d;
      if (id === selected) td.classList.add("selected");
      td.addEventListener("click", () => { selected = id; showDetail(c, job); drawGrid(p); });
      tr.append(td);
    });
    tbody.append(tr);
  });
  last = { key, page: p };
}

function drawSummary(p) {
  document.getElementById("title").textContent = "Backfill status: " + p.title;
  const g = p.progress;
  const pct = g.total ? Math.floor(100 * g.finished / g.total) : 0;
  document.getElementById("bar-fill").style.width = pct + "%";
  document.getElementById("bar-text").textContent = g.finished + " / " + g.total + " pairs finished (" + pct + "%)";
  const phases = document.getElementById("phases");
  phases.textContent = "";
  for (const ph of g.phases || []) phases.append(el("span", { "data-phase": ph.phase }, ph.phase + " " + ph.finished + "/" + ph.total));
  let rate = g.window_ns ? g.per_second.toFixed(2) + " pairs/s over the last " + duration(g.window_ns) : "nothing recorded yet";
  if (g.total && g.finished >= g.total) rate += " · finished";
  else if (g.eta_ns) rate += " · ETA " + duration(g.eta_ns);
  else rate += " · ETA unknown";
  document.getElementById("rate").textContent = rate;
  const legend = document.getElementById("legend");
  legend.textContent = "";
  for (const s of STATES) {
    const li = el("li", { class: "legend-" + s }, s + " " + (g.states[s] || 0));
    li.style.setProperty("--swatch", "var(--" + s + ")");
    legend.append(li);
  }
  document.getElementById("updated").textContent = "updated " + new Date(p.generated).toLocaleTimeString() + ", every " + POLL_MS / 1000 + " s";
}

function showDetail(c, job) {
  document.getElementById("detail").hidden = false;
  document.getElementById("detail-title").textContent = job.ref + " " + c.date;
  const dl = document.getElementById("detail-fields");
  dl.textContent = "";
  const rows = job.unit === "objects" ? (c.objects || 0) + " objects" : c.rows + " rows" + (c.expected_rows ? " (~" + c.expected_rows + " expected)" : "");
  const fields = [["state", c.class], ["output", rows], ["attempts", c.attempts], ["run", c.run_id || "–"],
    ["updated", c.updated ? new Date(c.updated).toLocaleString() : "–"], ["reason", c.reason || "–"]];
  for (const [k, v] of fields) dl.append(el("dt", {}, k), el("dd", {}, String(v)));
  document.getElementById("detail-error").textContent = c.last_error || "";
  const rec = document.getElementById("record-link");
  rec.href = "api/record?job=" + encodeURIComponent(job.ref) + "&date=" + encodeURIComponent(c.date);
  const tr = document.getElementById("trace-link");
  tr.hidden = !c.trace_url;
  if (c.trace_url) tr.href = c.trace_url;
}

async function refresh() {
  try {
    const r = await fetch("api/grid", { cache: "no-store" });
    if (!r.ok) throw new Error(await r.text());
    const p = await r.json();
    document.getElementById("error").hidden = true;
    drawSummary(p);
    drawGrid(p);
    document.body.dataset.loaded = "true";
  } catch (e) {
    const err = document.getElementById("error");
    err.hidden = false;
    err.textContent = "cannot read the ledger: " + e.message;
  }
}

refresh();
setInterval(refresh, POLL_MS);
