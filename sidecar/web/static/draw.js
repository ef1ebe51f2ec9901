// Waveform and beat grid on a canvas: peaks from the server, bar lines from the tempo.
"use strict";

const Draw = (() => {
  const css = (name) => getComputedStyle(document.documentElement).getPropertyValue(name).trim();

  // peaks: {duration_seconds, scale, channels: [[[min, max], ...], ...]} (values × scale)
  // grid: {bpm, beats_per_bar, start_seconds (where bar 1 is), bars (optional)} or null
  // selection: {from_seconds, to_seconds} or null. Returns the milliseconds it took.
  function wave(canvas, peaks, grid, selection) {
    const t0 = performance.now();
    canvas._base = null;
    const ctx = canvas.getContext("2d");
    const w = canvas.width, h = canvas.height;
    ctx.clearRect(0, 0, w, h);
    const duration = peaks.duration_seconds;
    const x = (seconds) => (seconds / duration) * w;
    if (selection) {
      ctx.fillStyle = "rgba(79,179,255,0.16)";
      ctx.fillRect(x(selection.from_seconds), 0, x(selection.to_seconds) - x(selection.from_seconds), h);
    }
    const channels = peaks.channels, scale = peaks.scale || 1;
    const laneH = h / channels.length;
    ctx.fillStyle = css("--wave") || "#4fb3ff";
    channels.forEach((pairs, c) => {
      const mid = laneH * c + laneH / 2, half = laneH / 2 - 2, step = w / pairs.length;
      for (let i = 0; i < pairs.length; i++) {
        const lo = pairs[i][0] / scale, hi = pairs[i][1] / scale;
        const top = mid - hi * half, bottom = mid - lo * half;
        ctx.fillRect(i * step, top, Math.max(step, 1), Math.max(bottom - top, 1));
      }
    });
    if (grid && grid.bpm) {
      const beat = 60 / grid.bpm, perBar = grid.beats_per_bar || 4;
      const start = grid.start_seconds || 0;
      let n = 0;
      ctx.font = "11px system-ui, sans-serif";
      for (let t = start; t <= duration + 1e-6; t += beat, n++) {
        const bar = n % perBar === 0;
        const px = Math.round(x(t)) + 0.5;
        ctx.strokeStyle = bar ? (css("--bar") || "#f2c14e") : "rgba(255,255,255,0.22)";
        ctx.lineWidth = bar ? 2 : 1;
        ctx.beginPath(); ctx.moveTo(px, 0); ctx.lineTo(px, h); ctx.stroke();
        if (bar) {
          ctx.fillStyle = css("--bar") || "#f2c14e";
          ctx.fillText(String(n / perBar + 1), px + 3, 11);
          ctx.fillStyle = css("--wave") || "#4fb3ff";
        }
      }
    }
    const ms = performance.now() - t0;
    canvas.dataset.drawMs = ms.toFixed(2);
    canvas.dataset.gridLines = grid && grid.bpm ? String(Math.floor((duration - (grid.start_seconds || 0)) / (60 / grid.bpm) + 1e-6) + 1) : "0";
    return ms;
  }

  // A cursor at `seconds` over what wave() drew (the canvas keeps a copy of the drawing).
  function cursor(canvas, seconds, duration) {
    const ctx = canvas.getContext("2d");
    if (!canvas._base) canvas._base = ctx.getImageData(0, 0, canvas.width, canvas.height);
    ctx.putImageData(canvas._base, 0, 0);
    const px = Math.round((seconds / duration) * canvas.width) + 0.5;
    ctx.strokeStyle = "#ffffff"; ctx.lineWidth = 1;
    ctx.beginPath(); ctx.moveTo(px, 0); ctx.lineTo(px, canvas.height); ctx.stroke();
  }

  return { wave, cursor };
})();
