//! `opensearch` sink: the [`elasticsearch`](crate::elasticsearch) sink's
//! code under its own config key, with the same keys (kubernetes-event-exporter
//! had no `apiKey`, `cloudID` or `headers` for OpenSearch; herald accepts
//! them), plus `awsSigV4: {region, service}`: requests signed with AWS
//! Signature Version 4 for Amazon OpenSearch Service (`es`) or OpenSearch
//! Serverless (`aoss`), with the credentials of `AWS_ACCESS_KEY_ID`,
//! `AWS_SECRET_ACCESS_KEY` and `AWS_SESSION_TOKEN`.

use async_trait::async_trait;
use herald_config::{Diagnostics, Node};

use crate::driver::BatchSettings;
use crate::elasticsearch::{SearchBuilder, SearchConfig, SearchError, SearchSink};
use crate::registry::{BuildContext, SinkType};

/// An `opensearch:` receiver.
#[derive(Debug, Clone)]
pub struct OpenSearchConfig(pub SearchConfig);

#[async_trait]
impl SinkType for OpenSearchConfig {
    const NAME: &'static str = "opensearch";
    const BATCH_DEFAULTS: BatchSettings = SearchConfig::BATCH_DEFAULTS;
    type Sink = SearchSink;
    type BuildError = SearchError;

    fn decode(node: &Node, path: &str, diags: &mut Diagnostics) -> Option<Self> {
        SearchConfig::from_node(node, path, Self::NAME, diags).map(OpenSearchConfig)
    }

    fn request_builder(&self, _name: &str) -> SearchBuilder {
        SearchBuilder::new(&self.0)
    }

    async fn build(&self, cx: &mut BuildContext<'_>) -> Result<SearchSink, SearchError> {
        SearchSink::from_env(cx.name, Self::NAME, &self.0, cx.settings.timeout)
    }
}
