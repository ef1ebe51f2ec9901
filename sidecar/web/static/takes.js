// The Takes view: each delivered file's waveform, grid and report in words; play, A/B, re-roll.
"use strict";

const DECISIONS = {
  stretched: "measured confidently and stretched to the session tempo",
  in_tempo: "measured confidently and already in tempo: untouched",
  unstretched_low_confidence: "no clear pulse (or too short to trust one): left at its own tempo, cut to the grid from sample 0",
  unstretched_far_off: "a clear pulse, but too far from the session tempo to stretch well: cut to the grid from its downbeat",
  no_tempo_contract: "no session tempo was given: rate, channels and loudness only",
};
function reportWords(rep) {
  if (!rep) return ["No report beside this file."];
  const lines = [];
  if (rep.decision === "no_tempo_contract") {
    lines.push("Tempo: no session tempo was asked for.");
  } else {
    const stretch = rep.stretch_ratio && Math.abs(rep.stretch_ratio - 1) > 1e-4
      ? `stretched ×${fmt(rep.stretch_ratio, 3)} (${rep.stretch_engine})` : "not stretched";
    const delivered = rep.delivered_bpm ? `measured ${fmt(rep.delivered_bpm, 2)} BPM on delivery` : "not measured confidently on delivery";
    lines.push(`Tempo: the generated audio read ${fmt(rep.source_bpm, 2)} BPM at confidence ${fmt(rep.tempo_confidence, 2)}; ${stretch}; ${rep.bars} bar${rep.bars === 1 ? "" : "s"} of ${rep.beats_per_bar} at ${fmt(rep.target_bpm, 2)} BPM, bar 1 on sample 0 (from ${rep.downbeat_source}); ${delivered}.`);
  }
  lines.push(rep.key ? `Key: ${rep.key} at confidence ${fmt(rep.key_confidence, 2)}${rep.key_shift_semitones ? `, moved ${rep.key_shift_semitones} semitones` : ""}.` : "Key: not detected.");
  lines.push(`Loudness: ${fmt(rep.loudness_lufs)} LUFS integrated (target ${fmt(rep.loudness_target_lufs)} from the ${rep.loudness_source}), true peak ${fmt(rep.true_peak_dbtp)} dBTP.`);
  lines.push(`Decision: ${rep.decision} — ${DECISIONS[rep.decision] || ""}.`);
  return lines;
}
async function addTake(e) {
  const id = `take-${e.request_id}-${e.index}`;
  if ($(id) || !e.path.endsWith(".wav")) return;
  const info = e.info || {};
  const take = { id, request_id: e.request_id, index: e.index, path: e.path, info, report: null, peaks: null };
  S.takes.push(take);
  $("takes-count").textContent = String(S.takes.length);
  const title = `${e.request_id} · take ${e.index + 1}${info.part ? ` · ${info.part}` : ""} · seed ${info.seed ?? "—"}`;
  const canvas = el("canvas", { width: 1200, height: 140, role: "img", "aria-label": `waveform of ${title} with its bar lines` });
  const audio = el("audio", { controls: true, preload: "auto", src: fileUrl(e.path), "aria-label": `play ${title}` });
  const loop = el("input", { type: "checkbox", id: id + "-loop", "aria-label": `loop ${title}` });
  loop.addEventListener("change", () => (audio.loop = loop.checked));
  const card = el("article", { class: "take", id, draggable: "true", "data-request": e.request_id, "aria-labelledby": id + "-title" },
    el("h3", { id: id + "-title", text: title }), canvas, el("div", { class: "report" }),
    el("div", { class: "controls" }, audio,
      el("span", {}, loop, el("label", { for: id + "-loop", text: " loop" })),
      el("button", { class: "quiet ab", type: "button", text: "A/B", "aria-label": `switch to the other variation of ${e.request_id}`, onclick: () => abSwitch(take) }),
      el("button", { class: "quiet reroll", type: "button", text: "Re-roll", "aria-label": `re-roll ${e.request_id}`, onclick: () => reroll(take) }),
      el("a", { href: fileUrl(e.path, true), download: baseName(e.path), text: "Download" }),
      el("span", { class: "note", text: baseName(e.path) })));
  card.addEventListener("dragstart", (d) => {
    const url = location.origin + fileUrl(e.path, true);
    d.dataTransfer.setData("DownloadURL", `audio/wav:${baseName(e.path)}:${url}`);
    d.dataTransfer.setData("text/uri-list", url);
  });
  audio.addEventListener("play", () => { card.classList.add("playing"); tick(take, canvas, audio); });
  audio.addEventListener("pause", () => card.classList.remove("playing"));
  audio.addEventListener("ended", () => { card.classList.remove("playing"); card.dataset.ended = "1"; });
  take.audio = audio; take.canvas = canvas; take.card = card;
  $("takes").prepend(card);
  const r = await api(`/api/peaks?path=${encodeURIComponent(e.path)}&buckets=1200`);
  if (!r.ok) { card.querySelector(".report").textContent = r.data.message; return; }
  take.report = r.data.report; take.peaks = r.data.peaks;
  drawTake(take);
  card.querySelector(".report").replaceChildren(...reportWords(take.report).map((t) => el("p", { text: t })));
  card.dataset.ready = "1";
}
function drawTake(take) {
  const rep = take.report || {};
  const bpm = rep.target_bpm || take.info.bpm;
  const grid = bpm ? { bpm, beats_per_bar: rep.beats_per_bar || 4, start_seconds: 0 } : null;
  S.lastDrawMs = Draw.wave(take.canvas, take.peaks, grid, null);
}
function tick(take, canvas, audio) {
  if (!take.peaks) return;
  Draw.cursor(canvas, audio.currentTime, take.peaks.duration_seconds);
  if (!audio.paused && !audio.ended) requestAnimationFrame(() => tick(take, canvas, audio));
}
function abSwitch(take) {
  const same = S.takes.filter((t) => t.request_id === take.request_id);
  if (same.length < 2) { $("make-status").textContent = "A/B: this request made one take; ask for variations 2 or more"; return; }
  const next = same[(same.indexOf(take) + 1) % same.length];
  const at = take.audio.currentTime, playing = !take.audio.paused;
  take.audio.pause();
  next.audio.currentTime = at;
  if (playing) next.audio.play();
  next.card.scrollIntoView({ block: "nearest" });
  next.audio.focus();
}
async function reroll(take) {
  const r = await post("/api/reroll", { take: take.request_id });
  if (!r.ok) { $("make-status").textContent = r.data.message; return; }
  S.mine.add(r.data.request_id);
  $("make-status").textContent = `re-roll of ${take.request_id} queued as ${r.data.request_id}`;
}

// The latest takes of the history, so a reloaded page still shows what was made.
async function recentTakes() {
  const r = await api("/api/history?limit=6");
  if (!r.ok) return;
  for (const t of r.data.takes.slice().reverse()) {
    const wav = t.files.find((f) => f.endsWith(".wav"));
    if (wav) addTake({ request_id: t.request_id, index: t.part ? 1000 + t.take_id : t.variation || 0, path: wav, info: { seed: t.seed, bpm: t.bpm, part: t.part } });
  }
}

