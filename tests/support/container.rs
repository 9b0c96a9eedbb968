//! A PostgreSQL container, for machines with a Docker engine and no local
//! server binaries (`cargo test --features testcontainers`).

use testcontainers::core::{IntoContainerPort, WaitFor};
use testcontainers::runners::SyncRunner;
use testcontainers::{Container, GenericImage, ImageExt};

/// The image tag; override with PGADVISE_TEST_IMAGE_TAG (e.g. `13`, `18`).
const DEFAULT_TAG: &str = "17";

pub struct PostgresContainer {
    _container: Container<GenericImage>,
    port: u16,
}

impl PostgresContainer {
    pub fn start() -> Result<PostgresContainer, String> {
        let tag = std::env::var("PGADVISE_TEST_IMAGE_TAG").unwrap_or_else(|_| DEFAULT_TAG.into());
        // The entrypoint first runs a temporary server on a unix socket only;
        // "port 5432" appears once the real server listens on TCP.
        let image = GenericImage::new("postgres", &tag)
            .with_exposed_port(5432.tcp())
            .with_wait_for(WaitFor::message_on_stderr("port 5432"))
            .with_env_var("POSTGRES_HOST_AUTH_METHOD", "trust")
            // with_cmd replaces the image's command: keep `postgres` and add the preload.
            .with_cmd([
                "postgres",
                "-c",
                "shared_preload_libraries=pg_stat_statements",
                "-c",
                "password_encryption=scram-sha-256",
            ]);
        let container = image
            .start()
            .map_err(|e| format!("starting a postgres:{tag} container: {e}"))?;
        let port = container
            .get_host_port_ipv4(5432.tcp())
            .map_err(|e| format!("reading the container's port: {e}"))?;
        Ok(PostgresContainer {
            _container: container,
            port,
        })
    }

    pub fn url(&self, database: &str) -> String {
        format!("postgresql://postgres@127.0.0.1:{}/{database}", self.port)
    }
}
