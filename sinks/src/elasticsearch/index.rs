//! The index an event is written to: `index`, or `indexFormat` with a Go
//! time layout between its first `{` and its last `}`.

use chrono::{DateTime, Utc};
use herald_template::{Time, TimeKind};

/// Where documents go.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum IndexName {
    /// The same index for every event.
    Fixed(String),
    /// `prefix` + the time formatted with `layout` + `suffix`.
    Timed {
        /// Text before the first `{`.
        prefix: String,
        /// The Go layout between the first `{` and the last `}`.
        layout: String,
        /// Text after the last `}`.
        suffix: String,
    },
}

/// `indexFormat` has a `{` without a `}` after it.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("`{{` at byte {0} has no closing `}}`")]
pub struct UnclosedBrace(pub usize);

impl IndexName {
    /// Parses `indexFormat` as kubernetes-event-exporter did: everything
    /// between the first `{` and the last `}` is one Go time layout; text
    /// without braces is a fixed name.
    ///
    /// # Errors
    /// A `{` without a `}` after it.
    pub fn parse_format(format: &str) -> Result<IndexName, UnclosedBrace> {
        let Some(open) = format.find('{') else {
            return Ok(IndexName::Fixed(format.to_owned()));
        };
        match format.rfind('}') {
            Some(close) if close > open => Ok(IndexName::Timed {
                prefix: format[..open].to_owned(),
                layout: format[open + 1..close].to_owned(),
                suffix: format[close + 1..].to_owned(),
            }),
            _ => Err(UnclosedBrace(open)),
        }
    }

    /// Returns the index name at time `at` (UTC).
    pub fn render(&self, at: DateTime<Utc>) -> String {
        match self {
            IndexName::Fixed(name) => name.clone(),
            IndexName::Timed {
                prefix,
                layout,
                suffix,
            } => {
                let time = Time::from_chrono(Some(at), TimeKind::Go);
                format!("{prefix}{}{suffix}", time.format(layout))
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    #[test]
    fn go_layouts_between_the_first_and_last_brace() {
        let at = Utc.with_ymd_and_hms(2024, 5, 14, 7, 3, 9).unwrap();
        let f = IndexName::parse_format("kube-events-{2006-01-02}").unwrap();
        assert_eq!(f.render(at), "kube-events-2024-05-14");
        let f = IndexName::parse_format("ev-{2006}-x-{01}").unwrap();
        assert_eq!(f.render(at), "ev-2024}-x-{05");
        let f = IndexName::parse_format("ev-{Jan.2006.15}").unwrap();
        assert_eq!(f.render(at), "ev-May.2024.07");
        assert_eq!(
            IndexName::parse_format("plain").unwrap().render(at),
            "plain"
        );
        assert_eq!(
            IndexName::parse_format("kube-{2006-01-02"),
            Err(UnclosedBrace(5))
        );
    }
}
