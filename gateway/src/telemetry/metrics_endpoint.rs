//! `GET /metrics`: the process's metrics in Prometheus' text format, on a
//! port of its own (9090 unless configured), as Temporal serves them.

use std::net::SocketAddr;

use axum::Router;
use axum::http::header::CONTENT_TYPE;
use axum::routing::get;
use tokio::net::TcpListener;

/// A bound metrics listener, serving until the process ends.
pub struct MetricsEndpoint {
    address: SocketAddr,
}

impl MetricsEndpoint {
    /// Binds `address` and starts serving.
    pub async fn start(address: SocketAddr) -> std::io::Result<MetricsEndpoint> {
        let listener = TcpListener::bind(address).await?;
        let address = listener.local_addr()?;
        let app = Router::new().route("/metrics", get(|| async { ([(CONTENT_TYPE, temper_engine::metrics::text_content_type())], temper_engine::metrics::encode_text()) }));
        tokio::spawn(async move {
            if let Err(error) = axum::serve(listener, app).await {
                tracing::error!(%error, "the metrics endpoint stopped");
            }
        });
        Ok(MetricsEndpoint { address })
    }

    /// The address it listens on (the bound port when asked for port 0).
    pub fn address(&self) -> SocketAddr {
        self.address
    }
}
