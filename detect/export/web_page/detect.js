// detect's page: ONNX Runtime Web (WASM) runs model.onnx — the whole pipeline, uint8 RGB image
// in, boxes (image pixels), scores and labels out — on an image file or a webcam frame, and
// draws the boxes with their names. ?threads=N sets the WASM threads (more than 1 needs
// cross-origin isolation: `detect serve-web` sends the headers). For tests and benchmarks:
// window.detectReady, detectLoadPixels(base64 CHW RGB, height, width), detectRun() and
// window.detectResults (the last run's detections and its time).
"use strict";

const params = new URLSearchParams(location.search);
const cores = navigator.hardwareConcurrency || 1;
const threads = Number(params.get("threads") || (self.crossOriginIsolated ? Math.min(cores, 4) : 1));
ort.env.wasm.wasmPaths = new URL("./", location.href).href; // the copied files, never a CDN
ort.env.wasm.numThreads = threads;

const page = {
  status: document.getElementById("status"),
  canvas: document.getElementById("canvas"),
  threshold: document.getElementById("threshold"),
  video: document.getElementById("video"),
};
let model = null; // { session, meta }
let input = null; // the ort.Tensor of the last image

async function load() {
  const meta = await (await fetch("model.json")).json();
  const session = await ort.InferenceSession.create("model.onnx", {
    executionProviders: ["wasm"],
    graphOptimizationLevel: "all",
  });
  model = { session, meta };
  page.status.textContent =
    `ready: ${meta.names.length} categories, ${meta.size}-px SSDLite; ONNX Runtime Web ` +
    `${ort.env.versions.web}, ${ort.env.wasm.numThreads} thread(s)` +
    (self.crossOriginIsolated ? "" : " (not cross-origin isolated: one thread)");
  return { threads: ort.env.wasm.numThreads, isolated: self.crossOriginIsolated };
}

function setPixels(chw, height, width) {
  input = new ort.Tensor("uint8", chw, [1, 3, height, width]);
}

// One run of the model on the last image: detections in image pixels, best score first.
async function run() {
  const start = performance.now();
  const out = await model.session.run({ images: input });
  const ms = performance.now() - start;
  const boxes = out.boxes.data;
  const result = { ms, boxes: [], scores: Array.from(out.scores.data), labels: [], names: [] };
  for (let i = 0; i < result.scores.length; i++) {
    const label = Number(out.labels.data[i]); // int64: a BigInt
    result.boxes.push(Array.from(boxes.slice(4 * i, 4 * i + 4)));
    result.labels.push(label);
    result.names.push(model.meta.names[label - 1] ?? String(label));
  }
  window.detectResults = result;
  return result;
}

function fromBase64(text) {
  const binary = atob(text);
  const bytes = new Uint8Array(binary.length);
  for (let i = 0; i < binary.length; i++) bytes[i] = binary.charCodeAt(i);
  return bytes;
}

// RGBA (H, W, 4) canvas pixels → RGB (3, H, W), as the model takes them
function toChw(imageData) {
  const { data, width, height } = imageData;
  const plane = width * height;
  const chw = new Uint8Array(3 * plane);
  for (let i = 0; i < plane; i++) {
    chw[i] = data[4 * i];
    chw[plane + i] = data[4 * i + 1];
    chw[2 * plane + i] = data[4 * i + 2];
  }
  return chw;
}

function draw(result) {
  const context = page.canvas.getContext("2d");
  const threshold = Number(page.threshold.value);
  context.lineWidth = 2;
  context.font = "14px system-ui, sans-serif";
  let shown = 0;
  result.scores.forEach((score, i) => {
    if (score < threshold) return;
    const [x1, y1, x2, y2] = result.boxes[i];
    const hue = (result.labels[i] * 47) % 360;
    context.strokeStyle = context.fillStyle = `hsl(${hue}, 85%, 45%)`;
    context.strokeRect(x1, y1, x2 - x1, y2 - y1);
    const text = `${result.names[i]} ${score.toFixed(2)}`;
    const width = context.measureText(text).width + 6;
    context.fillRect(x1, Math.max(0, y1 - 18), width, 18);
    context.fillStyle = "white";
    context.fillText(text, x1 + 3, Math.max(13, y1 - 5));
    shown++;
  });
  page.status.textContent =
    `${shown} detection(s) with score ≥ ${threshold} (of ${result.scores.length}) in ` +
    `${result.ms.toFixed(1)} ms, ${ort.env.wasm.numThreads} thread(s)`;
}

// Any drawable (an image, a video frame): onto the canvas at its own size, detected, drawn.
async function detectDrawable(source, width, height) {
  await window.detectReady;
  page.canvas.width = width;
  page.canvas.height = height;
  const context = page.canvas.getContext("2d");
  context.drawImage(source, 0, 0, width, height);
  setPixels(toChw(context.getImageData(0, 0, width, height)), height, width);
  const result = await run();
  draw(result);
  return result;
}

document.getElementById("file").addEventListener("change", async (event) => {
  const file = event.target.files[0];
  if (!file) return;
  const bitmap = await createImageBitmap(file);
  await detectDrawable(bitmap, bitmap.width, bitmap.height);
});

document.getElementById("webcam").addEventListener("click", async () => {
  try {
    if (!page.video.srcObject) {
      page.video.srcObject = await navigator.mediaDevices.getUserMedia({ video: true });
      await page.video.play();
    }
    await detectDrawable(page.video, page.video.videoWidth, page.video.videoHeight);
  } catch (error) {
    page.status.textContent = `webcam: ${error.message}`;
  }
});

window.detectReady = load();
window.detectReady.catch((error) => (page.status.textContent = `error: ${error.message}`));
window.detectLoadPixels = (base64, height, width) => setPixels(fromBase64(base64), height, width);
window.detectRun = run;
window.detectImage = detectDrawable;
