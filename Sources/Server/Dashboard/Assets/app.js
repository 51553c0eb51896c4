const $ = (s) => document.querySelector(s);
const pct = (v) => (v == null ? "-" : `${(v * 100).toFixed(1)} %`);
const esc = (s) =>
  String(s ?? "").replace(
    /[&<>"']/g,
    (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" })[c],
  );
let live = null,
  current = "plant",
  machineId = null,
  role = "viewer";

async function api(path, options) {
  const r = await fetch(
    path,
    Object.assign({ credentials: "same-origin", headers: { "Content-Type": "application/json" } }, options || {}),
  );
  const body = await r.json().catch(() => ({}));
  if (!r.ok) throw new Error(body.error || r.statusText);
  return body;
}

function show(view) {
  current = view;
  document.querySelectorAll(".view").forEach((v) => {
    v.hidden = v.id !== view;
  });
  document.querySelectorAll("header nav a").forEach((a) => {
    a.classList.toggle("active", a.dataset.view === view);
  });
}

function route() {
  const h = location.hash || "#/";
  if (h.startsWith("#/machine/")) {
    machineId = decodeURIComponent(h.slice(10));
    show("machine");
    loadMachine();
  } else if (h === "#/alerts") {
    show("alerts");
    loadAlerts();
  } else if (h === "#/models") {
    show("models");
    loadModels();
  } else if (h === "#/recommendations") {
    show("recommendations");
    loadRecommendations();
  } else {
    show("plant");
    if (live) renderPlant(live);
  }
}

function tile(label, value) {
  return `<div class="tile"><b>${esc(value)}</b><span>${esc(label)}</span></div>`;
}

function renderPlant(d) {
  const s = d.summary;
  $("#tiles").innerHTML = [
    tile("machines", s.machines),
    tile("running", s.states.running || 0),
    tile("down", (s.states.down || 0) + (s.states.tool_change || 0)),
    tile("OEE (last hour)", pct(s.oee)),
    tile("active alerts", s.alerts_active),
    tile("predictions", s.predictions.toLocaleString()),
    tile("dead letters", s.dead_letters),
    tile("latency p99", s.latency_p99_ms == null ? "-" : `${s.latency_p99_ms.toFixed(1)} ms`),
  ].join("");
  $("#machines tbody").innerHTML = d.machines
    .map((m) => {
      const mode = Object.entries(m.modes || {}).sort((a, b) => b[1] - a[1])[0];
      const risk =
        m.risk == null ? "-" : `<span class="risk" style="width:${Math.max(2, m.risk * 80)}px"></span>${pct(m.risk)}`;
      return (
        `<tr class="machine-row" data-id="${esc(m.id)}"><td>${esc(m.id)}</td><td>${esc(m.line)}</td><td class="state-${esc(m.state)}">${esc(m.state)}</td>` +
        `<td>${esc(m.product)}</td><td>${risk}</td><td>${mode && mode[1] > 0.05 ? `${esc(mode[0])} ${pct(mode[1])}` : "-"}</td><td>${pct(m.oee)}</td><td>${esc(m.model)}</td></tr>`
      );
    })
    .join("");
  document.querySelectorAll("tr.machine-row").forEach((tr) => {
    tr.onclick = () => {
      location.hash = `#/machine/${encodeURIComponent(tr.dataset.id)}`;
    };
  });
  renderAlerts($("#recent-alerts"), d.alerts);
  $("#status").textContent =
    `live: ${s.records_seen.toLocaleString()} records read; updated ${new Date().toLocaleTimeString()}`;
}

function renderAlerts(list, alerts) {
  if (!alerts.length) {
    list.innerHTML = "<li class='info'><span class='msg'>No alerts.</span></li>";
    return;
  }
  list.innerHTML = alerts
    .map(
      (a) =>
        `<li class="${esc(a.severity)} ${esc(a.status)}">${a.priority ? `<span class="priority ${esc(a.priority)}">${esc(a.priority)}</span>` : ""}<span class="msg">${esc(a.message)}` +
        `<br><span class="meta">${esc(a.ts)}${a.occurrences > 1 ? ` · ${a.occurrences} times, last ${esc(a.last_ts)}` : ""} · ${esc(a.kind)}${a.variable ? ` · ${esc(a.variable)}` : ""} · ${esc(a.status)}` +
        `${a.clear_reason ? ` (${esc(a.clear_reason)})` : ""}${a.needs_acknowledge ? " · latched: acknowledge" : ""}${a.shelved_until ? ` · shelved by ${esc(a.shelved_by)} until ${esc(a.shelved_until)}` : ""}` +
        `${a.acknowledged ? ` · acknowledged by ${esc(a.acknowledged_by)}` : ""}${a.cleared_by ? ` · cleared by ${esc(a.cleared_by)}` : ""}</span></span>` +
        ((a.status === "raised" || a.needs_acknowledge) && !a.acknowledged
          ? `<button data-act="acknowledge" data-id="${esc(a.id)}">Acknowledge</button>`
          : "") +
        (a.status === "raised" && !a.shelved_until
          ? `<button data-act="shelve" data-id="${esc(a.id)}" title="Off the active list for an hour">Shelve 1 h</button>`
          : "") +
        (a.status === "raised" ? `<button data-act="clear" data-id="${esc(a.id)}">Clear</button>` : "") +
        "</li>",
    )
    .join("");
  list.querySelectorAll("button").forEach((b) => {
    b.onclick = async () => {
      const body = b.dataset.act === "shelve" ? JSON.stringify({ minutes: 60 }) : "{}";
      try {
        await api(`/api/alerts/${encodeURIComponent(b.dataset.id)}/${b.dataset.act}`, { method: "POST", body });
        b.closest("li").classList.add("cleared");
        b.remove();
      } catch (e) {
        alert(e.message);
      }
    };
  });
}

function path(points, w, h, pad, lo, hi, t0, t1) {
  const x = (t) => pad + (t1 === t0 ? 0 : (t - t0) / (t1 - t0)) * (w - 2 * pad);
  const y = (v) => h - pad - (hi === lo ? 0.5 : (v - lo) / (hi - lo)) * (h - 2 * pad);
  return { d: points.map((p, i) => `${(i ? "L" : "M") + x(p[0]).toFixed(1)},${y(p[1]).toFixed(1)}`).join(" "), x, y };
}

function lineChart(svg, points, opts) {
  const w = 900,
    h = opts.height || 180,
    pad = 28;
  if (!points.length) {
    svg.innerHTML = `<text x="20" y="30">no data yet</text>`;
    return;
  }
  const vals = points.map((p) => p[1]).concat(opts.extra || []);
  let lo = opts.lo ?? Math.min(...vals),
    hi = opts.hi ?? Math.max(...vals);
  if (hi === lo) {
    hi += 1;
    lo -= 1;
  }
  const t0 = points[0][0],
    t1 = points[points.length - 1][0];
  const p = path(points, w, h, pad, lo, hi, t0, t1);
  let out = `<path class="line" d="${p.d}"/>`;
  for (const [cls, v, label] of opts.lines || [])
    out += `<line class="${cls}" x1="${pad}" x2="${w - pad}" y1="${p.y(v)}" y2="${p.y(v)}"/><text x="${w - pad + 2}" y="${p.y(v) + 4}">${label}</text>`;
  for (const v of opts.marks || [])
    out += `<circle class="violation" cx="${p.x(v[0])}" cy="${p.y(v[1])}" r="4"><title>${esc(v[2])}</title></circle>`;
  out += `<text x="${pad}" y="${h - 6}">${new Date(t0).toLocaleTimeString()}</text><text x="${w - pad - 60}" y="${h - 6}">${new Date(t1).toLocaleTimeString()}</text>`;
  out += `<text x="2" y="${pad}">${hi.toPrecision(4)}</text><text x="2" y="${h - pad}">${lo.toPrecision(4)}</text>`;
  svg.innerHTML = out;
}

async function loadMachine() {
  if (!machineId) return;
  const m = await api(`/api/machines/${encodeURIComponent(machineId)}`);
  $("#machine-title").textContent = m.id;
  const mode = Object.entries(m.modes || {}).sort((a, b) => b[1] - a[1])[0];
  $("#machine-facts").innerHTML = [
    tile("state", m.state),
    tile("failure risk", pct(m.risk)),
    tile("likely mode", mode ? mode[0] : "-"),
    tile("OEE (hour)", pct(m.oee)),
    tile("product", m.product || "-"),
    tile("model", m.model || "-"),
  ].join("");
  lineChart($("#risk-chart"), m.risk_history, { lo: 0, hi: 1, lines: [["limit", 0.5, "alarm"]] });
  const sel = $("#spc-variable");
  if (!sel.options.length) sel.innerHTML = m.variables.map((v) => `<option>${esc(v.name)}</option>`).join("");
  $("#trends").innerHTML = m.variables
    .map(
      (v) =>
        `<div class="trend"><b>${esc(v.name)}</b> <span class="facts">${esc(v.unit)}</span><svg viewBox="0 0 900 70" preserveAspectRatio="none" data-var="${esc(v.name)}"></svg></div>`,
    )
    .join("");
  await drawTrends(m);
  renderAlerts($("#machine-alerts"), m.alerts);
  await loadSPC();
}

/// The sensor trends: the server's live window, or a range from the historian drawn as the mean with the band
/// between each bucket's min and max (at most 900 buckets).
async function drawTrends(m) {
  const range = $("#trend-range").value;
  const names = m.variables.map((v) => v.name);
  const download = $("#trend-download");
  const alertsDownload = $("#alerts-download");
  if (range === "live") {
    download.hidden = alertsDownload.hidden = true;
    $("#trend-facts").textContent = "";
    document.querySelectorAll(".trend svg").forEach((svg) => {
      drawTrend(
        svg,
        (m.values[svg.dataset.var] || []).map((q) => [q[0], q[1], q[1], q[1]]),
      );
    });
    return;
  }
  const to = Date.now();
  const from = to - Number(range);
  const query = `machine=${encodeURIComponent(m.id)}&variables=${encodeURIComponent(names.join(","))}&from=${from}&to=${to}`;
  let h;
  try {
    h = await api(`/api/history?${query}&points=900`);
  } catch (e) {
    download.hidden = alertsDownload.hidden = true;
    $("#trend-facts").textContent = e.message;
    document.querySelectorAll(".trend svg").forEach((svg) => {
      svg.innerHTML = "";
    });
    return;
  }
  const engineer = ["engineer", "admin"].includes(role);
  download.hidden = alertsDownload.hidden = !engineer;
  download.href = `/api/export?${query}&format=csv`;
  alertsDownload.href = `/api/export?kind=alerts&machine=${encodeURIComponent(m.id)}&from=${from}&to=${to}&format=csv`;
  const first = h.series.find((s) => s.t.length) || h.series[0];
  $("#trend-facts").textContent = first
    ? `${first.t.length} buckets of ${Math.round(first.resolution_ms / 60000)} min from the historian (${first.source})`
    : "";
  const bySeries = Object.fromEntries(h.series.map((s) => [s.variable, s]));
  document.querySelectorAll(".trend svg").forEach((svg) => {
    const s = bySeries[svg.dataset.var];
    drawTrend(svg, s ? s.t.map((t, i) => [Date.parse(t), s.mean[i], s.min[i], s.max[i]]) : []);
  });
}

/// One small trend: [time, mean, min, max] per point; the band shows where min and max differ.
function drawTrend(svg, pts) {
  if (!pts.length) {
    svg.innerHTML = "";
    return;
  }
  const lo = Math.min(...pts.map((q) => q[2])),
    hi = Math.max(...pts.map((q) => q[3]));
  const t0 = pts[0][0],
    t1 = pts[pts.length - 1][0];
  // The line through column k (1 mean, 2 min, 3 max) of the points, in order or reversed.
  const line = (k, reversed) => {
    const xy = pts.map((q) => [q[0], q[k]]);
    return path(reversed ? xy.reverse() : xy, 900, 70, 4, lo, hi, t0, t1).d;
  };
  const band = pts.some((q) => q[2] !== q[3])
    ? `<path class="band" d="${line(3, false)} ${line(2, true).replace("M", "L")} Z"/>`
    : "";
  svg.innerHTML = `${band}<path class="line" d="${line(1, false)}"/>`;
}

async function loadSPC() {
  const v = $("#spc-variable").value;
  if (!v) return;
  const c = await api(
    `/api/machines/${encodeURIComponent(machineId)}/spc/${encodeURIComponent(v)}?rules=${$("#spc-rules").value}`,
  );
  if (c.status !== "ok") {
    $("#spc-chart").innerHTML = `<text x="20" y="30">${esc(c.message)}</text>`;
    $("#spc-facts").textContent = "";
    return;
  }
  const marks = c.violations.map((x) => [c.points[x.index][0], x.value, x.description]);
  lineChart($("#spc-chart"), c.points, {
    height: 240,
    extra: [c.ucl, c.lcl],
    marks,
    lines: [
      ["limit", c.ucl, "UCL"],
      ["center", c.center, "CL"],
      ["limit", c.lcl, "LCL"],
    ],
  });
  $("#spc-facts").textContent =
    `centre ${c.center.toPrecision(5)}, sigma ${c.sigma.toPrecision(3)} (from the first ${c.baseline_points} points); ` +
    `${c.violations.length} rule violations; Cp ${c.cp == null ? "-" : c.cp.toFixed(2)}, Cpk ${c.cpk == null ? "-" : c.cpk.toFixed(2)}`;
}

async function loadAlerts() {
  const [d, k] = await Promise.all([
    api(`/api/alerts?limit=500&status=${$("#alert-filter").value}`),
    api("/api/alarms"),
  ]);
  const rate = k.per_operator_per_10_min;
  const t = (label, value, over) =>
    tile(label, value).replace('class="tile"', over ? 'class="tile over"' : 'class="tile"');
  $("#alarm-kpis").innerHTML = [
    t("alarms per operator per 10 min (mean)", rate.mean.toFixed(2), rate.mean > 1),
    t("peak in 10 min", rate.peak, rate.peak > 10),
    t("windows in flood", `${k.flood_percent.toFixed(1)} %`, k.flood_percent >= 1),
    t("chattering", k.chattering, k.chattering > 0),
    t("standing", k.standing),
    t("suppressed by design", k.suppressed),
    t("shelved now", k.shelved_now),
    t("alarms (24 h)", k.alarms),
  ].join("");
  const f = k.failure_forecast;
  $("#alarm-facts").textContent =
    `${k.operators} operator(s), ${k.machines_per_operator} machines each. Top 10 conditions: ${(k.top_share * 100).toFixed(0)} % of alarms` +
    (k.top.length
      ? " (" +
        k.top
          .slice(0, 3)
          .map((c) => `${c.condition} ×${c.count}`)
          .join(", ") +
        ")"
      : "") +
    (k.suppressed_by_reason.length
      ? `. Suppressed: ${k.suppressed_by_reason.map((r) => `${r.reason} ${r.count}`).join(", ")}`
      : "") +
    (f && f.precision != null
      ? `. Failure warnings: ${f.alarms}, ${(f.precision * 100).toFixed(0)} % followed by a failure`
      : "") +
    ".";
  renderAlertGroups($("#alert-groups"), d.alerts);
}

// The alerts view: by priority (most urgent first), then by machine.
function renderAlertGroups(root, alerts) {
  if (!alerts.length) {
    root.innerHTML = "<ul class='alerts'><li class='info'><span class='msg'>No alerts.</span></li></ul>";
    return;
  }
  const order = ["urgent", "high", "medium", "low", null];
  const groups = order.map((p) => [p, alerts.filter((a) => (a.priority ?? null) === p)]).filter((g) => g[1].length);
  root.innerHTML = groups
    .map(([p, list]) => {
      const machines = [...new Set(list.map((a) => a.machine))].sort();
      return (
        `<div class="alert-group" data-priority="${esc(p ?? "unset")}"><h3><span class="priority ${esc(p ?? "")}">${esc(p ?? "no priority")}</span> ${list.length}</h3>` +
        machines.map((m) => `<h4>${esc(m)}</h4><ul class="alerts" data-machine="${esc(m)}"></ul>`).join("") +
        "</div>"
      );
    })
    .join("");
  for (const [p, list] of groups) {
    for (const ul of root.querySelectorAll(`.alert-group[data-priority="${p ?? "unset"}"] ul`)) {
      renderAlerts(
        ul,
        list.filter((a) => a.machine === ul.dataset.machine),
      );
    }
  }
}

async function loadRecommendations() {
  const o = await api("/api/optimizer");
  const cl = o.closed_loop;
  $("#closed-loop").innerHTML =
    (cl?.enabled
      ? `Closed loop is <b>on</b> (switched by ${esc(cl.by)} at ${esc(cl.ts)}). <button id="cl-off">Switch closed loop off</button>`
      : cl
        ? `Closed loop is off (switched by ${esc(cl.by)} at ${esc(cl.ts)}): recommendations wait for an operator.`
        : "Closed loop: as the workers were started (see millstream run --closed-loop).") +
    (cl?.enabled ? "" : ` <button id="cl-on" title="needs the engineer role">Switch closed loop on</button>`) +
    (!cl ? ` <button id="cl-off">Switch closed loop off</button>` : "");
  document.querySelectorAll("#cl-off, #cl-on").forEach((b) => {
    b.onclick = async () => {
      try {
        await api("/api/optimizer/closed-loop", {
          method: "POST",
          body: JSON.stringify({ enabled: b.id === "cl-on" }),
        });
        loadRecommendations();
      } catch (e) {
        alert(e.message);
      }
    };
  });
  const d = await api(`/api/recommendations?limit=200&status=${$("#rec-filter").value}`);
  const list = $("#rec-list");
  if (!d.recommendations.length) {
    list.innerHTML = "<li class='info'><span class='msg'>No recommendations.</span></li>";
    return;
  }
  list.innerHTML = d.recommendations
    .map(
      (r) =>
        `<li class="${r.status === "pending" ? "warning" : "info"} ${r.status === "pending" ? "" : "cleared"}"><span class="msg">` +
        `<b>${esc(r.machine)}</b>: ${esc(r.explanation)}<br><span class="meta">${esc(r.ts)} · ${esc(r.model)} · risk ${pct(r.risk_before)} → ${pct(r.risk_after)}` +
        ` · ${esc(r.status)}${r.decided_by ? ` by ${esc(r.decided_by)}` : ""}</span></span>` +
        (r.status === "pending"
          ? `<button data-act="approve" data-id="${esc(r.id)}">Approve</button><button data-act="reject" data-id="${esc(r.id)}">Reject</button>`
          : "") +
        "</li>",
    )
    .join("");
  list.querySelectorAll("button").forEach((b) => {
    b.onclick = async () => {
      try {
        await api(`/api/recommendations/${encodeURIComponent(b.dataset.id)}/${b.dataset.act}`, {
          method: "POST",
          body: "{}",
        });
        loadRecommendations();
      } catch (e) {
        alert(e.message);
      }
    };
  });
}

// Two versions side by side: test metrics, the data they were trained on, their parameters, where they were tracked.
function renderCompare(versions) {
  const pick = (id) => versions.find((v) => `${v.name}@v${v.version}` === $(id).value);
  const a = pick("#cmp-a"),
    b = pick("#cmp-b");
  $("#cmp-a-head").textContent = a ? `${a.name}@v${a.version}` : "";
  $("#cmp-b-head").textContent = b ? `${b.name}@v${b.version}` : "";
  if (!a || !b) {
    $("#compare tbody").innerHTML = "<tr><td colspan=3>pick two versions</td></tr>";
    return;
  }
  const num = (x) => (typeof x === "number" ? (Number.isInteger(x) ? String(x) : x.toFixed(4)) : (x ?? "-"));
  const rows = [
    ["stage", (v) => v.stage + (v.aliases?.length ? ` (@${v.aliases.join(", @")})` : "")],
    ["task", (v) => v.task],
    ["created", (v) => v.created],
  ];
  const metricKeys = [...new Set([...Object.keys(a.metrics || {}), ...Object.keys(b.metrics || {})])].sort();
  for (const k of metricKeys) rows.push([`test ${k}`, (v) => num(v.metrics?.[k])]);
  rows.push([
    "dataset",
    (v) => (v.dataset ? `${v.dataset.name} (${v.dataset.rows} rows, ${num(v.dataset.failures)} failures)` : "-"),
  ]);
  rows.push(["dataset sha256", (v) => (v.dataset_sha256 ? v.dataset_sha256.slice(0, 12) : "-")]);
  rows.push(["readings", (v) => (v.dataset?.from ? `${v.dataset.from} to ${v.dataset.to}` : "-")]);
  rows.push(["source", (v) => v.dataset?.source ?? "-"]);
  rows.push(["validated", (v) => (v.dataset?.validated == null ? "-" : v.dataset.validated ? "yes" : "no")]);
  const paramKeys = [
    ...new Set([...Object.keys(a.hyperparameters || {}), ...Object.keys(b.hyperparameters || {})]),
  ].sort();
  for (const k of paramKeys) rows.push([k, (v) => v.hyperparameters?.[k] ?? "-"]);
  rows.push(["tracking run", (v) => v.tracking_run ?? "-"]);
  $("#compare tbody").innerHTML = rows
    .map(([label, f]) => {
      const x = String(f(a)),
        y = String(f(b));
      return `<tr${x === y ? "" : ' class="differs"'}><td>${esc(label)}</td><td>${esc(x)}</td><td>${esc(y)}</td></tr>`;
    })
    .join("");
}

async function loadModels() {
  const d = await api("/api/models");
  const versions = d.models.flatMap((m) => m.versions);
  for (const [id, i] of [
    ["#cmp-a", versions.length - 2],
    ["#cmp-b", versions.length - 1],
  ]) {
    const keep = $(id).value;
    $(id).innerHTML = versions.map((v) => `<option>${esc(`${v.name}@v${v.version}`)}</option>`).join("");
    $(id).value =
      keep || (versions[Math.max(0, i)] ? `${versions[Math.max(0, i)].name}@v${versions[Math.max(0, i)].version}` : "");
    $(id).onchange = () => renderCompare(versions);
  }
  renderCompare(versions);
  $("#model-table tbody").innerHTML = d.models
    .flatMap((m) =>
      m.versions.map(
        (v) =>
          `<tr><td>${esc(m.name)}</td><td>v${v.version}</td><td>${esc(v.stage)}</td><td>${esc(v.task)}</td><td>${esc(v.created)}</td>` +
          `<td>${Object.entries(v.metrics || {})
            .filter(([k]) => ["f1", "roc_auc", "accuracy", "precision", "recall"].includes(k))
            .map(([k, x]) => `${esc(k)} ${Number(x).toFixed(3)}`)
            .join(", ")}</td></tr>`,
      ),
    )
    .join("");
  const mon = await api("/api/monitoring");
  const f = (x) => (x == null ? "-" : Number(x).toFixed(3));
  $("#monitoring tbody").innerHTML =
    mon.models
      .map(
        (m) =>
          `<tr><td>${esc(m.model)}</td><td>${m.labelled}</td><td>${f(m.precision)}</td><td>${f(m.recall)}</td><td>${f(m.f1)}</td><td>${f(m.rolling.f1)}</td></tr>`,
      )
      .join("") || "<tr><td colspan=6>no labels joined yet</td></tr>";
  // Challengers in shadow beside their champion, on the same labelled readings, and what the promotion policy says.
  const verdicts = {};
  for (const name of new Set(mon.shadow.map((s) => s.challenger.split("@")[0]))) {
    verdicts[name] = await api(`/api/models/${encodeURIComponent(name)}/challenger`).catch(() => null);
  }
  const fpr = (x, p, r) => `${f(x)} <span class="meta">(P ${f(p)}, R ${f(r)})</span>`;
  $("#shadow tbody").innerHTML =
    mon.shadow
      .map((s) => {
        const name = s.challenger.split("@")[0];
        const v = verdicts[name];
        const current = v && v.challenger === s.challenger;
        return (
          `<tr><td>${esc(s.challenger)}</td><td>${esc(s.champion ?? "-")}</td><td>${s.labelled} (${s.failures} failures)</td>` +
          `<td>${fpr(s.challenger_f1, s.challenger_precision, s.challenger_recall)}</td>` +
          `<td>${fpr(s.champion_f1, s.champion_precision, s.champion_recall)}</td>` +
          `<td>${current ? `<b>${esc(v.decision)}</b>: ${esc(v.reason)}` : "settled"}</td><td>` +
          (current
            ? `<button data-act="promote" data-name="${esc(name)}" ${v.decision === "promote" ? "" : "disabled"} title="needs the engineer role">Promote</button>` +
              `<button data-act="reject" data-name="${esc(name)}" title="needs the engineer role">Reject</button>`
            : "") +
          "</td></tr>"
        );
      })
      .join("") || "<tr><td colspan=7>no challenger in shadow (millstream models alias NAME@vN challenger)</td></tr>";
  document.querySelectorAll("#shadow button").forEach((b) => {
    b.onclick = async () => {
      try {
        await api(`/api/models/${encodeURIComponent(b.dataset.name)}/challenger/${b.dataset.act}`, {
          method: "POST",
          body: "{}",
        });
        loadModels();
      } catch (e) {
        alert(e.message);
      }
    };
  });
  $("#drift tbody").innerHTML =
    mon.drift
      .flatMap((r) =>
        r.features
          .concat(r.prediction ? [r.prediction] : [])
          .map(
            (x) =>
              `<tr><td>${esc(r.model)}</td><td>${esc(x.feature)}</td><td>${f(x.psi)}</td><td>${f(x.ks)}</td><td>${Number(x.live_mean).toPrecision(5)}</td>` +
              `<td>${Number(x.reference_mean).toPrecision(5)}</td><td>${x.live_count}</td><td class="${x.drifted ? "state-down" : "state-running"}">${x.drifted ? "drifted" : "stable"}</td></tr>`,
          ),
      )
      .join("") || "<tr><td colspan=8>not enough live data yet (100 values per feature)</td></tr>";
}

function connect() {
  const es = new EventSource("/api/events");
  es.addEventListener("plant", (e) => {
    live = JSON.parse(e.data);
    $("#live").classList.add("on");
    $("#status").textContent =
      `live: ${live.summary.records_seen.toLocaleString()} records read; updated ${new Date().toLocaleTimeString()}`;
    if (current === "plant") renderPlant(live);
  });
  es.onerror = () => {
    $("#live").classList.remove("on");
    $("#status").textContent = "connection lost; reconnecting...";
  };
}

$("#spc-variable").onchange = loadSPC;
$("#spc-rules").onchange = loadSPC;
$("#alert-filter").onchange = loadAlerts;
$("#trend-range").onchange = () => loadMachine().catch(() => {});
$("#rec-filter").onchange = loadRecommendations;
window.addEventListener("hashchange", route);
setInterval(() => {
  if (current === "machine") loadMachine().catch(() => {});
}, 3000);
api("/api/whoami")
  .then((w) => {
    role = w.role;
    $("#who").textContent = `${w.name} (${w.role})`;
  })
  .catch(() => {});
connect();
route();
