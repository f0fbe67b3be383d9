//! Temper against a Cassandra that requires a password and TLS with client
//! certificates: `temper schema setup` and `temper server start` (then a
//! Python SDK scenario) connect with the right settings; a wrong password, a
//! CA that did not sign the node's certificate, a wrong server name, no
//! client certificate, plain text to the TLS-only port and unusable files
//! each fail within seconds with one line saying which.
//!
//! The instance is a second, secured one from tests/services/cassandra.sh
//! (its own home under the target directory and its own ports, beside the
//! default instance other tests use), with certificates made here for this
//! run and stopped at the end even on failure. Without `java` the test says
//! so loudly and passes (the only allowed skip).

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

use rcgen::{BasicConstraints, CertificateParams, DnType, ExtendedKeyUsagePurpose, IsCa, Issuer, KeyPair, KeyUsagePurpose};
use temper_tests::{ServerKind, TestDir, TestServer, free_port, run_python, target_dir};

const CQL_PORT: u16 = 9242;
const STORAGE_PORT: u16 = 7200;
/// Cassandra's default superuser, which PasswordAuthenticator creates.
const USER: &str = "cassandra";
const PASSWORD: &str = "cassandra";
/// Every failure must be told well within this.
const FAILURE_LIMIT: Duration = Duration::from_secs(30);

fn java_is_installed() -> bool {
    Command::new("java").arg("-version").output().is_ok_and(|output| output.status.success())
}

#[test]
fn a_secured_cassandra_needs_the_right_password_ca_and_client_certificate() {
    let ServerKind::Temper(temper) = ServerKind::detect() else {
        eprintln!("the Cassandra store is Temper's; nothing to run against Temporal's server");
        return;
    };
    if !java_is_installed() {
        eprintln!("\n!!!!! SKIPPED: no `java` on PATH, so no secured Cassandra to run Temper against !!!!!\n");
        return;
    }
    let dir = TestDir::new("cassandra-secured");
    let files = TestFiles::create(dir.path());
    let _cassandra = SecuredCassandra::start(&files.node_dir);
    let keyspace = format!("secured_{}", std::process::id());
    let temper = Temper { binary: temper, config: files.config(&keyspace, dir.path()) };

    // The password only in the environment, as a deployment would keep it.
    temper.schema_setup_when_the_superuser_exists();
    temper.schema_update_fails(&[], &[("TEMPER_CASSANDRA_PASSWORD", "wrong")], "authentication failed");
    let refusals: [(&[&str], &str); 7] = [
        (&["--tls-ca-file", path(&files.other_ca)], "TLS handshake failed: invalid peer certificate: UnknownIssuer"),
        (&["--tls-server-name", "wrong.test"], "certificate not valid for name \"wrong.test\""),
        (&["--tls-key-file", "/nonexistent/client-key.pem"], "TLS client key file /nonexistent/client-key.pem: "),
        (&["--tls-key-file", path(&files.ca)], "holds no PEM private key"),
        (&["--tls-cert-file", path(&files.ca)], "does not match the certificate"),
        (&["--max-conns", "0"], "persistence.cassandra.max_conns is 0"),
        (&["--connect-timeout", "0s"], "persistence.cassandra.connect_timeout is 0"),
    ];
    for (flags, expected) in refusals {
        temper.schema_update_fails(flags, &[], expected);
    }
    temper.without_a_client_certificate_fails(&files);
    temper.in_plain_text_fails();

    // The server reads the password from its file here, and checks one name
    // in the node's certificate instead of its address.
    let server_config = temper.config.with_extra("    password: cassandra\n", "      server_name: cassandra.test\n");
    let server_config_file = dir.path().join("server.yaml");
    std::fs::write(&server_config_file, server_config.yaml(&dir.path().join("data"))).expect("writing server.yaml");
    let server = TestServer::start_with_config(&server_config_file);
    run_python("hello_activity.py", &["--address", &server.address(), "--namespace", "default"]);
    drop(server);

    // The environment overrides the file's password; the driver's own
    // logs of the failed attempts stay out of the server's one line.
    let mut start = Command::new(&temper.binary);
    start.args(["server", "start", "--config"]).arg(&server_config_file).env("TEMPER_CASSANDRA_PASSWORD", "wrong");
    start.env("TEMPER_DATA_DIR", dir.path().join("data-wrong-password"));
    start.env("TEMPER_ADDRESS", format!("127.0.0.1:{}", free_port()));
    fails_with_one_line(start, "temper: the store is not usable: connecting to Cassandra at 127.0.0.1:9242: authentication failed");

    let missing_ca = temper.config.with_ca_file(Path::new("/nonexistent/ca.pem"));
    let missing_ca_file = dir.path().join("missing-ca.yaml");
    std::fs::write(&missing_ca_file, missing_ca.yaml(&dir.path().join("data-2"))).expect("writing missing-ca.yaml");
    let mut start = Command::new(&temper.binary);
    start.args(["server", "start", "--config"]).arg(&missing_ca_file).env("TEMPER_CASSANDRA_PASSWORD", PASSWORD);
    start.env("TEMPER_ADDRESS", format!("127.0.0.1:{}", free_port()));
    fails_with_one_line(start, "TLS CA file /nonexistent/ca.pem: No such file or directory");

    store_opens_then_drop_keyspace(&files, &keyspace);
}

