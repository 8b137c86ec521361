//! What a receiver would send for one event, without sending it (`herald route`).

use herald_proto::Event;

use crate::config::{ReceiverConfig, SinkConfig};
use crate::driver::{AckRef, Delivery, EncodeError};
use crate::util::payload::PayloadEncoder;

/// Renders the request a receiver would make for `ev`: the payload (layout or
/// kubernetes-event-exporter JSON) and, for webhooks, the method, URL and headers.
/// Credential headers are shown as `***`.
///
/// # Errors
/// The receiver's layout or a header template fails for this event.
pub fn preview(rc: &ReceiverConfig, ev: &Event) -> Result<String, EncodeError> {
    let d = Delivery::from_event(ev.clone(), AckRef::detached());
    let (layout, dedot) = match &rc.sink {
        SinkConfig::Stdout(c) => (c.layout.clone(), c.de_dot),
        SinkConfig::File(c) => (c.layout.clone(), c.de_dot),
        SinkConfig::Pipe(c) => (c.layout.clone(), c.de_dot),
        SinkConfig::Webhook(c) => (c.layout.clone(), false),
        SinkConfig::InMemory(_) => (None, false),
    };
    let mut body = Vec::new();
    PayloadEncoder::new(layout, dedot).encode(&d, &mut body)?;
    let body = String::from_utf8_lossy(&body).into_owned();
    let SinkConfig::Webhook(w) = &rc.sink else {
        return Ok(body);
    };
    let mut out = format!("POST {}\nContent-Type: application/json\n", w.endpoint);
    for h in &w.headers {
        let value = if h.sensitive {
            "***".to_owned()
        } else {
            match &h.template {
                Some(t) => t
                    .render(d.value())
                    .map_err(|e| EncodeError::Template(e.to_string()))?,
                None => h.raw.expose().clone(),
            }
        };
        let name = crate::util::http::canonical_header_name(h.name.as_str());
        out.push_str(&format!("{name}: {value}\n"));
    }
    out.push('\n');
    out.push_str(&body);
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use herald_config::Diagnostics;

    fn receivers(yaml: &str) -> Vec<ReceiverConfig> {
        let source = std::sync::Arc::new(herald_config::SourceFile::new("c.yaml", yaml));
        let mut d = Diagnostics::for_source(source.clone());
        let node = herald_config::yaml::parse(&source, &mut d).unwrap();
        let r = crate::parse_receivers(&node, &mut d);
        assert!(!d.has_errors(), "{d}");
        r
    }

    fn event() -> Event {
        Event {
            reason: "BackOff".into(),
            message: "a <b>".into(),
            involved_object: herald_proto::InvolvedObject {
                name: "web-1".into(),
                ..Default::default()
            },
            metadata: herald_proto::ObjectMeta {
                uid: "u".into(),
                ..Default::default()
            },
            ..Default::default()
        }
    }

    #[test]
    fn webhook_preview_shows_request_and_hides_credentials() {
        let r = receivers(
            "- name: hook\n  webhook:\n    endpoint: http://example.test/in\n    headers:\n      X-Object: \"{{ .InvolvedObject.Name }}\"\n      Authorization: \"Bearer s3cret\"\n    layout:\n      reason: \"{{ .Reason }}\"\n      n: 3\n",
        );
        let p = preview(&r[0], &event()).unwrap();
        assert!(p.starts_with("POST http://example.test/in\n"), "{p}");
        assert!(p.contains("X-Object: web-1\n"), "{p}");
        assert!(p.contains("Authorization: ***\n"), "{p}");
        assert!(!p.contains("s3cret"), "{p}");
        assert!(p.ends_with("{\"n\":3,\"reason\":\"BackOff\"}"), "{p}");
    }

    #[test]
    fn stdout_preview_is_the_kee_json() {
        let r = receivers("- name: dump\n  stdout: {}\n");
        let p = preview(&r[0], &event()).unwrap();
        assert!(p.starts_with("{\"metadata\":"), "{p}");
        assert!(p.contains("\"message\":\"a \\u003cb\\u003e\""), "{p}");
    }
}
