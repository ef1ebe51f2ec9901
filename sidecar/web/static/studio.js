// The studio page: a form built from the protocol's fields, the shared queue, takes, history, models.
"use strict";

const S = (window.studio = {
  fields: [], jobs: new Map(), takes: [], mine: new Set(), clip: null,
  progressLatencyMs: [], lastDrawMs: null, events: 0, ws: null,
});

const $ = (id) => document.getElementById(id);
function el(tag, attrs = {}, ...kids) {
  const node = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (v === null || v === undefined || v === false) continue;
    if (k === "text") node.textContent = v;
    else if (k.startsWith("on")) node.addEventListener(k.slice(2), v);
    else node.setAttribute(k, v === true ? "" : String(v));
  }
  for (const kid of kids) if (kid !== null && kid !== undefined) node.append(kid);
  return node;
}
const fmt = (x, digits = 1) => (x === null || x === undefined || Number.isNaN(x) ? "—" : Number(x).toFixed(digits));
const eta = (s) => (s === null || s === undefined || s < 0 ? "…" : `${fmt(s)} s`);
const fileUrl = (path, download) => `/api/file?path=${encodeURIComponent(path)}${download ? "&download=1" : ""}`;
const baseName = (path) => path.split(/[\\/]/).pop();

async function api(path, options = {}) {
  const init = { ...options, headers: { ...(options.headers || {}) } };
  if (init.body && typeof init.body === "string") init.headers["content-type"] = "application/json";
  const response = await fetch(path, init);
  let data = null;
  try { data = await response.json(); } catch (_) { data = null; }
  if (response.status === 401) showLogin();
  return { ok: response.ok, status: response.status, data: data || {} };
}
const post = (path, body) => api(path, { method: "POST", body: JSON.stringify(body) });

// ------------------------------------------------------------------ tabs
const TABS = ["make", "queue", "takes", "history", "models"];
function showTab(name, focus) {
  for (const t of TABS) {
    const tab = $("tab-" + t), on = t === name;
    tab.setAttribute("aria-selected", String(on));
    tab.tabIndex = on ? 0 : -1;
    $("view-" + t).hidden = !on;
  }
  if (focus) $("tab-" + name).focus();
  if (name === "history") searchHistory();
  if (name === "models") loadModels();
}
function setupTabs() {
  TABS.forEach((t, i) => {
    const tab = $("tab-" + t);
    tab.addEventListener("click", () => showTab(t, false));
    tab.addEventListener("keydown", (e) => {
      const step = { ArrowRight: 1, ArrowLeft: -1 }[e.key];
      if (step) { e.preventDefault(); showTab(TABS[(i + step + TABS.length) % TABS.length], true); }
      if (e.key === "Home") { e.preventDefault(); showTab(TABS[0], true); }
      if (e.key === "End") { e.preventDefault(); showTab(TABS[TABS.length - 1], true); }
    });
  });
}

// ------------------------------------------------------------------ the form, from /api/fields
function control(f) {
  const id = "f-" + f.name;
  const described = `h-${f.name} e-${f.name}`;
  let input;
  if (f.kind === "choice") {
    input = el("select", { id, name: f.name, "aria-describedby": described },
      el("option", { value: "", text: `default (${f.default})` }),
      ...f.choices.map((c) => el("option", { value: c, text: c })));
  } else if (f.kind === "bool") {
    input = el("input", { id, name: f.name, type: "checkbox", "aria-describedby": described });
  } else if (f.name === "prompt") {
    input = el("textarea", { id, name: f.name, maxlength: f.max_length, "aria-describedby": described,
      placeholder: "e.g. punchy techno drums" });
  } else if (f.kind === "int" || f.kind === "float") {
    input = el("input", { id, name: f.name, type: "number", inputmode: f.kind === "int" ? "numeric" : "decimal",
      min: f.minimum, max: f.maximum, step: f.kind === "int" ? 1 : "any",
      placeholder: f.default === null ? "" : String(f.default), "aria-describedby": described });
  } else {
    input = el("input", { id, name: f.name, type: "text", maxlength: f.max_length, "aria-describedby": described,
      list: f.name === "preset" ? "preset-list" : null });
  }
  if (f.name === "clip") input.readOnly = true;
  const label = el("label", { for: id, text: f.name.replace(/_/g, " ") });
  const help = el("small", { id: "h-" + f.name, text: `${f.help}${f.help ? " — " : ""}${f.allowed}` });
  const error = el("span", { id: "e-" + f.name, class: "err", role: "alert" });
  const wrap = el("div", { class: `field${f.kind === "bool" ? " bool" : ""}${f.name === "prompt" ? " wide" : ""}`, "data-field": f.name });
  if (f.kind === "bool") wrap.append(input, label, help, error); else wrap.append(label, input, help, error);
  return wrap;
}

