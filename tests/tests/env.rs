//! `Client::from_env` reads the real process environment. This file holds a single
//! test, so no other test of its process reads the environment meanwhile.
#![allow(unsafe_code)]

use runway_api::{API_KEY_ENV, BASE_URL_ENV, Client, ClientInfo, RunwayError};

#[test]
fn from_env_reads_key_and_base_url() {
    // SAFETY: this is the only test in this process, and it runs on one thread.
    unsafe {
        std::env::remove_var(API_KEY_ENV);
        std::env::remove_var(BASE_URL_ENV);
    }
    let err = Client::from_env().expect_err("no key set");
    assert!(matches!(err, RunwayError::Config(_)));
    assert!(err.to_string().contains(API_KEY_ENV));

    unsafe {
        std::env::set_var(API_KEY_ENV, "env-key");
        std::env::set_var(BASE_URL_ENV, "http://127.0.0.1:7777");
    }
    let client = Client::from_env().expect("configured");
    assert_eq!(client.baseurl(), "http://127.0.0.1:7777");
    assert_eq!(
        client.inner().api_key().map(|k| k.expose()),
        Some("env-key")
    );
}
