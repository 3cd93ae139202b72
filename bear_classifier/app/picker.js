// The photo picker's browser side (anywidget): "Choose photo", "Take photo" and Classify. The photo
// is shown at once from the phone's own copy, shrunk here and sent in chunks with progress; its
// answer is shown as soon as the kernel has it, never another photo's, with "Where did it look?".
// The kernel (picker.py) checks everything again.
const CHUNK = 64 * 1024;
// The map's colours (matplotlib's magma at 0, 1/4, 1/2, 3/4 and 1) and opacity, as fastbook's
// chapter 18 draws a class activation map over a photo.
const MAGMA = [
  [0, 0, 4],
  [81, 18, 124],
  [183, 55, 121],
  [252, 137, 97],
  [252, 253, 191],
];
const MAP_ALPHA = 0.6;
const PHOTO_MAX_VH = 40; // the photo's height at most, in % of the screen's: on a phone, its answer stays in view

/** What the picker sends for `file`: `jpeg`, an upright JPEG whose short side is `shortSide` px
 * (transparency on white), or null where the original is sent: the browser cannot decode the file
 * (HEIC in Chrome, damaged, not an image: `decoded` is false, and the kernel decodes it) or it is
 * no larger than that. */
export async function shrink(file, shortSide, quality) {
  let bitmap;
  try {
    bitmap = await createImageBitmap(file, { imageOrientation: "from-image" });
  } catch {
    return { jpeg: null, decoded: false };
  }
  const scale = shortSide / Math.min(bitmap.width, bitmap.height);
  if (scale >= 1) {
    bitmap.close();
    return { jpeg: null, decoded: true };
  }
  const canvas = document.createElement("canvas");
  canvas.width = Math.max(1, Math.round(bitmap.width * scale));
  canvas.height = Math.max(1, Math.round(bitmap.height * scale));
  const ctx = canvas.getContext("2d");
  ctx.fillStyle = "#fff";
  ctx.fillRect(0, 0, canvas.width, canvas.height);
  ctx.imageSmoothingQuality = "high";
  ctx.drawImage(bitmap, 0, 0, canvas.width, canvas.height);
  bitmap.close();
  const jpeg = await new Promise((resolve) => canvas.toBlob(resolve, "image/jpeg", quality));
  return { jpeg, decoded: true };
}

/** The map as pixels, one per cell: `cells` (rows of values 0..1) through magma, at MAP_ALPHA. */
export function mapPixels(cells) {
  const rows = cells.length;
  const cols = cells[0].length;
  const data = new Uint8ClampedArray(rows * cols * 4);
  cells.flat().forEach((value, i) => {
    const x = Math.min(Math.max(value, 0), 1) * (MAGMA.length - 1);
    const k = Math.min(Math.floor(x), MAGMA.length - 2);
    for (let c = 0; c < 3; c++) data[4 * i + c] = MAGMA[k][c] + (x - k) * (MAGMA[k + 1][c] - MAGMA[k][c]);
    data[4 * i + 3] = 255 * MAP_ALPHA;
  });
  return new ImageData(data, cols, rows);
}

function kb(n) {
  return n < 1024 * 1024 ? `${Math.ceil(n / 1024)} KB` : `${(n / 1024 / 1024).toFixed(1)} MB`;
}

function percent(fraction) {
  return `${(100 * fraction).toFixed(3)}%`;
}

function button(text, className) {
  return Object.assign(document.createElement("button"), { type: "button", textContent: text, className });
}

function picker(text, capture) {
  const input = Object.assign(document.createElement("input"), { type: "file", accept: "image/*", hidden: true });
  if (capture) input.setAttribute("capture", "environment"); // the phone's rear camera
  const chooser = button(text, "bear-picker-button");
  chooser.addEventListener("click", () => input.click());
  return [chooser, input];
}