function buildForm(data) {
  S.fields = data.fields || [];
  for (const f of S.fields) $("fields-" + f.group).append(control(f));
  for (const id of ["f-bpm", "f-clip_bpm", "f-beats_per_bar"]) $(id)?.addEventListener("input", drawClip);
  document.querySelectorAll("input[name=mode]").forEach((r) => r.addEventListener("change", () => {
    $("continue-part").hidden = mode() !== "continue";
    $("make-submit").textContent = mode() === "continue" ? "Continue" : "Generate";
  }));
  $("make-submit").textContent = "Generate";
}
const mode = () => document.querySelector("input[name=mode]:checked").value;

function formValues() {
  const out = {};
  for (const f of S.fields) {
    const input = $("f-" + f.name);
    if (!input || (f.group === "continue" && mode() !== "continue")) continue;
    if (f.kind === "bool") { if (input.checked) out[f.name] = true; continue; }
    const raw = input.value.trim();
    if (raw === "") {
      if (input.validity && input.validity.badInput) out[f.name] = "";  // the server names it
      continue;
    }
    out[f.name] = (f.kind === "int" || f.kind === "float") && !Number.isNaN(Number(raw)) ? Number(raw) : raw;
  }
  return out;
}

function clearErrors() {
  document.querySelectorAll("#make-form .err").forEach((e) => (e.textContent = ""));
  document.querySelectorAll("#make-form [aria-invalid]").forEach((e) => e.removeAttribute("aria-invalid"));
}
function showError(field, message) {
  const slot = field && $("e-" + field);
  const input = field && $("f-" + field);
  if (slot && input && !input.closest("[hidden]")) {
    slot.textContent = message;
    input.setAttribute("aria-invalid", "true");
    const details = input.closest("details");
    if (details) details.open = true;
    input.focus();
  } else if (field === "file") {
    $("e-file").textContent = message;
  } else {
    $("e-form").textContent = message;
  }
}

async function submitMake(e) {
  e.preventDefault();
  clearErrors();
  const r = await post("/api/generate", { mode: mode(), fields: formValues() });
  if (!r.ok) { showError(r.data.field, r.data.message || `HTTP ${r.status}`); $("make-status").textContent = ""; return; }
  S.mine.add(r.data.request_id);
  $("make-status").textContent = `queued as ${r.data.request_id} (position ${r.data.queue_position})`;
}

