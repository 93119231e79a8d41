//! Loads a phrase list into the policy being built; its bad lines join the builder's warnings.

use lychgate_classifier::policy::{ListOrigin, PolicyBuilder};

/// Loads one phrase list, or says why it could not be read at all.
pub fn load(builder: &mut PolicyBuilder, name: &str, origin: ListOrigin) -> Result<(), String> {
    builder
        .add_phrase_list(name, origin)
        .map(|_| ())
        .map_err(|e| e.to_string())
}
