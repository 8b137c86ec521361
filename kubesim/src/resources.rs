//! The resource registry: which kinds the simulator serves, under which group/versions,
//! and the `APIResourceList` discovery documents built from it (1.24 format: empty
//! `singularName`, sorted entries, subresources listed after their parent).

use serde::Serialize;

const FULL: &[&str] = &[
    "create",
    "delete",
    "deletecollection",
    "get",
    "list",
    "patch",
    "update",
    "watch",
];
const NO_COLLECTION_DELETE: &[&str] = &[
    "create", "delete", "get", "list", "patch", "update", "watch",
];
const STATUS: &[&str] = &["get", "patch", "update"];
const PROXY: &[&str] = &["create", "delete", "get", "patch", "update"];

/// A served resource type.
#[derive(Clone, Debug)]
pub struct ResourceDef {
    /// API group (`""` for core).
    pub group: String,
    /// Served versions of the group; the first is the preferred one.
    pub versions: Vec<String>,
    /// Plural resource name (`pods`).
    pub plural: String,
    /// Kind (`Pod`).
    pub kind: String,
    /// Whether objects live in a namespace.
    pub namespaced: bool,
    /// Discovery verbs.
    pub verbs: Vec<String>,
    /// Short names (`po`).
    pub short_names: Vec<String>,
    /// Categories (`all`).
    pub categories: Vec<String>,
    /// Storage version hash shown in discovery.
    pub storage_version_hash: String,
    /// Subresources shown in discovery. Only `status` is served, for resources with
    /// [`ResourceDef::generation`] (merge patch, see `server::status_patch`).
    pub subresources: Vec<Subresource>,
    /// Custom-resource write semantics: `metadata.generation` starts at 1 and grows
    /// when anything but metadata (and, with a `status` subresource, status)
    /// changes; with a `status` subresource, writes of the object keep the stored
    /// status and `PATCH …/status` changes only the status.
    pub generation: bool,
}

/// A subresource entry in discovery.
#[derive(Clone, Debug)]
pub struct Subresource {
    /// Name after the slash (`status`).
    pub name: String,
    /// Kind returned by the subresource.
    pub kind: String,
    /// Verbs.
    pub verbs: Vec<String>,
    /// Group and version when they differ from the parent's (`pods/eviction` → policy/v1).
    pub group_version: Option<(String, String)>,
}

impl ResourceDef {
    /// A resource with the full verb set and no short names, categories or subresources.
    pub fn new(group: &str, versions: &[&str], plural: &str, kind: &str, namespaced: bool) -> Self {
        Self {
            group: group.to_owned(),
            versions: versions.iter().map(|v| (*v).to_owned()).collect(),
            plural: plural.to_owned(),
            kind: kind.to_owned(),
            namespaced,
            verbs: FULL.iter().map(|v| (*v).to_owned()).collect(),
            short_names: Vec::new(),
            categories: Vec::new(),
            storage_version_hash: String::new(),
            subresources: Vec::new(),
            generation: false,
        }
    }

