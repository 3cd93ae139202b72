// The photo picker's browser side (anywidget): "Choose photo" and "Take photo", the photo shrunk
// here, sent in chunks with progress. The kernel (picker.py) checks everything again.
const CHUNK = 64 * 1024;

/** An upright JPEG of `file` whose short side is `shortSide` px (transparency on white), or null
 * where the browser cannot decode the file (HEIC in Chrome, damaged, not an image) or it is
 * no larger than that: then the original is sent and the kernel decodes it. */
export async function shrink(file, shortSide, quality) {
  let bitmap;
  try {
    bitmap = await createImageBitmap(file, { imageOrientation: "from-image" });
  } catch {
    return null;
  }
  const scale = shortSide / Math.min(bitmap.width, bitmap.height);
  if (scale >= 1) {
    bitmap.close();
    return null;
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
  return new Promise((resolve) => canvas.toBlob(resolve, "image/jpeg", quality));
}

function kb(n) {
  return n < 1024 * 1024 ? `${Math.ceil(n / 1024)} KB` : `${(n / 1024 / 1024).toFixed(1)} MB`;
}

function picker(text, capture) {
  const input = Object.assign(document.createElement("input"), { type: "file", accept: "image/*", hidden: true });
  if (capture) input.setAttribute("capture", "environment"); // the phone's rear camera
  const button = Object.assign(document.createElement("button"), { type: "button", textContent: text });
  button.className = "bear-picker-button";
  button.addEventListener("click", () => input.click());
  return [button, input];
}

function render({ model, el }) {
  const [choose, chooseInput] = picker("Choose photo", false);
  const [take, takeInput] = picker("Take photo", true);
  const row = Object.assign(document.createElement("div"), { className: "bear-picker-row" });
  row.append(choose, take, chooseInput, takeInput);
  const bar = Object.assign(document.createElement("progress"), { max: 1, value: 0, hidden: true });
  const status = Object.assign(document.createElement("div"), { className: "bear-picker-status" });
  status.setAttribute("aria-live", "polite");
  el.classList.add("bear-picker");
  el.append(row, bar, status);

  let current = ""; // the upload in flight; choosing another photo abandons it
  let total = 0;
  let name = "";

  async function send(file) {
    const id = Math.random().toString(36).slice(2);
    current = id;
    name = file.name || "photo";
    bar.hidden = false;
    bar.value = 0;
    status.textContent = `Preparing ${name}…`;
    const cap = model.get("max_bytes");
    const small = file.size > cap ? null : await shrink(file, model.get("short_side"), model.get("quality"));
    if (id !== current) return;
    const body = small || file;
    total = body.size;
    model.send({ type: "begin", id, name, size: body.size });
    if (body.size > cap) return; // the kernel refuses it from its size, in one line
    status.textContent = `Sending ${name} (${kb(total)})…`;
    for (let offset = 0; offset < body.size; offset += CHUNK) {
      const chunk = await body.slice(offset, offset + CHUNK).arrayBuffer();
      if (id !== current) return;
      model.send({ type: "chunk", id }, undefined, [chunk]);
    }
    model.send({ type: "end", id });
  }

  model.on("msg:custom", (msg) => {
    if (msg.type === "ack" && msg.id === current) {
      bar.value = total ? msg.received / total : 1;
      status.textContent = `Sending ${name}: ${kb(msg.received)} of ${kb(total)}`;
    }
  });
  model.on("change:state", () => {
    const state = model.get("state");
    if (state === "received") {
      bar.value = 1;
      status.textContent = `Sent ${model.get("name")} (${kb(total)}).`;
    } else if (state === "refused") {
      bar.hidden = true;
      status.textContent = "";
    }
  });
  for (const input of [chooseInput, takeInput]) {
    input.addEventListener("change", () => {
      const file = input.files && input.files[0];
      input.value = ""; // choosing the same photo again fires again
      if (file) send(file);
    });
  }
}

export default { render };
