//! Prints the UI's TypeScript of the shell's commands (`ui/src/lib/backend/commands.ts`).
//! `tests/ipc_bindings.rs` checks the committed file against this output.
fn main() {
    print!("{}", tack_desktop::commands::typescript());
}
