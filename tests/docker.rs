//! The image (`docker/Dockerfile`, `scripts/docker-image.sh`) as a drop-in for
//! crossbario/autobahn-testsuite: the stock command line (`docker run -v config:/config -v
//! reports:/reports -p PORT:9001 IMAGE`) serves the suite to a client on the host, the reports
//! land on the host, and the container's exit status is the verdicts'; a fuzzingclient in the
//! image tests a server on the host. Needs dockerd (Debian's docker.io).

mod common;

use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use common::*;

const BIN: &str = env!("CARGO_BIN_EXE_wstest");

fn docker(args: &[&str]) -> std::process::Output {
    Command::new("docker")
        .args(args)
        .stdin(Stdio::null())
        .output()
        .expect("run docker")
}

fn docker_usable() -> bool {
    matches!(Command::new("docker").arg("info").stdout(Stdio::null()).stderr(Stdio::null()).status(), Ok(s) if s.success())
}

/// The image, built from this build's binary.
fn build_image(tag: &str) {
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("scripts/docker-image.sh");
    let o = Command::new(script).args([tag, BIN]).output().unwrap();
    assert!(
        o.status.success(),
        "image build failed: {}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    );
}

/// Removes the container when the test ends, however it ends.
struct Container(String);

impl Drop for Container {
    fn drop(&mut self) {
        let _ = docker(&["rm", "-f", &self.0]);
    }
}

#[test]
fn the_image_is_a_drop_in_for_the_autobahn_testsuite_image() {
    if !docker_usable() {
        return peer_missing("docker is not usable here (dockerd not running?)");
    }
    let tag = "wstest:ci-test";
    build_image(tag);
    let dir = tempfile::tempdir().unwrap();
    let (config, reports) = (dir.path().join("config"), dir.path().join("reports"));
    std::fs::create_dir_all(&config).unwrap();
    std::fs::create_dir_all(&reports).unwrap();
    // The stock spec of the downstream projects: the URL names 127.0.0.1 inside the
    // container, which only works if the server listens on every interface.
    std::fs::write(
        config.join("fuzzingserver.json"),
        r#"{"url": "ws://127.0.0.1:9001", "outdir": "./reports/clients", "cases": ["1.1.*", "2.*"], "exclude-cases": [], "exclude-agent-cases": {}}"#,
    )
    .unwrap();
    let port = free_port();
    let name = format!("wstest-test-{}", std::process::id());
    let vol = |host: &Path, inside: &str| format!("{}:{inside}", host.display());
    let o = docker(&[
        "run",
        "-d",
        "--name",
        &name,
        "-v",
        &vol(&config, "/config"),
        "-v",
        &vol(&reports, "/reports"),
        "-p",
        &format!("127.0.0.1:{port}:9001"),
        tag,
    ]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let _c = Container(name.clone());
    // A real client on the host: our testee client, through the published port.
    let url = format!("ws://127.0.0.1:{port}");
    let until = Instant::now() + Duration::from_secs(20);
    let client = loop {
        let o = Command::new(BIN)
            .args(["-m", "testeeclient", "-w", &url, "-i", "host-client"])
            .output()
            .unwrap();
        if o.status.success() || Instant::now() > until {
            break o;
        }
        std::thread::sleep(Duration::from_millis(200));
    };
    assert!(
        client.status.success(),
        "{}",
        String::from_utf8_lossy(&client.stderr)
    );
    // SIGTERM, as `docker stop` sends: the exit status is the verdicts'.
    let o = docker(&["stop", "-t", "10", &name]);
    assert!(o.status.success());
    let code = docker(&["inspect", "-f", "{{.State.ExitCode}}", &name]);
    assert_eq!(String::from_utf8_lossy(&code.stdout).trim(), "0");
    let index: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(reports.join("clients/index.json")).expect("reports on the host"),
    )
    .unwrap();
    let cases = index["host-client"]
        .as_object()
        .expect("the agent's verdicts");
    assert_eq!(cases.len(), 19);
    assert!(cases.values().all(|c| c["behavior"] == "OK"), "{index}");

    // The other way round: the image's fuzzingclient tests a server on the host.
    let server = Proc::start("testeeserver", &[]);
    std::fs::write(
        config.join("fuzzingclient.json"),
        format!(
            r#"{{"outdir": "./reports/servers", "servers": [{{"agent": "host-server", "url": "ws://127.0.0.1:{}"}}], "cases": ["1.1.*"]}}"#,
            server.port
        ),
    )
    .unwrap();
    let o = docker(&[
        "run",
        "--rm",
        "--network",
        "host",
        "-v",
        &vol(&config, "/config"),
        "-v",
        &vol(&reports, "/reports"),
        tag,
        "wstest",
        "-m",
        "fuzzingclient",
        "-s",
        "/config/fuzzingclient.json",
    ]);
    assert!(
        o.status.success(),
        "{}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    );
    assert!(reports.join("servers/index.json").exists());
}
