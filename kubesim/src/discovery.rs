//! Discovery documents: `/api`, `/apis`, `/apis/{group}` and `/version`, from the captures.

use std::sync::LazyLock;

use serde::{Deserialize, Serialize};

use crate::fixtures;
use crate::resources::Registry;

#[derive(Clone, Debug, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
struct ApiGroupList {
    kind: String,
    api_version: String,
    groups: Vec<ApiGroup>,
}

#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
struct ApiGroup {
    name: String,
    versions: Vec<GroupVersion>,
    preferred_version: GroupVersion,
}

#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
struct GroupVersion {
    group_version: String,
    version: String,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct ApiGroupDoc<'a> {
    kind: &'static str,
    api_version: &'static str,
    #[serde(flatten)]
    group: &'a ApiGroup,
}

/// The captured `/apis` document; the embedded fixture always parses (see the tests).
static CAPTURED_GROUPS: LazyLock<ApiGroupList> =
    LazyLock::new(|| serde_json::from_slice(fixtures::DISCOVERY_APIS).unwrap_or_default());

/// Names of the groups in the captured `/apis`.
pub fn fixture_group_names() -> Vec<&'static str> {
    CAPTURED_GROUPS
        .groups
        .iter()
        .map(|g| g.name.as_str())
        .collect()
}

/// Versions of a group in the captured `/apis`.
pub fn fixture_group_versions(group: &str) -> Vec<&'static str> {
    CAPTURED_GROUPS
        .groups
        .iter()
        .filter(|g| g.name == group)
        .flat_map(|g| g.versions.iter().map(|v| v.version.as_str()))
        .collect()
}

/// `GET /api`, with the simulator's own address instead of the captured one.
pub fn api_versions(server_address: &str) -> Vec<u8> {
    let captured = String::from_utf8_lossy(fixtures::DISCOVERY_API);
    captured
        .replace(fixtures::CAPTURE_SERVER_ADDRESS, server_address)
        .into_bytes()
}

fn all_groups(registry: &Registry) -> ApiGroupList {
    let mut list = CAPTURED_GROUPS.clone();
    for (name, versions) in registry.extra_groups() {
        let versions: Vec<GroupVersion> = versions
            .iter()
            .map(|v| GroupVersion {
                group_version: format!("{name}/{v}"),
                version: v.clone(),
            })
            .collect();
        let Some(preferred) = versions.first().cloned() else {
            continue;
        };
        list.groups.push(ApiGroup {
            name,
            versions,
            preferred_version: preferred,
        });
    }
    list
}

/// `GET /apis`: the captured group list plus runtime-registered groups.
pub fn api_groups(registry: &Registry) -> Vec<u8> {
    if registry.extra_groups().is_empty() {
        return fixtures::DISCOVERY_APIS.to_vec();
    }
    let mut body = serde_json::to_vec(&all_groups(registry)).unwrap_or_default();
    body.push(b'\n');
    body
}

/// `GET /apis/{group}`, or `None` for an unknown group.
pub fn api_group(registry: &Registry, name: &str) -> Option<Vec<u8>> {
    let list = all_groups(registry);
    let group = list.groups.iter().find(|g| g.name == name)?;
    let mut body = serde_json::to_vec(&ApiGroupDoc {
        kind: "APIGroup",
        api_version: "v1",
        group,
    })
    .ok()?;
    body.push(b'\n');
    Some(body)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::resources::ResourceDef;

    #[test]
    fn captured_groups_reserialise_byte_for_byte() {
        let mut body = serde_json::to_vec(&*CAPTURED_GROUPS).unwrap();
        body.push(b'\n');
        assert_eq!(body, fixtures::DISCOVERY_APIS.to_vec());
        assert!(fixture_group_names().contains(&"coordination.k8s.io"));
        assert_eq!(
            fixture_group_versions("autoscaling"),
            vec!["v2", "v1", "v2beta1", "v2beta2"]
        );
    }

    #[test]
    fn api_versions_uses_our_address() {
        let body = String::from_utf8(api_versions("127.0.0.1:1234")).unwrap();
        assert_eq!(
            body,
            "{\"kind\":\"APIVersions\",\"versions\":[\"v1\"],\"serverAddressByClientCIDRs\":[{\"clientCIDR\":\"0.0.0.0/0\",\"serverAddress\":\"127.0.0.1:1234\"}]}\n"
        );
    }

    #[test]
    fn group_document_and_extensions() {
        let mut r = Registry::default();
        let apps = String::from_utf8(api_group(&r, "apps").unwrap()).unwrap();
        assert_eq!(
            apps,
            "{\"kind\":\"APIGroup\",\"apiVersion\":\"v1\",\"name\":\"apps\",\"versions\":[{\"groupVersion\":\"apps/v1\",\"version\":\"v1\"}],\"preferredVersion\":{\"groupVersion\":\"apps/v1\",\"version\":\"v1\"}}\n"
        );
        assert!(api_group(&r, "herald.dev").is_none());
        r.register(ResourceDef::new(
            "herald.dev",
            &["v1"],
            "rules",
            "Rule",
            true,
        ));
        let all = String::from_utf8(api_groups(&r)).unwrap();
        assert!(all.ends_with("{\"name\":\"herald.dev\",\"versions\":[{\"groupVersion\":\"herald.dev/v1\",\"version\":\"v1\"}],\"preferredVersion\":{\"groupVersion\":\"herald.dev/v1\",\"version\":\"v1\"}}]}\n"));
        assert!(api_group(&r, "herald.dev").is_some());
    }
}
