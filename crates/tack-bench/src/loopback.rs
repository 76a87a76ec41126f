//! Whether a URL points at this machine: the guard every tool that generates load or traffic
//! (`tack bench`, `tack replay`) passes before it sends anything, unless told
//! `--allow-remote`.

use std::net::{IpAddr, ToSocketAddrs};
use url::Url;

/// True when every address `url`'s host names is a loopback address. A name is resolved, and
/// counts only if all it resolves to is loopback, so `localhost` passes and a name that also
/// resolves elsewhere does not. A URL without a host is not loopback.
pub fn is_loopback(url: &Url) -> bool {
    let Some(host) = url.host_str() else {
        return false;
    };
    let port = url.port_or_known_default().unwrap_or(80);
    let host_only = host.trim_start_matches('[').trim_end_matches(']');
    match host_only.parse::<IpAddr>() {
        Ok(ip) => ip.is_loopback(),
        Err(_) => (host_only, port)
            .to_socket_addrs()
            .map(|addrs| {
                let addrs: Vec<_> = addrs.collect();
                // A name that resolves to nothing is not known to be here.
                !addrs.is_empty() && addrs.iter().all(|a| a.ip().is_loopback())
            })
            .unwrap_or(false),
    }
}

#[cfg(test)]
mod tests {
    use super::is_loopback;
    use url::Url;

    fn check(url: &str) -> bool {
        is_loopback(&Url::parse(url).unwrap())
    }

    #[test]
    fn this_machine_passes_and_others_do_not() {
        assert!(check("http://127.0.0.1:7998"));
        assert!(check("http://127.8.9.10/"));
        assert!(check("ws://[::1]:7999/"));
        assert!(check("http://localhost:7998"));
        assert!(!check("http://10.0.0.1:7998"));
        assert!(!check("https://192.168.1.5/"));
        assert!(!check("http://[2001:db8::1]/"));
        assert!(!check("http://name-that-does-not-resolve.invalid/"));
    }
}