    /// The resource a `CustomResourceDefinition` (`apiextensions.k8s.io/v1`, as JSON)
    /// defines: its group, served versions (storage version first), plural, kind,
    /// scope, short names, categories and `status` subresource, with custom-resource
    /// write semantics ([`ResourceDef::generation`]).
    ///
    /// # Errors
    /// [`crate::SimError::InvalidObject`] when a required field is missing.
    pub fn from_crd(crd: &serde_json::Value) -> Result<Self, crate::SimError> {
        let field = |path: &str| {
            crd.pointer(path)
                .and_then(serde_json::Value::as_str)
                .filter(|s| !s.is_empty())
                .ok_or_else(|| {
                    crate::SimError::InvalidObject(format!(
                        "CustomResourceDefinition has no {path}"
                    ))
                })
        };
        let group = field("/spec/group")?;
        let plural = field("/spec/names/plural")?;
        let kind = field("/spec/names/kind")?;
        let namespaced = field("/spec/scope")? == "Namespaced";
        let versions: Vec<&serde_json::Value> = crd
            .pointer("/spec/versions")
            .and_then(serde_json::Value::as_array)
            .map(|v| {
                v.iter()
                    .filter(|v| v.get("served").and_then(serde_json::Value::as_bool) != Some(false))
                    .collect()
            })
            .unwrap_or_default();
        let mut names: Vec<(bool, &str)> = versions
            .iter()
            .filter_map(|v| {
                let storage = v.get("storage").and_then(serde_json::Value::as_bool) == Some(true);
                Some((!storage, v.get("name")?.as_str()?))
            })
            .collect();
        names.sort_by_key(|(not_storage, _)| *not_storage);
        if names.is_empty() {
            return Err(crate::SimError::InvalidObject(
                "CustomResourceDefinition serves no version".to_owned(),
            ));
        }
        let version_names: Vec<&str> = names.iter().map(|(_, n)| *n).collect();
        let strings = |path: &str| -> Vec<String> {
            crd.pointer(path)
                .and_then(serde_json::Value::as_array)
                .map(|a| {
                    a.iter()
                        .filter_map(|s| s.as_str().map(str::to_owned))
                        .collect()
                })
                .unwrap_or_default()
        };
        let mut def = ResourceDef::new(group, &version_names, plural, kind, namespaced);
        def.short_names = strings("/spec/names/shortNames");
        def.categories = strings("/spec/names/categories");
        def.generation = true;
        if versions
            .iter()
            .any(|v| v.pointer("/subresources/status").is_some())
        {
            def = def.status();
        }
        Ok(def)
    }

    /// Adds the `status` subresource.
    #[must_use]
    pub fn with_status(self) -> Self {
        self.status()
    }

    /// True when the `status` subresource exists.
    pub fn has_status(&self) -> bool {
        self.subresources.iter().any(|s| s.name == "status")
    }

    fn verbs(mut self, verbs: &[&str]) -> Self {
        self.verbs = verbs.iter().map(|v| (*v).to_owned()).collect();
        self
    }

    fn short(mut self, names: &[&str]) -> Self {
        self.short_names = names.iter().map(|v| (*v).to_owned()).collect();
        self
    }

    fn all(mut self) -> Self {
        self.categories = vec!["all".to_owned()];
        self
    }

    fn hash(mut self, hash: &str) -> Self {
        self.storage_version_hash = hash.to_owned();
        self
    }

    fn sub(mut self, name: &str, kind: &str, verbs: &[&str]) -> Self {
        self.subresources.push(Subresource {
            name: name.to_owned(),
            kind: kind.to_owned(),
            verbs: verbs.iter().map(|v| (*v).to_owned()).collect(),
            group_version: None,
        });
        self
    }

    fn sub_gv(
        mut self,
        name: &str,
        group: &str,
        version: &str,
        kind: &str,
        verbs: &[&str],
    ) -> Self {
        self.subresources.push(Subresource {
            name: name.to_owned(),
            kind: kind.to_owned(),
            verbs: verbs.iter().map(|v| (*v).to_owned()).collect(),
            group_version: Some((group.to_owned(), version.to_owned())),
        });
        self
    }

    fn status(self) -> Self {
        let kind = self.kind.clone();
        self.sub("status", &kind, STATUS)
    }

    fn scale(self) -> Self {
        self.sub_gv("scale", "autoscaling", "v1", "Scale", STATUS)
    }

    /// The storage collection prefix, like an etcd key prefix (`pods/`, `deployments.apps/`).
    /// `events.k8s.io` Events share core Events' storage, as in Kubernetes.
    pub fn collection(&self) -> String {
        collection_prefix(&self.group, &self.plural)
    }

