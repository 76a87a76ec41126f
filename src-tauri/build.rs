/// The app's own commands. Declaring them makes Tauri generate one permission per command
/// (`allow-connect`, ...), so the capability file grants exactly these and nothing more.
const COMMANDS: &[&str] = &[
    "initial_profile",
    "connect",
    "disconnect",
    "enter",
    "leave",
    "send",
    "retry_send",
    "watch",
    "unwatch",
    "set_nick",
    "retry_now",
    "export_jsonl",
];

fn main() {
    let attrs = tauri_build::Attributes::new()
        .app_manifest(tauri_build::AppManifest::new().commands(COMMANDS))
        // The capabilities live beside the shell's Rust, not at the workspace root.
        .capabilities_path_pattern("./src-tauri/capabilities/**/*");
    tauri_build::try_build(attrs).expect("tauri build step failed");
}
