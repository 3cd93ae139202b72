// The page side of watchdog.py: ping the kernel, show the notice while no answer comes.
function render({ model, el }) {
  el.className = "bear-lost";
  el.setAttribute("role", "alert");
  el.style.cssText = "display:none;align-items:center;gap:8px;flex-wrap:wrap;margin:0.5em 0;padding:8px;" +
    "border-radius:4px;background:#fdecea;color:#611a15";
  const text = document.createElement("span");
  text.textContent = model.get("notice");
  const reload = document.createElement("button");
  reload.textContent = "Reload";
  reload.style.cssText = "min-height:48px;padding:0 16px;font-size:1em";
  reload.addEventListener("click", () => window.location.reload());
  el.append(text, reload);

  let answered = Date.now();
  const onMessage = (msg) => {
    if (msg && "pong" in msg) {
      answered = Date.now();
      el.style.display = "none";
    }
  };
  model.on("msg:custom", onMessage);
  // timers sleep with the page (a phone's screen off): give the connection time to come back
  const onVisible = () => {
    if (!document.hidden) answered = Date.now();
  };
  document.addEventListener("visibilitychange", onVisible);
  const ping = setInterval(() => {
    try {
      model.send({ ping: Date.now() });
    } catch (e) {
      // the kernel connection is gone: the check below shows the notice
    }
  }, model.get("ping_ms"));
  const check = setInterval(() => {
    if (Date.now() - answered > model.get("lost_ms")) el.style.display = "flex";
  }, 500);
  return () => {
    clearInterval(ping);
    clearInterval(check);
    model.off("msg:custom", onMessage);
    document.removeEventListener("visibilitychange", onVisible);
  };
}

export default { render };
