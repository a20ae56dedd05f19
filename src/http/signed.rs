//! PUTs to a pre-signed URL (clevertap's catalog file upload): the URL carries its own
//! signature, so no credentials go with it, and its query (the signature) is never logged.
//! A part of a file is streamed from disk with an exact length: signed URLs of object
//! stores refuse chunked bodies, and a part may be far larger than catops holds in memory.

use std::io::{Read, Seek, SeekFrom};
use std::path::PathBuf;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use bytes::Bytes;
use http_body::{Frame, SizeHint};
use reqwest::header::CONTENT_TYPE;
use reqwest::{Method, StatusCode, Url};
use tokio::sync::mpsc;

use super::auth::is_loopback;
use super::body::MAX_ERROR_BYTES;
use super::retry::retry_after;
use super::{read_bounded, ApiError, Http};

/// A byte range of a file: the body of one PUT.
#[derive(Clone, Debug)]
pub struct FilePart {
    pub path: PathBuf,
    pub offset: u64,
    pub len: u64,
}

/// How much of a part is read ahead of the network.
const FRAME_BYTES: usize = 256 * 1024;
const FRAMES_AHEAD: usize = 4;

/// A part read by a blocking task into a small channel, so memory stays at a few frames.
struct PartBody {
    frames: mpsc::Receiver<std::io::Result<Bytes>>,
    left: u64,
}

impl http_body::Body for PartBody {
    type Data = Bytes;
    type Error = std::io::Error;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, std::io::Error>>> {
        match self.frames.poll_recv(cx) {
            Poll::Ready(Some(Ok(bytes))) => {
                self.left = self.left.saturating_sub(bytes.len() as u64);
                Poll::Ready(Some(Ok(Frame::data(bytes))))
            }
            Poll::Ready(Some(Err(err))) => Poll::Ready(Some(Err(err))),
            Poll::Ready(None) => Poll::Ready(None),
            Poll::Pending => Poll::Pending,
        }
    }

    /// Exact, so the request carries Content-Length rather than chunks.
    fn size_hint(&self) -> SizeHint {
        SizeHint::with_exact(self.left)
    }

    fn is_end_stream(&self) -> bool {
        self.left == 0
    }
}

fn part_body(part: FilePart) -> PartBody {
    let (tx, frames) = mpsc::channel(FRAMES_AHEAD);
    let left = part.len;
    tokio::task::spawn_blocking(move || {
        let read = || -> std::io::Result<()> {
            let mut file = std::fs::File::open(&part.path)?;
            file.seek(SeekFrom::Start(part.offset))?;
            let mut left = part.len;
            while left > 0 {
                let mut buffer = vec![0; FRAME_BYTES.min(left as usize)];
                let n = file.read(&mut buffer)?;
                if n == 0 {
                    // The file shrank since it was measured: the part cannot be whole.
                    return Err(std::io::ErrorKind::UnexpectedEof.into());
                }
                buffer.truncate(n);
                left -= n as u64;
                if tx.blocking_send(Ok(Bytes::from(buffer))).is_err() {
                    return Ok(());
                }
            }
            Ok(())
        };
        if let Err(err) = read() {
            let _ = tx.blocking_send(Err(err));
        }
    });
    PartBody { frames, left }
}

impl Http {
    /// PUTs `part` to a signed URL, retrying connection errors, 429 and 5xx (a part sent
    /// again replaces itself). Plain HTTP only to loopback, as for base URLs (SPEC §7).
    pub async fn put_signed(
        &self,
        url: &str,
        part: &FilePart,
        content_type: &str,
    ) -> Result<(), ApiError> {
        let method = Method::PUT;
        let url = Url::parse(url)
            .map_err(|_| self.refused(&method, "(signed URL)", "the signed URL is not a URL"))?;
        let mut shown = url.clone();
        shown.set_query(None);
        let path = shown.to_string();
        if !(url.scheme() == "https" || (url.scheme() == "http" && is_loopback(&url))) {
            let why = "the signed URL is not https (plain HTTP is for loopback only)";
            return Err(self.refused(&method, &path, why));
        }
        // A part may be large: a second per MiB on top of --timeout.
        let timeout = self.settings.timeout + Duration::from_secs(part.len >> 20);
        let mut attempt = 0u32;
        loop {
            let started = Instant::now();
            let sent = self
                .client
                .put(url.clone())
                .header(CONTENT_TYPE, content_type)
                .timeout(timeout)
                .body(reqwest::Body::wrap(part_body(part.clone())))
                .send()
                .await;
            let retries_left = attempt < self.settings.max_retries;
            let (after, why) = match sent {
                Ok(response) => {
                    let status = response.status();
                    let after = retry_after(response.headers());
                    let body = read_bounded(response, MAX_ERROR_BYTES)
                        .await
                        .map(|(bytes, _)| bytes)
                        .unwrap_or_default();
                    self.log_response(&method, &shown, Some(status), started.elapsed(), None);
                    if status.is_success() {
                        return Ok(());
                    }
                    let retryable =
                        status == StatusCode::TOO_MANY_REQUESTS || status.is_server_error();
                    if !(retryable && retries_left) {
                        let retried = super::Retried {
                            times: attempt,
                            idempotent: true,
                        };
                        return Err(self.status_error(&method, &path, status, &body, retried));
                    }
                    (after, status.to_string())
                }
                Err(err) => {
                    self.log_response(&method, &shown, None, started.elapsed(), None);
                    if !retries_left {
                        return Err(self.transport_error(&method, &path, &err));
                    }
                    (None, super::transport_reason(&err, &self.settings))
                }
            };
            if !self.wait_before_retry(attempt, after, &why).await {
                return Err(self.interrupted(&method, &path));
            }
            attempt += 1;
        }
    }
}
