//! Test helpers of the AWS receivers: loading one receiver's block.

/// Decodes `receivers:` YAML and returns the first receiver's config of
/// type `T` with the diagnostics.
pub(crate) fn load<T: crate::SinkType + Clone>(
    yaml: &str,
) -> (Option<T>, herald_config::Diagnostics) {
    let (r, diags) = crate::config::tests::parse(yaml);
    let c = r.first().and_then(|r| r.sink.downcast_ref::<T>()).cloned();
    (c, diags)
}