/// The engine's own entry points, as the server uses them, then cleaning up.
fn store_opens_then_drop_keyspace(files: &TestFiles, keyspace: &str) {
    use temper_engine::store::cassandra::{
        CassandraConfig, CassandraStore, ClientCertificate, Credentials, HostVerification, Password, TlsOptions, open_session,
    };
    let config = CassandraConfig {
        contact_points: vec![format!("127.0.0.1:{CQL_PORT}")],
        keyspace: keyspace.to_string(),
        credentials: Some(Credentials { username: USER.to_string(), password: Password::new(PASSWORD) }),
        tls: Some(TlsOptions {
            ca_file: files.ca.clone(),
            client_certificate: Some(ClientCertificate { cert_file: files.client_cert.clone(), key_file: files.client_key.clone() }),
            host_verification: HostVerification::NodeAddress,
        }),
        ..CassandraConfig::default()
    };
    let runtime = tokio::runtime::Runtime::new().expect("a runtime");
    runtime.block_on(async {
        CassandraStore::connect(&config).await.expect("the store opens the secured keyspace");
        let session = open_session(&config).await.expect("a session");
        session.query_unpaged(format!("DROP KEYSPACE IF EXISTS {keyspace}"), ()).await.expect("dropping the keyspace");
    });
}

fn path(file: &Path) -> &str {
    file.to_str().expect("a UTF-8 path")
}

/// The `temper` binary and the config file it is run with.
struct Temper {
    binary: PathBuf,
    config: ClusterConfig,
}

impl Temper {
    fn schema(&self, subcommand: &str, flags: &[&str], environment: &[(&str, &str)]) -> Command {
        let mut command = Command::new(&self.binary);
        command.args(["schema", subcommand, "--config"]).arg(&self.config.file).args(flags);
        command.env_remove("TEMPER_CASSANDRA_USER").env("TEMPER_CASSANDRA_PASSWORD", PASSWORD);
        command.envs(environment.iter().copied());
        command
    }

    /// PasswordAuthenticator creates the superuser just after the node
    /// starts listening: until then the login is refused.
    fn schema_setup_when_the_superuser_exists(&self) {
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            let output = bounded(self.schema("setup", &[], &[]), FAILURE_LIMIT);
            if output.status.success() {
                return;
            }
            let stderr = String::from_utf8_lossy(&output.stderr).to_string();
            assert!(
                stderr.contains("authentication failed") && Instant::now() < deadline,
                "temper schema setup failed: {stderr}"
            );
            std::thread::sleep(Duration::from_millis(500));
        }
    }

    fn schema_update_fails(&self, flags: &[&str], environment: &[(&str, &str)], expected: &str) {
        fails_with_one_line(self.schema("update", flags, environment), expected);
    }

    /// The node requires a client certificate. Flags alone, as a flag
    /// cannot take the file's certificate away. The node's alert may lose
    /// the race with its closing the connection: either is a clear answer.
    fn without_a_client_certificate_fails(&self, files: &TestFiles) {
        let mut command = Command::new(&self.binary);
        command.args(["schema", "update", "--contact-point", "127.0.0.1:9242", "--keyspace", &self.config.keyspace]);
        command.args(["--user", USER, "--password", PASSWORD, "--tls-ca-file", path(&files.ca)]);
        let message = fails_with_one_line(command, "");
        assert!(
            message.contains("received fatal alert: CertificateRequired") || message.contains("does it require a client certificate"),
            "{message}"
        );
    }

    fn in_plain_text_fails(&self) {
        let mut command = Command::new(&self.binary);
        command.args(["schema", "update", "--contact-point", "127.0.0.1:9242", "--keyspace", &self.config.keyspace]);
        command.args(["--user", USER, "--password", PASSWORD]);
        fails_with_one_line(command, "the node closed the connection during the CQL handshake (does it accept only TLS?)");
    }
}

