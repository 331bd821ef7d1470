//! One exchange as the fetcher makes it: under the whole-fetch timeout,
//! each hop of a redirect chain checked by the guard (or the address policy)
//! before it connects, and the final reply read into a [`Response`] with
//! its body decoded from the capture's own bytes.

use super::{Conditional, FetchError, Fetcher, Response, guard, too_large, wire};
use crate::exchange::encoding;

impl Fetcher {
    /// One exchange and the redirects it answers with, within the timeout.
    ///
    /// Where each hop may connect: a discovered link (`guard`) and all its
    /// hops pass the guard and connect to allowed addresses only; a
    /// configured URL connects as written, and so does a redirect to its
    /// own host, but a redirect to another host connects to allowed
    /// addresses only (an operator's site cannot send the fetcher to a
    /// private address the operator did not write).
    pub(super) async fn exchange(
        &self,
        url: &reqwest::Url,
        cond: &Conditional,
        guard: Option<&guard::Guard>,
    ) -> Result<(String, Response), FetchError> {
        tokio::time::timeout(self.timeout, self.follow(url, cond, guard))
            .await
            .unwrap_or_else(|_| {
                Err(FetchError {
                    class: "timeout",
                    message: format!(
                        "{url}: no complete response within {}",
                        humantime::format_duration(self.timeout)
                    ),
                })
            })
    }

    async fn follow(
        &self,
        url: &reqwest::Url,
        cond: &Conditional,
        guard: Option<&guard::Guard>,
    ) -> Result<(String, Response), FetchError> {
        let headers = self.request_headers(cond);
        let mut current = url.clone();
        for _ in 0..=self.max_redirects {
            // The operator's own host (any scheme or port: http to https
            // included) is theirs; any other host is checked.
            let policy = match guard {
                Some(_) => Some(&self.policy),
                None if current.host_str() == url.host_str() => None,
                None => Some(&self.policy),
            };
            let reply = self
                .client
                .get(&current, &headers, policy, self.max_body_bytes)
                .await
                .map_err(|mut e| {
                    if current != *url {
                        e.message = format!("redirect from {url} to {current}: {}", e.message);
                    }
                    e
                })?;
            let head = reply.head.clone().ok_or_else(|| FetchError {
                class: "request",
                message: format!("{current}: the response head does not parse"),
            })?;
            let location = head.header("location").map(str::to_string);
            let (true, Some(location)) = (
                matches!(reply.status, 301 | 302 | 303 | 307 | 308),
                location,
            ) else {
                return self.read(current.to_string(), head, reply);
            };
            let next = current.join(&location).map_err(|e| FetchError {
                class: "refused",
                message: format!(
                    "{}: redirect from {current} to an invalid location {location:?}: {e}",
                    guard::REFUSED
                ),
            })?;
            if !matches!(next.scheme(), "http" | "https") {
                return Err(FetchError {
                    class: "refused",
                    message: format!(
                        "{}: redirect from {current} to {next}: scheme {} is not fetched",
                        guard::REFUSED,
                        next.scheme()
                    ),
                });
            }
            if let Some(g) = guard {
                g.check(&next).map_err(|why| FetchError {
                    class: "refused",
                    message: format!("redirect from {current}: {why}"),
                })?;
            }
            current = next;
        }
        Err(FetchError {
            class: "redirects",
            message: format!("more than {} redirects from {url}", self.max_redirects),
        })
    }

    /// A response from its reply: the head as captured, the body decoded.
    fn read(
        &self,
        final_url: String,
        head: crate::exchange::Head,
        reply: wire::Reply,
    ) -> Result<(String, Response), FetchError> {
        // What extraction reads is decoded from the capture's own bytes;
        // HTTP parsing read the same bytes, and a disagreement (ambiguous
        // framing) is logged: the capture is the evidence.
        let body = match crate::exchange::entity_body_at(
            &reply.captured.received,
            &head,
            self.max_body_bytes,
        ) {
            Some(b) if b == reply.body => reply.body,
            Some(b) => {
                tracing::warn!(
                    url = %final_url,
                    "the body in the capture ({} bytes) differs from the one HTTP parsing read ({} bytes): the capture's is used",
                    b.len(),
                    reply.body.len()
                );
                b
            }
            None => reply.body,
        };
        let (body, wire) =
            match encoding::decode(head.header("content-encoding"), &body, self.max_body_bytes) {
                Ok(None) => (body, None),
                Ok(Some(decoded)) => (decoded, Some(body)),
                Err(encoding::DecodeError::TooLarge { .. }) => {
                    return Err(too_large(self.max_body_bytes + 1, self.max_body_bytes));
                }
                Err(e) => {
                    return Err(FetchError {
                        class: "content_encoding",
                        message: e.to_string(),
                    });
                }
            };
        Ok((
            final_url,
            Response {
                status: head.status,
                headers: head.headers,
                body: body.into(),
                wire,
                capture: reply.captured,
            },
        ))
    }
}
