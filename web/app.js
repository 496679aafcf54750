// The NordIQ dashboard: plain JS over the daemon's own read API, redrawn every 10 s.
// The key is asked once and kept in sessionStorage ("#key=..." in the URL is taken and removed).
"use strict";
const REFRESH_MS = 10000;
const KEY = "nordiq.key";
const $ = (id) => document.getElementById(id);
const esc = (s) => String(s).replace(/[&<>"']/g, (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" }[c]));
const pct = (x) => (100 * x).toFixed(0) + " %";
let timer = null;

function takeKeyFromUrl() {
  const m = location.hash.match(/[#&]key=([^&]+)/);
  if (!m) return;
  sessionStorage.setItem(KEY, decodeURIComponent(m[1]));
  const rest = location.hash.replace(/[#&]key=[^&]+/, "").replace(/^&/, "#");
  history.replaceState(null, "", location.pathname + (rest && rest !== "#" ? rest : "#/"));
}

async function api(path) {
  const res = await fetch(path, { headers: { "X-API-Key": sessionStorage.getItem(KEY) || "" } });
  if (res.status === 401 || res.status === 403) {
    sessionStorage.removeItem(KEY);
    throw Object.assign(new Error("the key was refused"), { auth: true });
  }
  if (!res.ok) throw new Error(path + ": HTTP " + res.status);
  return res.json();
}

async function drawStatus() {
  const s = await (await fetch("/status")).json();
  const m = s.model || {};
  const q = s.forecast_quality || {};
  $("daemon-status").textContent =
    `model ${m.name} (${m.type}) · ${s.servers_tracked} servers · last forecast ${s.last_forecast || "–"} · ` +
    `up ${Math.round(s.uptime_seconds / 60)} min · v${s.version}` + (q.skill !== undefined ? ` · skill ${q.skill.toFixed(2)}` : "");
}

function row(cells) { return "<tr>" + cells.map((c) => `<td>${c}</td>`).join("") + "</tr>"; }
function head(cells) { return "<tr>" + cells.map((c) => `<th>${c}</th>`).join("") + "</tr>"; }
function eta(a) {
  const e = a.eta_minutes || {};
  const f = (v) => (v === null || v === undefined ? "–" : v + " min");
  return `${f(e.p90)} … ${f(e.p10)}`;
}
const serverLink = (name) => `<a href="#/server/${encodeURIComponent(name)}">${esc(name)}</a>`;

async function drawFleet() {
  const [pred, alerts, cascade] = await Promise.all([
    api("/predictions/current?metrics=mem_used_pct&quantiles=p50"), api("/alerts/active"), api("/cascade/status").catch(() => null)]);
  const servers = Object.entries(pred.predictions).map(([name, p]) => ({ name, ...p }));
  servers.sort((a, b) => (a.profile + a.name).localeCompare(b.profile + b.name));
  $("heatmap").innerHTML = servers.map((s) =>
    `<a class="tile level-${esc(s.level)}" data-server="${esc(s.name)}" href="#/server/${encodeURIComponent(s.name)}" ` +
    `title="${esc(s.profile_name)} · ${esc(s.risk_driver ?? "no risk")}"><b>${Math.round(s.risk_score)}</b>${esc(s.name)}</a>`).join("");
  const counts = {};
  servers.forEach((s) => (counts[s.level] = (counts[s.level] || 0) + 1));
  $("fleet-summary").textContent = Object.entries(counts).map(([l, n]) => `${n} ${l}`).join(" · ");
  const top = [...servers].sort((a, b) => b.risk_score - a.risk_score).slice(0, 10);
  $("top-risks").innerHTML = head(["server", "profile", "risk", "level", "driver"]) +
    top.map((s) => row([serverLink(s.name), esc(s.profile_name), Math.round(s.risk_score), esc(s.level), esc(s.risk_driver ?? "–")])).join("");
  const list = alerts.alerts || [];
  $("alerts").innerHTML = head(["server", "signal", "level", "probability", "ETA (p90 … p10)", "why"]) +
    (list.length ? list.map((a) => row([serverLink(a.server_name), esc(a.signal), esc(a.level), pct(a.probability), eta(a), esc(a.message)])).join("")
                 : row(["no open alert", "", "", "", "", ""]));
  drawCascades(cascade);
}

function drawCascades(c) {
  if (!c) { $("cascade-state").textContent = "(no forecast cycle yet)"; $("cascades").innerHTML = ""; return; }
  $("cascade-state").textContent = `state: ${c.state}`;
  const open = c.cascades || [];
  $("cascades").innerHTML = open.length
    ? "<ul>" + open.map((x) => {
        const src = x.suspected_source;
        const affected = x.affected_servers.map((a) => `${serverLink(a.server)} (${esc(a.metric)})`).join(", ");
        return `<li>suspected source ${serverLink(src.server)} (${esc(src.profile)}, ${esc(src.metric)} since ${esc(src.since)}) → ` +
          `${affected}; correlation ${x.correlation.toFixed(2)}, detected ${esc(x.detected_at)}</li>`;
      }).join("") + "</ul>"
    : "<p class='muted'>no correlated degradation</p>";
}

// One SVG chart: history line, p10–p90 fan, p50 line, threshold lines, a "now" rule.
function chart(metric, hist, times, fc, thresholds) {
  const W = 340, H = 160, L = 34, R = 6, T = 8, B = 18;
  const t0 = hist.timestamps.length ? Date.parse(hist.timestamps[0]) : Date.parse(times[0]);
  const t1 = Date.parse(times[times.length - 1]);
  const values = [...(hist[metric] || []), ...fc.p10, ...fc.p90, ...thresholds.map((t) => t.value)];
  let lo = Math.min(...values), hi = Math.max(...values);
  if (hi - lo < 1e-6) { hi += 1; lo -= 1; }
  const x = (t) => L + ((t - t0) / Math.max(1, t1 - t0)) * (W - L - R);
  const y = (v) => T + (1 - (v - lo) / (hi - lo)) * (H - T - B);
  const pts = (ts, vs) => ts.map((t, i) => `${x(Date.parse(t)).toFixed(1)},${y(vs[i]).toFixed(1)}`).join(" ");
  const band = pts(times, fc.p90) + " " + pts([...times].reverse(), [...fc.p10].reverse());
  const now = x(Date.parse(times[0]));
  return `<div class="chart" data-metric="${metric}"><div>${metric}</div><svg viewBox="0 0 ${W} ${H}" preserveAspectRatio="none">` +
    `<polygon class="fan" points="${band}"/>` +
    `<polyline class="history" points="${pts(hist.timestamps, hist[metric] || [])}"/>` +
    `<polyline class="p50" points="${pts(times, fc.p50)}"/>` +
    thresholds.map((t) => `<line class="threshold" x1="${L}" x2="${W - R}" y1="${y(t.value)}" y2="${y(t.value)}"><title>${esc(t.label)}</title></line>`).join("") +
    `<line class="now" x1="${now}" x2="${now}" y1="${T}" y2="${H - B}"/>` +
    `<text x="2" y="${T + 8}">${hi.toFixed(1)}</text><text x="2" y="${H - B}">${lo.toFixed(1)}</text>` +
    `<text x="${L}" y="${H - 4}">${esc(hist.timestamps[0] || times[0])}</text><text x="${W - 130}" y="${H - 4}">${esc(times[times.length - 1])}</text>` +
    `</svg></div>`;
}

function bars(title, ranked, n) {
  return `<div><h4>${title}</h4><table>` + ranked.slice(0, n).map((v) =>
    row([esc(v.variable), `<span class="bar" style="width:${(160 * v.importance).toFixed(0)}px"></span> ${pct(v.importance)}`])).join("") + "</table></div>";
}

async function drawServer(name) {
  const enc = encodeURIComponent(name);
  const [p, hist, ex] = await Promise.all([api(`/predictions/${enc}?quantiles=p10,p50,p90`), api(`/historical/server/${enc}?time_range=8h`), api(`/explain/${enc}`)]);
  $("server-title").textContent = `${name} · ${p.profile_name}`;
  $("server-risk").innerHTML = `risk <b>${Math.round(p.risk_score)}</b> (${esc(p.level)})` +
    (p.risk_driver ? `, driven by ${esc(p.risk_driver)}` : "") + ` · forecast by ${esc(p.model)}`;
  if (ex.model === "tft") {
    $("explain-text").textContent = ex.what_drives_the_risk;
    const vi = ex.variable_importance;
    $("importances").innerHTML = bars("Past inputs (encoder)", vi.encoder, 8) + bars("Horizon inputs (decoder)", vi.decoder, 6) + bars("Static", vi.static, 6);
    $("focus").innerHTML = "<p>Attention focus: " + ex.attention.focus_periods.map((f) => `${esc(f.from)} – ${esc(f.to)} (${pct(f.share)})`).join("; ") + "</p>";
    const bands = ex.forecaster.bands;
    $("accuracy").innerHTML = head(["horizon", "served by", "scored", "p50 error", "p10–p90 coverage", "skill vs last value"]) +
      bands.map((b) => row([esc(b.horizon), esc(b.served_by), b.scored_forecasts,
        b.mean_abs_error === null ? "–" : b.mean_abs_error.toFixed(2), b.coverage_p10_p90 === null ? "–" : pct(b.coverage_p10_p90),
        b.skill_vs_last_value === null ? "–" : b.skill_vs_last_value.toFixed(2)])).join("") +
      `<tr><td colspan="6" class="muted">for ${esc(ex.forecaster.metric)}, the risk's metric; model ${esc(ex.forecaster.model)}</td></tr>`;
  } else {
    $("explain-text").textContent = ex.reason;
    $("importances").innerHTML = $("focus").innerHTML = $("accuracy").innerHTML = "";
  }
  const times = p.forecast.timestamps;
  const metrics = Object.keys(p.forecast).filter((k) => k !== "timestamps");
  $("charts").innerHTML = metrics.map((m) =>
    chart(m, hist.metrics, times, p.forecast[m], (hist.thresholds || []).filter((t) => t.metric === m))).join("");
}

// Without a stored key the data requests go out bare: a daemon under --no-auth answers them, any
// other asks for the key (401) and the form is shown.
async function refresh() {
  clearTimeout(timer);
  const key = sessionStorage.getItem(KEY);
  $("forget-key").hidden = !key;
  drawStatus().catch(() => ($("daemon-status").textContent = "daemon unreachable"));
  const m = location.hash.match(/^#\/server\/(.+)$/);
  try {
    await (m ? drawServer(decodeURIComponent(m[1])) : drawFleet());
    $("key-form").hidden = true;
    $("fleet-view").hidden = !!m;
    $("server-view").hidden = !m;
    $("updated").textContent = "updated " + new Date().toISOString() + " · refreshes every " + REFRESH_MS / 1000 + " s";
    document.body.dataset.loaded = m ? "server" : "fleet";
  } catch (e) {
    if (e.auth) {
      $("fleet-view").hidden = $("server-view").hidden = true;
      $("key-form").hidden = false;
      $("forget-key").hidden = true;
      $("key-error").textContent = key ? e.message : "";
      return;  // no polling until a key is given
    }
    $("updated").textContent = "error: " + e.message;
  }
  timer = setTimeout(refresh, REFRESH_MS);
}

$("key-form").addEventListener("submit", (ev) => {
  ev.preventDefault();
  sessionStorage.setItem(KEY, $("key-input").value);
  $("key-error").textContent = "";
  refresh();
});
$("forget-key").addEventListener("click", () => { sessionStorage.removeItem(KEY); refresh(); });
window.addEventListener("hashchange", () => { takeKeyFromUrl(); refresh(); });
takeKeyFromUrl();
refresh();
