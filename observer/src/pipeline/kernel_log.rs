//! `-v`: the kernel programs' aya-log records, forwarded to stderr.

use tokio::io::unix::AsyncFd;

use crate::capture::Capture;

/// Forwards the kernel programs' log records to stderr for as long as the runtime runs.
pub fn spawn(capture: &mut Capture) {
    match aya_log::EbpfLogger::init(capture.ebpf_mut()) {
        Ok(logger) => {
            // SAFETY: the logger owns its map fd; flushing neither closes nor replaces it.
            match unsafe { AsyncFd::register_with_interest(logger, tokio::io::Interest::READABLE) }
            {
                Ok(mut logger) => {
                    tokio::spawn(async move {
                        while let Ok(mut guard) = logger.readable_mut().await {
                            guard.get_inner_mut().flush();
                            guard.clear_ready();
                        }
                    });
                }
                Err(e) => log::warn!("kernel logs unavailable: {e}"),
            }
        }
        Err(e) => log::warn!("kernel logs unavailable: {e}"),
    }
}
