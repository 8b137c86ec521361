//! What a receiver would send for one event, without sending it (`herald route`).

use herald_proto::Event;

use crate::config::ReceiverConfig;
use crate::driver::EncodeError;

/// Renders the request a receiver would make for `ev`, built by the
/// receiver's own request builder (the code its sink runs) and shown by its
/// [`describe`](crate::driver::RequestBuilder::describe): for HTTP receivers the
/// method, URL, headers and body; for line receivers the line. Credentials are
/// shown as `***`.
///
/// # Errors
/// The receiver's layout fails for this event.
pub fn preview(rc: &ReceiverConfig, ev: &Event) -> Result<String, EncodeError> {
    rc.sink.preview(&rc.name, ev)
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
    fn url_credentials_are_masked_in_the_request_line() {
        let r = receivers("- name: hook\n  webhook:\n    endpoint: http://bob:x@host/?token=x\n");
        let p = preview(&r[0], &event()).unwrap();
        assert!(p.starts_with("POST http://***@host/?token=***\n"), "{p}");
        assert!(!p.contains("bob"), "{p}");
    }

    #[test]
    fn stdout_preview_is_the_kee_json() {
        let r = receivers("- name: dump\n  stdout: {}\n");
        let p = preview(&r[0], &event()).unwrap();
        assert!(p.starts_with("{\"metadata\":"), "{p}");
        assert!(p.contains("\"message\":\"a \\u003cb\\u003e\""), "{p}");
        assert!(!p.ends_with('\n'), "{p}");
    }

    #[test]
    fn a_layout_that_fails_for_the_event_is_an_error() {
        let r = receivers("- name: f\n  stdout:\n    layout:\n      x: \"{{ .Name.Missing }}\"\n");
        assert!(preview(&r[0], &event()).is_err());
    }
}
