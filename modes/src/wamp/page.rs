//! The demo page: a browser WebSocket speaking `wamp.2.json` by hand (no external scripts).
//! One page holds two sessions in the same realm, so a publish from one shows as an event in
//! the other, and a procedure registered by one is called by the other.

/// The page, connecting to `scheme://<the page's host>:port`.
pub fn html(scheme: &str, port: u16) -> String {
    PAGE.replace("@SCHEME@", scheme)
        .replace("@PORT@", &port.to_string())
}

const PAGE: &str = r#"<!DOCTYPE html>
<html><head><meta charset="utf-8"><title>wstest wampserver</title>
<style>
body { font-family: system-ui, sans-serif; margin: 1.5em; max-width: 60em; }
fieldset { margin-bottom: 1em; } input { margin-right: .5em; }
#log { background: #f4f4f4; padding: .5em; height: 20em; overflow-y: auto; font: 12px monospace; white-space: pre-wrap; }
</style></head>
<body>
<h1>wstest wampserver</h1>
<p>Two WAMP sessions (A and B) from this page, over <code>wamp.2.json</code>, to
<code id="url"></code>.</p>
<fieldset><legend>Sessions</legend>
realm <input id="realm" value="realm1"> <button id="connect">open A and B</button>
<button id="close">GOODBYE</button> <span id="state">closed</span></fieldset>
<fieldset><legend>Publish &amp; subscribe</legend>
topic <input id="topic" value="com.example.demo"> <button id="sub">B subscribes</button>
text <input id="text" value="hello"> <button id="pub">A publishes</button></fieldset>
<fieldset><legend>Remote procedure call</legend>
<button id="reg">B registers com.example.add</button>
<input id="x" value="2" size="4"> + <input id="y" value="3" size="4">
<button id="call">A calls it</button></fieldset>
<div id="log"></div>
<script>
"use strict";
const url = "@SCHEME@://" + location.hostname + ":@PORT@/";
document.getElementById("url").textContent = url;
const $ = (id) => document.getElementById(id);
function log(s) { const l = $("log"); l.textContent += s + "\n"; l.scrollTop = l.scrollHeight; }

// Message type codes of the WAMP Basic Profile.
const T = { HELLO: 1, WELCOME: 2, ABORT: 3, GOODBYE: 6, ERROR: 8, PUBLISH: 16, PUBLISHED: 17,
  SUBSCRIBE: 32, SUBSCRIBED: 33, EVENT: 36, CALL: 48, RESULT: 50, REGISTER: 64,
  REGISTERED: 65, INVOCATION: 68, YIELD: 70 };

class Session {
  constructor(name) { this.name = name; this.req = 0; this.handlers = {}; this.procs = {}; }
  open(realm, onWelcome) {
    this.ws = new WebSocket(url, ["wamp.2.json"]);
    this.ws.onopen = () => this.send([T.HELLO, realm,
      { roles: { publisher: {}, subscriber: {}, caller: {}, callee: {} } }]);
    this.ws.onmessage = (e) => this.receive(JSON.parse(e.data), onWelcome);
    this.ws.onclose = (e) => log(this.name + ": transport closed (" + e.code + ")");
  }
  send(m) { log(this.name + " -> " + JSON.stringify(m)); this.ws.send(JSON.stringify(m)); }
  request(m, cb) { const id = ++this.req; m.splice(1, 0, id); this.handlers[id] = cb; this.send(m); }
  receive(m, onWelcome) {
    log(this.name + " <- " + JSON.stringify(m));
    switch (m[0]) {
      case T.WELCOME: this.session = m[1]; onWelcome(); break;
      case T.ABORT: log(this.name + ": aborted: " + m[2]); break;
      case T.GOODBYE: if (m[2] !== "wamp.close.goodbye_and_out") this.send([T.GOODBYE, {}, "wamp.close.goodbye_and_out"]);
        this.ws.close(1000); break;
      case T.EVENT: log(this.name + ": event " + JSON.stringify(m[4] || [])); break;
      case T.INVOCATION: {
        const f = this.procs[m[2]];
        this.send([T.YIELD, m[1], {}, [f ? f(m[4] || []) : null]]);
        break;
      }
      case T.ERROR: case T.SUBSCRIBED: case T.PUBLISHED: case T.RESULT: case T.REGISTERED: {
        const id = m[0] === T.ERROR ? m[2] : m[1];
        const cb = this.handlers[id]; delete this.handlers[id];
        if (cb) cb(m);
        break;
      }
    }
  }
}

let A = null, B = null;
$("connect").onclick = () => {
  A = new Session("A"); B = new Session("B");
  let n = 0;
  const up = () => { if (++n === 2) $("state").textContent = "A and B established"; };
  A.open($("realm").value, up); B.open($("realm").value, up);
};
$("close").onclick = () => { for (const s of [A, B]) if (s) s.send([T.GOODBYE, {}, "wamp.close.close_realm"]);
  $("state").textContent = "closed"; };
$("sub").onclick = () => B.request([T.SUBSCRIBE, {}, $("topic").value],
  (m) => log(m[0] === T.SUBSCRIBED ? "B: subscribed" : "B: subscribe failed: " + m[4]));
$("pub").onclick = () => A.request([T.PUBLISH, { acknowledge: true }, $("topic").value, [$("text").value]],
  (m) => log(m[0] === T.PUBLISHED ? "A: published" : "A: publish failed: " + m[4]));
$("reg").onclick = () => B.request([T.REGISTER, {}, "com.example.add"], (m) => {
  if (m[0] === T.REGISTERED) { B.procs[m[2]] = (a) => a.reduce((s, v) => s + Number(v), 0); log("B: registered"); }
  else log("B: register failed: " + m[4]);
});
$("call").onclick = () => A.request([T.CALL, {}, "com.example.add", [Number($("x").value), Number($("y").value)]],
  (m) => log(m[0] === T.RESULT ? "A: result " + JSON.stringify(m[3]) : "A: call failed: " + m[4]));
</script>
</body></html>
"#;
