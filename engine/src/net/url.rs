//! `ws://` and `wss://` URLs (RFC 6455 §3).

use std::fmt;

/// A parsed WebSocket URL.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct WsUrl {
    pub secure: bool,
    /// Host as written (an IPv6 literal without brackets).
    pub host: String,
    pub port: u16,
    /// Path and query ("/" when empty).
    pub resource: String,
    original: String,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("bad WebSocket URL {url:?}: {why}")]
pub struct UrlError {
    pub url: String,
    pub why: String,
}

impl WsUrl {
    pub fn parse(s: &str) -> Result<WsUrl, UrlError> {
        let err = |why: &str| UrlError {
            url: s.to_string(),
            why: why.to_string(),
        };
        let u = ::url::Url::parse(s).map_err(|e| err(&e.to_string()))?;
        let secure = match u.scheme() {
            "ws" => false,
            "wss" => true,
            other => return Err(err(&format!("scheme must be ws or wss, not {other}"))),
        };
        // §3: "Fragment identifiers are meaningless in the context of WebSocket URIs and MUST
        // NOT be used on these URIs."
        if u.fragment().is_some() {
            return Err(err("WebSocket URLs must not have a fragment (#...)"));
        }
        let host = match u.host() {
            Some(::url::Host::Ipv6(a)) => a.to_string(),
            Some(h) => h.to_string(),
            None => return Err(err("no host")),
        };
        let port = u.port().unwrap_or(if secure { 443 } else { 80 });
        let mut resource = u.path().to_string();
        if resource.is_empty() {
            resource.push('/');
        }
        if let Some(q) = u.query() {
            resource.push('?');
            resource.push_str(q);
        }
        Ok(WsUrl {
            secure,
            host,
            port,
            resource,
            original: s.to_string(),
        })
    }

    /// Value for the `Host` header: the port only when it is not the scheme's default.
    pub fn host_header(&self) -> String {
        let h = if self.host.contains(':') {
            format!("[{}]", self.host)
        } else {
            self.host.clone()
        };
        let default = if self.secure { 443 } else { 80 };
        if self.port == default {
            h
        } else {
            format!("{h}:{}", self.port)
        }
    }

    /// `host:port` for resolving and binding.
    pub fn authority(&self) -> String {
        if self.host.contains(':') {
            format!("[{}]:{}", self.host, self.port)
        } else {
            format!("{}:{}", self.host, self.port)
        }
    }

    /// The same URL with another resource (path and query).
    pub fn with_resource(&self, resource: &str) -> WsUrl {
        let scheme = if self.secure { "wss" } else { "ws" };
        let original = format!("{scheme}://{}{resource}", self.authority());
        WsUrl {
            resource: resource.to_string(),
            original,
            ..self.clone()
        }
    }

    /// The host as it goes in a URL: an IPv6 literal in brackets.
    pub fn url_host(&self) -> String {
        if self.host.contains(':') {
            format!("[{}]", self.host)
        } else {
            self.host.clone()
        }
    }

    /// The URL a server on this URL's host listens on, with the port it actually bound
    /// (`ws://host:port`, no path): what a server mode prints and tells its clients.
    pub fn server_url(&self, port: u16) -> String {
        let scheme = if self.secure { "wss" } else { "ws" };
        format!("{scheme}://{}:{port}", self.url_host())
    }

    /// The address of a web page served beside it on `port` (`http(s)://host:port/`).
    pub fn page_url(&self, port: u16) -> String {
        let scheme = if self.secure { "https" } else { "http" };
        format!("{scheme}://{}:{port}/", self.url_host())
    }

    pub fn as_str(&self) -> &str {
        &self.original
    }
}

impl fmt::Display for WsUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.original)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses() {
        let u = WsUrl::parse("ws://127.0.0.1:9001").unwrap();
        assert_eq!(
            (u.secure, u.host.as_str(), u.port, u.resource.as_str()),
            (false, "127.0.0.1", 9001, "/")
        );
        assert_eq!(u.host_header(), "127.0.0.1:9001");
        let u = WsUrl::parse("wss://example.com/chat?x=1").unwrap();
        assert_eq!(
            (u.secure, u.port, u.resource.as_str(), u.host_header()),
            (true, 443, "/chat?x=1", "example.com".to_string())
        );
        let u = WsUrl::parse("ws://[::1]:9000/").unwrap();
        assert_eq!(u.authority(), "[::1]:9000");
        assert_eq!(u.server_url(9100), "ws://[::1]:9100");
        assert_eq!(u.page_url(8080), "http://[::1]:8080/");
        let s = WsUrl::parse("wss://example.com:1/x").unwrap();
        assert_eq!(s.server_url(2), "wss://example.com:2");
        assert_eq!(s.page_url(3), "https://example.com:3/");
        assert_eq!(
            u.with_resource("/getCaseCount").to_string(),
            "ws://[::1]:9000/getCaseCount"
        );
    }

    #[test]
    fn errors_name_the_url() {
        for bad in ["http://x", "ws://x/#frag", "localhost:9001", "ws://"] {
            let e = WsUrl::parse(bad).unwrap_err();
            assert!(e.to_string().contains(bad), "{e}");
        }
    }
}