// ------------------------------------------------------------------ continue: the clip
async function upload(file) {
  $("e-file").textContent = "";
  $("make-status").textContent = `uploading ${file.name}…`;
  const response = await fetch(`/api/upload?name=${encodeURIComponent(file.name)}`, { method: "POST", body: file });
  const data = await response.json().catch(() => ({}));
  $("make-status").textContent = "";
  if (!response.ok) { $("e-file").textContent = data.message || `HTTP ${response.status}`; return; }
  useClip(data.path, data.peaks);
}
async function pickClip(path) {
  if (!path) return;
  const r = await api(`/api/peaks?path=${encodeURIComponent(path)}&buckets=1200`);
  if (!r.ok) { $("e-file").textContent = r.data.message; return; }
  useClip(path, r.data.peaks, r.data.request && r.data.request.bpm);
}
function useClip(path, peaks, bpm) {
  S.clip = { path, peaks };
  $("f-clip").value = path;
  if (bpm && !$("f-clip_bpm").value) $("f-clip_bpm").value = bpm;
  drawClip();
}
function clipGrid() {
  const bpm = Number($("f-clip_bpm").value || $("f-bpm").value);
  const perBar = Number($("f-beats_per_bar").value || 4);
  return bpm >= 20 && bpm <= 300 ? { bpm, beats_per_bar: perBar, start_seconds: 0 } : null;
}
function drawClip() {
  if (!S.clip) return;
  const grid = clipGrid(), from = $("bar-from"), to = $("bar-to");
  let selection = null;
  if (grid) {
    const barSeconds = (60 / grid.bpm) * grid.beats_per_bar;
    const bars = Math.max(1, Math.floor(S.clip.peaks.duration_seconds / barSeconds + 1e-6));
    for (const r of [from, to]) { r.max = bars; r.disabled = false; }
    if (Number(to.value) > bars || to.dataset.touched !== "1") to.value = bars;
    if (Number(from.value) > Number(to.value)) from.value = to.value;
    $("bar-from-out").textContent = from.value; $("bar-to-out").textContent = to.value;
    $("f-clip_start_beats").value = (Number(from.value) - 1) * grid.beats_per_bar;
    $("f-clip_end_beats").value = Number(to.value) * grid.beats_per_bar;
    selection = { from_seconds: (Number(from.value) - 1) * barSeconds, to_seconds: Number(to.value) * barSeconds };
    $("bar-note").textContent = `${bars} whole bars at ${grid.bpm} BPM; bars ${from.value}–${to.value} are sent`;
  } else {
    for (const r of [from, to]) r.disabled = true;
    $("bar-note").textContent = "give bpm (or clip bpm) to see the clip's bars";
  }
  S.lastDrawMs = Draw.wave($("clip-wave"), S.clip.peaks, grid, selection);
}
function setupClip() {
  const zone = $("drop-zone");
  zone.addEventListener("dragover", (e) => { e.preventDefault(); zone.classList.add("over"); });
  zone.addEventListener("dragleave", () => zone.classList.remove("over"));
  zone.addEventListener("drop", (e) => {
    e.preventDefault(); zone.classList.remove("over");
    if (e.dataTransfer.files.length) upload(e.dataTransfer.files[0]);
  });
  $("clip-file").addEventListener("change", (e) => e.target.files.length && upload(e.target.files[0]));
  $("clip-pick").addEventListener("change", (e) => pickClip(e.target.value));
  for (const id of ["bar-from", "bar-to"]) {
    $(id).addEventListener("input", (e) => { e.target.dataset.touched = "1"; drawClip(); });
  }
}