    /// `group/version` for the given version (`v1` for the core group).
    pub fn group_version(&self, version: &str) -> String {
        if self.group.is_empty() {
            version.to_owned()
        } else {
            format!("{}/{version}", self.group)
        }
    }
}

/// Storage prefix for a group and plural resource.
pub fn collection_prefix(group: &str, plural: &str) -> String {
    if group.is_empty() || (group == "events.k8s.io" && plural == "events") {
        format!("{plural}/")
    } else {
        format!("{plural}.{group}/")
    }
}

/// All served resource types.
#[derive(Clone, Debug)]
pub struct Registry {
    defs: Vec<ResourceDef>,
    /// Groups added at runtime, in registration order (appended to `/apis`).
    extra_groups: Vec<String>,
}

impl Default for Registry {
    fn default() -> Self {
        Self {
            defs: builtin(),
            extra_groups: Vec::new(),
        }
    }
}

impl Registry {
    /// Adds or replaces a resource type.
    pub fn register(&mut self, def: ResourceDef) {
        self.defs
            .retain(|d| !(d.group == def.group && d.plural == def.plural));
        let known = crate::discovery::fixture_group_names()
            .iter()
            .any(|g| *g == def.group)
            || def.group.is_empty()
            || self.extra_groups.contains(&def.group);
        if !known {
            self.extra_groups.push(def.group.clone());
        }
        self.defs.push(def);
    }

    /// Looks up a resource served at `group/version`.
    pub fn by_resource(&self, group: &str, version: &str, plural: &str) -> Option<&ResourceDef> {
        self.defs.iter().find(|d| {
            d.group == group && d.plural == plural && d.versions.iter().any(|v| v == version)
        })
    }

    /// Looks up a resource by group and kind.
    pub fn by_kind(&self, group: &str, kind: &str) -> Option<&ResourceDef> {
        self.defs
            .iter()
            .find(|d| d.group == group && d.kind == kind)
    }

    /// Runtime-registered groups with their versions (for `/apis`).
    pub fn extra_groups(&self) -> Vec<(String, Vec<String>)> {
        self.extra_groups
            .iter()
            .map(|g| {
                let mut versions: Vec<String> = Vec::new();
                for d in self.defs.iter().filter(|d| &d.group == g) {
                    for v in &d.versions {
                        if !versions.contains(v) {
                            versions.push(v.clone());
                        }
                    }
                }
                (g.clone(), versions)
            })
            .collect()
    }

