//! Network predicates shared by the layers that decide who may be reached or served: the
//! outbound FHIR allow-list (`fhir`), JWKS URLs (`auth`), CORS origins (`web`) and configuration
//! checks, and the start-up message of an outbound HTTPS client that cannot be built. A leaf
//! module: it imports nothing of the crate.

/// Whether a URL's host is a loopback address (`localhost`, 127.0.0.0/8, `[::1]`).
pub fn is_loopback_host(u: &url::Url) -> bool {
    match u.host() {
        Some(url::Host::Domain(d)) => d.eq_ignore_ascii_case("localhost"),
        Some(url::Host::Ipv4(ip)) => ip.is_loopback(),
        Some(url::Host::Ipv6(ip)) => ip.is_loopback(),
        None => false,
    }
}

/// The error of an outbound HTTPS client (FHIR servers, JWKS, `check`) that could not be built,
/// with its causes and, when the cause is known, the fix. On a fresh machine the usual cause is
/// that rustls found no CA certificate in the system's store: the service then refuses to start
/// rather than fail every FHIR and JWKS call later.
pub fn client_build_error(what: &str, e: &(dyn std::error::Error + 'static)) -> String {
    let mut text = e.to_string();
    let mut source = e.source();
    while let Some(s) = source {
        let cause = s.to_string();
        if !text.contains(&cause) {
            text.push_str(": ");
            text.push_str(&cause);
        }
        source = s.source();
    }
    let fix = if text.contains("CA certificates") {
        "; no CA certificate was found: install the system's CA bundle (Debian: the \
         `ca-certificates` package) or set SSL_CERT_FILE (a PEM bundle) / SSL_CERT_DIR"
    } else {
        ""
    };
    format!("cannot build the HTTPS client for {what}: {text}{fix}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug)]
    struct Outer(std::io::Error);
    impl std::fmt::Display for Outer {
        fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
            f.write_str("builder error")
        }
    }
    impl std::error::Error for Outer {
        fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
            Some(&self.0)
        }
    }

    #[test]
    fn a_client_error_names_its_causes_and_the_fix_for_missing_ca_certificates() {
        let e = Outer(std::io::Error::other(
            "No CA certificates were loaded from the system",
        ));
        let m = client_build_error("FHIR servers", &e);
        assert!(
            m.starts_with("cannot build the HTTPS client for FHIR servers: builder error: No CA")
        );
        assert!(
            m.contains("ca-certificates") && m.contains("SSL_CERT_FILE"),
            "{m}"
        );
        // Another cause: its text, and no advice about certificates.
        let e = Outer(std::io::Error::other("invalid proxy URL"));
        let m = client_build_error("JWKS", &e);
        assert!(m.ends_with("builder error: invalid proxy URL"), "{m}");
    }

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