function render({ model, el }) {
  const [choose, chooseInput] = picker("Choose photo", false);
  const [take, takeInput] = picker("Take photo", true);
  const row = Object.assign(document.createElement("div"), { className: "bear-picker-row" });
  row.append(choose, take, chooseInput, takeInput);
  const classify = button("Classify", "bear-classify");
  const bar = Object.assign(document.createElement("progress"), { max: 1, value: 0, hidden: true });
  const status = Object.assign(document.createElement("div"), { className: "bear-picker-status" });
  status.setAttribute("aria-live", "polite");
  const photo = Object.assign(document.createElement("img"), { alt: "The photo" });
  const map = Object.assign(document.createElement("canvas"), { className: "bear-map", hidden: true });
  const frame = Object.assign(document.createElement("div"), { className: "bear-photo", hidden: true });
  frame.append(photo, map);
  const toggle = button("Where did it look?", "bear-map-toggle");
  toggle.setAttribute("aria-pressed", "false"); // off until the visitor asks; then on for the next photos too
  toggle.hidden = true;
  const answer = Object.assign(document.createElement("div"), { className: "bear-answer" });
  answer.setAttribute("aria-live", "polite");
  el.classList.add("bear-picker");
  el.append(row, classify, bar, status, frame, toggle, answer);

  let current = ""; // the id of the photo chosen last: only its answer is shown
  let waiting = false; // its answer has not come yet (it comes by itself: Classify waits for it)
  let total = 0;
  let name = "";
  let url = ""; // the object URL shown

  function showPhoto(blob) {
    URL.revokeObjectURL(url);
    url = URL.createObjectURL(blob);
    photo.src = url;
  }
  photo.addEventListener("load", () => {
    // the frame takes the photo's aspect, so that the map's region lies exactly over the photo
    const ratio = photo.naturalWidth / photo.naturalHeight;
    frame.style.aspectRatio = `${photo.naturalWidth} / ${photo.naturalHeight}`;
    frame.style.width = `min(100%, ${(PHOTO_MAX_VH * ratio).toFixed(2)}vh)`;
    frame.hidden = false;
  });
  photo.addEventListener("error", () => {
    frame.hidden = true;
  });

  function drawMap(where) {
    toggle.hidden = !where;
    map.hidden = !where || toggle.getAttribute("aria-pressed") !== "true";
    if (!where) return;
    const [left, top, right, bottom] = where.region;
    Object.assign(map.style, {
      left: percent(left),
      top: percent(top),
      width: percent(right - left),
      height: percent(bottom - top),
    });
    map.width = where.cells[0].length;
    map.height = where.cells.length;
    map.getContext("2d").putImageData(mapPixels(where.cells), 0, 0);
  }
  toggle.addEventListener("click", () => {
    const on = toggle.getAttribute("aria-pressed") !== "true";
    toggle.setAttribute("aria-pressed", String(on));
    map.hidden = !on;
  });

  function showAnswer() {
    const got = model.get("answer");
    if (!got || got.id !== current) return; // another photo's answer, or none yet
    waiting = false;
    answer.dataset.photo = got.id;
    answer.innerHTML = got.html;
    if (got.preview) showPhoto(new Blob([got.preview], { type: "image/jpeg" })); // the page could not show it
    drawMap(got.map);
  }

  async function send(file, id) {
    current = id;
    waiting = true;
    el.dataset.photo = id;
    name = file.name || "photo";
    // the previous photo's answer goes at once, before the kernel hears of this one
    answer.replaceChildren();
    delete answer.dataset.photo;
    frame.hidden = true;
    drawMap(null);
    bar.hidden = false;
    bar.value = 0;
    status.textContent = `Preparing ${name}…`;
    const cap = model.get("max_bytes");
    if (file.size <= cap) showPhoto(file);
    const { jpeg, decoded } =
      file.size > cap ? { jpeg: null, decoded: false } : await shrink(file, model.get("short_side"), model.get("quality"));
    if (id !== current) return;
    const body = jpeg || file;
    total = body.size;
    model.send({ type: "begin", id, name, size: body.size, shown: decoded });
    if (body.size > cap) return; // the kernel refuses it from its size, in one line
    status.textContent = `Sending ${name} (${kb(total)})…`;
    for (let offset = 0; offset < body.size; offset += CHUNK) {
      const chunk = await body.slice(offset, offset + CHUNK).arrayBuffer();
      if (id !== current) return;
      model.send({ type: "chunk", id }, undefined, [chunk]);
    }
    model.send({ type: "end", id });
  }

  async function sendOrSay(file) {
    const id = Math.random().toString(36).slice(2);
    try {
      await send(file, id);
    } catch {
      // the browser could not read the file (gone from the phone's storage, say): say so, in one line
      if (id === current) {
        waiting = false;
        bar.hidden = true;
        status.textContent = `${name} could not be read; please choose it again.`;
      }
    }
  }

  classify.addEventListener("click", () => {
    if (!waiting) model.send({ type: "classify", id: current }); // else: the photo is answered on arrival
  });
  const onMessage = (msg) => {
    if (msg.type === "ack" && msg.id === current) {
      bar.value = total ? msg.received / total : 1;
      status.textContent = `Sending ${name}: ${kb(msg.received)} of ${kb(total)}`;
    }
  };
  const onState = () => {
    if (model.get("upload") !== current) return;
    const state = model.get("state");
    if (state === "received") {
      bar.value = 1;
      status.textContent = `Sent ${name} (${kb(total)}).`;
    } else if (state === "refused") {
      bar.hidden = true;
      status.textContent = "";
    }
  };
  model.on("msg:custom", onMessage);
  model.on("change:state", onState);
  model.on("change:answer", showAnswer);
  showAnswer();
  for (const input of [chooseInput, takeInput]) {
    input.addEventListener("change", () => {
      const file = input.files && input.files[0];
      input.value = ""; // choosing the same photo again fires again
      if (file) sendOrSay(file);
    });
  }
  return () => {
    model.off("msg:custom", onMessage);
    model.off("change:state", onState);
    model.off("change:answer", showAnswer);
    URL.revokeObjectURL(url);
  };
}

export default { render };
