//! The `CreateOpsItem` request builder and the sink that sends it.

use std::time::Duration;

use async_trait::async_trait;
use aws_config::SdkConfig;
use serde_json::{Map, Value, json};

use super::call::{SsmCaller, endpoint};
use super::{OpsCenterConfig, TARGET};
use crate::aws::AwsError;
use crate::aws::batch::send_chunked;
use crate::aws::fields::Field;
use crate::driver::{
    Delivery, EncodeError, ItemOutcome, RequestBuilder, SendError, SendOutcome, Sink,
};

/// The operational data key OpsCenter deduplicates OpsItems by.
pub const DEDUP_KEY: &str = "/aws/dedup";

/// The `CreateOpsItem` bodies of one request, one per event.
#[derive(Debug, Clone)]
pub struct OpsCenterRequest {
    /// JSON bodies, in queue order.
    pub items: Vec<Vec<u8>>,
}

/// Turns events into `CreateOpsItem` bodies.
#[derive(Debug, Clone)]
pub struct OpsCenterBuilder {
    config: OpsCenterConfig,
}

impl OpsCenterBuilder {
    /// Creates the request builder of a receiver.
    pub fn new(config: &OpsCenterConfig) -> OpsCenterBuilder {
        OpsCenterBuilder {
            config: config.clone(),
        }
    }
}

fn render_opt(field: Option<&Field>, d: &Delivery) -> Result<Option<String>, EncodeError> {
    field
        .map(|f| f.render(d))
        .transpose()
        .map(|v| v.filter(|s| !s.is_empty()))
}

impl RequestBuilder for OpsCenterBuilder {
    type Item = Vec<u8>;
    type Request = OpsCenterRequest;

    fn encode(&self, d: &Delivery) -> Result<Vec<u8>, EncodeError> {
        let c = &self.config;
        let mut body = Map::new();
        body.insert("Title".into(), c.title.render(d)?.into());
        body.insert("Description".into(), c.description.render(d)?.into());
        body.insert("Source".into(), c.source.render(d)?.into());
        if let Some(v) = render_opt(c.category.as_ref(), d)? {
            body.insert("Category".into(), v.into());
        }
        if let Some(v) = render_opt(c.severity.as_ref(), d)? {
            body.insert("Severity".into(), v.into());
        }
        if let Some(v) = render_opt(c.priority.as_ref(), d)? {
            let priority: i64 = v.trim().parse().map_err(|_| {
                EncodeError::Invalid(format!("`priority` rendered `{v}`, which is not an integer"))
            })?;
            body.insert("Priority".into(), priority.into());
        }
        let mut data = Map::new();
        data.insert(
            DEDUP_KEY.into(),
            json!({
                "Value": json!({"dedupString": d.event.idempotency_key()}).to_string(),
                "Type": "SearchableString"
            }),
        );
        for (key, field) in &c.operational_data {
            data.insert(
                key.clone(),
                json!({"Value": field.render(d)?, "Type": "SearchableString"}),
            );
        }
        body.insert("OperationalData".into(), Value::Object(data));
        if !c.tags.is_empty() {
            let tags = c
                .tags
                .iter()
                .map(|(k, f)| Ok(json!({"Key": k, "Value": f.render(d)?})))
                .collect::<Result<Vec<_>, EncodeError>>()?;
            body.insert("Tags".into(), Value::Array(tags));
        }
        if !c.related_ops_items.is_empty() {
            let related = c
                .related_ops_items
                .iter()
                .map(|id| json!({"OpsItemId": id}))
                .collect();
            body.insert("RelatedOpsItems".into(), Value::Array(related));
        }
        if !c.notifications.is_empty() {
            let arns = c
                .notifications
                .iter()
                .map(|f| Ok(json!({"Arn": f.render(d)?})))
                .collect::<Result<Vec<_>, EncodeError>>()?;
            body.insert("Notifications".into(), Value::Array(arns));
        }
        serde_json::to_vec(&Value::Object(body))
            .map_err(|e| EncodeError::Invalid(format!("cannot encode the OpsItem: {e}")))
    }

    fn item_size(&self, item: &Vec<u8>) -> usize {
        item.len()
    }

    fn build_request(&self, items: &[Vec<u8>]) -> OpsCenterRequest {
        OpsCenterRequest {
            items: items.to_vec(),
        }
    }

    fn describe(&self, request: &OpsCenterRequest) -> String {
        let mut out = String::new();
        for item in &request.items {
            out.push_str(&format!(
                "POST / (SSM, X-Amz-Target: {TARGET}, SigV4-signed)\n{}\n",
                String::from_utf8_lossy(item)
            ));
        }
        out
    }
}

/// Creates OpsItems.
pub struct OpsCenterSink {
    builder: OpsCenterBuilder,
    caller: SsmCaller,
}

impl OpsCenterSink {
    /// Creates the sink with the loaded SDK configuration (for the region
    /// and the credential chain) and the receiver's request `timeout`.
    ///
    /// # Errors
    /// No region, or no usable SSM endpoint.
    pub fn new(
        config: &OpsCenterConfig,
        sdk: &SdkConfig,
        timeout: Duration,
    ) -> Result<OpsCenterSink, AwsError> {
        let region = sdk
            .region()
            .map(|r| r.as_ref().to_owned())
            .ok_or(AwsError::NoRegion)?;
        let url = endpoint(config.aws.endpoint.as_ref(), sdk, &region).ok_or(AwsError::NoRegion)?;
        let client = reqwest::Client::builder()
            .timeout(timeout)
            .connect_timeout(timeout)
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .map_err(|e| AwsError::Client(e.to_string()))?;
        Ok(OpsCenterSink {
            builder: OpsCenterBuilder::new(config),
            caller: SsmCaller::new(client, url, region, sdk),
        })
    }

    /// Where OpsItems are created.
    pub fn url(&self) -> &reqwest::Url {
        self.caller.url()
    }

    async fn create(&self, item: &[Vec<u8>]) -> Result<Vec<ItemOutcome>, SendError> {
        for body in item {
            self.caller.create_ops_item(body).await?;
        }
        Ok(vec![ItemOutcome::Delivered; item.len()])
    }
}

#[async_trait]
impl Sink for OpsCenterSink {
    type Builder = OpsCenterBuilder;

    fn kind(&self) -> &'static str {
        "opscenter"
    }

    fn builder(&self) -> &OpsCenterBuilder {
        &self.builder
    }

    async fn send(&self, request: &OpsCenterRequest) -> Result<SendOutcome, SendError> {
        send_chunked(&request.items, Vec::len, 1, usize::MAX, |one| self.create(one)).await
    }
}
