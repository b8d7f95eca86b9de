//! `--metrics-listen`: GET /metrics over HTTP/1.1, in the format the scraper asks for
//! (OpenMetrics when its Accept header lists it, as Prometheus' does; else the classic text
//! format 0.0.4). Each connection is a task of its own with a deadline, and the registry is
//! encoded off the loop: a slow or stuck scraper never holds up the pipeline.

use std::{convert::Infallible, net::SocketAddr, sync::Arc, time::Duration};

use anyhow::Context as _;
use http_body_util::Full;
use hyper::{
    Method, Request, Response, StatusCode,
    body::{Bytes, Incoming},
    header::{ACCEPT, CONTENT_TYPE},
    service::service_fn,
};
use hyper_util::rt::{TokioIo, TokioTimer};
use prometheus_client::registry::Registry;
use tokio::sync::Semaphore;

use super::Format;

/// Connections served at once; more are closed at once (a scraper retries on its next interval).
const CONNECTIONS_MAX: usize = 16;
/// A request's headers must arrive within this.
const HEADER_WAIT: Duration = Duration::from_secs(5);
/// No connection lives longer than this, however slowly its reader reads.
const CONNECTION_MAX: Duration = Duration::from_secs(30);

/// Binds now, so that an address in use or not ours is a one-line error at start.
pub fn bind(addr: SocketAddr) -> anyhow::Result<std::net::TcpListener> {
    let l = std::net::TcpListener::bind(addr)
        .with_context(|| format!("--metrics-listen {addr}: cannot listen there"))?;
    l.set_nonblocking(true)?;
    Ok(l)
}

/// Serves `registry` on `listener` until the process ends.
pub fn spawn(listener: std::net::TcpListener, registry: Arc<Registry>) -> anyhow::Result<()> {
    let listener = tokio::net::TcpListener::from_std(listener)?;
    let slots = Arc::new(Semaphore::new(CONNECTIONS_MAX));
    tokio::spawn(async move {
        loop {
            let Ok((stream, _)) = listener.accept().await else {
                // EMFILE and the like: try again in a moment rather than spin.
                tokio::time::sleep(Duration::from_millis(100)).await;
                continue;
            };
            let Ok(slot) = slots.clone().try_acquire_owned() else {
                continue; // dropped: closed
            };
            let registry = registry.clone();
            tokio::spawn(async move {
                let service = service_fn(move |req| answer(req, registry.clone()));
                let conn = hyper::server::conn::http1::Builder::new()
                    .timer(TokioTimer::new())
                    .header_read_timeout(HEADER_WAIT)
                    .keep_alive(true)
                    .serve_connection(TokioIo::new(stream), service);
                let _ = tokio::time::timeout(CONNECTION_MAX, conn).await;
                drop(slot);
            });
        }
    });
    Ok(())
}

async fn answer(
    req: Request<Incoming>,
    registry: Arc<Registry>,
) -> Result<Response<Full<Bytes>>, Infallible> {
    if req.uri().path() != "/metrics" {
        return Ok(plain(
            StatusCode::NOT_FOUND,
            "only /metrics is served here\n",
        ));
    }
    if req.method() != Method::GET && req.method() != Method::HEAD {
        return Ok(plain(StatusCode::METHOD_NOT_ALLOWED, "GET /metrics\n"));
    }
    let format = Format::negotiate(req.headers().get(ACCEPT).and_then(|v| v.to_str().ok()));
    let body = tokio::task::spawn_blocking(move || format.encode(&registry)).await;
    Ok(match body {
        Ok(Ok(text)) => Response::builder()
            .header(CONTENT_TYPE, format.content_type())
            .body(Full::new(Bytes::from(text)))
            .unwrap_or_else(|_| plain(StatusCode::INTERNAL_SERVER_ERROR, "")),
        _ => plain(StatusCode::INTERNAL_SERVER_ERROR, "encoding failed\n"),
    })
}

fn plain(status: StatusCode, text: &'static str) -> Response<Full<Bytes>> {
    let mut r = Response::new(Full::new(Bytes::from_static(text.as_bytes())));
    *r.status_mut() = status;
    r
}
