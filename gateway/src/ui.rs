//! The official Temporal Web UI beside `start-dev`, as Temporal's own dev
//! server runs it: Temporal's `ui-server` (Go; it serves the UI's assets and
//! turns the browser's `/api/v1/...` calls into gRPC calls to the server),
//! run as a child process with a configuration written for this server. The
//! binary is not part of Temper; `INSTALL_HINT` says how to get it.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};

/// The ui-server release the install hint names and the browser test runs
/// (tests/services/ui-server.sh).
pub const UI_SERVER_VERSION: &str = "v2.53.1";

/// The ui-server binary's name on the `PATH`.
pub const BINARY_NAME: &str = "temporal-ui-server";

/// How to install the binary, for the message when it is missing.
pub const INSTALL_HINT: &str = "GOBIN=\"$HOME/.local/bin\" go install github.com/temporalio/ui-server/v2/cmd/server@v2.53.1 \
     && mv \"$HOME/.local/bin/server\" \"$HOME/.local/bin/temporal-ui-server\"";

/// What the UI server is started with.
#[derive(Clone, Debug)]
pub struct UiSettings {
    /// Where the UI is served.
    pub address: SocketAddr,
    /// The gRPC address it calls.
    pub grpc_address: SocketAddr,
    pub default_namespace: String,
}

/// The ui-server binary: `explicit` (`--ui-server`), else
/// `TEMPER_UI_SERVER`, else `temporal-ui-server` on the `PATH`.
pub fn find_binary(explicit: Option<PathBuf>) -> Option<PathBuf> {
    if let Some(path) = explicit.or_else(|| std::env::var_os("TEMPER_UI_SERVER").map(PathBuf::from)) {
        return Some(path);
    }
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path).map(|dir| dir.join(BINARY_NAME)).find(|candidate| candidate.is_file())
}

/// A running UI server; it is stopped when dropped.
pub struct UiServer {
    _child: tokio::process::Child,
    _config_root: tempfile::TempDir,
}

impl UiServer {
    pub fn start(binary: &Path, settings: &UiSettings) -> std::io::Result<UiServer> {
        let root = tempfile::Builder::new().prefix("temper-ui-").tempdir()?;
        let config_dir = root.path().join("config");
        std::fs::create_dir(&config_dir)?;
        std::fs::write(config_dir.join("temper.yaml"), config_yaml(settings))?;
        let mut command = tokio::process::Command::new(binary);
        command
            .arg("--root")
            .arg(root.path())
            .args(["--config", "config", "--env", "temper", "start"])
            .stdin(std::process::Stdio::null())
            .kill_on_drop(true);
        stop_with_this_process(&mut command);
        let child = command.spawn()?;
        Ok(UiServer { _child: child, _config_root: root })
    }
}

/// Dropping the child kills it, but a server killed with SIGKILL drops
/// nothing: on Linux the kernel then ends the UI server too, so it never
/// outlives the server holding its port.
#[cfg(target_os = "linux")]
fn stop_with_this_process(command: &mut tokio::process::Command) {
    // SAFETY: between fork and exec the closure only calls prctl, which is
    // async-signal-safe, and touches no memory of the parent.
    unsafe {
        command.pre_exec(|| {
            if libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGTERM) == 0 {
                Ok(())
            } else {
                Err(std::io::Error::last_os_error())
            }
        });
    }
}

#[cfg(not(target_os = "linux"))]
fn stop_with_this_process(_command: &mut tokio::process::Command) {}

/// The UI server's configuration: this server's address, plain HTTP, no
/// calls out to the internet, no log line per request (they would drown the
/// server's own), and the actions Temper does not serve turned off (batch
/// operations, workflow and activity pausing), so the UI offers only what
/// works.
fn config_yaml(settings: &UiSettings) -> String {
    let namespace = serde_json::Value::String(settings.default_namespace.clone());
    format!(
        "temporalGrpcAddress: \"{grpc}\"\n\
         host: \"{host}\"\n\
         port: {port}\n\
         enableUi: true\n\
         publicPath: \"\"\n\
         defaultNamespace: {namespace}\n\
         disableNewsFetch: true\n\
         refreshInterval: 0s\n\
         batchActionsDisabled: true\n\
         workflowPauseDisabled: true\n\
         activityCommandsDisabled: true\n\
         hideLogs: true\n\
         cors:\n  cookieInsecure: true\n",
        grpc = settings.grpc_address,
        host = settings.address.ip(),
        port = settings.address.port(),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_configuration_points_the_ui_at_this_server_over_plain_http() {
        let settings = UiSettings {
            address: "127.0.0.1:8233".parse().unwrap(),
            grpc_address: "127.0.0.1:7233".parse().unwrap(),
            default_namespace: "de\"fault".into(),
        };
        let yaml = config_yaml(&settings);
        assert!(yaml.contains("temporalGrpcAddress: \"127.0.0.1:7233\"\n"), "{yaml}");
        assert!(yaml.contains("host: \"127.0.0.1\"\nport: 8233\n"), "{yaml}");
        assert!(yaml.contains("defaultNamespace: \"de\\\"fault\"\n"), "a quoted namespace stays one YAML string: {yaml}");
        assert!(yaml.contains("cookieInsecure: true"), "{yaml}");
    }
}
