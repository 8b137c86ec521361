//! [`SinkConfig`]: a decoded receiver block of any type, behind one handle.

use std::any::Any;
use std::collections::HashMap;
use std::fmt;
use std::sync::Arc;

use async_trait::async_trait;
use herald_proto::Event;

use super::{BuildContext, SinkBuildError, SinkType};
use crate::config::DeliveryConfig;
use crate::driver::{
    AckRef, BatchSettings, Delivery, DeliveryHook, EncodeError, Receiver, RequestBuilder as _,
    SinkMetrics,
};
use crate::hook::{HookConfig, PodSource};
use crate::set::BuildExtras;

/// Values receivers expose to tests and tools, by receiver name.
pub(crate) type Handles = HashMap<String, Box<dyn Any + Send + Sync>>;

/// The [`SinkType`] operations herald needs without knowing the type.
#[async_trait]
trait Erased: fmt::Debug + Send + Sync + 'static {
    fn kind(&self) -> &'static str;
    fn batch_defaults(&self) -> BatchSettings;
    fn as_any(&self) -> &dyn Any;
    fn preview(&self, name: &str, event: &Event) -> Result<String, EncodeError>;
    async fn start(
        &self,
        name: &str,
        delivery: &DeliveryConfig,
        hook: Option<&HookConfig>,
        extras: &BuildExtras,
        metrics: &SinkMetrics,
        handles: &mut Handles,
    ) -> Result<Receiver, SinkBuildError>;
}

#[async_trait]
impl<T: SinkType> Erased for T {
    fn kind(&self) -> &'static str {
        T::NAME
    }

    fn batch_defaults(&self) -> BatchSettings {
        T::BATCH_DEFAULTS
    }

    fn as_any(&self) -> &dyn Any {
        self
    }

    fn preview(&self, name: &str, event: &Event) -> Result<String, EncodeError> {
        let builder = self.request_builder(name);
        let delivery = Delivery::from_event(event.clone(), AckRef::detached());
        let request = builder.request_for(&[&delivery])?;
        Ok(builder.describe(&request))
    }

    async fn start(
        &self,
        name: &str,
        delivery: &DeliveryConfig,
        hook: Option<&HookConfig>,
        extras: &BuildExtras,
        metrics: &SinkMetrics,
        handles: &mut Handles,
    ) -> Result<Receiver, SinkBuildError> {
        let hook = script_hook(name, hook, extras.pods.as_ref())?;
        let settings = delivery.apply(self.delivery_defaults());
        let mut cx = BuildContext {
            name,
            settings: &settings,
            handles,
        };
        let sink = self.build(&mut cx).await.map_err(SinkBuildError::new)?;
        debug_assert_eq!(
            crate::driver::Sink::kind(&sink),
            T::NAME,
            "a sink must report its type's config key"
        );
        Ok(Receiver::spawn_with_hook(
            name, sink, settings, metrics, hook,
        ))
    }
}

/// The receiver's hook, ready to run.
#[cfg(feature = "hooks")]
fn script_hook(
    name: &str,
    hook: Option<&HookConfig>,
    pods: Option<&Arc<dyn PodSource>>,
) -> Result<Option<Arc<dyn DeliveryHook>>, SinkBuildError> {
    match hook {
        None => Ok(None),
        Some(h) => {
            let hook = crate::hook::ScriptHook::new(name, h, pods.cloned())
                .map_err(SinkBuildError::new)?;
            Ok(Some(Arc::new(hook)))
        }
    }
}

/// A build without the `hooks` feature cannot run a receiver's hook.
#[cfg(not(feature = "hooks"))]
fn script_hook(
    _name: &str,
    hook: Option<&HookConfig>,
    _pods: Option<&Arc<dyn PodSource>>,
) -> Result<Option<Arc<dyn DeliveryHook>>, SinkBuildError> {
    match hook {
        None => Ok(None),
        Some(_) => Err(SinkBuildError::new(HooksUnavailable)),
    }
}

/// A receiver has a hook and this build cannot run it.
#[cfg(not(feature = "hooks"))]
#[derive(Debug, thiserror::Error)]
#[error(
    "this receiver has a hook, and this build was made without the `hooks` feature; run a build with it (`--features hooks`)"
)]
pub struct HooksUnavailable;

/// The sink block of a receiver (`webhook: {…}`), decoded by its type;
/// cheap to clone.
#[derive(Clone)]
pub struct SinkConfig(Arc<dyn Erased>);

impl SinkConfig {
    /// Wraps a decoded config of type `T`.
    pub fn new<T: SinkType>(config: T) -> SinkConfig {
        SinkConfig(Arc::new(config))
    }

    /// Returns the config key of the sink type (`webhook`).
    pub fn kind(&self) -> &'static str {
        self.0.kind()
    }

    /// Returns the type's batch defaults (before `delivery.batch`).
    pub fn batch_defaults(&self) -> BatchSettings {
        self.0.batch_defaults()
    }

    /// Returns the config, when it is a `T` (`rc.sink.downcast_ref::<FileConfig>()`).
    pub fn downcast_ref<T: SinkType>(&self) -> Option<&T> {
        self.0.as_any().downcast_ref()
    }

    /// Renders what receiver `name` would send for `event`, with its own
    /// request builder (`herald route`). Credentials are shown as `***`.
    ///
    /// # Errors
    /// The receiver cannot encode this event (its layout fails for it).
    pub fn preview(&self, name: &str, event: &Event) -> Result<String, EncodeError> {
        self.0.preview(name, event)
    }

    /// Starts the receiver `name` with its delivery settings.
    pub(crate) async fn start(
        &self,
        name: &str,
        delivery: &DeliveryConfig,
        hook: Option<&HookConfig>,
        extras: &BuildExtras,
        metrics: &SinkMetrics,
        handles: &mut Handles,
    ) -> Result<Receiver, SinkBuildError> {
        self.0
            .start(name, delivery, hook, extras, metrics, handles)
            .await
    }
}

impl fmt::Debug for SinkConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}
