//! Templated string fields of the AWS receivers (`messageGroupId`,
//! `detailType`, OpsCenter's `title`, …): parsed at startup with located
//! errors, rendered per event.

use herald_config::{Diagnostics, Located};
use herald_template::Template;

use crate::driver::{Delivery, EncodeError};

/// One templated field.
#[derive(Debug, Clone)]
pub struct Field {
    /// The key, for error messages (`detailType`).
    key: &'static str,
    template: Template,
}

impl Field {
    /// Parses `text` (the value of `key`) as a template; a template that
    /// does not parse is an error at its location.
    pub fn parse(
        key: &'static str,
        text: &Located<String>,
        diags: &mut Diagnostics,
    ) -> Option<Field> {
        let name = if text.path.is_empty() {
            key
        } else {
            text.path.as_str()
        };
        match Template::parse(name, &text.value) {
            Ok(template) => Some(Field { key, template }),
            Err(e) => {
                text.error(
                    diags,
                    format!(
                        "invalid template in `{key}` (line {}, column {} of the template): {}",
                        e.line, e.column, e.message
                    ),
                )
                .with_hint("values are Go templates, such as \"{{ .InvolvedObject.Name }}\"");
                None
            }
        }
    }

    /// A field from a template written in the code (defaults).
    ///
    /// # Panics
    /// `source` does not parse (a bug, caught by the tests).
    pub fn fixed(key: &'static str, source: &str) -> Field {
        Field {
            key,
            template: Template::parse(key, source).expect("built-in template"),
        }
    }

    /// Renders the field for one event.
    ///
    /// # Errors
    /// The template fails for this event.
    pub fn render(&self, delivery: &Delivery) -> Result<String, EncodeError> {
        if self.template.is_static() {
            return Ok(self.template.source().to_owned());
        }
        self.template
            .render(delivery.value())
            .map_err(|e| EncodeError::Template(format!("`{}`: {e}", self.key)))
    }

    /// The template's text.
    pub fn source(&self) -> &str {
        self.template.source()
    }
}
