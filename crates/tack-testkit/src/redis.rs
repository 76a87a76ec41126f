//! Throwaway Redis servers (Debian's `redis-server`) on free loopback ports: one server, or a
//! Redis Cluster of several masters (`redis-cli --cluster create`). Both can be stopped and
//! started again on the same ports, keeping their data (`SHUTDOWN SAVE`, loaded back at start)
//! or losing it, as an operator's restart or a crash would.

use crate::{port_is_free, wait_for_port};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// Whether a stopped Redis keeps what it held.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Data {
    /// Saved at shutdown and loaded back at the next start.
    Kept,
    /// Gone: the next start is empty.
    Lost,
}

/// One `redis-server` process in its own directory.
struct Instance {
    child: Option<Child>,
    port: u16,
    dir: PathBuf,
    cluster: bool,
}

impl Instance {
    fn run(&mut self) {
        let mut command = Command::new("redis-server");
        command
            .args(["--port", &self.port.to_string(), "--bind", "127.0.0.1"])
            // No automatic saves: a story decides when data is kept (`SHUTDOWN SAVE`).
            .args([
                "--save",
                "",
                "--appendonly",
                "no",
                "--protected-mode",
                "yes",
            ])
            .arg("--dir")
            .arg(&self.dir);
        if self.cluster {
            command.args([
                "--cluster-enabled",
                "yes",
                "--cluster-config-file",
                "nodes.conf",
                // A master that was stopped on purpose must not be voted out while it is away.
                "--cluster-node-timeout",
                "30000",
            ]);
        }
        let child = command
            .stdout(Stdio::null())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("redis-server runs (scripts/setup.sh test installs it)");
        self.child = Some(child);
        wait_for_port(self.port, "redis-server", Duration::from_secs(10));
    }

    fn stop(&mut self, data: Data) {
        let Some(mut child) = self.child.take() else {
            return;
        };
        let how = match data {
            Data::Kept => "SAVE",
            Data::Lost => "NOSAVE",
        };
        let _ = redis_cli(self.port, &["SHUTDOWN", how]);
        let deadline = Instant::now() + Duration::from_secs(10);
        while child.try_wait().ok().flatten().is_none() && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(20));
        }
        let _ = child.kill();
        let _ = child.wait();
        if data == Data::Lost {
            let _ = std::fs::remove_file(self.dir.join("dump.rdb"));
            let _ = std::fs::remove_file(self.dir.join("nodes.conf"));
        }
        let deadline = Instant::now() + Duration::from_secs(10);
        while !port_is_free(self.port) && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

impl Drop for Instance {
    fn drop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

/// Runs `redis-cli -p PORT ARGS…`; its output.
fn redis_cli(port: u16, args: &[&str]) -> std::io::Result<String> {
    let out = Command::new("redis-cli")
        .args(["-h", "127.0.0.1", "-p", &port.to_string()])
        .args(args)
        .stderr(Stdio::null())
        .output()?;
    Ok(String::from_utf8_lossy(&out.stdout).into_owned())
}

/// One Redis server.
pub struct Redis {
    instance: Instance,
    _dir: tempfile::TempDir,
}

impl Redis {
    /// Starts `redis-server` with no automatic persistence, in its own temp dir.
    pub fn start() -> Redis {
        let dir = tempfile::tempdir().expect("temp dir");
        let mut instance = Instance {
            child: None,
            port: crate::free_port(),
            dir: dir.path().to_owned(),
            cluster: false,
        };
        instance.run();
        Redis {
            instance,
            _dir: dir,
        }
    }

    pub fn port(&self) -> u16 {
        self.instance.port
    }

    pub fn url(&self) -> String {
        format!("redis://127.0.0.1:{}/", self.instance.port)
    }

    /// Stops the server (its port refuses connections until [`start_again`](Self::start_again)).
    pub fn stop(&mut self, data: Data) {
        self.instance.stop(data);
    }

    /// Starts the server again on the same port, with whatever [`stop`](Self::stop) kept.
    pub fn start_again(&mut self) {
        self.instance.run();
    }

    /// Runs a command with `redis-cli`; its output.
    pub fn cli(&self, args: &[&str]) -> String {
        redis_cli(self.port(), args).expect("redis-cli runs")
    }
}

/// A Redis Cluster of masters without replicas, each on its own port (and that port + 10000
/// for the cluster bus).
pub struct RedisCluster {
    masters: Vec<Instance>,
    _dir: tempfile::TempDir,
}

impl RedisCluster {
    /// Starts `masters` servers and joins them into one cluster, waiting until it serves every
    /// slot.
    pub fn start(masters: usize) -> RedisCluster {
        let dir = tempfile::tempdir().expect("temp dir");
        let masters = cluster_ports(masters)
            .into_iter()
            .map(|port| {
                let node_dir = dir.path().join(port.to_string());
                std::fs::create_dir_all(&node_dir).expect("node dir");
                let mut instance = Instance {
                    child: None,
                    port,
                    dir: node_dir,
                    cluster: true,
                };
                instance.run();
                instance
            })
            .collect();
        let mut cluster = RedisCluster { masters, _dir: dir };
        cluster.create();
        cluster
    }