// ------------------------------------------------------------------ live events and the queue
function connect() {
  const ws = new WebSocket(`ws://${location.host}/api/events`);
  S.ws = ws;
  ws.onmessage = (m) => onEvent(JSON.parse(m.data));
  ws.onclose = () => { S.ws = null; setTimeout(connect, 1000); };
}
function onEvent(e) {
  S.events++;
  if (e.type === "jobs") { S.jobs = new Map(e.jobs.map((j) => [j.request_id, j])); renderQueue(); return; }
  const job = S.jobs.get(e.request_id);
  if (e.type === "progress") {
    S.progressLatencyMs.push(Date.now() - e.sent_at * 1000);
    if (job) { job.state = "running"; job.progress = e.fraction; job.eta_seconds = e.eta_seconds; updateRow(job); }
  } else if (e.type === "preview") {
    if (job) { job.preview = e; showPreview(job); }
  } else if (e.type === "stem") {
    addTake(e);
  } else if (e.type === "error" && S.mine.has(e.request_id)) {
    $("make-status").textContent = `${e.request_id}: ${e.code}: ${e.message}`;
  } else if (e.type === "done" && S.mine.has(e.request_id)) {
    $("make-status").textContent = `${e.request_id}: done, ${e.n_files} file(s) — see Takes`;
  }
}
function jobWhat(j) {
  if (j.action) return "model switch";
  const length = j.bars ? `${j.bars} bars at ${j.bpm} BPM` : "";
  return [j.mode, j.prompt ? `“${j.prompt}”` : "", length].filter(Boolean).join(" · ");
}
function renderQueue() {
  const body = $("queue-rows");
  body.replaceChildren(...[...S.jobs.values()].reverse().map(queueRow));
  const waiting = [...S.jobs.values()].filter((j) => j.state === "queued" || j.state === "running").length;
  $("queue-count").textContent = waiting ? String(waiting) : "";
}
function queueRow(j) {
  const active = j.state === "queued" || j.state === "running";
  const row = el("tr", { id: "job-" + j.request_id, "data-state": j.state, "data-source": j.source },
    el("td", { text: j.request_id }), el("td", { text: j.source }),
    el("td", { class: "what" }, jobWhat(j), j.state === "running" && j.preview ? previewLink(j) : null),
    el("td", { class: "state state-" + j.state, text: j.error ? `${j.state}: ${j.error}` : j.state }),
    el("td", { class: "position", text: j.state === "queued" ? String(j.position) : "" }),
    el("td", {}, el("progress", { max: 1, value: j.progress, "aria-label": `progress of ${j.request_id}` }),
      el("span", { class: "pct", text: ` ${Math.round(j.progress * 100)} %` })),
    el("td", { class: "eta", text: j.state === "running" ? eta(j.eta_seconds) : "" }),
    el("td", {}, active ? el("button", { class: "quiet cancel", type: "button", "aria-label": `cancel ${j.request_id}`,
      text: "Cancel", onclick: () => post("/api/cancel", { request_id: j.request_id }) }) : null));
  return row;
}
// `preview N`: the audio decoded so far, while the job runs (the file goes when it ends).
function previewLink(j) {
  return el("a", { class: "preview", href: fileUrl(j.preview.path), target: "_blank",
    text: ` · preview (${fmt(j.preview.seconds_ready)} s)` });
}
function showPreview(j) {
  const cell = $("job-" + j.request_id)?.querySelector(".what");
  if (!cell) return;
  cell.querySelector(".preview")?.remove();
  cell.append(previewLink(j));
}
function updateRow(j) {
  const row = $("job-" + j.request_id);
  if (!row) { renderQueue(); return; }
  row.dataset.state = j.state;
  row.querySelector(".state").textContent = j.state;
  row.querySelector(".state").className = "state state-" + j.state;
  row.querySelector(".position").textContent = "";
  row.querySelector("progress").value = j.progress;
  row.querySelector(".pct").textContent = ` ${Math.round(j.progress * 100)} %`;
  row.querySelector(".eta").textContent = eta(j.eta_seconds);
}

