// A broadcast server on node's `ws` (the usual way to write one): every message from any client
// is sent to every open client. A peer for scripts/fanout-compare.sh.
const { WebSocketServer, WebSocket } = require("ws");
const port = Number(process.argv[2] || 9000);
const wss = new WebSocketServer({ port, perMessageDeflate: false });
wss.on("connection", (ws) => {
  ws.on("message", (data, isBinary) => {
    for (const c of wss.clients) {
      if (c.readyState === WebSocket.OPEN) c.send(data, { binary: isBinary });
    }
  });
});
