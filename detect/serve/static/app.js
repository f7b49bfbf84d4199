// The live page: plain JS over the server's API (no build step). The API key, when the server
// needs one, is kept in this browser's localStorage and sent as a Bearer header; the MJPEG
// <img> and the EventSource cannot send headers, so they pass it as ?key=.
"use strict";

const $ = (id) => document.getElementById(id);
let key = localStorage.getItem("detect-key") || "";
const cards = new Map();

function headers(extra = {}) {
  return key ? { ...extra, Authorization: `Bearer ${key}` } : extra;
}

function withKey(url) {
  return key ? `${url}?key=${encodeURIComponent(key)}` : url;
}

async function api(path, options = {}) {
  const response = await fetch(path, { ...options, headers: headers(options.headers) });
  if (response.status === 401) {
    $("key-box").hidden = false;
    throw new Error("this server needs an API key");
  }
  const body = response.status === 204 ? null : await response.json();
  if (!response.ok) throw new Error(body?.error?.message || response.statusText);
  return body;
}

function formatCounts(counts) {
  if (!counts) return "";
  const lines = [];
  for (const [name, dirs] of Object.entries(counts.lines || {})) {
    for (const [dir, byClass] of Object.entries(dirs)) {
      const parts = Object.entries(byClass).map(([c, n]) => `${n} ${c}`).join(", ");
      lines.push(`${name} ${dir}: ${parts || 0}`);
    }
  }
  for (const [name, zone] of Object.entries(counts.zones || {})) {
    const inside = Object.entries(zone.inside || {}).map(([c, n]) => `${n} ${c}`).join(", ");
    const entries = Object.entries(zone.entries || {}).map(([c, n]) => `${n} ${c}`).join(", ");
    lines.push(`${name}: inside ${inside || 0}; entered ${entries || 0}`);
  }
  return lines.join("\n");
}

function addCard(info) {
  const node = $("stream-card").content.firstElementChild.cloneNode(true);
  node.dataset.id = info.id;
  node.querySelector(".title").textContent = info.source;
  node.querySelector(".video").src = withKey(`/v1/streams/${info.id}/video.mjpg`);
  node.querySelector(".remove").onclick = async () => {
    await api(`/v1/streams/${info.id}`, { method: "DELETE" }).catch(() => {});
    removeCard(info.id);
  };
  $("streams").appendChild(node);
  const events = new EventSource(withKey(`/v1/streams/${info.id}/events`));
  events.addEventListener("frame", (event) => {
    const record = JSON.parse(event.data);
    if (record.counts) node.querySelector(".counts").textContent = formatCounts(record.counts);
    node.querySelector(".frames").textContent = record.seq;
  });
  events.addEventListener("end", () => events.close());
  cards.set(info.id, { node, events });
  update(node, info);
}

function removeCard(id) {
  const card = cards.get(id);
  if (!card) return;
  card.events.close();
  card.node.remove();
  cards.delete(id);
}

function update(node, info) {
  const state = node.querySelector(".state");
  state.textContent = info.state;
  state.className = `state ${info.state}`;
  node.querySelector(".fps").textContent = `${info.fps.toFixed(1)} fps`;
  node.querySelector(".ids").textContent = info.track_ids;
  if (info.counts) node.querySelector(".counts").textContent = formatCounts(info.counts);
  node.title = info.error || "";
}

async function refresh() {
  try {
    const { streams } = await api("/v1/streams");
    for (const info of streams) {
      const card = cards.get(info.id);
      if (card) update(card.node, info);
      else addCard(info);
    }
    for (const id of [...cards.keys()]) {
      if (!streams.some((s) => s.id === id)) removeCard(id);
    }
  } catch (error) {
    /* shown on the next action */
  }
}

$("add-stream").onsubmit = async (event) => {
  event.preventDefault();
  $("stream-error").textContent = "";
  const body = { source: $("source").value.trim(), track: $("track").checked };
  const line = $("line").value.trim();
  if (line) body.count = { lines: [line.split(",").map(Number)] };
  if (line && !body.track) body.track = true;
  try {
    const { id } = await api("/v1/streams", {
      method: "POST",
      headers: { "Content-Type": "application/json" },
      body: JSON.stringify(body),
    });
    addCard(await api(`/v1/streams/${id}`));
  } catch (error) {
    $("stream-error").textContent = error.message;
  }
};

$("upload").onsubmit = async (event) => {
  event.preventDefault();
  $("upload-error").textContent = "";
  const file = $("file").files[0];
  if (!file) return;
  const form = new FormData();
  form.append("image", file);
  try {
    const { results } = await api("/v1/detect", { method: "POST", body: form });
    const result = results[0];
    const bitmap = await createImageBitmap(file);
    const canvas = $("canvas");
    canvas.width = result.width;
    canvas.height = result.height;
    const context = canvas.getContext("2d");
    context.drawImage(bitmap, 0, 0);
    context.lineWidth = Math.max(2, result.width / 300);
    context.font = `${Math.max(12, result.width / 50)}px sans-serif`;
    for (const d of result.detections) {
      const [x1, y1, x2, y2] = d.box;
      context.strokeStyle = context.fillStyle = "#0f0";
      context.strokeRect(x1, y1, x2 - x1, y2 - y1);
      context.fillText(`${d.label} ${d.score.toFixed(2)}`, x1 + 2, Math.max(12, y1 - 4));
    }
    $("upload-summary").textContent = `${result.detections.length} detections`;
  } catch (error) {
    $("upload-error").textContent = error.message;
  }
};

$("save-key").onclick = () => {
  key = $("key").value;
  localStorage.setItem("detect-key", key);
  $("key-box").hidden = true;
  for (const id of [...cards.keys()]) removeCard(id);
  start();
};

async function start() {
  try {
    const model = await api("/v1/model");
    $("model").textContent = model.description;
  } catch (error) {
    $("model").textContent = error.message;
  }
  refresh();
}

start();
setInterval(refresh, 1000);
