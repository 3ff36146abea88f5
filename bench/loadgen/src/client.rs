//! One keep-alive HTTP/1.1 connection, no pool: exactly one TCP connection per
//! worker, reopened only after an error or a `Connection: close`.

use anyhow::{anyhow, bail, Result};
use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::client::conn::http1::SendRequest;
use hyper::header::{HeaderName, HeaderValue, CONNECTION, HOST};
use hyper::{Method, Request, Uri};
use hyper_util::rt::TokioIo;
use tokio::net::TcpStream;

/// Where requests go: `host:port` and the path with query.
#[derive(Clone, Debug)]
pub struct Target {
    pub authority: String,
    pub path_and_query: String,
}

impl Target {
    pub fn parse(url: &str) -> Result<Target> {
        let uri: Uri = url.parse().map_err(|e| anyhow!("bad URL {url:?}: {e}"))?;
        if uri.scheme_str() != Some("http") {
            bail!("only http:// URLs are supported: {url}");
        }
        let authority = uri.authority().ok_or_else(|| anyhow!("no host in {url}"))?;
        let port = authority.port_u16().unwrap_or(80);
        let path_and_query =
            uri.path_and_query().map(|p| p.as_str().to_string()).unwrap_or_else(|| "/".into());
        Ok(Target { authority: format!("{}:{port}", authority.host()), path_and_query })
    }
}

pub struct Conn {
    authority: String,
    sender: Option<SendRequest<Full<Bytes>>>,
}

pub struct Response {
    pub status: u16,
    pub body: Bytes,
}

impl Conn {
    pub fn new(authority: &str) -> Conn {
        Conn { authority: authority.to_string(), sender: None }
    }

    async fn connect(&self) -> Result<SendRequest<Full<Bytes>>> {
        let stream = TcpStream::connect(&self.authority).await?;
        stream.set_nodelay(true)?;
        let (sender, connection) =
            hyper::client::conn::http1::handshake(TokioIo::new(stream)).await?;
        tokio::spawn(async move {
            let _ = connection.await;
        });
        Ok(sender)
    }

    /// Sends one request on this connection (opening it if needed) and reads
    /// the whole response body.
    pub async fn send(
        &mut self,
        method: &Method,
        path_and_query: &str,
        headers: &[(HeaderName, HeaderValue)],
        body: Bytes,
    ) -> Result<Response> {
        let result = self.try_send(method, path_and_query, headers, body).await;
        if result.is_err() {
            self.sender = None;
        }
        result
    }

    async fn try_send(
        &mut self,
        method: &Method,
        path_and_query: &str,
        headers: &[(HeaderName, HeaderValue)],
        body: Bytes,
    ) -> Result<Response> {
        if self.sender.as_ref().is_none_or(|s| s.is_closed()) {
            self.sender = Some(self.connect().await?);
        }
        let sender = self.sender.as_mut().expect("connected");
        sender.ready().await?;
        let mut builder = Request::builder()
            .method(method.clone())
            .uri(path_and_query)
            .header(HOST, self.authority.as_str());
        for (k, v) in headers {
            builder = builder.header(k, v);
        }
        let request = builder.body(Full::new(body))?;
        let response = sender.send_request(request).await?;
        let close = response
            .headers()
            .get(CONNECTION)
            .is_some_and(|v| v.as_bytes().eq_ignore_ascii_case(b"close"));
        let status = response.status().as_u16();
        let body = response.into_body().collect().await?.to_bytes();
        if close {
            self.sender = None;
        }
        Ok(Response { status, body })
    }
}

pub fn header(name: &str, value: &str) -> Result<(HeaderName, HeaderValue)> {
    Ok((HeaderName::from_bytes(name.as_bytes())?, HeaderValue::from_str(value)?))
}
