//! The fuzzing server's web page: run the suite from a browser's own WebSocket client, and
//! browse the reports.

use std::path::Path;

use wstest_engine::proto::handshake::server::http_response;
use wstest_engine::proto::handshake::HttpHead;

const PAGE: &str = r#"<!DOCTYPE html>
<html>
<head>
<meta charset="utf-8"/>
<title>wstest fuzzing server</title>
<style>
body { font-family: system-ui, sans-serif; margin: 2em; max-width: 50em; }
#bar { width: 100%; height: 1.2em; background: #eee; } #fill { height: 100%; width: 0; background: #5a5; }
code { background: #f4f4f4; padding: 0 0.2em; }
</style>
</head>
<body>
<h1>wstest fuzzing server</h1>
<p>This page runs the WebSocket conformance suite with <b>this browser's</b> WebSocket client: for
every case it opens a connection to the fuzzing server and sends back every message it receives.
The results appear in the <a href="/reports/index.html">reports</a> under the agent name below.</p>
<p>Agent name: <input id="agent" size="40"/> <button id="run">Run the suite</button></p>
<div id="bar"><div id="fill"></div></div>
<p id="status">Not started.</p>
<script>
const WS_PORT = __WS_PORT__;
const base = (location.protocol === "https:" ? "wss://" : "ws://") + location.hostname + ":" + WS_PORT;
const params = new URLSearchParams(location.search);
const agentBox = document.getElementById("agent");
agentBox.value = params.get("agent") || ("browser " + navigator.userAgent.replace(/[^A-Za-z0-9./ ]/g, "").slice(0, 60));
const status = (t) => { document.getElementById("status").textContent = t; };

function command(path) {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(base + path);
    let reply = null;
    ws.onmessage = (e) => { reply = e.data; };
    ws.onclose = () => resolve(reply);
    ws.onerror = () => reject(new Error("cannot reach " + base + path));
  });
}

function runCase(i, agent) {
  return new Promise((resolve) => {
    const ws = new WebSocket(base + "/runCase?case=" + i + "&agent=" + encodeURIComponent(agent));
    ws.binaryType = "arraybuffer";
    ws.onmessage = (e) => { try { ws.send(e.data); } catch (err) {} };
    ws.onclose = () => resolve();
    ws.onerror = () => {};
  });
}

async function run() {
  const agent = agentBox.value.trim() || "browser";
  document.getElementById("run").disabled = true;
  try {
    const count = parseInt(await command("/getCaseCount"), 10);
    for (let i = 1; i <= count; i++) {
      status("Running case " + i + " of " + count + " as " + agent + " ...");
      document.getElementById("fill").style.width = (100 * (i - 1) / count) + "%";
      await runCase(i, agent);
    }
    document.getElementById("fill").style.width = "100%";
    status("Writing reports ...");
    await command("/updateReports?agent=" + encodeURIComponent(agent));
    status("Done: " + count + " cases. See the reports.");
    document.title = "wstest: done";
  } catch (e) {
    status("Error: " + e.message);
  } finally {
    document.getElementById("run").disabled = false;
  }
}
document.getElementById("run").onclick = run;
if (params.get("autorun")) { run(); }
</script>
</body>
</html>
"#;

fn content_type(name: &str) -> &'static str {
    match name.rsplit('.').next() {
        Some("html") => "text/html; charset=utf-8",
        Some("json") => "application/json",
        Some("css") => "text/css",
        _ => "application/octet-stream",
    }
}

/// A regular file's contents, not following a symbolic link (a link in the report
/// directory must not serve what it points to elsewhere).
fn read_plain_file(path: &Path) -> std::io::Result<Vec<u8>> {
    use std::io::Read;
    use std::os::unix::fs::OpenOptionsExt;
    let mut f = std::fs::OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_NOFOLLOW)
        .open(path)?;
    if !f.metadata()?.is_file() {
        return Err(std::io::ErrorKind::InvalidInput.into());
    }
    let mut body = Vec::new();
    f.read_to_end(&mut body)?;
    Ok(body)
}

/// Answer a plain HTTP request.
pub fn respond(head: &HttpHead, ws_url: &str, outdir: &Path, server: Option<&str>) -> Vec<u8> {
    if head.method != "GET" && head.method != "HEAD" {
        return http_response(
            405,
            "Method Not Allowed",
            "text/plain",
            b"only GET\n",
            &[("Allow", "GET")],
            server,
        );
    }
    let port = ws_url
        .rsplit(':')
        .next()
        .unwrap_or("9001")
        .trim_end_matches('/');
    match head.path() {
        "/" | "/index.html" => http_response(
            200,
            "OK",
            "text/html; charset=utf-8",
            PAGE.replace("__WS_PORT__", port).as_bytes(),
            &[],
            server,
        ),
        "/reports" | "/reports/" => http_response(
            302,
            "Found",
            "text/plain",
            b"",
            &[("Location", "/reports/index.html")],
            server,
        ),
        p if p.starts_with("/reports/") => {
            let name = &p["/reports/".len()..];
            // Only plain file names from the report directory.
            if name.is_empty() || name.contains('/') || name.contains('\\') || name.starts_with('.')
            {
                return http_response(404, "Not Found", "text/plain", b"not found\n", &[], server);
            }
            match read_plain_file(&outdir.join(name)) {
                Ok(body) => http_response(200, "OK", content_type(name), &body, &[], server),
                Err(_) => http_response(
                    404,
                    "Not Found",
                    "text/plain",
                    format!("no report {name} (run a client first)\n").as_bytes(),
                    &[],
                    server,
                ),
            }
        }
        _ => http_response(404, "Not Found", "text/plain", b"not found\n", &[], server),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn head(method: &str, path: &str) -> HttpHead {
        HttpHead {
            method: method.into(),
            resource: path.into(),
            minor: 1,
            headers: vec![],
            raw: vec![],
        }
    }

    #[test]
    fn routes() {
        let d = tempfile::tempdir().unwrap();
        std::fs::write(d.path().join("index.html"), "<p>r</p>").unwrap();
        let s = |m, p| {
            String::from_utf8(respond(&head(m, p), "ws://127.0.0.1:9001", d.path(), None)).unwrap()
        };
        assert!(
            s("GET", "/").starts_with("HTTP/1.1 200") && s("GET", "/").contains("WS_PORT = 9001")
        );
        assert!(s("GET", "/reports/index.html").ends_with("<p>r</p>"));
        assert!(s("GET", "/reports/../etc/passwd").starts_with("HTTP/1.1 404"));
        assert!(s("GET", "/reports/.hidden").starts_with("HTTP/1.1 404"));
        // A link out of the report directory is not followed.
        let secret = tempfile::tempdir().unwrap();
        std::fs::write(secret.path().join("secret"), "s3cret").unwrap();
        std::os::unix::fs::symlink(secret.path().join("secret"), d.path().join("link.html"))
            .unwrap();
        assert!(s("GET", "/reports/link.html").starts_with("HTTP/1.1 404"));
        std::fs::create_dir(d.path().join("sub.html")).unwrap();
        assert!(s("GET", "/reports/sub.html").starts_with("HTTP/1.1 404"));
        assert!(s("POST", "/").starts_with("HTTP/1.1 405"));
    }
}
