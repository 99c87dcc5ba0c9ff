//! Network predicates shared by the layers that decide who may be reached or served: the
//! outbound FHIR allow-list (`fhir`), JWKS URLs (`auth`), CORS origins (`web`) and configuration
//! checks. A leaf module: it imports nothing of the crate.

/// Whether a URL's host is a loopback address (`localhost`, 127.0.0.0/8, `[::1]`).
pub fn is_loopback_host(u: &url::Url) -> bool {
    match u.host() {
        Some(url::Host::Domain(d)) => d.eq_ignore_ascii_case("localhost"),
        Some(url::Host::Ipv4(ip)) => ip.is_loopback(),
        Some(url::Host::Ipv6(ip)) => ip.is_loopback(),
        None => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn loopback_hosts_are_localhost_127_and_ipv6_one() {
        for ok in [
            "http://localhost:8080/",
            "http://LOCALHOST/",
            "http://127.0.0.1/",
            "http://127.8.9.10/",
            "http://[::1]:80/",
        ] {
            assert!(is_loopback_host(&url::Url::parse(ok).unwrap()), "{ok}");
        }
        for bad in [
            "http://localhost.example/",
            "http://128.0.0.1/",
            "http://10.0.0.1/",
            "http://[::2]/",
            "file:///etc/passwd",
        ] {
            assert!(!is_loopback_host(&url::Url::parse(bad).unwrap()), "{bad}");
        }
    }
}
