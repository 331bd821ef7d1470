//! The recording stream under every connection: it passes bytes through
//! and keeps a copy of each one written and read, so that the capture is
//! what crossed the connection; reading stops at the response size limit.

use std::io;
use std::pin::Pin;
use std::sync::{Arc, Mutex, MutexGuard};
use std::task::{Context, Poll};

use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};

#[derive(Default)]
pub(super) struct Log {
    pub(super) sent: Vec<u8>,
    pub(super) received: Vec<u8>,
    pub(super) limit: u64,
}

pub(super) fn lock(log: &Mutex<Log>) -> MutexGuard<'_, Log> {
    log.lock().unwrap_or_else(|p| p.into_inner())
}

pub(super) trait Io: AsyncRead + AsyncWrite + Send + Unpin {}
impl<T: AsyncRead + AsyncWrite + Send + Unpin> Io for T {}

/// A stream that keeps a copy of every byte through it.
pub(super) struct Recorder {
    pub(super) inner: Box<dyn Io>,
    pub(super) log: Arc<Mutex<Log>>,
}

impl AsyncRead for Recorder {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let before = buf.filled().len();
        let polled = Pin::new(&mut self.inner).poll_read(cx, buf);
        if let Poll::Ready(Ok(())) = polled {
            let new = buf.filled().get(before..).unwrap_or_default();
            let mut log = lock(&self.log);
            if (log.received.len() + new.len()) as u64 > log.limit {
                return Poll::Ready(Err(io::Error::other(OVER_LIMIT)));
            }
            log.received.extend_from_slice(new);
        }
        polled
    }
}

pub(super) const OVER_LIMIT: &str = "the response exceeds max_body_bytes";

impl AsyncWrite for Recorder {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        let polled = Pin::new(&mut self.inner).poll_write(cx, buf);
        if let Poll::Ready(Ok(n)) = polled {
            lock(&self.log)
                .sent
                .extend_from_slice(buf.get(..n).unwrap_or_default());
        }
        polled
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_shutdown(cx)
    }
}
