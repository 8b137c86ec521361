//! The receiver registry: which receiver types this build has, and the one
//! shape every type has.
//!
//! A receiver type is one folder under `sinks/src/<type>/` whose config struct
//! implements [`SinkType`] (its config key, its batch defaults, decoding its
//! block, building its sink and its request builder), plus one line in the
//! `receivers!` list at the top of the crate (`src/lib.rs`). That line declares
//! the folder's module and registers the type; nothing else names it.
//!
//! A line can put a type behind a cargo feature:
//! `kafka::KafkaConfig as "kafka" if feature "kafka"` compiles the folder only
//! with the feature, and a build without it refuses `kafka:` receivers at
//! startup with a message naming the feature (the line repeats the config key
//! because the folder is not compiled then; with the feature on, a compile-time
//! check makes sure both spellings agree).
//!
//! kubernetes-event-exporter's sink keys that no line registers are still
//! recognised ([`KEE_SINK_TYPES`](crate::config::KEE_SINK_TYPES)) and refused
//! as "not available in this build yet".

mod erased;
mod sink_type;

pub use erased::SinkConfig;
pub use sink_type::{BuildContext, SinkBuildError, SinkType};

pub(crate) use erased::Handles;

use herald_config::{Diagnostics, Node};

/// Decodes a receiver type's block into an erased [`SinkConfig`].
type DecodeFn = fn(&Node, &str, &mut Diagnostics) -> Option<SinkConfig>;

fn decode_as<T: SinkType>(node: &Node, path: &str, diags: &mut Diagnostics) -> Option<SinkConfig> {
    T::decode(node, path, diags).map(SinkConfig::new)
}

/// One line of the registry.
#[derive(Debug, Clone, Copy)]
pub struct Registration {
    name: &'static str,
    feature: Option<&'static str>,
    /// `None` when the type's feature is off in this build.
    decode: Option<DecodeFn>,
}

impl Registration {
    /// A type that is always built (a line `module::Config`).
    pub const fn builtin<T: SinkType>() -> Registration {
        Registration {
            name: T::NAME,
            feature: None,
            decode: Some(decode_as::<T>),
        }
    }

    /// A type behind `feature`, which is on in this build.
    pub const fn gated<T: SinkType>(feature: &'static str) -> Registration {
        Registration {
            name: T::NAME,
            feature: Some(feature),
            decode: Some(decode_as::<T>),
        }
    }

    /// A type behind `feature`, which is off in this build: its receivers
    /// are refused with a message naming the feature.
    pub const fn without_feature(name: &'static str, feature: &'static str) -> Registration {
        Registration {
            name,
            feature: Some(feature),
            decode: None,
        }
    }

    /// Returns the config key of the type (`webhook`).
    pub fn name(&self) -> &'static str {
        self.name
    }

    /// Returns the cargo feature the type needs, if any.
    pub fn feature(&self) -> Option<&'static str> {
        self.feature
    }

    /// Returns whether this build can run the type.
    pub fn is_available(&self) -> bool {
        self.decode.is_some()
    }

    /// Decodes the type's block; `None` when it has errors (recorded in
    /// `diags`) or the type's feature is off.
    pub(crate) fn decode(
        &self,
        node: &Node,
        path: &str,
        diags: &mut Diagnostics,
    ) -> Option<SinkConfig> {
        self.decode.and_then(|decode| decode(node, path, diags))
    }
}

/// Every receiver type of this build, in registry order (available or not).
pub fn registry() -> &'static [Registration] {
    crate::RECEIVERS
}

/// Returns the config keys of the types this build can run, in registry
/// order.
pub fn available_sink_types() -> Vec<&'static str> {
    registry()
        .iter()
        .filter(|r| r.is_available())
        .map(Registration::name)
        .collect()
}

/// Compares two strings in a constant context (the registry's check that a
/// gated line spells its type like the folder does).
#[doc(hidden)]
pub const fn same_name(a: &str, b: &str) -> bool {
    let (a, b) = (a.as_bytes(), b.as_bytes());
    if a.len() != b.len() {
        return false;
    }
    let mut i = 0;
    while i < a.len() {
        if a[i] != b[i] {
            return false;
        }
        i += 1;
    }
    true
}

/// Declares the receiver folders and registers their types; used once, in
/// `src/lib.rs`. Each line is `module::ConfigType`, or
/// `module::ConfigType as "configKey" if feature "feature"` for a type that
/// needs a cargo feature.
macro_rules! receivers {
    ($( $module:ident :: $config:ident $(as $name:literal if feature $feature:literal)? ),+ $(,)?) => {
        $(
            $(#[cfg(feature = $feature)])?
            pub mod $module;
        )+

        /// Every receiver type of this build, in registry order.
        pub(crate) static RECEIVERS: &[$crate::registry::Registration] = &[
            $( $crate::registry::receivers!(@entry $module :: $config $(, $name, $feature)?) ),+
        ];
    };
    (@entry $module:ident :: $config:ident) => {
        $crate::registry::Registration::builtin::<$module::$config>()
    };
    (@entry $module:ident :: $config:ident, $name:literal, $feature:literal) => {{
        #[cfg(feature = $feature)]
        let entry = {
            const _: () = assert!(
                $crate::registry::same_name(
                    <$module::$config as $crate::registry::SinkType>::NAME,
                    $name
                ),
                "the registry line and the folder spell the receiver type differently"
            );
            $crate::registry::Registration::gated::<$module::$config>($feature)
        };
        #[cfg(not(feature = $feature))]
        let entry = $crate::registry::Registration::without_feature($name, $feature);
        entry
    }};
}

pub(crate) use receivers;

#[cfg(test)]
mod tests;
