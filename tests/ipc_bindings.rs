//! The UI's TypeScript is generated from Rust (the engine's events, the shell's commands); a
//! stale copy would let the two sides drift apart silently. The capability file names the
//! commands a third time, as permissions: it must grant exactly the shell's commands.

fn assert_fresh(file: &str, generated: String) {
    let path = format!("{}/ui/src/lib/backend/{file}", env!("CARGO_MANIFEST_DIR"));
    let committed = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}"));
    assert!(
        committed == generated,
        "ui/src/lib/backend/{file} is stale: run scripts/gen-bindings.sh and commit the result"
    );
}

#[test]
fn committed_typescript_bindings_match_the_rust_contract() {
    assert_fresh("bindings.ts", tack_client::events::typescript_bindings());
}

#[test]
fn committed_typescript_history_types_match_the_rust_contract() {
    assert_fresh("history.ts", tack_history::show::typescript_bindings());
}

#[test]
fn committed_typescript_commands_match_the_shells_command_table() {
    assert_fresh("commands.ts", tack_desktop::commands::typescript());
}

#[test]
fn the_window_may_call_exactly_the_shells_own_commands() {
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/src-tauri/capabilities/default.json"
    );
    let capability: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(path).expect("the capability file"))
            .expect("the capability file is JSON");
    let mut granted: Vec<String> = capability["permissions"]
        .as_array()
        .expect("a permission list")
        .iter()
        .filter_map(|p| p.as_str())
        // The app's own permissions have no plugin prefix; `core:default` is Tauri's.
        .filter(|p| !p.contains(':'))
        .map(str::to_owned)
        .collect();
    let mut commands: Vec<String> = tack_desktop::commands::NAMES
        .iter()
        .map(|name| format!("allow-{}", name.replace('_', "-")))
        .collect();
    granted.sort();
    commands.sort();
    assert_eq!(
        granted, commands,
        "src-tauri/capabilities/default.json must allow each command of src-tauri/commands.rs"
    );
}
