//! The one writer of golden-vector files under `tests/vectors/` at the repository root: each
//! file is the pretty JSON of the cases a test builds, compared byte for byte with the committed
//! file. `TOLLGATE_REGENERATE=1` rewrites it instead (for an intended change of the format).

use std::path::PathBuf;

use serde_json::Value;

/// `tests/vectors/<name>` at the repository root.
pub fn path(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../tests/vectors")
        .join(name)
}

/// Panics unless the committed `tests/vectors/<name>` is exactly `vectors` (after writing it when
/// `TOLLGATE_REGENERATE` is set).
pub fn check_committed(name: &str, vectors: &[Value]) {
    let text = serde_json::to_string_pretty(vectors).unwrap() + "\n";
    let path = path(name);
    if std::env::var_os("TOLLGATE_REGENERATE").is_some() {
        std::fs::write(&path, &text).unwrap();
    }
    let committed = std::fs::read_to_string(&path).unwrap_or_else(|err| {
        panic!(
            "{}: {err}; run with TOLLGATE_REGENERATE=1 to write it",
            path.display()
        )
    });
    assert!(
        committed == text,
        "{} drifted from the sdk; run with TOLLGATE_REGENERATE=1 if the change is intended",
        path.display()
    );
}

/// The committed `tests/vectors/<name>`, parsed.
pub fn read(name: &str) -> Vec<Value> {
    serde_json::from_str(&std::fs::read_to_string(path(name)).unwrap()).unwrap()
}
