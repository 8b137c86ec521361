//! `opscenter:` settings: `title`, `description`, `source`, `category`,
//! `severity`, `priority`, `operationalData`, `tags`, `relatedOpsItems`,
//! `notifications`, `region` (as kubernetes-event-exporter had them) and
//! herald's `endpoint`.

use async_trait::async_trait;
use herald_config::{
    DecodeOptions, Diagnostics, Located, Node, child_path, decode_with, index_path,
};
use serde::Deserialize;

use super::{OpsCenterBuilder, OpsCenterSink};
use crate::aws::fields::Field;
use crate::aws::{AwsError, AwsSettings};
use crate::driver::BatchSettings;
use crate::registry::{BuildContext, SinkType};

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct RawOpsCenterConfig {
    #[serde(default)]
    title: Option<Located<String>>,
    #[serde(default)]
    description: Option<Located<String>>,
    #[serde(default)]
    source: Option<Located<String>>,
    #[serde(default)]
    category: Option<Located<String>>,
    #[serde(default)]
    severity: Option<Located<String>>,
    #[serde(default)]
    priority: Option<Located<String>>,
    #[serde(default)]
    operational_data: Option<Node>,
    #[serde(default)]
    tags: Option<Node>,
    #[serde(default)]
    related_ops_items: Option<Node>,
    #[serde(default)]
    notifications: Option<Node>,
    #[serde(default)]
    region: Option<Located<String>>,
    #[serde(default)]
    endpoint: Option<Located<String>>,
}

/// An `opscenter:` receiver.
#[derive(Debug, Clone)]
pub struct OpsCenterConfig {
    /// `Title`.
    pub title: Field,
    /// `Description`.
    pub description: Field,
    /// `Source`.
    pub source: Field,
    /// `Category`.
    pub category: Option<Field>,
    /// `Severity`.
    pub severity: Option<Field>,
    /// `Priority`: must render to an integer.
    pub priority: Option<Field>,
    /// `OperationalData` (each a `SearchableString`), by key.
    pub operational_data: Vec<(String, Field)>,
    /// `Tags`, by key.
    pub tags: Vec<(String, Field)>,
    /// `RelatedOpsItems`: OpsItem ids.
    pub related_ops_items: Vec<String>,
    /// `Notifications`: SNS topic ARNs.
    pub notifications: Vec<Field>,
    /// Region and endpoint.
    pub aws: AwsSettings,
}

impl OpsCenterConfig {
    fn from_node(node: &Node, path: &str, diags: &mut Diagnostics) -> Option<Self> {
        let options = DecodeOptions {
            path,
            strict_types: &[],
        };
        let raw: RawOpsCenterConfig = decode_with(node, &options, diags)?;
        let before = diags.error_count();
        let mut required = |v: Option<&Located<String>>, key: &'static str| match v
            .filter(|v| !v.value.trim().is_empty())
        {
            Some(v) => Field::parse(key, v, diags),
            None => {
                diags
                    .error(node.loc, format!("opscenter needs `{key}`"))
                    .with_path(path)
                    .with_hint(format!("CreateOpsItem refuses an OpsItem without a {key}; set `{key}:` (a template)"));
                None
            }
        };
        let title = required(raw.title.as_ref(), "title");
        let description = required(raw.description.as_ref(), "description");
        let source = required(raw.source.as_ref(), "source");
        let optional = |v: Option<&Located<String>>, key: &'static str, diags: &mut Diagnostics| {
            v.filter(|v| !v.value.trim().is_empty())
                .and_then(|v| Field::parse(key, v, diags))
        };
        let category = optional(raw.category.as_ref(), "category", diags);
        let severity = optional(raw.severity.as_ref(), "severity", diags);
        let priority = optional(raw.priority.as_ref(), "priority", diags);
        let operational_data = raw
            .operational_data
            .as_ref()
            .map(|n| template_map(n, "operationalData", &child_path(path, "operationalData"), diags))
            .unwrap_or_default();
        let tags = raw
            .tags
            .as_ref()
            .map(|n| template_map(n, "tags", &child_path(path, "tags"), diags))
            .unwrap_or_default();
        let related_ops_items = raw
            .related_ops_items
            .as_ref()
            .map(|n| string_list(n, &child_path(path, "relatedOpsItems"), diags))
            .unwrap_or_default()
            .into_iter()
            .map(|s| s.value)
            .collect();
        let notifications = raw
            .notifications
            .as_ref()
            .map(|n| string_list(n, &child_path(path, "notifications"), diags))
            .unwrap_or_default()
            .iter()
            .filter_map(|s| Field::parse("notifications", s, diags))
            .collect();
        let aws = AwsSettings::decode(raw.region.as_ref(), raw.endpoint.as_ref(), diags);
        if diags.error_count() > before {
            return None;
        }
        Some(OpsCenterConfig {
            title: title?,
            description: description?,
            source: source?,
            category,
            severity,
            priority,
            operational_data,
            tags,
            related_ops_items,
            notifications,
            aws: aws?,
        })
    }
}

