//! The deploy files work as shipped: every configuration under config/ and
//! deploy/ validates; compose mounts one that listens where compose
//! publishes; the build context leaves the build output out; the unit says
//! how its sandbox reaches a key and a publish directory.

mod common;

use std::path::{Path, PathBuf};

use common::{run, stderr};

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn read(p: &Path) -> String {
    std::fs::read_to_string(p).unwrap_or_else(|e| panic!("{}: {e}", p.display()))
}

/// Every `.toml` under config/ and deploy/ (the next one included) passes
/// `check-config`.
#[tokio::test]
async fn every_shipped_configuration_validates() {
    let mut checked = 0;
    for dir in ["config", "deploy"] {
        for entry in std::fs::read_dir(root().join(dir)).unwrap() {
            let path = entry.unwrap().path();
            if path.extension().is_some_and(|e| e == "toml") {
                let out = run(Some(&path), &["check-config"]).await;
                assert!(out.status.success(), "{}: {}", path.display(), stderr(&out));
                checked += 1;
            }
        }
    }
    assert!(checked >= 3, "{checked} configurations");
}

/// What compose mounts as the configuration listens for metrics on every
/// interface of the container, at the port compose publishes, and the host
/// side of every published port is its loopback.
#[test]
fn compose_publishes_the_port_its_configuration_listens_on() {
    let compose = read(&root().join("deploy/compose.yaml"));
    let mounted = compose
        .lines()
        .map(|l| l.trim().trim_start_matches("- ").trim_matches('"'))
        .find_map(|l| {
            let (host, rest) = l.split_once(':')?;
            rest.starts_with("/etc/newsledger/newsledger.toml")
                .then(|| root().join("deploy").join(host))
        })
        .expect("compose mounts a configuration at /etc/newsledger/newsledger.toml");
    let config: toml::Value = toml::from_str(&read(&mounted)).unwrap();
    let listen: std::net::SocketAddr = config["metrics"]["listen"]
        .as_str()
        .expect("[metrics] listen")
        .parse()
        .unwrap();
    assert!(
        listen.ip().is_unspecified(),
        "{}: inside a container, {listen} cannot be reached through a published port",
        mounted.display()
    );
    let mut ports = 0;
    let mut in_ports = false;
    for line in compose.lines() {
        let t = line.trim();
        if t == "ports:" {
            in_ports = true;
            continue;
        }
        if in_ports && t.starts_with("- ") {
            let mapping = t
                .trim_start_matches("- ")
                .split('#')
                .next()
                .unwrap()
                .trim()
                .trim_matches('"');
            let parts: Vec<&str> = mapping.split(':').collect();
            assert_eq!(parts.len(), 3, "ADDRESS:HOST:CONTAINER, not {mapping}");
            assert_eq!(parts[0], "127.0.0.1", "{mapping}: publish on loopback");
            assert_eq!(
                parts[2].parse::<u16>().unwrap(),
                listen.port(),
                "{mapping}: the configuration listens on {listen}"
            );
            ports += 1;
        } else if in_ports && !t.is_empty() && !t.starts_with('#') {
            in_ports = false;
        }
    }
    assert_eq!(ports, 1);
}

#[test]
fn the_build_context_leaves_out_the_build_output_and_ledgers() {
    let ignore = read(&root().join(".dockerignore"));
    let rules: Vec<&str> = ignore
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
        .collect();
    for wanted in ["target/", ".git/", "**/*.db"] {
        assert!(rules.contains(&wanted), "{wanted} in {rules:?}");
    }
}

/// A `DynamicUser` cannot read a root-owned key, and `ProtectSystem=strict`
/// leaves a publish directory read-only: the unit says how to hand over
/// both, and the path it names for the key is where systemd puts it.
#[test]
fn the_unit_documents_the_key_credential_and_the_publish_directory() {
    let unit = read(&root().join("deploy/newsledger.service"));
    let credential = unit
        .lines()
        .find_map(|l| l.trim_start_matches('#').strip_prefix("LoadCredential="))
        .expect("LoadCredential= documented");
    let (name, _) = credential.split_once(':').unwrap();
    assert!(
        unit.contains(&format!(
            "key = \"/run/credentials/newsledger.service/{name}\""
        )),
        "the key path for credential {name}"
    );
    assert!(
        unit.lines()
            .any(|l| l.trim_start_matches('#').starts_with("ReadWritePaths=")),
        "ReadWritePaths= documented"
    );
    assert!(unit.contains("DynamicUser=yes") && unit.contains("ProtectSystem=strict"));
}