// ------------------------------------------------------------------ history
async function searchHistory(e) {
  if (e) e.preventDefault();
  const params = new URLSearchParams();
  for (const name of ["prompt", "preset", "key", "bpm"]) {
    const v = $("hs-" + name).value.trim();
    if (v) params.set(name, v);
  }
  const r = await api("/api/history?" + params);
  $("e-history").textContent = r.ok ? "" : r.data.message;
  if (!r.ok) return;
  const rows = r.data.takes.map((t) => {
    const wav = t.files.find((f) => f.endsWith(".wav"));
    return el("tr", { "data-take": t.take_id },
      el("td", { text: `#${t.take_id}` }), el("td", { text: new Date(t.created * 1000).toLocaleString() }),
      el("td", { text: t.prompt || "" }), el("td", { text: t.preset || "" }),
      el("td", { text: t.tempo_bpm ? `${fmt(t.tempo_bpm, 2)} BPM` : "—" }), el("td", { text: t.key || "—" }),
      el("td", { text: t.seed ?? "" }),
      el("td", {},
        el("button", { class: "quiet recall", type: "button", text: "Recall", "aria-label": `recall take ${t.take_id}`,
          onclick: async () => { const x = await post("/api/recall", { take_id: t.take_id }); $("e-history").textContent = x.ok ? `recalled as ${x.data.request_id}: see Takes` : x.data.message; } }),
        " ",
        wav ? el("button", { class: "quiet", type: "button", text: "Continue it", "aria-label": `continue take ${t.take_id}`,
          onclick: () => { document.querySelector("input[name=mode][value=continue]").click(); showTab("make", true); pickClip(wav); } }) : null));
  });
  $("history-rows").replaceChildren(...rows);
  const pick = $("clip-pick");
  pick.replaceChildren(el("option", { value: "", text: "—" }), ...r.data.takes
    .filter((t) => t.files.some((f) => f.endsWith(".wav")))
    .map((t) => el("option", { value: t.files.find((f) => f.endsWith(".wav")), text: `#${t.take_id} ${t.prompt || t.request_id}` })));
}

// ------------------------------------------------------------------ models and presets
async function loadModels() {
  const [m, p] = await Promise.all([api("/api/models"), api("/api/presets")]);
  if (m.ok) $("model-rows").replaceChildren(...m.data.models.map((x) => el("tr", { "data-model": x.name },
    el("td", { text: x.name }), el("td", { text: x.device }), el("td", { text: `${fmt(x.megabytes)} MB` }), el("td", { text: x.state }))));
  if (p.ok) {
    $("preset-rows").replaceChildren(...p.data.presets.map((x) => el("tr", {},
      el("td", { text: x.name }), el("td", { text: x.description }), el("td", { text: x.bars ?? "" }),
      el("td", { text: x.stems.join(", ") }),
      el("td", {}, el("button", { class: "quiet", type: "button", text: "Use", "aria-label": `use preset ${x.name}`,
        onclick: () => { $("f-preset").value = x.name; showTab("make", true); $("f-preset").focus(); } })))));
  }
}
async function presetList() {
  const p = await api("/api/presets");
  if (p.ok) $("preset-list").replaceChildren(...p.data.presets.map((x) => el("option", { value: x.name, label: x.description })));
}
async function switchModel(e) {
  e.preventDefault();
  const r = await post("/api/models/load", { name: $("model-name").value.trim() });
  $("e-model").textContent = r.ok ? `switch queued as ${r.data.request_id}` : r.data.message;
  loadModels();
}

// ------------------------------------------------------------------ state, login, start
async function pollStatus() {
  const r = await api("/api/status");
  if (r.ok) {
    const d = r.data;
    $("server-state").textContent = `${d.state} · ${d.model} on ${d.device} · ${d.queue_length} waiting`;
    $("server-state").dataset.state = d.state;
  }
  if (!$("view-models").hidden) loadModels();
}
function showLogin() { $("login").hidden = false; $("login-token").focus(); }
async function login(e) {
  e.preventDefault();
  const r = await post("/api/login", { token: $("login-token").value });
  if (!r.ok) { $("login-error").textContent = r.data.message; return; }
  $("login").hidden = true;
  start();
}

let started = false;
async function start() {
  if (started) return;
  const [s, f] = await Promise.all([api("/api/status"), api("/api/fields")]);
  if (!s.ok || !f.ok) return;
  started = true;
  buildForm(f.data);
  connect();
  recentTakes();
  presetList();
  searchHistory();
  setInterval(pollStatus, 2000);
  pollStatus();
  document.body.dataset.ready = "1";
}
setupTabs();
setupClip();
$("make-form").addEventListener("submit", submitMake);
$("history-form").addEventListener("submit", searchHistory);
$("model-form").addEventListener("submit", switchModel);
$("login-form").addEventListener("submit", login);
start();
