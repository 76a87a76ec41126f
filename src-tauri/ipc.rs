//! The commands the UI may call, declared once: `commands.rs` is one `commands!` table, and
//! this macro turns it into the Tauri commands, their handler, the list of names the build
//! step makes permissions of, and the TypeScript the UI calls them through
//! (`ui/src/lib/backend/commands.ts`, kept fresh by `tests/ipc_bindings.rs`).
//!
//! A command is written `fn name(injected: Type; arg: Type, ...) -> Reply { body }`: before
//! the `;` what Tauri hands the command (app state, the app handle), after it what the UI
//! passes. The body returns `Result<Reply, String>`; the error is what the UI shows.

/// The commands' TypeScript: an interface of methods (camelCase, as the UI calls them) and the
/// table the real backend invokes them by.
macro_rules! commands {
    ($(
        $(#[doc = $doc:literal])*
        fn $name:ident($($injected:ident: $injected_ty:ty),* ; $($arg:ident: $ty:ty),*) -> $reply:ty $body:block
    )*) => {
        $(
            $(#[doc = $doc])*
            #[tauri::command]
            async fn $name($($injected: $injected_ty,)* $($arg: $ty),*) -> Result<$reply, String> $body
        )*

        /// Routes the UI's invocations to the commands above.
        pub fn handler() -> impl Fn(tauri::ipc::Invoke) -> bool + Send + Sync + 'static {
            tauri::generate_handler![$($name),*]
        }

        /// The commands' names, as the UI invokes them.
        pub const NAMES: &[&str] = &[$(stringify!($name)),*];

        /// The TypeScript the UI calls the commands through.
        pub fn typescript() -> String {
            $crate::ipc::typescript(&[$(
                $crate::ipc::Command {
                    name: stringify!($name),
                    doc: &[$($doc),*],
                    args: &[$((stringify!($arg), <$ty as $crate::ipc::TsType>::ts)),*],
                    reply: <$reply as $crate::ipc::TsType>::ts,
                }
            ),*])
        }
    };
}

/// How a command's argument or reply is written in TypeScript. The types named here are
/// declared in `bindings.ts` (generated from `tack-client`).
pub trait TsType {
    fn ts() -> String;
}

macro_rules! ts_type {
    ($($rust:ty => $ts:literal),* $(,)?) => {
        $(impl TsType for $rust {
            fn ts() -> String {
                $ts.to_owned()
            }
        })*
    };
}

ts_type! {
    () => "void",
    String => "string",
    usize => "number",
    i64 => "number",
    Vec<tack_history::HistoryEvent> => "Array<HistoryEvent>",
    Vec<tack_history::SearchHit> => "Array<SearchHit>",
    tack_history::StoreInfo => "StoreInfo",
    u64 => "number",
    tack_client::Target => "Target",
    Vec<tack_client::Target> => "Array<Target>",
    tack_client::player::Steer => "Steer",
    tack_client::query::QueryApplied => "QueryApplied",
    tack_client::binary::BinaryView => "BinaryView",
    Vec<String> => "Array<string>",
    tack_client::Profile => "Profile",
    tack_client::BuiltinServer => "BuiltinServer",
    // A channel reaches the UI as a callback; the backend makes the Tauri channel of it.
    tauri::ipc::Channel<tack_client::EventBatch> => "(batch: EventBatch) => void",
}

/// Writes a type in TypeScript (a `TsType::ts`).
pub type Ts = fn() -> String;

/// One command of the table, as `typescript` needs it.
pub struct Command {
    pub name: &'static str,
    pub doc: &'static [&'static str],
    /// Each argument's name and type.
    pub args: &'static [(&'static str, Ts)],
    pub reply: Ts,
}

/// `retry_send` → `retrySend` (Tauri's own renaming of argument names, applied to commands too).
fn camel(snake: &str) -> String {
    let mut out = String::with_capacity(snake.len());
    let mut upper = false;
    for c in snake.chars() {
        if c == '_' {
            upper = true;
        } else if upper {
            out.extend(c.to_uppercase());
            upper = false;
        } else {
            out.push(c);
        }
    }
    out
}

pub fn typescript(commands: &[Command]) -> String {
    let mut out = String::from(
        "// Generated from src-tauri/commands.rs. Do not edit: run `scripts/gen-bindings.sh`.\n\n\
         import type { BinaryView, BuiltinServer, EventBatch, Profile, QueryApplied, Steer, Target } from './bindings';\n\
         import type { HistoryEvent, SearchHit, StoreInfo } from './history';\n\n\
         /** The desktop shell's commands, as the UI calls them. */\n\
         export interface Commands {\n",
    );
    for c in commands {
        if !c.doc.is_empty() {
            out.push_str("  /**\n");
            for line in c.doc {
                out.push_str(&format!("   *{}\n", line.trim_end()));
            }
            out.push_str("   */\n");
        }
        let args: Vec<String> = c
            .args
            .iter()
            .map(|(name, ts)| format!("{}: {}", camel(name), ts()))
            .collect();
        out.push_str(&format!(
            "  {}({}): Promise<{}>;\n",
            camel(c.name),
            args.join(", "),
            (c.reply)()
        ));
    }
    out.push_str(
        "}\n\n\
         /** Each command's name in the shell and its arguments' names, in order. */\n\
         export const COMMANDS = {\n",
    );
    for c in commands {
        let args: Vec<String> = c
            .args
            .iter()
            .map(|(name, _)| format!("'{}'", camel(name)))
            .collect();
        out.push_str(&format!(
            "  {}: {{ cmd: '{}', args: [{}] }},\n",
            camel(c.name),
            c.name,
            args.join(", ")
        ));
    }
    out.push_str(
        "} as const satisfies Record<keyof Commands, { cmd: string; args: readonly string[] }>;\n",
    );
    out
}

#[cfg(test)]
mod tests {
    use super::camel;

    #[test]
    fn names_are_camel_cased_as_tauri_expects_arguments() {
        assert_eq!(camel("retry_send"), "retrySend");
        assert_eq!(camel("on_event"), "onEvent");
        assert_eq!(camel("enter"), "enter");
    }
}
