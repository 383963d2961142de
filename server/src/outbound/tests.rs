use super::*;

fn guard(allow: &str) -> Guard {
    Guard::new(allow.parse().unwrap())
}

fn url(text: &str) -> reqwest::Url {
    reqwest::Url::parse(text).unwrap()
}

#[test]
fn the_allow_list_takes_ranges_addresses_and_host_names() {
    let allow: Allow = " 127.0.0.1/32, 10.1.2.3/8,::1 ,internal.Example., "
        .parse()
        .unwrap();
    assert_eq!(
        allow.to_string(),
        "127.0.0.1/32,10.0.0.0/8,::1/128,internal.example"
    );
    assert!(allow.contains("10.200.0.1".parse().unwrap()));
    assert!(allow.contains("::ffff:127.0.0.1".parse().unwrap()));
    assert!(!allow.contains("127.0.0.2".parse().unwrap()));
    assert!(allow.names("INTERNAL.example"));
    assert!(!allow.names("other.example"));
    assert_eq!("".parse::<Allow>().unwrap(), Allow::default());
    for bad in ["10.0.0.0/33", "http://x", "a b", "2130706433", "0x7f.1"] {
        let err = bad.parse::<Allow>().unwrap_err();
        assert!(err.contains(&format!("`{bad}`")), "{bad}: {err}");
    }
}

#[test]
fn addresses_in_urls_are_refused_by_class() {
    let g = guard("");
    for (text, want) in [
        (
            "http://169.254.169.254/latest/meta-data/",
            "refused: 169.254.169.254 is a link-local address (cloud metadata); allow it with TRELLIS_OUTBOUND_ALLOW",
        ),
        ("http://127.0.0.1:8080/x", "127.0.0.1 is a loopback address"),
        ("http://[::1]/", "::1 is a loopback address"),
        (
            "http://[::ffff:127.0.0.1]/",
            "::ffff:127.0.0.1 is an IPv4-mapped loopback address",
        ),
        ("http://10.0.0.5/", "10.0.0.5 is a private address"),
        ("http://[fd12::1]/", "fd12::1 is a unique-local address"),
        ("http://0.0.0.0:22/", "0.0.0.0 is an unspecified address"),
        // The URL parser reads these spellings as 127.0.0.1.
        ("http://2130706433/", "127.0.0.1 is a loopback address"),
        ("http://0177.0.0.1/", "127.0.0.1 is a loopback address"),
        ("http://0x7f.1/", "127.0.0.1 is a loopback address"),
        ("http://127.1/", "127.0.0.1 is a loopback address"),
        ("http://%31%32%37.0.0.1/", "127.0.0.1 is a loopback address"),
        ("http://0xa9.0xfe.0xa9.0xfe/", "169.254.169.254 is a link-local"),
        ("ftp://example.com/x", "is not an http(s) URL"),
    ] {
        let err = g.check_url(&url(text)).unwrap_err().to_string();
        assert!(err.contains(want), "{text}: {err}");
    }
    assert!(g.check_url(&url("https://example.com/a.csv")).is_ok());
    assert!(g.check_url(&url("http://93.184.215.14/a.csv")).is_ok());
}

#[test]
fn allowed_ranges_pass_and_nothing_else() {
    let g = guard("127.0.0.1/32");
    assert!(g.check_url(&url("http://127.0.0.1:9/")).is_ok());
    assert!(g.check_url(&url("http://[::ffff:127.0.0.1]:9/")).is_ok());
    assert!(g.check_url(&url("http://127.0.0.2:9/")).is_err());
    assert!(g.check_url(&url("http://[::1]:9/")).is_err());
    assert!(g.check_url(&url("http://169.254.169.254/")).is_err());
}

#[test]
fn numeric_looking_host_names_are_refused() {
    for host in ["2130706433", "0x7f", "1.2.3.4.5", "a.0x10", "a.10."] {
        assert!(numeric_looking(host), "{host}");
    }
    for host in ["example.com", "1.example", "0xfoo.com", "x0x7f"] {
        assert!(!numeric_looking(host), "{host}");
    }
}

#[tokio::test]
async fn names_are_resolved_once_and_every_address_checked() {
    let err = guard("")
        .resolve("localhost")
        .await
        .unwrap_err()
        .to_string();
    assert!(
        err.starts_with("refused: `localhost` resolves to ") && err.contains("a loopback address"),
        "{err}"
    );
    let got = guard("127.0.0.1/32,::1/128")
        .resolve("localhost")
        .await
        .unwrap();
    assert!(got.iter().all(|a| a.is_loopback()), "{got:?}");
    let by_name = guard("localhost").resolve("localhost").await.unwrap();
    assert!(!by_name.is_empty());
    let err = guard("").resolve("0x7f.1").await.unwrap_err().to_string();
    assert!(err.contains("unusual spelling"), "{err}");
    let err = guard("")
        .check_reachable("http://localhost:1/")
        .await
        .unwrap_err();
    assert!(
        matches!(
            err,
            Refusal::Address {
                class: Class::Loopback,
                ..
            }
        ),
        "{err}"
    );
    // A host that does not resolve is checked again at use.
    assert!(guard("")
        .check_reachable("http://does-not-exist.invalid/")
        .await
        .is_ok());
}
