// The page side of watchdog.py: ping the kernel, show the notice while no answer comes; say so
// instead when the server gave this page's place to someone waiting (it answers at fate_url).
function render({ model, el }) {
  // The notice is a box of its own: ipywidgets restyles `el` from the widget's layout (which
  // would undo a `display: none` set on it, and show the notice on every page load).
  const box = document.createElement("div");
  box.className = "bear-lost";
  box.setAttribute("role", "alert");
  box.style.cssText = "display:none;align-items:center;gap:8px;flex-wrap:wrap;margin:0.5em 0;padding:8px;" +
    "border-radius:4px;background:#fdecea;color:#611a15";
  const text = document.createElement("span");
  text.textContent = model.get("notice");
  const reload = document.createElement("button");
  reload.textContent = "Reload";
  reload.style.cssText = "min-height:48px;padding:0 16px;font-size:1em";
  reload.addEventListener("click", () => window.location.reload());
  box.append(text, reload);
  el.append(box);

  let answered = Date.now();
  // While the notice shows, ask every 5 s whether the place was given away: a page that lost its
  // connection but kept running shows the notice before the server gives its place (Room.away later).
  let askedAt = 0;
  let given = false;
  const ask = async () => {
    const url = model.get("fate_url");
    if (!url || given || Date.now() - askedAt < 5000) return;
    askedAt = Date.now();
    const token = new URLSearchParams(location.search).get("token"); // Binder's
    try {
      const reply = await fetch(url + (token ? "?token=" + encodeURIComponent(token) : ""), { cache: "no-store" });
      given = reply.ok && (await reply.json()).given;
      if (given) text.textContent = model.get("given");
    } catch (e) {
      // the server does not answer either: the notice stands
    }
  };
  const onMessage = (msg) => {
    if (msg && "pong" in msg) {
      answered = Date.now();
      box.style.display = "none";
      text.textContent = model.get("notice");
      askedAt = 0;
      given = false;
    }
  };
  model.on("msg:custom", onMessage);
  // timers sleep with the page (a phone's screen off): give the connection time to come back
  const onVisible = () => {
    if (!document.hidden) answered = Date.now();
  };
  document.addEventListener("visibilitychange", onVisible);
  const send = () => {
    try {
      model.send({ ping: Date.now() });
    } catch (e) {
      // the kernel connection is gone: the check below shows the notice
    }
  };
  send(); // a view renders once its kernel is connected: ask at once, then every ping_ms
  const ping = setInterval(send, model.get("ping_ms"));
  const check = setInterval(() => {
    if (Date.now() - answered > model.get("lost_ms")) {
      box.style.display = "flex";
      ask();
    }
  }, 500);
  return () => {
    clearInterval(ping);
    clearInterval(check);
    model.off("msg:custom", onMessage);
    document.removeEventListener("visibilitychange", onVisible);
  };
}

export default { render };