    /// The `APIResourceList` for `group/version`, or `None` if the group/version is unknown.
    pub fn resource_list(&self, group: &str, version: &str) -> Option<Vec<u8>> {
        let defs: Vec<&ResourceDef> = self
            .defs
            .iter()
            .filter(|d| d.group == group && d.versions.iter().any(|v| v == version))
            .collect();
        let served_group =
            !defs.is_empty() || crate::discovery::fixture_group_versions(group).contains(&version);
        if !served_group {
            return None;
        }
        let mut entries: Vec<ApiResource<'_>> = Vec::new();
        for d in &defs {
            entries.push(ApiResource {
                name: d.plural.clone(),
                singular_name: "",
                namespaced: d.namespaced,
                group: None,
                version: None,
                kind: &d.kind,
                verbs: &d.verbs,
                short_names: &d.short_names,
                categories: &d.categories,
                storage_version_hash: &d.storage_version_hash,
            });
            for s in &d.subresources {
                entries.push(ApiResource {
                    name: format!("{}/{}", d.plural, s.name),
                    singular_name: "",
                    namespaced: d.namespaced,
                    group: s.group_version.as_ref().map(|(g, _)| g.as_str()),
                    version: s.group_version.as_ref().map(|(_, v)| v.as_str()),
                    kind: &s.kind,
                    verbs: &s.verbs,
                    short_names: &[],
                    categories: &[],
                    storage_version_hash: "",
                });
            }
        }
        entries.sort_by(|a, b| a.name.cmp(&b.name));
        let gv = if group.is_empty() {
            version.to_owned()
        } else {
            format!("{group}/{version}")
        };
        let list = ApiResourceList {
            kind: "APIResourceList",
            // The core group's list has no apiVersion, group lists have "v1".
            api_version: if group.is_empty() { None } else { Some("v1") },
            group_version: gv,
            resources: entries,
        };
        let mut body = serde_json::to_vec(&list).unwrap_or_default();
        body.push(b'\n');
        Some(body)
    }
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct ApiResourceList<'a> {
    kind: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    api_version: Option<&'static str>,
    group_version: String,
    resources: Vec<ApiResource<'a>>,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct ApiResource<'a> {
    name: String,
    singular_name: &'static str,
    namespaced: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    group: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    version: Option<&'a str>,
    kind: &'a str,
    verbs: &'a [String],
    #[serde(skip_serializing_if = "<[String]>::is_empty")]
    short_names: &'a [String],
    #[serde(skip_serializing_if = "<[String]>::is_empty")]
    categories: &'a [String],
    #[serde(skip_serializing_if = "str::is_empty")]
    storage_version_hash: &'a str,
}

fn builtin() -> Vec<ResourceDef> {
    let core = |plural: &str, kind: &str, namespaced: bool| {
        ResourceDef::new("", &["v1"], plural, kind, namespaced)
    };
    let apps = |plural: &str, kind: &str| ResourceDef::new("apps", &["v1"], plural, kind, true);
    let hpa_versions = ["v2", "v1", "v2beta1", "v2beta2"];
    vec![
        core("bindings", "Binding", true).verbs(&["create"]),
        core("componentstatuses", "ComponentStatus", false)
            .verbs(&["get", "list"])
            .short(&["cs"]),
        core("configmaps", "ConfigMap", true)
            .short(&["cm"])
            .hash("qFsyl6wFWjQ="),
        core("endpoints", "Endpoints", true)
            .short(&["ep"])
            .hash("fWeeMqaN/OA="),
        core("events", "Event", true)
            .short(&["ev"])
            .hash("r2yiGXH7wu8="),
        core("limitranges", "LimitRange", true)
            .short(&["limits"])
            .hash("EBKMFVe6cwo="),
        core("namespaces", "Namespace", false)
            .verbs(NO_COLLECTION_DELETE)
            .short(&["ns"])
            .hash("Q3oi5N2YM8M=")
            .sub("finalize", "Namespace", &["update"])
            .status(),
        core("nodes", "Node", false)
            .short(&["no"])
            .hash("XwShjMxG9Fs=")
            .sub("proxy", "NodeProxyOptions", PROXY)
            .status(),
        core("persistentvolumeclaims", "PersistentVolumeClaim", true)
            .short(&["pvc"])
            .hash("QWTyNDq0dC4=")
            .status(),
        core("persistentvolumes", "PersistentVolume", false)
            .short(&["pv"])
            .hash("HN/zwEC+JgM=")
            .status(),
        core("pods", "Pod", true)
            .short(&["po"])
            .all()
            .hash("xPOwRZ+Yhw8=")
            .sub("attach", "PodAttachOptions", &["create", "get"])
            .sub("binding", "Binding", &["create"])
            .sub("ephemeralcontainers", "Pod", STATUS)
            .sub_gv("eviction", "policy", "v1", "Eviction", &["create"])
            .sub("exec", "PodExecOptions", &["create", "get"])
            .sub("log", "Pod", &["get"])
            .sub("portforward", "PodPortForwardOptions", &["create", "get"])
            .sub("proxy", "PodProxyOptions", PROXY)
            .status(),
        core("podtemplates", "PodTemplate", true).hash("LIXB2x4IFpk="),
        core("replicationcontrollers", "ReplicationController", true)
            .short(&["rc"])
            .all()
            .hash("Jond2If31h0=")
            .scale()
            .status(),
        core("resourcequotas", "ResourceQuota", true)
            .short(&["quota"])
            .hash("8uhSgffRX6w=")
            .status(),
        core("secrets", "Secret", true).hash("S6u1pOWzb84="),
        core("serviceaccounts", "ServiceAccount", true)
            .short(&["sa"])
            .hash("pbx9ZvyFpBE=")
            .sub_gv(
                "token",
                "authentication.k8s.io",
                "v1",
                "TokenRequest",
                &["create"],
            ),
        core("services", "Service", true)
            .verbs(NO_COLLECTION_DELETE)
            .short(&["svc"])
            .all()
            .hash("0/CO1lhkEBI=")
            .sub("proxy", "ServiceProxyOptions", PROXY)
            .status(),
        apps("controllerrevisions", "ControllerRevision").hash("85nkx63pcBU="),
        apps("daemonsets", "DaemonSet")
            .short(&["ds"])
            .all()
            .hash("dd7pWHUlMKQ=")
            .status(),
        apps("deployments", "Deployment")
            .short(&["deploy"])
            .all()
            .hash("8aSe+NMegvE=")
            .scale()
            .status(),
        apps("replicasets", "ReplicaSet")
            .short(&["rs"])
            .all()
            .hash("P1RzHs8/mWQ=")
            .scale()
            .status(),
        apps("statefulsets", "StatefulSet")
            .short(&["sts"])
            .all()
            .hash("H+vl74LkKdo=")
            .scale()
            .status(),
        ResourceDef::new("batch", &["v1", "v1beta1"], "cronjobs", "CronJob", true)
            .short(&["cj"])
            .all()
            .hash("sd5LIXh4Fjs=")
            .status(),
        ResourceDef::new("batch", &["v1"], "jobs", "Job", true)
            .all()
            .hash("mudhfqk/qZY=")
            .status(),
        ResourceDef::new(
            "autoscaling",
            &hpa_versions,
            "horizontalpodautoscalers",
            "HorizontalPodAutoscaler",
            true,
        )
        .short(&["hpa"])
        .all()
        .hash("qwQve8ut294=")
        .status(),
        ResourceDef::new("coordination.k8s.io", &["v1"], "leases", "Lease", true)
            .hash("gqkMMb/YqFM="),
        ResourceDef::new("events.k8s.io", &["v1", "v1beta1"], "events", "Event", true)
            .short(&["ev"])
            .hash("r2yiGXH7wu8="),
        ResourceDef::new(
            "policy",
            &["v1"],
            "poddisruptionbudgets",
            "PodDisruptionBudget",
            true,
        )
        .short(&["pdb"])
        .hash("EVWiDmWqyJw=")
        .status(),
        ResourceDef::new("networking.k8s.io", &["v1"], "ingresses", "Ingress", true)
            .short(&["ing"])
            .hash("39NQlfNR+bo=")
            .status(),
        ResourceDef::new(
            "networking.k8s.io",
            &["v1"],
            "ingressclasses",
            "IngressClass",
            false,
        )
        .hash("l/iqIbDgFyQ="),
        ResourceDef::new(
            "discovery.k8s.io",
            &["v1"],
            "endpointslices",
            "EndpointSlice",
            true,
        )
        .hash("qgS0xkrxYAI="),
        ResourceDef::new(
            "scheduling.k8s.io",
            &["v1"],
            "priorityclasses",
            "PriorityClass",
            false,
        )
        .short(&["pc"])
        .hash("1QwjyaZjj3Y="),
        ResourceDef::new(
            "storage.k8s.io",
            &["v1"],
            "storageclasses",
            "StorageClass",
            false,
        )
        .short(&["sc"])
        .hash("K+m6uJwbjGY="),
        ResourceDef::new(
            "rbac.authorization.k8s.io",
            &["v1"],
            "clusterrolebindings",
            "ClusterRoleBinding",
            false,
        )
        .hash("48tpQ8gZHFc="),
        ResourceDef::new(
            "rbac.authorization.k8s.io",
            &["v1"],
            "clusterroles",
            "ClusterRole",
            false,
        )
        .hash("bYE5ZWDrJ44="),
        ResourceDef::new(
            "rbac.authorization.k8s.io",
            &["v1"],
            "rolebindings",
            "RoleBinding",
            true,
        )
        .hash("eGsCzGH6b1g="),
        ResourceDef::new("rbac.authorization.k8s.io", &["v1"], "roles", "Role", true)
            .hash("7FuwZcIIItM="),
        ResourceDef::new(
            "apiextensions.k8s.io",
            &["v1"],
            "customresourcedefinitions",
            "CustomResourceDefinition",
            false,
        )
        .short(&["crd", "crds"])
        .hash("jfWCUB31mvA=")
        .status(),
    ]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn core_list_has_no_api_version_and_is_sorted() {
        let r = Registry::default();
        let body = String::from_utf8(r.resource_list("", "v1").unwrap()).unwrap();
        assert!(body.starts_with(r#"{"kind":"APIResourceList","groupVersion":"v1","resources":[{"name":"bindings","singularName":"","namespaced":true,"kind":"Binding","verbs":["create"]}"#));
        assert!(body.contains(r#"{"name":"pods","singularName":"","namespaced":true,"kind":"Pod","verbs":["create","delete","deletecollection","get","list","patch","update","watch"],"shortNames":["po"],"categories":["all"],"storageVersionHash":"xPOwRZ+Yhw8="},{"name":"pods/attach""#));
        assert!(body.contains(r#"{"name":"pods/eviction","singularName":"","namespaced":true,"group":"policy","version":"v1","kind":"Eviction","verbs":["create"]}"#));
        let v: serde_json::Value = serde_json::from_str(&body).unwrap();
        let names: Vec<&str> = v["resources"]
            .as_array()
            .unwrap()
            .iter()
            .map(|r| r["name"].as_str().unwrap())
            .collect();
        let mut sorted = names.clone();
        sorted.sort_unstable();
        assert_eq!(names, sorted);
    }

    #[test]
    fn group_list_has_api_version() {
        let r = Registry::default();
        let body = String::from_utf8(r.resource_list("apps", "v1").unwrap()).unwrap();
        assert!(body.starts_with(r#"{"kind":"APIResourceList","apiVersion":"v1","groupVersion":"apps/v1","resources":[{"name":"controllerrevisions""#));
        assert!(r.resource_list("autoscaling", "v1").is_some());
        assert!(r.resource_list("coordination.k8s.io", "v1").is_some());
        assert!(r.resource_list("nope.example.com", "v1").is_none());
        // Known group without modelled resources: an empty list.
        let node = String::from_utf8(r.resource_list("node.k8s.io", "v1").unwrap()).unwrap();
        assert!(node.ends_with("\"resources\":[]}\n"));
    }

    #[test]
    fn events_share_storage_across_apis() {
        let r = Registry::default();
        assert_eq!(
            r.by_resource("events.k8s.io", "v1", "events")
                .unwrap()
                .collection(),
            "events/"
        );
        assert_eq!(
            r.by_resource("", "v1", "events").unwrap().collection(),
            "events/"
        );
        assert_eq!(
            r.by_kind("apps", "Deployment").unwrap().collection(),
            "deployments.apps/"
        );
    }

    #[test]
    fn registering_a_new_group_adds_it() {
        let mut r = Registry::default();
        r.register(ResourceDef::new(
            "herald.dev",
            &["v1alpha1"],
            "rules",
            "Rule",
            true,
        ));
        assert_eq!(
            r.extra_groups(),
            vec![("herald.dev".to_owned(), vec!["v1alpha1".to_owned()])]
        );
        assert!(r.by_resource("herald.dev", "v1alpha1", "rules").is_some());
    }
}
