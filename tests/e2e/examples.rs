//! The default config and every example in `config/examples/` load without a problem.

use crate::support::root;
use lychgate::config::{ConfigOrigin, load};

#[test]
fn the_default_and_every_example_config_load() {
    let mut paths = vec![root().join("config/lychgate.toml")];
    let mut examples: Vec<_> = std::fs::read_dir(root().join("config/examples"))
        .expect("config/examples exists")
        .map(|e| e.expect("entry").path())
        .filter(|p| p.extension().is_some_and(|e| e == "toml"))
        .collect();
    examples.sort();
    assert!(examples.len() >= 2, "at least two examples: {examples:?}");
    paths.extend(examples);
    for p in paths {
        let config = load(&ConfigOrigin::File(p.clone()))
            .unwrap_or_else(|e| panic!("{}:\n{e}", p.display()));
        assert!(
            config.list_warnings.is_empty(),
            "{}: {:?}",
            p.display(),
            config.list_warnings
        );
        assert!(!config.policy.groups().is_empty());
    }
}

#[test]
fn the_embedded_default_is_the_shipped_file() {
    let on_disk = std::fs::read_to_string(root().join("config/lychgate.toml")).unwrap();
    assert_eq!(lychgate::config::DEFAULT_CONFIG, on_disk);
    load(&ConfigOrigin::Embedded).expect("embedded default loads");
}
