//! The UI's TypeScript types are generated from the engine's Rust events; a stale copy would let
//! the two sides drift apart silently.

#[test]
fn committed_typescript_bindings_match_the_rust_contract() {
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/ui/src/lib/backend/bindings.ts"
    );
    let committed = std::fs::read_to_string(path).expect("ui/src/lib/backend/bindings.ts exists");
    let generated = tack_client::events::typescript_bindings();
    assert!(
        committed == generated,
        "ui/src/lib/backend/bindings.ts is stale: run scripts/gen-bindings.sh and commit the result"
    );
}