/// Runs a command that must fail, within [`FAILURE_LIMIT`], saying so on
/// exactly one line of stderr that contains `expected`; returns the line.
fn fails_with_one_line(command: Command, expected: &str) -> String {
    let started = Instant::now();
    let output = bounded(command, FAILURE_LIMIT);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(!output.status.success(), "succeeded where `{expected}` was expected");
    assert_eq!(stderr.trim_end().lines().count(), 1, "not one line:\n{stderr}");
    assert!(stderr.contains(expected), "expected `{expected}` in:\n{stderr}");
    eprintln!("[secured] failed as expected in {:.1}s: {}", started.elapsed().as_secs_f64(), stderr.trim_end());
    stderr.trim_end().to_string()
}

/// The command's output, or a panic if it runs longer than `limit`.
fn bounded(mut command: Command, limit: Duration) -> Output {
    let mut child = command
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("starting temper");
    let deadline = Instant::now() + limit;
    while child.try_wait().expect("waiting for temper").is_none() {
        if Instant::now() > deadline {
            let _ = child.kill();
            panic!("{command:?} did not finish within {limit:?}");
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    child.wait_with_output().expect("temper's output")
}

/// The settings every run starts from: the right user, CA and client
/// certificate; the password comes from the environment.
#[derive(Clone)]
struct ClusterConfig {
    file: PathBuf,
    keyspace: String,
    ca_file: PathBuf,
    client_cert: PathBuf,
    client_key: PathBuf,
    extra_cassandra: String,
    extra_tls: String,
}

impl ClusterConfig {
    fn yaml(&self, data_dir: &Path) -> String {
        format!(
            "server:\n  data_dir: {data}\npersistence:\n  store: cassandra\n  cassandra:\n    contact_points: [\"127.0.0.1:{CQL_PORT}\"]\n    \
             keyspace: {keyspace}\n    user: {USER}\n    max_conns: 2\n    connect_timeout: 10s\n{extra_cassandra}    tls:\n      enabled: true\n      \
             ca_file: {ca}\n      cert_file: {cert}\n      key_file: {key}\n{extra_tls}",
            data = data_dir.display(),
            keyspace = self.keyspace,
            extra_cassandra = self.extra_cassandra,
            ca = self.ca_file.display(),
            cert = self.client_cert.display(),
            key = self.client_key.display(),
            extra_tls = self.extra_tls,
        )
    }

    fn with_extra(&self, cassandra: &str, tls: &str) -> ClusterConfig {
        ClusterConfig { extra_cassandra: cassandra.to_string(), extra_tls: tls.to_string(), ..self.clone() }
    }

    fn with_ca_file(&self, ca_file: &Path) -> ClusterConfig {
        ClusterConfig { ca_file: ca_file.to_path_buf(), ..self.clone() }
    }
}

/// Certificates made for this run: a CA, the node's key and certificate
/// (for 127.0.0.1 and cassandra.test), a client's, and a CA that signed
/// neither.
struct TestFiles {
    node_dir: PathBuf,
    ca: PathBuf,
    other_ca: PathBuf,
    client_cert: PathBuf,
    client_key: PathBuf,
}

impl TestFiles {
    fn create(dir: &Path) -> TestFiles {
        let node_dir = dir.join("node");
        std::fs::create_dir_all(&node_dir).expect("creating the node's TLS directory");
        let (ca_pem, ca) = certificate_authority("Temper test CA");
        let (other_ca_pem, _) = certificate_authority("Some other CA");
        let (node_cert, node_key) = signed(&ca, "node", &["127.0.0.1", "cassandra.test"], ExtendedKeyUsagePurpose::ServerAuth);
        let (client_cert, client_key) = signed(&ca, "temper", &[], ExtendedKeyUsagePurpose::ClientAuth);
        let write = |name: &str, contents: &str| {
            let file = dir.join(name);
            std::fs::write(&file, contents).unwrap_or_else(|e| panic!("writing {name}: {e}"));
            file
        };
        // What tests/services/cassandra.sh expects in CASSANDRA_TLS_DIR.
        std::fs::write(node_dir.join("node.pem"), format!("{node_key}{node_cert}")).expect("writing node.pem");
        std::fs::write(node_dir.join("ca.pem"), &ca_pem).expect("writing the node's ca.pem");
        TestFiles {
            ca: write("ca.pem", &ca_pem),
            other_ca: write("other-ca.pem", &other_ca_pem),
            client_cert: write("client.pem", &client_cert),
            client_key: write("client-key.pem", &client_key),
            node_dir,
        }
    }

    fn config(&self, keyspace: &str, dir: &Path) -> ClusterConfig {
        let config = ClusterConfig {
            file: dir.join("temper.yaml"),
            keyspace: keyspace.to_string(),
            ca_file: self.ca.clone(),
            client_cert: self.client_cert.clone(),
            client_key: self.client_key.clone(),
            extra_cassandra: String::new(),
            extra_tls: String::new(),
        };
        std::fs::write(&config.file, config.yaml(&dir.join("schema-tool-data"))).expect("writing temper.yaml");
        config
    }
}

fn certificate_authority(name: &str) -> (String, Issuer<'static, KeyPair>) {
    let key = KeyPair::generate().expect("a CA key");
    let mut params = CertificateParams::new(Vec::<String>::new()).expect("CA parameters");
    params.distinguished_name.push(DnType::CommonName, name);
    params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    params.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::DigitalSignature];
    let certificate = params.self_signed(&key).expect("a CA certificate");
    (certificate.pem(), Issuer::new(params, key))
}

/// A certificate and its PKCS#8 key, both PEM.
fn signed(ca: &Issuer<'static, KeyPair>, name: &str, names: &[&str], usage: ExtendedKeyUsagePurpose) -> (String, String) {
    let key = KeyPair::generate().expect("a key");
    let mut params =
        CertificateParams::new(names.iter().map(|name| name.to_string()).collect::<Vec<_>>()).expect("parameters");
    params.distinguished_name.push(DnType::CommonName, name);
    params.extended_key_usages = vec![usage];
    let certificate = params.signed_by(&key, ca).expect("a signed certificate");
    (certificate.pem(), key.serialize_pem())
}

/// The secured instance, stopped when dropped (also when the test fails).
struct SecuredCassandra {
    environment: Vec<(&'static str, String)>,
}

impl SecuredCassandra {
    fn start(tls_dir: &Path) -> SecuredCassandra {
        let cassandra = SecuredCassandra {
            environment: vec![
                ("TEMPER_SERVICES_DIR", target_dir().join("services-secured").display().to_string()),
                ("CASSANDRA_PORT", CQL_PORT.to_string()),
                ("CASSANDRA_STORAGE_PORT", STORAGE_PORT.to_string()),
                ("CASSANDRA_AUTH", "password".to_string()),
                ("CASSANDRA_TLS_DIR", tls_dir.display().to_string()),
                ("CASSANDRA_TLS_CLIENT_AUTH", "required".to_string()),
            ],
        };
        // One left running by an interrupted run would have other certificates.
        cassandra.script("stop");
        let started = Instant::now();
        assert!(cassandra.script("start").success(), "tests/services/cassandra.sh start failed");
        eprintln!("[secured] Cassandra up in {:.1}s", started.elapsed().as_secs_f64());
        cassandra
    }

    fn script(&self, action: &str) -> std::process::ExitStatus {
        Command::new("bash")
            .arg(Path::new(env!("CARGO_MANIFEST_DIR")).join("services/cassandra.sh"))
            .arg(action)
            .envs(self.environment.iter().map(|(name, value)| (*name, value.as_str())))
            .status()
            .expect("running tests/services/cassandra.sh")
    }
}

impl Drop for SecuredCassandra {
    fn drop(&mut self) {
        self.script("stop");
    }
}
