/// Takes the names out of the command table (`commands.rs`, included below): the Tauri build
/// step makes one permission of each (`allow-connect`, ...), so the capability file grants
/// exactly these and nothing more. Types and bodies are only tokens here, never compiled.
macro_rules! commands {
    ($(
        $(#[doc = $doc:literal])*
        fn $name:ident($($injected:tt)*) -> $reply:ty $body:block
    )*) => {
        const COMMANDS: &[&str] = &[$(stringify!($name)),*];
    };
}

include!("commands.rs");

fn main() {
    let attrs = tauri_build::Attributes::new()
        .app_manifest(tauri_build::AppManifest::new().commands(COMMANDS))
        // The capabilities live beside the shell's Rust, not at the workspace root.
        .capabilities_path_pattern("./src-tauri/capabilities/**/*");
    tauri_build::try_build(attrs).expect("tauri build step failed");
}
