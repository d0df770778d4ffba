// zoo serve's page: the runs, each run's curves, config, evaluation and pictures, and a panel
// to try the run's model by hand. Plain JavaScript, no libraries: the page works offline.
"use strict";

const main = document.getElementById("main");
const statusLine = document.getElementById("status");
const COLOURS = ["#2563eb", "#dc2626", "#059669", "#d97706", "#7c3aed", "#0891b2", "#db2777", "#4b5563"];

function el(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs)) {
    if (key === "class") node.className = value;
    else if (key.startsWith("on")) node.addEventListener(key.slice(2), value);
    else node.setAttribute(key, value);
  }
  for (const child of children.flat(Infinity)) {
    if (child !== null && child !== undefined) node.append(child instanceof Node ? child : String(child));
  }
  return node;
}

function say(message) {
  statusLine.textContent = message || "";
}

// A JSON answer, or an Error carrying the server's one-line message.
async function api(path, options = {}) {
  const response = await fetch("/api" + path, options);
  const text = await response.text();
  let body = null;
  try { body = text ? JSON.parse(text) : null; } catch (_) { body = null; }
  if (!response.ok) throw new Error((body && body.error) || `${response.status} ${response.statusText}`);
  return body;
}

function postJson(path, value) {
  return api(path, { method: "POST", headers: { "Content-Type": "application/json" }, body: JSON.stringify(value) });
}

function fmt(value) {
  if (typeof value !== "number" || Number.isInteger(value)) return String(value);
  if (Math.abs(value) >= 1000) return value.toFixed(0);
  if (Math.abs(value) >= 10) return value.toFixed(2);
  if (value !== 0 && Math.abs(value) < 0.01) return value.toExponential(2);
  return value.toPrecision(4);
}

// ---------------------------------------------------------------------------------------------
// Routing: #/ the runs, #/run/<id> one run, #/compare/<id>,<id>... runs overlaid.

