//! The page that joins the broadcast from a browser. `{scheme}` and `{port}` are filled in by
//! the server (an empty port: the page's own).

pub const PAGE: &str = r#"<!DOCTYPE html>
<html><head><meta charset="utf-8"/><title>wstest broadcast</title>
<style>
body{font-family:system-ui,sans-serif;margin:2em;max-width:50em}
#log{font-family:monospace;white-space:pre-wrap;border:1px solid #ccc;height:24em;overflow-y:auto;padding:.5em}
#state{font-weight:bold}
</style></head><body>
<h1>wstest broadcast</h1>
<p>Every message sent here goes to every client of this server, this page included.
State: <span id="state">connecting</span></p>
<form id="f"><input id="msg" size="50" value="hello from a browser"/> <button>send</button></form>
<div id="log"></div>
<script>
const port = "{port}" || location.port;
const url = "{scheme}://" + location.hostname + (port ? ":" + port : "") + "/";
const log = document.getElementById("log");
const state = document.getElementById("state");
function line(t) {
  const d = document.createElement("div");
  d.textContent = new Date().toISOString().substr(11, 12) + "  " + t;
  log.appendChild(d);
  while (log.childNodes.length > 500) log.removeChild(log.firstChild);
  log.scrollTop = log.scrollHeight;
}
const ws = new WebSocket(url);
ws.binaryType = "arraybuffer";
ws.onopen = () => { state.textContent = "open (" + url + ")"; };
ws.onclose = (e) => { state.textContent = "closed (" + e.code + " " + e.reason + ")"; };
ws.onmessage = (e) => {
  if (typeof e.data === "string") line(e.data);
  else line("binary: " + Array.from(new Uint8Array(e.data), b => b.toString(16).padStart(2, "0")).join(""));
};
document.getElementById("f").onsubmit = (e) => {
  e.preventDefault();
  if (ws.readyState === 1) ws.send(document.getElementById("msg").value);
};
</script></body></html>
"#;