/// A mapping of keys to templates (`operationalData`, `tags`).
fn template_map(
    node: &Node,
    key: &'static str,
    path: &str,
    diags: &mut Diagnostics,
) -> Vec<(String, Field)> {
    if node.is_null() {
        return Vec::new();
    }
    let Some(entries) = node.as_map() else {
        diags
            .error(node.loc, format!("expected a mapping for `{key}`, found {}", node.describe()))
            .with_path(path)
            .with_hint(format!(
                "write `{key}:` as `name: value` lines, such as `Reason: \"{{{{ .Reason }}}}\"` (not a list)"
            ));
        return Vec::new();
    };
    let mut out = Vec::new();
    for (k, v) in entries {
        let value_path = child_path(path, &k.name);
        let Some(text) = v.scalar_text() else {
            diags
                .error(v.loc, format!("expected a text value, found {}", v.describe()))
                .with_path(&value_path);
            continue;
        };
        let mut located = Located::unlocated(text.into_owned());
        located.location = v.loc;
        located.path = value_path;
        if let Some(f) = Field::parse(key, &located, diags) {
            out.push((k.name.clone(), f));
        }
    }
    out
}

/// A list of strings (`relatedOpsItems`, `notifications`).
fn string_list(node: &Node, path: &str, diags: &mut Diagnostics) -> Vec<Located<String>> {
    if node.is_null() {
        return Vec::new();
    }
    let Some(items) = node.as_seq() else {
        diags
            .error(node.loc, format!("expected a list, found {}", node.describe()))
            .with_path(path)
            .with_hint("write one `- value` line per entry");
        return Vec::new();
    };
    let mut out = Vec::new();
    for (i, item) in items.iter().enumerate() {
        match item.scalar_text() {
            Some(text) => {
                let mut located = Located::unlocated(text.into_owned());
                located.location = item.loc;
                located.path = index_path(path, i);
                out.push(located);
            }
            None => {
                diags
                    .error(item.loc, format!("expected a text value, found {}", item.describe()))
                    .with_path(index_path(path, i));
            }
        }
    }
    out
}

#[async_trait]
impl SinkType for OpsCenterConfig {
    const NAME: &'static str = "opscenter";
    /// One `CreateOpsItem` per event (the API has no batch form).
    const BATCH_DEFAULTS: BatchSettings = BatchSettings::SINGLE;
    type Sink = OpsCenterSink;
    type BuildError = AwsError;

    fn decode(node: &Node, path: &str, diags: &mut Diagnostics) -> Option<Self> {
        OpsCenterConfig::from_node(node, path, diags)
    }

    fn request_builder(&self, _name: &str) -> OpsCenterBuilder {
        OpsCenterBuilder::new(self)
    }

    async fn build(&self, cx: &mut BuildContext<'_>) -> Result<OpsCenterSink, AwsError> {
        let sdk = crate::aws::load(&self.aws).await?;
        OpsCenterSink::new(self, &sdk, cx.settings.timeout)
    }
}