async function route() {
  say("");
  const hash = decodeURIComponent(location.hash.replace(/^#/, "")) || "/";
  try {
    if (hash.startsWith("/run/")) await showRun(hash.slice(5));
    else if (hash.startsWith("/compare/")) await showCompare(hash.slice(9).split(",").filter(Boolean));
    else await showRuns();
  } catch (error) {
    main.replaceChildren(el("p", { class: "error" }, error.message));
  }
}
window.addEventListener("hashchange", route);
route();

// ---------------------------------------------------------------------------------------------
// The runs.

async function showRuns() {
  const runs = await api("/runs");
  main.replaceChildren(el("h1", {}, "Runs"));
  if (runs.length === 0) {
    main.append(el("p", { class: "muted" }, "No runs here yet: train one with `zoo train cnn`, then start `zoo serve` again."));
    return;
  }
  const chosen = new Set();
  const compare = el("button", { class: "primary", disabled: "", onclick: () => {
    location.hash = "#/compare/" + [...chosen].map(encodeURIComponent).join(",");
  } }, "Compare selected runs");
  const rows = runs.map((run) => el("tr", { "data-run": run.id },
    el("td", {}, el("input", { type: "checkbox", "aria-label": "compare " + run.id, onchange: (event) => {
      if (event.target.checked) chosen.add(run.id); else chosen.delete(run.id);
      if (chosen.size >= 2) compare.removeAttribute("disabled"); else compare.setAttribute("disabled", "");
    } })),
    el("td", {}, el("a", { href: "#/run/" + encodeURIComponent(run.id) }, run.id)),
    el("td", {}, run.model || "?"),
    el("td", {}, (run.created || "").replace("T", " ").replace("Z", "")),
    el("td", { class: "status-" + run.status }, run.status, run.training_process ? ` (process ${run.training_process})` : ""),
    el("td", {}, run.headline ? `${run.headline.name} ${fmt(run.headline.value)}` : "–",
      run.headline ? el("div", { class: "muted" }, run.headline.source) : null),
    el("td", {}, run.capabilities.map((c) => el("span", { class: "badge" }, c)),
      run.problem ? el("div", { class: "error" }, run.problem) : null),
  ));
  main.append(
    el("table", {}, el("thead", {}, el("tr", {}, ["", "run", "model", "created (UTC)", "status", "headline", "try it"].map((h) => el("th", {}, h)))),
      el("tbody", {}, rows)),
    el("p", {}, compare),
  );
}

// ---------------------------------------------------------------------------------------------
// One run.

async function showRun(id) {
  const detail = await api("/runs/" + encodeURIComponent(id));
  const run = detail.run;
  main.replaceChildren(
    el("h1", {}, run.id, " ", el("span", { class: "muted" }, run.model || "")),
    el("p", { class: "muted" }, `${run.status} · created ${run.created || "?"} · device ${run.device || "?"} · data ${run.data || "?"}`),
  );
  if (run.problem) main.append(el("p", { class: "error" }, run.problem));
  for (const capability of run.capabilities) {
    const panel = PANELS[capability];
    if (panel) main.append(el("div", { class: "panel", "data-panel": capability }, panel(run)));
  }
  main.append(el("h2", {}, "Curves"));
  main.append(curves(detail.metrics));
  if (detail.eval) main.append(el("h2", {}, "Evaluation (eval.json)"), el("pre", {}, JSON.stringify(detail.eval, null, 2)));
  if (detail.pictures.length) {
    main.append(el("h2", {}, "Pictures"), el("div", { class: "pictures" }, detail.pictures.map((name) =>
      el("figure", {}, el("a", { href: picturePath(run.id, name), target: "_blank" },
        el("img", { src: picturePath(run.id, name), alt: name, loading: "lazy" })), el("figcaption", {}, name)))));
  }
  main.append(el("h2", {}, "Recipe (config.json)"), el("pre", {}, JSON.stringify(detail.config, null, 2)));
}

function picturePath(id, name) {
  return "/api/runs/" + encodeURIComponent(id) + "/files/" + name.split("/").map(encodeURIComponent).join("/");
}

// metrics rows -> one chart per metric, a line per split.
function curves(rows) {
  if (!rows.length) return el("p", { class: "muted" }, "No metrics.csv rows yet.");
  const byMetric = new Map();
  for (const row of rows) {
    if (!byMetric.has(row.metric)) byMetric.set(row.metric, new Map());
    const splits = byMetric.get(row.metric);
    if (!splits.has(row.split)) splits.set(row.split, []);
    splits.get(row.split).push([row.epoch, row.value]);
  }
  const charts = el("div", { class: "charts" });
  for (const [metric, splits] of byMetric) {
    charts.append(lineChart(metric, [...splits].map(([split, points]) => ({ name: split, points }))));
  }
  return charts;
}

// A line chart on a canvas; hovering shows each line's value at the nearest epoch.
function lineChart(title, series, xLabel = "epoch") {
  const canvas = el("canvas");
  const tip = el("div", { class: "tip" });
  const legend = el("div", { class: "legend" }, series.map((s, i) =>
    el("span", {}, el("i", { style: `background:${COLOURS[i % COLOURS.length]}` }), s.name)));
  const box = el("div", { class: "chart" }, el("div", { class: "title" }, title), canvas, legend, tip);
  const all = series.flatMap((s) => s.points).filter((p) => Number.isFinite(p[1]));
  if (!all.length) return box;
  const xs = all.map((p) => p[0]), ys = all.map((p) => p[1]);
  let [x0, x1, y0, y1] = [Math.min(...xs), Math.max(...xs), Math.min(...ys), Math.max(...ys)];
  if (x0 === x1) { x0 -= 1; x1 += 1; }
  if (y0 === y1) { y0 -= Math.abs(y0) * 0.1 + 1e-6; y1 += Math.abs(y1) * 0.1 + 1e-6; }
  const pad = { left: 62, right: 12, top: 8, bottom: 26 };
  let place = null;
  function draw(hoverX) {
    const width = canvas.clientWidth || 340, height = canvas.clientHeight || 220, ratio = window.devicePixelRatio || 1;
    canvas.width = width * ratio; canvas.height = height * ratio;
    const g = canvas.getContext("2d");
    g.scale(ratio, ratio);
    g.clearRect(0, 0, width, height);
    const sx = (x) => pad.left + (x - x0) / (x1 - x0) * (width - pad.left - pad.right);
    const sy = (y) => height - pad.bottom - (y - y0) / (y1 - y0) * (height - pad.top - pad.bottom);
    place = { sx, width, height };
    g.strokeStyle = "#e5e7eb"; g.fillStyle = "#6b7280"; g.font = "11px system-ui"; g.lineWidth = 1;
    for (let i = 0; i <= 4; i++) {
      const y = y0 + (y1 - y0) * i / 4;
      g.beginPath(); g.moveTo(pad.left, sy(y)); g.lineTo(width - pad.right, sy(y)); g.stroke();
      g.fillText(fmt(y), 4, sy(y) + 4);
    }
    g.fillText(`${xLabel} ${fmt(x0)} – ${fmt(x1)}`, pad.left, height - 6);
    series.forEach((s, i) => {
      g.strokeStyle = COLOURS[i % COLOURS.length]; g.lineWidth = 2; g.beginPath();
      s.points.forEach(([x, y], k) => (k ? g.lineTo(sx(x), sy(y)) : g.moveTo(sx(x), sy(y))));
      g.stroke();
      if (s.points.length === 1) { g.fillStyle = g.strokeStyle; g.fillRect(sx(s.points[0][0]) - 2, sy(s.points[0][1]) - 2, 4, 4); }
    });
    if (hoverX !== undefined) {
      g.strokeStyle = "#9ca3af"; g.beginPath(); g.moveTo(sx(hoverX), pad.top); g.lineTo(sx(hoverX), height - pad.bottom); g.stroke();
    }
  }
  canvas.addEventListener("mousemove", (event) => {
    if (!place) return;
    const rect = canvas.getBoundingClientRect();
    const px = event.clientX - rect.left;
    let best = null;
    for (const x of new Set(xs)) if (best === null || Math.abs(place.sx(x) - px) < Math.abs(place.sx(best) - px)) best = x;
    draw(best);
    const lines = series.map((s) => { const p = s.points.find((q) => q[0] === best); return p ? `${s.name}: ${fmt(p[1])}` : null; }).filter(Boolean);
    tip.textContent = `${xLabel} ${best} · ${lines.join(" · ")}`;
    tip.style.display = "block";
    tip.style.left = Math.min(px + 12, rect.width - tip.offsetWidth - 4) + "px";
    tip.style.top = "28px";
  });
  canvas.addEventListener("mouseleave", () => { tip.style.display = "none"; draw(); });
  requestAnimationFrame(() => draw());
  window.addEventListener("resize", () => draw());
  return box;
}

// ---------------------------------------------------------------------------------------------
// Several runs on one chart.

async function showCompare(ids) {
  const details = await Promise.all(ids.map((id) => api("/runs/" + encodeURIComponent(id))));
  const names = [...new Set(details.flatMap((d) => d.metrics.map((r) => `${r.split} ${r.metric}`)))].sort();
  const select = el("select", { "aria-label": "metric" }, names.map((n) => el("option", { value: n }, n)));
  const preferred = names.find((n) => n === "valid Accuracy") || names.find((n) => n.startsWith("valid")) || names[0];
  if (preferred) select.value = preferred;
  const holder = el("div", { class: "charts" });
  function redraw() {
    const series = details.map((d) => ({
      name: d.run.id,
      points: d.metrics.filter((r) => `${r.split} ${r.metric}` === select.value).map((r) => [r.epoch, r.value]),
    }));
    holder.replaceChildren(lineChart(select.value, series));
  }
  select.addEventListener("change", redraw);
  main.replaceChildren(el("h1", {}, "Compare"), el("p", {}, el("label", {}, "metric"), select), holder,
    el("table", {}, el("thead", {}, el("tr", {}, ["run", "model", "headline"].map((h) => el("th", {}, h)))),
      el("tbody", {}, details.map((d) => el("tr", {}, el("td", {}, el("a", { href: "#/run/" + encodeURIComponent(d.run.id) }, d.run.id)),
        el("td", {}, d.run.model || "?"), el("td", {}, d.run.headline ? `${d.run.headline.name} ${fmt(d.run.headline.value)}` : "–"))))));
  redraw();
}

// ---------------------------------------------------------------------------------------------
// Trying a model: one panel per capability.

const base = (run) => "/runs/" + encodeURIComponent(run.id);

// Grey pixels in [0, 1] onto a canvas, `scale` screen pixels each.
function drawPixels(canvas, pixels, side, scale) {
  canvas.width = side * scale; canvas.height = side * scale;
  const g = canvas.getContext("2d");
  const image = g.createImageData(side, side);
  for (let i = 0; i < side * side; i++) {
    const v = Math.round(255 * Math.min(1, Math.max(0, pixels[i])));
    image.data.set([v, v, v, 255], 4 * i);
  }
  const small = document.createElement("canvas");
  small.width = side; small.height = side;
  small.getContext("2d").putImageData(image, 0, 0);
  g.imageSmoothingEnabled = false;
  g.drawImage(small, 0, 0, side * scale, side * scale);
}

function bars(classes, count = 10) {
  return el("div", { class: "bars" }, classes.slice(0, count).map((c, i) => el("div", { class: "bar" + (i === 0 ? " top" : "") },
    el("span", {}, c.label), el("span", { class: "track" }, el("span", { class: "fill", style: `display:block;width:${(100 * c.probability).toFixed(1)}%` })),
    el("span", {}, (100 * c.probability).toFixed(1) + " %"))));
}

const PANELS = {
  classify(run) {
    const pad = el("canvas", { class: "draw", width: 280, height: 280, "aria-label": "draw a digit" });
    const seen = el("canvas", { class: "pixels", width: 112, height: 112, title: "what the network sees (28 x 28)" });
    const answer = el("div", { "data-answer": "classify", style: "min-width:320px" }, el("p", { class: "muted" }, "Draw a digit with the mouse or a finger."));
    const g = pad.getContext("2d");
    function clear() { g.fillStyle = "#000"; g.fillRect(0, 0, pad.width, pad.height); }
    clear();
    let drawing = false, last = null, pending = null, inFlight = false;
    async function ask(body, headers) {
      if (inFlight) { pending = [body, headers]; return; }
      inFlight = true;
      try {
        const result = await api(base(run) + "/classify", { method: "POST", headers, body });
        answer.replaceChildren(bars(result.classes));
        drawPixels(seen, result.input.pixels, result.input.side, 4);
        say("");
      } catch (error) { answer.replaceChildren(el("p", { class: "error" }, error.message)); }
      inFlight = false;
      if (pending) { const [b, h] = pending; pending = null; ask(b, h); }
    }
    const send = () => pad.toBlob((blob) => ask(blob, { "Content-Type": "image/png" }), "image/png");
    const point = (event) => { const r = pad.getBoundingClientRect(); return [(event.clientX - r.left) * pad.width / r.width, (event.clientY - r.top) * pad.height / r.height]; };
    pad.addEventListener("pointerdown", (event) => { drawing = true; last = point(event); pad.setPointerCapture(event.pointerId); });
    pad.addEventListener("pointermove", (event) => {
      if (!drawing) return;
      const next = point(event);
      g.strokeStyle = "#fff"; g.lineWidth = 20; g.lineCap = "round"; g.lineJoin = "round";
      g.beginPath(); g.moveTo(...last); g.lineTo(...next); g.stroke();
      last = next;
      send();
    });
    const stop = () => { if (drawing) { drawing = false; send(); } };
    pad.addEventListener("pointerup", stop);
    pad.addEventListener("pointercancel", stop);
    const upload = el("input", { type: "file", accept: "image/png,image/jpeg", "aria-label": "upload a picture", onchange: (event) => {
      const file = event.target.files[0];
      if (file) ask(file, { "Content-Type": file.type || "application/octet-stream" });
    } });
    return [el("h2", {}, "Draw a digit"), el("div", { class: "row" },
      el("div", {}, pad, el("p", {}, el("button", { onclick: () => { clear(); answer.replaceChildren(); } }, "Clear"), " ", upload)),
      el("div", {}, el("p", { class: "muted" }, "The network sees"), seen), answer)];
  },

  decode(run) {
    const size = 300, range = 3;
    const plane = el("canvas", { class: "plane", width: size, height: size, "aria-label": "latent plane" });
    const out = el("canvas", { class: "pixels", width: 168, height: 168, "data-answer": "decode" });
    const where = el("p", { class: "muted" }, "Click or drag on the plane.");
    const g = plane.getContext("2d");
    function grid(mark) {
      g.fillStyle = "#fff"; g.fillRect(0, 0, size, size);
      g.strokeStyle = "#e5e7eb";
      for (let v = -range; v <= range; v++) {
        const p = (v + range) / (2 * range) * size;
        g.beginPath(); g.moveTo(p, 0); g.lineTo(p, size); g.moveTo(0, p); g.lineTo(size, p); g.stroke();
      }
      g.strokeStyle = "#9ca3af"; g.beginPath(); g.moveTo(size / 2, 0); g.lineTo(size / 2, size); g.moveTo(0, size / 2); g.lineTo(size, size / 2); g.stroke();
      if (mark) { g.fillStyle = "#dc2626"; g.beginPath(); g.arc(mark[0], mark[1], 5, 0, 2 * Math.PI); g.fill(); }
    }
    grid();
    let busy = false, queued = null;
    async function decodeAt(px, py) {
      const z = [(px / size) * 2 * range - range, range - (py / size) * 2 * range];
      grid([px, py]);
      where.textContent = `z = (${z[0].toFixed(2)}, ${z[1].toFixed(2)})`;
      if (busy) { queued = [px, py]; return; }
      busy = true;
      try {
        const point = run.latent === 2 ? z : Array.from({ length: run.latent }, (_, i) => (i < 2 ? z[i] : 0));
        const result = await postJson(base(run) + "/decode", { points: [point] });
        drawPixels(out, result.images[0], result.side, 6);
      } catch (error) { where.textContent = error.message; }
      busy = false;
      if (queued) { const q = queued; queued = null; decodeAt(...q); }
    }
    let dragging = false;
    const at = (event) => { const r = plane.getBoundingClientRect(); return [(event.clientX - r.left) * size / r.width, (event.clientY - r.top) * size / r.height]; };
    plane.addEventListener("pointerdown", (event) => { dragging = true; plane.setPointerCapture(event.pointerId); decodeAt(...at(event)); });
    plane.addEventListener("pointermove", (event) => { if (dragging) decodeAt(...at(event)); });
    plane.addEventListener("pointerup", () => { dragging = false; });
    const note = run.latent === 2 ? "" : ` (the first two of ${run.latent} coordinates; the rest 0)`;
    return [el("h2", {}, "Walk the latent plane" + note), el("div", { class: "row" }, plane, el("div", {}, out, where))];
  },

  sample(run) {
    const grid = el("canvas", { class: "pixels", width: 448, height: 448, "data-answer": "sample" });
    const seed = el("input", { type: "number", value: "0", min: "0", style: "width:6rem", "aria-label": "seed" });
    const digit = el("select", { "aria-label": "digit" }, el("option", { value: "" }, "any digit"),
      [...Array(10).keys()].map((d) => el("option", { value: String(d) }, "digit " + d)));
    const note = el("p", { class: "muted" });
    async function draw() {
      const request = { n: 16, seed: Number(seed.value) || 0 };
      if (digit.value !== "") request.digit = Number(digit.value);
      try {
        const result = await postJson(base(run) + "/sample", request);
        const side = result.side, g = grid.getContext("2d");
        g.fillStyle = "#000"; g.fillRect(0, 0, grid.width, grid.height);
        result.images.forEach((pixels, i) => {
          const tile = document.createElement("canvas");
          drawPixels(tile, pixels, side, 4);
          g.drawImage(tile, (i % 4) * side * 4, Math.floor(i / 4) * side * 4);
        });
        note.textContent = `16 samples, seed ${request.seed}`;
      } catch (error) { note.textContent = error.message; note.className = "error"; }
    }
    const again = el("button", { class: "primary", onclick: () => { seed.value = String((Number(seed.value) || 0) + 1); draw(); } }, "New samples");
    draw();
    // Only a class-conditional generator can be asked for a digit.
    return [el("h2", {}, "Samples"), el("p", {}, again, " ", el("label", {}, "seed"), seed, " ", run.conditional ? digit : null, " ",
      el("button", { onclick: draw }, "Draw")), grid, note];
  },

  "classify-text"(run) {
    const text = el("textarea", { "aria-label": "text to classify" }, "We will cut taxes for working families and secure our borders.");
    const answer = el("div", { "data-answer": "classify-text" });
    async function ask() {
      try {
        const result = await postJson(base(run) + "/classify-text", { text: text.value });
        const top = Math.max(...result.words.map((w) => w.weight), 1e-9);
        const shaded = el("p", { class: "words" }, result.words.map((w) =>
          [el("span", { title: w.weight.toFixed(4), style: `background:rgba(37,99,235,${(0.85 * w.weight / top).toFixed(3)})` }, w.word), " "]));
        const more = result.words.length < result.words_total ? el("p", { class: "muted" }, `read the first ${result.words.length} of ${result.words_total} words`) : null;
        answer.replaceChildren(...[bars(result.classes), el("p", { class: "muted" }, "Words shaded by attention weight:"), shaded, more].filter(Boolean));
      } catch (error) { answer.replaceChildren(el("p", { class: "error" }, error.message)); }
    }
    return [el("h2", {}, "Classify a text"), text, el("p", {}, el("button", { class: "primary", onclick: ask }, "Classify")), answer];
  },

  generate(run) {
    const prompt = el("input", { value: "Call me Ishmael.", style: "width:24rem", "aria-label": "prompt" });
    const length = el("input", { type: "number", value: "400", min: "1", max: "5000", style: "width:6rem", "aria-label": "length" });
    const temperature = el("input", { type: "number", value: "0.8", step: "0.1", min: "0", max: "10", style: "width:5rem", "aria-label": "temperature" });
    const out = el("pre", { class: "generated", "data-answer": "generate" });
    async function go() {
      out.textContent = prompt.value;
      try {
        const response = await fetch("/api" + base(run) + "/generate", { method: "POST", headers: { "Content-Type": "application/json" },
          body: JSON.stringify({ prompt: prompt.value, len: Number(length.value), temperature: Number(temperature.value), seed: Math.floor(Math.random() * 1e9) }) });
        if (!response.ok) { const body = await response.json().catch(() => ({})); throw new Error(body.error || response.statusText); }
        const reader = response.body.getReader(), decoder = new TextDecoder();
        for (;;) {
          const { value, done } = await reader.read();
          if (done) break;
          out.textContent += decoder.decode(value, { stream: true });
        }
      } catch (error) { out.append(el("div", { class: "error" }, error.message)); }
    }
    return [el("h2", {}, "Continue a prompt"), el("p", {}, prompt, " ", el("label", {}, "characters"), length, " ",
      el("label", {}, "temperature"), temperature, " ", el("button", { class: "primary", onclick: go }, "Write")), out];
  },

  episode(run) {
    const stage = el("canvas", { width: 600, height: 240, class: "plane", "data-answer": "episode" });
    const seed = el("input", { type: "number", value: "0", min: "0", style: "width:6rem", "aria-label": "seed" });
    const note = el("p", { class: "muted" });
    let timer = null;
    function frame(state, step, total) {
      const g = stage.getContext("2d"), [x, , theta] = state;
      const ground = 190, scale = stage.width / 6, cx = stage.width / 2 + x * scale;
      g.fillStyle = "#fff"; g.fillRect(0, 0, stage.width, stage.height);
      g.strokeStyle = "#9ca3af"; g.beginPath(); g.moveTo(0, ground); g.lineTo(stage.width, ground); g.stroke();
      g.fillStyle = "#dc2626"; [-2.4, 2.4].forEach((edge) => g.fillRect(stage.width / 2 + edge * scale - 1, ground - 10, 2, 20));
      g.fillStyle = "#1f2937"; g.fillRect(cx - 30, ground - 20, 60, 20);
      g.strokeStyle = "#d97706"; g.lineWidth = 7; g.lineCap = "round"; g.beginPath();
      g.moveTo(cx, ground - 20); g.lineTo(cx + Math.sin(theta) * 150, ground - 20 - Math.cos(theta) * 150); g.stroke();
      g.lineWidth = 1; g.fillStyle = "#374151"; g.font = "13px system-ui"; g.fillText(`step ${step}  return ${total}`, 10, 20);
    }
    async function play() {
      clearInterval(timer);
      try {
        const episode = await postJson(base(run) + "/episode", { seed: Number(seed.value) || 0 });
        let i = 0;
        timer = setInterval(() => {
          frame(episode.states[i], i, i);
          if (++i >= episode.states.length) { clearInterval(timer); note.textContent = `episode over after ${episode.actions.length} steps (${episode.ended}); return ${episode.total_return}`; }
        }, 20);
        note.textContent = "playing…";
      } catch (error) { note.textContent = error.message; }
    }
    frame([0, 0, 0, 0], 0, 0);
    return [el("h2", {}, "Watch the agent balance the pole"), el("p", {}, el("label", {}, "seed"), seed, " ",
      el("button", { class: "primary", onclick: play }, "Play")), stage, note];
  },

  locate(run) {
    const shown = el("canvas", { class: "plane", width: 320, height: 320, "data-answer": "locate" });
    const note = el("p", { class: "muted" }, "Upload a picture with one digit anywhere in it.");
    const upload = el("input", { type: "file", accept: "image/png,image/jpeg", "aria-label": "upload a picture", onchange: async (event) => {
      const file = event.target.files[0];
      if (!file) return;
      try {
        const found = await api(base(run) + "/locate", { method: "POST", headers: { "Content-Type": file.type || "application/octet-stream" }, body: file });
        const image = await createImageBitmap(file);
        const scale = Math.min(320 / image.width, 320 / image.height);
        shown.width = Math.round(image.width * scale); shown.height = Math.round(image.height * scale);
        const g = shown.getContext("2d");
        g.drawImage(image, 0, 0, shown.width, shown.height);
        const [x0, y0, x1, y1] = found.box.map((v) => v * scale);
        g.strokeStyle = "#dc2626"; g.lineWidth = 2; g.strokeRect(x0, y0, x1 - x0, y1 - y0);
        g.fillStyle = "#dc2626"; g.font = "bold 15px system-ui"; g.fillText(`${found.label} (${(100 * found.probability).toFixed(0)} %)`, x0, Math.max(14, y0 - 4));
        note.textContent = `digit ${found.label}, ${(100 * found.probability).toFixed(1)} %, box x ${found.box[0].toFixed(0)}–${found.box[2].toFixed(0)}, y ${found.box[1].toFixed(0)}–${found.box[3].toFixed(0)} px`;
      } catch (error) { note.textContent = error.message; }
    } });
    return [el("h2", {}, "Find the digit and its box"), el("p", {}, upload), shown, note];
  },
};