    fn create(&mut self) {
        let nodes: Vec<String> = self
            .masters
            .iter()
            .map(|m| format!("127.0.0.1:{}", m.port))
            .collect();
        let out = Command::new("redis-cli")
            .arg("--cluster")
            .arg("create")
            .args(&nodes)
            .args(["--cluster-replicas", "0", "--cluster-yes"])
            .stdin(Stdio::null())
            .output()
            .expect("redis-cli runs");
        assert!(
            out.status.success(),
            "redis-cli --cluster create failed: {}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        self.wait_until_ok();
    }

    /// Waits until every master says the cluster is ok and agrees on the slots.
    fn wait_until_ok(&self) {
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            let ok = self.masters.iter().all(|m| {
                redis_cli(m.port, &["CLUSTER", "INFO"])
                    .is_ok_and(|info| info.contains("cluster_state:ok"))
            });
            if ok {
                return;
            }
            assert!(
                Instant::now() < deadline,
                "the Redis Cluster did not become ok within 30 s"
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// Every master's URL.
    pub fn urls(&self) -> Vec<String> {
        self.masters
            .iter()
            .map(|m| format!("redis://127.0.0.1:{}/", m.port))
            .collect()
    }

    /// One master's URL: what an operator gives as "the cluster".
    pub fn url(&self) -> String {
        self.urls().remove(0)
    }

    /// Stops every master.
    pub fn stop(&mut self, data: Data) {
        for master in &mut self.masters {
            master.stop(data);
        }
    }

    /// Starts every master again on its port; a cluster that lost its data (and with it its
    /// configuration) is created anew.
    pub fn start_again(&mut self) {
        // Read before starting: a master with no configuration writes a fresh one at once.
        let configured = self
            .masters
            .iter()
            .all(|m| Path::new(&m.dir.join("nodes.conf")).exists());
        for master in &mut self.masters {
            master.run();
        }
        if configured {
            self.wait_until_ok();
        } else {
            self.create();
        }
    }
}

/// `n` ports that are free, each with its cluster bus port (+10000) free too.
fn cluster_ports(n: usize) -> Vec<u16> {
    let mut ports = Vec::new();
    let mut seed = std::process::id() as u64
        ^ std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_nanos() as u64)
            .unwrap_or(0);
    for _ in 0..2000 {
        seed = seed
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        let port = 20000 + ((seed >> 33) % 20000) as u16;
        if !ports.contains(&port) && port_is_free(port) && port_is_free(port + 10000) {
            ports.push(port);
            if ports.len() == n {
                return ports;
            }
        }
    }
    panic!("no free ports for a Redis Cluster");
}

/// The Redis a story's servers share: one server or a cluster, stopped and started alike.
pub enum SharedRedis {
    One(Redis),
    Cluster(RedisCluster),
}

impl SharedRedis {
    /// One `redis-server`.
    pub fn one() -> SharedRedis {
        SharedRedis::One(Redis::start())
    }

    /// A cluster of three masters.
    pub fn cluster() -> SharedRedis {
        SharedRedis::Cluster(RedisCluster::start(3))
    }

    /// What `tack serve --redis` is given: the server's URL, or one master's (the cluster is
    /// found from it).
    pub fn urls(&self) -> Vec<String> {
        match self {
            SharedRedis::One(redis) => vec![redis.url()],
            SharedRedis::Cluster(cluster) => vec![cluster.url()],
        }
    }

    /// Runs a command with `redis-cli` on every server (each master of a cluster).
    pub fn cli_everywhere(&self, args: &[&str]) {
        let ports: Vec<u16> = match self {
            SharedRedis::One(redis) => vec![redis.port()],
            SharedRedis::Cluster(cluster) => cluster.masters.iter().map(|m| m.port).collect(),
        };
        for port in ports {
            redis_cli(port, args).expect("redis-cli runs");
        }
    }

    pub fn stop(&mut self, data: Data) {
        match self {
            SharedRedis::One(redis) => redis.stop(data),
            SharedRedis::Cluster(cluster) => cluster.stop(data),
        }
    }

    pub fn start_again(&mut self) {
        match self {
            SharedRedis::One(redis) => redis.start_again(),
            SharedRedis::Cluster(cluster) => cluster.start_again(),
        }
    }
}
