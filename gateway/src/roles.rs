//! Which roles one `temper` process runs, and how a process that shares its
//! store with others takes part in the cluster.

use std::fmt;
use std::str::FromStr;
use std::time::Duration;

/// The roles of one process: any non-empty subset of gateway, engine and
/// projections (Temporal's `--service` flag); all three by default.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Roles {
    pub gateway: bool,
    pub engine: bool,
    pub projections: bool,
}

impl Roles {
    pub const ALL: Roles = Roles { gateway: true, engine: true, projections: true };

    pub fn is_all(&self) -> bool {
        *self == Roles::ALL
    }
}

impl Default for Roles {
    fn default() -> Self {
        Roles::ALL
    }
}

impl FromStr for Roles {
    type Err = String;

    fn from_str(text: &str) -> Result<Roles, String> {
        let mut roles = Roles { gateway: false, engine: false, projections: false };
        for name in text.split(',').map(str::trim).filter(|name| !name.is_empty()) {
            match name {
                "gateway" | "frontend" => roles.gateway = true,
                "engine" | "history" => roles.engine = true,
                "projections" => roles.projections = true,
                other => return Err(format!("unknown role `{other}`; the roles are gateway, engine and projections")),
            }
        }
        if roles == (Roles { gateway: false, engine: false, projections: false }) {
            return Err("no role given; name one or more of gateway, engine and projections".into());
        }
        Ok(roles)
    }
}

impl fmt::Display for Roles {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let names: Vec<&str> = [(self.gateway, "gateway"), (self.engine, "engine"), (self.projections, "projections")]
            .into_iter()
            .filter_map(|(on, name)| on.then_some(name))
            .collect();
        f.write_str(&names.join(","))
    }
}

/// How a process on a shared store (Cassandra) finds the others.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ClusterSettings {
    /// host:port other processes reach this one at (its gRPC port). Needed
    /// when the server listens on 0.0.0.0; otherwise the listening address.
    pub advertise_address: Option<String>,
    /// How often a process renews its membership row.
    pub heartbeat_interval: Duration,
    /// How long a process counts as alive after its last renewal: the time
    /// after which a dead engine's shards (or a dead gateway's task queues)
    /// move to the others.
    pub lease: Duration,
}

impl Default for ClusterSettings {
    fn default() -> Self {
        ClusterSettings { advertise_address: None, heartbeat_interval: Duration::from_millis(500), lease: Duration::from_secs(3) }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn roles_are_read_from_a_list_and_temporal_names_are_understood() {
        assert_eq!("gateway,engine,projections".parse::<Roles>().unwrap(), Roles::ALL);
        let gateway: Roles = "gateway".parse().unwrap();
        assert_eq!(gateway, Roles { gateway: true, engine: false, projections: false });
        assert_eq!("frontend, history".parse::<Roles>().unwrap().to_string(), "gateway,engine");
        assert!("matching".parse::<Roles>().unwrap_err().contains("unknown role `matching`"));
        assert!("".parse::<Roles>().unwrap_err().contains("no role given"));
    }
}
