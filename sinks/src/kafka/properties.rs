//! The librdkafka configuration of a kafka receiver: what each KEE key and
//! herald key becomes, then the `properties` passthrough, applied last.
//!
//! | key | librdkafka |
//! |---|---|
//! | `brokers` | `bootstrap.servers` |
//! | `clientId` | `client.id` |
//! | `compressionCodec` | `compression.codec` |
//! | `version` | `broker.version.fallback` (and `api.version.request=false` below 0.10.0) |
//! | `tls` | `security.protocol` `ssl`/`sasl_ssl`, `ssl.ca.location`, `ssl.certificate.location`, `ssl.key.location`; `insecureSkipVerify`: `enable.ssl.certificate.verification=false`, `ssl.endpoint.identification.algorithm=none` |
//! | `sasl` | `security.protocol` `sasl_plaintext`/`sasl_ssl`, `sasl.mechanisms`, `sasl.username`, `sasl.password` |
//! | `partitioner` (a librdkafka one) | `partitioner` |
//!
//! herald always sets `enable.idempotence=true` and `acks=all` (KEE's sarama
//! waited for the leader only), and `message.timeout.ms` to 90 % of the
//! receiver's `delivery.timeout`, so librdkafka reports every record before
//! the driver gives up on the request. librdkafka's own retries stay on
//! inside that window: they are the ones idempotence makes safe (the broker
//! drops a resent batch it already has). After it, the driver's backoff
//! takes over.

use std::time::Duration;

use herald_config::Secret;
use rdkafka::ClientConfig;

use super::config::{KafkaConfig, PartitionerChoice};

/// Whether a librdkafka property holds a credential.
pub fn is_secret_property(name: &str) -> bool {
    let n = name.to_ascii_lowercase();
    n.contains("password") || n.contains("secret") || n.ends_with(".key.pem") || n.contains("token")
}

/// Every property herald sets for `config`, in order (later ones win);
/// `timeout` is the receiver's `delivery.timeout` (`None`: librdkafka's
/// default message timeout).
pub fn librdkafka_properties(
    config: &KafkaConfig,
    timeout: Option<Duration>,
) -> Vec<(String, Secret<String>)> {
    let mut p: Vec<(String, Secret<String>)> = Vec::new();
    let mut set = |k: &str, v: String| p.push((k.to_owned(), Secret::new(v)));
    set("bootstrap.servers", config.brokers.join(","));
    set("client.id", config.client_id.clone());
    set("compression.codec", config.compression.clone());
    set("enable.idempotence", "true".into());
    set("acks", "all".into());
    if let Some(t) = timeout {
        let ms = (t.as_millis() * 9 / 10).max(1000);
        set("message.timeout.ms", ms.to_string());
    }
    if let Some(v) = &config.version {
        set("broker.version.fallback", v.clone());
        if older_than_0_10(v) {
            set("api.version.request", "false".into());
        }
    }
    let protocol = match (&config.tls, &config.sasl) {
        (None, None) => "plaintext",
        (Some(_), None) => "ssl",
        (None, Some(_)) => "sasl_plaintext",
        (Some(_), Some(_)) => "sasl_ssl",
    };
    set("security.protocol", protocol.into());
    if let Some(tls) = &config.tls {
        set("ssl.ca.location", tls.ca_file.clone());
        if let (Some(cert), Some(key)) = (&tls.cert_file, &tls.key_file) {
            set("ssl.certificate.location", cert.clone());
            set("ssl.key.location", key.clone());
        }
        if tls.insecure_skip_verify {
            set("enable.ssl.certificate.verification", "false".into());
            set("ssl.endpoint.identification.algorithm", "none".into());
        }
    }
    if let Some(sasl) = &config.sasl {
        set("sasl.mechanisms", sasl.mechanism.librdkafka_name().into());
        set("sasl.username", sasl.username.clone());
        set("sasl.password", sasl.password.expose().clone());
    }
    if let PartitionerChoice::Librdkafka(name) = &config.partitioner {
        set("partitioner", name.clone());
    }
    for (k, v) in &config.properties {
        p.push((k.clone(), v.clone()));
    }
    p
}

/// `version` below 0.10.0: brokers that cannot announce their versions.
fn older_than_0_10(version: &str) -> bool {
    let mut parts = version.split('.').map(|p| p.parse::<u32>().unwrap_or(0));
    let (major, minor) = (parts.next().unwrap_or(0), parts.next().unwrap_or(0));
    major == 0 && minor < 10
}

/// Builds the rdkafka configuration.
pub fn client_config(props: &[(String, Secret<String>)]) -> ClientConfig {
    let mut c = ClientConfig::new();
    for (k, v) in props {
        c.set(k.as_str(), v.expose().as_str());
    }
    c
}

/// Lets librdkafka check every name and value, without connecting.
///
/// # Errors
/// librdkafka's message, with the values of secret properties replaced by
/// `***`.
pub fn check_properties(props: &[(String, Secret<String>)]) -> Result<(), String> {
    match client_config(props).create_native_config() {
        Ok(_) => Ok(()),
        Err(e) => Err(redact(&e.to_string(), props)),
    }
}

/// Replaces the values of secret properties in `message` by `***`.
pub fn redact(message: &str, props: &[(String, Secret<String>)]) -> String {
    let mut out = message.to_owned();
    for (k, v) in props {
        if is_secret_property(k) && !v.expose().is_empty() {
            out = out.replace(v.expose().as_str(), "***");
        }
    }
    out
}

/// The properties as `herald route` shows them: secrets as `***`.
pub fn describe(props: &[(String, Secret<String>)]) -> String {
    props
        .iter()
        .map(|(k, v)| {
            if is_secret_property(k) {
                format!("{k}=***")
            } else {
                format!("{k}={}", v.expose())
            }
        })
        .collect::<Vec<_>>()
        .join("\n")
}
